"""Email: one RFC 5322 digest message, ``multipart/alternative`` (plain text, then HTML).

The message is built the way a careful bulk sender builds it:

- addresses are :class:`email.headerregistry.Address` objects (which quote display names
  with specials); a long ASCII display name is folded at its spaces (as a quoted string when
  it needs quotes), never encoded; the non-ASCII words of a display name, and a non-ASCII
  subject, are sent as RFC 2047 base64 encoded words with the spaces between them inside the
  words (the 3.11 ``email`` folder loses the spaces between encoded words); ASCII subjects
  are folded by the SMTP policy;
- every header value that comes from data (subject, display names) is neutralised first:
  control characters, CR, LF, NUL, U+0085, U+2028 and U+2029 become spaces and ``=?`` becomes
  ``= ?``, so no value can start a header of its own or smuggle an encoded word
  (CVE-2024-6923). Addresses themselves are checked and rejected when malformed;
- both parts are UTF-8, quoted-printable, so no line is longer than 76 octets;
- the HTML is rendered and its CSS inlined by css-inline once per locale; the per-story blocks
  are cut out of that render and reused, so a personalised run of thousands of messages does
  constant work per message (see :class:`DigestRenderer`).

Determinism: equal input gives equal bytes. Without a ``date`` option the ``Date`` is the newest
date of the message's own stories (a plain date counts as midnight UTC), else the window's end,
else the Unix epoch; never the clock. The inbox preview line (preheader) is the ``preheader``
option, else the collection's description, else the first three titles of the message's own
stories. Without ``message_id`` the ``Message-ID`` is a SHA-256 of the collection, the
recipients, the stories chosen and the subject, at the sender's domain.

Unsubscribe tokens (``{token}`` in the ``unsubscribe`` URL) are the first 128 bits of
HMAC-SHA256 of the lower-cased address keyed by the environment variable
``STORYKIT_UNSUBSCRIBE_KEY`` when it is set; without a key they are a SHA-256 of the address
(stable, but guessable by anyone who knows the address; set the key in production).
"""

from __future__ import annotations

import binascii
import hashlib
import hmac
import html
import os
import re
import textwrap
from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime, time
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

import attrs

from storykit import _rules as rules
from storykit.collection import Collection
from storykit.errors import OptionError
from storykit.exporter import parse_options
from storykit.plugins import hookimpl

if TYPE_CHECKING:
    from email.headerregistry import Address

    from storykit.plugins import Registry

__all__ = [
    "DigestRenderer",
    "EmailExporter",
    "EmailOptions",
    "EmailTemplateError",
    "balance_bidi",
    "header_text",
    "parse_addresses",
    "unsubscribe_token",
]

#: The environment variable holding the key for unsubscribe tokens.
TOKEN_KEY_ENV = "STORYKIT_UNSUBSCRIBE_KEY"
#: Width of the plain-text part's prose.
TEXT_WIDTH = 72
#: Width of story images in the 600px layout (600 less 2 x 24px padding).
IMAGE_WIDTH = 552
#: The record separator marks the plain-text template's slots: no story text can hold it.
_RS = "\x1e"
_RTL = {"ar", "he", "fa", "ur", "ps", "yi", "dv", "ckb"}

# Anything that could end a header line or hide a new one: C0 and C1 controls (NUL, CR, LF,
# U+0085...), DEL, and the Unicode line and paragraph separators.
_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")
# The bidi embeddings and overrides (LRE, RLE, PDF, LRO, RLO) and isolates (LRI, RLI, FSI, PDI).
_BIDI = re.compile("[\u202a-\u202e\u2066-\u2069]")
_PDF = "\u202c"
_PDI = "\u2069"


def balance_bidi(value: str) -> str:
    """``value`` with each bidi embedding, override and isolate closed inside it.

    An unterminated U+202E RIGHT-TO-LEFT OVERRIDE in a collection title or a subscriber's name
    would reverse whatever follows it where the value is put: the rest of the Subject, the
    greeting, the other titles of a preview. Here a terminator without its opener is dropped,
    an isolate's terminator (PDI) also closes the embeddings opened inside it, and whatever is
    still open at the end is closed there, so the controls act on ``value`` alone. Balanced
    controls (an Arabic name isolated in English text) are kept as they are.
    """
    if _BIDI.search(value) is None:
        return value
    out: list[str] = []
    closers: list[str] = []  # what each control still open needs, innermost last
    pos = 0
    for m in _BIDI.finditer(value):
        ch = m.group()
        out.append(value[pos:m.start()])
        pos = m.end()
        if ch == _PDF:
            if closers and closers[-1] == _PDF:
                out.append(closers.pop())
        elif ch == _PDI:
            if _PDI in closers:
                while closers[-1] == _PDF:
                    out.append(closers.pop())
                out.append(closers.pop())
        else:
            closers.append(_PDI if ch >= "\u2066" else _PDF)
            out.append(ch)
    out.append(value[pos:])
    out.extend(reversed(closers))
    return "".join(out)


