"""Helpers shared by the command modules: errors, options, the plugin registry, output."""

from __future__ import annotations

import functools
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, BinaryIO, NoReturn, TypeVar

import click

from storykit.errors import OptionError, PluginError, UnknownFormatError, ValidationError

__all__ = [
    "USER_ERRORS",
    "Context",
    "check_descriptor",
    "check_size",
    "exporter_for",
    "fail",
    "handle_errors",
    "parse_options",
    "plugins_dir_option",
    "reader_gone",
    "stdout_buffer",
    "to_folder",
    "warn",
    "write_output",
    "write_with_exporter",
]

F = TypeVar("F", bound=Callable[..., Any])

#: Errors that mean "the input or the request was wrong": exit 1 with a one-line message.
USER_ERRORS = (ValidationError, UnknownFormatError, OptionError, PluginError, FileNotFoundError,
               NotADirectoryError, IsADirectoryError, PermissionError)


def fail(message: str, code: int = 1) -> NoReturn:
    """Print ``storykit: error: message`` (one line per line of ``message``) and exit."""
    click.echo(f"storykit: error: {message}", err=True)
    sys.exit(code)


def stdout_buffer() -> BinaryIO:
    """Standard output, binary; a closed one (``>&-``) is a one-line error (exit 1)."""
    if sys.stdout is None:
        fail("standard output is closed: give -o FILE")
    return sys.stdout.buffer


def reader_gone() -> NoReturn:
    """Exit 0: the reader of standard output went away (``storykit export ... -o - | head``),
    which is not an error. Standard output is pointed at ``/dev/null`` first, so that Python's
    last flush at exit cannot fail again."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    sys.exit(0)


def warn(message: str) -> None:
    click.echo(f"storykit: warning: {message}", err=True)


class Context:
    """What the group's options give every command: ``--debug`` and ``--plugins-dir``."""

    def __init__(self, debug: bool, plugins_dirs: Sequence[Path]) -> None:
        self.debug = debug
        self.plugins_dirs = tuple(plugins_dirs)
        self._registry: Any = None

    def add_plugins_dirs(self, folders: Sequence[Path]) -> None:
        """Folders from a command's own ``--plugins-dir``, loaded with the group's."""
        self.plugins_dirs += tuple(folders)

    def registry(self) -> Any:
        """The default registry, with any ``--plugins-dir`` folders added; errors reported."""
        if self._registry is None:
            from storykit.plugins import get_registry

            reg = get_registry()
            for folder in self.plugins_dirs:
                reg.add_plugins_dir(folder)
            reg.exporters  # noqa: B018 - collect now, so plugin problems are reported once
            for err in reg.errors:
                warn(str(err))
            self._registry = reg
        return self._registry


def handle_errors(fn: F) -> F:
    """Turn storykit's errors into ``storykit: error: ...`` and exit 1 (traceback: --debug)."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        ctx = click.get_current_context()
        obj = ctx.find_object(Context)
        debug = obj.debug if obj is not None else False
        try:
            return fn(*args, **kwargs)
        except USER_ERRORS as e:
            if debug:
                raise
            if isinstance(e, (UnknownFormatError, OptionError)):
                fail(str(e), 2)  # a format or an option that does not exist: a usage error
            if isinstance(e, ValidationError):
                fail(str(e))
            if isinstance(e, OSError) and e.filename is not None and e.strerror:
                fail(f"{e.filename}: {e.strerror}")
            fail(str(e))
        except OSError as e:
            if isinstance(e, BrokenPipeError):  # (click itself would exit 1)
                reader_gone()
            if debug:
                raise
            fail(f"{e.filename or ''}{': ' if e.filename else ''}{e.strerror or e}")
        except (click.ClickException, click.exceptions.Exit, click.Abort):
            raise
        except Exception as e:
            if debug:
                raise
            text = " ".join(str(e).split())
            fail(f"{type(e).__name__}{': ' if text else ''}{text} "
                 "(run with --debug for the traceback)")

    return wrapper  # type: ignore[return-value]


def parse_options(pairs: Sequence[str]) -> dict[str, str]:
    """``-O key=value`` pairs as a dict; ``-`` in keys reads as ``_`` (``-O page-size=2``)."""
    options: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise click.BadParameter(f"{pair!r} is not key=value", param_hint="'-O'")
        options[key.strip().replace("-", "_")] = value
    return options


_PLUGINS_DIR_HELP = "A folder of one-file plugins to load (may be repeated)."


def plugins_dir_option(fn: F) -> F:
    """``--plugins-dir`` on a command too, so it may follow the command's name."""
    return click.option("--plugins-dir", "command_plugins_dirs", multiple=True,
                        type=click.Path(exists=True, file_okay=False, path_type=Path),
                        help=_PLUGINS_DIR_HELP)(fn)


