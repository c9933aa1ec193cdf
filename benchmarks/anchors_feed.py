"""The feed anchor: the same Atom feed built with python-feedgen (lxml underneath).

Entries carry what storykit's ``atom`` format writes: a stable id, title, alternate and related
links, published and updated, the summary, topics and countries as categories, and the picture
as ``media:content`` (feedgen's media extension has no ``media:description`` or
``media:credit``, and feedgen 1.0 drops the ``rel``, ``type`` and ``title`` of entry links, so
feedgen does a little less work than storykit here).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from typing import Any
from urllib.parse import urlsplit

from storykit import Collection, Story

COUNTRY_SCHEME = "urn:iso:std:iso:3166:-1"


def _instant(d: date) -> datetime:
    return d if isinstance(d, datetime) else datetime.combine(d, time.min, tzinfo=UTC)


def _entry_id(col: Collection, story: Story) -> str:
    parts = urlsplit(col.url or "")
    path = parts.path.strip("/")
    return f"tag:{parts.hostname},{story.published.year}:{path}/{story.id}"


def feedgen_atom(col: Collection) -> bytes:
    from feedgen.feed import FeedGenerator

    fg = FeedGenerator()
    fg.load_extension("media")
    fg.id(col.url)
    fg.title(col.title)
    if col.description:
        fg.subtitle(col.description)
    fg.link(href=col.url, rel="alternate", type="text/html")
    fg.author({"name": col.contacts[0].organization if col.contacts else col.title})
    fg.generator("feedgen")
    fg.language(col.language)
    latest = max((_instant(s.updated or s.published) for s in col.stories),
                 default=datetime(1970, 1, 1, tzinfo=UTC))
    for story in col.stories:
        fe = fg.add_entry(order="append")
        fe.id(_entry_id(col, story))
        fe.title(story.title)
        if story.url:
            fe.link(href=story.url, rel="alternate", type="text/html", hreflang=story.language)
        for link in story.links:
            fe.link(href=link.url, rel="related", title=link.title)
        fe.published(_instant(story.published))
        fe.updated(_instant(story.updated or story.published))
        fe.summary(story.summary, type="text")
        for topic in story.topics:
            fe.category(term=topic)
        for code in story.countries:
            fe.category(term=code, scheme=COUNTRY_SCHEME)
        if story.image is not None:
            fe.media.content(url=story.image.url, medium="image", type="image/jpeg")
    fg.updated(latest)
    data: bytes = fg.atom_str(pretty=True)
    return data


def _entries(feed: bytes) -> list[tuple[Any, ...]]:
    import feedparser

    parsed = feedparser.parse(feed)
    return [(e.id, e.title, frozenset(x.href for x in e.links), e.summary, e.published_parsed,
             tuple(t.term for t in e.get("tags", ())))
            for e in parsed.entries]


def check_equivalent(col: Collection) -> str:
    """'' when feedparser reads the same entries from both feeds; else a note."""
    import storykit

    sample = col[:100]
    ours = _entries(storykit.dumps(sample, "atom"))
    theirs = _entries(feedgen_atom(sample))
    if ours == theirs:
        return ""
    for a, b in zip(ours, theirs, strict=False):
        if a != b:
            return f"entries differ: {a!r} vs {b!r}"
    return f"entry counts differ ({len(ours)} vs {len(theirs)})"
