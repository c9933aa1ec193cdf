"""Header lines of a digest message, built the way a careful bulk sender builds them.

Addresses are :class:`email.headerregistry.Address` objects (which quote display names with
specials); a long ASCII display name is folded at its spaces (as a quoted string when it needs
quotes), never encoded; the non-ASCII words of a display name, and a non-ASCII subject, are
sent as RFC 2047 base64 encoded words with the spaces between them inside the words (the 3.11
``email`` folder loses the spaces between encoded words); ASCII subjects are folded by the SMTP
policy. Every header value that comes from data is neutralised first (:func:`header_text`):
control characters become spaces and ``=?`` becomes ``= ?``, so no value can start a header
of its own or smuggle an encoded word (CVE-2024-6923).
"""

from __future__ import annotations

import binascii
import re
from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from storykit import _rules as rules

if TYPE_CHECKING:
    from email.headerregistry import Address

__all__ = [
    "MSGID",
    "UNSAFE",
    "address_header",
    "ascii_address",
    "balance_bidi",
    "date_line",
    "encoded_words",
    "fold",
    "header_text",
    "parse_addresses",
    "subject_header",
]

# Anything that could end a header line or hide a new one: C0 and C1 controls (NUL, CR, LF,
# U+0085...), DEL, and the Unicode line and paragraph separators.

# Anything that could end a header line or hide a new one: C0 and C1 controls (NUL, CR, LF,
# U+0085...), DEL, and the Unicode line and paragraph separators.
UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")
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
    s = UNSAFE.sub(" ", value)
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

    bad = UNSAFE.search(value)
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
        address = Address(display_name=header_text(name), username=local, domain=domain)
        try:
            out.append(ascii_address(address))
        except ValueError as e:
            raise ValueError(f"{what} {value!r}: {e}") from None
    return out


def ascii_address(address: Address) -> Address:
    """``address`` as a 7-bit message header holds it: an internationalised domain in its
    IDNA form (``press@bücher.example`` gives ``press@xn--bcher-kva.example``, as mail clients
    send it). Raises :class:`ValueError` for a local part that is not ASCII (``新闻@...``):
    such an address needs SMTPUTF8 (RFC 6531), and storykit writes ASCII headers."""
    from email.headerregistry import Address

    if not address.username.isascii():
        raise ValueError(f"{address.addr_spec!r} has a non-ASCII local part, which needs "
                         "SMTPUTF8 (storykit writes ASCII message headers)")
    if address.domain.isascii():
        return address
    return Address(display_name=address.display_name, username=address.username,
                   domain=_idna(address.domain))


def _idna(domain: str) -> str:
    from email_validator import validate_email

    # (email-validator does IDNA 2008 with UTS 46, as it did when the address was checked)
    return str(validate_email(f"a@{domain}", check_deliverability=False).ascii_domain)



MSGID = re.compile(r"<[\x21-\x3b\x3d\x3f-\x7e]{1,200}@[A-Za-z0-9.-]{1,200}>")

_HEADER_POLICY: Any = None


def fold(name: str, value: Any) -> bytes:
    """One header, folded at 78 columns with CRLF, as ASCII (RFC 2047 where needed)."""
    global _HEADER_POLICY
    if _HEADER_POLICY is None:
        from email import policy

        _HEADER_POLICY = policy.SMTP
    pol = _HEADER_POLICY
    folded: str = pol.header_factory(name, value).fold(policy=pol)
    return folded.encode("ascii")


def date_line(when: datetime) -> bytes:
    """The ``Date`` header line for ``when`` (RFC 5322 form)."""
    from email.utils import format_datetime

    return f"Date: {format_datetime(when)}\r\n".encode("ascii")



#: UTF-8 bytes per encoded word: 42 bytes are 56 base64 characters, so a word is 68
#: characters and even ``Subject: `` plus a word stays under 78 columns.
_WORD_BYTES = 42


def encoded_words(text: str) -> list[str]:
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


def subject_header(subject: str) -> bytes:
    if subject.isascii():
        folded = fold("Subject", subject)
        # A word too long to fold (a URL, a run without spaces) would leave a line over 78
        # columns, or over RFC 5322's 998 octets: encoded words can be cut anywhere.
        if max(map(len, folded.split(b"\r\n"))) <= 78:
            return folded
    return ("Subject: " + "\r\n ".join(encoded_words(subject)) + "\r\n").encode("ascii")


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
            out.extend(encoded_words(" ".join(run)))
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
        words = encoded_words(name)
    words.append(f"<{spec}>")
    lines = [words[0]]
    for word in words[1:]:
        if len(lines[-1]) + 1 + len(word) <= _ADDRESS_WIDTH:
            lines[-1] += " " + word
        else:
            lines.append(word)
    return lines


def address_header(name: str, addresses: Sequence[Address]) -> bytes:
    """``From``, ``To`` or ``Reply-To``: each address on its own line(s) (see _name_words),
    domains in their IDNA form (see :func:`ascii_address`)."""
    lines: list[str] = []
    for i, address in enumerate(addresses):
        if i:
            lines[-1] += ","
        lines.extend(_mailbox(ascii_address(address)))
    return (f"{name}: " + "\r\n ".join(lines) + "\r\n").encode("ascii")

