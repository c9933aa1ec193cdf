"""The options of the ``email`` format, and the checks of their values.

Unsubscribe tokens (``{token}`` in the ``unsubscribe`` URL) are the first 128 bits of
HMAC-SHA256 of the lower-cased address keyed by the environment variable
``STORYKIT_UNSUBSCRIBE_KEY`` when it is set; without a key they are a SHA-256 of the address
(stable, but guessable by anyone who knows the address; set the key in production).
"""

from __future__ import annotations

import hashlib
import hmac
import os
from datetime import UTC, date, datetime
from pathlib import Path

import attrs

from storykit import _rules as rules
from storykit.email.headers import UNSAFE
from storykit.errors import OptionError

__all__ = [
    "TOKEN_KEY_ENV",
    "EmailOptions",
    "as_day",
    "check_mailto",
    "check_unsubscribe",
    "check_web_url",
    "day",
    "parse_date",
    "unsubscribe_token",
]

#: The environment variable holding the key for unsubscribe tokens.
TOKEN_KEY_ENV = "STORYKIT_UNSUBSCRIBE_KEY"
def unsubscribe_token(address: str, key: bytes | None = None) -> str:
    """The token for ``{token}`` in unsubscribe URLs: 32 hex digits.

    HMAC-SHA256 of the lower-cased address with ``key`` (from ``STORYKIT_UNSUBSCRIBE_KEY``
    when not given); without any key, SHA-256 of the address (stable but guessable).
    """
    if key is None:
        env = os.environ.get(TOKEN_KEY_ENV)
        key = env.encode() if env else None
    data = address.strip().lower().encode()
    if key:
        return hmac.new(key, data, hashlib.sha256).hexdigest()[:32]
    return hashlib.sha256(b"storykit-unsubscribe:" + data).hexdigest()[:32]


@attrs.frozen
class EmailOptions:
    """Options of the ``email`` format."""

    #: From: ``"Name <address>"`` or an address (default: the first media contact's email
    #: that a header can hold: an internationalised domain goes in IDNA form; an address with a
    #: non-ASCII local part needs SMTPUTF8 and is passed over).
    sender: str | None = None
    #: To: one or more addresses, comma-separated (default: the sender).
    to: str | None = None
    #: Subject (default: the collection title and the window, "Impact and people — 15–23
    #: February 2021").
    subject: str | None = None
    #: Reply-To: one or more addresses.
    reply_to: str | None = None
    #: An https unsubscribe URL; ``{token}`` is replaced by the recipient's token.
    unsubscribe: str | None = None
    #: A mailto unsubscribe address (``unsubscribe@example.org`` or ``mailto:...``).
    unsubscribe_mailto: str | None = None
    #: The hidden preview line shown after the subject in inboxes (default: the collection's
    #: description, else the first three titles of each message's own stories).
    preheader: str | None = None
    #: Locale of dates and labels (default: the collection's language).
    locale: str | None = None
    #: The window the digest covers (ISO dates); default: the dates of its stories.
    since: date | str | None = None
    until: date | str | None = None
    #: Date header (ISO 8601 or RFC 5322); default: the date of the message's newest story,
    #: never the clock.
    date: str | None = None
    #: Message-ID, ``<id@domain>``; default: a hash of the content and recipients.
    message_id: str | None = None
    #: The digest on the web, linked as "View in your browser" at the top of the message.
    web_url: str | None = None
    #: The recipient's name, for the greeting ("Hello Ana,").
    name: str | None = None
    #: A folder of templates that override ``email.html`` and ``email.txt`` (they must keep
    #: the markers the messages are cut at: see :class:`EmailTemplateError`).
    template_dir: Path | None = None


def day(value: date) -> date:
    return value.date() if isinstance(value, datetime) else value


def as_day(value: date | str | None, name: str) -> date | None:
    if value is None or isinstance(value, date):
        return day(value) if value is not None else None
    try:
        return day(rules.published(value))
    except rules.Invalid as e:
        raise OptionError("email", name, e.message) from None


def parse_date(value: str) -> datetime:
    try:
        dt = datetime.fromisoformat(value)
    except ValueError:
        from email.utils import parsedate_to_datetime

        try:
            dt = parsedate_to_datetime(value)
        except (TypeError, ValueError):
            raise OptionError("email", "date", f"{value!r} is not an ISO 8601 or RFC 5322 "
                              "date") from None
    return dt if dt.tzinfo is not None else dt.replace(tzinfo=UTC)


def check_unsubscribe(url: str | None) -> str | None:
    if url is None or not url.strip():
        return None
    url = url.strip()
    probe = url.replace("{token}", "0")
    try:
        rules.url(probe)
    except rules.Invalid as e:
        raise OptionError("email", "unsubscribe", e.message) from None
    if not probe.lower().startswith("https://"):
        raise OptionError("email", "unsubscribe", f"must be an https URL (got {url!r}); "
                          "use unsubscribe_mailto for an address")
    if len(url) > 900 or not url.isascii():
        raise OptionError("email", "unsubscribe", "must be an ASCII URL of at most 900 "
                          "characters (percent-encode other characters)")
    return url


def check_web_url(url: str | None) -> str | None:
    """The ``web_url`` option: an absolute http(s) URL, or None."""
    if url is None or not url.strip():
        return None
    try:
        return rules.url(url.strip())
    except rules.Invalid as e:
        raise OptionError("email", "web_url", e.message) from None


def check_mailto(value: str | None) -> str | None:
    if value is None or not value.strip():
        return None
    addr = value.strip()
    if addr.lower().startswith("mailto:"):
        addr = addr[7:]
    base, _, query = addr.partition("?")
    try:
        spec = rules.email(base)
    except rules.Invalid as e:
        raise OptionError("email", "unsubscribe_mailto", e.message) from None
    if UNSAFE.search(query) or " " in query or not query.isascii() or len(query) > 200:
        raise OptionError("email", "unsubscribe_mailto", f"{value!r} has a query that is not "
                          "a plain percent-encoded one")
    return f"mailto:{spec}" + (f"?{query}" if query else "")

