"""The ``storykit digest`` and ``storykit send`` commands."""

from __future__ import annotations

import math
import os
import sys
from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import click

from storykit.cli import cluster
from storykit.cli.cluster import scheduler_option
from storykit.cli.common import (
    Context,
    check_size,
    criteria_from,
    fail,
    filter_options,
    handle_errors,
    load_matching,
    parse_options,
    progress,
    queryable,
    stdout_buffer,
    warn,
    write_collection,
)

if TYPE_CHECKING:
    from storykit.email import Finding

__all__ = ["digest", "send"]


#: Preflight findings reported without --check too: a message Gmail will clip, and a digest
#: addressed to its own sender (no -O to=).
ALWAYS_WARN = frozenset({"html-size", "to-is-sender"})


def _report(findings: Iterable[tuple[str, Finding]], strict: bool) -> int:
    """Print findings (grouped by code across messages); return how many codes were found."""
    first: dict[str, tuple[str, Finding]] = {}
    counts: Counter[str] = Counter()
    for where, f in findings:
        counts[f.code] += 1
        first.setdefault(f.code, (where, f))
    for code, (where, f) in first.items():
        more = f" (and {counts[code] - 1} more like it)" if counts[code] > 1 else ""
        line = f"{where}: {f}{more}"
        if strict:
            click.echo(f"storykit: error: {line}", err=True)
        else:
            warn(line)
    return len(first)


@click.command()
@click.argument("source", type=click.Path(path_type=Path))
@click.option("--since", metavar="DATE", help="First day of the window (ISO date).")
@click.option("--until", metavar="DATE", help="Last day of the window (ISO date).")
@click.option("--last", metavar="N[d|w]", help="The last N days (7d) or weeks (2w), to today.")
@click.option("--week", metavar="YYYY-Www", help="An ISO week, e.g. 2021-W07.")
@click.option("--month", metavar="YYYY-MM", help="A calendar month, e.g. 2021-02.")
@click.option("--today", metavar="DATE", hidden=True, help="Pretend today is DATE (for --last).")
@click.option("--topic", "topics", multiple=True, metavar="TOPIC",
              help="Only stories of this topic (may be repeated: any of them).")
@click.option("-f", "--format", "fmt", metavar="FORMAT",
              help="Output format: email (default), html, json, csv or any other.")
@click.option("-o", "--output", metavar="PATH", help="Output file, or - for stdout (default).")
@click.option("-O", "--option", "options", multiple=True, metavar="KEY=VALUE",
              help="An exporter option, e.g. -O sender='News <news@example.org>'.")
@click.option("--allow-empty", is_flag=True, help="Write a digest even if the window is empty.")
@click.option("--check", is_flag=True, help="Preflight the email message(s) and print the "
                                            "problems; a message is written only with -o.")
@click.option("--strict", is_flag=True, help="With --check: problems are errors (exit 1, "
                                              "nothing written).")
@click.option("--subscribers", type=click.Path(dir_okay=False, path_type=Path),
              help="A subscribers CSV (email,name,topics,countries,language): one message each.")
@click.option("--outbox", type=click.Path(file_okay=False, path_type=Path),
              help="With --subscribers: the folder to write the .eml files to.")
@filter_options(skip=("topic", "since", "until", "last", "week", "month", "today"))
@scheduler_option
@click.option("-q", "--quiet", is_flag=True,
              help="No progress bar for --subscribers (one appears on a terminal after a "
                   "second).")
