"""What every command shares: one-line errors, the group's context, ``-O`` options, the
filters (``--topic --country --since ... --search``), writing a collection, and progress bars.

Command modules import from here only (never from ``storykit.cli`` itself), so the package has
no import cycle.
"""

from __future__ import annotations

import functools
import os
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, BinaryIO, NoReturn, TypeVar, overload

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


def parse_options(pairs: Sequence[str]) -> dict[str, str | None]:
    """``-O key=value`` pairs as a dict; ``-`` in keys reads as ``_`` (``-O page-size=2``).

    An empty value (``-O key=``) is ``None``: it unsets an option that may be ``None``.
    """
    options: dict[str, str | None] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise click.BadParameter(f"{pair!r} is not key=value", param_hint="'-O'")
        options[key.strip().replace("-", "_")] = value or None
    return options


def version_string() -> str:
    """The installed storykit's version."""
    from importlib.metadata import version

    return version("storykit")


PLUGINS_DIR_HELP = "A folder of one-file plugins to load (may be repeated)."


def plugins_dir_option(fn: F) -> F:
    """``--plugins-dir`` on a command too, so it may follow the command's name."""
    return click.option("--plugins-dir", "command_plugins_dirs", multiple=True,
                        type=click.Path(exists=True, file_okay=False, path_type=Path),
                        help=PLUGINS_DIR_HELP)(fn)


def echo_out(text: str) -> None:
    """Print a line of a command's result on standard output; a closed one is an error (the
    result would vanish with exit 0 otherwise)."""
    if sys.stdout is None:
        fail("standard output is closed: nowhere to print the result")
    try:
        click.echo(text)  # (which flushes)
    except BrokenPipeError:
        reader_gone()
    except OSError as e:
        cannot_write(e)


def cannot_write(e: OSError) -> NoReturn:
    """Report a failure to write standard output (``> /dev/full``) in one line and exit 1;
    what is still buffered goes to ``/dev/null``, so that Python's flush at exit cannot fail
    again (with a traceback)."""
    if sys.stdout is not None:
        try:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
        except (OSError, ValueError):
            pass
    fail(f"cannot write to standard output: {e.strerror or e}")


# --- filters -------------------------------------------------------------------------------

#: The filter options, in the order ``--help`` shows them: (name, click option).
_FILTERS: dict[str, Callable[[F], F]] = {
    "topic": click.option("--topic", "topic", multiple=True, metavar="TOPIC",
                          help="Only stories of this topic (may be repeated: any of them)."),
    "country": click.option("--country", "country", multiple=True, metavar="COUNTRY",
                            help="Only stories about this country: a code (LK) or a name in "
                                 "the collection's language or English (Sri Lanka); may be "
                                 "repeated."),
    "since": click.option("--since", metavar="DATE", help="Published on or after DATE (ISO)."),
    "until": click.option("--until", metavar="DATE", help="Published on or before DATE (ISO)."),
    "last": click.option("--last", metavar="N[d|w]",
                         help="The last N days (7d) or weeks (2w), to today."),
    "week": click.option("--week", metavar="YYYY-Www", help="An ISO week, e.g. 2021-W07."),
    "month": click.option("--month", metavar="YYYY-MM", help="A calendar month, e.g. 2021-02."),
    "today": click.option("--today", metavar="DATE", hidden=True,
                          help="Pretend today is DATE (for --last)."),
    "language": click.option("--language", metavar="TAG",
                             help="Only stories in this language (fr matches fr-CH)."),
    "search": click.option("--search", metavar="TEXT",
                           help="Only stories with TEXT in the title or summary (any case)."),
}


@overload
def filter_options(fn: F, *, skip: Sequence[str] = ()) -> F: ...
@overload
def filter_options(fn: None = None, *, skip: Sequence[str] = ()) -> Callable[[F], F]: ...


def filter_options(fn: F | None = None, *, skip: Sequence[str] = ()) -> F | Callable[[F], F]:
    """Add the filter options (``--topic --country --since --until --last --week --month
    --language --search``) to a command, which receives them as one ``filters`` dict for
    :func:`criteria_from`. ``skip`` leaves out those a command has already (``digest`` has its
    own ``--since``...)."""

    def decorate(fn: F) -> F:
        names = [n for n in _FILTERS if n not in skip]

        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            filters = {n: kwargs.pop(n) for n in names}
            return fn(*args, filters=filters, **kwargs)

        for name in reversed(names):
            wrapper = _FILTERS[name](wrapper)
        return wrapper  # type: ignore[return-value]

    return decorate if fn is None else decorate(fn)


