"""Sending messages over SMTP.

:func:`send` sends ``.eml`` files through one SMTP connection with :mod:`smtplib`: a result per
message, a refused recipient does not stop the rest, and every message sent is recorded in the
``.sent.jsonl`` file of its folder (one JSON line, appended and flushed after each message, keyed
by Message-ID, with the recipients that accepted it and those refused), so a rerun skips what was
already sent unless ``resend=True``. A rerun sends a message again only to the recipients that
have not accepted it, except those refused permanently (5xx): those are reported, not retried.
While it sends, a run holds an exclusive lock on each outbox folder (``.send.lock``, ``flock``),
so two runs on one outbox cannot both send a message: the second raises :class:`OutboxBusyError`.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import smtplib
import socket
import sys
import time
from collections.abc import Callable, Iterable
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

import attrs

__all__ = [
    "SEND_LOCK",
    "SENT_RECORD",
    "OutboxBusyError",
    "Result",
    "SendError",
    "SendReport",
    "send",
    "stamp_date",
]

#: The record of sent messages kept in each outbox folder.
SENT_RECORD = ".sent.jsonl"
#: The lock file a send holds in each outbox folder while it runs (left in place: harmless).
SEND_LOCK = ".send.lock"
SUBJECT_MIN, SUBJECT_MAX = 10, 78


class SendError(ConnectionError):
    """The SMTP server could not be reached or would not let us in; names host and port."""

    def __init__(self, host: str, port: int, reason: str) -> None:
        self.host = host
        self.port = port
        self.reason = reason
        super().__init__(f"cannot send through SMTP server {host}:{port}: {reason}")

    def __str__(self) -> str:
        return str(self.args[0])

    def __reduce__(self) -> tuple[Any, ...]:  # (picklable: sent back from worker processes)
        return (type(self), (self.host, self.port, self.reason), self.__dict__)


class OutboxBusyError(RuntimeError):
    """Another send holds the lock of this outbox folder; nothing was sent.

    Two runs on one outbox would both read the record before either wrote to it and send every
    message twice; so a run locks each folder first, and fails at once if it cannot (a cron job
    that fires while the last one still runs should not queue up behind it).
    """

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.lock = folder / SEND_LOCK
        super().__init__(f"another storykit send is running on the outbox {folder} (it holds "
                         f"{self.lock}); nothing sent, run again when it has finished")

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.folder,), self.__dict__)


Status = Literal["sent", "failed", "skipped", "dry-run"]


def _temporary(reply: str) -> bool:
    """A refusal worth retrying: any reply but a 5xx (permanent) one."""
    return not reply.startswith("5")


@attrs.frozen
class Result:
    """What happened to one message file.

    ``recipients`` are those the message was sent (or, in a dry run, would be sent) to in this
    run: on a rerun, only those that had not accepted it yet.
    """

    path: Path
    status: Status
    recipients: tuple[str, ...] = ()
    #: Recipients refused in this run, and the server's reply to each.
    refused: dict[str, str] = attrs.field(factory=dict)
    detail: str = ""
    #: Recipients refused permanently (5xx) by an earlier run, not asked again; their replies.
    earlier: dict[str, str] = attrs.field(factory=dict)

    @property
    def ok(self) -> bool:
        return (self.status in ("sent", "skipped", "dry-run") and not self.refused
                and not self.earlier)

    @property
    def temporary(self) -> tuple[str, ...]:
        """The recipients refused temporarily (4xx) in this run: a rerun retries them."""
        return tuple(a for a, reply in self.refused.items() if _temporary(reply))

    def __str__(self) -> str:
        to = ", ".join(self.recipients)
        line = f"{self.status}: {self.path}" + (f" to {to}" if to else "")
        if self.refused:
            line += "; refused " + "; ".join(f"{a} ({r})" for a, r in self.refused.items())
        if self.earlier:
            line += "; refused earlier, not retried: " + "; ".join(
                f"{a} ({r})" for a, r in self.earlier.items())
        if self.detail:
            line += f" ({self.detail})"
        return line


@attrs.define
class SendReport:
    """Every message's result, and the error that stopped the run early (if any)."""

    results: list[Result] = attrs.field(factory=list)
    aborted: str | None = None

    def count(self, status: Status) -> int:
        return sum(1 for r in self.results if r.status == status)

    @property
    def failed(self) -> int:
        return sum(1 for r in self.results if not r.ok)

    @property
    def ok(self) -> bool:
        return self.failed == 0 and self.aborted is None

    def summary(self) -> str:
        refused = sum(len(r.refused) for r in self.results)
        temporary = sum(len(r.temporary) for r in self.results)
        earlier = sum(len(r.earlier) for r in self.results)
        parts = [f"{self.count('sent')} sent", f"{self.failed} failed"]
        if refused:
            part = f"{refused} recipient{'s' if refused != 1 else ''} refused"
            if temporary:
                some = "" if temporary == refused else f"{temporary} "
                part += (f" ({some}temporarily: the next run retries "
                         f"{'it' if temporary == 1 else 'them'})")
            parts.append(part)
        if earlier:
            parts.append(f"{earlier} recipient{'s' if earlier != 1 else ''} refused earlier "
                         "(not retried)")
        parts.append(f"{self.count('skipped')} skipped (already sent)")
        if self.count("dry-run"):
            parts.append(f"{self.count('dry-run')} not sent (dry run)")
        return ", ".join(parts)


