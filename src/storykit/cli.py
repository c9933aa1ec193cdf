"""The command line: ``storykit validate | export | formats | digest | send``.

Exit codes: 0 success, 1 invalid input (the problems on stderr), 2 usage errors, 130 when
interrupted (Ctrl-C). Errors are one line each, without a traceback unless ``--debug`` is given.
"""

from __future__ import annotations

import functools
import os
import signal
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, BinaryIO, NoReturn, TypeVar

import click

from storykit.errors import OptionError, PluginError, UnknownFormatError, ValidationError

F = TypeVar("F", bound=Callable[..., Any])

#: The exit status after Ctrl-C: 128 + SIGINT, as a shell reports an interrupted command.
INTERRUPTED = 130
#: The exit status after SIGTERM (128 + 15), as a shell reports a command it terminated.
TERMINATED = 143

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


class StorykitGroup(click.Group):
    """click's group, with usage errors in storykit's one-line form (exit 2)."""

    def main(self, args: Sequence[str] | None = None, prog_name: str | None = None,
             complete_var: str | None = None, standalone_mode: bool = True,
             **extra: Any) -> Any:
        if not standalone_mode:
            return super().main(args, prog_name, complete_var, standalone_mode, **extra)
        previous = _stop_on_sigterm()
        try:
            rv = super().main(args, prog_name, complete_var, False, **extra)
        except click.UsageError as e:
            hint = f" (see '{e.ctx.command_path} --help')" if e.ctx is not None else ""
            click.echo(f"storykit: error: {e.format_message()}{hint}", err=True)
            sys.exit(e.exit_code)
        except click.ClickException as e:
            click.echo(f"storykit: error: {e.format_message()}", err=True)
            sys.exit(e.exit_code)
        except click.Abort:  # Ctrl-C: click turns KeyboardInterrupt into Abort
            click.echo("storykit: error: aborted", err=True)
            sys.exit(INTERRUPTED)
        except BrokenPipeError:
            reader_gone()
        except _Terminated:
            click.echo("storykit: error: terminated", err=True)
            sys.exit(TERMINATED)
        finally:
            if previous is not None:
                signal.signal(signal.SIGTERM, previous)
        sys.exit(rv if isinstance(rv, int) else 0)


class _Terminated(BaseException):
    """SIGTERM, raised in the main thread: the command stops as on Ctrl-C, cleaning up (worker
    processes, temporary files) on the way out, instead of dying where it stands."""


def _stop_on_sigterm() -> Any:
    """Make SIGTERM raise :class:`_Terminated`; return the handler it had (None when this is
    not the main thread, which alone can set one)."""
    import threading

    if threading.current_thread() is not threading.main_thread():
        return None

    def stop(signum: int, frame: object) -> None:
        raise _Terminated

    if signal.getsignal(signal.SIGTERM) is signal.SIG_IGN:
        return None  # (a parent that ignores SIGTERM for its children is obeyed)
    return signal.signal(signal.SIGTERM, stop)


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


def version_string() -> str:
    """The installed storykit's version."""
    from importlib.metadata import version

    return version("storykit")


_PLUGINS_DIR_HELP = "A folder of one-file plugins to load (may be repeated)."


def plugins_dir_option(fn: F) -> F:
    """``--plugins-dir`` on a command too, so it may follow the command's name."""
    return click.option("--plugins-dir", "command_plugins_dirs", multiple=True,
                        type=click.Path(exists=True, file_okay=False, path_type=Path),
                        help=_PLUGINS_DIR_HELP)(fn)