def header_text(value: str) -> str:
    """``value`` made safe for one header: one line, no controls, no encoded words.

    Line breaks and other control characters become spaces, runs of spaces collapse, and
    ``=?`` (the start of an RFC 2047 encoded word) becomes ``= ?``, so a value can never add a
    header or be decoded into something else by a mail client. Bidi controls are balanced
    (:func:`balance_bidi`), so a value cannot reverse the text that follows it.
    """
    s = _UNSAFE.sub(" ", value)
    s = s.replace("=?", "= ?").replace("?=", "? =")
    return balance_bidi(" ".join(s.split()))


def parse_addresses(value: str, what: str = "address") -> list[Address]:
    """``"Name <a@example.org>, b@example.org"`` as :class:`~email.headerregistry.Address` objects.

    Raises :class:`ValueError` saying what is wrong: a control character or line break
    anywhere, or an address that is not a valid email address. Display names are passed
    through :func:`header_text`.
    """
    from email.headerregistry import Address
    from email.utils import getaddresses

    bad = _UNSAFE.search(value)
    if bad is not None:
        raise ValueError(f"{what} {value!r} contains the control character {bad.group()!r}")
    pairs = getaddresses([value])
    if not pairs or any(not addr for _, addr in pairs):
        raise ValueError(f"{what} {value!r} is not an email address or a list of them")
    out = []
    for name, addr in pairs:
        try:
            spec = rules.email(addr)
        except rules.Invalid:
            raise ValueError(f"{what} {value!r}: {addr!r} is not a valid email address") from None
        local, _, domain = spec.rpartition("@")
        out.append(Address(display_name=header_text(name), username=local, domain=domain))
    return out


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

    #: From: ``"Name <address>"`` or an address (default: the first media contact's email).
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
    #: The recipient's name, for the greeting ("Hello Ana,").
    name: str | None = None
    #: A folder of templates that override ``email.html`` and ``email.txt`` (they must keep
    #: the markers the messages are cut at: see :class:`EmailTemplateError`).
    template_dir: Path | None = None


# --- small helpers --------------------------------------------------------------------------------


def _wrap(value: str, width: int = TEXT_WIDTH) -> str:
    lines: list[str] = []
    for para in value.splitlines() or [""]:
        lines.extend(textwrap.wrap(para, width, break_long_words=False,
                                   break_on_hyphens=False) or [""])
    return "\n".join(lines)


def _day(value: date) -> date:
    return value.date() if isinstance(value, datetime) else value


def _window_text(start: date, end: date, locale: str) -> str:
    """``15–23 February 2021``, ``28 January – 3 February 2021``, ``23 February 2021``;
    ``15–23 de febrero de 2021`` in Spanish (see :func:`storykit.i18n.format_window`)."""
    from storykit.i18n import format_window

    return format_window(start, end, locale)


def _as_day(value: date | str | None, name: str) -> date | None:
    if value is None or isinstance(value, date):
        return _day(value) if value is not None else None
    try:
        return _day(rules.published(value))
    except rules.Invalid as e:
        raise OptionError("email", name, e.message) from None


def _parse_date(value: str) -> datetime:
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


_MSGID = re.compile(r"<[\x21-\x3b\x3d\x3f-\x7e]{1,200}@[A-Za-z0-9.-]{1,200}>")

_HEADER_POLICY: Any = None


def _fold(name: str, value: Any) -> bytes:
    """One header, folded at 78 columns with CRLF, as ASCII (RFC 2047 where needed)."""
    global _HEADER_POLICY
    if _HEADER_POLICY is None:
        from email import policy

        _HEADER_POLICY = policy.SMTP
    pol = _HEADER_POLICY
    folded: str = pol.header_factory(name, value).fold(policy=pol)
    return folded.encode("ascii")


