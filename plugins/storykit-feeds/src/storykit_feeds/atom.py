"""Atom 1.0 (RFC 4287): one entry per story, with Media RSS for the picture."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import Any, BinaryIO

import storykit
from storykit.exporter import parse_options
from storykit_feeds._common import (
    ATOM_NS,
    COUNTRY_SCHEME,
    GENERATOR,
    MEDIA_NS,
    XML_LANG,
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
    sub,
    uri,
    write_xml,
)

M = f"{{{MEDIA_NS}}}"


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
        # The Atom namespace is the default one: unprefixed elements, as feed readers expect.
        feed = ET.Element("feed", {"xmlns": ATOM_NS, XML_LANG: collection.language})
        sub(feed, "id", feed_id(collection, opts))
        sub(feed, "title", collection.title, type="text")
        if collection.description:
            sub(feed, "subtitle", collection.description, type="text")
        sub(feed, "updated", rfc3339(feed_updated(stories)))
        if collection.url:
            sub(feed, "link", rel="alternate", type="text/html", href=uri(collection.url))
        if opts.self_url:
            sub(feed, "link", rel="self", type=self.media_type, href=uri(opts.self_url))
        author = sub(feed, "author")
        sub(author, "name", author_name(collection))
        sub(feed, "generator", GENERATOR)
        for story in stories:
            _entry(feed, collection, story, opts)
        write_xml(feed, out)


def _entry(feed: ET.Element, collection: storykit.Collection, story: storykit.Story,
           opts: FeedOptions) -> None:
    entry = sub(feed, "entry", **{XML_LANG: story.language})
    sub(entry, "id", entry_id(collection, story))
    sub(entry, "title", story.title, type="text")
    if story.url:
        sub(entry, "link", rel="alternate", type="text/html", href=uri(story.url),
            hreflang=story.language)
    # The same story in other languages. RFC 4287 4.1.1: at most one alternate link per
    # (type, hreflang), so a second translation into one language is left out.
    languages = {story.language.lower()} if story.url else set()
    for tr in getattr(story, "translations", ()):  # (stand-in stories may lack the field)
        if tr.language.lower() not in languages:
            languages.add(tr.language.lower())
            sub(entry, "link", rel="alternate", type="text/html", href=uri(tr.url),
                hreflang=tr.language, title=tr.title)
    for link in story.links:
        sub(entry, "link", rel="related", href=uri(link.url), title=link.title)
    sub(entry, "published", rfc3339(story.published))
    sub(entry, "updated", rfc3339(story_updated(story)))
    sub(entry, "summary", story.summary, type="text")
    if opts.content == "full":
        sub(entry, "content", body_html(story), type="html")
    elif not story.url:
        # RFC 4287 4.1.1.1: an entry without an alternate link must have content.
        sub(entry, "content", story.summary, type="text")
    for topic in story.topics:
        sub(entry, "category", term=topic)
    for country in story.countries:
        sub(entry, "category", term=country, scheme=COUNTRY_SCHEME)
    if story.image is not None:
        image = story.image
        media = sub(entry, M + "content", url=uri(image.url), medium="image",
                    type=image_type(image.url))
        sub(media, M + "description", image.alt, type="plain")
        if image.credit is not None:
            sub(media, M + "credit", str(image.credit))
