"""RSS 2.0: one item per story, the picture as an enclosure and as Media RSS."""

from __future__ import annotations

import html
import xml.etree.ElementTree as ET
from typing import Any, BinaryIO

import storykit
from storykit.exporter import parse_options
from storykit_feeds._common import (
    ATOM_NS,
    CONTENT_NS,
    COUNTRY_SCHEME,
    GENERATOR,
    MEDIA_NS,
    FeedOptions,
    body_html,
    entry_id,
    feed_updated,
    image_type,
    rfc822,
    rfc3339,
    selected,
    sub,
    uri,
    write_xml,
)

M = f"{{{MEDIA_NS}}}"
C = f"{{{CONTENT_NS}}}"
A = f"{{{ATOM_NS}}}"


class RSSExporter:
    """The ``rss`` format."""

    name = "rss"
    media_type = "application/rss+xml"
    suffix = ".rss"
    description = "RSS 2.0 feed: RFC 822 dates, image enclosures, Media RSS photo credits."
    options_type = FeedOptions

    def write(self, collection: storykit.Collection, out: BinaryIO, **options: Any) -> None:
        opts = parse_options(self, options, FeedOptions)
        stories = selected(collection, opts)
        rss = ET.Element("rss", version="2.0")
        channel = sub(rss, "channel")
        sub(channel, "title", collection.title)
        link = collection.url or opts.self_url
        if link:
            sub(channel, "link", uri(link))
        # Taken as HTML by readers, like an item's description: escape it first.
        sub(channel, "description",
            html.escape(collection.description or collection.title, quote=False))
        sub(channel, "language", collection.language)
        if opts.self_url:
            sub(channel, A + "link", rel="self", type=self.media_type, href=uri(opts.self_url))
        sub(channel, "lastBuildDate", rfc822(feed_updated(stories)))
        sub(channel, "generator", GENERATOR)
        for story in stories:
            _item(channel, collection, story, opts)
        write_xml(rss, out)


def _item(channel: ET.Element, collection: storykit.Collection, story: storykit.Story,
          opts: FeedOptions) -> None:
    item = sub(channel, "item")
    sub(item, "title", story.title)
    if story.url:
        sub(item, "link", uri(story.url))
    # Readers take the description as HTML, so the summary is HTML-escaped first (a "<b>" in
    # it stays literal), and ElementTree then escapes that as XML text.
    sub(item, "description",
        body_html(story) if opts.content == "full" else html.escape(story.summary, quote=False))
    body = getattr(story, "body", None)  # (stand-in stories may lack the field)
    if body is not None:
        sub(item, C + "encoded", body)
    sub(item, "guid", entry_id(collection, story), isPermaLink="false")
    sub(item, "pubDate", rfc822(story.published))
    if story.updated is not None:
        sub(item, A + "updated", rfc3339(story.updated))
    for topic in story.topics:
        sub(item, "category", topic)
    for country in story.countries:
        sub(item, "category", country, domain=COUNTRY_SCHEME)
    for related in story.links:
        sub(item, A + "link", rel="related", href=uri(related.url), title=related.title)
    if story.image is not None:
        image = story.image
        kind = image_type(image.url)
        # RSS 2.0 requires a length; 0 is the convention for "unknown".
        sub(item, "enclosure", url=uri(image.url), length="0", type=kind)
        media = sub(item, M + "content", url=uri(image.url), medium="image", type=kind)
        sub(media, M + "description", image.alt, type="plain")
        if image.credit is not None:
            sub(media, M + "credit", str(image.credit))
