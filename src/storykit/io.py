"""Reading documents into collections, and writing collections through exporters.

Data flows one way: bytes -> parser -> checkers -> Collection, and Collection -> exporter ->
bytes. Files are read whole only where a format needs it (JSON, TOML); JSON Lines and CSV can
be streamed story by story with :func:`iter_stories`.
"""

from __future__ import annotations

import contextlib
import csv
import io
import os
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any, BinaryIO

import orjson

from storykit.collection import Collection
from storykit.convert import CSV_COLUMNS, collection_from_data, unflatten_story
from storykit.errors import ErrorDetail, ValidationError
from storykit.model import Errors, Story, _build, check_story_values

__all__ = ["LOAD_FORMATS", "dump", "dumps", "iter_stories", "load", "loads"]

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

PathLike = str | os.PathLike[str]


def _fail(message: str, source: str | None, value: Any = None, line: int | None = None,
          path: str = "") -> ValidationError:
    return ValidationError([ErrorDetail(path, message, value, line)], source)


def _format_of(path: Path, format: str | None) -> str:
    if format is not None:
        return format
    fmt = LOAD_FORMATS.get(path.suffix.lower())
    if fmt is None:
        from storykit.errors import UnknownFormatError

        raise UnknownFormatError(path.suffix or path.name, list(LOAD_FORMATS),
                                 kind="input file type")
    return fmt


def load(path: PathLike, format: str | None = None, *,
         max_bytes: int = MAX_BYTES) -> Collection:
    """Read a collection from a file: ``.json``, ``.jsonl``, ``.toml``, ``.csv`` or ``.tsv``.

    Every problem in the file is reported at once in one :class:`~storykit.ValidationError`;
    nothing is returned half-loaded. ``max_bytes`` bounds the file's size.
    """
    p = Path(path)
    fmt = _format_of(p, format)
    source = str(path)
    try:
        size = p.stat().st_size
    except FileNotFoundError:
        raise FileNotFoundError(f"no such file: {source}") from None
    if size > max_bytes:
        raise _fail(f"the file is {size:,} bytes; the limit is {max_bytes:,} bytes "
                    "(pass max_bytes= to raise it)", source, size)
    with p.open("rb") as f:
        data = f.read(max_bytes + 1)
    return loads(data, fmt, source=source)


def loads(data: str | bytes, format: str = "json", *,
          source: str | None = None) -> Collection:
    """Read a collection from a string or bytes in ``format`` (json, jsonl, toml, csv, tsv)."""
    reader = _READERS.get(format)
    if reader is None:
        from storykit.errors import UnknownFormatError

        raise UnknownFormatError(format, list(_READERS), kind="input format")
    return reader(data, source)


def _text(data: str | bytes, source: str | None) -> str:
    if isinstance(data, str):
        return data
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise _fail(f"is not UTF-8: byte {data[e.start]:#04x} at offset {e.start}", source,
                    line=data.count(b"\n", 0, e.start) + 1) from None


def _json_error(e: orjson.JSONDecodeError, source: str | None, line: int | None = None) -> (
        ValidationError):
    msg = str(e)
    if "recursion" in msg.lower():
        return _fail("nested too deeply (JSON deeper than 1,024 levels)", source, line=line)
    if "integer" in msg.lower() and "64" in msg:
        return _fail("holds an integer too large (over 64 bits)", source, line=line)
    where = f"line {e.lineno}, column {e.colno}" if line is None else f"column {e.colno}"
    return _fail(f"is not valid JSON: {e.msg} ({where})", source, line=line)


def _read_json(data: str | bytes, source: str | None) -> Collection:
    if isinstance(data, bytes) and data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    try:
        doc = orjson.loads(data)
    except orjson.JSONDecodeError as e:
        raise _json_error(e, source) from None
    return collection_from_data(doc, source)


def _read_jsonl(data: str | bytes, source: str | None) -> Collection:
    raw = data.encode("utf-8", "surrogatepass") if isinstance(data, str) else data
    items: list[Any] = []
    lines: list[int] = []
    errors: Errors = []
    for n, line in enumerate(raw.splitlines(), 1):
        if not line.strip():
            continue
        try:
            items.append(orjson.loads(line))
        except orjson.JSONDecodeError as e:
            errors.extend(_json_error(e, None, line=n).errors)
            continue
        lines.append(n)
    if errors:
        raise ValidationError(errors, source)
    return collection_from_data(items, source, line_of=lines.__getitem__)


def _read_toml(data: str | bytes, source: str | None) -> Collection:
    import tomllib

    try:
        doc = tomllib.loads(_text(data, source))
    except tomllib.TOMLDecodeError as e:
        raise _fail(f"is not valid TOML: {e}", source) from None
    return collection_from_data(doc, source)


