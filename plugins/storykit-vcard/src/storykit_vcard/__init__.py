"""storykit-vcard: a collection's media contacts as vCards, for an address book.

Installed, it adds the format ``vcard``::

    storykit export stories.json --format vcard -o contacts.vcf
    storykit export stories.json --format vcard -O version=4.0 -o contacts.vcf

vCard 3.0 (RFC 2426) is the default, because it is what phones and desktop address books import
everywhere; ``version=4.0`` writes RFC 6350. Lines end in CRLF and are folded at 75 octets,
never inside a UTF-8 character. It uses only storykit's public API.
"""

from __future__ import annotations

__all__ = ["VCardExporter", "VCardOptions", "escape", "fold", "register_exporters"]

from collections.abc import Iterable, Iterator
from typing import Any, BinaryIO, Literal

import attrs

import storykit
from storykit.exporter import parse_options

#: The longest a line may be, in octets, without its CRLF (RFC 2426 2.6, RFC 6350 3.2).
LINE_OCTETS = 75


@attrs.frozen
class VCardOptions:
    """Options of the ``vcard`` format."""

    #: ``3.0`` (RFC 2426; what every address book imports) or ``4.0`` (RFC 6350).
    version: Literal["3.0", "4.0"] = "3.0"


def escape(value: str) -> str:
    """A text value escaped for a content line: ``\\``, ``,``, ``;`` and newlines."""
    return (value.replace("\\", "\\\\").replace(",", "\\,").replace(";", "\\;")
            .replace("\r\n", "\n").replace("\r", "\n").replace("\n", "\\n"))


def fold(line: str) -> bytes:
    """One content line as UTF-8, folded at 75 octets with CRLF + space, never mid-character."""
    out: list[bytes] = []
    current = bytearray()
    limit = LINE_OCTETS
    for ch in line:
        encoded = ch.encode("utf-8")
        if len(current) + len(encoded) > limit:
            out.append(bytes(current))
            current = bytearray(b" ")  # the continuation's leading space counts as an octet
        current += encoded
    out.append(bytes(current))
    return b"\r\n".join(out) + b"\r\n"


def split_name(name: str) -> tuple[str, str]:
    """``(family, given)`` for N: the last word is taken as the family name.

    A one-word name (or a desk such as "Newsroom") is all family name.
    """
    given, _, family = name.rpartition(" ")
    return family, given.strip()


def _lines(contact: storykit.MediaContact, version: str) -> Iterator[str]:
    family, given = split_name(contact.name)
    yield "BEGIN:VCARD"
    yield f"VERSION:{version}"
    yield "PRODID:-//storykit//storykit-vcard//EN"
    yield f"FN:{escape(contact.name)}"
    yield f"N:{escape(family)};{escape(given)};;;"
    if contact.organization:
        yield f"ORG:{escape(contact.organization)}"
    if contact.role:
        yield f"TITLE:{escape(contact.role)}"
    if version == "3.0":
        if contact.email:
            yield f"EMAIL;TYPE=INTERNET,WORK:{escape(contact.email)}"
        if contact.phone:
            yield f"TEL;TYPE=WORK,VOICE:{escape(contact.phone)}"
    else:
        if contact.email:
            yield f"EMAIL;TYPE=work:{escape(contact.email)}"
        if contact.phone:
            yield f"TEL;VALUE=uri;TYPE=work,voice:tel:{contact.phone}"
    if contact.url:
        # Escaped like text: readers split an unescaped "," in URL into two values.
        yield f"URL:{escape(contact.url)}"
    yield "END:VCARD"


def render(contacts: Iterable[storykit.MediaContact], version: str = "3.0") -> bytes:
    """The vCards of ``contacts``, one after another."""
    return b"".join(fold(line) for contact in contacts for line in _lines(contact, version))


class VCardExporter:
    """The ``vcard`` format: one vCard per media contact of the collection."""

    name = "vcard"
    media_type = "text/vcard"
    suffix = ".vcf"
    description = "The media contacts as vCard 3.0 (or 4.0) for address books."
    options_type = VCardOptions

    def write(self, collection: storykit.Collection, out: BinaryIO, **options: Any) -> None:
        opts = parse_options(self, options, VCardOptions)
        out.write(render(collection.contacts, opts.version))


@storykit.hookimpl
def register_exporters() -> list[storykit.Exporter]:
    """The ``vcard`` format."""
    return [VCardExporter()]
