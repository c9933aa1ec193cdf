"""The commands about content: ``validate``, ``export``, ``list`` and ``import``."""

from __future__ import annotations

import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import click

from storykit.cli import cluster
from storykit.cli.cluster import scheduler_option
from storykit.cli.common import (
    Context,
    check_size,
    criteria_from,
    default_jobs,
    echo_out,
    exporter_for,
    fail,
    filter_options,
    handle_errors,
    load_matching,
    matcher_from,
    parse_options,
    plugins_dir_option,
    progress,
    queryable,
    select,
    stdout_buffer,
    to_folder,
    write_with_exporter,
)
from storykit.errors import UnknownFormatError, ValidationError

__all__ = ["export", "import_", "list_", "validate"]

_QUIET = click.option("-q", "--quiet", is_flag=True,
                      help="No progress bar (one appears on a terminal after a second).")


def _plural(n: int, one: str, many: str) -> str:
    return f"{n} {one if n == 1 else many}"


def _load(source: Path, criteria: dict[str, Any], *, quiet: bool = False) -> Any:
    """The stories of ``source`` that match ``criteria``: a database queried for them (only
    the matching rows read), a JSON Lines or CSV file read a story at a time (country names in
    English), a document whole (names in its own language)."""
    from storykit.read import load
    from storykit.stream import streamable

    with progress(source, f"reading {source.name}", quiet=quiet):
        if criteria and queryable(source):
            return load_matching(source, criteria)
        if criteria and streamable(source) and source.is_file():
            return load(source, where=matcher_from(criteria))
        return select(load(source), criteria)


