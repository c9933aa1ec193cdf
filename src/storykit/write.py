"""Writing: a collection through an exporter, to bytes (:func:`dumps`) or to a path
(:func:`dump`), atomically.

An exporter's ``output`` says what it writes: ``"stream"`` (the default: ``write(collection,
out, **options)`` to a binary stream), ``"file"`` or ``"folder"`` (``write_path(collection,
path, **options)``). Whatever it is, a failed write leaves the previous output as it was.
"""

from __future__ import annotations

import errno
import io
import os
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any, BinaryIO

from storykit.collection import Collection
from storykit.errors import PluginError, UnknownFormatError
from storykit.files import atomic_writer, check_output_path, fsync_folder, temp_path
from storykit.plugins import blamed_on

__all__ = ["SUFFIX_OPTIONS", "check_collection", "dump", "dump_with", "dumps",
           "exporter_and_options_for_path", "output_of", "write_with"]

PathLike = str | os.PathLike[str]


def output_of(exporter: Any) -> str:
    """What ``exporter`` writes: ``"stream"``, ``"file"`` or ``"folder"``."""
    output = getattr(exporter, "output", "stream")
    if output not in ("stream", "file", "folder"):
        raise _blame(exporter, f"has output {output!r}; it must be 'stream', 'file' or "
                               "'folder'")
    if output != "stream" and not callable(getattr(exporter, "write_path", None)):
        raise _blame(exporter, f"has output {output!r} but no write_path()")
    return str(output)


def _blame(exporter: Any, message: str) -> PluginError:
    from storykit.plugins import get_registry

    name = getattr(exporter, "name", type(exporter).__name__)
    info = get_registry().exporters.get(name)
    plugin, dist = ((info.plugin, info.distribution) if info is not None
                    else (type(exporter).__module__, None))
    return PluginError(plugin, f"format {name!r} {message}", distribution=dist)


def dumps(collection: Collection, format: str, **options: Any) -> bytes:
    """Render ``collection`` with the exporter registered for ``format``; return the bytes.

    A format that writes a folder (``output = "folder"``) raises ValueError: use :func:`dump`.
    Each format's ``options`` (name, type, default, meaning): ``storykit formats FORMAT``, or
    the "Formats and their options" reference page.
    """
    import tempfile

    from storykit.exporter import prepare_options
    from storykit.plugins import get_exporter

    exporter = get_exporter(format)
    kwargs = prepare_options(exporter, options)  # unknown or ill-typed options: OptionError
    output = output_of(exporter)
    if output == "folder":
        raise ValueError(f"format {exporter.name!r} writes a folder, not bytes: use "
                         f"storykit.dump(collection, folder, format={exporter.name!r})")
    if output == "file":
        check_collection(collection)
        with tempfile.TemporaryDirectory(prefix="storykit-") as tmp:
            path = Path(tmp) / f"output{exporter.suffix}"
            with blamed_on(exporter):
                exporter.write_path(collection, path, **kwargs)  # type: ignore[attr-defined]
            return path.read_bytes()
    buf = io.BytesIO()
    write_with(exporter, collection, buf, kwargs)
    return buf.getvalue()


def dump(collection: Collection, path: PathLike, format: str | None = None,
         **options: Any) -> Path:
    """Write ``collection`` to ``path``, atomically: the whole output or, on any failure, none.

    The format comes from ``format=`` or from the file's suffix. Parent folders are created. The
    exporter writes to a temporary file (or folder) beside the target, which then replaces it
    in one ``os.replace``; if anything fails the old output (if any) is left as it was, byte
    for byte, and no temporary file is left behind. A symbolic link at ``path`` is replaced,
    never written through. A file gets the permissions ``open()`` would give it (0666 less the
    umask). A format that writes a folder (``output = "folder"``) replaces the folder at
    ``path`` whole: the old one is moved aside, the new one renamed in, the old one removed.
    """
    return dump_with(collection, path, format, options)[0]


