"""storykit's jobs on a Dask cluster: read, validate, export and personalise archives that
outgrow one machine.

Install the extra (``pip install "storykit[dask]"``); nothing here is imported by
``import storykit``. Every function runs on the Dask scheduler in effect: a
``distributed.Client`` you made, or the one :func:`client` makes for an address or
``"local"``. Paths are fsspec URLs (``s3://``, ``gcs://``, ``file://`` or plain paths, globs
allowed); the workers must be able to open them.

A JSON Lines archive is split into blocks of about ``blocksize`` bytes on line boundaries (by
default 64 MiB, smaller for an archive under 2 GiB so that it makes :data:`AUTO_BLOCKS` blocks
for the workers to share, none under 1 MiB); each
block is read by a worker, a chunk of lines at a time, through :func:`storykit.loads` (so each
story meets exactly the rules one process applies). What one process decides over the whole
file is then decided once over the whole archive, from what the workers send back (a story's
id and where it is): ids given twice are problems naming both places, and ids derived from
titles are numbered (``-2``, ``-3``) as :func:`storykit.load` numbers them.
A CSV file is one block (a quoted cell may hold a line break, so a CSV file cannot be split on
line breaks alone).
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Generator, Iterable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import attrs

from storykit.errors import ErrorDetail, ValidationError

if TYPE_CHECKING:
    import dask.bag
    import distributed
    from fsspec import AbstractFileSystem

    from storykit.collection import Collection
    from storykit.model import Story

__all__ = ["client", "digests", "export", "read_stories", "validate"]

#: Lines of JSON Lines parsed at once in a worker: bounds a worker's memory whatever the block.
CHUNK_LINES = 2000
#: Blocks an archive (or a subscribers file) is cut into at least, with the default
#: ``blocksize=None``: enough for the workers to share the job evenly (blocks of 64 MiB at
#: most and 1 MiB at least; 1 MiB and 16 KiB for subscribers).
AUTO_BLOCKS = 32
_INDEX = re.compile(r"stories\[(\d+)\]")


def _dask() -> Any:
    try:
        import dask
        import dask.bag
    except ImportError as e:  # pragma: no cover - the extra is installed where this is tested
        raise ImportError("storykit.dask needs Dask: pip install 'storykit[dask]'") from e
    return dask


# --- the cluster ----------------------------------------------------------------------------


@contextlib.contextmanager
def client(scheduler: str | None = "local", *, n_workers: int = 2,
           timeout: float = 10) -> Iterator[distributed.Client]:
    """A ``distributed.Client`` for ``scheduler`` while the block runs, closed after it.

    ``"local"`` (or ``None``) starts a ``LocalCluster`` of ``n_workers`` worker processes, one
    thread each, on 127.0.0.1; anything else is a scheduler address (``tcp://host:8786``). A
    scheduler that cannot be reached in ``timeout`` seconds raises ``ConnectionError`` with a
    one-line message.
    """
    _dask()
    import distributed

    if scheduler in (None, "local"):
        with distributed.LocalCluster(n_workers=n_workers, threads_per_worker=1,
                                      processes=True, host="127.0.0.1",
                                      dashboard_address="127.0.0.1:0") as cluster, \
                distributed.Client(cluster) as c:
            yield c
        return
    try:
        c = distributed.Client(scheduler, timeout=f"{timeout}s")
    except (OSError, TimeoutError, ValueError) as e:
        reason = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise ConnectionError(f"cannot reach the Dask scheduler at {scheduler}: {reason}") from None
    with c:
        yield c


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


def _part_name(i: int, suffix: str) -> str:
    return f"part-{i:05d}{suffix}"


def _write_part(block: _Block | None, stories: Iterable[Story] | None, i: int, *, fmt: str,
                options: Mapping[str, Any], out_fs: AbstractFileSystem, folder: str,
                renames: Mapping[int, str] | None, keep: bool = True,
                ) -> tuple[str, _Survey | None]:
    """Write one part file (atomically: a temporary name, then a move); return its name and,
    for a block, its survey.

    With ``keep=False`` the part stays under its temporary name (returned): the block is
    read once, surveyed while it is written, and the driver moves the part into place once
    the whole archive is known to be valid.
    """
    import storykit
    from storykit.collection import Collection

    exporter = storykit.formats()[fmt]
    surveyed: list[_Survey] = []
    if stories is None:
        assert block is not None
        stories = _surveying(block, renames, surveyed)
    opts = dict(options)
    if i > 0:
        opts = exporter.continuation_options(opts)  # type: ignore[attr-defined]
    name = _part_name(i, exporter.suffix)
    final = f"{folder}/{name}"
    tmp = f"{folder}/.{name}.tmp"
    with out_fs.open(tmp, "wb") as out:
        exporter.write_stream(Collection(), stories, out,  # type: ignore[attr-defined]
                              **opts)
    for _ in stories:  # (a writer that stopped early: the survey needs the whole block)
        pass
    if not keep:
        return tmp, surveyed[0] if surveyed else None
    out_fs.mv(tmp, final)
    return final, surveyed[0] if surveyed else None


def _surveying(block: _Block, renames: Mapping[int, str] | None,
               into: list[_Survey]) -> Iterator[Story]:
    """The stories of a block as :func:`_scan` yields them; its survey appended to ``into``
    once they are all read."""
    scan = _scan(block, renames)
    while True:
        try:
            chunk = next(scan)
        except StopIteration as done:
            into.append(done.value)
            return
        yield from chunk


def export(bag_or_urlpath: dask.bag.Bag | str | Sequence[str], format: str, out_urlpath: str,
           *, single_file: bool = False, blocksize: int | str | None = None,
           input_format: str | None = None, **options: Any) -> list[str]:
    """Export an archive (or a bag of stories) with a streaming writer, a part per block.

    The workers write ``part-00000.csv``, ``part-00001.csv``... into the folder
    ``out_urlpath``; concatenated in order they are exactly what one process writes. With
    ``single_file=True`` the parts are joined into the one file ``out_urlpath`` instead.
    Returns the paths written. The archive is checked first: a
    :class:`~storykit.ValidationError` lists every problem and nothing is written. Any writer
    that streams and has ``continuation_options()`` works, a plugin's included (it must be
    installed on the workers).
    """
    dk = _dask()
    from fsspec.core import url_to_fs

    import storykit

    exporter = storykit.formats()[format]
    if not (getattr(exporter, "streams", False)
            and callable(getattr(exporter, "continuation_options", None))):
        raise ValueError(f"format {format!r} cannot be written in parts (it needs streams = "
                         "True, write_stream() and continuation_options())")
    if exporter.continuation_options(dict(options)) is None:  # type: ignore[attr-defined]
        raise ValueError(f"format {format!r} with these options cannot be written in parts")
    out_fs, out_path = url_to_fs(out_urlpath)
    folder = f"{out_path}.parts" if single_file else out_path
    out_fs.makedirs(folder, exist_ok=True)
    where = {"fmt": format, "options": options, "out_fs": out_fs, "folder": folder}
    if isinstance(bag_or_urlpath, (str, Sequence)):
        written = _export_blocks(_blocks(bag_or_urlpath, blocksize, input_format), out_fs,
                                 where)
    else:
        tasks = [dk.delayed(_write_part)(None, part, i, renames=None, **where)
                 for i, part in enumerate(bag_or_urlpath.to_delayed())]
        written = [name for name, _ in dk.compute(*tasks)]
    if not single_file:
        return written
    tmp = f"{out_path}.tmp"
    with out_fs.open(tmp, "wb") as out:
        for name in written:
            with out_fs.open(name, "rb") as part:
                while chunk := part.read(1 << 20):
                    out.write(chunk)
    out_fs.mv(tmp, out_path)
    out_fs.rm(folder, recursive=True)
    return [out_path]


def _export_blocks(blocks: Sequence[_Block], out_fs: AbstractFileSystem,
                   where: Mapping[str, Any]) -> list[str]:
    """Each block read once: surveyed while its part is written under a temporary name.
    A valid archive's parts are moved into place (the few blocks whose derived ids the
    whole archive renumbers are written again); an invalid one's are deleted, and its
    problems raised."""
    dk = _dask()
    done = dk.compute(*[dk.delayed(_write_part)(b, None, i, renames=None, keep=False, **where)
                        for i, b in enumerate(blocks)])
    verdict = _verdict(blocks, [survey for _, survey in done])
    if verdict.errors:
        for tmp, _ in done:
            out_fs.rm(tmp)
        _raise(verdict.errors, blocks)
    again = {i: dk.delayed(_write_part)(blocks[i], None, i, renames=r, **where)
             for i, r in enumerate(verdict.renames) if r}
    for i in again:
        out_fs.rm(done[i][0])
    rewritten = dict(zip(again, (name for name, _ in dk.compute(*again.values())),
                         strict=True))
    written: list[str] = []
    for i, (tmp, _) in enumerate(done):
        if i in rewritten:
            written.append(rewritten[i])
            continue
        final = f"{where['folder']}/{tmp.rsplit('/', 1)[-1][1:].removesuffix('.tmp')}"
        out_fs.mv(tmp, final)
        written.append(final)
    return written


# --- personalised digests ------------------------------------------------------------------------


def _subscriber_blocks(urlpath: str, blocksize: int | str | None,
                       ) -> tuple[bytes, list[_Block]]:
    """The header line of a subscribers CSV file, and its body in blocks of whole lines."""
    from fsspec.core import url_to_fs

    fs, path = url_to_fs(urlpath)
    with fs.open(path, "rb") as f:
        header = f.readline()
    total = fs.size(path)
    start = len(header)
    size = _spread(blocksize, total - start, most=1 << 20, least=16 << 10, blocks=AUTO_BLOCKS)
    blocks = [_Block(fs, path, "csv", off, min(size, total - off))
              for off in range(start, total, size)]
    return header, blocks


def _body(block: _Block) -> bytes:
    """The whole lines of a block of the rows after the header line.

    ``read_block`` starts after the first line break at or past the offset it is given: one
    byte back, the first block starts right after the header's line break.
    """
    from fsspec.utils import read_block

    with block.fs.open(block.path, "rb") as f:
        got: bytes = read_block(f, block.offset - 1, block.length, delimiter=b"\n")
        return got


def _mailbox(address: str | None) -> str:
    """The mailbox a row's address names (stripped, lower-cased; ``""`` for none)."""
    return (address or "").strip().lower()


