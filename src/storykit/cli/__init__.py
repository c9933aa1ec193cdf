"""The command line: ``storykit validate | export | formats | digest | send``.

Exit codes: 0 success, 1 invalid input (the problems on stderr), 2 usage errors, 130 when
interrupted (Ctrl-C). Errors are one line each, without a traceback unless ``--debug`` is given.
"""

from __future__ import annotations

import signal
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import click

from storykit.cli.common import (
    _PLUGINS_DIR_HELP,
    USER_ERRORS,
    Context,
    check_size,
    exporter_for,
    fail,
    handle_errors,
    parse_options,
    plugins_dir_option,
    reader_gone,
    stdout_buffer,
    to_folder,
    warn,
    write_with_exporter,
)
from storykit.cli.mail import digest, send
from storykit.errors import UnknownFormatError, ValidationError

__all__ = ["USER_ERRORS", "Context", "fail", "handle_errors", "main", "parse_options",
           "plugins_dir_option", "stdout_buffer", "warn"]

#: The exit status after Ctrl-C: 128 + SIGINT, as a shell reports an interrupted command.
INTERRUPTED = 130
#: The exit status after SIGTERM (128 + 15), as a shell reports a command it terminated.
TERMINATED = 143


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


def version_string() -> str:
    """The installed storykit's version."""
    from importlib.metadata import version

    return version("storykit")


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
    exporter, kwargs = exporter_for(obj, fmt, output, parse_options(options))
    if jobs is None:
        jobs = _default_jobs(source)
    if (streamable(source) and getattr(exporter, "streams", False)
            and (output is None or not to_folder(output))):
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
    check_size(source, f"the {exporter.name} format needs")
    write_with_exporter(load(source), exporter, kwargs, output)


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


main.add_command(digest)
main.add_command(send)