@click.pass_obj
@handle_errors
def digest(  # noqa: PLR0917 - click passes each option as an argument
        obj: Context, source: Path, since: str | None, until: str | None, last: str | None,
        week: str | None, month: str | None, today: str | None, topics: tuple[str, ...],
        fmt: str | None, output: str | None, options: tuple[str, ...], allow_empty: bool,
        check: bool, strict: bool, subscribers: Path | None, outbox: Path | None,
        filters: dict[str, Any], scheduler: str | None, quiet: bool) -> None:
    """The stories of a time window, as an email message or any other format.

    An empty window prints a message, writes nothing and exits 1 (like grep finding nothing),
    unless --allow-empty is given. With --subscribers each subscriber gets a message with only
    the stories of their topics and countries, written to --outbox; subscribers with none are
    skipped and counted.

    \b
    Examples:
      storykit digest stories.json --since 2021-02-15 --until 2021-02-23 -o digest.eml \\
          -O sender='Newsroom <news@example.org>' -O to=journalists@example.org
      storykit digest stories.json --week 2021-W07 --format html -o week.html
      storykit digest stories.json --last 7d --country "Sri Lanka" -o lk.eml
      storykit digest stories.json --last 7d --subscribers subs.csv --outbox outbox/ \\
          -O unsubscribe='https://news.example.org/unsubscribe?u={token}' --check
    """
    from datetime import date

    from storykit.collection import matcher
    from storykit.email import windows as dg
    from storykit.read import load
    from storykit.stream import streamable

    try:
        now = date.fromisoformat(today) if today else None
        win = dg.window(since=since, until=until, last=last, week=week, month=month, today=now)
    except ValueError as e:
        raise click.UsageError(str(e)) from None
    if strict and not check:
        raise click.UsageError("--strict goes with --check")
    if outbox is not None and subscribers is None:
        raise click.UsageError("--outbox goes with --subscribers")
    if subscribers is not None and output is not None:
        raise click.UsageError("with --subscribers, write to --outbox DIR, not -o")
    if subscribers is not None and outbox is None and not check:
        raise click.UsageError("--subscribers needs --outbox DIR (or --check alone)")
    if subscribers is None and output in (None, "-") and not check:
        stdout_buffer()  # (closed: said before anything is read)

    reg = obj.registry()
    if fmt is not None:
        exporter = reg.get(fmt)
    elif output not in (None, "-"):
        exporter = reg.for_path(output)
    else:
        exporter = reg.get("email")
    is_email = exporter.name == "email"
    if subscribers is not None and not is_email:
        raise click.UsageError(f"--subscribers makes email messages, not {exporter.name}")
    if check and not is_email:
        raise click.UsageError(f"--check checks email messages, not {exporter.name}")

    opts: dict[str, Any] = parse_options(options)
    from storykit.exporter import prepare_options

    prepare_options(exporter, opts)  # a bad option is a usage error, found before reading
    # Only the window's stories are kept: an archive of JSON Lines or CSV is read a story at
    # a time, whatever its size.
    # A database is queried for them (only the matching rows are read).
    criteria: dict[str, Any] = {k: v for k, v in (("since", win.since), ("until", win.until),
                                                  ("topic", list(topics) or None))
                                if v is not None}
    criteria.update(criteria_from(filters))
    try:
        wanted = matcher(**criteria)
    except ValueError as e:
        raise click.UsageError(str(e)) from None
    if queryable(Path(source)):
        col = dg.select(load_matching(Path(source), criteria), win, topics)
    else:
        if not streamable(source):  # (a document is read whole: say plainly if too big)
            check_size(Path(source), "a digest of a document needs")
        col = dg.select(load(source, where=wanted), win, topics)
    if is_email:
        if win.since is not None:
            opts.setdefault("since", win.since.isoformat())
        if win.until is not None:
            opts.setdefault("until", win.until.isoformat())

    if not len(col) and not allow_empty:
        topic = f" about {' or '.join(repr(t) for t in topics)}" if topics else ""
        click.echo(f"storykit: no stories{topic} in {source} {win}; nothing written "
                   "(--allow-empty writes an empty digest)", err=True)
        sys.exit(1)

    if subscribers is not None and scheduler is not None:  # rendered by a Dask cluster
        if check or outbox is None:
            raise click.UsageError("--scheduler writes the messages to --outbox DIR "
                                   "(check them with --check without --scheduler)")
        cluster.digests(col, subscribers, outbox, opts, scheduler)
        return
    if scheduler is not None:
        raise click.UsageError("--scheduler goes with --subscribers (one digest is one "
                               "message)")
    if subscribers is not None:
        _personalised(obj, col, subscribers, outbox, opts, check=check, strict=strict,
                      quiet=quiet)
        return

    if not is_email:
        write_collection(obj, col, exporter.name, output, opts)
        return

    import io

    from storykit.email import lint

    buf = io.BytesIO()
    exporter.write(col, buf, **opts)
    data = buf.getvalue()
    findings = lint(data)
    if not check:  # what would surprise a sender is said even without --check
        findings = [f for f in findings if f.code in ALWAYS_WARN]
    problems = _report(((str(output or "digest"), f) for f in findings), strict)
    if problems and strict:
        fail(f"preflight found {problems} problem{'s' if problems != 1 else ''}; "
             "nothing written")
    if output is None and check:
        click.echo(f"preflight: {problems or 'no'} problem{'s' if problems != 1 else ''}",
                   err=True)
        return
    if output is None:
        output = "-"
    if output == "-":
        out = stdout_buffer()
        out.write(data)
        out.flush()
        return
    from storykit.files import atomic_writer

    with atomic_writer(output) as f:
        f.write(data)
    click.echo(f"wrote {output} (email, {len(col)} {'story' if len(col) == 1 else 'stories'})",
               err=True)


