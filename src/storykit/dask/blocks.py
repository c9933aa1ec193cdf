"""Archives in blocks: each block read by a worker, surveyed, and the verdict over the whole
archive decided once by the driver (:func:`validate`, :func:`read_stories`)."""

from __future__ import annotations

import re
from collections.abc import Generator, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING

import attrs

from storykit.dask.cluster import _dask
from storykit.dask.keys import Holds, hash_key, merged, repeats, sorted_keys
from storykit.errors import ErrorDetail, ValidationError

if TYPE_CHECKING:
    import dask.bag
    from fsspec import AbstractFileSystem

    from storykit.model import Errors, Story

#: Bytes of JSON Lines read and parsed at once in a worker (whole lines, so more for a line
#: longer than this): bounds a worker's memory whatever the block.
CHUNK_BYTES = 1 << 20
#: Blocks an archive (or a subscribers file) is cut into at least, with the default
#: ``blocksize=None``: enough for the workers to share the job evenly (blocks of 64 MiB at
#: most and 1 MiB at least; 1 MiB and 16 KiB for subscribers).
AUTO_BLOCKS = 32
_INDEX = re.compile(r"stories\[(\d+)\]")


# --- blocks ---------------------------------------------------------------------------------


@attrs.frozen
class _Block:
    """A part of one file: ``length`` bytes from ``offset`` (widened to whole lines)."""

    fs: AbstractFileSystem
    path: str
    fmt: str
    offset: int
    length: int | None  # None: to the end of the file

    def read(self) -> bytes:
        """The whole file (a block of a CSV file is the file)."""
        with self.fs.open(self.path, "rb") as f:
            data: bytes = f.read()
            return data


def _size(blocksize: int | str) -> int:
    if isinstance(blocksize, str):
        from dask.utils import parse_bytes

        return int(parse_bytes(blocksize))
    if isinstance(blocksize, bool) or not isinstance(blocksize, int) or blocksize < 1:
        raise ValueError(f"blocksize must be a positive number of bytes or a size such as "
                         f"'64 MiB' (got {blocksize!r})")
    return blocksize


def _format(path: str, format: str | None) -> str:
    fmt = (format or path.rsplit(".", 1)[-1]).lower()
    fmt = {"ndjson": "jsonl"}.get(fmt, fmt)
    if fmt not in ("jsonl", "csv", "tsv"):
        raise ValueError(f"storykit.dask reads JSON Lines, CSV and TSV files, not {path!r} "
                         "(give format= if the name does not say)")
    return fmt