def _date_line(when: datetime) -> bytes:
    """The ``Date`` header line for ``when`` (RFC 5322 form)."""
    from email.utils import format_datetime

    return f"Date: {format_datetime(when)}\r\n".encode("ascii")


def _crlf(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\r", "\n").replace("\n", "\r\n")


def _qp(text: str) -> bytes:
    return binascii.b2a_qp(text.encode("utf-8"), istext=True)


@attrs.frozen
class _Piece:
    """A constant fragment of a body, its complete lines quoted-printable encoded once.

    Quoted-printable works line by line, so the encoding of a text is the encodings of its
    lines joined; only the partial lines that touch a per-message slot are encoded per message.
    """

    lead: str  # up to and including the first line break (or the whole text, if none)
    middle: bytes  # the complete lines after that, encoded
    trail: str | None  # after the last line break; None when the text has no line break

    @classmethod
    def of(cls, text: str) -> _Piece:
        first = text.find("\r\n")
        if first < 0:
            return cls(text, b"", None)
        last = text.rfind("\r\n")
        return cls(text[:first + 2], _qp(text[first + 2:last + 2]), text[last + 2:])


def _encode(pieces: Sequence[_Piece | str]) -> bytes:
    """Quoted-printable of the pieces joined; ``str`` items are one-line per-message slots."""
    out: list[bytes] = []
    pending = ""
    for piece in pieces:
        if isinstance(piece, str):
            pending += piece
        elif piece.trail is None:
            pending += piece.lead
        else:
            out.append(_qp(pending + piece.lead))
            out.append(piece.middle)
            pending = piece.trail
    if pending:
        out.append(_qp(pending))
    return b"".join(out)


#: Where the email templates and their markers are documented (for error messages).
TEMPLATE_DOCS = "'Email templates' in docs/howto/retheme.md"


class EmailTemplateError(OptionError):
    """An ``email.html`` or ``email.txt`` without a marker the exporter cuts messages at.

    The exporter renders its templates once and cuts the result at markers
    (``<!--sk:stories-->``, ``<!--sk:greeting-->``, ...) to put each reader's greeting, stories
    and unsubscribe link in. A template that replaces a built-in one must keep them. This is an
    :class:`~storykit.OptionError` (a ``ValueError``) of the ``template_dir`` option: the
    command line reports it in one line, and no plugin is blamed for a template.
    ``template`` is the template's name, ``path`` its file (``None`` when not from a file).
    """

    def __init__(self, template: str, path: str | None, problem: str) -> None:
        self.exporter = "email"
        self.option = "template_dir"
        self.template = template
        self.path = path
        self.problem = problem
        where = f" in {os.path.dirname(path) or '.'}" if path else ""
        self.message = f"template {template!r}{where} {problem} (see {TEMPLATE_DOCS})"
        ValueError.__init__(self, self.message)

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.template, self.path, self.problem), self.__dict__)


class _MarkerError(ValueError):
    """A marker missing from a rendered template (made an :class:`EmailTemplateError`)."""


def _split_once(text: str, marker: str) -> tuple[str, str]:
    before, found, after = text.partition(marker)
    if not found:
        raise _MarkerError(f"lacks the {marker.replace(_RS, '<U+001E>')!r} marker")
    return before, after


def _split_stories(text: str, start: str, story: str, end: str, n: int,
                   ) -> tuple[str, list[str], str]:
    head, rest = _split_once(text, start)
    body, tail = _split_once(rest, end)
    blocks = body.split(story)
    lead, blocks = blocks[0], blocks[1:]
    if len(blocks) != n:
        shown = story.replace(_RS, "<U+001E>").strip()
        k = len(blocks)
        raise _MarkerError(f"gives {k} {shown!r} marker{'' if k == 1 else 's'} for {n} "
                           f"{'story' if n == 1 else 'stories'} (put one at the start of "
                           "each story, inside the loop)")
    return head + lead, blocks, tail


def _template_error(env: Any, name: str, error: _MarkerError, tag: str) -> EmailTemplateError:
    """``error`` in the template ``name`` of ``env``, naming the file it came from.

    ``tag`` is the random tag the markers were given (see :class:`DigestRenderer`): the
    message shows them as the template writes them.
    """
    path: str | None = None
    try:
        path = env.get_template(name).filename
    except Exception:  # only for the message: the template did render, so this is rare
        path = None
    problem = str(error).replace(f"sk:{tag}:", "sk:") if tag else str(error)
    return EmailTemplateError(name, path, problem)