def _hash(mailbox: str) -> int:
    """64 bits of a hash of a mailbox: what the driver finds repeats by."""
    import hashlib

    digest = hashlib.blake2b(mailbox.encode("utf-8", "surrogatepass"), digest_size=8).digest()
    return int.from_bytes(digest, "big")


def _rows_of(block: _Block, header: bytes) -> Iterator[dict[str, str]]:
    import csv
    import io

    return csv.DictReader(io.StringIO((header + _body(block)).decode("utf-8-sig"),
                                      newline=""))


def _subscriber_keys(block: _Block, header: bytes) -> tuple[int, bytes]:
    """How many rows a block has, and the sorted 64-bit hashes of their mailboxes (8 bytes
    a row: what goes back to the driver)."""
    import array

    rows = 0
    keys = array.array("Q")
    for row in _rows_of(block, header):
        rows += 1
        if mailbox := _mailbox(row.get("email")):
            keys.append(_hash(mailbox))
    return rows, array.array("Q", sorted(keys)).tobytes()


def _repeated_rows(block: _Block, header: bytes, repeats: frozenset[int],
                   ) -> list[tuple[int, str]]:
    """The rows (from 0 in the block) whose mailbox hash is in ``repeats``, with the mailbox."""
    return [(n, mailbox) for n, row in enumerate(_rows_of(block, header))
            if (mailbox := _mailbox(row.get("email"))) and _hash(mailbox) in repeats]


