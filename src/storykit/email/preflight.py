"""Checking a message first, as a careful bulk sender would.

:func:`lint` is the preflight: subject length, Gmail's clipping size, relative URLs, images
without ``alt``, a missing or empty plain-text part, no unsubscribe on a bulk message, and bare
"read more" / "click here" link text. It returns :class:`Finding` objects; the caller decides
whether they are warnings or errors (``storykit digest --check [--strict]``).
"""

from __future__ import annotations

import re
from html.parser import HTMLParser
from typing import TYPE_CHECKING

import attrs

if TYPE_CHECKING:
    from email.message import EmailMessage

__all__ = ["BARE_LINK_TEXT", "GMAIL_CLIP_BYTES", "Finding", "lint"]

#: Gmail hides ("clips") the rest of a message whose HTML is larger than this.
GMAIL_CLIP_BYTES = 102 * 1024
SUBJECT_MIN, SUBJECT_MAX = 10, 78
#: Link text that says nothing out of context (screen readers list links by their text).
BARE_LINK_TEXT = frozenset({
    "read more", "more", "click here", "here", "click", "learn more", "this link", "link",
    "read on", "continue reading", "more info", "details", "see more", "go",
})


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
    try:
        senders = {a.addr_spec.lower() for a in msg["from"].addresses} if msg["from"] else set()
        to = {a.addr_spec.lower() for a in msg["to"].addresses} if msg["to"] else set()
    except (AttributeError, ValueError):
        senders = to = set()
    if to and to <= senders:
        found.append(Finding("to-is-sender", "the message is addressed to its own sender; "
                             "give the recipients (-O to=ADDRESS)"))
    if bulk and msg.get("list-unsubscribe") is None:
        found.append(Finding("no-unsubscribe", "a bulk message without a List-Unsubscribe "
                             "header (give -O unsubscribe=https://...)"))
    return found


