"""CSV: one row per story in the flat columns the CSV loader reads (RFC 4180).

Cells a spreadsheet would run as a formula are made inert (a leading ``'``), following OWASP's
CSV-injection advice; the loader undoes exactly that, so a round trip loses nothing.
"""

from __future__ import annotations

import csv
import io
import operator
from collections.abc import Iterable
from typing import Any, BinaryIO

import attrs

from storykit.collection import Collection
from storykit.convert import (
    CSV_COLUMNS,
    FORMULA_TRIGGERS,
    FREE_TEXT_COLUMNS,
    batches,
    csv_cells,
    neutralise,
)
from storykit.exporter import parse_options
from storykit.model import Story
from storykit.plugins import hookimpl

#: Rows encoded and written per chunk.
CHUNK = 1024


def _columns(value: tuple[str, ...]) -> tuple[str, ...]:
    value = tuple(value)
    unknown = [c for c in value if c not in CSV_COLUMNS]
    if unknown:
        raise ValueError(f"has an unknown column {unknown[0]!r} "
                         f"(columns: {', '.join(CSV_COLUMNS)})")
    if not value:
        raise ValueError("must name at least one column")
    if len(set(value)) != len(value):
        twice = next(c for c in value if value.count(c) > 1)
        raise ValueError(f"names the column {twice!r} twice")
    return value


#: Names for characters that are awkward to type in ``-O key=value``.
_NAMED = {"tab": "\t", "\\t": "\t", "comma": ",", "semicolon": ";", "pipe": "|",
          "crlf": "\r\n", "\\r\\n": "\r\n", "lf": "\n", "\\n": "\n"}


def _named(value: str) -> str:
    return _NAMED.get(value.lower() if len(value) > 1 else value, value)


def _delimiter(_: object, attribute: attrs.Attribute[str], value: str) -> None:
    if len(value) != 1 or value in "\"'\r\n" or value.isalnum() or value == " ":
        raise ValueError(f"must be one character other than letters, digits, quotes, spaces "
                         f"and newlines, such as ',', ';', '|' or 'tab' (got {value!r})")


def _lineterminator(_: object, attribute: attrs.Attribute[str], value: str) -> None:
    if value not in ("\r\n", "\n"):
        raise ValueError(f"must be '\\r\\n' (crlf) or '\\n' (lf) (got {value!r})")


@attrs.frozen
class CSVOptions:
    """Options of the ``csv`` format."""

    #: The columns to write, in order (default: all of them, in :data:`CSV_COLUMNS` order).
    columns: tuple[str, ...] = attrs.field(default=CSV_COLUMNS, converter=_columns)
    #: The cell separator: ``,``, or ``tab`` for TSV, or ``;`` or ``|``.
    delimiter: str = attrs.field(default=",", converter=_named, validator=_delimiter)
    #: Write the header row (the CSV loader needs it).
    header: bool = True
    #: Start with a UTF-8 byte order mark, which Excel needs to read UTF-8.
    bom: bool = False
    #: The row terminator: ``\\r\\n`` as RFC 4180 says (``crlf``), or ``\\n`` (``lf``).
    lineterminator: str = attrs.field(default="\r\n", converter=_named,
                                      validator=_lineterminator)
    #: Make formula-like cells inert with a leading ``'`` (OWASP). Turn off only for tools
    #: that are not spreadsheets.
    neutralise_formulas: bool = True


class CSVExporter:
    """The ``csv`` format."""

    name = "csv"
    media_type = "text/csv"
    suffix = ".csv"
    description = "One row per story in flat columns; formula cells made inert for spreadsheets."
    options_type = CSVOptions

    #: :meth:`write_stream` takes the stories as an iterable (``storykit.stream.stream_export``).
    streams = True

    def continuation_options(self, options: dict[str, Any]) -> dict[str, Any]:
        """The options that render a later part of a stream so that the parts concatenate:
        the same, without the header row and the byte order mark."""
        parse_options(self, options, CSVOptions)  # (a bad option is reported here, once)
        return {**options, "header": False, "bom": False}

    def write(self, collection: Collection, out: BinaryIO, **options: Any) -> None:
        """Write ``collection`` to ``out``, a chunk of rows at a time."""
        self.write_stream(collection, collection.stories, out, **options)

    def write_stream(self, collection: Collection, stories: Iterable[Story], out: BinaryIO,
                     **options: Any) -> None:
        """Write ``stories`` (any iterable, read once), a chunk of rows at a time."""
        opts = parse_options(self, options, CSVOptions)
        buf = io.StringIO()
        writer = csv.writer(buf, delimiter=opts.delimiter, lineterminator=opts.lineterminator,
                            quoting=csv.QUOTE_MINIMAL)
        if opts.bom:
            out.write("\ufeff".encode())
        columns = opts.columns
        if opts.header:
            writer.writerow(columns)
        # Only the free-text columns can hold a formula (see FREE_TEXT_COLUMNS).
        risky = ([i for i, c in enumerate(columns) if c in FREE_TEXT_COLUMNS]
                 if opts.neutralise_formulas else [])
        for batch in batches(stories, CHUNK):
            cells = csv_cells(batch, columns)
            for i in risky:
                cells[i] = _inert(cells[i])
            writer.writerows(zip(*cells, strict=True))
            out.write(buf.getvalue().encode("utf-8"))
            buf.seek(0)
            buf.truncate()
        if buf.tell():  # (the header of no stories)
            out.write(buf.getvalue().encode("utf-8"))


#: What a cell that may need :func:`neutralise` starts with: a formula trigger or a quote.
_RISKY = FORMULA_TRIGGERS | {"'"}
_FIRST = operator.itemgetter(slice(None, 1))


def _inert(cells: list[str]) -> list[str]:
    """The cells of a free-text column, each made inert if a spreadsheet would run it."""
    if _RISKY.isdisjoint(map(_FIRST, cells)):  # (nearly always: no cell to change)
        return cells
    return list(map(neutralise, cells))


@hookimpl
def register_exporters() -> list[CSVExporter]:
    """The built-in ``csv`` format."""
    return [CSVExporter()]
