"""Reading documents into collections, and writing collections through exporters.

Data flows one way: bytes -> parser -> checkers -> Collection, and Collection -> exporter ->
bytes. Files are read whole only where a format needs it (JSON, TOML); JSON Lines and CSV can
be streamed story by story with :func:`iter_stories`.
"""

from __future__ import annotations

import array
import bisect
import collections
import contextlib
import csv
import errno
import functools
import gc
import io
import itertools
import os
import re
import stat
import sys
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import IO, Any, BinaryIO

import attrs
import orjson

from storykit import _parallel
from storykit import _rules as rules
from storykit.collection import Collection, _given_id, derive_ids
from storykit.convert import CSV_COLUMNS, collection_from_data, unflatten_story
from storykit.errors import (
    ErrorDetail,
    OptionError,
    PluginError,
    UnknownFormatError,
    ValidationError,
)
from storykit.model import Errors, Story, _build, _join, check_story_values

__all__ = [
    "LOAD_FORMATS",
    "atomic_writer",
    "check_output_path",
    "check_stream",
    "dump",
    "dumps",
    "iter_stories",
    "load",
    "loads",
    "safe_join",
    "stream_export",
    "streamable",
    "write_with",
]

#: The formats :func:`load` reads, by file suffix.
LOAD_FORMATS: dict[str, str] = {
    ".json": "json",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".toml": "toml",
    ".csv": "csv",
    ".tsv": "tsv",
}
#: The largest document :func:`load` reads unless told otherwise (bytes).
MAX_BYTES = 512 * 1024 * 1024
#: The largest CSV cell read (characters); the csv module's own default is 131,072.
MAX_CSV_FIELD = 1024 * 1024
#: The longest line of JSON Lines read when streaming (bytes): far beyond any story, and a
#: bound on the memory a stream needs whatever the file holds.
MAX_LINE = 16 * 1024 * 1024
#: The smallest JSON Lines file :func:`stream_export` splits among worker processes (bytes):
#: below it, starting the workers costs more than they save.
PARALLEL_MIN_BYTES = 4 * 1024 * 1024
#: The deepest JSON nesting read: orjson's fixed limit (a story document needs 5 levels).
MAX_JSON_DEPTH = 1024
#: The longest file name written (bytes): the limit of ext4, XFS, APFS and NTFS alike.
MAX_NAME_BYTES = 255

PathLike = str | os.PathLike[str]


def _fail(message: str, source: str | None, value: Any = None, line: int | None = None,
          path: str = "") -> ValidationError:
    return ValidationError([ErrorDetail(path, message, value, line)], source)


def _format_of(path: Path, format: str | None) -> str:
    if format is not None:  # (any case, as dumps() takes it: "JSONL")
        return format.lower() if isinstance(format, str) else format
    fmt = LOAD_FORMATS.get(path.suffix.lower())
    if fmt is None:
        from storykit.errors import UnknownFormatError

        raise UnknownFormatError(path.suffix or path.name, list(LOAD_FORMATS),
                                 kind="input file type")
    return fmt


def load(path: PathLike, format: str | None = None, *, max_bytes: int = MAX_BYTES,
         where: Callable[[Story], bool] | None = None) -> Collection:
    """Read a collection from a file: ``.json``, ``.jsonl``, ``.toml``, ``.csv`` or ``.tsv``.

    Every problem in the file is reported at once in one :class:`~storykit.ValidationError`;
    nothing is returned half-loaded. ``max_bytes`` (a positive int) bounds the size of a file
    read whole; only what the file holds is read, however high the bound.

    ``where`` keeps only the stories it is true for, as ``load(path).filter(where=where)``
    would, with the same verdict on the whole file. A JSON Lines, CSV or TSV file is then read
    a story at a time and only the stories kept are held: an archive of any size (no
    ``max_bytes``) gives this week's stories in the memory they need. ``where`` should only
    test: should an id derived from a title be taken, it is called again on every story with
    the numbered id :func:`load` gives it. An error it raises comes after the file's own
    problems, as with :meth:`Collection.filter`.
    :func:`storykit.collection.matcher` makes ``where`` from :meth:`Collection.filter`'s
    criteria.
    """
    max_bytes = rules.whole(max_bytes, "max_bytes must be a positive int, a number of bytes")
    if max_bytes < 1:
        raise ValueError(f"max_bytes must be a positive int, a number of bytes (got int "
                         f"{max_bytes})")
    p = Path(path)
    if p.is_dir():
        raise _a_folder(path)
    fmt = _format_of(p, format)
    source = str(path)
    if where is not None:
        if not callable(where):  # (as filter() says it: before the file is read)
            from storykit.collection import matcher

            matcher(where=where)
        if fmt in ("jsonl", "csv", "tsv") and p.is_file():
            return _load_where(p, fmt, source, where)
        return load(p, fmt, max_bytes=max_bytes).filter(where=where)
    try:
        size = p.stat().st_size
    except FileNotFoundError:
        raise FileNotFoundError(f"no such file: {source}") from None
    if size > max_bytes:
        raise _too_big(size, max_bytes, source)
    with p.open("rb") as f:
        data = _read_at_most(f, max_bytes + 1, size)
    if len(data) > max_bytes:
        raise _too_big(len(data), max_bytes, source)
    return loads(data, fmt, source=source)


def _read_at_most(f: BinaryIO, limit: int, size: int) -> bytes:
    """Up to ``limit`` bytes of ``f``, whose size on disk is ``size`` (0 for a pipe or a
    device, which has none to stat).

    A file is read in one call of its size and a byte (past the end: had it grown since, the
    rest follows), never of ``limit``, which may be far beyond memory (``max_bytes=10**12``).
    """
    data = f.read(min(limit, size + 1))
    if len(data) < min(limit, size + 1):  # the end: the common case, read whole at once
        return data
    parts = [data]
    got = len(data)
    while got < limit and (more := f.read(min(limit - got, MAX_LINE))):
        parts.append(more)
        got += len(more)
    return b"".join(parts)


def _a_folder(path: PathLike) -> IsADirectoryError:
    """The error for a folder given where a content file is read (whatever its name)."""
    return IsADirectoryError(errno.EISDIR, "is a folder, not a content file", str(path))


def _too_big(size: int, limit: int, source: str) -> ValidationError:
    return _fail(f"the file is {size:,} bytes; the limit is {limit:,} bytes "
                 "(max_bytes=, default storykit.io.MAX_BYTES)", source, size)


def loads(data: str | bytes, format: str = "json", *,
          source: str | None = None) -> Collection:
    """Read a collection from a string or bytes in ``format`` (json, jsonl, toml, csv, tsv).

    ``data`` may be any bytes-like object (``bytearray``, ``memoryview``); anything else that
    is not a str raises TypeError. ``format`` is taken in any case (``"JSON"``), as
    :func:`dumps` takes it.

    Python's cyclic garbage collector is paused while the collection is built, and switched
    back on after, whatever happens: the stories all stay alive, so it would only walk them
    again and again. A large archive loads about a third faster.
    """
    if not isinstance(data, (str, bytes)):
        data = _bytes_like(data)
    reader = _READERS.get(format)
    if reader is None:
        reader = _reader_named(format)
    with _collector_paused():
        return reader(data, source)