def _personalised(obj: Context, col: Any, subscribers: Path, outbox: Path | None,
                  opts: dict[str, Any], *, check: bool, strict: bool,
                  quiet: bool = False) -> None:
    """One message per subscriber, a subscriber at a time: memory does not grow with them."""
    import time

    from storykit.email import PersonalisedRun, iter_subscribers, lint, outbox_name
    from storykit.email.personalised import write_messages

    subs = iter_subscribers(subscribers)  # checked whole here, then read a row at a time
    if check:
        run = PersonalisedRun(col, subs, opts, registry=obj.registry(), keep_skipped=False)
        problems = _report(((outbox_name(m.subscriber.email), f) for m in run
                            for f in lint(m.data)), strict)
        if problems and strict:
            fail(f"preflight found {problems} kind{'s' if problems != 1 else ''} of problem; "
                 "nothing written")
        if outbox is None:
            click.echo(f"preflight: {run.sent} messages, {problems or 'no'} kind"
                       f"{'s' if problems != 1 else ''} of problem", err=True)
            return
    assert outbox is not None
    start = time.perf_counter()
    run = PersonalisedRun(col, subs, opts, registry=obj.registry(), keep_skipped=False)
    # (the bar follows the subscribers file, read a row at a time as messages are written)
    with progress(subscribers, f"writing digests for {subscribers.name}", quiet=quiet):
        written = write_messages(run, outbox)
    took = time.perf_counter() - start
    skipped = run.skipped_count
    click.echo(f"wrote {written} message{'s' if written != 1 else ''} to {outbox} "
               f"in {took:.1f}s; skipped {skipped} subscriber{'s' if skipped != 1 else ''} "
               "with no stories in the window", err=True)


def _bad(param: click.Parameter, message: str) -> NoReturn:
    raise click.BadParameter(message, param=param)


#: The port of each kind of connection when --smtp names only a host.
DEFAULT_PORTS = {"plain": 25, "starttls": 587, "ssl": 465}


def _host_port(value: str, security: str) -> tuple[str, int]:
    """``HOST:PORT``, ``[v6]:PORT`` or ``HOST`` alone (the usual port of ``security``)."""
    if value.startswith("["):
        host, _, rest = value[1:].partition("]")
        port = rest.removeprefix(":") if rest.startswith(":") else None if not rest else "?"
    elif value.count(":") == 1:
        host, _, port = value.partition(":")
    else:  # a name, or a bare IPv6 address: no port
        host, port = value, None
    if port is None and host and " " not in host:
        return host, DEFAULT_PORTS[security]
    if not host or port is None or not port.isdigit() or not 0 < int(port) < 65536:
        raise click.BadParameter(f"{value!r} is not HOST or HOST:PORT (e.g. "
                                 "smtp.example.org:587)", param_hint="'--smtp'")
    return host, int(port)