@click.command()
@click.argument("sources", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("-j", "--jobs", type=click.IntRange(min=0), default=None, metavar="N",
              help="Worker processes for a JSON Lines file (0: one per CPU; 1: one process). "
                   "Same verdict, sooner. Default: 2 for a file of 32 MiB or more when 2 CPUs "
                   "are free, else 1.")
@filter_options
@_QUIET
@scheduler_option
@click.pass_obj
@handle_errors
def validate(obj: Context, sources: tuple[Path, ...], *, jobs: int | None,
             filters: dict[str, Any], quiet: bool, scheduler: str | None) -> None:
    """Check content files; report every problem in each, one per line.

    JSON Lines, CSV and TSV files are checked a story at a time, whatever their size, holding
    only a hash of each id (8 bytes a story); a JSON Lines file of 32 MiB or more is split
    between two worker processes unless --jobs says otherwise. Exits 0 when every file is
    valid, 1 otherwise. With filters (--topic, --country, --since, ...) the whole file is still
    checked, and the line says how many stories match.

    \b
    Examples:
      storykit validate examples/impact-and-people/stories.json
      storykit validate stories.jsonl --country LK --month 2021-02
    """
    from storykit.read import load
    from storykit.stream import check_stream, streamable

    criteria = criteria_from(filters)
    matcher_from(criteria)  # (a bad country: a usage error before any file is read)
    if scheduler is not None:  # the files as one archive, on a Dask cluster
        if criteria:
            raise click.UsageError("--scheduler checks whole files: drop the filters")
        if cluster.validate(sources, scheduler):
            sys.exit(1)
        return
    bad = 0
    for src in sources:
        matching = ""
        try:
            if criteria:
                col = _load(src, criteria, quiet=quiet)
                n, contacts = len(col), len(col.contacts)
                matching = " matching"
            elif streamable(src) and src.is_file():  # any size, a story at a time
                with progress(src, f"checking {src.name}", quiet=quiet):
                    n = check_stream(src, jobs=default_jobs(src) if jobs is None else jobs)
                contacts = 0
            else:
                with progress(src, f"checking {src.name}", quiet=quiet):
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
        click.echo(f"{src}: ok ({_plural(n, 'story', 'stories')}{matching}, "
                   f"{_plural(contacts, 'contact', 'contacts')})")
    if bad:
        sys.exit(1)


@click.command()
@click.argument("source", type=click.Path(path_type=Path))
@click.option("-f", "--format", "fmt", metavar="FORMAT",
              help="Output format (see `storykit formats`); default: from -o's suffix.")
@click.option("-o", "--output", metavar="PATH", help="Output file, or - for stdout (default).")
@click.option("-O", "--option", "options", multiple=True, metavar="KEY=VALUE",
              help="An option of the format, e.g. -O page_size=10 (may be repeated); "
                   "`storykit formats FORMAT` lists them.")
@click.option("-j", "--jobs", type=click.IntRange(min=0), default=None, metavar="N",
              help="Worker processes for a JSON Lines file exported to csv or to json with "
                   "-O shape=lines (0: one per CPU; 1: one process). Same output, sooner. "
                   "Default: 2 for a file of 32 MiB or more when 2 CPUs are free, else 1.")
@filter_options
@_QUIET
@plugins_dir_option
@scheduler_option
@click.pass_obj
@handle_errors
def export(obj: Context, source: Path, *, fmt: str | None, output: str | None,
           options: tuple[str, ...], jobs: int | None, filters: dict[str, Any], quiet: bool,
           command_plugins_dirs: tuple[Path, ...], scheduler: str | None) -> None:
    """Export a content file to any registered format.

    The file is written atomically: the whole output, or on any error none (an existing file
    is left as it was). A device or a pipe (/dev/null, /dev/stdout, a FIFO) is written into.
    Each format's options (-O) are listed by `storykit formats FORMAT`.

    \b
    Examples:
      storykit export stories.json --format html -o build/index.html
      storykit export stories.json -o partners.csv -O bom=true
      storykit export stories.json --country "Sri Lanka" --since 2021-02-01 -o lk.csv
      storykit export stories.jsonl --format json -O shape=lines -o - | head
      storykit export archive.jsonl -o archive.csv --jobs 0
      storykit export "archive/*.jsonl" --format csv -o parts/ --scheduler tcp://host:8786
      storykit export stories.json --plugins-dir my-plugins/ --format markdown -o out.md
      storykit export stories.json --format html -O page_size=10 -o build/site/
      storykit formats csv

    A folder as -o (ending in /) makes the html format write every page there: index.html,
    page-2.html, ... linked by rel=prev/next. An output named .jsonl or .ndjson is JSON Lines
    (json with -O shape=lines), and .tsv is csv with tabs, as storykit reads them.

    JSON Lines and CSV files exported in the csv or json format are streamed in constant
    memory (to standard output, a pipe or a device through a temporary file, so that they too
    get the whole output or nothing). --jobs splits a JSON Lines file of 4 MiB or more among
    worker processes when the output is csv or JSON Lines; the output and the errors are the
    same. A file of 32 MiB or more gets two workers unless --jobs says otherwise. With a
    filter, only the matching stories are kept (a JSON Lines or CSV file is still read a story
    at a time).
    """
    from storykit.files import atomic_writer, is_stream_target
    from storykit.stream import stream_export, streamable

    obj.add_plugins_dirs(command_plugins_dirs)
    criteria = criteria_from(filters)
    matcher_from(criteria)  # (a bad country: a usage error before anything is read)
    exporter, kwargs = exporter_for(obj, fmt, output, parse_options(options))
    if scheduler is not None:  # the workers of a Dask cluster write the parts
        if criteria or output in (None, "-"):
            raise click.UsageError("--scheduler writes a file or a folder (-o PATH), of the "
                                   "whole source: drop the filters")
        cluster.export(source, exporter.name, output, kwargs, scheduler)
        return
    if jobs is None:
        jobs = default_jobs(source)
    if (not criteria and streamable(source) and getattr(exporter, "streams", False)
            and (output is None or not to_folder(output))):
        # JSON Lines or CSV in, a streaming format out: in constant memory.
        if output in (None, "-") or is_stream_target(output):
            # Standard output, a pipe or a device gets the whole output or nothing, as a file
            # does (stream_export may start over, and a problem voids it): it is made in a
            # temporary file first, then copied.
            import shutil
            import tempfile

            with tempfile.TemporaryFile() as tmp:
                with progress(source, f"exporting {source.name}", quiet=quiet):
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
            with atomic_writer(output) as f, progress(source, f"exporting {source.name}",
                                                      quiet=quiet):
                n = stream_export(source, exporter, f, jobs=jobs, **kwargs)
        click.echo(f"wrote {output} ({exporter.name}, {_plural(n, 'story', 'stories')})",
                   err=True)
        return
    if not (criteria and (streamable(source) or queryable(source))):
        check_size(source, f"the {exporter.name} format needs")
    write_with_exporter(_load(source, criteria, quiet=quiet), exporter, kwargs, output)


#: What ``list --count-by`` counts by: the keys of :meth:`storykit.Collection.group_by`.
COUNT_KEYS = ("topic", "country", "month", "week", "language")


@click.command("list")
@click.argument("source", type=click.Path(path_type=Path))
@filter_options
@click.option("--format", "fmt", type=click.Choice(["table", "json", "csv"]), default="table",
              show_default=True, help="How to print the stories (or the counts).")
@click.option("--count-by", type=click.Choice(COUNT_KEYS), metavar="|".join(COUNT_KEYS),
              help="Print how many matching stories there are per topic, country, month, "
                   "ISO week or language, instead of the stories.")
@click.pass_obj
@handle_errors
def list_(obj: Context, source: Path, filters: dict[str, Any], fmt: str,
          count_by: str | None) -> None:
    """List or count the stories that match the filters.

    Each story's id, date, title, topics and countries, newest first. The table is for
    reading; --format json or csv is for other programs.

    \b
    Examples:
      storykit list stories.json --country "Sri Lanka"
      storykit list stories.json --topic "child labour" --since 2021-02-01 --format json
      storykit list archive.jsonl --count-by month
      storykit list stories.json --search bees --count-by country --format csv
    """
    stdout_buffer()  # (closed: said before anything is read)
    col = _load(source, criteria_from(filters), quiet=True).sort("published", reverse=True)
    if count_by is not None:
        counts = [(str(k), len(v)) for k, v in col.group_by(count_by).items()]
        # Months and weeks in time order; the others most first.
        counts.sort(key=(lambda kv: kv[0]) if count_by in ("month", "week")
                    else (lambda kv: (-kv[1], kv[0])))
        _print(("key", "count"), counts, fmt)
        return
    rows = [(s.id, s.published.isoformat(), s.title, list(s.topics), list(s.countries))
            for s in col]
    _print(("id", "date", "title", "topics", "countries"), rows, fmt)


def _print(header: tuple[str, ...], rows: Iterable[tuple[Any, ...]], fmt: str) -> None:
    """Print ``rows`` as an aligned table, JSON (a list of objects) or CSV, on stdout. A list
    in a cell is a JSON list, or its items joined by ``; `` in CSV and the table; a number is
    right-aligned in the table."""
    rows = list(rows)
    if fmt == "json":
        import json

        echo_out(json.dumps([dict(zip(header, r, strict=True)) for r in rows],
                            ensure_ascii=False, indent=2))
        return
    if fmt == "csv":
        import csv
        import io

        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\n")
        writer.writerow(header)
        writer.writerows([_cell(c) for c in r] for r in rows)
        echo_out(buf.getvalue().rstrip("\n"))
        return
    table = [tuple(h.upper() for h in header), *[tuple(_cell(c) for c in r) for r in rows]]
    widths = [max(len(r[i]) for r in table) for i in range(len(header))]
    right = {i for i, c in enumerate(rows[0]) if isinstance(c, int)} if rows else set()
    echo_out("\n".join(
        "  ".join(c.rjust(w) if i in right else c.ljust(w)
                  for i, (c, w) in enumerate(zip(r, widths, strict=True))).rstrip()
        for r in table))


def _cell(value: Any) -> str:
    return "; ".join(value) if isinstance(value, list) else str(value)


@click.command("import")
@click.argument("source", type=click.Path(path_type=Path))
@click.option("--from", "from_", metavar="READER",
              help="The reader (see `storykit formats`); default: from SOURCE's suffix or "
                   "content.")
@click.option("-O", "--option", "options", multiple=True, metavar="KEY=VALUE",
              help="A reader option (may be repeated).")
@click.option("-f", "--format", "fmt", metavar="FORMAT",
              help="Output format; default: from -o's suffix (json for the canonical "
                   "document).")
@click.option("-o", "--output", metavar="PATH", required=True,
              help="Output file (stories.json), or - for stdout with --format.")
@_QUIET
@plugins_dir_option
@click.pass_obj
@handle_errors
def import_(obj: Context, source: Path, *, from_: str | None, options: tuple[str, ...],
            fmt: str | None, output: str, quiet: bool,
            command_plugins_dirs: tuple[Path, ...]) -> None:
    """Read stories from any format storykit reads, and write them as JSON (or any format).

    SOURCE is read by the reader --from names, or by the one its suffix or content tells; the
    output is storykit's canonical JSON document, or any format by -o's suffix or --format.

    \b
    Examples:
      storykit import stories.csv -o stories.json
      storykit import feed.xml --from atom -o stories.json
      storykit import content/ -o stories.jsonl
    """
    import storykit

    obj.add_plugins_dirs(command_plugins_dirs)
    reader_options = parse_options(options)
    exporter, kwargs = exporter_for(obj, fmt, output, {})
    readers = getattr(storykit, "readers", None)
    if readers is None:  # (before readers are plugins: the built-in formats, no options)
        if from_ is not None and from_.lower() not in ("json", "jsonl", "toml", "csv", "tsv"):
            fail(f"--from {from_}: no such reader (choose json, jsonl, toml, csv or tsv)", 2)
        if reader_options:
            fail("-O: the built-in readers take no options", 2)
    elif from_ is not None and from_ not in readers():
        fail(f"--from {from_}: no such reader (choose {', '.join(sorted(readers()))})", 2)
    with progress(source, f"reading {source.name}", quiet=quiet):
        load: Any = storykit.load  # (reader options: once readers are plugins)
        col = load(source, format=from_, **reader_options)
    write_with_exporter(col, exporter, kwargs, output)