# The per-message slots of a body, in the values passed to _Fragments.encode.
_GREETING, _PREHEADER, _UNSUBSCRIBE = 0, 1, 2


# --- the renderer ---------------------------------------------------------------------------------


class DigestRenderer:
    """Everything about a digest that does not depend on the recipient, prepared once.

    Rendering a message then only joins prepared fragments, folds the ``To`` header, and
    quoted-printable encodes the two bodies (in C). Use :meth:`message` for each recipient.
    """

    def __init__(self, collection: Collection, options: EmailOptions,
                 registry: Registry | None = None, *, locale: str | None = None) -> None:
        from markupsafe import Markup

        from storykit.templating import environment, render, translation_dirs, translations

        opts = options
        self.collection = collection
        self.options = opts
        self.locale = locale or opts.locale or collection.language
        tr = translations(self.locale, translation_dirs(registry))
        self._gettext = tr.gettext

        # Addresses.
        if opts.sender is not None:
            senders = self._addresses(opts.sender, "sender")
            if len(senders) != 1:
                raise OptionError("email", "sender", f"must be one address (got {opts.sender!r})")
            self.sender = senders[0]
        else:
            self.sender = _default_sender(collection)
        self.default_to = (self._addresses(opts.to, "to") if opts.to is not None
                           else [self.sender])
        reply_to = (self._addresses(opts.reply_to, "reply_to") if opts.reply_to is not None
                    else [])

        # The window and the subject.
        days = [_day(s.published) for s in collection.stories]
        since, until = _as_day(opts.since, "since"), _as_day(opts.until, "until")
        start = since or (min(days) if days else until)
        end = until or (max(days) if days else since)
        self.window: tuple[date, date] | None = (start, end) if start and end else None
        window_text = _window_text(start, end, self.locale) if start and end else ""
        title = header_text(collection.title)
        # The subject pattern is translatable ("%(title)s — %(window)s"), for languages that
        # put the parts the other way round or use other punctuation.
        subject = opts.subject if opts.subject is not None else (
            str(self._gettext("%(title)s — %(window)s")) % {"title": title,
                                                            "window": window_text}
            if window_text else title)
        self.subject = header_text(subject)

        # Date: from the content, never the clock; each message's from its own stories (see
        # _date_line), the window's end or the epoch for a message without any.
        from storykit.model import instant

        instants = [instant(s.published) for s in collection.stories]
        self._instants = sorted(set(instants))
        # Each story's place among the distinct dates: the newest of a message's stories is
        # then the largest of a few ints, and its Date line is folded once (see _date_line).
        place = {when: i for i, when in enumerate(self._instants)}
        self._rank = [place[when] for when in instants]
        self._date_lines: dict[int, bytes] = {}
        self._date_fixed = (_date_line(_parse_date(opts.date)) if opts.date is not None
                            else None)
        self._date_none = _date_line(datetime.combine(end, time.min, tzinfo=UTC)
                                     if end is not None else datetime(1970, 1, 1, tzinfo=UTC))

        if opts.message_id is not None and not _MSGID.fullmatch(opts.message_id.strip()):
            raise OptionError("email", "message_id",
                              f"must look like <id@domain> (got {opts.message_id!r})")

        # Unsubscribe.
        self.unsubscribe = _check_unsubscribe(opts.unsubscribe)
        self.unsubscribe_mailto = _check_mailto(opts.unsubscribe_mailto)
        key = os.environ.get(TOKEN_KEY_ENV)
        self._token_key = key.encode() if key else None

        # Constant headers, folded once.
        self._head_from = _address_header("From", [self.sender])
        self._head_subject = _subject_header(self.subject)
        self._head_reply = _address_header("Reply-To", reply_to) if reply_to else b""
        self._content_hash = _collection_hash(collection)

        # Bodies: render once with every story, inline the CSS once, cut into fragments.
        env = environment(registry, opts.template_dir)
        # The preview line: the option, else the description, else the first titles of each
        # message's own stories, put in at a slot per message (see preheader()).
        preheader = opts.preheader if opts.preheader is not None else (
            collection.description or None)
        self._preheader = balance_bidi(" ".join(preheader.split())) if preheader else ""
        self._titles = ([balance_bidi(" ".join(s.title.split())) for s in collection.stories]
                        if preheader is None else None)
        ctx: dict[str, Any] = {
            "title": collection.title,
            "description": collection.description,
            "url": collection.url,
            "contacts": collection.contacts,
            "stories": collection.stories,
            "subject": self.subject,
            "window_text": window_text,
            "preheader": (Markup("<!--sk:preheader-->") if preheader is None
                          else self._preheader),
            "unsubscribe": bool(self.unsubscribe or self.unsubscribe_mailto),
            "lang": self.locale,
            "dir": "rtl" if self.locale.split("-")[0].lower() in _RTL else "ltr",
            "wrap": _wrap,
        }
        n = len(collection.stories)
        self._previews: dict[tuple[int, ...], tuple[str, str]] = {}
        # In the autoescaped render data cannot write a marker, but the CSS inliner writes
        # attribute values back with their < > unescaped and text with its " unescaped: an
        # image's alt text could then forge one. So the markers get a tag first that no data
        # can know (a hash of the document the data is in), and the inlined document is cut
        # at the tagged markers only; any tag left over (a marker used twice) is taken out.
        html_doc = render(env, "email.html", self.locale, **ctx)
        tag = hashlib.sha256(html_doc.encode("utf-8", "surrogatepass")).hexdigest()[:32]
        html_doc = _inline(html_doc.replace("<!--sk:", f"<!--sk:{tag}:").replace(
            'href="sk:unsubscribe"', f'href="sk:{tag}:unsubscribe"'))
        markers = {f"<!--sk:{tag}:greeting-->": _GREETING}
        if preheader is None:
            markers[f"<!--sk:{tag}:preheader-->"] = _PREHEADER
        if ctx["unsubscribe"]:
            markers[f'href="sk:{tag}:unsubscribe"'] = _UNSUBSCRIBE
        try:
            head, blocks, tail = _split_stories(html_doc, f"<!--sk:{tag}:stories-->",
                                                f"<!--sk:{tag}:story-->", f"<!--sk:{tag}:end-->",
                                                n)
            self._html = _Fragments(head, blocks, tail, markers=markers, tag=tag)
        except _MarkerError as e:
            raise _template_error(env, "email.html", e, tag) from None
        markers = {f"{_RS}sk:greeting{_RS}": _GREETING}
        if preheader is None:
            ctx["preheader"] = f"{_RS}sk:preheader{_RS}"
            markers[f"{_RS}sk:preheader{_RS}"] = _PREHEADER
        if ctx["unsubscribe"]:
            markers[f"{_RS}sk:unsubscribe{_RS}"] = _UNSUBSCRIBE
        text_doc = render(env, "email.txt", self.locale, RS=_RS, **ctx).lstrip("\n")
        try:
            head, blocks, tail = _split_stories(text_doc, f"{_RS}sk:stories{_RS}\n",
                                                f"{_RS}sk:story{_RS}\n", f"{_RS}sk:end{_RS}\n",
                                                n)
            self._text = _Fragments(head, blocks, tail, markers=markers)
        except _MarkerError as e:
            raise _template_error(env, "email.txt", e, "") from None

    @staticmethod
    def _addresses(value: str, option: str) -> list[Address]:
        try:
            return parse_addresses(value, option)
        except ValueError as e:
            raise OptionError("email", option, str(e)) from None

    def greeting(self, name: str | None) -> str:
        """``Hello Ana,`` (or ``Hello,`` without a name), in the renderer's locale."""
        name = header_text(name) if name else ""
        if name:
            return str(self._gettext("Hello %(name)s,")) % {"name": name}
        return str(self._gettext("Hello,"))

    def unsubscribe_url(self, address: str) -> str | None:
        """The recipient's unsubscribe URL (``{token}`` filled in), or the mailto form."""
        if self.unsubscribe:
            return self.unsubscribe.replace("{token}", unsubscribe_token(address,
                                                                         self._token_key))
        if self.unsubscribe_mailto:
            return self.unsubscribe_mailto
        return None

    def preheader(self, stories: Sequence[int]) -> str:
        """The preview line of a message with the stories at indices ``stories``.

        The ``preheader`` option or the collection's description when there is one (the same
        for every message), else the first three titles of these stories.
        """
        return self._preview(stories)[0]

    def _preview(self, stories: Sequence[int]) -> tuple[str, str]:
        """The preheader of these stories, as text and as HTML (made once per first three)."""
        titles = self._titles
        if titles is None:
            # The same for every message, rendered into the prepared fragments already.
            return self._preheader, ""
        key = tuple(stories[:3])
        got = self._previews.get(key)
        if got is None:
            text = " · ".join(titles[i] for i in key)
            got = self._previews[key] = (text, html.escape(text))
        return got

    def _date_line(self, stories: Sequence[int] | None) -> bytes:
        """``Date: ...``: the ``date`` option, else the newest of these stories."""
        if self._date_fixed is not None:
            return self._date_fixed
        if stories is None:
            if not self._instants:
                return self._date_none
            newest = len(self._instants) - 1
        elif not stories:
            return self._date_none
        else:
            newest = max(map(self._rank.__getitem__, stories))
        got = self._date_lines.get(newest)
        if got is None:
            got = self._date_lines[newest] = _date_line(self._instants[newest])
        return got

    def message(self, to: Sequence[Address] | None = None, *,
                stories: Sequence[int] | None = None, name: str | None = None) -> bytes:
        """The whole message for ``to`` with the stories at indices ``stories`` (default all).

        Its greeting, unsubscribe link, preview line and ``Date`` are its own: the preview
        lists the first titles of these stories (unless a preheader or description is set),
        the ``Date`` is the newest of them (unless the ``date`` option is set).
        """
        recipients = list(to) if to is not None else self.default_to
        first = recipients[0].addr_spec if recipients else self.sender.addr_spec
        picked = range(len(self._html.blocks)) if stories is None else stories
        greeting = self.greeting(name if name is not None else self.options.name)
        url = self.unsubscribe_url(first)
        preheader, preheader_html = self._preview(picked)

        # Bodies: prepared fragments around the per-message slots.
        text_body = self._text.encode(picked, (greeting, preheader, url or ""))
        html_body = self._html.encode(picked, (
            html.escape(greeting, quote=False), preheader_html,
            f'href="{html.escape(url or "")}"'))

        # Per-message headers.
        to_addrs = ",".join(a.addr_spec for a in recipients)
        digest = hashlib.sha256(b"\0".join([
            self._content_hash, to_addrs.encode(), ",".join(map(str, picked)).encode(),
            self.subject.encode(),
        ])).hexdigest()
        if self.options.message_id is not None:
            msgid = self.options.message_id.strip()
        else:
            msgid = f"<{digest[:32]}@{self.sender.domain}>"
        boundary = f"=_sk_{digest[32:56]}".encode("ascii")
        head = [self._head_from, _address_header("To", recipients), self._head_subject,
                self._date_line(stories), b"Message-ID: " + msgid.encode("ascii") + b"\r\n",
                self._head_reply]
        if url is not None:
            forms = []
            if self.unsubscribe:
                forms.append(f"<{url}>")
            if self.unsubscribe_mailto:
                forms.append(f"<{self.unsubscribe_mailto}>")
            # The forms are checked ASCII URLs without spaces: one per line folds them.
            head.append(b"List-Unsubscribe: " + ",\r\n ".join(forms).encode("ascii")
                        + b"\r\n")
            if self.unsubscribe:
                head.append(b"List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n")
        head.append(b'MIME-Version: 1.0\r\nContent-Type: multipart/alternative;\r\n boundary="'
                    + boundary + b'"\r\n\r\n')
        sep = b"--" + boundary
        return b"".join([
            *head,
            sep, b'\r\nContent-Type: text/plain; charset="utf-8"\r\n'
                 b"Content-Transfer-Encoding: quoted-printable\r\n\r\n",
            text_body, b"\r\n" if not text_body.endswith(b"\r\n") else b"",
            sep, b'\r\nContent-Type: text/html; charset="utf-8"\r\n'
                 b"Content-Transfer-Encoding: quoted-printable\r\n\r\n",
            html_body, b"\r\n" if not html_body.endswith(b"\r\n") else b"",
            sep, b"--\r\n",
        ])