def _lock(fd: int) -> bool:
    """Take an exclusive lock on an open file without waiting; False if another holds it.

    ``flock`` locks belong to the open file, so the kernel drops them when the process ends,
    however it ends: a crashed or killed send never leaves its outbox locked.
    """
    if sys.platform == "win32":
        import msvcrt

        try:
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
        except OSError:
            return False
        return True
    import fcntl

    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


def _take_lock(folder: Path) -> int | None:
    """The descriptor of the folder's :data:`SEND_LOCK`, locked; None if there is no folder.

    The file is removed when the run ends (:meth:`_Record.close`), so a run that opened it just
    before may lock a file no longer in the folder: it checks that the file it locked is still
    the one at the path, and tries again if not.
    """
    path = folder / SEND_LOCK
    while True:
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        except (FileNotFoundError, NotADirectoryError):
            return None  # no such folder: each of its files fails on its own, nothing to record
        if not _lock(fd):
            os.close(fd)
            raise OutboxBusyError(folder)
        try:
            same = os.path.samestat(os.fstat(fd), os.stat(path))
        except FileNotFoundError:
            same = False
        if same:
            return fd
        os.close(fd)


class _Throttle:
    """At most ``rate`` messages a second: :meth:`wait` sleeps until the next one may go."""

    def __init__(self, rate: float | None, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.interval = 1 / rate if rate else 0.0
        self.clock = clock
        self.sleep = sleep
        self.next: float | None = None

    def wait(self) -> None:
        if not self.interval:
            return
        now = self.clock()
        if self.next is not None and now < self.next:
            self.sleep(self.next - now)
            now = self.next
        self.next = now + self.interval


#: The header section of a message (after line ends became CR LF) and the Date field in it.
_DATE_FIELD = re.compile(rb"^Date:[^\r]*\r\n(?:[ \t][^\r]*\r\n)*", re.IGNORECASE | re.MULTILINE)


def stamp_date(data: bytes, when: datetime | None = None) -> bytes:
    """``data`` (CR LF line ends) with its ``Date`` set to ``when`` (default: now, local time).

    A message without a ``Date`` is left without one.

    A message is dated when it is sent, as a mail client dates it, so that it sorts where the
    reader expects; the file it came from is left as it is.
    """
    from email.utils import format_datetime

    stamp = when if when is not None else datetime.now().astimezone()
    line = b"Date: " + format_datetime(stamp).encode("ascii") + b"\r\n"
    end = data.find(b"\r\n\r\n")
    head, body = (data, b"") if end < 0 else (data[:end + 2], data[end + 2:])
    found = _DATE_FIELD.search(head)
    if found is None:  # (the first server adds one, as RFC 5321 says)
        return data
    return head[:found.start()] + line + head[found.end():] + body


class _Record:
    """The ``.sent.jsonl`` of one folder: who accepted each message, and who refused it for good.

    Each line is one attempt: ``{"key", "file", "accepted": [...], "refused": {addr: reply}}``.
    Per key, the recipients that accepted accumulate; an address's latest reply decides whether
    it counts as refused permanently (5xx). With ``lock`` the folder's :data:`SEND_LOCK` is
    taken before the record is read, and held until :meth:`close`.
    """

    def __init__(self, folder: Path, *, lock: bool) -> None:
        self.path = folder / SENT_RECORD
        #: Per key: the recipients that accepted it (None: all of them, a line without
        #: "accepted").
        self.accepted: dict[str, set[str] | None] = {}
        #: Per key: the recipients refused permanently, and the reply.
        self.refused: dict[str, dict[str, str]] = {}
        self._file: Any = None
        self._lock: int | None = None
        self._lock_path = folder / SEND_LOCK
        if lock:
            self._lock = _take_lock(folder)
        try:
            with self.path.open("rb") as f:
                for line in f:
                    try:
                        self._read(json.loads(line))
                    except (ValueError, KeyError, TypeError, AttributeError):
                        continue  # a line torn by a crash: that message counts as unsent
        except (FileNotFoundError, NotADirectoryError):
            pass

    def _read(self, entry: dict[str, Any]) -> None:
        key = str(entry["key"])
        accepted = entry.get("accepted")
        refused = self.refused.setdefault(key, {})
        for address, reply in dict(entry.get("refused") or {}).items():
            if _temporary(str(reply)):
                refused.pop(str(address), None)
            else:
                refused[str(address)] = str(reply)
        if accepted is None:
            self.accepted[key] = None
            return
        had = self.accepted.setdefault(key, set())
        for address in accepted:
            refused.pop(str(address), None)
            if had is not None:
                had.add(str(address))

    def pending(self, key: str, rcpts: list[str]) -> tuple[list[str], list[str], dict[str, str]]:
        """``(to send to, accepted already, refused for good)`` of a message already recorded."""
        had = self.accepted[key]
        if had is None:
            return [], list(rcpts), {}
        gone = self.refused.get(key, {})
        to = [a for a in rcpts if a not in had and a not in gone]
        return to, [a for a in rcpts if a in had], {a: gone[a] for a in rcpts if a in gone}

    def add(self, entry: dict[str, Any]) -> None:
        if self._file is None:
            self._file = self.path.open("ab")
        # Flushed to the operating system after every message, so a crash of this process
        # loses nothing; fsynced once at the end (an fsync per message would cost more than
        # the SMTP round trip).
        self._file.write(json.dumps(entry, ensure_ascii=True).encode() + b"\n")
        self._file.flush()
        self._read(entry)

    def close(self) -> None:
        try:
            if self._file is not None:
                os.fsync(self._file.fileno())
                self._file.close()
                self._file = None
        finally:
            if self._lock is not None:
                # Removed while still held, so that a run waiting to open it finds it gone (or
                # a new file) and locks that instead: see _take_lock.
                with contextlib.suppress(OSError):
                    os.unlink(self._lock_path)
                os.close(self._lock)  # releases the lock
                self._lock = None


def _envelope(data: bytes) -> tuple[str, list[str], str]:
    """(from, recipients, key) of a message; raises ValueError saying what is missing."""
    from email import policy
    from email.parser import BytesHeaderParser

    if not data.strip():
        raise ValueError("the file is empty")
    msg = BytesHeaderParser(policy=policy.default).parsebytes(data)
    if msg.get("bcc") is not None:
        raise ValueError("it has a Bcc header (storykit send does not strip headers)")
    try:
        senders = [a.addr_spec for a in msg["from"].addresses] if msg["from"] else []
        rcpts = [a.addr_spec for name in ("to", "cc") if msg[name]
                 for a in msg[name].addresses]
    except (AttributeError, ValueError) as e:
        raise ValueError(f"its address headers cannot be read: {e}") from None
    if len(senders) != 1:
        raise ValueError("it needs exactly one From address")
    if not rcpts:
        raise ValueError("it has no To or Cc address")
    msgid = str(msg.get("message-id", "") or "").strip()
    key = msgid or "sha256:" + hashlib.sha256(data).hexdigest()
    return senders[0], rcpts, key


#: A line end of a message file: CR LF, or a bare LF (as most editors write) or CR. Sent as
#: CR LF, SMTP's only line end: a bare LF would reach the server as is, and a line starting
#: with "." after it would keep the extra "." that SMTP adds (it is removed only after CR LF).
_LINE_END = re.compile(rb"\r\n|\r|\n")


def send(paths: Iterable[str | os.PathLike[str]], host: str, port: int, *,
         security: Literal["plain", "starttls", "ssl"] = "plain", user: str | None = None,
         password: str | None = None, dry_run: bool = False, resend: bool = False,
         timeout: float = 30.0, on_result: Callable[[Result], None] | None = None,
         keep_date: bool = False, rate: float | None = None, test_to: str | None = None,
         ) -> SendReport:
    """Send each ``.eml`` file through one SMTP connection; return what happened to each.

    The connection is opened at the first message to send (never in a dry run) and reused.
    A message some of whose recipients are refused is still sent to the others; its refused
    recipients make the report not ``ok``. A message already recorded goes only to the
    recipients that have not accepted it, and not to those refused permanently (5xx) before:
    those are reported again in :attr:`Result.earlier`. ``resend=True`` sends every message to
    all its recipients again.

    Each message goes out with its ``Date`` set to the time it is sent (the file is not
    changed), unless ``keep_date=True``. ``rate`` is at most that many messages a second.
    ``test_to`` sends one copy of the first message to that address only, and records nothing.

    Before sending anything, every folder of ``paths`` is locked (not in a dry run, which
    writes nothing); :class:`OutboxBusyError` if another send holds one. A server that cannot be
    reached raises :class:`SendError` naming ``host:port`` (messages already sent stay
    recorded).
    """
    report = SendReport()
    records: dict[Path, _Record] = {}
    smtp: smtplib.SMTP | None = None
    files = [Path(p) for p in paths]
    throttle = _Throttle(rate)
    if test_to is not None:
        files = files[:1]

    def emit(result: Result) -> None:
        report.results.append(result)
        if on_result is not None:
            on_result(result)

    def connect() -> smtplib.SMTP:
        try:
            conn: smtplib.SMTP
            if security == "ssl":
                import ssl

                conn = smtplib.SMTP_SSL(host, port, timeout=timeout,
                                        context=ssl.create_default_context())
            else:
                conn = smtplib.SMTP(host, port, timeout=timeout)
            conn.ehlo_or_helo_if_needed()
            if security == "starttls":
                import ssl

                conn.starttls(context=ssl.create_default_context())
                conn.ehlo()
            if user is not None:
                conn.login(user, password or "")
        except smtplib.SMTPAuthenticationError as e:
            raise SendError(host, port, f"login as {user!r} refused: {e.smtp_code} "
                            f"{_text(e.smtp_error)}") from None
        except smtplib.SMTPNotSupportedError as e:
            raise SendError(host, port, str(e)) from None
        except (OSError, smtplib.SMTPException) as e:
            reason = e.strerror if isinstance(e, OSError) and e.strerror else str(e) or (
                type(e).__name__)
            if isinstance(e, socket.timeout):
                reason = f"no answer within {timeout:g} seconds"
            raise SendError(host, port, reason) from None
        return conn

    try:
        # Every lock first: a busy folder stops the run before anything is sent. Keyed by the
        # real folder, so that one folder named two ways is locked (and recorded) once.
        folders = {path: path.parent.resolve() for path in files}
        for path, folder in folders.items():
            if folder not in records:
                records[folder] = _Record(path.parent, lock=not dry_run and test_to is None)
        for path in files:
            try:
                raw = path.read_bytes()
                # The key from the file as it is (a message without a Message-ID is known by
                # its bytes, so the record of an earlier run still matches), sent with SMTP's
                # CR LF (RFC 5321).
                sender, rcpts, key = _envelope(raw)
                data = _LINE_END.sub(b"\r\n", raw)
                if not keep_date:
                    data = stamp_date(data)
            except (OSError, ValueError) as e:
                detail = e.strerror if isinstance(e, OSError) and e.strerror else str(e)
                emit(Result(path, "failed", detail=f"not sent: {detail}"))
                continue
            record = records[folders[path]]
            to, had, gone = rcpts, list[str](), dict[str, str]()
            if test_to is not None:
                to, key, detail = [test_to], "", "a test copy, not recorded"
            elif key in record.accepted and not resend:
                to, had, gone = record.pending(key, rcpts)
                if not to:
                    emit(Result(path, "failed", earlier=gone) if gone else
                         Result(path, "skipped", tuple(rcpts), detail="already sent"))
                    continue
            if test_to is None:
                detail = f"{', '.join(had)} had it already" if had else ""
            if dry_run:
                emit(Result(path, "dry-run", tuple(to), detail=detail, earlier=gone))
                continue
            options = [] if data.isascii() else ["BODY=8BITMIME"]
            throttle.wait()
            for attempt in (1, 2):
                if smtp is None:
                    smtp = connect()
                try:
                    refused = smtp.sendmail(sender, to, data, mail_options=options)
                except smtplib.SMTPServerDisconnected:
                    smtp = None
                    if attempt == 2:
                        raise SendError(host, port, "the server closed the connection") from None
                    continue
                except smtplib.SMTPRecipientsRefused as e:
                    # Recorded too: a permanent refusal is not retried by the next run.
                    bad = {a: f"{code} {_text(msg)}" for a, (code, msg) in e.recipients.items()}
                    if key:  # (a test copy is not recorded)
                        record.add({"key": key, "file": path.name, "accepted": [],
                                    "refused": bad})
                    emit(Result(path, "failed", tuple(to), refused=bad, detail=detail,
                                earlier=gone))
                except smtplib.SMTPResponseException as e:
                    emit(Result(path, "failed", tuple(to),
                                detail=f"{e.smtp_code} {_text(e.smtp_error)}", earlier=gone))
                except smtplib.SMTPException as e:
                    emit(Result(path, "failed", tuple(to), detail=str(e), earlier=gone))
                else:
                    bad = {a: f"{code} {_text(msg)}" for a, (code, msg) in refused.items()}
                    if key:
                        record.add({"key": key, "file": path.name, "accepted": [
                            a for a in to if a not in bad], "refused": bad})
                    emit(Result(path, "sent", tuple(to), refused=bad, detail=detail,
                                earlier=gone))
                break
    except SendError as e:
        report.aborted = str(e)
        if not report.results:
            raise
    except BaseException:  # Ctrl-C, SIGTERM: hang up now, without the QUIT round trip (a
        # server still answering the message would keep the command waiting for its timeout)
        if smtp is not None:
            smtp.close()
            smtp = None
        raise
    finally:
        for record in records.values():
            record.close()
        if smtp is not None:
            try:
                smtp.quit()
            except (OSError, smtplib.SMTPException):
                smtp.close()
    return report


def _text(value: bytes | str) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)