def criteria_from(options: Mapping[str, Any]) -> dict[str, Any]:
    """The keyword arguments of :meth:`storykit.Collection.filter` that the filter options ask
    for (only those given). A bad date or window is a usage error (exit 2)."""
    from datetime import date

    criteria: dict[str, Any] = {}
    if options.get("topic"):
        criteria["topic"] = list(options["topic"])
    if options.get("country"):
        criteria["country"] = list(options["country"])
    if options.get("language"):
        criteria["language"] = options["language"]
    if options.get("search"):
        criteria["text"] = options["search"]
    window = {k: options.get(k) for k in ("since", "until", "last", "week", "month")}
    if any(window.values()):
        from storykit.digest import window as window_of

        try:
            today = options.get("today")
            win = window_of(**window, today=date.fromisoformat(today) if today else None)
        except ValueError as e:
            raise click.UsageError(str(e)) from None
        if win.since is not None:
            criteria["since"] = win.since
        if win.until is not None:
            criteria["until"] = win.until
    return criteria


def _as_option(e: ValueError) -> click.UsageError:
    """A bad criterion's error, naming the option (``--country``) rather than the argument of
    :meth:`~storykit.Collection.filter` it went to."""
    text = str(e)
    for arg, option in (("country", "country"), ("topic", "topic"), ("language", "language"),
                        ("text", "search")):
        text = text.replace(f"filter({arg}=...)", f"--{option}")
        if getattr(e, "criterion", None) == arg and text.startswith(f"{arg}: "):
            text = f"--{option}: " + text[len(arg) + 2:]
    return click.UsageError(text)


def matcher_from(criteria: Mapping[str, Any]) -> Callable[[Any], bool] | None:
    """The story test of ``criteria`` (for ``load(..., where=)``), or None without criteria; a
    bad criterion (an unknown country) is a usage error."""
    if not criteria:
        return None
    from storykit.collection import matcher

    try:
        return matcher(**criteria)
    except ValueError as e:
        raise _as_option(e) from None


def queryable(source: Path) -> bool:
    """Whether the reader of ``source`` runs the filter criteria itself (its
    ``handles_criteria`` is True: a database answers them with a query, reading only the
    matching rows)."""
    from storykit.errors import UnknownFormatError
    from storykit.read import reader_for

    try:
        reader = reader_for(source)
    except (UnknownFormatError, OSError):
        return False
    return getattr(reader, "handles_criteria", False) is True and source.is_file()


def load_matching(source: Path, criteria: Mapping[str, Any]) -> Any:
    """The stories of ``source`` that match ``criteria`` (:func:`criteria_from`), from a
    reader that runs them itself (:func:`queryable`): they go to it as options. A criterion
    the reader finds bad (``--search`` that is not a valid full-text query) is a usage error
    (exit 2), as a bad ``--country`` is: the file is fine, the option is not."""
    from storykit.read import load

    try:
        return load(source, **criteria)
    except ValueError as e:
        if getattr(e, "criterion", None) is None:
            raise
        raise _as_option(e) from None


def select(collection: Any, criteria: Mapping[str, Any]) -> Any:
    """``collection.filter(**criteria)``; a bad criterion is a usage error."""
    if not criteria:
        return collection
    try:
        return collection.filter(**criteria)
    except ValueError as e:
        raise _as_option(e) from None


# --- writing -------------------------------------------------------------------------------


