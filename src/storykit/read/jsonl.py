"""The ``jsonl`` reader: JSON Lines, one story per line (``.jsonl``, ``.ndjson``).

Lines end at ``\\n`` only, as JSON Lines says (a ``\\r`` before it is JSON white space). A
file is read whole by :func:`storykit.load`, or a story at a time (:class:`JSONLinesFile`) by
``load(path, where=...)`` and the stream functions.
"""

from __future__ import annotations

import array
import functools
import io
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, BinaryIO

import orjson

from storykit.collection import Collection
from storykit.errors import ValidationError
from storykit.model import Errors, Story
from storykit.plugins import hookimpl
from storykit.read.decode import BOM, fail
from storykit.read.json import no_repeated_key, one_object_per_line, parse_json
from storykit.read.lines import check_story, collection_of_lines, load_where
from storykit.read.schema import stories_of_lines

__all__ = ["BLOCK", "LINES", "MAX_LINE", "STEP", "JSONLReader", "JSONLinesFile", "count_lines",
           "line_story", "line_too_long", "part_stories", "parts", "skip_bom"]

#: The longest line of JSON Lines read when streaming (bytes): far beyond any story, and a
#: bound on the memory a stream needs whatever the file holds.
MAX_LINE = 16 * 1024 * 1024
#: The bytes of whole lines read at a time when streaming.
BLOCK = 1024 * 1024
#: The bytes of whole lines decoded and checked at a time (:func:`part_stories`): few enough
#: stories that they are still in the CPU's caches, and mostly still in the garbage
#: collector's youngest generation, when they are written (with the JSON exporter's batches
#: of 64 lines, a third less time than 1 MiB and batches of 512).
STEP = 32 * 1024


def read_jsonl(data: str | bytes, source: str | None) -> Collection:
    raw = data.encode("utf-8", "surrogatepass") if isinstance(data, str) else data
    if raw.startswith(BOM):
        raw = raw[len(BOM):]
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
                raise too_long(None, n)
            # A repeated key goes to errors; the story is still checked, as with a document.
            items.append(parse_json(line, None, n, len(items), errors))
        except ValidationError as e:
            errors.extend(e.errors)
            unreadable.add(f"stories[{len(items)}]")
            items.append({})  # keeps the numbering of the stories after it
        lines.append(n)
    return collection_of_lines(items, lines, errors, unreadable, source)


def line_story(line: bytes, n: int, i: int, source: str, errors: Errors, *,
                count: Callable[[str], object] | None = None) -> Story | None:
    """The story on line ``n`` of JSON Lines (the ``i``-th story), checked.

    Its problems go to ``errors``. Returns None when this story had a problem; ``count`` then
    gets the valid id it gives, if any (for the check of unique ids, as :func:`load` does it).
    """
    try:
        # The common case of parse_json(), inline: an object that surely repeats no key. Anything
        # else goes to parse_json(), which parses again and reports; a repeated key goes
        # to errors, and the story is still checked, as load() checks it.
        try:
            item = orjson.loads(line)
        except orjson.JSONDecodeError:
            item = parse_json(line, source, n, i, errors)  # raises (or skips line 1's BOM)
        else:
            if type(item) is not dict or not no_repeated_key(line, item):
                item = parse_json(line, source, n, i, errors)
    except ValidationError as e:
        errors.extend(e.errors)
        return None
    return check_story(item, i, n, errors, count)


def part_stories(data: bytes, first_line: int, first_index: int, source: str, *,
                 errors: Errors, ids: list[str]) -> Iterator[Story]:
    """The stories on the whole lines of JSON Lines ``data`` (line ``first_line`` and story
    ``first_index`` first, as the whole file numbers them), checked.

    Their problems go to ``errors``; ``ids`` gets the id of each valid story, and the valid id
    a story that failed gives, if any (for the check of unique ids, as :func:`load` does it).
    Once there are problems (before this part too) no story is yielded: the output is void.

    :data:`STEP` bytes of lines at a time, msgspec decodes the lines and the rules check them
    (``storykit.read.schema``); should anything be refused, each of those lines is checked the
    detailed way, which names every problem.
    """
    line, index, start = first_line, first_index, 0
    while start < len(data):
        end = data.find(b"\n", start + STEP) + 1 or len(data)
        piece = data[start:end]
        start = end
        stories = stories_of_lines(piece)
        if stories is not None:
            ids.extend([story.id for story in stories])
            index += len(stories)
            if not errors:
                yield from stories
        else:
            for n, text in enumerate(piece.split(b"\n"), line):
                if not text or text.isspace():  # (the piece after the last line break too)
                    continue
                story = line_story(text, n, index, source, errors, count=ids.append)
                index += 1
                if story is not None:
                    ids.append(story.id)
                    if not errors:
                        yield story
        line += piece.count(b"\n")


def count_lines(part: bytes) -> tuple[int, int]:
    """The lines in ``part`` (whole lines; the last may lack its line break) and the stories
    among them: the lines that are not blank, as one process reading line by line counts them."""
    pieces = part.split(b"\n")
    if not pieces[-1]:
        pieces.pop()  # (after the last line break)
    blank = pieces.count(b"") + sum(map(bytes.isspace, pieces))  # (b"".isspace() is False)
    return len(pieces), len(pieces) - blank