def dump_with(collection: Collection, path: PathLike, format: str | None,
              options: Mapping[str, Any]) -> tuple[Path, object]:
    """:func:`dump`, returning also what the exporter returned (a count of stories, or None)."""
    from storykit.exporter import prepare_options
    from storykit.plugins import get_exporter, get_registry

    check_collection(collection)  # before any folder is made
    exporter = get_exporter(format) if format is not None else None
    if exporter is not None and output_of(exporter) == "folder":
        target = check_output_path(os.fspath(path).rstrip("/" + os.sep) or os.fspath(path))
    else:
        target = check_output_path(path)
    if exporter is None:
        try:
            exporter, implied = exporter_and_options_for_path(get_registry(), target)
        except UnknownFormatError:
            if target.is_dir() and not target.is_symlink():  # ("outdir" has no suffix)
                raise IsADirectoryError(errno.EISDIR, "is a folder; give a file name",
                                        str(target)) from None
            raise
        options = {**implied, **options}
    kwargs = prepare_options(exporter, options)  # checked before anything is written
    output = output_of(exporter)
    if output == "stream":
        with atomic_writer(target) as out:
            result = write_with(exporter, collection, out, kwargs)
        return target, result
    return target, _write_path(exporter, collection, target, kwargs, folder=output == "folder")


def _write_path(exporter: Any, collection: Collection, target: Path,
                kwargs: Mapping[str, Any], *, folder: bool) -> object:
    """``exporter.write_path()`` to a temporary path beside ``target``, then moved into place.

    A file writer gets a path where nothing is yet; a folder writer gets an empty folder.
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    if folder and target.exists() and not target.is_dir():
        raise NotADirectoryError(errno.ENOTDIR, f"is not a folder (format {exporter.name!r} "
                                 "writes a folder)", str(target))
    if not folder and target.is_dir() and not target.is_symlink():
        raise IsADirectoryError(errno.EISDIR, "is a folder; give a file name", str(target))
    tmp = temp_path(target)
    old: Path | None = None
    try:
        if folder:
            tmp.mkdir()
        extra = {"target": target} if _takes_target(exporter) else {}
        with blamed_on(exporter):
            result = exporter.write_path(collection, tmp, **extra, **kwargs)
        if not (tmp.is_dir() if folder else tmp.is_file()):
            raise _blame(exporter, f"wrote no {'folder' if folder else 'file'} at the path "
                                   "write_path() was given")
        if folder and target.exists():
            old = temp_path(target)
            os.replace(target, old)  # (a folder cannot replace a folder in one rename)
            try:
                os.replace(tmp, target)
            except OSError:
                os.replace(old, target)
                old = None
                raise
        else:
            os.replace(tmp, target)
        fsync_folder(target.parent)
    finally:
        for leftover in (tmp, old):
            if leftover is not None and os.path.lexists(leftover):
                if leftover.is_dir() and not leftover.is_symlink():
                    shutil.rmtree(leftover, ignore_errors=True)
                else:
                    leftover.unlink(missing_ok=True)
    return result


def _takes_target(exporter: Any) -> bool:
    """Whether ``write_path`` takes ``target=``: the path its output will have once moved into
    place, for a writer that names something after it (a database's Datasette metadata)."""
    import inspect

    try:
        params = inspect.signature(exporter.write_path).parameters
    except (TypeError, ValueError):
        return False
    param = params.get("target")
    return param is not None and param.kind is inspect.Parameter.KEYWORD_ONLY


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
               options: Mapping[str, Any]) -> object:
    """Call ``exporter.write``, and return what it returns (a count of stories, or None); an
    unexpected exception becomes a :class:`PluginError`.

    The error names the plugin that registered the exporter and its distribution (the original
    exception is its ``__cause__``). storykit's own errors (options, validation, formats,
    plugins) and ``OSError`` (a full disk is not the plugin's fault) pass through unchanged.
    """
    check_collection(collection)  # not the exporter's fault: say so
    with blamed_on(exporter):
        return exporter.write(collection, out, **options)


def check_collection(collection: object) -> None:
    """Raise the TypeError that says what to pass if ``collection`` is not a Collection."""
    if not isinstance(collection, Collection):
        raise TypeError(f"expected a storykit.Collection, got {type(collection).__name__} "
                        "(make one with storykit.Collection(stories=...))")

