"""Story-at-a-time reading of JSON Lines, CSV and TSV files: :func:`iter_stories`,
:func:`check_stream` and :func:`stream_export`, in memory that does not grow with the file.

The verdict on a file is always :func:`storykit.load`'s (``storykit.read.lines``). With
``jobs``, JSON Lines is checked and rendered by worker processes (:mod:`storykit.stream.workers`).
"""

from __future__ import annotations

import array
import functools
import io
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO

from storykit.collection import Collection
from storykit.convert import unflatten_story
from storykit.errors import UnknownFormatError, ValidationError
from storykit.exporter import streams
from storykit.model import Errors, Story
from storykit.plugins import blamed_on
from storykit.read import a_folder, format_of, jsonl
from storykit.read.csv import CSV_LINES, TSV_LINES, csv_file_rows
from storykit.read.json import parse_json
from storykit.read.jsonl import line_too_long, skip_bom
from storykit.read.lines import LineFile, one_story, renamed, verdict
from storykit.stream import workers as _workers

__all__ = ["PARALLEL_MIN_BYTES", "check_stream", "iter_stories", "stream_export", "streamable"]

#: The smallest JSON Lines file :func:`stream_export` splits among worker processes (bytes):
#: below it, starting the workers costs more than they save.
PARALLEL_MIN_BYTES = 4 * 1024 * 1024


PathLike = str | os.PathLike[str]

#: The formats read a story at a time, by reader name.
_LINES: dict[str, LineFile] = {"jsonl": jsonl.LINES, "csv": CSV_LINES, "tsv": TSV_LINES}


def iter_stories(path: PathLike, format: str | None = None) -> Iterator[Story]:
    """Stream the stories of a JSON Lines or CSV file, one at a time, in constant memory.


    A bad record raises :class:`~storykit.ValidationError` naming its line, after the stories
    before it were yielded. Ids missing from the file are derived from titles, without the
    ``-2`` clash rule of :func:`load` (that needs the whole file). A line of JSON Lines longer
    than :data:`storykit.read.jsonl.MAX_LINE` (16 MiB) is an error, found without reading the
    line whole.
    """
    p = Path(path)
    if p.is_dir():  # as load() says it, whatever the folder's name
        raise a_folder(path)
    fmt = format_of(p, format)
    source = str(path)
    if fmt == "jsonl":
        repeats: Errors = []
        with p.open("rb") as f:
            skip_bom(f)
            i = 0  # the story's index, as load() numbers it (blank lines are not stories)
            read_line = functools.partial(f.readline, jsonl.MAX_LINE + 1)
            for n, line in enumerate(iter(read_line, b""), 1):
                if line.isspace():
                    continue
                if len(line) > jsonl.MAX_LINE and not line.endswith(b"\n"):
                    raise line_too_long(f, source, n)
                item = parse_json(line, source, n, i, repeats)
                if repeats:  # named with the story's other problems, as load() names them
                    try:
                        one_story(item, source, n, f"stories[{i}]")
                    except ValidationError as e:
                        repeats.extend(e.errors)
                    raise ValidationError(repeats, source)
                yield one_story(item, source, n, f"stories[{i}]")
                i += 1
    elif fmt in ("csv", "tsv"):
        for i, (n, row) in enumerate(csv_file_rows(p, source, "\t" if fmt == "tsv" else ",")):
            errors: Errors = []
            item = unflatten_story(row, errors, f"stories[{i}]", n)
            if errors:
                raise ValidationError(errors, source)
            yield one_story(item, source, n, f"stories[{i}]")
    else:
        raise ValueError(f"iter_stories() streams jsonl and csv files, not {fmt}; use load()")


