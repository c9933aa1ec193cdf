"""Exporting an archive on the cluster: a part file per block, written by the workers."""

from __future__ import annotations

import contextlib
import shutil
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, BinaryIO

from storykit.dask.blocks import _Block, _blocks, _raise, _scan, _Survey, _verdict
from storykit.dask.cluster import _client, _dask

if TYPE_CHECKING:
    import dask.bag
    from fsspec import AbstractFileSystem

    from storykit.model import Story


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
    tmp = f"{out_path}.tmp"
    try:
        if isinstance(bag_or_urlpath, (str, Sequence)):
            written = _export_blocks(_blocks(bag_or_urlpath, blocksize, input_format),
                                     out_fs, where, joined=tmp if single_file else None)
        else:
            tasks = [dk.delayed(_write_part)(None, part, i, renames=None, **where)
                     for i, part in enumerate(bag_or_urlpath.to_delayed())]
            written = [name for name, _ in dk.compute(*tasks)]
            if single_file:
                with out_fs.open(tmp, "wb") as out:
                    for name in written:
                        _append(out_fs, name, out)
    except BaseException:
        if single_file:  # (what was written for the one file, not the file itself)
            for left in (tmp, folder):
                with contextlib.suppress(FileNotFoundError):
                    out_fs.rm(left, recursive=True)
        raise
    if not single_file:
        return written
    out_fs.mv(tmp, out_path)
    out_fs.rm(folder, recursive=True)
    return [out_path]


def _append(fs: AbstractFileSystem, name: str, out: BinaryIO) -> None:
    with fs.open(name, "rb") as part:
        shutil.copyfileobj(part, out, 1 << 20)


def _export_blocks(blocks: Sequence[_Block], out_fs: AbstractFileSystem,
                   where: Mapping[str, Any], *, joined: str | None) -> list[str]:
    """Each block read once: surveyed while its part is written under a temporary name.

    A valid archive's parts are moved into place (the few blocks whose derived ids the
    whole archive renumbers are written again); an invalid one's are deleted, and its
    problems raised. With ``joined`` (the one-file output) the parts are appended to that
    file instead, in order, each as soon as it and those before it are written (so the
    driver joins them while the workers write the rest); they are not moved, and the caller
    deletes them.
    """
    dk = _dask()
    tasks = [dk.delayed(_write_part)(b, None, i, renames=None, keep=False, **where)
             for i, b in enumerate(blocks)]
    done: list[tuple[str, _Survey | None] | None] = [None] * len(blocks)
    with contextlib.ExitStack() as stack:
        out = stack.enter_context(out_fs.open(joined, "wb")) if joined else None
        ready = 0
        for i, got in _as_done(tasks):
            done[i] = got
            while out is not None and ready < len(done) and (part := done[ready]) is not None:
                _append(out_fs, part[0], out)
                ready += 1
    parts: list[str] = []
    surveys: list[_Survey] = []
    for part in done:
        assert part is not None and part[1] is not None  # (a block's part has its survey)
        parts.append(part[0])
        surveys.append(part[1])
    verdict = _verdict(blocks, surveys)
    if verdict.errors:
        for tmp in parts:
            out_fs.rm(tmp)
        if joined:
            out_fs.rm(joined)
        _raise(verdict.errors, blocks)
    again = {i: dk.delayed(_write_part)(blocks[i], None, i, renames=r, keep=not joined,
                                        **where)
             for i, r in enumerate(verdict.renames) if r}
    for i in again:
        out_fs.rm(parts[i])
    for i, (name, _) in zip(again, dk.compute(*again.values()), strict=True):
        parts[i] = name
    if joined:
        if again:  # (the file is joined again, with the parts written again)
            with out_fs.open(joined, "wb") as out:
                for name in parts:
                    _append(out_fs, name, out)
        return parts
    written: list[str] = []
    for i, tmp in enumerate(parts):
        if i in again:
            written.append(tmp)
            continue
        final = f"{where['folder']}/{tmp.rsplit('/', 1)[-1][1:].removesuffix('.tmp')}"
        out_fs.mv(tmp, final)
        written.append(final)
    return written


def _as_done(tasks: Sequence[Any]) -> Iterator[tuple[int, Any]]:
    """``(i, result)`` of each of ``tasks``: as each finishes on a distributed cluster (the
    client in effect), else all at once from ``dask.compute``."""
    dk = _dask()
    client = _client()
    if client is None:
        yield from enumerate(dk.compute(*tasks))
        return
    from distributed import as_completed

    futures = client.compute(list(tasks))
    order = {f.key: i for i, f in enumerate(futures)}
    for future, result in as_completed(futures, with_results=True):
        yield order[future.key], result
