"""The ``csv`` and ``tsv`` readers: one story per row, in the columns the CSV writer writes.

The header names the columns (any order, any subset of :data:`storykit.convert.CSV_COLUMNS`);
a file separated by ``;``, ``|``, a tab or a comma is read whatever its reader's own delimiter,
when its header shows it. A file is read whole by :func:`storykit.load`, or a row at a time
(:class:`CSVFile`) by ``load(path, where=...)`` and the stream functions.
"""

from __future__ import annotations

import array
import csv
import io
import itertools
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any, BinaryIO

from storykit.collection import Collection
from storykit.convert import CSV_COLUMNS, unflatten_story
from storykit.errors import ErrorDetail, ValidationError
from storykit.model import Errors, Story
from storykit.plugins import hookimpl
from storykit.read.decode import BOM, decode, fail, file_not_utf8
from storykit.read.lines import check_story, collection_of_lines, load_where

__all__ = ["CSV_LINES", "MAX_CSV_FIELD", "TSV_LINES", "CSVFile", "CSVReader", "csv_file_rows",
           "csv_rows"]

#: The largest CSV cell read (characters); the csv module's own default is 131,072.
MAX_CSV_FIELD = 1024 * 1024


#: The delimiters a CSV or TSV file is also read with, when its header shows that it uses one.
_OTHER_DELIMITERS = (";", "|", "\t", ",")


def csv_rows(lines: Iterator[str] | IO[str], source: str | None, delimiter: str,
              ) -> Iterator[tuple[int, dict[str, Any]]]:
    """(line number, story data) for each row; header problems raise at once.


    A row's number is the line it starts on. Blank lines (or of spaces only) are skipped,
    before the header too. A row's cells are keyed by column as :class:`csv.DictReader` keys
    them: the cells beyond the header's under ``None``, and the missing ones as ``None``.


    A file may use another delimiter than ``delimiter``: ``;`` (Excel's CSV wherever the decimal
    separator is a comma), ``|``, a tab, a comma. Its header, read with ``delimiter``, is then
    one cell, which that delimiter splits into story columns. As every column must be one, no
    file can be misread this way; a header that is one cell and holds one of these delimiters
    but not only story columns gets an error that says which delimiter the file seems to use.
    """
    csv.field_size_limit(max(csv.field_size_limit(), MAX_CSV_FIELD))
    it = iter(lines)
    before = 0  # the lines before the reader's first
    for first in it:
        if not first.isspace():
            break
        before += 1
    else:
        return  # empty, or blank lines only: no story
    rest = itertools.chain((first,), it)
    top = before + 1  # the header's line
    reader = csv.reader(rest, delimiter=delimiter, strict=True)
    header: list[str] | None = None
    problem: csv.Error | None = None
    try:
        header = next(reader)
    except csv.Error as e:
        problem = e
    if reader.line_num == 1 and (header is None or (
            len(header) == 1 and header[0] not in CSV_COLUMNS)):
        found = _header_with_another_delimiter(first, delimiter)
        if found is not None:
            delimiter, header = found
            before += 1
            reader = csv.reader(rest, delimiter=delimiter, strict=True)
    if header is None:
        assert problem is not None
        raise csv_error(problem, source, before + reader.line_num) from None
    _check_header(header, delimiter, source, top)
    width = len(header)
    start = before + reader.line_num + 1
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as e:
            raise csv_error(e, source, before + reader.line_num) from None
        if row and (len(row) > 1 or not row[0].isspace()):  # (not a blank line)
            cells: dict[Any, Any] = dict(zip(header, row, strict=False))  # (ragged: below)
            if len(row) > width:
                cells[None] = row[width:]
            elif len(row) < width:
                for column in header[len(row):]:
                    cells[column] = None
            yield start, cells
        start = before + reader.line_num + 1


def _header_with_another_delimiter(line: str, delimiter: str) -> tuple[str, list[str]] | None:
    """The delimiter that splits the header ``line`` into story columns only, and the columns,
    if one of :data:`_OTHER_DELIMITERS` does."""
    for other in _OTHER_DELIMITERS:
        if other != delimiter and other in line:
            try:
                header = next(csv.reader([line], delimiter=other, strict=True))
            except csv.Error:
                continue
            if len(header) > 1 and all(col in CSV_COLUMNS for col in header):
                return other, header
    return None


def _check_header(header: list[str], delimiter: str, source: str | None, line: int) -> None:
    """Raise if a column of ``header`` is unknown or given twice."""
    import difflib


    def hint(col: str) -> str:
        close = difflib.get_close_matches(col, CSV_COLUMNS, n=1)
        return f"; did you mean {close[0]!r}?" if close else ""


    if len(header) == 1 and header[0] not in CSV_COLUMNS:
        cell = header[0]
        seems = [d for d in _OTHER_DELIMITERS if d != delimiter and d in cell]
        if seems:
            other = max(seems, key=cell.count)
            unknown = [col for col in cell.split(other) if col not in CSV_COLUMNS]
            names = ", ".join(map(repr, unknown))
            verb = "is not a story column" if len(unknown) == 1 else "are not story columns"
            why = (f"but then {names} {verb}{hint(unknown[0]) if len(unknown) == 1 else ''}"
                   if unknown else "but it is quoted as one cell")
            raise ValidationError([ErrorDetail(
                "", f"column {cell!r} is not a story column: the header seems to be separated "
                    f"by {other!r}, {why}", cell, line)], source)
    errors: Errors = []
    seen: set[str] = set()
    for col in header:
        if col in seen:
            errors.append(ErrorDetail("", f"column {col!r} appears twice in the header", col,
                                      line))
        seen.add(col)
        if col not in CSV_COLUMNS:
            errors.append(ErrorDetail("", f"column {col!r} is not a story column{hint(col)}",
                                      col, line))
    if errors:
        raise ValidationError(errors, source)


