"""Sending messages over SMTP, and checking them first as a careful bulk sender would.

:func:`lint` is the preflight: subject length, Gmail's clipping size, relative URLs, images
without ``alt``, a missing or empty plain-text part, no unsubscribe on a bulk message, and bare
"read more" / "click here" link text. It returns :class:`Finding` objects; the caller decides
whether they are warnings or errors (``storykit digest --check [--strict]``).

:func:`send` sends ``.eml`` files through one SMTP connection with :mod:`smtplib`: a result per
message, a refused recipient does not stop the rest, and every message sent is recorded in the
``.sent.jsonl`` file of its folder (one JSON line, appended and flushed after each message, keyed
by Message-ID), so a rerun skips what was already sent unless ``resend=True``.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import smtplib
import socket
from collections.abc import Callable, Iterable
from html.parser import HTMLParser
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import attrs

if TYPE_CHECKING:
    from email.message import EmailMessage

__all__ = [
    "GMAIL_CLIP_BYTES",
    "SENT_RECORD",
    "Finding",
    "Result",
    "SendError",
    "SendReport",
    "lint",
    "send",
]

#: Gmail hides ("clips") the rest of a message whose HTML is larger than this.
GMAIL_CLIP_BYTES = 102 * 1024
#: The record of sent messages kept in each outbox folder.
SENT_RECORD = ".sent.jsonl"
SUBJECT_MIN, SUBJECT_MAX = 10, 78
#: Link text that says nothing out of context (screen readers list links by their text).
BARE_LINK_TEXT = frozenset({
    "read more", "more", "click here", "here", "click", "learn more", "this link", "link",
    "read on", "continue reading", "more info", "details", "see more", "go",
})

# --- preflight -----------------------------------------------------------------------------------


@attrs.frozen
class Finding:
    """One preflight problem: a short code and a sentence saying what is wrong."""

    code: str
    message: str

    def __str__(self) -> str:
        return f"{self.message} [{self.code}]"


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.urls: list[tuple[str, str]] = []  # (tag.attribute, url)
        self.images_without_alt: list[str] = []
        self.link_texts: list[tuple[str, str]] = []  # (text, href)
        self._href: str | None = None
        self._text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "a":
            href = a.get("href")
            if href is not None:
                self.urls.append(("a href", href))
            self._href = href or ""
            self._text = []
        elif tag == "img":
            src = a.get("src")
            if src is not None:
                self.urls.append(("img src", src))
            if "alt" not in a or a["alt"] is None:
                self.images_without_alt.append(src or "(no src)")
            if self._href is not None:
                self._text.append(a.get("alt") or "")
        elif tag in ("link", "area") and a.get("href") is not None:
            self.urls.append((f"{tag} href", a["href"] or ""))

    def handle_endtag(self, tag: str) -> None:
        if tag == "a" and self._href is not None:
            self.link_texts.append((" ".join("".join(self._text).split()), self._href))
            self._href = None

    def handle_data(self, data: str) -> None:
        if self._href is not None:
            self._text.append(data)


_SCHEME = re.compile(r"[a-zA-Z][a-zA-Z0-9+.-]*:")


def _parse(message: bytes | EmailMessage) -> EmailMessage:
    if isinstance(message, bytes):
        from email import policy
        from email.parser import BytesParser

        parsed: EmailMessage = BytesParser(policy=policy.default).parsebytes(message)
        return parsed
    return message


def lint(message: bytes | EmailMessage, *, bulk: bool = True) -> list[Finding]:
    """Preflight a message; every problem found, in a stable order (empty: all clear).

    ``bulk`` says the message goes to a list (then it needs a ``List-Unsubscribe`` header).
    Sizes are those of the HTML part as sent (after its transfer encoding).
    """
    found: list[Finding] = []
    if isinstance(message, bytes):
        longest = max((len(line) for line in message.split(b"\n")), default=0)
        if longest > 999:  # 998 octets plus the CR of CRLF
            found.append(Finding("long-line", f"a line is {longest - 1} octets long; "
                                              "RFC 5322 allows 998"))
    msg = _parse(message)
    subject = str(msg.get("subject", "") or "")
    n = len(subject)
    if not SUBJECT_MIN <= n <= SUBJECT_MAX:
        found.append(Finding("subject-length", f"the subject is {n} characters long; keep it "
                             f"between {SUBJECT_MIN} and {SUBJECT_MAX} ({subject!r})"))
    plain = msg.get_body(("plain",))
    if plain is None:
        found.append(Finding("no-text-part", "there is no text/plain part (spam filters and "
                             "text-only readers need one)"))
    elif not str(plain.get_content()).strip():
        found.append(Finding("empty-text-part", "the text/plain part is empty"))
    page = msg.get_body(("html",))
    if page is not None:
        raw = page.get_payload(decode=False)
        size = len(raw.encode("utf-8", "surrogateescape")) if isinstance(raw, str) else 0
        if size > GMAIL_CLIP_BYTES:
            found.append(Finding("html-size", f"the HTML part is {size:,} bytes; Gmail clips "
                                 f"messages over {GMAIL_CLIP_BYTES:,} bytes (102 KB)"))
        parser = _Links()
        parser.feed(str(page.get_content()))
        parser.close()
        for where, url in parser.urls:
            if not _SCHEME.match(url.strip()):
                found.append(Finding("relative-url", f"{where}={url!r} is relative; mail "
                                     "clients have no base URL, use an absolute https URL"))
        for src in parser.images_without_alt:
            found.append(Finding("image-alt", f"the image {src!r} has no alt text"))
        for text, href in parser.link_texts:
            words = re.sub(r"[^\w\s]", "", text).casefold().strip()
            if words in BARE_LINK_TEXT:
                found.append(Finding("link-text", f"the link to {href!r} says only {text!r}; "
                                     "say where it goes"))
    if bulk and msg.get("list-unsubscribe") is None:
        found.append(Finding("no-unsubscribe", "a bulk message without a List-Unsubscribe "
                             "header (give -O unsubscribe=https://...)"))
    return found


# --- sending -------------------------------------------------------------------------------------


class SendError(ConnectionError):
    """The SMTP server could not be reached or would not let us in; names host and port."""

    def __init__(self, host: str, port: int, reason: str) -> None:
        self.host = host
        self.port = port
        self.reason = reason
        super().__init__(f"cannot send through SMTP server {host}:{port}: {reason}")

    def __str__(self) -> str:
        return str(self.args[0])


Status = Literal["sent", "failed", "skipped", "dry-run"]


@attrs.frozen
class Result:
    """What happened to one message file."""

    path: Path
    status: Status
    recipients: tuple[str, ...] = ()
    #: Refused recipients and the server's reply to each.
    refused: dict[str, str] = attrs.field(factory=dict)
    detail: str = ""

    @property
    def ok(self) -> bool:
        return self.status in ("sent", "skipped", "dry-run") and not self.refused

    def __str__(self) -> str:
        to = ", ".join(self.recipients)
        line = f"{self.status}: {self.path}" + (f" to {to}" if to else "")
        if self.refused:
            line += "; refused " + "; ".join(f"{a} ({r})" for a, r in self.refused.items())
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
        parts = [f"{self.count('sent')} sent", f"{self.failed} failed"]
        if refused:
            parts.append(f"{refused} recipient{'s' if refused != 1 else ''} refused")
        parts.append(f"{self.count('skipped')} skipped (already sent)")
        if self.count("dry-run"):
            parts.append(f"{self.count('dry-run')} not sent (dry run)")
        return ", ".join(parts)


class _Record:
    """The ``.sent.jsonl`` of one folder: the Message-IDs already sent."""

    def __init__(self, folder: Path) -> None:
        self.path = folder / SENT_RECORD
        self.sent: set[str] = set()
        try:
            with self.path.open("rb") as f:
                for line in f:
                    try:
                        self.sent.add(str(json.loads(line)["key"]))
                    except (ValueError, KeyError, TypeError):
                        continue  # a line torn by a crash: that message counts as unsent
        except FileNotFoundError:
            pass
        self._file: Any = None

    def add(self, entry: dict[str, Any]) -> None:
        if self._file is None:
            self._file = self.path.open("ab")
        # Flushed to the operating system after every message, so a crash of this process
        # loses nothing; fsynced once at the end (an fsync per message would cost more than
        # the SMTP round trip).
        self._file.write(json.dumps(entry, ensure_ascii=True).encode() + b"\n")
        self._file.flush()
        self.sent.add(str(entry["key"]))

    def close(self) -> None:
        if self._file is not None:
            os.fsync(self._file.fileno())
            self._file.close()
            self._file = None


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


def send(paths: Iterable[str | os.PathLike[str]], host: str, port: int, *,
         security: Literal["plain", "starttls", "ssl"] = "plain", user: str | None = None,
         password: str | None = None, dry_run: bool = False, resend: bool = False,
         timeout: float = 30.0, on_result: Callable[[Result], None] | None = None,
         ) -> SendReport:
    """Send each ``.eml`` file through one SMTP connection; return what happened to each.

    The connection is opened at the first message to send (never in a dry run) and reused.
    A message some of whose recipients are refused is still sent to the others; its refused
    recipients make the report not ``ok``. A server that cannot be reached raises
    :class:`SendError` naming ``host:port`` (messages already sent stay recorded).
    """
    report = SendReport()
    records: dict[Path, _Record] = {}
    smtp: smtplib.SMTP | None = None

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
        for raw in paths:
            path = Path(raw)
            try:
                data = path.read_bytes()
                sender, rcpts, key = _envelope(data)
            except (OSError, ValueError) as e:
                detail = e.strerror if isinstance(e, OSError) and e.strerror else str(e)
                emit(Result(path, "failed", detail=f"not sent: {detail}"))
                continue
            folder = path.parent
            record = records.get(folder)
            if record is None:
                record = records[folder] = _Record(folder)
            if key in record.sent and not resend:
                emit(Result(path, "skipped", tuple(rcpts), detail="already sent"))
                continue
            if dry_run:
                emit(Result(path, "dry-run", tuple(rcpts)))
                continue
            options = [] if data.isascii() else ["BODY=8BITMIME"]
            for attempt in (1, 2):
                if smtp is None:
                    smtp = connect()
                try:
                    refused = smtp.sendmail(sender, rcpts, data, mail_options=options)
                except smtplib.SMTPServerDisconnected:
                    smtp = None
                    if attempt == 2:
                        raise SendError(host, port, "the server closed the connection") from None
                    continue
                except smtplib.SMTPRecipientsRefused as e:
                    emit(Result(path, "failed", tuple(rcpts), refused={
                        a: f"{code} {_text(msg)}" for a, (code, msg) in e.recipients.items()}))
                except smtplib.SMTPResponseException as e:
                    emit(Result(path, "failed", tuple(rcpts),
                                detail=f"{e.smtp_code} {_text(e.smtp_error)}"))
                except smtplib.SMTPException as e:
                    emit(Result(path, "failed", tuple(rcpts), detail=str(e)))
                else:
                    bad = {a: f"{code} {_text(msg)}" for a, (code, msg) in refused.items()}
                    record.add({"key": key, "file": path.name, "accepted": [
                        a for a in rcpts if a not in bad], "refused": bad})
                    emit(Result(path, "sent", tuple(rcpts), refused=bad))
                break
    except SendError as e:
        report.aborted = str(e)
        if not report.results:
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
