"""Email: one RFC 5322 digest message, ``multipart/alternative`` (plain text, then HTML).

A thin plugin: the message is made by :mod:`storykit.email` (rendering, headers, MIME); this
module only registers the ``email`` format. Equal input gives equal bytes: the ``Date`` comes
from the stories, never the clock (``storykit send`` stamps the sending time).
"""

from __future__ import annotations

from typing import Any, BinaryIO

from storykit.collection import Collection
from storykit.email.options import EmailOptions
from storykit.exporter import parse_options
from storykit.plugins import hookimpl

__all__ = ["EmailExporter", "register_exporters"]


class EmailExporter:
    name = "email"
    media_type = "message/rfc822"
    suffix = ".eml"
    description = "A digest message (.eml): plain text and HTML for mail clients, UTF-8."
    options_type = EmailOptions

    def write(self, collection: Collection, out: BinaryIO, **options: Any) -> None:
        from storykit.email.render import DigestRenderer

        opts = parse_options(self, options, EmailOptions)
        out.write(DigestRenderer(collection, opts).message())


@hookimpl
def register_exporters() -> list[EmailExporter]:
    return [EmailExporter()]