def _repeats(keys: Sequence[bytes]) -> frozenset[int]:
    """The hashes found more than once in the blocks' sorted hashes (one merge pass)."""
    import array
    import heapq

    def each(raw: bytes) -> array.array[int]:
        got = array.array("Q")
        got.frombytes(raw)
        return got

    repeats: set[int] = set()
    last = None
    for key in heapq.merge(*(each(k) for k in keys)):
        if key == last:
            repeats.add(key)
        last = key
    return frozenset(repeats)


#: Prepared runs in a worker, by the token of (collection, options) and thread: each block
#: of subscribers reuses the templates, CSS and headers rendered for the first (a run is
#: not shared between threads: each task gives it its own subscribers).
_RUNS: dict[tuple[str, int], Any] = {}


def _prepared_run(token: str, collection: Collection, options: Mapping[str, Any]) -> Any:
    import threading

    from storykit.digest import PersonalisedRun

    key = (token, threading.get_ident())
    run = _RUNS.get(key)
    if run is None:
        for other in [k for k in list(_RUNS) if k[0] != token]:  # one job's runs at a time
            _RUNS.pop(other, None)
        run = _RUNS[key] = PersonalisedRun(collection, [], options, keep_skipped=False)
    return run


def _digest_part(collection: Collection, token: str, block: _Block, header: bytes,
                 first: int, *, i: int, outbox: str, options: Mapping[str, Any],
                 ) -> tuple[int, int, int]:
    """Write the messages of one block of subscribers that are not in the outbox yet, and
    the block's part of the manifest (``.manifest-00000.csv``).

    Returns how many messages the block has, how many were written now, and how many
    subscribers were skipped: numbers, whatever the block's size.
    """
    import csv

    from fsspec.core import url_to_fs

    from storykit.digest import outbox_name, parse_subscribers

    text = (header + _body(block)).decode("utf-8-sig")
    try:
        subs = parse_subscribers(text, block.path)
    except ValidationError as e:  # rows of this block: the header is line 1, its first row 2
        raise ValidationError([_moved_row(d, first) for d in e.errors], block.path) from None
    del text
    run = _prepared_run(token, collection, options)
    run.subscribers = subs
    out_fs, folder = url_to_fs(outbox)
    wrote = messages = 0
    manifest = f"{folder}/.manifest-{i:05d}.csv"
    with out_fs.open(f"{manifest}.tmp", "w", newline="", encoding="utf-8") as listing:
        w = csv.writer(listing, lineterminator="\n")
        for msg in run:
            name = outbox_name(msg.subscriber.email)
            final = f"{folder}/{name}"
            w.writerow((msg.subscriber.email, name, msg.stories))
            messages += 1
            if out_fs.exists(final):  # a rerun after a crash: written before
                continue
            tmp = f"{folder}/.{name}.tmp"
            with out_fs.open(tmp, "wb") as f:
                f.write(msg.data)
            out_fs.mv(tmp, final)
            wrote += 1
    out_fs.mv(f"{manifest}.tmp", manifest)
    return messages, wrote, run.skipped_count