def _rate(value: str | None) -> float | None:
    """``--rate 10/s``, ``600/m`` or ``36000/h`` (or a bare number: per second)."""
    if value is None:
        return None
    number, _, unit = value.strip().partition("/")
    per = {"": 1, "s": 1, "m": 60, "min": 60, "h": 3600}.get(unit.strip().lower())
    try:
        count = float(number)
    except ValueError:
        count = math.nan
    if per is None or not math.isfinite(count) or count <= 0:
        raise click.BadParameter(f"{value!r} is not a rate like 10/s, 600/m or 36000/h",
                                 param_hint="'--rate'")
    return count / per


class _Progress:
    """``[n/N] sent path (rate, ETA)`` on one terminal line of stderr, rewritten in place."""

    def __init__(self, total: int, enabled: bool) -> None:
        import time

        self.total = total
        self.enabled = enabled
        self.done = 0
        self.sent = 0
        self.clock = time.monotonic
        self.start = self.clock()
        self.shown = False

    def line(self, status: str, path: Path, elapsed: float) -> str:
        rate = self.done / elapsed if elapsed > 0 else 0.0
        left = self.total - self.done
        eta = f", ETA {_duration(left / rate)}" if rate > 0 and left else ""
        return (f"[{self.done}/{self.total}] {status} {path.name} "
                f"({rate:.1f} messages/s{eta})")

    def update(self, status: str, path: Path) -> None:
        self.done += 1
        self.sent += status == "sent"
        if self.enabled:
            text = self.line(status, path, self.clock() - self.start)
            click.echo(f"\r\x1b[2K{text}", err=True, nl=False)
            self.shown = True

    def clear(self) -> None:
        if self.shown:
            click.echo("\r\x1b[2K", err=True, nl=False)
            self.shown = False


