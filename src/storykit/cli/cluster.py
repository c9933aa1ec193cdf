"""``--scheduler``: the same command on a Dask cluster (``storykit.dask``, extra ``[dask]``)."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import click

from storykit.errors import ErrorDetail

F = TypeVar("F", bound=Callable[..., Any])


def scheduler_option(fn: F) -> F:
    """``--scheduler [ADDRESS|local]``: run the job on a Dask cluster."""
    return click.option(
        "--scheduler", metavar="ADDRESS|local", is_flag=False, flag_value="local",
        default=None,
        help="Run on a Dask cluster: a scheduler address (tcp://host:8786), or local (the "
             "default when no address is given) for a LocalCluster on this machine. Needs "
             "storykit[dask].")(fn)


@contextlib.contextmanager
def cluster(scheduler: str) -> Iterator[Any]:
    """A Dask client for ``scheduler``; says where the job runs (and the dashboard) on stderr."""
    try:
        from storykit import dask as skd

        skd.client  # noqa: B018 - (the extra may be missing: its ImportError says so)
    except ImportError as e:
        raise click.UsageError(f"--scheduler needs Dask: {e}") from None
    with skd.client(scheduler) as c:
        workers = len(c.scheduler_info().get("workers", {}))
        where = "a LocalCluster" if scheduler == "local" else scheduler
        link = f"; progress: {c.dashboard_link}" if c.dashboard_link else ""
        click.echo(f"storykit: running on {where} ({workers} worker"
                   f"{'s' if workers != 1 else ''}{link})", err=True)
        yield c


def validate(sources: tuple[Path, ...], scheduler: str) -> int:
    """Check ``sources`` on the cluster as one archive; print like ``validate``; the number of
    problems."""
    from storykit import dask as skd

    with cluster(scheduler):
        problems: list[ErrorDetail] = skd.validate([str(s) for s in sources])
    if problems:
        click.echo(f"storykit: error: {len(problems)} problem"
                   f"{'s' if len(problems) != 1 else ''} in {len(sources)} file"
                   f"{'s' if len(sources) != 1 else ''}", err=True)
        for p in problems:
            click.echo(f"  {p}", err=True)
        return len(problems)
    for src in sources:
        click.echo(f"{src}: ok")
    return 0


def export(source: Path, fmt: str, output: str, options: dict[str, Any],
           scheduler: str) -> list[str]:
    """Export ``source`` on the cluster: parts into a folder (``-o out/``) or one file."""
    from storykit import dask as skd

    single = not (output.endswith("/") or Path(output).is_dir())
    with cluster(scheduler):
        written = skd.export(str(source), fmt, output.rstrip("/") or output,
                             single_file=single, **options)
    click.echo(f"wrote {output} ({fmt}, {len(written)} file{'s' if len(written) != 1 else ''})",
               err=True)
    return written


def digests(collection: Any, subscribers: Path, outbox: Path, options: dict[str, Any],
            scheduler: str) -> None:
    """Personalised digests on the cluster, into ``outbox``."""
    from storykit import dask as skd

    with cluster(scheduler):
        report = skd.digests(collection, str(subscribers), str(outbox), **options)
    click.echo(f"wrote {report.written} message{'s' if report.written != 1 else ''} to "
               f"{outbox} ({report.messages} in the outbox); skipped {report.skipped} "
               f"subscriber{'s' if report.skipped != 1 else ''} with no stories in the window",
               err=True)
