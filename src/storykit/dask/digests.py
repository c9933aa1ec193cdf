"""Personalised digests on the cluster: each block of subscribers rendered and written by a
worker, byte-identical to one process's run."""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Iterator, Mapping
from typing import TYPE_CHECKING, Any

import attrs

from storykit.dask.blocks import AUTO_BLOCKS, _Block, _spread
from storykit.dask.cluster import _dask
from storykit.dask.keys import hash_key as _hash
from storykit.dask.keys import repeats as _repeats
from storykit.dask.keys import sorted_keys
from storykit.errors import ErrorDetail, ValidationError

if TYPE_CHECKING:
    from storykit.collection import Collection
    from storykit.email.personalised import Message


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


def _rows_of(block: _Block, header: bytes) -> Iterator[dict[str, str]]:
    import csv
    import io

    return csv.DictReader(io.StringIO((header + _body(block)).decode("utf-8-sig"),
                                      newline=""))


def _subscriber_keys(block: _Block, header: bytes) -> tuple[int, bytes]:
    """How many rows a block has, and the sorted 64-bit hashes of their mailboxes (8 bytes
    a row: what goes back to the driver)."""
    rows = 0
    keys: list[int] = []
    for row in _rows_of(block, header):
        rows += 1
        if mailbox := _mailbox(row.get("email")):
            keys.append(_hash(mailbox))
    return rows, sorted_keys(keys)


def _repeated_rows(block: _Block, header: bytes, repeats: frozenset[int],
                   ) -> list[tuple[int, str]]:
    """The rows (from 0 in the block) whose mailbox hash is in ``repeats``, with the mailbox."""
    return [(n, mailbox) for n, row in enumerate(_rows_of(block, header))
            if (mailbox := _mailbox(row.get("email"))) and _hash(mailbox) in repeats]


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
                 keep: bool) -> tuple[int, int, int]:
    """Write the messages of one block of subscribers, and the block's part of the manifest
    (``.manifest-00000.csv``). With ``keep`` (the outbox had files when the job started), a
    message whose file is there already is not written again.

    Returns how many messages the block has, how many were written now, and how many
    subscribers were skipped: numbers, whatever the block's size.
    """
    import csv

    from fsspec.core import url_to_fs
    from fsspec.implementations.local import LocalFileSystem

    from storykit.digest import parse_subscribers
    from storykit.email.personalised import outbox_writes

    text = (header + _body(block)).decode("utf-8-sig")
    try:
        subs = parse_subscribers(text, block.path)
    except ValidationError as e:  # rows of this block: the header is line 1, its first row 2
        raise ValidationError([_moved_row(d, first) for d in e.errors], block.path) from None
    del text
    run = _prepared_run(token, collection, options)
    run.subscribers = subs
    out_fs, folder = url_to_fs(outbox)
    # The driver found no mailbox twice in the whole file: no hash kept here.
    # (flushed once at the end of the job, as one process does: see _flush)
    writes = (outbox_writes(run, folder, keep=keep, unique=True, flush=False)
              if isinstance(out_fs, LocalFileSystem)  # the one process's writer, as is
              else _fs_writes(run, out_fs, folder, keep=keep))
    wrote = messages = 0
    manifest = f"{folder}/.manifest-{i:05d}.csv"
    with out_fs.open(f"{manifest}.tmp", "w", newline="", encoding="utf-8") as listing:
        w = csv.writer(listing, lineterminator="\n")
        for msg, name, now in writes:
            w.writerow((msg.subscriber.email, name, msg.stories))
            messages += 1
            wrote += now
    out_fs.mv(f"{manifest}.tmp", manifest)
    return messages, wrote, run.skipped_count


def _fs_writes(messages: Iterable[Message], fs: Any, folder: str, *, keep: bool,
               ) -> Iterator[tuple[Message, str, bool]]:
    """:func:`~storykit.email.personalised.outbox_writes` on an fsspec file system that is not
    local: each file written to a temporary name, then moved into place."""
    from storykit.digest import outbox_name

    for msg in messages:
        name = outbox_name(msg.subscriber.email)
        final = f"{folder}/{name}"
        if keep and fs.exists(final):
            yield msg, name, False
            continue
        tmp = f"{folder}/.{name}.tmp"
        with fs.open(tmp, "wb") as f:
            f.write(msg.data)
        fs.mv(tmp, final)
        yield msg, name, True


def _flush(fs: Any) -> None:
    """A local outbox on disk when the job returns, as one process leaves it: ``os.sync()``
    once on each worker (a flush a block would also flush, again and again, what everything
    else on the machine has written)."""
    from fsspec.implementations.local import LocalFileSystem

    if not isinstance(fs, LocalFileSystem) or not hasattr(os, "sync"):
        return
    try:
        from distributed import get_client

        client = get_client()
    except (ImportError, ValueError):  # no cluster: the blocks were written here
        os.sync()
        return
    client.run(os.sync)


def _has_files(fs: Any, folder: str) -> bool:
    from fsspec.implementations.local import LocalFileSystem

    if isinstance(fs, LocalFileSystem):  # (one entry read, not a million)
        with os.scandir(folder) as entries:
            return next(entries, None) is not None
    return bool(fs.ls(folder, detail=False))


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
    crash writes only the messages missing from the outbox. A local outbox is flushed to disk
    (``os.sync()`` on each worker) before it returns, as one process's is. ``manifest.csv``
    in the outbox lists address, file and story count for every message, in subscriber
    order.
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
    # A rerun (the outbox has files) looks for each message's file before writing it; a
    # first run does not.
    keep = _has_files(out_fs, folder)
    # The collection goes to the cluster once (not in every task), and each worker prepares
    # the run once: the token names it.
    shared = dk.delayed(collection, pure=True)
    token = tokenize(collection, dict(options))
    parts = dk.compute(*[
        dk.delayed(_digest_part)(shared, token, b, header, first, i=i, outbox=outbox_urlpath,
                                 options=options, keep=keep)
        for i, (b, first) in enumerate(zip(blocks, firsts, strict=True))])
    _flush(out_fs)
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