def _duration(seconds: float) -> str:
    whole = int(seconds + 0.5)
    hours, rest = divmod(whole, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}" if hours else f"{rest // 60}:{rest % 60:02d}"


def _expand(paths: Iterable[Path]) -> list[Path]:
    out: list[Path] = []
    for p in paths:
        if p.is_dir():
            out.extend(sorted(p.glob("*.eml")))
        else:
            out.append(p)
    return out


@click.command()
@click.argument("messages", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--smtp", "server", required=True, metavar="HOST[:PORT]",
              help="The SMTP server, e.g. smtp.example.org:587; without a port, 25 (587 with "
                   "--starttls, 465 with --ssl).")
@click.option("--starttls", is_flag=True, help="Upgrade the connection with STARTTLS.")
@click.option("--ssl", "use_ssl", is_flag=True, help="Connect over TLS (SMTPS, port 465).")
@click.option("--user", help="Log in as this user.")
@click.option("--password-env", metavar="VAR", help="The environment variable with the password.")
@click.option("--dry-run", is_flag=True, help="Show what would be sent; send nothing.")
@click.option("--resend", is_flag=True, help="Send again messages the outbox records as sent "
                                              "(to all their recipients).")
@click.option("--timeout", type=click.FloatRange(min=0, min_open=True, max=3600),
              default=30.0, show_default=True, callback=lambda _ctx, param, value: (
                  value if not math.isnan(value) else _bad(param, "nan is not a number of "
                                                                    "seconds")),
              help="Seconds to wait for the server.")
@click.option("--rate", metavar="N/s", help="Send at most N messages a second (or N/m, N/h).")
@click.option("--test-to", metavar="ADDRESS", help="Send one copy of the first message to "
                                                   "ADDRESS only (recorded nowhere).")
@click.option("--keep-date", is_flag=True, help="Keep each file's Date header instead of "
                                               "dating the message when it is sent.")
@click.option("-q", "--quiet", is_flag=True, help="Print only failures and the summary.")
@click.pass_obj
@handle_errors
def send(  # noqa: PLR0917 - click passes each option as an argument
        obj: Context, messages: tuple[Path, ...], server: str, starttls: bool, use_ssl: bool,
        user: str | None, password_env: str | None, dry_run: bool, resend: bool,
        timeout: float, rate: str | None, test_to: str | None, keep_date: bool,
        quiet: bool) -> None:
    """Send .eml messages (files, or folders of them) through one SMTP connection.

    Each message's result is printed, then a summary; on a terminal, a "[n/N] sent" line
    on stderr shows the rate and the time left. Messages sent are recorded in the folder's
    .sent.jsonl, so running the command again skips them (unless --resend), and sends a
    message only to its recipients that did not accept it: refused temporarily (4xx) or not
    reached. Those refused permanently (5xx) are reported again, not retried. Exits 1 if any
    message or recipient failed, or the server cannot be reached. Interrupted (Ctrl-C), it
    says how many were sent and how many are left: the same command resumes.

    Each message is dated when it is sent (the file is left as it is; --keep-date sends the
    file's Date). A send locks each outbox folder (.send.lock, removed at the end) while it
    runs; another send on the same folder meanwhile exits 1 at once and sends nothing. A
    --dry-run or --test-to takes no lock.

    \b
    Examples:
      storykit send outbox/*.eml --smtp localhost:1025 --dry-run
      storykit send outbox/ --smtp smtp.example.org --test-to me@example.org
      storykit send outbox/ --smtp smtp.example.org --starttls --rate 10/s \\
          --user digest --password-env SMTP_PASSWORD
    """
    from storykit.email import OutboxBusyError, SendError
    from storykit.email import send as send_messages
    from storykit.email.headers import parse_addresses

    if starttls and use_ssl:
        raise click.UsageError("give --starttls or --ssl, not both")
    host, port = _host_port(server, "ssl" if use_ssl else "starttls" if starttls else "plain")
    per_second = _rate(rate)
    if test_to is not None:
        try:
            (address,) = parse_addresses(test_to, "--test-to")
        except ValueError as e:
            raise click.BadParameter(str(e), param_hint="'--test-to'") from None
        test_to = address.addr_spec
    password = None
    if password_env is not None:
        if user is None:
            raise click.UsageError("--password-env goes with --user")
        password = os.environ.get(password_env)
        if password is None:
            raise click.UsageError(f"the environment variable {password_env} is not set")
    elif user is not None:
        raise click.UsageError("--user needs --password-env VAR (passwords never go on the "
                               "command line)")

    files = _expand(messages)
    progress = _Progress(1 if test_to is not None else len(files),
                         enabled=not quiet and _is_terminal(sys.stderr))

    def show(result: Any) -> None:
        progress.update(result.status, result.path)
        if not result.ok:
            progress.clear()
            click.echo(f"storykit: error: {result}", err=True)
        elif not quiet:
            progress.clear()
            click.echo(str(result))

    try:
        report = send_messages(files, host, port,
                               security="ssl" if use_ssl else "starttls" if starttls else "plain",
                               user=user, password=password, dry_run=dry_run, resend=resend,
                               timeout=timeout, on_result=show, keep_date=keep_date,
                               rate=per_second, test_to=test_to)
    except (OutboxBusyError, SendError) as e:
        progress.clear()
        fail(str(e))
    except KeyboardInterrupt:
        progress.clear()
        left = progress.total - progress.done
        fail(f"interrupted: sent {progress.sent}, {left} left; run the same command again to "
             "resume", 130)
    progress.clear()
    click.echo(report.summary())
    if report.aborted:
        fail(report.aborted)
    if not report.ok:
        sys.exit(1)


def _is_terminal(stream: Any) -> bool:
    isatty = getattr(stream, "isatty", None)
    return bool(isatty is not None and isatty())