def exporter_for(obj: Context, fmt: str | None, output: str | None,
              options: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
    """The exporter of ``fmt`` (or of ``output``'s suffix) and its checked options.

    A format or an option that does not exist is a usage error (exit 2), reported before any
    input is read.
    """
    from storykit.exporter import prepare_options
    from storykit.write import exporter_and_options_for_path

    if output in (None, "-"):
        if fmt is None:
            raise click.UsageError("give --format when writing to standard output")
        stdout_buffer()  # (closed: said before anything is read)
    else:
        _check_descriptor(output)
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


def write_collection(obj: Context, col: Any, fmt: str | None, output: str | None,
           options: dict[str, Any]) -> None:
    """Export ``col`` to ``output`` (``-`` or none: stdout) in ``fmt``."""
    exporter, kwargs = exporter_for(obj, fmt, output, options)
    write_with_exporter(col, exporter, kwargs, output)


def write_with_exporter(col: Any, exporter: Any, kwargs: dict[str, Any],
                        output: str | None) -> None:
    from storykit.files import atomic_writer
    from storykit.write import write_with

    if output in (None, "-"):
        out = stdout_buffer()
        write_with(exporter, col, out, kwargs)
        out.flush()
        return
    if getattr(exporter, "output", "stream") != "stream":
        # A writer of a file or a folder by path (site, sqlite): dump() builds it beside the
        # target and moves it into place.
        from storykit.write import dump_with

        path, result = dump_with(col, output, exporter.name, kwargs)
        _wrote(path, exporter.name, result, len(col))
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
        result = write_with(exporter, col, f, kwargs)
    _wrote(output, exporter.name, result, len(col))


def _wrote(output: object, fmt: str, result: object, given: int) -> None:
    """Say what was written: the writer's own count of stories when it gives one (it may have
    left some out), else the collection's."""
    n = result if isinstance(result, int) and not isinstance(result, bool) else given
    left = f", {given - n} left out" if n < given else ""
    click.echo(f"wrote {output} ({fmt}, {n} {'story' if n == 1 else 'stories'}{left})",
               err=True)


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


def to_folder(output: str) -> bool:
    return output.endswith(("/", os.sep)) or Path(output).is_dir()



#: The smallest file ``storykit export`` and ``validate`` give two workers when ``--jobs`` is
#: not given (bytes): about 40,000 stories, a second's work for one process; below it the
#: workers' start (a fresh interpreter each) costs about what they save.
AUTO_JOBS_MIN_BYTES = 32 * 1024 * 1024


def default_jobs(source: Path) -> int:
    """``--jobs`` when it is not given: 2 for a big file when 2 CPUs are free, else 1.

    Two, not one per CPU: two workers and the reading process keep a million stories under
    150 MB together, and more workers would each add their own interpreter's memory.
    """
    from storykit.stream import workers as _parallel

    try:
        big = source.stat().st_size >= AUTO_JOBS_MIN_BYTES
    except OSError:  # (missing, unreadable: the export reports it)
        return 1
    return min(2, _parallel.workers(0)) if big else 1


def check_size(source: Path, needs: str) -> None:
    """Fail, saying what works instead, if ``source`` is too big to be read whole (which
    ``load()`` would refuse with a hint for Python, ``max_bytes=``); ``needs`` says who reads
    it whole ("the html format needs")."""
    import storykit.read
    from storykit.stream import streamable

    try:
        size = source.stat().st_size if source.is_file() else 0
    except OSError:
        return  # (load() says what is wrong with it)
    if size <= storykit.read.MAX_BYTES:
        return
    instead = ("; JSON Lines and CSV are streamed at any size to the csv and json formats, "
               "and storykit digest keeps only a window's stories" if streamable(source)
               else "; save the archive as JSON Lines or CSV to stream it")
    fail(f"{source} is {size:,} bytes, more than the {storykit.read.MAX_BYTES:,} of a file read "
         f"whole, which {needs}{instead}")



# --- progress ------------------------------------------------------------------------------

#: Seconds of work before a progress bar appears (short jobs stay quiet). The environment
#: variable ``STORYKIT_PROGRESS_AFTER`` changes it (tests set 0 to see the bar at once).
PROGRESS_AFTER = 1.0


def _read_offset(fd_path: str) -> int | None:
    """The file offset in a ``/proc/self/fdinfo/N`` entry."""
    try:
        with open(fd_path, encoding="ascii") as f:
            for line in f:
                if line.startswith("pos:"):
                    return int(line.split()[1])
    except (OSError, ValueError):
        return None
    return None


def _bytes_read(source: Path) -> Callable[[], int | None]:
    """How far this process has read ``source``: the offset of its open descriptor, from
    ``/proc/self`` (Linux), so that any reader (whole-file, streaming, a plugin's) is
    measured without reporting anything itself. None when it is not open (or no /proc)."""
    target = os.path.realpath(source)

    def done() -> int | None:
        try:
            fds = os.listdir("/proc/self/fd")
        except OSError:
            return None
        best = None
        for fd in fds:
            try:
                if os.readlink(f"/proc/self/fd/{fd}") != target:
                    continue
            except OSError:
                continue
            pos = _read_offset(f"/proc/self/fdinfo/{fd}")
            if pos is not None:
                best = pos if best is None else max(best, pos)
        return best

    return done


@contextmanager
def progress(source: Path, label: str, *, quiet: bool = False) -> Iterator[None]:
    """Show a progress bar of the bytes of ``source`` read (done, rate, ETA) on standard error
    while the block runs, once it has run for :data:`PROGRESS_AFTER` seconds. Never when
    standard error is not a terminal, with ``quiet``, or for what is not a regular file; never
    on standard output. Uses click's bar (no other dependency)."""
    import threading

    try:
        total = source.stat().st_size if source.is_file() else 0
    except OSError:
        total = 0
    if quiet or not total or not sys.stderr.isatty() or not os.path.isdir("/proc/self/fd"):
        yield
        return
    after = float(os.environ.get("STORYKIT_PROGRESS_AFTER", PROGRESS_AFTER))
    stop = threading.Event()
    done = _bytes_read(source)

    def show() -> None:
        if after > 0 and stop.wait(after):
            return
        start, seen = time.monotonic(), 0
        with click.progressbar(length=total, label=label, file=sys.stderr, show_eta=True,
                               show_percent=True, width=24,
                               item_show_func=lambda rate: rate) as bar:
            while True:
                pos = done()
                if pos is not None and pos > seen:
                    rate = pos / max(time.monotonic() - start + after, 1e-6)
                    bar.update(pos - seen, f"{pos / 1e6:.1f} MB at {rate / 1e6:.1f} MB/s")
                    seen = pos
                if stop.wait(0.2):
                    break
            rate = total / max(time.monotonic() - start + after, 1e-6)
            bar.update(total - seen, f"{total / 1e6:.1f} MB at {rate / 1e6:.1f} MB/s")

    ticker = threading.Thread(target=show, name="storykit-progress", daemon=True)
    ticker.start()
    try:
        yield
    finally:
        stop.set()
        ticker.join()
