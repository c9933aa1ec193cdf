"""storykit-wordpress: a WordPress export (WXR) file as a storykit collection.

Installed, it adds the reader ``wxr``::

    storykit import site.WordPress.2021-02-23.xml --from wxr -o stories.json

Published posts become stories: categories and tags are topics, the excerpt the summary, the
content the body (sanitised by the model) and the featured image (``_thumbnail_id``) the
image. Drafts, pages, attachments, revisions and other post types are skipped and counted: the
counts come as a :class:`SkippedWarning`. The file is parsed with defusedxml: entity
declarations and external entities are refused.
"""

from __future__ import annotations

import email.utils
import html
import re
import warnings
from collections import Counter
from datetime import UTC, datetime
from typing import Any, BinaryIO

import storykit
from storykit.errors import ValidationError
from storykit.sources import MAX_DEPTH, read_bytes, refuse, source_name, stable_id, with_paths

__all__ = ["SkippedWarning", "WXRReader", "register_readers"]

_WP = re.compile(r"\{http://wordpress\.org/export/[\d.]+/\}(.*)")
_CONTENT = "{http://purl.org/rss/1.0/modules/content/}encoded"


class SkippedWarning(UserWarning):
    """What a WXR file held besides published posts; ``counts`` maps a kind to a number."""

    def __init__(self, message: str, counts: dict[str, int]) -> None:
        super().__init__(message)
        self.counts = counts


class WXRReader:
    """The ``wxr`` reader."""

    name = "wxr"
    suffixes: tuple[str, ...] = (".wxr",)
    media_types = ("application/rss+xml",)
    description = "WordPress export (WXR): published posts, topics, excerpts, featured images."
    options_type = None
    input = "stream"

    def __init__(self) -> None:
        #: The counts of the last file read: ``{"draft": 2, "page": 1, ...}``.
        self.skipped: dict[str, int] = {}

    def sniff(self, head: bytes) -> bool:
        return b"<rss" in head and b"http://wordpress.org/export/" in head

    def read(self, source: BinaryIO, **options: Any) -> storykit.Collection:
        from storykit.exporter import parse_options

        parse_options(self, options)
        name = source_name(source)
        collection, skipped = read_wxr(read_bytes(source, what="export"), name)
        self.skipped = skipped
        if skipped:
            parts = ", ".join(f"{n} {kind}" for kind, n in sorted(skipped.items()))
            warnings.warn(SkippedWarning(f"{name or 'the export'}: skipped {parts}", skipped),
                          stacklevel=2)
        return collection


def _parse(data: bytes, name: str | None) -> Any:
    import io

    import defusedxml
    from defusedxml.ElementTree import iterparse

    depth = 0
    root = None
    try:
        for event, element in iterparse(io.BytesIO(data), events=("start", "end")):
            if event == "start":
                depth += 1
                if root is None:
                    root = element
                if depth > MAX_DEPTH:
                    raise refuse(f"nests elements deeper than the limit of {MAX_DEPTH}", name)
            else:
                depth -= 1
    except defusedxml.DefusedXmlException as e:
        raise refuse(f"is refused: {e} (entity declarations and external entities are not "
                     "read)", name) from None
    except SyntaxError as e:  # ElementTree's ParseError
        raise refuse(f"is not XML ({e})", name) from None
    except (LookupError, ValueError) as e:
        if isinstance(e, storykit.ValidationError):
            raise
        # (an XML declaration naming an unknown or multi-byte encoding, found by the fuzzer)
        raise refuse(f"declares an encoding the XML parser cannot read ({e})", name) from None
    return root


def _local(tag: Any) -> str:
    if not isinstance(tag, str):
        return ""
    m = _WP.fullmatch(tag)
    return f"wp:{m.group(1)}" if m else tag


def _children(element: Any) -> dict[str, Any]:
    """The first child of each name (``wp:`` for any WXR version's namespace)."""
    out: dict[str, Any] = {}
    for child in element:
        out.setdefault(_local(child.tag), child)
    return out


def _txt(element: Any) -> str | None:
    if element is None or element.text is None:
        return None
    return element.text.strip() or None


def _meta(item: Any) -> dict[str, str]:
    out: dict[str, str] = {}
    for child in item:
        if _local(child.tag) == "wp:postmeta":
            kids = _children(child)
            key, value = _txt(kids.get("wp:meta_key")), _txt(kids.get("wp:meta_value"))
            if key and value:
                out.setdefault(key, value)
    return out


def _gmt(value: str | None) -> datetime | None:
    if not value or value.startswith("0000"):
        return None
    try:
        return datetime.fromisoformat(value).replace(tzinfo=UTC)
    except ValueError:
        return None


def _strip(value: str) -> str:
    import nh3

    return html.unescape(nh3.clean(value, tags=set(), clean_content_tags={"script", "style"}))


_BLOCK = re.compile(r"<(p|div|h[1-6]|ul|ol|figure|blockquote|pre|table)[\s>]", re.IGNORECASE)


