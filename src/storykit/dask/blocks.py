"""Archives in blocks: each block read by a worker, surveyed, and the verdict over the whole
archive decided once by the driver (:func:`validate`, :func:`read_stories`)."""

from __future__ import annotations

import contextlib
import re
from collections.abc import Generator, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import attrs

from storykit.dask.cluster import _dask
from storykit.errors import ErrorDetail, ValidationError

if TYPE_CHECKING:
    import dask.bag
    from fsspec import AbstractFileSystem

    from storykit.model import Story

#: Lines of JSON Lines parsed at once in a worker: bounds a worker's memory whatever the block.
CHUNK_LINES = 2000
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
    """What a worker found in a block: its lines, its stories' ids and its problems.

    Lines and story indices are the block's own (from 1 and 0); the driver moves them.
    """

    lines: int
    stories: int
    given: list[tuple[int, str, int, int]]  # (story, id, chunk, line): each valid id given
    derived: list[tuple[int, str, str]]  # (story, id the chunk gave it, slug of its title)
    errors: list[tuple[int, int, ErrorDetail]]  # (story, kind 0, problem), block-relative


def _moved(e: ErrorDetail, stories: int, lines: int) -> ErrorDetail:
    """``e`` with its story indices and line moved by ``stories`` and ``lines``."""
    def shift(m: re.Match[str]) -> str:
        return f"stories[{int(m[1]) + stories}]"

    return attrs.evolve(e, path=_INDEX.sub(shift, e.path, count=1),
                        message=_INDEX.sub(shift, e.message),
                        line=None if e.line is None else e.line + lines)


def _chunks(block: _Block) -> Iterator[tuple[int, bytes]]:
    """The lines of a JSON Lines block in runs of :data:`CHUNK_LINES`, each with the line it
    starts on (from 0 in the block), read as they are needed.

    A block holds the lines that start in ``(offset, offset + length]`` (from 0 for the
    first): the line that holds the byte at ``offset`` is the block before's.
    """
    end = block.offset + (block.length or 0)
    with block.fs.open(block.path, "rb") as f:
        if block.offset:
            f.seek(block.offset)
            f.readline()
        elif f.read(3) != b"\xef\xbb\xbf":  # a byte order mark is no part of the first line
            f.seek(0)
        first = 0
        while True:
            lines: list[bytes] = []
            while len(lines) < CHUNK_LINES and (
                    f.tell() <= end or not (block.offset or first or lines)  # (the first
                    # line starts at 0, before any byte order mark)
            ) and (line := f.readline()):
                lines.append(line)
            if not lines:
                return
            yield first, b"".join(lines)
            first += len(lines)


def _scan(block: _Block, renames: Mapping[int, str] | None = None,
          ) -> Generator[list[Story], None, _Survey]:
    """Read ``block`` a chunk at a time: yield its stories (numbered as ``renames`` says)
    while it has no problem, and return its survey."""
    import orjson

    import storykit
    from storykit import _rules as rules

    source = block.path
    if block.fmt != "jsonl":  # one whole CSV or TSV file
        data = block.read()
        try:
            stories = list(storykit.loads(data, block.fmt, source=source))
        except ValidationError as e:
            return _Survey(data.count(b"\n"), 0, [], [], [(0, 0, d) for d in e.errors])
        yield stories
        ids = [(i, s.id, 0, 0) for i, s in enumerate(stories)]
        return _Survey(data.count(b"\n"), len(stories), ids, [], [])
    given: list[tuple[int, str, int, int]] = []
    derived: list[tuple[int, str, str]] = []
    errors: list[tuple[int, int, ErrorDetail]] = []
    count = lines = 0
    for c, (first_line, chunk) in enumerate(_chunks(block)):
        items: list[Any] = []
        at: list[int] = []  # the line of each item, in the block (from 1)
        for j, raw in enumerate(chunk.split(b"\n"), first_line + 1):
            if raw.strip():
                at.append(j)
                try:
                    items.append(orjson.loads(raw))
                except orjson.JSONDecodeError:
                    items.append(None)
        lines = first_line + chunk.count(b"\n")
        try:
            got = list(storykit.loads(chunk, "jsonl", source=source))
        except ValidationError as e:
            got = []
            errors.extend((count, 0, _moved(d, count, first_line)) for d in e.errors)
        for k, item in enumerate(items):
            raw_id = item.get("id") if isinstance(item, dict) else None
            if raw_id not in (None, ""):
                with contextlib.suppress(rules.Invalid):
                    given.append((count + k, rules.slug(raw_id), c, at[k]))
            elif got:
                story = got[k]
                derived.append((count + k, story.id, rules.slugify(story.title)))
        if got and not errors:
            if renames:
                got = [attrs.evolve(s, id=renames[count + k]) if count + k in renames else s
                       for k, s in enumerate(got)]
            yield got
        count += len(items)
    return _Survey(lines, count, given, derived, errors)


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


