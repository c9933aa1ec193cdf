"""Atom 1.0 (RFC 4287): one entry per story, with Media RSS for the picture."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, BinaryIO

import storykit
from storykit.exporter import parse_options
from storykit_feeds._common import (
    ATOM_NS,
    COUNTRY_SCHEME,
    GENERATOR,
    MEDIA_NS,
    FeedOptions,
    author_name,
    body_html,
    entry_id,
    feed_id,
    feed_updated,
    image_type,
    rfc3339,
    selected,
    story_updated,
    uri,
    xml_text,
)


class AtomExporter:
    """The ``atom`` format."""

    name = "atom"
    media_type = "application/atom+xml"
    suffix = ".atom"
    description = "Atom 1.0 feed: stable entry ids, photo credits, related links."
    options_type = FeedOptions

    def write(self, collection: storykit.Collection, out: BinaryIO, **options: Any) -> None:
        opts = parse_options(self, options, FeedOptions)
        stories = selected(collection, opts)
        # Written as text, byte for byte what ElementTree (ET.indent, then serialised) gives,
        # several times faster than building the tree. The Atom namespace is the default one:
        # unprefixed elements, as feed readers expect.
        media = any(story.image is not None for story in stories)
        parts = ["<?xml version='1.0' encoding='utf-8'?>\n<feed",
                 f' xmlns:media="{MEDIA_NS}"' if media else "",
                 f' xmlns="{ATOM_NS}" xml:lang="{_attr(collection.language)}">\n']
        add = parts.append
        add(_el(1, "id", feed_id(collection, opts)))
        add(_el(1, "title", collection.title, ' type="text"'))
        if collection.description:
            add(_el(1, "subtitle", collection.description, ' type="text"'))
        add(_el(1, "updated", rfc3339(feed_updated(stories))))
        if collection.url:
            add(f'  <link rel="alternate" type="text/html" href="{_attr(uri(collection.url))}"'
                " />\n")
        if opts.self_url:
            add(f'  <link rel="self" type="{self.media_type}" href="{_attr(uri(opts.self_url))}"'
                " />\n")
        add(f"  <author>\n{_el(2, 'name', author_name(collection))}  </author>\n")
        add(_el(1, "generator", GENERATOR))
        for story in stories:
            _entry(add, collection, story, opts)
        add("</feed>\n")
        out.write("".join(parts).encode("utf-8"))


def _text(value: str) -> str:
    """Character data: XML-safe characters, ``&``, ``<`` and ``>`` escaped (as ElementTree)."""
    value = xml_text(value)
    if "&" in value:
        value = value.replace("&", "&amp;")
    if "<" in value:
        value = value.replace("<", "&lt;")
    if ">" in value:
        value = value.replace(">", "&gt;")
    return value


#: ElementTree's references in an attribute value, besides those of :func:`_text`.
_ATTR_REFERENCES = (('"', "&quot;"), ("\r", "&#13;"), ("\n", "&#10;"), ("\t", "&#09;"))


def _attr(value: str) -> str:
    """An attribute value: as :func:`_text`, and quotes and line breaks as references."""
    value = _text(value)
    if value.isprintable() and '"' not in value:  # (the common case: nothing more to escape)
        return value
    for char, reference in _ATTR_REFERENCES:
        value = value.replace(char, reference)
    return value


def _el(level: int, tag: str, text: str | None, attrs: str = "") -> str:
    """One indented element with text (ElementTree writes an empty one as ``<x />``)."""
    pad = "  " * level
    if not text or not (text := _text(text)):
        return f"{pad}<{tag}{attrs} />\n"
    return f"{pad}<{tag}{attrs}>{text}</{tag}>\n"


def _link(rel: str, href: str, type: str | None = None, hreflang: str | None = None,
          title: str | None = None) -> str:
    a = f'    <link rel="{rel}"'
    if type is not None:
        a += f' type="{type}"'
    a += f' href="{_attr(uri(href))}"'
    if hreflang is not None:
        a += f' hreflang="{_attr(hreflang)}"'
    if title is not None:
        a += f' title="{_attr(title)}"'
    return a + " />\n"


def _entry(add: Callable[[str], None], collection: storykit.Collection, story: storykit.Story,
           opts: FeedOptions) -> None:
    add(f'  <entry xml:lang="{_attr(story.language)}">\n')
    add(_el(2, "id", entry_id(collection, story)))
    add(_el(2, "title", story.title, ' type="text"'))
    if story.url:
        add(_link("alternate", story.url, "text/html", story.language))
    # The same story in other languages. RFC 4287 4.1.1: at most one alternate link per
    # (type, hreflang), so a second translation into one language is left out.
    languages = {story.language.lower()} if story.url else set()
    for tr in getattr(story, "translations", ()):  # (stand-in stories may lack the field)
        if tr.language.lower() not in languages:
            languages.add(tr.language.lower())
            add(_link("alternate", tr.url, "text/html", tr.language, tr.title))
    for link in story.links:
        add(_link("related", link.url, title=link.title))
    add(_el(2, "published", rfc3339(story.published)))
    add(_el(2, "updated", rfc3339(story_updated(story))))
    add(_el(2, "summary", story.summary, ' type="text"'))
    body = getattr(story, "body", None)  # (stand-in stories may lack the field)
    if body is not None:
        add(_el(2, "content", body, ' type="html"'))
    elif opts.content == "full":
        add(_el(2, "content", body_html(story), ' type="html"'))
    elif not story.url:
        # RFC 4287 4.1.1.1: an entry without an alternate link must have content.
        add(_el(2, "content", story.summary, ' type="text"'))
    for topic in story.topics:
        add(f'    <category term="{_attr(topic)}" />\n')
    for country in story.countries:
        add(f'    <category term="{_attr(country)}" scheme="{COUNTRY_SCHEME}" />\n')
    if story.image is not None:
        image = story.image
        add(f'    <media:content url="{_attr(uri(image.url))}" medium="image" '
            f'type="{_attr(image_type(image.url))}">\n')
        add(_el(3, "media:description", image.alt, ' type="plain"'))
        if image.credit is not None:
            add(_el(3, "media:credit", str(image.credit)))
        add("    </media:content>\n")
    add("  </entry>\n")
