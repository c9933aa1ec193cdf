"""storykit-feeds: Atom 1.0, RSS 2.0 and JSON Feed 1.1 exporters for storykit.

Installed, it adds the formats ``atom``, ``rss`` and ``jsonfeed``::

    storykit export stories.json --format atom -O self_url=https://example.org/feed.atom \\
        -o build/feed.atom

It uses only storykit's public API.
"""

from __future__ import annotations

__all__ = [
    "AtomExporter",
    "FeedOptions",
    "FeedReader",
    "JSONFeedExporter",
    "JSONFeedReader",
    "RSSExporter",
    "register_exporters",
    "register_readers",
    "xml_text",
]

import storykit
from storykit_feeds._common import FeedOptions, xml_text
from storykit_feeds.atom import AtomExporter
from storykit_feeds.jsonfeed import JSONFeedExporter
from storykit_feeds.read import FeedReader, JSONFeedReader, register_readers
from storykit_feeds.rss import RSSExporter


@storykit.hookimpl
def register_exporters() -> list[storykit.Exporter]:
    """The three feed formats."""
    return [AtomExporter(), RSSExporter(), JSONFeedExporter()]
