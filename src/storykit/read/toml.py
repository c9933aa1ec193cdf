"""The ``toml`` reader: the collection document of DESIGN written in TOML
(``[[stories]]`` tables)."""

from __future__ import annotations

import re
import sys
from typing import Any, BinaryIO

from storykit.collection import Collection
from storykit.convert import collection_from_data
from storykit.errors import ValidationError
from storykit.plugins import hookimpl
from storykit.read.decode import decode, fail

__all__ = ["TOMLReader"]

_AT = re.compile(r" \(at (?:line (\d+), column (\d+)|end of document)\)$")


def read_toml(data: str | bytes, source: str | None) -> Collection:
    import tomllib

    text = decode(data, source)
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        # tomllib (before Python 3.14) gives the place only in its message: "... (at line 3,
        # column 9)", or "(at end of document)".
        message, at = str(e), _AT.search(str(e))
        line: int | None = None
        column: int | None = None
        if at is not None:
            message = message[:at.start()]
            if at[1] is not None:
                line, column = int(at[1]), int(at[2])
            else:
                line = text.count("\n") + 1
                column = len(text) - text.rfind("\n")
        raise fail(f"is not valid TOML: {message}", source, line=line,
                   column=column) from None
    except RecursionError:
        raise fail("nested too deeply: TOML arrays or tables deeper than Python's recursion "
                    f"limit ({sys.getrecursionlimit():,})", source) from None
    except ValueError as e:  # int() refusing a huge integer literal
        raise fail(f"holds an integer with more than {sys.get_int_max_str_digits():,} digits "
                    "(Python's int_max_str_digits limit)", source, str(e)[:80]) from None
    try:
        return collection_from_data(doc, source)
    except ValidationError as e:  # each problem at its line and column, found only now
        from storykit.read.positions import located

        raise ValidationError(located(e.errors, text, "toml"), e.source) from None


class TOMLReader:
    """The collection document of DESIGN, in TOML."""

    name = "toml"
    suffixes = (".toml",)
    media_types = ("application/toml",)
    description = "The collection document in TOML: [[stories]] tables."
    options_type = None
    input = "stream"

    def read(self, source: BinaryIO, **options: Any) -> Collection:
        return read_toml(source.read(), getattr(source, "name", None))

    def read_data(self, data: str | bytes, source: str | None) -> Collection:
        return read_toml(data, source)


@hookimpl
def register_readers() -> list[TOMLReader]:
    return [TOMLReader()]