def csv_error(e: csv.Error, source: str | None, line: int) -> ValidationError:
    if "field limit" in str(e):
        limit = csv.field_size_limit()
        return fail(f"has a cell longer than {limit:,} characters (the CSV cell limit, "
                     "storykit.read.csv.MAX_CSV_FIELD)", source, line=line)
    return fail(f"is not valid CSV: {e}", source, line=line)


def read_csv(data: str | bytes, source: str | None, delimiter: str = ",") -> Collection:
    text = decode(data, source)
    items: list[Any] = []
    lines: list[int] = []
    errors: Errors = []
    ragged: set[str] = set()
    for i, (line, row) in enumerate(csv_rows(io.StringIO(text, newline=""), source, delimiter)):
        before = len(errors)
        items.append(unflatten_story(row, errors, f"stories[{i}]", line))
        if len(errors) > before:
            ragged.add(f"stories[{i}]")
        lines.append(line)
    return collection_of_lines(items, lines, errors, ragged, source)


def csv_file_rows(path: Path, source: str, delimiter: str,
                  ) -> Iterator[tuple[int, dict[str, Any]]]:
    """:func:`csv_rows` of a CSV (or TSV) file, streamed.

    The file must be UTF-8 (a BOM is skipped). A byte that is not is found as the file is
    decoded, a block ahead of the rows; it is then named as :func:`load` names it.
    """
    with path.open(encoding="utf-8-sig", newline="") as f:
        try:
            yield from csv_rows(f, source, delimiter)
        except UnicodeDecodeError:
            raise file_not_utf8(path, source) from None


class CSVFile:
    """CSV or TSV read a row at a time (see :class:`storykit.read.lines.LineFile`)."""

    def __init__(self, delimiter: str) -> None:
        self.delimiter = delimiter

    def checked(self, path: Path, source: str, errors: Errors,
                ids: array.array[int]) -> Iterator[Story]:
        """See :meth:`storykit.read.lines.LineFile.checked`."""
        def count(sid: str) -> None:  # the id a story that failed gives: load() counts it
            ids.append(hash(sid))

        rows = csv_file_rows(path, source, self.delimiter)
        for i, (n, row) in enumerate(rows):
            item = unflatten_story(row, errors, f"stories[{i}]", n)
            story = check_story(item, i, n, errors, count)
            if story is None:
                continue
            ids.append(hash(story.id))
            if not errors:
                yield story

    def items(self, path: Path, source: str) -> Iterator[tuple[int, int, Any]]:
        """See :meth:`storykit.read.lines.LineFile.items`."""
        for i, (n, row) in enumerate(csv_file_rows(path, source, self.delimiter)):
            yield i, n, unflatten_story(row, [], f"stories[{i}]", n)


#: CSV and TSV, read a row at a time.
CSV_LINES = CSVFile(",")
TSV_LINES = CSVFile("\t")


class CSVReader:
    """Comma- (``csv``) or tab-separated (``tsv``) values: one story per row."""

    options_type = None
    input = "stream"
    #: ``where`` is applied a row at a time: only the stories kept are held.
    handles_where = True

    def __init__(self, name: str, delimiter: str, suffix: str, media_type: str,
                 description: str) -> None:
        self.name = name
        self.delimiter = delimiter
        self.suffixes = (suffix,)
        self.media_types = (media_type,)
        self.description = description
        self._lines = CSVFile(delimiter)

    def read(self, source: BinaryIO, *, where: Callable[[Story], bool] | None = None,
             **options: Any) -> Collection:
        name = getattr(source, "name", None)
        if where is not None and isinstance(name, str) and Path(name).is_file():
            return load_where(Path(name), self._lines, name, where)
        col = read_csv(source.read(), name, self.delimiter)
        return col if where is None else col.filter(where=where)

    def read_data(self, data: str | bytes, source: str | None) -> Collection:
        return read_csv(data, source, self.delimiter)

    def sniff(self, head: bytes) -> bool:
        """A first line of story columns only, separated by this reader's delimiter."""
        line = head.removeprefix(BOM).lstrip(b"\r\n").split(b"\n", 1)[0]
        try:
            header = next(csv.reader([line.decode("utf-8").rstrip("\r")],
                                     delimiter=self.delimiter))
        except (UnicodeDecodeError, csv.Error, StopIteration):
            return False
        return len(header) > 1 and all(column in CSV_COLUMNS for column in header)


@hookimpl
def register_readers() -> list[CSVReader]:
    return [
        CSVReader("csv", ",", ".csv", "text/csv", "Comma-separated values: one story per row, "
                  "the columns the csv writer writes."),
        CSVReader("tsv", "\t", ".tsv", "text/tab-separated-values", "Tab-separated values: "
                  "one story per row, the columns the csv writer writes."),
    ]