def _spread(blocksize: int | str | None, total: int, *, most: int, least: int,
            blocks: int) -> int:
    """The block size: ``blocksize`` as given, or (None) ``most`` bytes, made smaller so that
    ``total`` bytes give at least ``blocks`` blocks (for the workers to share), but never
    under ``least``."""
    if blocksize is not None:
        return _size(blocksize)
    return max(1, min(most, max(least, -(-total // blocks))))


def _blocks(urlpath: str | Sequence[str], blocksize: int | str | None,
            format: str | None) -> list[_Block]:
    """The blocks of every file ``urlpath`` names, files in name order."""
    from fsspec.core import get_fs_token_paths

    fs, _, paths = get_fs_token_paths(urlpath, mode="rb")
    if not paths:
        raise FileNotFoundError(f"no such file: {urlpath}")
    sizes = {path: fs.size(path) for path in paths}
    size = _spread(blocksize, sum(sizes.values()), most=64 << 20, least=1 << 20,
                   blocks=AUTO_BLOCKS)
    blocks: list[_Block] = []
    for path in sorted(paths):
        fmt = _format(path, format)
        total = sizes[path]
        if fmt != "jsonl" or not total:
            blocks.append(_Block(fs, path, fmt, 0, None))
            continue
        blocks.extend(_Block(fs, path, fmt, off, min(size, total - off))
                      for off in range(0, total, size))
    return blocks


# --- a block, read by a worker --------------------------------------------------------------


@attrs.frozen
class _Survey:
    """What a worker found in a block: its lines, its stories, the hashes of their ids and
    its problems.

    Lines and story indices are the block's own (from 0 for stories; lines from 1 in a file's
    first block, from 2 in any other, so that no line but the file's first is read as one);
    the driver moves them.
    """

    lines: int
    stories: int
    keys: bytes  # the sorted hashes (keys.hash_key) of the ids its stories give
    errors: list[tuple[int, ErrorDetail]]  # (story, problem), block-relative


def _first_line(block: _Block) -> int:
    return 1 if block.offset == 0 else 2


def _moved(e: ErrorDetail, stories: int, lines: int) -> ErrorDetail:
    """``e`` with its story indices and line moved by ``stories`` and ``lines``."""
    def shift(m: re.Match[str]) -> str:
        return f"stories[{int(m[1]) + stories}]"

    return attrs.evolve(e, path=_INDEX.sub(shift, e.path, count=1),
                        message=_INDEX.sub(shift, e.message),
                        line=None if e.line is None else e.line + lines)


def _chunks(block: _Block) -> Iterator[tuple[int, bytes]]:
    """The lines of a JSON Lines block in runs of about :data:`CHUNK_BYTES` (whole lines),
    each with the line it starts on (from 0 in the block), read as they are needed.

    A block holds the lines that start in ``(offset, offset + length]`` (from 0 for the
    first): the line that holds the byte at ``offset`` is the block before's.
    """
    end = block.offset + (block.length or 0)
    with block.fs.open(block.path, "rb") as f:
        if block.offset:
            f.seek(block.offset)
            f.readline()
            if f.tell() > end:  # (a line that starts before the block and ends after it)
                return
        elif f.read(3) != b"\xef\xbb\xbf":  # a byte order mark is no part of the first line
            f.seek(0)
        # The bytes up to ``end``, then the rest of the line they end in (or the whole line
        # that starts at ``end``): the first line of a file is read whatever ``end`` is.
        left = max(0, end - f.tell())
        first = 0
        carry = b""
        while True:
            piece = f.read(min(CHUNK_BYTES, left)) if left else b""
            left -= len(piece)
            if not piece:
                if rest := carry + f.readline():
                    yield first, rest
                return
            data = carry + piece
            cut = data.rfind(b"\n") + 1
            if not cut:
                carry = data
                continue
            carry = data[cut:]
            yield first, data[:cut]
            first += data.count(b"\n", 0, cut)


def _lines(block: _Block, counted: list[int]) -> Iterator[tuple[int, list[bytes]]]:
    """The lines of a JSON Lines block that are not blank, a chunk at a time, each chunk
    with the number of its first line (:class:`_Survey` says how they count); once all are
    read, the number of lines is appended to ``counted``."""
    base = _first_line(block)
    lines = 0
    for first, chunk in _chunks(block):
        pieces = chunk.split(b"\n")
        lines = first + len(pieces) - 1
        yield base + first, pieces
    counted.append(lines)


def _scan(block: _Block, renames: Mapping[int, str] | None = None,
          ) -> Generator[list[Story], None, _Survey]:
    """Read ``block`` a chunk at a time, each line parsed and checked once, as one process
    checks it (:func:`storykit.read.jsonl.line_story`): yield its stories (numbered as
    ``renames`` says) while it has no problem, and return its survey."""
    import storykit
    from storykit.read import _collector_paused
    from storykit.read.jsonl import MAX_LINE, line_story, too_long

    source = block.path
    if block.fmt != "jsonl":  # one whole CSV or TSV file
        data = block.read()
        try:
            stories = list(storykit.loads(data, block.fmt, source=source))
        except ValidationError as e:
            return _Survey(data.count(b"\n"), 0, b"", [(0, d) for d in e.errors])
        yield stories
        return _Survey(data.count(b"\n"), len(stories),
                       sorted_keys(hash_key(s.id) for s in stories), [])
    problems: Errors = []
    errors: list[tuple[int, ErrorDetail]] = []
    hashes: list[int] = []

    def count(sid: str) -> None:  # the valid id a story that failed gives: it counts too
        hashes.append(hash_key(sid))

    counted: list[int] = []
    i = 0
    with _collector_paused():  # (a block's stories make no garbage that only it finds)
        for first, pieces in _lines(block, counted):
            got: list[Story] = []
            for n, line in enumerate(pieces, first):
                if not line or line.isspace():  # (as is the piece after the last line break)
                    continue
                before = len(problems)
                if len(line) > MAX_LINE:
                    problems.extend(too_long(source, n).errors)
                    story = None
                else:
                    story = line_story(line, n, i, source, problems, count=count)
                if len(problems) > before:  # (a repeated key, and the story still checked)
                    errors.extend((i, d) for d in problems[before:])
                if story is not None:
                    hashes.append(hash_key(story.id))
                    if renames and i in renames:
                        story = attrs.evolve(story, id=renames[i])
                    got.append(story)
                i += 1
            if got and not problems:
                yield got
    return _Survey(counted[0], i, sorted_keys(hashes), errors)


def _given(block: _Block, repeated: frozenset[int], known: Holds | None,
           ) -> tuple[list[tuple[int, int, str]], list[tuple[int, str]]]:
    """A second reading of a block, for its ids only (:func:`storykit.read.lines.survey`'s).

    Returns ``(story, line, id)`` of each id given whose hash is ``repeated`` or, with
    ``known`` (the hashes of every id of the archive), that is a slug and ``-N`` whose
    slug's hash is known; and, with ``known``, ``(story, slug)`` of each story without an id
    (the ids to number). Lines and stories count as in :class:`_Survey`.
    """
    import orjson

    import storykit
    from storykit.collection import _given_id
    from storykit.model import check_story_values
    from storykit.read.jsonl import MAX_LINE
    from storykit.read.lines import _NUMBERED

    given: list[tuple[int, int, str]] = []
    derived: list[tuple[int, str]] = []

    def wanted(sid: str) -> bool:
        return hash_key(sid) in repeated or (
            known is not None and (m := _NUMBERED.fullmatch(sid)) is not None
            and hash_key(m[1]) in known)

    if block.fmt != "jsonl":  # (its ids are the ones load() gives, derived ones numbered)
        try:
            stories = storykit.loads(block.read(), block.fmt, source=block.path)
        except ValidationError:
            return given, derived
        return [(i, 0, s.id) for i, s in enumerate(stories) if wanted(s.id)], derived
    i = 0
    for first, pieces in _lines(block, []):
        for n, line in enumerate(pieces, first):
            if not line or line.isspace():
                continue
            try:
                item = orjson.loads(line) if len(line) <= MAX_LINE else None
            except orjson.JSONDecodeError:
                item = None  # (no id: load() counts none for it either)
            sid = _given_id(item)
            if sid is None:
                if known is not None and item is not None:  # (a valid archive)
                    values = check_story_values([], "", item)
                    assert values is not None
                    derived.append((i, values["id"]))
            elif wanted(sid):
                given.append((i, n, sid))
            i += 1
    return given, derived


def _survey(block: _Block) -> _Survey:
    scan = _scan(block)
    while True:
        try:
            next(scan)
        except StopIteration as done:
            return done.value  # type: ignore[no-any-return]


def _stories(block: _Block, renames: Mapping[int, str] | None) -> Iterator[Story]:
    """The stories of a block that has no problem, a chunk at a time."""
    for chunk in _scan(block, renames):
        yield from chunk


# --- the verdict over the whole archive -------------------------------------------------------


@attrs.frozen
class _Verdict:
    errors: list[ErrorDetail]
    renames: list[dict[int, str]]  # per block: {story in block: its numbered id}
    stories: int


def _verdict(blocks: Sequence[_Block], surveys: Sequence[_Survey], *,
             number: bool = True) -> _Verdict:
    """Every problem of the archive, in file and line order, and (``number``) the ids
    derived from titles to number, as one process decides them for each file.

    Story indices and lines count from the start of each file, as one process counts them.
    The driver holds 8 bytes a story (the hashes of the ids); only when a hash is met twice
    are the workers asked for the ids themselves (:func:`_given`), as one process reads its
    file again for them.
    """
    problems: list[tuple[str, int, int, ErrorDetail]] = []  # (file, story, kind, problem)
    where: list[tuple[int, int]] = []  # per block: (stories, lines) to move its own by
    lines = stories = 0
    for block, survey in zip(blocks, surveys, strict=True):
        if block.offset == 0:
            lines = stories = 0
        where.append((stories, lines - _first_line(block) + 1))
        for i, d in survey.errors:
            moved = _moved(d, *where[-1]) if block.fmt == "jsonl" else d
            problems.append((block.path, i + stories, 0, moved))
        lines += survey.lines
        stories += survey.stories
    renames: list[dict[int, str]] = [{} for _ in blocks]
    total = sum(s.stories for s in surveys)
    repeated = repeats([s.keys for s in surveys])
    if repeated:
        renames = _repeated(blocks, surveys, repeated, where, problems,
                            number=number and not problems)
    problems.sort(key=lambda p: p[:3])
    return _Verdict([p[3] for p in problems], renames, total)


def _repeated(blocks: Sequence[_Block], surveys: Sequence[_Survey], repeated: frozenset[int],
              where: Sequence[tuple[int, int]],
              problems: list[tuple[str, int, int, ErrorDetail]], *,
              number: bool) -> list[dict[int, str]]:
    """The ids of an archive whose hashes repeat: each id given twice added to ``problems``;
    with ``number`` and no problem, the ids derived from titles numbered (load()'s rule: the
    given ids are claimed first; then each story without one, in order, takes the first free
    of slug, slug-2, slug-3...). Returns the numbered ids, per block."""
    from storykit.collection import derive_ids
    from storykit.read.lines import _NUMBERED

    dk = _dask()
    known = dk.delayed(Holds(merged([s.keys for s in surveys])) if number else None,
                       pure=True)
    found = dk.compute(*[dk.delayed(_given)(b, repeated, known) for b in blocks])
    first: dict[str, tuple[str, int]] = {}  # id -> (file, story)
    maybe: list[str] = []
    for block, (at, shift), (given, _) in zip(blocks, where, found, strict=True):
        for i, line, sid in given:
            if hash_key(sid) not in repeated:
                maybe.append(sid)
            elif (prior := first.setdefault(sid, (block.path, i + at))) != (block.path, i + at):
                name = (f"stories[{prior[1]}]" if prior[0] == block.path
                        else f"stories[{prior[1]}] of {prior[0]}")
                problems.append((block.path, i + at, 1, ErrorDetail(
                    f"stories[{i + at}].id", f"{sid!r} is already the id of {name}", sid,
                    line + shift if line else None)))
            else:
                maybe.append(sid)
    renames: list[dict[int, str]] = [{} for _ in blocks]
    if problems or not number:
        return renames
    derived = {slug for _, slugs in found for _, slug in slugs}
    taken = {sid for sid in maybe if sid in derived or (
        (m := _NUMBERED.fullmatch(sid)) is not None and m[1] in derived)}
    give = derive_ids(taken)
    for b, (_, slugs) in enumerate(found):
        for i, slug in slugs:
            sid = give(slug)
            taken.add(sid)
            if sid != slug:
                renames[b][i] = sid
    return renames


def _raise(errors: Sequence[ErrorDetail], blocks: Sequence[_Block]) -> None:
    if errors:
        files = sorted({b.path for b in blocks})
        raise ValidationError(errors, files[0] if len(files) == 1 else f"{len(files)} files")


def _surveyed(blocks: Sequence[_Block], *, number: bool = True) -> _Verdict:
    dk = _dask()
    surveys = dk.compute(*[dk.delayed(_survey)(b) for b in blocks])
    return _verdict(blocks, surveys, number=number)


# --- the public jobs --------------------------------------------------------------------------


def validate(urlpath: str | Sequence[str], *, blocksize: int | str | None = None,
             format: str | None = None) -> list[ErrorDetail]:
    """Every problem of a JSON Lines or CSV archive, in file and line order (empty: valid).

    The records are those :func:`storykit.load` and ``storykit validate`` give for each file,
    with ids repeated across files named with the file of their first use.
    """
    return _surveyed(_blocks(urlpath, blocksize, format), number=False).errors


def read_stories(urlpath: str | Sequence[str], *, blocksize: int | str | None = None,
                 format: str | None = None) -> dask.bag.Bag:
    """A ``dask.bag.Bag`` of the validated stories of an archive, one partition per block.

    The archive is checked first, on the cluster (a :class:`~storykit.ValidationError` lists
    every problem); the bag then reads each block again when it is computed, with the ids one
    process would give.
    """
    dk = _dask()
    blocks = _blocks(urlpath, blocksize, format)
    verdict = _surveyed(blocks)
    _raise(verdict.errors, blocks)
    parts = [dk.delayed(_block_stories)(b, r) for b, r in zip(blocks, verdict.renames,
                                                               strict=True)]
    bag: dask.bag.Bag = dk.bag.from_delayed(parts)
    return bag


def _block_stories(block: _Block, renames: Mapping[int, str]) -> list[Story]:
    return list(_stories(block, renames))