def _verdict(blocks: Sequence[_Block], surveys: Sequence[_Survey]) -> _Verdict:
    """Every problem of the archive, in file and line order, and the derived ids to number.

    Story indices and lines count from the start of each file, as one process counts them.
    """
    problems: list[tuple[str, int, int, int, ErrorDetail]] = []
    first: dict[str, tuple[str, int, tuple[int, int]]] = {}  # id -> (file, story, chunk)
    lines = stories = 0
    where: list[tuple[int, int]] = []  # per block: (stories, lines) before it, in its file
    for b, (block, survey) in enumerate(zip(blocks, surveys, strict=True)):
        if block.offset == 0:
            lines = stories = 0
        where.append((stories, lines))
        for i, kind, d in survey.errors:
            moved = _moved(d, stories, lines) if block.fmt == "jsonl" else d
            problems.append((block.path, d.line or 0, i + stories, kind, moved))
        for i, sid, c, line in survey.given:
            at = (block.path, i + stories, (b, c))
            prior = first.setdefault(sid, at)
            if prior != at and prior[2] != (b, c):  # one inside a chunk: loads() named it
                name = (f"stories[{prior[1]}]" if prior[0] == block.path
                        else f"stories[{prior[1]}] of {prior[0]}")
                problems.append((block.path, 0, i + stories, 1, ErrorDetail(
                    f"stories[{i + stories}].id", f"{sid!r} is already the id of {name}", sid,
                    line + lines if line else None)))
        lines += survey.lines
        stories += survey.stories
    problems.sort(key=lambda p: (p[0], p[2], p[3]))
    errors = [p[4] for p in problems]
    renames: list[dict[int, str]] = [{} for _ in blocks]
    if not errors:
        # load()'s rule: the given ids are claimed first; then each story without one, in
        # order, takes the first free of slug, slug-2, slug-3...
        taken = set(first)
        for b, survey in enumerate(surveys):
            for i, had, slug in survey.derived:
                sid, k = slug, 1
                while sid in taken:
                    k += 1
                    sid = f"{slug}-{k}"
                taken.add(sid)
                if sid != had:
                    renames[b][i] = sid
    return _Verdict(errors, renames, sum(s.stories for s in surveys))


def _raise(errors: Sequence[ErrorDetail], blocks: Sequence[_Block]) -> None:
    if errors:
        files = sorted({b.path for b in blocks})
        raise ValidationError(errors, files[0] if len(files) == 1 else f"{len(files)} files")


def _surveyed(blocks: Sequence[_Block]) -> _Verdict:
    dk = _dask()
    surveys = dk.compute(*[dk.delayed(_survey)(b) for b in blocks])
    return _verdict(blocks, surveys)


# --- the public jobs --------------------------------------------------------------------------


def validate(urlpath: str | Sequence[str], *, blocksize: int | str | None = None,
             format: str | None = None) -> list[ErrorDetail]:
    """Every problem of a JSON Lines or CSV archive, in file and line order (empty: valid).

    The records are those :func:`storykit.load` and ``storykit validate`` give for each file,
    with ids repeated across files named with the file of their first use.
    """
    return _surveyed(_blocks(urlpath, blocksize, format)).errors


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