@click.group(cls=StorykitGroup,
             context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(package_name="storykit", prog_name="storykit")
@click.option("--plugins-dir", "plugins_dirs", multiple=True,
              type=click.Path(exists=True, file_okay=False, path_type=Path),
              help=_PLUGINS_DIR_HELP)
@click.option("--debug", is_flag=True, help="Show tracebacks instead of one-line errors.")
@click.pass_context
def main(ctx: click.Context, plugins_dirs: tuple[Path, ...], debug: bool) -> None:
    """storykit: validate news stories and export them to HTML, JSON, CSV, email and more.

    \b
    Examples:
      storykit validate content/*.json
      storykit export stories.json --format html -o build/index.html
      storykit --plugins-dir my-plugins/ formats
    """
    ctx.obj = Context(debug, plugins_dirs)


@main.command()
@click.argument("sources", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("-j", "--jobs", type=click.IntRange(min=0), default=None, metavar="N",
              help="Worker processes for a JSON Lines file (0: one per CPU; 1: one process). "
                   "Same verdict, sooner. Default: 2 for a file of 32 MiB or more when 2 CPUs "
                   "are free, else 1.")
@click.pass_obj
@handle_errors
def validate(obj: Context, sources: tuple[Path, ...], jobs: int | None) -> None:
    """Check content files; report every problem in each, one per line.

    JSON Lines, CSV and TSV files are checked a story at a time, whatever their size, holding
    only a hash of each id (8 bytes a story); a JSON Lines file of 32 MiB or more is split
    between two worker processes unless --jobs says otherwise. Exits 0 when every file is
    valid, 1 otherwise.

    \b
    Example:
      storykit validate examples/impact-and-people/stories.json
    """
    from storykit.io import check_stream, load, streamable

    bad = 0
    for src in sources:
        try:
            if streamable(src) and src.is_file():  # any size, a story at a time
                n = check_stream(src, jobs=_default_jobs(src) if jobs is None else jobs)
                contacts = 0
            else:
                col = load(src)
                n, contacts = len(col), len(col.contacts)
        except (ValidationError, UnknownFormatError, OSError) as e:
            bad += 1
            if obj.debug:
                raise
            problem = (f"{e.filename}: {e.strerror}" if isinstance(e, OSError) and e.filename
                       and e.strerror else str(e))
            click.echo(f"storykit: error: {problem}", err=True)
            continue
        click.echo(f"{src}: ok ({n} {'story' if n == 1 else 'stories'}, "
                   f"{contacts} {'contact' if contacts == 1 else 'contacts'})")
    if bad:
        sys.exit(1)


def _exporter(obj: Context, fmt: str | None, output: str | None,
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
        _check_descriptor(output)
    if fmt is None and _to_folder(str(output)):
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


def _write(obj: Context, col: Any, fmt: str | None, output: str | None,
           options: dict[str, Any]) -> None:
    """Export ``col`` to ``output`` (``-`` or none: stdout) in ``fmt``."""
    exporter, kwargs = _exporter(obj, fmt, output, options)
    _write_with(col, exporter, kwargs, output)


def _write_with(col: Any, exporter: Any, kwargs: dict[str, Any], output: str | None) -> None:
    from storykit.io import atomic_writer, write_with

    if output in (None, "-"):
        out = stdout_buffer()
        write_with(exporter, col, out, kwargs)
        out.flush()
        return
    if _to_folder(output):
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


def _check_descriptor(output: str) -> None:
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


def _to_folder(output: str) -> bool:
    return output.endswith(("/", os.sep)) or Path(output).is_dir()


@main.command()
@click.argument("source", type=click.Path(dir_okay=False, path_type=Path))
@click.option("-f", "--format", "fmt", metavar="FORMAT",
              help="Output format (see `storykit formats`); default: from -o's suffix.")
@click.option("-o", "--output", metavar="PATH", help="Output file, or - for stdout (default).")
@click.option("-O", "--option", "options", multiple=True, metavar="KEY=VALUE",
              help="An exporter option, e.g. -O page_size=10 (may be repeated).")
@click.option("-j", "--jobs", type=click.IntRange(min=0), default=None, metavar="N",
              help="Worker processes for a JSON Lines file exported to csv or to json with "
                   "-O shape=lines (0: one per CPU; 1: one process). Same output, sooner. "
                   "Default: 2 for a file of 32 MiB or more when 2 CPUs are free, else 1.")
@plugins_dir_option
@click.pass_obj
@handle_errors
def export(obj: Context, source: Path, *, fmt: str | None, output: str | None,
           options: tuple[str, ...], jobs: int | None,
           command_plugins_dirs: tuple[Path, ...]) -> None:
    """Export a content file to any registered format.

    The file is written atomically: the whole output, or on any error none (an existing file
    is left as it was). A device or a pipe (/dev/null, /dev/stdout, a FIFO) is written into.

    \b
    Examples:
      storykit export stories.json --format html -o build/index.html
      storykit export stories.json -o partners.csv -O bom=true
      storykit export stories.jsonl --format json -O shape=lines -o - | head
      storykit export archive.jsonl -o archive.csv --jobs 0
      storykit export stories.json --plugins-dir my-plugins/ --format markdown -o out.md
      storykit export stories.json --format html -O page_size=10 -o build/site/

    A folder as -o (ending in /) makes the html format write every page there: index.html,
    page-2.html, ... linked by rel=prev/next. An output named .jsonl or .ndjson is JSON Lines
    (json with -O shape=lines), and .tsv is csv with tabs, as storykit reads them.

    JSON Lines and CSV files exported in the csv or json format are streamed in constant
    memory (to standard output, a pipe or a device through a temporary file, so that they too
    get the whole output or nothing). --jobs splits a JSON Lines file of 4 MiB or more among
    worker processes when the output is csv or JSON Lines; the output and the errors are the
    same. A file of 32 MiB or more gets two workers unless --jobs says otherwise.
    """
    from storykit.io import atomic_writer, is_stream_target, load, stream_export, streamable

    obj.add_plugins_dirs(command_plugins_dirs)
    exporter, kwargs = _exporter(obj, fmt, output, parse_options(options))
    if jobs is None:
        jobs = _default_jobs(source)
    if (streamable(source) and getattr(exporter, "streams", False)
            and (output is None or not _to_folder(output))):
        # JSON Lines or CSV in, a streaming format out: in constant memory.
        if output in (None, "-") or is_stream_target(output):
            # Standard output, a pipe or a device gets the whole output or nothing, as a file
            # does (stream_export may start over, and a problem voids it): it is made in a
            # temporary file first, then copied.
            import shutil
            import tempfile

            with tempfile.TemporaryFile() as tmp:
                n = stream_export(source, exporter, tmp, jobs=jobs, **kwargs)
                tmp.seek(0)
                if output in (None, "-"):
                    out = stdout_buffer()
                    shutil.copyfileobj(tmp, out, 1 << 20)
                    out.flush()
                    return
                with atomic_writer(output) as f:
                    shutil.copyfileobj(tmp, f, 1 << 20)
        else:
            with atomic_writer(output) as f:
                n = stream_export(source, exporter, f, jobs=jobs, **kwargs)
        click.echo(f"wrote {output} ({exporter.name}, {n} {'story' if n == 1 else 'stories'})",
                   err=True)
        return
    _check_size(source, f"the {exporter.name} format needs")
    _write_with(load(source), exporter, kwargs, output)


#: The smallest file ``storykit export`` and ``validate`` give two workers when ``--jobs`` is
#: not given (bytes): about 40,000 stories, a second's work for one process; below it the
#: workers' start (a fresh interpreter each) costs about what they save.
AUTO_JOBS_MIN_BYTES = 32 * 1024 * 1024


def _default_jobs(source: Path) -> int:
    """``--jobs`` when it is not given: 2 for a big file when 2 CPUs are free, else 1.

    Two, not one per CPU: two workers and the reading process keep a million stories under
    150 MB together, and more workers would each add their own interpreter's memory.
    """
    from storykit import _parallel

    try:
        big = source.stat().st_size >= AUTO_JOBS_MIN_BYTES
    except OSError:  # (missing, unreadable: the export reports it)
        return 1
    return min(2, _parallel.workers(0)) if big else 1


def _check_size(source: Path, needs: str) -> None:
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


@main.command()
@click.option("--json", "as_json", is_flag=True, help="Print the table as JSON.")
@plugins_dir_option
@click.pass_obj
@handle_errors
def formats(obj: Context, as_json: bool, command_plugins_dirs: tuple[Path, ...]) -> None:
    """List every output format: name, file suffix, media type, plugin and its distribution.

    Plugins that failed to load are reported on stderr, one line each.

    \b
    Examples:
      storykit formats
      storykit formats --json
      storykit formats --plugins-dir my-plugins/
    """
    obj.add_plugins_dirs(command_plugins_dirs)
    reg = obj.registry()
    rows = [(name, info.exporter.suffix, info.exporter.media_type, info.plugin,
             info.distribution or "-",
             " ".join(info.exporter.description.split()))  # one line, whatever a plugin says
            for name, info in reg.exporters.items()]
    if as_json:
        import json

        keys = ("name", "suffix", "media_type", "plugin", "distribution", "description")
        table = [dict(zip(keys, r, strict=True)) for r in rows]
        for row in table:
            row["distribution"] = None if row["distribution"] == "-" else row["distribution"]
        click.echo(json.dumps(table, indent=2))
        return
    header = ("NAME", "SUFFIX", "MEDIA TYPE", "PLUGIN", "DISTRIBUTION", "DESCRIPTION")
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(5)]
    for r in [header, *rows]:
        click.echo("  ".join(str(c).ljust(w) for c, w in zip(r[:5], widths, strict=True))
                   + "  " + r[5])


def _register_extra_commands() -> None:
    """Commands that live in their own modules (digest, send, serve), added when present."""
    import importlib

    for modname in ("storykit.digest_cli", "storykit.web.cli"):
        try:
            module = importlib.import_module(modname)
        except ModuleNotFoundError as e:
            if e.name != modname:
                raise
            continue
        for command in module.COMMANDS:
            main.add_command(command)


if __name__ == "__main__":
    # ``python -m storykit.cli``: this file runs as a second module, ``__main__``. The commands
    # register with ``storykit.cli`` itself, so run the command as ``python -m storykit`` does.
    import runpy

    runpy.run_module("storykit", run_name="__main__")
else:
    _register_extra_commands()