class _Fragments:
    """A body cut at its per-message slots: preheader, greeting, story blocks, unsubscribe URL.

    The slots are marked so that no data can forge them (HTML comments and a quoted attribute
    in the autoescaped HTML; U+001E, which the model refuses in text, in the plain text).
    ``markers`` maps each marker to its slot (``_GREETING``, ...); the greeting is required,
    so is the unsubscribe slot when it is among the markers; the preheader's (there when
    each message has its own preview) is optional: a template need not show a preview.
    """

    def __init__(self, head: str, blocks: list[str], tail: str, *,
                 markers: dict[str, int], tag: str = "") -> None:
        cut = re.compile("|".join(map(re.escape, markers)))
        if tag:  # markers not cut at (used twice, or not a slot here) lose their tag
            blocks = [block.replace(f"sk:{tag}:", "sk:") for block in blocks]
        self.head = self._cut(_crlf(head), cut, markers, tag)
        self.blocks = [_Piece.of(_crlf(block)) for block in blocks]
        self.tail = self._cut(_crlf(tail), cut, markers, tag)
        found = {p for p in (*self.head, *self.tail) if isinstance(p, int)}
        for marker, slot in markers.items():
            if slot != _PREHEADER and slot not in found:
                raise _MarkerError(f"lacks the {marker.replace(_RS, '<U+001E>')!r} marker")
        # Where the slots are, so that encode() only fills them in.
        self._head_slots = [(i, p) for i, p in enumerate(self.head) if isinstance(p, int)]
        self._tail_slots = [(i, p) for i, p in enumerate(self.tail) if isinstance(p, int)]

    @staticmethod
    def _cut(text: str, cut: re.Pattern[str], markers: dict[str, int], tag: str,
             ) -> tuple[_Piece | int, ...]:
        texts: list[str] = []
        slots: list[int] = []
        pos = 0
        for m in cut.finditer(text):
            texts.append(text[pos:m.start()])
            slots.append(markers[m.group()])
            pos = m.end()
        texts.append(text[pos:])
        if tag:
            texts = [t.replace(f"sk:{tag}:", "sk:") for t in texts]
        parts: list[_Piece | int] = [_Piece.of(texts[0])]
        for slot, t in zip(slots, texts[1:], strict=True):
            parts += [slot, _Piece.of(t)]
        return tuple(parts)

    def encode(self, picked: Iterable[int], values: Sequence[str]) -> bytes:
        """The body with the blocks at ``picked``; ``values`` fill the slots, by slot number."""
        head: list[Any] = list(self.head)
        for i, slot in self._head_slots:
            head[i] = values[slot]
        tail: list[Any] = list(self.tail)
        for i, slot in self._tail_slots:
            tail[i] = values[slot]
        return _encode([*head, *map(self.blocks.__getitem__, picked), *tail])


