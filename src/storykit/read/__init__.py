"""Reading: a file, a folder or bytes into a :class:`~storykit.Collection`, by a reader.

Readers are plugins, registered through the hook ``register_readers()`` (the built-in ``json``,
``jsonl``, ``toml``, ``csv`` and ``tsv`` too, from the modules of this package). :func:`load`
picks one by ``format``, else by the file's suffix (a folder: the reader whose ``input`` is
``"folder"``), else by what the first bytes look like (``sniff``).
"""

from __future__ import annotations

import contextlib
import errno
import gc
import os
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

from storykit import _rules as rules
from storykit.collection import Collection
from storykit.errors import UnknownFormatError, ValidationError
from storykit.model import Story
from storykit.read.decode import fail

if TYPE_CHECKING:
    from storykit.read.protocol import Reader

__all__ = ["MAX_BYTES", "SNIFF_BYTES", "a_folder", "format_of", "load", "loads", "reader_for",
           "reader_named", "readers"]

#: The largest document :func:`load` reads unless told otherwise (bytes).
MAX_BYTES = 512 * 1024 * 1024

#: The most read in one call past a file's size on disk (bytes): it may have grown since.
_CHUNK = 16 * 1024 * 1024
#: How many first bytes of a file of unknown type the readers' ``sniff()`` are shown.
SNIFF_BYTES = 4096

PathLike = str | os.PathLike[str]


def readers() -> dict[str, Reader]:
    """Every usable reader, ``{name: reader}`` (the built-in ones and the plugins')."""
    from storykit.plugins import get_registry

    return get_registry().readers()


def reader_for(path: PathLike, format: str | None = None) -> Reader:
    """The reader for ``path``: the one named ``format``; else the one whose suffix the file
    name ends with (a folder: the one whose ``input`` is ``"folder"``); else the first whose
    ``sniff()`` recognises the first bytes. Else :class:`~storykit.UnknownFormatError`."""
    from storykit.plugins import get_registry

    registry = get_registry()
    if format is not None:
        return reader_named(format)
    p = Path(path)
    if p.is_dir():
        folder = registry.folder_reader()
        if folder is None:
            raise a_folder(path)
        return folder
    found = registry.reader_for_path(p)
    if found is not None:
        return found
    if p.is_file():
        with p.open("rb") as f:
            head = f.read(SNIFF_BYTES)
        found = registry.reader_for_head(head)
        if found is not None:
            return found
    raise UnknownFormatError(p.suffix or p.name, registry.reader_suffixes(),
                             kind="input file type", problems=registry.errors)


def reader_named(format: object) -> Reader:
    """The reader named ``format`` (in any case: ``JSON``); else the error naming the readers."""
    from storykit.plugins import get_registry

    registry = get_registry()
    if not isinstance(format, str):
        names = ", ".join(info.name for info in registry.readers_in_order())
        raise TypeError(f"format must be a str, one of {names} (got {type(format).__name__})")
    return registry.reader(format, kind="input format")


def format_of(path: PathLike, format: str | None = None) -> str:
    """The name of the reader of ``path`` (see :func:`reader_for`)."""
    if format is not None:  # (any case, as dumps() takes it: "JSONL")
        return format.lower() if isinstance(format, str) else format
    return reader_for(path).name


