"""The command line: ``storykit validate | export | list | import | formats | digest | send``
and ``serve``.

Exit codes: 0 success, 1 invalid input (the problems on stderr), 2 usage errors, 130 when
interrupted (Ctrl-C). Errors are one line each, without a traceback unless ``--debug`` is given.

Each command lives in the module of its area (``content``, ``formats``, ...) and is registered
here, explicitly; they share only :mod:`storykit.cli.common`.
"""

from __future__ import annotations

import signal
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import click

from storykit.cli.common import (
    INTERRUPTED,
    PLUGINS_DIR_HELP,
    TERMINATED,
    Context,
    cannot_write,
    fail,
    reader_gone,
)
from storykit.cli.content import export, import_, list_, validate
from storykit.cli.formats import formats
from storykit.cli.mail import digest, send
from storykit.cli.serve import serve

__all__ = ["main"]


class StorykitGroup(click.Group):
    """click's group, with usage errors in storykit's one-line form (exit 2)."""

    def main(self, args: Sequence[str] | None = None, prog_name: str | None = None,
             complete_var: str | None = None, standalone_mode: bool = True,
             **extra: Any) -> Any:
        if not standalone_mode:
            return super().main(args, prog_name, complete_var, standalone_mode, **extra)
        argv = sys.argv[1:] if args is None else list(args)
        if sys.stdout is None and {"-h", "--help", "--version"} & set(argv):
            fail("standard output is closed: nowhere to print the help")
        previous = _stop_on_sigterm()
        try:
            rv = super().main(args, prog_name, complete_var, False, **extra)
            _flush_stdout()
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
        except OSError as e:  # (writing --help or --version into a full disk, /dev/full)
            cannot_write(e)
        except _Terminated:
            click.echo("storykit: error: terminated", err=True)
            sys.exit(TERMINATED)
        finally:
            if previous is not None:
                signal.signal(signal.SIGTERM, previous)
        sys.exit(rv if isinstance(rv, int) else 0)


def _flush_stdout() -> None:
    """Flush standard output now, so that a failure to write it (``> /dev/full``) is reported
    here, in one line, rather than by Python's last flush at exit, as a traceback."""
    if sys.stdout is not None:
        sys.stdout.flush()


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


@click.group(cls=StorykitGroup,
             context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(package_name="storykit", prog_name="storykit")
@click.option("--plugins-dir", "plugins_dirs", multiple=True,
              type=click.Path(exists=True, file_okay=False, path_type=Path),
              help=PLUGINS_DIR_HELP)
@click.option("--debug", is_flag=True, help="Show tracebacks instead of one-line errors.")
@click.pass_context
def main(ctx: click.Context, plugins_dirs: tuple[Path, ...], debug: bool) -> None:
    """storykit: validate news stories and export them to HTML, JSON, CSV, email and more.

    \b
    Examples:
      storykit validate content/*.json
      storykit export stories.json --format html -o build/index.html
      storykit list stories.json --country "Sri Lanka" --count-by topic
      storykit --plugins-dir my-plugins/ formats
    """
    ctx.obj = Context(debug, plugins_dirs)


for _command in (validate, export, list_, import_, formats, digest, send, serve):
    main.add_command(_command)
