"""The ``toml`` reader: the collection document of DESIGN written in TOML
(``[[stories]]`` tables)."""

from __future__ import annotations

import sys
from typing import Any, BinaryIO

from storykit.collection import Collection
from storykit.convert import collection_from_data
from storykit.plugins import hookimpl
from storykit.read.decode import decode, fail

__all__ = ["TOMLReader"]


def read_toml(data: str | bytes, source: str | None) -> Collection:
    import tomllib

    text = decode(data, source)
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise fail(f"is not valid TOML: {e}", source) from None
    except RecursionError:
        raise fail("nested too deeply: TOML arrays or tables deeper than Python's recursion "
                    f"limit ({sys.getrecursionlimit():,})", source) from None
    except ValueError as e:  # int() refusing a huge integer literal
        raise fail(f"holds an integer with more than {sys.get_int_max_str_digits():,} digits "
                    "(Python's int_max_str_digits limit)", source, str(e)[:80]) from None
    return collection_from_data(doc, source)


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