def load(path: PathLike, format: str | None = None, *, max_bytes: int = MAX_BYTES,
         where: Callable[[Story], bool] | None = None, **options: Any) -> Collection:
    """Read a collection from a file (``.json``, ``.jsonl``, ``.toml``, ``.csv``, ``.tsv``, or
    any type a reader plugin reads) or a folder that a reader reads.

    The reader is the one named ``format``, else the one for the file's suffix, else the one
    that recognises the file's first bytes (:func:`storykit.readers` lists them); ``options``
    are the reader's own (its ``options_type``). Every problem in the file is reported at once
    in one :class:`~storykit.ValidationError`; nothing is returned half-loaded. ``max_bytes``
    (a positive int) bounds the size of a file read whole; only what the file holds is read,
    however high the bound.

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
    from storykit.exporter import prepare_options

    max_bytes = rules.whole(max_bytes, "max_bytes must be a positive int, a number of bytes")
    if max_bytes < 1:
        raise ValueError(f"max_bytes must be a positive int, a number of bytes (got int "
                         f"{max_bytes})")
    p = Path(path)
    source = str(path)
    if where is not None and not callable(where):  # (as filter() says it: before reading)
        from storykit.collection import matcher

        matcher(where=where)
    try:
        reader = reader_for(p, format)
    except FileNotFoundError:
        raise FileNotFoundError(f"no such file: {source}") from None
    kwargs = prepare_options(reader, options)  # (checked before anything is read)
    if getattr(reader, "input", "stream") == "folder":
        if not p.is_dir():
            raise NotADirectoryError(errno.ENOTDIR, f"the {reader.name} reader reads a folder",
                                     source)
        return _read_with(reader, p, kwargs, where if _handles_where(reader) else None,
                          where)
    if p.is_dir():
        raise a_folder(path)
    if getattr(reader, "input", "stream") == "path":  # a reader that opens the file itself
        if not p.is_file():
            raise FileNotFoundError(f"no such file: {source}")
        return _read_with(reader, p, kwargs, where if _handles_where(reader) else None,
                          where)
    if where is not None and _handles_where(reader) and p.is_file():
        with _collector_paused(), open(source, "rb") as f:
            return _read_with(reader, f, kwargs, where, where)
    read_data = getattr(reader, "read_data", None)
    try:
        size = p.stat().st_size
    except FileNotFoundError:
        raise FileNotFoundError(f"no such file: {source}") from None
    if read_data is None or kwargs:  # the reader reads the file itself
        with _collector_paused(), open(source, "rb") as f:
            return _read_with(reader, f, kwargs, None, where)
    if size > max_bytes:
        raise _too_big(size, max_bytes, source)
    with p.open("rb") as f:
        data = _read_at_most(f, max_bytes + 1, size)
    if len(data) > max_bytes:
        raise _too_big(len(data), max_bytes, source)
    with _collector_paused():
        col: Collection = read_data(data, source)
    return col if where is None else col.filter(where=where)


def _handles_where(reader: Reader) -> bool:
    return getattr(reader, "handles_where", False) is True


def _read_with(reader: Reader, source: Any, kwargs: Mapping[str, Any],
               pass_on: Callable[[Story], bool] | None,
               where: Callable[[Story], bool] | None = None) -> Collection:
    """``reader.read(source, **kwargs)`` (and ``where=pass_on``, if given), then the stories
    ``where`` keeps, unless it was passed on. An unexpected exception of a plugin's reader is a
    :class:`~storykit.PluginError` naming it; what it returns must be a collection."""
    from storykit.errors import PluginError
    from storykit.plugins import blamed_on

    failed: list[Exception] = []  # where's own error, which is not the reader's fault

    def checked_where(story: Story) -> bool:
        assert pass_on is not None
        try:
            return pass_on(story)
        except Exception as e:
            failed.append(e)
            raise

    try:
        with blamed_on(reader):
            got = (reader.read(source, **kwargs) if pass_on is None
                   else reader.read(source, where=checked_where, **kwargs))
    except PluginError as e:
        if failed and e.__cause__ is failed[-1]:
            raise failed[-1]  # noqa: B904 - (as where raised it, its traceback kept)
        raise
    if not isinstance(got, Collection):
        from storykit.plugins import get_registry

        info = get_registry().reader_info(reader)
        raise PluginError(info[0], f"reader {reader.name!r} returned "
                          f"{type(got).__name__}, not a storykit.Collection",
                          distribution=info[1])
    return got if where is None or pass_on is not None else got.filter(where=where)


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
    while got < limit and (more := f.read(min(limit - got, _CHUNK))):
        parts.append(more)
        got += len(more)
    return b"".join(parts)


def a_folder(path: PathLike) -> IsADirectoryError:
    """The error for a folder given where a content file is read (whatever its name)."""
    return IsADirectoryError(errno.EISDIR, "is a folder, not a content file", str(path))


def _too_big(size: int, limit: int, source: str) -> ValidationError:
    return fail(f"the file is {size:,} bytes; the limit is {limit:,} bytes "
                "(max_bytes=, default storykit.read.MAX_BYTES)", source, size)


def loads(data: str | bytes, format: str = "json", *, source: str | None = None,
          **options: Any) -> Collection:
    """Read a collection from a string or bytes in ``format``: the name of a reader (json,
    jsonl, toml, csv, tsv, or a plugin's; :func:`storykit.readers` lists them).

    ``data`` may be any bytes-like object (``bytearray``, ``memoryview``); anything else that
    is not a str raises TypeError. ``format`` is taken in any case (``"JSON"``), as
    :func:`dumps` takes it. ``source`` names the data in error messages; ``options`` are the
    reader's own. A reader of folders cannot read bytes: ValueError.
    """
    from storykit.exporter import prepare_options

    if not isinstance(data, (str, bytes)):
        data = _bytes_like(data)
    reader = reader_named(format)
    kwargs = prepare_options(reader, options)
    if getattr(reader, "input", "stream") == "folder":
        raise ValueError(f"the {reader.name!r} reader reads a folder, not bytes: use "
                         "storykit.load(path)")
    read_data = getattr(reader, "read_data", None)
    with _collector_paused():
        if read_data is not None and not kwargs:
            col: Collection = read_data(data, source)
            return col
        import io

        stream = io.BytesIO(data.encode("utf-8", "surrogatepass") if isinstance(data, str)
                            else data)
        stream.name = source  # (named in messages, as a file is)
        return _read_with(reader, stream, kwargs, None)


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