def check_size(source: Path, needs: str) -> None:
    """Fail, saying what works instead, if ``source`` is too big to be read whole (which
    ``load()`` would refuse with a hint for Python, ``max_bytes=``); ``needs`` says who reads
    it whole ("the html format needs")."""
    import storykit.io
    from storykit.io import streamable

    try:
        size = source.stat().st_size if source.is_file() else 0
    except OSError:
        return  # (load() says what is wrong with it)
    if size <= storykit.io.MAX_BYTES:
        return
    instead = ("; JSON Lines and CSV are streamed at any size to the csv and json formats, "
               "and storykit digest keeps only a window's stories" if streamable(source)
               else "; save the archive as JSON Lines or CSV to stream it")
    fail(f"{source} is {size:,} bytes, more than the {storykit.io.MAX_BYTES:,} of a file read "
         f"whole, which {needs}{instead}")


def exporter_for(obj: Context, fmt: str | None, output: str | None,
              options: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
    """The exporter of ``fmt`` (or of ``output``'s suffix) and its checked options.

    A format or an option that does not exist is a usage error (exit 2), reported before any
    input is read.
    """
    from storykit.exporter import prepare_options
    from storykit.io import exporter_and_options_for_path

    if output in (None, "-"):
        if fmt is None:
            raise click.UsageError("give --format when writing to standard output")
        stdout_buffer()  # (closed: said before anything is read)
    else:
        check_descriptor(output)
    if fmt is None and to_folder(str(output)):
        fail(f"-o {output} is a folder: give --format (the html format writes its pages there, "
             "with -O page_size=N), or a file name with a suffix such as .html", 2)
    if fmt is None and "." not in Path(str(output)).name:
        fail(f"-o {output} has no suffix to tell the format: give --format, or a name with a "
             "suffix such as .html (see `storykit formats`)", 2)
    reg = obj.registry()
    try:
        if fmt is not None:
            exporter = reg.get(fmt)
        else:  # (out.jsonl: the json format, -O shape=lines unless -O says otherwise)
            exporter, implied = exporter_and_options_for_path(reg, str(output))
            options = {**implied, **options}
        return exporter, prepare_options(exporter, options)
    except (UnknownFormatError, OptionError) as e:
        if obj.debug:
            raise
        fail(str(e), 2)


def write_output(obj: Context, col: Any, fmt: str | None, output: str | None,
           options: dict[str, Any]) -> None:
    """Export ``col`` to ``output`` (``-`` or none: stdout) in ``fmt``."""
    exporter, kwargs = exporter_for(obj, fmt, output, options)
    write_with_exporter(col, exporter, kwargs, output)


def write_with_exporter(col: Any, exporter: Any, kwargs: dict[str, Any],
                        output: str | None) -> None:
    from storykit.io import atomic_writer, write_with

    if output in (None, "-"):
        out = stdout_buffer()
        write_with(exporter, col, out, kwargs)
        out.flush()
        return
    if to_folder(output):
        # A folder: formats that write several files (html with page_size) write them there.
        write_pages = getattr(exporter, "write_pages", None)
        if write_pages is None:
            fail(f"{output} is a folder; the {exporter.name} format writes one file "
                 "(give a file name)", 2)
        written = write_pages(col, output, **kwargs)
        click.echo(f"wrote {len(written)} {'page' if len(written) == 1 else 'pages'} in "
                   f"{output} ({exporter.name}, {len(col)} "
                   f"{'story' if len(col) == 1 else 'stories'})", err=True)
        return
    with atomic_writer(output) as f:
        write_with(exporter, col, f, kwargs)
    click.echo(f"wrote {output} ({exporter.name}, {len(col)} "
               f"{'story' if len(col) == 1 else 'stories'})", err=True)


def check_descriptor(output: str) -> None:
    """Fail if ``output`` names a closed descriptor (``-o /dev/stdout`` with standard output
    closed), before anything is read: the descriptor could be given to the command's own
    temporary file, which would then be copied into itself."""
    import re

    name = os.path.abspath(output)
    target = os.readlink(name) if os.path.islink(name) else name
    found = re.fullmatch(r"/(?:dev/fd|proc/self/fd)/([0-9]+)", target)
    if found is None:
        return
    try:
        os.fstat(int(found[1]))
    except OSError:
        fail(f"-o {output}: descriptor {found[1]} is closed")


def to_folder(output: str) -> bool:
    return output.endswith(("/", os.sep)) or Path(output).is_dir()