def _autop(content: str) -> str:
    """WordPress keeps paragraphs as blank lines (wpautop adds the ``<p>`` on display)."""
    if _BLOCK.search(content):
        return content
    paragraphs = [p.strip() for p in re.split(r"\n\s*\n", content) if p.strip()]
    return "".join(f"<p>{p.replace(chr(10), '<br>')}</p>" for p in paragraphs)


def read_wxr(data: bytes, name: str | None = None
             ) -> tuple[storykit.Collection, dict[str, int]]:
    """The published posts of a WXR file, and the counts of what was skipped."""
    root = _parse(data, name)
    channel = root.find("channel") if root is not None and root.tag == "rss" else None
    if channel is None or not any(_local(c.tag).startswith("wp:") for c in channel):
        raise refuse("is not a WordPress export (no <rss><channel> with wp: elements)", name)
    ch = _children(channel)
    language = (_txt(ch.get("language")) or "en").replace("_", "-")
    collection: dict[str, Any] = {"title": _txt(ch.get("title")) or "WordPress",
                                  "language": language}
    if _txt(ch.get("description")):
        collection["description"] = _txt(ch.get("description"))
    if _txt(ch.get("link")):
        collection["url"] = _txt(ch.get("link"))
    items = [item for item in channel if item.tag == "item"]
    attachments: dict[str, tuple[str, dict[str, str], Any]] = {}
    for item in items:
        kids = _children(item)
        if _txt(kids.get("wp:post_type")) == "attachment":
            url = _txt(kids.get("wp:attachment_url"))
            if url:
                attachments[_txt(kids.get("wp:post_id")) or ""] = (url, _meta(item), kids)
    skipped: Counter[str] = Counter()
    stories: list[dict[str, Any]] = []
    keys: list[str] = []
    taken: set[str] = set()
    for item in items:
        kids = _children(item)
        kind = _txt(kids.get("wp:post_type")) or "post"
        status = _txt(kids.get("wp:status")) or "publish"
        if kind != "post":
            skipped[{"attachment": "attachments", "page": "pages",
                     "revision": "revisions"}.get(kind, kind)] += 1
            continue
        if status != "publish":
            skipped["drafts" if status in ("draft", "auto-draft", "pending") else status] += 1
            continue
        stories.append(_post(item, kids, attachments, language, taken))
        keys.append(_txt(kids.get("link")) or _txt(kids.get("wp:post_id")) or "")
    collection["stories"] = stories
    from storykit.convert import collection_from_data

    try:
        result = collection_from_data(collection, name)
    except ValidationError as e:
        raise with_paths(e, lambda i: f"item {keys[i]}") from None
    return result, dict(skipped)


def _post(item: Any, kids: dict[str, Any], attachments: dict[str, Any], language: str,
          taken: set[str]) -> dict[str, Any]:
    title = _txt(kids.get("title"))
    story: dict[str, Any] = {"title": title}
    published = _gmt(_txt(kids.get("wp:post_date_gmt")))
    if published is None and _txt(kids.get("pubDate")):
        try:
            published = email.utils.parsedate_to_datetime(_txt(kids.get("pubDate")) or "")
        except (TypeError, ValueError):
            published = None
    story["published"] = published
    updated = _gmt(_txt(kids.get("wp:post_modified_gmt")))
    if updated is not None and published is not None and updated > published:
        story["updated"] = updated
    content = ""
    excerpt = None
    for child in item:
        if child.tag == _CONTENT:
            content = (child.text or "").strip()
        elif isinstance(child.tag, str) and child.tag.endswith("/excerpt/}encoded"):
            excerpt = (child.text or "").strip() or None
    summary = _strip(excerpt).strip() if excerpt else None
    if not summary and content:
        summary = _strip(content).strip()[:500].strip() or None
    story["summary"] = summary or title
    if content:
        story["body"] = _autop(content)
    link = _txt(kids.get("link"))
    if link:
        story["url"] = link
    topics: list[str] = []
    for child in item:
        if child.tag == "category" and child.get("domain") in ("category", "post_tag"):
            term = (child.text or "").strip()
            if term and term != "Uncategorized" and term not in topics:
                topics.append(term)
    if topics:
        story["topics"] = topics
    story["language"] = language
    thumb = _meta(item).get("_thumbnail_id")
    if thumb and thumb in attachments:
        url, meta, akids = attachments[thumb]
        alt = meta.get("_wp_attachment_image_alt") or _txt(akids.get("title")) or title
        image: dict[str, Any] = {"url": url, "alt": alt}
        caption = None
        for child in akids.values():
            if isinstance(child.tag, str) and child.tag.endswith("/excerpt/}encoded"):
                caption = _txt(child)
        if caption and re.match(r"(©|\(c\)|copyright)", caption.strip(), re.IGNORECASE):
            image["credit"] = _strip(caption).strip()
        story["image"] = image
    slug = _txt(kids.get("wp:post_name"))
    story["id"] = stable_id(slug or _txt(kids.get("guid")) or link or title or "", taken)
    return story


@storykit.hookimpl
def register_readers() -> list[Any]:
    """The ``wxr`` reader."""
    return [WXRReader()]