def _csv_rows(lines: Iterator[str] | IO[str], source: str | None, delimiter: str,
              ) -> Iterator[tuple[int, dict[str, Any]]]:
    """(line number, story data) for each row; header problems raise at once."""
    csv.field_size_limit(max(csv.field_size_limit(), MAX_CSV_FIELD))
    reader = csv.DictReader(lines, delimiter=delimiter, strict=True)
    try:
        header = reader.fieldnames
    except csv.Error as e:
        raise _fail(f"is not valid CSV: {e}", source, line=1) from None
    if not header:
        return
    errors: Errors = []
    seen: set[str] = set()
    import difflib

    for col in header:
        if col in seen:
            errors.append(ErrorDetail("", f"column {col!r} appears twice in the header", col, 1))
        seen.add(col)
        if col not in CSV_COLUMNS:
            close = difflib.get_close_matches(col, CSV_COLUMNS, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            errors.append(ErrorDetail("", f"column {col!r} is not a story column{hint}", col, 1))
    if errors:
        raise ValidationError(errors, source)
    start = reader.line_num + 1
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as e:
            raise _fail(f"is not valid CSV: {e}", source, line=reader.line_num) from None
        yield start, row
        start = reader.line_num + 1


def _read_csv(data: str | bytes, source: str | None, delimiter: str = ",") -> Collection:
    text = _text(data, source)
    items: list[Any] = []
    lines: list[int] = []
    errors: Errors = []
    for i, (line, row) in enumerate(_csv_rows(io.StringIO(text, newline=""), source, delimiter)):
        items.append(unflatten_story(row, errors, f"stories[{i}]", line))
        lines.append(line)
    if errors:
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
    ``-2`` clash rule of :func:`load` (that needs the whole file).
    """
    p = Path(path)
    fmt = _format_of(p, format)
    source = str(path)
    if fmt == "jsonl":
        with p.open("rb") as f:
            for n, line in enumerate(f, 1):
                if not line.strip():
                    continue
                try:
                    item = orjson.loads(line)
                except orjson.JSONDecodeError as e:
                    raise _json_error(e, source, line=n) from None
                yield _one_story(item, source, n)
    elif fmt in ("csv", "tsv"):
        with p.open(encoding="utf-8-sig", newline="") as f:
            for i, (n, row) in enumerate(_csv_rows(f, source, "\t" if fmt == "tsv" else ",")):
                errors: Errors = []
                item = unflatten_story(row, errors, f"stories[{i}]", n)
                if errors:
                    raise ValidationError(errors, source)
                yield _one_story(item, source, n, f"stories[{i}]")
    else:
        raise ValueError(f"iter_stories() streams jsonl and csv files, not {fmt}; use load()")


def _one_story(item: Any, source: str, line: int, path: str = "") -> Story:
    errors: Errors = []
    values = check_story_values(errors, path, item)
    if errors:
        raise ValidationError([ErrorDetail(e.path, e.message, e.value, line) for e in errors],
                              source)
    assert values is not None
    return _build(Story, values)


# --- writing ------------------------------------------------------------------------------------


def dumps(collection: Collection, format: str, **options: Any) -> bytes:
    """Render ``collection`` with the exporter registered for ``format``; return the bytes."""
    from storykit.plugins import get_exporter

    exporter = get_exporter(format)
    buf = io.BytesIO()
    exporter.write(collection, buf, **options)
    return buf.getvalue()


def _umask() -> int:
    if sys.platform == "win32":
        return 0
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def dump(collection: Collection, path: PathLike, format: str | None = None,
         **options: Any) -> Path:
    """Write ``collection`` to ``path``, atomically: the whole file or, on any failure, none.

    The format comes from ``format=`` or from the file's suffix. Parent folders are created. The
    exporter writes to a temporary file beside the target, which then replaces it in one
    ``os.replace``; if anything fails the old file (if any) is left as it was.
    """
    from storykit.plugins import exporter_for_path, get_exporter

    target = Path(path)
    exporter = get_exporter(format) if format is not None else exporter_for_path(target)
    with atomic_writer(target) as out:
        exporter.write(collection, out, **options)
    return target


class atomic_writer:  # noqa: N801 - used as a context manager, like open()
    """``with atomic_writer(path) as f:`` writes ``path`` whole or not at all.

    The file gets the permissions a plain ``open()`` would give it (0666 less the umask).
    """

    def __init__(self, path: PathLike) -> None:
        self.path = Path(path)
        self._file: BinaryIO | None = None
        self._tmp: str | None = None

    def __enter__(self) -> BinaryIO:
        folder = self.path.parent
        folder.mkdir(parents=True, exist_ok=True)
        fd, self._tmp = tempfile.mkstemp(dir=folder, prefix=f".{self.path.name[:200]}.",
                                         suffix=".tmp")
        self._file = os.fdopen(fd, "wb", buffering=1024 * 1024)
        return self._file

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        f, tmp = self._file, self._tmp
        assert f is not None and tmp is not None
        try:
            try:
                if exc_type is None:
                    f.flush()
                    os.fsync(f.fileno())
            finally:
                f.close()
            if exc_type is None:
                os.chmod(tmp, 0o666 & ~_umask())
                os.replace(tmp, self.path)
                tmp = None
        finally:
            if tmp is not None:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(tmp)