#: UTF-8 bytes per encoded word: 42 bytes are 56 base64 characters, so a word is 68
#: characters and even ``Subject: `` plus a word stays under 78 columns.
_WORD_BYTES = 42


def _encoded_words(text: str) -> list[str]:
    """``text`` as RFC 2047 base64 encoded words, split between characters.

    Spaces travel inside the words: the email package (3.11) folds each word of a non-ASCII
    header into its own encoded word and drops the spaces between them, which mail clients
    then join ("العمل اللائق" arrives as "العملاللائق"). Encoding the whole value avoids that.
    """
    words: list[str] = []
    chunk = ""
    size = 0
    for ch in text:
        n = len(ch.encode("utf-8"))
        if size + n > _WORD_BYTES:
            # Cut after the last space in the chunk if there is one (the space stays inside
            # the word, as RFC 2047 wants), else between two characters.
            cut = chunk.rfind(" ") + 1 or len(chunk)
            words.append(chunk[:cut])
            chunk = chunk[cut:]
            size = len(chunk.encode("utf-8"))
        chunk += ch
        size += n
    if chunk or not words:
        words.append(chunk)
    return ["=?utf-8?b?" + binascii.b2a_base64(w.encode(), newline=False).decode() + "?="
            for w in words]


def _subject_header(subject: str) -> bytes:
    if subject.isascii():
        folded = _fold("Subject", subject)
        # A word too long to fold (a URL, a run without spaces) would leave a line over 78
        # columns, or over RFC 5322's 998 octets: encoded words can be cut anywhere.
        if max(map(len, folded.split(b"\r\n"))) <= 78:
            return folded
    return ("Subject: " + "\r\n ".join(_encoded_words(subject)) + "\r\n").encode("ascii")