def _bytes_like(data: object) -> bytes:
    """``data``, which :func:`loads` got and is neither str nor bytes, as bytes if it is
    bytes-like (``bytearray``, ``memoryview``); else the TypeError that says what to pass."""
    try:
        return bytes(memoryview(data))  # type: ignore[arg-type]
    except TypeError:
        pass
    hint = ("; a dict of data is made into a collection with storykit.Collection(**data)"
            if isinstance(data, Mapping) else "")
    raise TypeError(f"loads() takes str or bytes (got {type(data).__name__}){hint}")


def _reader_named(format: object) -> Callable[[str | bytes, str | None], Collection]:
    """The reader of ``format`` given in another case (``JSON``, as :func:`dumps` takes it);
    else the error that names the formats read."""
    if not isinstance(format, str):
        raise TypeError(f"format must be a str, one of {', '.join(_READERS)} "
                        f"(got {type(format).__name__})")
    reader = _READERS.get(format.lower())
    if reader is None:
        raise UnknownFormatError(format, list(_READERS), kind="input format")
    return reader


@contextlib.contextmanager
def _collector_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector (:mod:`gc`) for the block, if it is running.

    Loading makes many objects that all stay alive. The collector counts them as they are made
    and walks every one of them again and again as they pile up, finding nothing to free: a
    third of the time of a 100,000-story load. Reference counting, which frees nearly all
    garbage, goes on as usual, and the collector is switched back on at the end, whatever
    happens. If it was off, it stays off.
    """
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


#: The UTF-8 byte order mark, which Notepad and Excel put at the start of a file: skipped there.
_BOM = b"\xef\xbb\xbf"


def _text(data: str | bytes, source: str | None) -> str:
    """``data`` as text, without a byte order mark at its start; bytes must be UTF-8."""
    if isinstance(data, str):
        return data[1:] if data.startswith("\ufeff") else data
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        start = _first_bad_byte(data)
        assert start is not None
        raise _not_utf8(data[start], start, source, data.count(b"\n", 0, start) + 1) from None


def _first_bad_byte(data: bytes) -> int | None:
    """The offset of the first byte of ``data`` that is not UTF-8 (a BOM is UTF-8), if any."""
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as e:
        return e.start
    return None


def _not_utf8(byte: int, offset: int, source: str | None, line: int,
              in_line: bool = False) -> ValidationError:
    """The error for a byte that is not UTF-8, at ``offset`` in the document, or in the line
    when ``in_line`` (a line of JSON Lines: the workers of a parallel export see only their
    lines, and must name a problem as :func:`load` does)."""
    return _fail(f"is not UTF-8: byte {byte:#04x} at offset {offset}"
                 f"{' of the line' if in_line else ''}", source, line=line)


def _file_not_utf8(path: Path, source: str) -> ValidationError:
    """The error for a file that is not UTF-8, as :func:`_text` gives it for the whole file,
    found line by line (in constant memory: this is for files that are streamed)."""
    offset = 0
    with path.open("rb") as f:
        for n, line in enumerate(f, 1):
            start = _first_bad_byte(line)
            if start is not None:
                return _not_utf8(line[start], offset + start, source, n)
            offset += len(line)
    return _fail("is not UTF-8 (the file changed while it was read)", source)  # pragma: no cover


_NUMBER = re.compile(r"-?[0-9.eE+-]+")
_NON_JSON_NUMBER = re.compile(r"-?(?:NaN|Infinity|nan|inf)\b")


def _json_error(e: orjson.JSONDecodeError, source: str | None, line: int | None = None) -> (
        ValidationError):
    msg = e.msg.lower()
    where = f"line {e.lineno}, column {e.colno}" if line is None else f"column {e.colno}"
    if "depth" in msg or "recursion" in msg:
        return _fail(f"nested too deeply: JSON deeper than {MAX_JSON_DEPTH:,} levels ({where})",
                     source, line=line)
    if "infinity when parsed" in msg:
        number = _NUMBER.match(e.doc, e.pos)
        digits = len(number.group()) if number else 0
        return _fail(f"holds a number of {digits:,} characters, too large for JSON's 64-bit "
                     f"float (the limit is about 1.8e308; {where})", source,
                     number.group()[:40] if number else None, line=line)
    bad = _NON_JSON_NUMBER.match(e.doc, max(e.pos - 1, 0)) or _NON_JSON_NUMBER.match(e.doc, e.pos)
    if bad is not None:
        return _fail(f"holds {bad.group()!r}, which is not a JSON number (NaN and Infinity are "
                     f"not allowed; {where})", source, bad.group(), line=line)
    hint = ""
    if line is not None and e.doc[:e.pos].rstrip(" \t").endswith("\r"):
        hint = ("; lines of JSON Lines end with \\n, and this one holds another line after a "
                "lone \\r, as files with old Mac line ends do")
    return _fail(f"is not valid JSON: {e.msg} ({where}){hint}", source, line=line)


def _json(data: str | bytes, source: str | None, line: int | None = None,
          index: int | None = None, repeats: Errors | None = None) -> Any:
    """Parse JSON with orjson; refuse duplicate keys, NaN, huge numbers and deep nesting.

    ``line`` and ``index`` are given for a line of JSON Lines: its number, and the index of the
    story it holds (an error's path starts ``stories[index]``). A key repeated in an object
    raises, or, given a list ``repeats``, is added to it and the document (the last value of
    the key) returned: the caller then lists it with the document's other problems.

    A byte order mark at the very start (of a document, or of line 1) is skipped, and bytes that
    are not UTF-8 are named: both only once orjson has refused the data, which it does for
    either at once, so that valid JSON is parsed once and never decoded first.
    """
    try:
        doc = orjson.loads(data)
    except orjson.JSONDecodeError as e:
        if line is None and type(data) is bytes and (bad := _first_bad_byte(data)) is not None:
            # (before a BOM is taken off: the offset is the one in the file)
            raise _not_utf8(data[bad], bad, source, data.count(b"\n", 0, bad) + 1) from None
        bom: Any = _BOM if type(data) is bytes else "\ufeff"
        if line in (None, 1) and data.startswith(bom) and not data.startswith(bom, len(bom)):
            return _json(data[len(bom):], source, line, index, repeats)
        if line is not None and type(data) is bytes:
            if (bad := _first_bad_byte(data)) is not None:
                raise _not_utf8(data[bad], bad, source, line, in_line=True) from None
            if data.endswith((b"\n", b"\r")):  # the column on this line
                return _json(data.rstrip(b"\r\n"), source, line, index, repeats)
        raise _json_error(e, source, line) from None
    if isinstance(doc, (dict, list)):
        found = _repeated_keys(data, doc, line, index)
        if found:
            if repeats is None:
                raise ValidationError(found, source)
            repeats.extend(found)
    return doc


def _repeated_keys(data: str | bytes, doc: Any, line: int | None,
                   index: int | None = None) -> Errors | None:
    """The problems of the keys an object of ``data`` repeats (orjson keeps the last value
    silently), or None.

    Two cheap checks come first. Text that is the compact re-rendering of what it parsed to
    (as JSON written by orjson, storykit or most serialisers is) repeats no key: a
    repeated key would be missing from the re-rendering. Otherwise, every ``:`` of a JSON text
    separates a key from its value or sits inside a string, so a document without repeated keys
    has exactly as many as its compact re-rendering (orjson never escapes ``:``). Only when the
    counts differ, or ``\u003a`` hides a colon, is the document parsed again to find the
    repeated key and its path.
    """
    if _no_repeated_key(data, doc):
        return None
    import json

    found: list[tuple[str, Any]] = []

    def pairs(items: list[tuple[str, Any]]) -> dict[str, Any]:
        d: dict[str, Any] = {}
        for key, value in items:
            if key in d:
                found.append((key, d))
            d[key] = value
        return d

    try:
        tree = json.loads(data, object_pairs_hook=pairs)
    except (ValueError, RecursionError):  # pragma: no cover - orjson accepted it
        return None
    if not found:
        return None
    root = "stories" if isinstance(tree, list) else "" if index is None else f"stories[{index}]"
    paths = _paths_to(tree, {id(d) for _, d in found}, root)
    return [ErrorDetail(_join(paths[id(d)], key),
                        f"{key!r} is given twice in one object (a JSON object must not "
                        "repeat a key)", key, line) for key, d in found]


def _no_repeated_key(data: str | bytes, doc: Any) -> bool:
    """The cheap checks of :func:`_repeated_keys`: true when ``data``, which orjson parsed to
    ``doc``, surely repeats no key."""
    compact = _dumps(doc)
    if type(data) is bytes and data.startswith(compact) and not data[len(compact):].strip():
        return True  # (what follows the JSON can only be whitespace: orjson parsed it)
    if isinstance(data, bytes):  # (a backslash first: one byte is found far faster than six)
        return data.count(b":") == compact.count(b":") and (
            b"\\" not in data or (b"\\u003a" not in data and b"\\u003A" not in data))
    return data.count(":") == compact.count(b":") and (
        "\\" not in data or ("\\u003a" not in data and "\\u003A" not in data))


def _paths_to(tree: Any, targets: set[int], root: str) -> dict[int, str]:
    """The path (``stories[3].image``) of each object of ``tree`` whose ``id()`` is in
    ``targets``, by its ``id()``, in one walk of the tree, whose own path is ``root``
    (``stories`` for a bare list of stories, ``stories[3]`` for a line of JSON Lines, ``""``
    for a collection document)."""
    found: dict[int, str] = {}
    stack: list[tuple[Any, str]] = [(tree, root)]
    while stack and len(found) < len(targets):
        node, path = stack.pop()
        if id(node) in targets:
            found[id(node)] = path
        if isinstance(node, dict):
            stack.extend((v, _join(path, str(k))) for k, v in node.items()
                         if isinstance(v, (dict, list)))
        elif isinstance(node, list):
            stack.extend((v, f"{path}[{i}]") for i, v in enumerate(node)
                         if isinstance(v, (dict, list)))
    return found


def _read_json(data: str | bytes, source: str | None) -> Collection:
    repeats: Errors = []
    doc = _json(data, source, repeats=repeats)
    if not repeats:
        return collection_from_data(doc, source)
    # A repeated key does not hide the document's other problems: one raise names them all.
    try:
        collection_from_data(doc, source)
    except ValidationError as e:
        repeats.extend(e.errors)
    repeats.sort(key=_story_of)  # (stable: a story's repeated keys come before its problems)
    raise ValidationError(repeats, source)


_STORY_INDEX = re.compile(r"stories\[(\d+)\]")


def _story_of(error: ErrorDetail) -> int:
    """The index of the story a problem is in; -1 for the collection's metadata."""
    m = _STORY_INDEX.match(error.path)
    return int(m.group(1)) if m else -1


def _read_jsonl(data: str | bytes, source: str | None) -> Collection:
    raw = data.encode("utf-8", "surrogatepass") if isinstance(data, str) else data
    if raw.startswith(_BOM):
        raw = raw[len(_BOM):]
    items: list[Any] = []
    lines: list[int] = []
    errors: Errors = []
    unreadable: set[str] = set()
    # Lines end at "\n" only, as JSON Lines says and the streaming readers read them (a "\r"
    # before it, or anywhere between tokens, is JSON whitespace); splitlines() would also
    # break at a lone "\r", and give another verdict and other line numbers.
    for n, line in enumerate(raw.split(b"\n"), 1):
        if not line or line.isspace():
            continue
        try:
            if len(line) > MAX_LINE:  # as iter_stories() and stream_export() say
                raise _too_long(None, n)
            # A repeated key goes to errors; the story is still checked, as with a document.
            items.append(_json(line, None, n, len(items), errors))
        except ValidationError as e:
            errors.extend(e.errors)
            unreadable.add(f"stories[{len(items)}]")
            items.append({})  # keeps the numbering of the stories after it
        lines.append(n)
    if errors:
        # The lines that did parse are checked too, so that one raise names every problem.
        try:
            collection_from_data(items, source, line_of=lines.__getitem__)
        except ValidationError as e:
            errors.extend(x for x in e.errors if x.path.split(".", 1)[0] not in unreadable)
        errors.sort(key=lambda x: x.line or 0)
        raise ValidationError(errors, source)
    return collection_from_data(items, source, line_of=lines.__getitem__)


def _read_toml(data: str | bytes, source: str | None) -> Collection:
    import tomllib

    text = _text(data, source)
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise _fail(f"is not valid TOML: {e}", source) from None
    except RecursionError:
        raise _fail("nested too deeply: TOML arrays or tables deeper than Python's recursion "
                    f"limit ({sys.getrecursionlimit():,})", source) from None
    except ValueError as e:  # int() refusing a huge integer literal
        raise _fail(f"holds an integer with more than {sys.get_int_max_str_digits():,} digits "
                    "(Python's int_max_str_digits limit)", source, str(e)[:80]) from None
    return collection_from_data(doc, source)


#: The delimiters a CSV or TSV file is also read with, when its header shows that it uses one.
_OTHER_DELIMITERS = (";", "|", "\t", ",")


def _csv_rows(lines: Iterator[str] | IO[str], source: str | None, delimiter: str,
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
        raise _csv_error(problem, source, before + reader.line_num) from None
    _check_header(header, delimiter, source, top)
    width = len(header)
    start = before + reader.line_num + 1
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as e:
            raise _csv_error(e, source, before + reader.line_num) from None
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


def _csv_error(e: csv.Error, source: str | None, line: int) -> ValidationError:
    if "field limit" in str(e):
        limit = csv.field_size_limit()
        return _fail(f"has a cell longer than {limit:,} characters (the CSV cell limit, "
                     "storykit.io.MAX_CSV_FIELD)", source, line=line)
    return _fail(f"is not valid CSV: {e}", source, line=line)


def _read_csv(data: str | bytes, source: str | None, delimiter: str = ",") -> Collection:
    text = _text(data, source)
    items: list[Any] = []
    lines: list[int] = []
    errors: Errors = []
    ragged: set[str] = set()
    for i, (line, row) in enumerate(_csv_rows(io.StringIO(text, newline=""), source, delimiter)):
        before = len(errors)
        items.append(unflatten_story(row, errors, f"stories[{i}]", line))
        if len(errors) > before:
            ragged.add(f"stories[{i}]")
        lines.append(line)
    if errors:
        # The well-formed rows are checked too, so that one raise names every problem.
        try:
            collection_from_data(items, source, line_of=lines.__getitem__)
        except ValidationError as e:
            errors.extend(x for x in e.errors if x.path.split(".", 1)[0] not in ragged)
        errors.sort(key=lambda x: x.line or 0)
        raise ValidationError(errors, source)
    return collection_from_data(items, source, line_of=lines.__getitem__)


_READERS: dict[str, Callable[[str | bytes, str | None], Collection]] = {
    "json": _read_json,
    "jsonl": _read_jsonl,
    "toml": _read_toml,
    "csv": _read_csv,
    "tsv": lambda data, source: _read_csv(data, source, "\t"),
}


def iter_stories(path: PathLike, format: str | None = None) -> Iterator[Story]:
    """Stream the stories of a JSON Lines or CSV file, one at a time, in constant memory.

    A bad record raises :class:`~storykit.ValidationError` naming its line, after the stories
    before it were yielded. Ids missing from the file are derived from titles, without the
    ``-2`` clash rule of :func:`load` (that needs the whole file). A line of JSON Lines longer
    than :data:`MAX_LINE` (16 MiB) is an error, found without reading the line whole.
    """
    p = Path(path)
    if p.is_dir():  # as load() says it, whatever the folder's name
        raise _a_folder(path)
    fmt = _format_of(p, format)
    source = str(path)
    if fmt == "jsonl":
        repeats: Errors = []
        with p.open("rb") as f:
            _skip_bom(f)
            i = 0  # the story's index, as load() numbers it (blank lines are not stories)
            for n, line in enumerate(iter(functools.partial(f.readline, MAX_LINE + 1), b""), 1):
                if line.isspace():
                    continue
                if len(line) > MAX_LINE and not line.endswith(b"\n"):
                    raise _line_too_long(f, source, n)
                item = _json(line, source, n, i, repeats)
                if repeats:  # named with the story's other problems, as load() names them
                    try:
                        _one_story(item, source, n, f"stories[{i}]")
                    except ValidationError as e:
                        repeats.extend(e.errors)
                    raise ValidationError(repeats, source)
                yield _one_story(item, source, n, f"stories[{i}]")
                i += 1
    elif fmt in ("csv", "tsv"):
        for i, (n, row) in enumerate(_csv_file_rows(p, source, fmt)):
            errors: Errors = []
            item = unflatten_story(row, errors, f"stories[{i}]", n)
            if errors:
                raise ValidationError(errors, source)
            yield _one_story(item, source, n, f"stories[{i}]")
    else:
        raise ValueError(f"iter_stories() streams jsonl and csv files, not {fmt}; use load()")


def _csv_file_rows(path: Path, source: str, fmt: str) -> Iterator[tuple[int, dict[str, Any]]]:
    """:func:`_csv_rows` of a CSV (or, ``fmt`` ``tsv``, TSV) file, streamed.

    The file must be UTF-8 (a BOM is skipped). A byte that is not is found as the file is
    decoded, a block ahead of the rows; it is then named as :func:`load` names it.
    """
    with path.open(encoding="utf-8-sig", newline="") as f:
        try:
            yield from _csv_rows(f, source, "\t" if fmt == "tsv" else ",")
        except UnicodeDecodeError:
            raise _file_not_utf8(path, source) from None


def _one_story(item: Any, source: str, line: int, path: str = "") -> Story:
    errors: Errors = []
    values = check_story_values(errors, path, item)
    if errors:
        raise ValidationError([ErrorDetail(e.path, e.message, e.value, line) for e in errors],
                              source)
    assert values is not None
    return _build(Story, values)


def streamable(path: PathLike, format: str | None = None) -> bool:
    """Whether :func:`stream_export` can read ``path``: JSON Lines, CSV or TSV."""
    try:
        return _format_of(Path(path), format) in ("jsonl", "csv", "tsv")
    except UnknownFormatError:
        return False


def _checked(path: Path, fmt: str, source: str, errors: Errors,
             ids: array.array[int]) -> Iterator[Story]:
    """The stories of a JSON Lines or CSV file, each checked; problems go to ``errors``.

    After the first problem nothing more is yielded (the output is void), but the file is read
    to the end so that every problem is reported, as :func:`load` reports them. The hash of
    the id of each story that is valid goes to ``ids`` (after a problem too), for the check of
    unique ids at the end.
    """
    if fmt == "jsonl":
        yield from _checked_jsonl(path, source, errors, ids)
        return

    def records() -> Iterator[tuple[int, Any]]:
        for i, (n, row) in enumerate(_csv_file_rows(path, source, fmt)):
            yield n, unflatten_story(row, errors, f"stories[{i}]", n)

    def count(sid: str) -> None:  # the id a story that failed gives: load() counts it
        ids.append(hash(sid))

    for i, (n, item) in enumerate(records()):
        story = _check_story(item, i, n, errors, count)
        if story is None:
            continue
        ids.append(hash(story.id))
        if not errors:
            yield story


def _checked_jsonl(path: Path, source: str, errors: Errors,
                   ids: array.array[int]) -> Iterator[Story]:
    """:func:`_checked` for JSON Lines: one loop, as this runs for every line of an archive."""
    add_id = ids.append
    line_story = _line_story

    def count(sid: str) -> None:  # the id a story that failed gives: load() counts it
        add_id(hash(sid))

    with path.open("rb") as f:
        _skip_bom(f)
        i = 0
        for n, line in enumerate(iter(functools.partial(f.readline, MAX_LINE + 1), b""), 1):
            if line.isspace():  # blank lines are not stories (the last line may be empty)
                continue
            if len(line) > MAX_LINE and not line.endswith(b"\n"):
                errors.extend(_line_too_long(f, source, n).errors)
                i += 1
                continue
            story = line_story(line, n, i, source, errors, count=count)
            i += 1
            if story is not None:
                add_id(hash(story.id))
                if not errors:
                    yield story


def _line_story(line: bytes, n: int, i: int, source: str, errors: Errors, *,
                count: Callable[[str], object] | None = None) -> Story | None:
    """The story on line ``n`` of JSON Lines (the ``i``-th story), checked.

    Its problems go to ``errors``. Returns None when this story had a problem; ``count`` then
    gets the valid id it gives, if any (for the check of unique ids, as :func:`load` does it).
    """
    try:
        # The common case of _json(), inline: an object that surely repeats no key. Anything
        # else goes to _json(), which parses again and reports; a repeated key goes
        # to errors, and the story is still checked, as load() checks it.
        try:
            item = _loads(line)
        except orjson.JSONDecodeError:
            item = _json(line, source, n, i, errors)  # raises (or skips line 1's BOM)
        else:
            if type(item) is not dict or not _no_repeated_key(line, item):
                item = _json(line, source, n, i, errors)
    except ValidationError as e:
        errors.extend(e.errors)
        return None
    return _check_story(item, i, n, errors, count)


_loads = orjson.loads
_dumps = orjson.dumps


def _skip_bom(f: io.BufferedReader) -> None:
    """Read past a byte order mark at the start of ``f``, if there is one."""
    if f.peek(len(_BOM))[:len(_BOM)] == _BOM:
        f.read(len(_BOM))


def _line_too_long(f: BinaryIO, source: str, n: int) -> ValidationError:
    """The error for line ``n``, longer than :data:`MAX_LINE`; the rest of it is skipped."""
    while (rest := f.readline(MAX_LINE)) and not rest.endswith(b"\n"):
        pass
    return _too_long(source, n)


def _too_long(source: str | None, n: int) -> ValidationError:
    return _fail(f"is longer than {MAX_LINE:,} bytes, the limit for one line of JSON Lines",
                 source, line=n)


def _check_story(item: Any, i: int, n: int, errors: Errors,
                  count: Callable[[str], object] | None = None) -> Story | None:
    """The detailed check of the story at index ``i``, line ``n``; problems go to ``errors``.

    Returns None when this story had a problem, and gives ``count`` the valid id the story
    gives, if any: after any problem the output is void, but every story's id still counts
    for the check of unique ids, as in :func:`load`.
    """
    before = len(errors)
    values = check_story_values(errors, f"stories[{i}]", item)
    if len(errors) > before or values is None:
        errors[before:] = [ErrorDetail(e.path, e.message, e.value, n) for e in errors[before:]]
        if count is not None and (sid := _given_id(item)) is not None:
            count(sid)
        return None
    return _build(Story, values)


#: About ``2 ** _BUCKET_BITS`` id hashes go to each bucket of :class:`_IdHashes`.
_BUCKET_BITS = 16


class _IdHashes:
    """The hashes of a file's ids (``ids``, 8 bytes a story), for the check of unique ids.

    They are shared among buckets by their low bits, about ``2 ** 16`` to a bucket: a hash
    that repeats is twice in one bucket, so each bucket is checked alone, by a set, at C
    speed, and never more than one bucket's set is in memory (sorting every hash and merging
    the runs took three times as long). With ``2 ** 16`` hashes or fewer, ``ids`` is the one
    bucket (and is sorted in place by a lookup).
    """

    def __init__(self, ids: array.array[int]) -> None:
        bits = min(max(len(ids).bit_length() - _BUCKET_BITS, 0), 10)
        self._mask = (1 << bits) - 1
        if not bits:
            self._buckets = [ids]
        else:
            self._buckets = [array.array("q") for _ in range(self._mask + 1)]
            mask = self._mask
            put = [bucket.append for bucket in self._buckets]
            for h in ids:
                put[h & mask](h)
        self._sorted = False

    def repeats(self) -> set[int]:
        """The hashes held twice or more."""
        found: set[int] = set()
        for bucket in self._buckets:
            if len(set(bucket)) != len(bucket):  # (rare: the file repeats an id's hash)
                found.update(h for h, n in collections.Counter(bucket).items() if n > 1)
        return found

    def __contains__(self, value: int) -> bool:
        """Whether ``value`` is held (each bucket is sorted once, on the first lookup)."""
        if not self._sorted:
            for bucket in self._buckets:
                bucket[:] = array.array("q", sorted(bucket))
            self._sorted = True
        bucket = self._buckets[value & self._mask]
        i = bisect.bisect_left(bucket, value)
        return i < len(bucket) and bucket[i] == value


def _items(path: Path, fmt: str, source: str) -> Iterator[tuple[int, int, Any]]:
    """(story, line, its data) for each story of a JSON Lines or CSV file: a reading that
    parses and checks nothing more (data that is not JSON is ``None``)."""
    if fmt != "jsonl":
        for i, (n, row) in enumerate(_csv_file_rows(path, source, fmt)):
            yield i, n, unflatten_story(row, [], f"stories[{i}]", n)
        return
    with path.open("rb") as f:
        _skip_bom(f)
        i = 0
        for n, line in enumerate(iter(functools.partial(f.readline, MAX_LINE + 1), b""), 1):
            if line.isspace():
                continue
            if len(line) > MAX_LINE and not line.endswith(b"\n"):
                _line_too_long(f, source, n)  # (skips the rest of it)
                item = None
            else:
                try:
                    item = _loads(line)
                except orjson.JSONDecodeError:
                    item = None  # (no id: load() counts none for it either)
            yield i, n, item
            i += 1


def stream_export(source: PathLike, exporter: Any, out: BinaryIO, *, format: str | None = None,
                  jobs: int = 1, **options: Any) -> int:
    """Export a JSON Lines, CSV or TSV file a story at a time; return the number of stories.

    Memory does not grow with the stories but by a hash of each id (8 bytes a story), for the
    check of unique ids.

    ``exporter`` must stream (``streams = True`` and ``write_stream(collection, stories, out,
    **options)``, as the built-in ``json`` and ``csv`` formats do); it gets the stories one
    chunk at a time while they are read and checked. ``out`` must be a seekable binary file
    that the caller throws away on an exception, such as :class:`atomic_writer` gives; what it
    held before the call is kept (the output starts at ``out.tell()``). An exporter that does
    not stream, or an ``out`` that is a path, a text file or a pipe, raises TypeError or
    ValueError before anything is read.

    The verdict is :func:`load`'s: every problem of the file is raised at the end in one
    :class:`~storykit.ValidationError`. Should two stories give one id, that is reported as
    :func:`load` reports it. Should the id derived from a title be taken (which :func:`load`
    numbers ``-2``, ``-3``), the file is read again to number it the same way, and the output
    is redone: then memory grows with the number of stories without an id (a few hundred bytes
    each), not with the file, and no size limit applies.

    ``jobs`` other than 1 checks and renders JSON Lines in that many worker processes (``0``:
    one per CPU), a part of the file each, when the exporter can render parts that
    concatenate (``continuation_options()``: the ``json`` format with ``shape="lines"``, and
    ``csv``) and the file is at least :data:`PARALLEL_MIN_BYTES`; otherwise, and for CSV
    input, it has no effect. The output and the errors are the same as with one process. The
    workers are started with ``spawn``, so a script that calls this needs the usual
    ``if __name__ == "__main__":`` guard.
    """
    _check_stream_args(exporter, out)  # the caller's mistakes, not the plugin's: named first
    workers = _parallel.workers(jobs)  # (not an int, or negative: TypeError, ValueError)
    p, fmt, src = _line_file(source, format, "stream_export")
    start = out.tell()  # what out held before is kept: a redo rewinds to here, no further
    errors: Errors = []
    ids: array.array[int] = array.array("q")
    later = _parallel.later_options(exporter, options) if workers > 1 and fmt == "jsonl" else None
    with blamed_on(exporter):
        if later is not None and p.stat().st_size >= PARALLEL_MIN_BYTES:
            _parallel.export(p, exporter, out, options, source=src, later=later, jobs=workers,
                             errors=errors, ids=ids)
        else:
            try:
                exporter.write_stream(Collection(), _checked(p, fmt, src, errors, ids), out,
                                      **options)
            except ValidationError as e:  # a problem that stops the reading (a broken header)
                raise ValidationError([*errors, *e.errors], src) from None
    numbered = _verdict(p, fmt, src, errors, ids)
    if numbered:  # an id derived from a title is taken: the output is redone, numbered
        out.seek(start)
        out.truncate()
        stories = _renamed(_checked(p, fmt, src, [], array.array("q")), numbered)
        with blamed_on(exporter):
            exporter.write_stream(Collection(), stories, out, **options)
    return len(ids)


def _check_stream_args(exporter: Any, out: Any) -> None:
    """Raise if ``exporter`` does not stream or ``out`` is not a seekable binary file, before
    anything is read: otherwise the exporter would fail on it, and be blamed."""
    if isinstance(exporter, (str, bytes)):
        raise TypeError("exporter must be an exporter object such as storykit.formats()"
                        f"[{exporter!r}] (got {type(exporter).__name__} {exporter!r})")
    if not (getattr(exporter, "streams", False)
            and callable(getattr(exporter, "write_stream", None))):
        name = getattr(exporter, "name", None)
        what = f"format {name!r}" if isinstance(name, str) else type(exporter).__name__
        raise ValueError(f"{what} does not stream (streams = True and write_stream() are "
                         "needed; the built-in json and csv formats stream): use "
                         "storykit.dump(storykit.load(source), ...) instead")
    if isinstance(out, (str, bytes, os.PathLike)):
        raise TypeError(f"out must be a binary file open for writing, not a path (got "
                        f"{type(out).__name__} {os.fsdecode(out)!r}): use "
                        "`with storykit.io.atomic_writer(path) as out:`")
    if not callable(getattr(out, "write", None)) or isinstance(out, io.TextIOBase):
        raise TypeError("out must be a binary file open for writing, such as "
                        f"storykit.io.atomic_writer(path) gives (got {type(out).__name__})")
    seekable = getattr(out, "seekable", None)
    if not (callable(seekable) and seekable()):
        raise ValueError(f"out must be seekable (got {type(out).__name__} that is not, such as "
                         "a pipe): the output may be redone when ids derived from titles "
                         "clash; write to a temporary file and copy it, as "
                         "`storykit export` does")


def _line_file(source: PathLike, format: str | None, caller: str) -> tuple[Path, str, str]:
    """``source`` as a path, its format and its name, for a reader of JSON Lines and CSV."""
    p = Path(source)
    if p.is_dir():  # as load() says it, whatever the folder's name
        raise _a_folder(source)
    fmt = _format_of(p, format)
    if fmt not in ("jsonl", "csv", "tsv"):
        raise ValueError(f"{caller}() reads jsonl, csv and tsv files, not {fmt}")
    if not p.is_file():
        raise FileNotFoundError(f"no such file: {source}")
    return p, fmt, str(source)


def check_stream(source: PathLike, format: str | None = None, *, jobs: int = 1) -> int:
    """Check a JSON Lines, CSV or TSV file story by story; return the number of stories.

    The verdict is :func:`load`'s, every problem of the file in one
    :class:`~storykit.ValidationError`, but a story at a time and with no size limit: it
    holds only a hash of each id (8 bytes a story), and a file where two ids share a hash is
    read once more to name the repeated ones. ``storykit validate`` uses it for these formats.

    ``jobs`` other than 1 checks a JSON Lines file of :data:`PARALLEL_MIN_BYTES` or more in
    that many worker processes (``0``: one per CPU), as :func:`stream_export` does: the same
    verdict, sooner (and the same ``if __name__ == "__main__":`` guard is needed).
    """
    workers = _parallel.workers(jobs)  # (not an int, or negative: TypeError, ValueError)
    p, fmt, src = _line_file(source, format, "check_stream")
    errors: Errors = []
    ids: array.array[int] = array.array("q")
    if workers > 1 and fmt == "jsonl" and p.stat().st_size >= PARALLEL_MIN_BYTES:
        _parallel.export(p, _CHECK_ONLY, io.BytesIO(), {}, source=src, later={}, jobs=workers,
                         errors=errors, ids=ids)
    else:
        try:
            for _ in _checked(p, fmt, src, errors, ids):
                pass
        except ValidationError as e:  # a problem that stops the reading (a broken header)
            raise ValidationError([*errors, *e.errors], src) from None
    _verdict(p, fmt, src, errors, ids, number=False)
    return len(ids)


class _CheckOnly:
    """The "exporter" of :func:`check_stream`'s workers: it takes every story, writes nothing."""

    def write_stream(self, collection: Collection, stories: Iterator[Story], out: BinaryIO,
                     **options: Any) -> None:
        for _ in stories:
            pass


_CHECK_ONLY = _CheckOnly()


def _verdict(path: Path, fmt: str, source: str, errors: Errors, ids: array.array[int], *,
             number: bool = True) -> dict[int, str]:
    """Raise the problems :func:`load` finds in the file, given those of its stories
    (``errors``) and the hashes of their ids (``ids``).

    Else return the ids :func:`load` gives the stories without one where the id derived from
    their title is taken (``{story: id}``, empty when none is; only when ``number``). A file
    whose ids repeat a hash is read once more, parsing and checking little, to tell a given id
    repeated (a problem) from a derived one (numbered).
    """
    known = _IdHashes(ids)
    hashes = known.repeats()
    if errors:
        if hashes:  # two stories give one id: load() reports that too, with the rest
            errors.extend(_survey(path, fmt, source, hashes, known, number=False)[0])
            errors.sort(key=lambda e: e.line or 0)  # (stable: a story's own problems first)
        raise ValidationError(errors, source)
    if not hashes:
        return {}
    problems, numbered = _survey(path, fmt, source, hashes, known, number=number)
    if problems:
        raise ValidationError(problems, source)
    return numbered


_NUMBERED = re.compile(r"(.+)-[0-9]+")


def _survey(path: Path, fmt: str, source: str, hashes: set[int], known: _IdHashes, *,
            number: bool) -> tuple[Errors, dict[int, str]]:
    """One more reading of the file, for its ids: the problems of ids given twice, as
    :func:`load` reports them (for the ids whose hash is in ``hashes``), and, when ``number``,
    the ids :func:`load` gives the stories without one whose derived id is taken.

    :func:`load`'s rule: the given ids are claimed first; then each story without one, in
    order, takes the first free of ``slug``, ``slug-2``, ``slug-3``... A given id can only be
    one of those names if it is a slug (then its hash repeats) or a slug and ``-N`` (then the
    slug's hash is in ``known``): only those are kept, and then only those whose slug is
    one. Memory grows with the stories without an id (a few hundred bytes each), not with
    the file.
    """
    first: dict[str, int] = {}
    problems: Errors = []
    at: array.array[int] = array.array("q")  # the stories without an id, and their slugs
    slugs: list[str] = []
    maybe: list[str] = []  # given ids that may be a slug or a slug and -N
    for i, n, item in _items(path, fmt, source):
        sid = _given_id(item)
        if sid is None:
            if number and item is not None:  # (a valid file: no id, or an empty one)
                values = check_story_values([], "", item)
                assert values is not None
                slugs.append(values["id"])
                at.append(i)
            continue
        repeated = hash(sid) in hashes
        if repeated:
            if sid in first:
                problems.append(ErrorDetail(f"stories[{i}].id", f"{sid!r} is already the id of "
                                            f"stories[{first[sid]}]", sid, n))
            else:
                first[sid] = i
        if number and (repeated or ((m := _NUMBERED.fullmatch(sid)) is not None
                                    and hash(m[1]) in known)):
            maybe.append(sid)
    if problems or not number:
        return problems, {}
    derived = set(slugs)
    taken = {sid for sid in maybe if sid in derived or (
        (m := _NUMBERED.fullmatch(sid)) is not None and m[1] in derived)}
    del derived, maybe
    numbered: dict[int, str] = {}
    give = derive_ids(taken)
    for i, slug in zip(at, slugs, strict=True):
        sid = give(slug)
        taken.add(sid)
        if sid != slug:
            numbered[i] = sid
    return problems, numbered


def _load_where(path: Path, fmt: str, source: str, where: Callable[[Story], bool]) -> Collection:
    """:func:`load` with ``where`` for a JSON Lines or CSV file, read a story at a time."""
    errors: Errors = []
    ids: array.array[int] = array.array("q")
    kept: list[Story] = []
    failed: Exception | None = None  # where's own error: raised after the file's problems
    try:
        for story in _checked(path, fmt, source, errors, ids):
            if failed is None:
                try:
                    if where(story):
                        kept.append(story)
                except Exception as e:  # (re-raised below, unless the file has problems)
                    failed, kept = e, []
    except ValidationError as e:  # a problem that stops the reading (a broken header)
        raise ValidationError([*errors, *e.errors], source) from None
    numbered = _verdict(path, fmt, source, errors, ids)
    if failed is not None:
        raise failed
    if numbered:  # an id derived from a title is taken: where sees each story as load() has it
        stories = _renamed(_checked(path, fmt, source, [], array.array("q")), numbered)
        kept = [s for s in stories if where(s)]
    return Collection(stories=kept)


def _renamed(stories: Iterator[Story], ids: dict[int, str]) -> Iterator[Story]:
    """``stories``, the ``i``-th with the id ``ids[i]`` where there is one."""
    for i, story in enumerate(stories):
        new = ids.get(i)
        yield story if new is None else attrs.evolve(story, id=new)


# --- writing ------------------------------------------------------------------------------------


def dumps(collection: Collection, format: str, **options: Any) -> bytes:
    """Render ``collection`` with the exporter registered for ``format``; return the bytes."""
    from storykit.exporter import prepare_options
    from storykit.plugins import get_exporter

    exporter = get_exporter(format)
    kwargs = prepare_options(exporter, options)  # unknown or ill-typed options: OptionError
    buf = io.BytesIO()
    write_with(exporter, collection, buf, kwargs)
    return buf.getvalue()


def dump(collection: Collection, path: PathLike, format: str | None = None,
         **options: Any) -> Path:
    """Write ``collection`` to ``path``, atomically: the whole file or, on any failure, none.

    The format comes from ``format=`` or from the file's suffix. Parent folders are created. The
    exporter writes to a temporary file beside the target, which then replaces it in one
    ``os.replace``; if anything fails the old file (if any) is left as it was, byte for byte,
    and no temporary file is left behind. A symbolic link at ``path`` is replaced, never written
    through. The file gets the permissions ``open()`` would give it (0666 less the umask).
    """
    from storykit.exporter import prepare_options
    from storykit.plugins import get_exporter, get_registry

    _check_collection(collection)  # before any folder is made
    target = check_output_path(path)
    if format is not None:
        exporter = get_exporter(format)
    else:
        try:
            exporter, implied = exporter_and_options_for_path(get_registry(), target)
        except UnknownFormatError:
            if target.is_dir() and not target.is_symlink():  # ("outdir" has no suffix)
                raise IsADirectoryError(errno.EISDIR, "is a folder; give a file name",
                                        str(target)) from None
            raise
        options = {**implied, **options}
    kwargs = prepare_options(exporter, options)  # checked before anything is written
    with atomic_writer(target) as out:
        write_with(exporter, collection, out, kwargs)
    return target


#: Output suffixes that mean a built-in format with an option, when no format claims them: the
#: files :func:`load` reads as JSON Lines (``.jsonl``, ``.ndjson``) and TSV (``.tsv``).
SUFFIX_OPTIONS: dict[str, tuple[str, dict[str, str]]] = {
    ".jsonl": ("json", {"shape": "lines"}),
    ".ndjson": ("json", {"shape": "lines"}),
    ".tsv": ("csv", {"delimiter": "tab"}),
}


def exporter_and_options_for_path(registry: Any, path: PathLike) -> tuple[Any, dict[str, str]]:
    """The exporter for the suffix of ``path``, and the options that suffix implies (see
    :data:`SUFFIX_OPTIONS`; a registered format's own suffix comes first)."""
    try:
        return registry.for_path(path), {}
    except UnknownFormatError as e:
        implied = SUFFIX_OPTIONS.get(Path(path).suffix.lower())
        if implied is None:
            raise UnknownFormatError(e.name, [*e.available, *SUFFIX_OPTIONS],
                                     kind="output file suffix",
                                     problems=registry.errors) from None
        return registry.get(implied[0]), dict(implied[1])


def write_with(exporter: Any, collection: Collection, out: BinaryIO,
               options: Mapping[str, Any]) -> None:
    """Call ``exporter.write``; an unexpected exception becomes a :class:`PluginError`.

    The error names the plugin that registered the exporter and its distribution (the original
    exception is its ``__cause__``). storykit's own errors (options, validation, formats,
    plugins) and ``OSError`` (a full disk is not the plugin's fault) pass through unchanged.
    """
    _check_collection(collection)  # not the exporter's fault: say so
    with blamed_on(exporter):
        exporter.write(collection, out, **options)


def _check_collection(collection: object) -> None:
    """Raise the TypeError that says what to pass if ``collection`` is not a Collection."""
    if not isinstance(collection, Collection):
        raise TypeError(f"expected a storykit.Collection, got {type(collection).__name__} "
                        "(make one with storykit.Collection(stories=...))")


@contextlib.contextmanager
def blamed_on(exporter: Any) -> Iterator[None]:
    """Turn an unexpected exception in the block into a :class:`PluginError` naming the plugin
    that registered ``exporter`` and its distribution (the exception is its ``__cause__``).

    storykit's own errors (options, validation, formats, plugins), ``OSError`` (a full disk is
    not the plugin's fault) and a broken worker pool pass through unchanged.
    """
    try:
        yield
    except (ValidationError, OptionError, UnknownFormatError, PluginError, OSError):
        raise
    except Exception as e:
        from concurrent.futures import BrokenExecutor

        if isinstance(e, BrokenExecutor):
            raise
        from storykit.plugins import get_registry

        name = getattr(exporter, "name", type(exporter).__name__)
        info = get_registry().exporters.get(name)
        if info is not None and info.exporter is exporter:
            plugin, dist = info.plugin, info.distribution
        else:
            plugin, dist = type(exporter).__module__, None
        kind = e.type_name if isinstance(e, _parallel.RemoteError) else type(e).__name__
        raise PluginError(plugin, f"failed writing format {name!r}: {kind}: {e}",
                          distribution=dist) from e


# Names Windows reserves for devices, with any extension ("nul.html" too): refused everywhere, so
# that outputs copied to a Windows share or a zip stay usable.
_RESERVED_NAMES = frozenset(
    ["CON", "PRN", "AUX", "NUL", "CONIN$", "CONOUT$"]
    + [f"{dev}{n}" for dev in ("COM", "LPT") for n in "123456789\u00b9\u00b2\u00b3"]
)
_BAD_NAME_CHAR = re.compile("[\x00-\x1f\x7f]")


def check_output_path(path: PathLike) -> Path:
    """``path`` as a :class:`~pathlib.Path` if a file can be written there portably.

    Refused with :class:`~storykit.ValidationError` (path ``output``, the value given): a name
    longer than 255 bytes, a folder (``out/``, ``.``, ``..``), control characters, and the
    device names Windows reserves (``CON``, ``NUL``, ``COM1``, ... with any extension).
    """
    raw = os.fspath(path)
    name = Path(raw).name
    if raw.endswith(("/", os.sep)) or name in ("", ".", ".."):
        message = "names a folder, not a file"
    elif _BAD_NAME_CHAR.search(raw):
        bad = _BAD_NAME_CHAR.search(raw)
        assert bad is not None
        message = f"contains the control character U+{ord(bad.group()):04X}"
    elif len(os.fsencode(name)) > MAX_NAME_BYTES:
        message = (f"the file name is {len(os.fsencode(name)):,} bytes long; the limit is "
                   f"{MAX_NAME_BYTES} bytes")
    elif name.split(".")[0].rstrip(" ").upper() in _RESERVED_NAMES:
        message = ("names a device Windows reserves (CON, PRN, AUX, NUL, COM1-9, LPT1-9, with "
                   "any extension)")
    else:
        return Path(raw)
    raise ValidationError([ErrorDetail("output", f"{raw!r} {message}", raw)])


def safe_join(folder: PathLike, name: str) -> Path:
    """``folder / name`` for a file name that comes from data (a story id, a subscriber).

    Raises :class:`~storykit.ValidationError` if ``name`` would leave ``folder`` (a separator,
    ``..``, an absolute path) or is not a portable file name (see :func:`check_output_path`).
    """
    seps = {"/", os.sep, os.altsep or "/"}
    if not name or name in (".", "..") or any(sep in name for sep in seps):
        raise ValidationError([ErrorDetail(
            "output", f"{name!r} is not a plain file name: it would leave the folder "
                      f"{os.fspath(folder)!r}", name)])
    return check_output_path(Path(folder) / name)


#: Use Linux's unnamed temporary files (``O_TMPFILE``): a process killed mid-write leaves
#: nothing behind. Elsewhere, or where the file system refuses them, named ones are used.
UNNAMED_TEMP_FILES = sys.platform.startswith("linux")
_TMP = re.compile(r"(\d+)-[0-9a-f]{8}\.tmp")


#: Paths that name a process's open descriptor (``/dev/stdout`` links to one of them).
_DESCRIPTORS = ("/dev/fd/", "/proc/")


def is_stream_target(path: PathLike) -> bool:
    """Whether ``path`` is written into rather than replaced: a device, a pipe or a socket, or
    an open descriptor (``/dev/stdout``, ``/dev/fd/1``), whatever file that one is."""
    name = str(Path(path).absolute())
    if name.startswith(_DESCRIPTORS):
        return True
    try:
        if os.path.islink(name) and os.readlink(name).startswith(_DESCRIPTORS):
            return True  # /dev/stdout, /dev/stderr
        mode = os.stat(name).st_mode  # (through a link: what gets written is what it names)
    except OSError:
        return False
    return not (stat.S_ISREG(mode) or stat.S_ISDIR(mode))


def _tmp_prefix(name: str) -> str:
    # Cut the name to 200 bytes so that the temporary name stays under 255 bytes.
    return "." + os.fsdecode(os.fsencode(name)[:200]) + "."


def _tmp_name(folder: Path, name: str) -> str:
    import secrets  # here, not at the top: it imports hashlib and random (import time)

    return os.path.join(folder, f"{_tmp_prefix(name)}{os.getpid()}-{secrets.token_hex(4)}.tmp")


def _open_unnamed(folder: Path) -> int | None:
    flag = getattr(os, "O_TMPFILE", 0)
    if not (UNNAMED_TEMP_FILES and flag and os.path.isdir("/proc/self/fd")):
        return None
    try:
        return os.open(folder, flag | os.O_WRONLY | os.O_CLOEXEC, 0o666)
    except OSError:  # the file system has no unnamed files; the named path reports real errors
        return None


def _link_unnamed(fd: int, folder: Path, name: str) -> str:
    # os.link() calls linkat() with AT_SYMLINK_FOLLOW only when given a dir_fd; plain link()
    # would link the /proc symlink itself and fail with EXDEV.
    dir_fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        while True:
            tmp = _tmp_name(folder, name)
            try:
                os.link(f"/proc/self/fd/{fd}", tmp, src_dir_fd=dir_fd, follow_symlinks=True)
            except FileExistsError:  # pragma: no cover - a 32-bit random clash
                continue
            return tmp
    finally:
        os.close(dir_fd)


def _open_named(folder: Path, name: str) -> tuple[int, str]:
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0) | getattr(
        os, "O_BINARY", 0)
    while True:
        tmp = _tmp_name(folder, name)
        try:
            # Mode 0666: the kernel takes the umask off, as for open(); mkstemp would give 0600.
            return os.open(tmp, flags, 0o666), tmp
        except FileExistsError:  # pragma: no cover - a 32-bit random clash
            continue


def _alive(pid: int) -> bool:
    if pid == os.getpid() or sys.platform == "win32":  # os.kill(pid, 0) kills on Windows
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True
    return True


def _remove_stale_temps(folder: Path, name: str) -> None:
    """Delete the temporary files of ``name`` left by writers that were killed mid-write."""
    prefix = _tmp_prefix(name)
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return
    for entry in entries:
        if not entry.name.startswith(prefix):
            continue
        m = _TMP.fullmatch(entry.name, len(prefix))
        if m is not None and not _alive(int(m.group(1))):
            with contextlib.suppress(OSError):
                os.unlink(entry.path)


def _fsync_folder(folder: Path) -> None:
    """Make the rename durable; best effort (not every system can open a folder)."""
    if sys.platform == "win32":
        return
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _keep_mode(fd: int, path: Path) -> None:
    """Give the new file the mode of the regular file it replaces (a 0600 file stays private)."""
    try:
        st = os.stat(path, follow_symlinks=False)
    except OSError:
        return
    if stat.S_ISREG(st.st_mode) and sys.platform != "win32":
        os.fchmod(fd, stat.S_IMODE(st.st_mode))


class atomic_writer:  # noqa: N801 - used as a context manager, like open()
    """``with atomic_writer(path) as f:`` writes ``path`` whole or not at all.

    The data goes to a temporary file in the target's folder (on Linux an unnamed one, which a
    killed process cannot leave behind), is flushed to disk, and then replaces ``path`` in one
    ``os.replace``. On any error, the old file is untouched and the temporary file removed. A
    symbolic link at ``path`` is replaced by the file, never written through. A new file gets the
    permissions a plain ``open()`` would give it (0666 less the umask); a file replaced keeps
    its mode.

    A target that is not a file but a device, a pipe or a socket (``/dev/null``, a FIFO, the
    ``/dev/fd/63`` of ``>(...)``), or an open descriptor (``/dev/stdout``), is written straight
    into, as a shell's ``>>`` would: it cannot be replaced atomically, and must never be.
    """

    def __init__(self, path: PathLike) -> None:
        self.path = check_output_path(path)
        self._file: BinaryIO | None = None
        self._tmp: str | None = None
        self._direct = False

    def __enter__(self) -> BinaryIO:
        if is_stream_target(self.path):
            self._direct = True
            # Appended to, as a shell's >> does: /dev/stdout redirected to a file reopens that
            # file, and "wb" would empty it of what is already there.
            self._file = open(self.path, "ab")  # closed in __exit__
            return self._file
        folder = self.path.parent
        folder.mkdir(parents=True, exist_ok=True)
        if self.path.is_dir() and not self.path.is_symlink():
            raise IsADirectoryError(errno.EISDIR, "is a folder; give a file name",
                                    str(self.path))
        fd = _open_unnamed(folder)
        if fd is None:
            _remove_stale_temps(folder, self.path.name)
            fd, self._tmp = _open_named(folder, self.path.name)
        self._file = os.fdopen(fd, "wb", buffering=1024 * 1024)
        return self._file

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        f = self._file
        assert f is not None
        folder = self.path.parent
        if isinstance(exc, OSError) and exc.filename is None and exc.errno is not None:
            exc.filename = str(self.path)  # "out.html: No space left on device"
        if self._direct:
            f.close()  # (written as it went: there is nothing to replace or remove)
            return
        try:
            if exc_type is None:
                f.flush()
                _keep_mode(f.fileno(), self.path)
                os.fsync(f.fileno())
                if self._tmp is None:
                    self._tmp = _link_unnamed(f.fileno(), folder, self.path.name)
                f.close()
                os.replace(self._tmp, self.path)
                self._tmp = None
                _fsync_folder(folder)
        except OSError as e:
            if e.filename is None:
                e.filename = str(self.path)
            raise
        finally:
            if not f.closed:
                with contextlib.suppress(OSError):  # e.g. flushing the rest onto a full disk
                    f.close()
            if self._tmp is not None:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(self._tmp)
                self._tmp = None
