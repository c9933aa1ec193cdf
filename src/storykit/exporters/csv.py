"""CSV: one row per story in the flat columns the CSV loader reads (RFC 4180).

Cells a spreadsheet would run as a formula are made inert (a leading ``'``), following OWASP's
CSV-injection advice; the loader undoes exactly that, so a round trip loses nothing.
"""

from __future__ import annotations

import csv
import io
from typing import Any, BinaryIO

import attrs

from storykit.collection import Collection
from storykit.convert import CSV_COLUMNS, flatten_story, neutralise
from storykit.exporter import parse_options
from storykit.plugins import hookimpl

#: Rows encoded and written per chunk.
CHUNK = 1024


def _columns(value: tuple[str, ...]) -> tuple[str, ...]:
    unknown = [c for c in value if c not in CSV_COLUMNS]
    if unknown:
        raise ValueError(f"unknown column {unknown[0]!r} (columns: {', '.join(CSV_COLUMNS)})")
    return value


@attrs.frozen
class CSVOptions:
    """Options of the ``csv`` format."""

    #: The columns to write, in order (default: all of them).
    columns: tuple[str, ...] = attrs.field(default=CSV_COLUMNS, converter=_columns)
    #: The cell separator: ``,`` or, for TSV, a tab.
    delimiter: str = ","
    #: Write the header row.
    header: bool = True
    #: Start with a UTF-8 byte order mark, which Excel needs to read UTF-8.
    bom: bool = False
    #: The row terminator: ``\\r\\n`` as RFC 4180 says, or ``\\n``.
    lineterminator: str = "\r\n"
    #: Make formula-like cells inert. Turn off only for tools that are not spreadsheets.
    neutralise_formulas: bool = True


class CSVExporter:
    name = "csv"
    media_type = "text/csv"
    suffix = ".csv"
    description = "One row per story in flat columns; formula cells made inert for spreadsheets."
    options_type = CSVOptions

    def write(self, collection: Collection, out: BinaryIO, **options: Any) -> None:
        opts = parse_options(self, options, CSVOptions)
        if len(opts.delimiter) != 1 or opts.delimiter in "\"'\r\n":
            from storykit.errors import OptionError

            raise OptionError(self.name, "delimiter",
                              f"must be one character other than quotes and newlines "
                              f"(got {opts.delimiter!r})")
        if opts.lineterminator not in ("\r\n", "\n"):
            from storykit.errors import OptionError

            raise OptionError(self.name, "lineterminator",
                              f"must be '\\r\\n' or '\\n' (got {opts.lineterminator!r})")
        buf = io.StringIO()
        writer = csv.writer(buf, delimiter=opts.delimiter, lineterminator=opts.lineterminator,
                            quoting=csv.QUOTE_MINIMAL)
        if opts.bom:
            out.write("\ufeff".encode())
        columns = opts.columns
        if opts.header:
            writer.writerow(columns)
        fix = neutralise if opts.neutralise_formulas else None
        stories = collection.stories
        for start in range(0, len(stories), CHUNK):
            rows = []
            for s in stories[start:start + CHUNK]:
                flat = flatten_story(s)
                if fix is None:
                    rows.append([flat[c] for c in columns])
                else:
                    rows.append([fix(flat[c]) for c in columns])
            writer.writerows(rows)
            out.write(buf.getvalue().encode("utf-8"))
            buf.seek(0)
            buf.truncate()
        if buf.tell():
            out.write(buf.getvalue().encode("utf-8"))


@hookimpl
def register_exporters() -> list[CSVExporter]:
    return [CSVExporter()]
