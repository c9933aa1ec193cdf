"""JSON Feed 1.1: one item per story, with a ``_storykit`` extension for credit and countries."""

from __future__ import annotations

import json
from typing import Any, BinaryIO

import storykit
from storykit.exporter import parse_options
from storykit_feeds._common import (
    EXTENSION_ABOUT,
    FeedOptions,
    author_name,
    body_html,
    entry_id,
    rfc3339,
    selected,
    uri,
)

VERSION = "https://jsonfeed.org/version/1.1"


class JSONFeedExporter:
    """The ``jsonfeed`` format."""

    name = "jsonfeed"
    media_type = "application/feed+json"
    # Longer than the json format's ".json", so ``feed.feed.json`` picks this format; for a
    # plain ``feed.json`` give ``--format jsonfeed``.
    suffix = ".feed.json"
    description = "JSON Feed 1.1: external links, images, photo credits and countries."
    options_type = FeedOptions

    def write(self, collection: storykit.Collection, out: BinaryIO, **options: Any) -> None:
        opts = parse_options(self, options, FeedOptions)
        feed: dict[str, Any] = {"version": VERSION, "title": collection.title}
        if collection.url:
            feed["home_page_url"] = uri(collection.url)
        if opts.self_url:
            feed["feed_url"] = uri(opts.self_url)
        if collection.description:
            feed["description"] = collection.description
        feed["language"] = collection.language
        feed["authors"] = [{"name": author_name(collection)}]
        feed["items"] = [_item(collection, story, opts)
                         for story in selected(collection, opts)]
        out.write(json.dumps(feed, ensure_ascii=False, indent=2).encode("utf-8") + b"\n")


def _item(collection: storykit.Collection, story: storykit.Story,
          opts: FeedOptions) -> dict[str, Any]:
    item: dict[str, Any] = {"id": entry_id(collection, story)}
    if story.url:
        item["url"] = uri(story.url)
    if story.links:
        item["external_url"] = uri(story.links[0].url)
    item["title"] = story.title
    body = getattr(story, "body", None)  # (stand-in stories may lack the field)
    if body is not None:
        item["content_html"] = body
    elif opts.content == "full":
        item["content_html"] = body_html(story)
    item["content_text"] = story.summary
    item["summary"] = story.summary
    if story.image is not None:
        item["image"] = uri(story.image.url)
    item["date_published"] = rfc3339(story.published)
    if story.updated is not None:
        item["date_modified"] = rfc3339(story.updated)
    if story.topics:
        item["tags"] = list(story.topics)
    item["language"] = story.language
    ext: dict[str, Any] = {"about": EXTENSION_ABOUT}
    if story.countries:
        ext["countries"] = list(story.countries)
    if story.image is not None:
        ext["image_alt"] = story.image.alt
        if story.image.credit is not None:
            credit = story.image.credit
            ext["credit"] = {"holder": credit.holder, "year": credit.year,
                             "display": str(credit)}
    if story.links:
        ext["links"] = [{"url": uri(link.url), "title": link.title} for link in story.links]
    item["_storykit"] = ext
    return item