#: A part of the file (:func:`parts`): its offset, its bytes, the number of its first line and
#: the index of its first story.
Part = tuple[int, bytes, int, int]


def parts(f: BinaryIO, source: str, size: int) -> Iterator[Part | ValidationError]:
    """``f``, from where it is to its end, in parts of whole lines of about ``size`` bytes
    (at most :data:`MAX_LINE`), numbered as one process reading line by line numbers them.

    A line longer than ``size`` is a part of its own; one longer than :data:`MAX_LINE` is
    instead the error for it (its story still counts), and is never read whole.
    """
    size = min(size, MAX_LINE)  # (then a part's lines are all within the limit)
    start = f.tell()
    line = index = 0  # lines and stories before ``start``
    while block := f.read(size):
        cut = len(block) if len(block) < size else block.rfind(b"\n") + 1
        if cut:  # whole lines (or the file's last, with no line break)
            part = block if cut == len(block) else block[:cut]
            lines, stories = count_lines(part)
            yield start, part, line + 1, index
            start, line, index = start + cut, line + lines, index + stories
            if cut < len(block):
                f.seek(start)
            continue
        # One line longer than a part: a part of its own, or the error for it.
        f.seek(start)
        long_line = f.readline(MAX_LINE + 1)
        line += 1
        if len(long_line) > MAX_LINE and not long_line.endswith(b"\n"):
            yield line_too_long(f, source, line)
            index += 1
        else:
            yield start, long_line, line, index
            index += not long_line.isspace()
        start = f.tell()


def skip_bom(f: io.BufferedReader) -> None:
    """Read past a byte order mark at the start of ``f``, if there is one."""
    if f.peek(len(BOM))[:len(BOM)] == BOM:
        f.read(len(BOM))


def line_too_long(f: BinaryIO, source: str, n: int) -> ValidationError:
    """The error for line ``n``, longer than :data:`MAX_LINE`; the rest of it is skipped."""
    while (rest := f.readline(MAX_LINE)) and not rest.endswith(b"\n"):
        pass
    return too_long(source, n)


def too_long(source: str | None, n: int) -> ValidationError:
    return fail(f"is longer than {MAX_LINE:,} bytes, the limit for one line of JSON Lines",
                 source, line=n)


class JSONLinesFile:
    """JSON Lines read a story at a time (see :class:`storykit.read.lines.LineFile`)."""

    def checked(self, path: Path, source: str, errors: Errors,
                ids: array.array[int]) -> Iterator[Story]:
        """See :meth:`LineFile.checked`: a part of the file at a time (:func:`parts`)."""
        with path.open("rb") as f:
            skip_bom(f)
            for part in parts(f, source, BLOCK):
                if isinstance(part, ValidationError):  # (a line too long)
                    errors.extend(part.errors)
                    continue
                _, data, first_line, first_index = part
                got: list[str] = []
                yield from part_stories(data, first_line, first_index, source, errors=errors,
                                        ids=got)
                ids.extend(map(hash, got))

    def items(self, path: Path, source: str) -> Iterator[tuple[int, int, Any]]:
        """See :meth:`LineFile.items`."""
        with path.open("rb") as f:
            skip_bom(f)
            i = 0
            for n, line in enumerate(iter(functools.partial(f.readline, MAX_LINE + 1), b""), 1):
                if line.isspace():
                    continue
                if len(line) > MAX_LINE and not line.endswith(b"\n"):
                    line_too_long(f, source, n)  # (skips the rest of it)
                    item = None
                else:
                    try:
                        item = orjson.loads(line)
                    except orjson.JSONDecodeError:
                        item = None  # (no id: load() counts none for it either)
                yield i, n, item
                i += 1


#: JSON Lines, read a story at a time.
LINES = JSONLinesFile()


class JSONLReader:
    """JSON Lines: one story per line."""

    name = "jsonl"
    suffixes = (".jsonl", ".ndjson")
    media_types = ("application/jsonl", "application/x-ndjson")
    description = "JSON Lines: one story object per line."
    options_type = None
    input = "stream"
    #: ``where`` is applied a story at a time: only the stories kept are held.
    handles_where = True

    def read(self, source: BinaryIO, *, where: Callable[[Story], bool] | None = None,
             **options: Any) -> Collection:
        name = getattr(source, "name", None)
        if where is not None and isinstance(name, str) and Path(name).is_file():
            return load_where(Path(name), LINES, name, where)
        col = read_jsonl(source.read(), name)
        return col if where is None else col.filter(where=where)

    def read_data(self, data: str | bytes, source: str | None) -> Collection:
        return read_jsonl(data, source)

    def sniff(self, head: bytes) -> bool:
        """An object on the first line, and another line after it."""
        return one_object_per_line(head)


@hookimpl
def register_readers() -> list[JSONLReader]:
    return [JSONLReader()]