def streamable(path: PathLike, format: str | None = None) -> bool:
    """Whether :func:`stream_export` can read ``path``: JSON Lines, CSV or TSV."""
    try:
        return format_of(Path(path), format) in _LINES
    except (UnknownFormatError, IsADirectoryError):
        return False


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
    workers = _workers.workers(jobs)  # (not an int, or negative: TypeError, ValueError)
    p, fmt, src = _line_file(source, format, "stream_export")
    start = out.tell()  # what out held before is kept: a redo rewinds to here, no further
    errors: Errors = []
    ids: array.array[int] = array.array("q")
    later = _workers.later_options(exporter, options) if workers > 1 and fmt == "jsonl" else None
    with blamed_on(exporter):
        if later is not None and p.stat().st_size >= PARALLEL_MIN_BYTES:
            _workers.export(p, exporter, out, options, source=src, later=later, jobs=workers,
                             errors=errors, ids=ids)
        else:
            try:
                exporter.write_stream(Collection(), _LINES[fmt].checked(p, src, errors, ids), out,
                                      **options)
            except ValidationError as e:  # a problem that stops the reading (a broken header)
                raise ValidationError([*errors, *e.errors], src) from None
    numbered = verdict(p, _LINES[fmt], src, errors, ids)
    if numbered:  # an id derived from a title is taken: the output is redone, numbered
        out.seek(start)
        out.truncate()
        stories = renamed(_LINES[fmt].checked(p, src, [], array.array("q")), numbered)
        with blamed_on(exporter):
            exporter.write_stream(Collection(), stories, out, **options)
    return len(ids)


def _check_stream_args(exporter: Any, out: Any) -> None:
    """Raise if ``exporter`` does not stream or ``out`` is not a seekable binary file, before
    anything is read: otherwise the exporter would fail on it, and be blamed."""
    if isinstance(exporter, (str, bytes)):
        raise TypeError("exporter must be an exporter object such as storykit.formats()"
                        f"[{exporter!r}] (got {type(exporter).__name__} {exporter!r})")
    if not streams(exporter):
        name = getattr(exporter, "name", None)
        what = f"format {name!r}" if isinstance(name, str) else type(exporter).__name__
        raise ValueError(f"{what} does not stream (streams = True and write_stream() are "
                         "needed; the built-in json and csv formats stream): use "
                         "storykit.dump(storykit.load(source), ...) instead")
    if isinstance(out, (str, bytes, os.PathLike)):
        raise TypeError(f"out must be a binary file open for writing, not a path (got "
                        f"{type(out).__name__} {os.fsdecode(out)!r}): use "
                        "`with storykit.files.atomic_writer(path) as out:`")
    if not callable(getattr(out, "write", None)) or isinstance(out, io.TextIOBase):
        raise TypeError("out must be a binary file open for writing, such as "
                        f"storykit.files.atomic_writer(path) gives (got {type(out).__name__})")
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
        raise a_folder(source)
    fmt = format_of(p, format)
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
    workers = _workers.workers(jobs)  # (not an int, or negative: TypeError, ValueError)
    p, fmt, src = _line_file(source, format, "check_stream")
    errors: Errors = []
    ids: array.array[int] = array.array("q")
    if workers > 1 and fmt == "jsonl" and p.stat().st_size >= PARALLEL_MIN_BYTES:
        _workers.export(p, _CHECK_ONLY, io.BytesIO(), {}, source=src, later={}, jobs=workers,
                         errors=errors, ids=ids)
    else:
        try:
            for _ in _LINES[fmt].checked(p, src, errors, ids):
                pass
        except ValidationError as e:  # a problem that stops the reading (a broken header)
            raise ValidationError([*errors, *e.errors], src) from None
    verdict(p, _LINES[fmt], src, errors, ids, number=False)
    return len(ids)


class _CheckOnly:
    """The "exporter" of :func:`check_stream`'s workers: it takes every story, writes nothing."""


    def write_stream(self, collection: Collection, stories: Iterator[Story], out: BinaryIO,
                     **options: Any) -> None:
        for _ in stories:
            pass


_CHECK_ONLY = _CheckOnly()