_ROW = re.compile(r"subscribers\[(\d+)\]")


def _moved_row(d: ErrorDetail, first: int) -> ErrorDetail:
    """``d``, found in a block whose first row is the file's row ``first`` (from 0)."""
    return attrs.evolve(d, path=_ROW.sub(lambda m: f"subscribers[{int(m[1]) + first}]", d.path),
                        line=None if d.line is None else d.line + first)


@attrs.frozen
class DigestReport:
    """What :func:`digests` did: messages in the outbox, written now, and skipped readers."""

    messages: int
    written: int
    skipped: int
    manifest: str


def digests(collection: Collection, subscribers_urlpath: str, outbox_urlpath: str, *,
            blocksize: int | str | None = None, **options: Any) -> DigestReport:
    """Write one personalised ``.eml`` per subscriber into the outbox, on the workers.

    The messages are byte-identical to :class:`storykit.digest.PersonalisedRun`'s on one
    machine, and the same subscribers are skipped (no story matches them). A rerun after a
    crash writes only the messages missing from the outbox. ``manifest.csv`` in the outbox
    lists address, file and story count for every message, in subscriber order.
    The subscribers file is cut into blocks of ``blocksize`` bytes of whole rows (by default
    1 MiB, smaller for a file under 32 MiB so that it makes :data:`AUTO_BLOCKS` blocks, none
    under 16 KiB).
    """
    dk = _dask()
    from dask.base import tokenize
    from fsspec.core import url_to_fs

    header, blocks = _subscriber_blocks(subscribers_urlpath, blocksize)
    # Repeated mailboxes first, across the whole file, before anything is written: the
    # workers send 8 bytes a row, the driver merges them (its memory: 8 bytes a subscriber).
    keys = dk.compute(*[dk.delayed(_subscriber_keys)(b, header) for b in blocks])
    firsts: list[int] = []
    row = 0
    for rows, _ in keys:
        firsts.append(row)
        row += rows
    repeats = _repeats([k for _, k in keys])
    del keys
    if repeats:
        found = dk.compute(*[dk.delayed(_repeated_rows)(b, header, repeats) for b in blocks])
        seen: dict[str, int] = {}
        errors: list[ErrorDetail] = []
        for first, block_rows in zip(firsts, found, strict=True):
            for n, key in block_rows:
                at = first + n
                if key in seen:
                    errors.append(ErrorDetail(f"subscribers[{at}].email",
                                              f"{key!r} is already on line {seen[key] + 2}",
                                              key, at + 2))
                seen.setdefault(key, at)
        if errors:  # (none: two mailboxes whose hashes met)
            raise ValidationError(errors, subscribers_urlpath)
    out_fs, folder = url_to_fs(outbox_urlpath)
    out_fs.makedirs(folder, exist_ok=True)
    # The collection goes to the cluster once (not in every task), and each worker prepares
    # the run once: the token names it.
    shared = dk.delayed(collection, pure=True)
    token = tokenize(collection, dict(options))
    parts = dk.compute(*[
        dk.delayed(_digest_part)(shared, token, b, header, first, i=i, outbox=outbox_urlpath,
                                 options=options)
        for i, (b, first) in enumerate(zip(blocks, firsts, strict=True))])
    messages = written = skipped = 0
    for sent, wrote, skips in parts:
        messages += sent
        written += wrote
        skipped += skips
    manifest = f"{folder}/manifest.csv"
    with out_fs.open(f"{manifest}.tmp", "wb") as out:
        out.write(b"email,file,stories\n")
        for i in range(len(blocks)):
            with out_fs.open(f"{folder}/.manifest-{i:05d}.csv", "rb") as part:
                while chunk := part.read(1 << 20):
                    out.write(chunk)
    out_fs.mv(f"{manifest}.tmp", manifest)
    for i in range(len(blocks)):
        out_fs.rm(f"{folder}/.manifest-{i:05d}.csv")
    return DigestReport(messages, written, skipped, manifest)