#: RFC 5322 atext: a word of these needs no quotes in a display name.
_ATOM = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+")
#: Columns for the words of a folded address header, so that with ``Reply-To: `` and a comma a
#: line stays under 78 (an encoded word, 68 columns, has a line of its own).
_ADDRESS_WIDTH = 66


def _quoted(text: str) -> str:
    """``text`` as an RFC 5322 quoted string (``\\`` and ``"`` escaped)."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _name_words(name: str) -> list[str]:
    """A display name as the words of an RFC 5322 phrase, to be joined by spaces or folds.

    Runs of ASCII words are written as they are (atoms), or as one quoted string when a word
    needs quotes; a fold at a space in a quoted string unfolds to that space, so every reader,
    ``email.policy.default`` included, reads the name back exactly. ASCII names are never
    encoded words. Runs of non-ASCII words become RFC 2047 encoded words, with the spaces of
    the run inside them; the space between an encoded word and an ASCII word is kept by every
    reader. Only a run of non-ASCII words too long for one encoded word is cut into several,
    the space travelling inside them as RFC 2047 says: mail clients read it once, but Python's
    address parser (3.11; CPython gh-128110) keeps the folding space between the two encoded
    words too and reads two spaces there (or one inside a word cut between characters). No
    valid encoding avoids that: RFC 2047 readers drop the space between adjacent encoded
    words, that parser keeps it, and an encoded word has at most 75 characters.
    """
    words = name.split(" ")
    out: list[str] = []
    i = 0
    while i < len(words):
        plain = words[i].isascii()
        j = i + 1
        while j < len(words) and words[j].isascii() == plain:
            j += 1
        run = words[i:j]
        i = j
        if not plain:
            out.extend(_encoded_words(" ".join(run)))
        elif all(_ATOM.fullmatch(w) for w in run):
            out.extend(run)
        else:
            out.extend(_quoted(" ".join(run)).split(" "))
    return out


def _mailbox(address: Address) -> list[str]:
    """One address as the lines of a header value (display name first, then ``<addr>``)."""
    name, spec = address.display_name, address.addr_spec
    if not name:
        return [spec]
    if name.isascii():
        plain = str(address)  # Address quotes a name with specials: "Doe, Jane" <j@...>
        if len(plain) <= 70:
            return [plain]
    words = _name_words(name)
    if max(map(len, words)) > 900:
        # A word that no fold can shorten, over RFC 5322's 998 octets a line: only encoded
        # words can be cut inside a word.
        words = _encoded_words(name)
    words.append(f"<{spec}>")
    lines = [words[0]]
    for word in words[1:]:
        if len(lines[-1]) + 1 + len(word) <= _ADDRESS_WIDTH:
            lines[-1] += " " + word
        else:
            lines.append(word)
    return lines


def _address_header(name: str, addresses: Sequence[Address]) -> bytes:
    """``From``, ``To`` or ``Reply-To``: each address on its own line(s) (see _name_words)."""
    lines: list[str] = []
    for i, address in enumerate(addresses):
        if i:
            lines[-1] += ","
        lines.extend(_mailbox(address))
    return (f"{name}: " + "\r\n ".join(lines) + "\r\n").encode("ascii")


def _default_sender(collection: Collection) -> Address:
    from email.headerregistry import Address

    for c in collection.contacts:
        if c.email:
            local, _, domain = c.email.rpartition("@")
            return Address(display_name=header_text(c.organization or c.name),
                           username=local, domain=domain)
    return Address(display_name=header_text(collection.title), username="digest",
                   domain="storykit.invalid")


def _check_unsubscribe(url: str | None) -> str | None:
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


def _check_mailto(value: str | None) -> str | None:
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
    if _UNSAFE.search(query) or " " in query or not query.isascii() or len(query) > 200:
        raise OptionError("email", "unsubscribe_mailto", f"{value!r} has a query that is not "
                          "a plain percent-encoded one")
    return f"mailto:{spec}" + (f"?{query}" if query else "")


def _collection_hash(collection: Collection) -> bytes:
    import orjson

    from storykit.convert import collection_to_data

    return hashlib.sha256(orjson.dumps(collection_to_data(collection))).digest()


_inliner: Any = None


def _inline(document: str) -> str:
    """Inline the document's CSS (css-inline); ``@media`` rules stay in a ``<style>``."""
    global _inliner
    if _inliner is None:
        import css_inline

        _inliner = css_inline.CSSInliner(keep_at_rules=True, load_remote_stylesheets=False)
    result: str = _inliner.inline(document)
    return result


class EmailExporter:
    name = "email"
    media_type = "message/rfc822"
    suffix = ".eml"
    description = "A digest message (.eml): plain text and HTML for mail clients, UTF-8."
    options_type = EmailOptions

    def write(self, collection: Collection, out: BinaryIO, **options: Any) -> None:
        opts = parse_options(self, options, EmailOptions)
        out.write(DigestRenderer(collection, opts).message())


@hookimpl
def register_exporters() -> list[EmailExporter]:
    return [EmailExporter()]
