"""Readers of feeds: ``atom`` and ``rss`` (feedparser: RSS 0.9x/1.0/2.0, Atom 0.3/1.0), ``feed``
(either, by content) and ``jsonfeed`` (JSON Feed 1.0/1.1).

Feeds are untrusted: before feedparser sees a feed, expat reads it once with entity
declarations refused (billion laughs, external entities) and its nesting bounded; bodies are
sanitised by the model (``Story.body``). What storykit's own exporters write reads back equal
on every field the format carries.
"""

from __future__ import annotations

import email.utils
import html
import re
from datetime import UTC, date, datetime
from typing import Any, BinaryIO

import storykit
from storykit.errors import ValidationError
from storykit.sources import (
    MAX_DEPTH,
    depth_of,
    language_tag,
    read_bytes,
    refuse,
    source_name,
    stable_id,
    with_paths,
)
from storykit_feeds._common import CONTENT_NS, COUNTRY_SCHEME, MEDIA_NS

__all__ = ["FeedReader", "JSONFeedReader"]

_XML_HEAD = re.compile(rb"^(?:\xef\xbb\xbf)?\s*(?:<\?xml[^>]*>\s*)?(?:<!--.*?-->\s*)*"
                       rb"(?:<!DOCTYPE[^>\[]*(?:\[.*?\])?\s*>\s*)?(?:<!--.*?-->\s*)*<([\w:]+)",
                       re.DOTALL)


def _root(head: bytes) -> str | None:
    m = _XML_HEAD.match(head)
    return m.group(1).decode("ascii", "replace").split(":")[-1].lower() if m else None


class FeedReader:
    """The ``atom``, ``rss`` and ``feed`` readers: one implementation, three names."""

    media_types: tuple[str, ...]
    options_type = None
    input = "stream"

    def __init__(self, name: str) -> None:
        self.name = name
        self.suffixes = {"atom": (".atom",), "rss": (".rss",), "feed": (".xml",)}[name]
        self.media_types = {
            "atom": ("application/atom+xml",),
            "rss": ("application/rss+xml", "application/rdf+xml"),
            "feed": ("application/xml", "text/xml"),
        }[name]
        self.description = {
            "atom": "Atom 1.0 and 0.3 feed (feedparser): entries, Media RSS credits, links.",
            "rss": "RSS 0.9x, 1.0 and 2.0 feed (feedparser): items, enclosures, content.",
            "feed": "Any RSS or Atom feed, recognised by its root element (feedparser).",
        }[name]
        self._roots = {"atom": {"feed"}, "rss": {"rss", "rdf"},
                       "feed": {"feed", "rss", "rdf"}}[name]

    def sniff(self, head: bytes) -> bool:
        return _root(head) in self._roots

    def read(self, source: BinaryIO, **options: Any) -> storykit.Collection:
        from storykit.exporter import parse_options

        parse_options(self, options)
        name = source_name(source)
        data = read_bytes(source, what="feed")
        return read_feed(data, name)


_FEED_ROOT = re.compile(rb"<(?:[\w.-]+:)?(?:rss|feed|rdf|channel)[\s>/]", re.IGNORECASE)


def read_feed(data: bytes, name: str | None = None) -> storykit.Collection:
    """The collection of an RSS or Atom feed's bytes."""
    items = _check_xml(data, name)
    head = data[:8192]
    if not (_FEED_ROOT.search(head) or _FEED_ROOT.search(head.replace(b"\x00", b""))):
        # (feedparser's lenient parser would take its time over any page of markup)
        raise refuse("is not an RSS or Atom feed (no <rss>, <rdf:RDF> or <feed> element at "
                     "its start)", name)
    import feedparser

    try:
        parsed = feedparser.parse(data, sanitize_html=False, resolve_relative_uris=False)
    except (ValueError, LookupError) as e:  # (an encoding name feedparser cannot try: b"\0")
        reason = " ".join(str(e).split())[:200]
        raise refuse(f"is not an RSS or Atom feed feedparser can read ({reason})", name) from None
    version = parsed.get("version") or ""
    if not version or not (version.startswith(("rss", "atom"))):
        if parsed.get("bozo") and parsed.get("bozo_exception") is not None:
            reason = str(parsed.get("bozo_exception")).splitlines()[0][:200]
            raise refuse(f"is not an RSS or Atom feed ({reason})", name) from None
        raise refuse("is not an RSS or Atom feed (no <rss>, <rdf:RDF> or <feed> root)", name)
    feed = parsed.feed
    language = language_tag(feed.get("language")) or "en"
    atom = version.startswith("atom")
    title = feed.get("title_detail")
    collection: dict[str, Any] = {
        "title": (_text(title) if atom else _text_value((title or {}).get("value")))
        or _text_value(feed.get("title")) or "Feed"}
    description = _text(feed.get("subtitle_detail"))
    # (an RSS channel must have a description: storykit writes the title when it has none)
    if description and (atom or description != collection["title"]):
        collection["description"] = description
    link = _alternate(feed.get("links", ())) or (None if atom else feed.get("link"))
    if link:
        collection["url"] = link
    collection["language"] = language
    taken: set[str] = set()
    if items is not None and len(items) != len(parsed.entries):
        items = None
    stories = [_entry(entry, language, taken, atom, None if items is None else items[i])
               for i, entry in enumerate(parsed.entries)]
    collection["stories"] = stories
    keys = [e.get("id") or e.get("link") or f"#{i}" for i, e in enumerate(parsed.entries)]
    return _validated(collection, name, lambda i: f"entries[{i}] ({keys[i]})")


def _validated(data: dict[str, Any], name: str | None, where: Any) -> storykit.Collection:
    from storykit.convert import collection_from_data

    try:
        return collection_from_data(data, name)
    except ValidationError as e:
        raise with_paths(e, where) from None


class _Item:
    """What expat saw of one RSS item or Atom entry: the text of its first
    ``media:description`` and whether it holds a ``content:encoded``. feedparser files a
    ``media:description`` under the summary's detail or under ``content`` (as HTML, when its
    text looks like markup), depending on what came before it; this says which it was."""

    __slots__ = ("encoded", "media_description")

    def __init__(self) -> None:
        self.media_description: str | None = None
        self.encoded = False


_ITEM = ("item", "http://purl.org/rss/1.0/ item", "http://www.w3.org/2005/Atom entry",
         "http://purl.org/atom/ns# entry")
_MEDIA_DESCRIPTION = f"{MEDIA_NS} description"
_ENCODED = f"{CONTENT_NS} encoded"


def _check_xml(data: bytes, name: str | None) -> list[_Item] | None:
    """Read ``data`` once with expat: entity declarations and nesting past
    :data:`~storykit.sources.MAX_DEPTH` are refused. A feed that is not well-formed is left to
    feedparser, which reads many broken real-world feeds (then None; else what each item or
    entry holds, in order)."""
    import xml.parsers.expat

    parser = xml.parsers.expat.ParserCreate(namespace_separator=" ")
    parser.SetParamEntityParsing(xml.parsers.expat.XML_PARAM_ENTITY_PARSING_NEVER)
    depth = 0
    items: list[_Item] = []
    item: _Item | None = None
    text: list[str] | None = None  # the media:description being read

    class _RefusedError(Exception):
        pass

    def entity(name_: str, *_: Any) -> None:
        raise _RefusedError(f"declares the entity {name_!r}: entity declarations are refused "
                       "(entity expansion and external entities)")

    def start(tag: str, _attrs: Any) -> None:
        nonlocal depth, item, text
        depth += 1
        if depth > MAX_DEPTH:
            raise _RefusedError(f"nests elements deeper than the limit of {MAX_DEPTH}")
        if tag in _ITEM:
            item = _Item()
            items.append(item)
        elif item is not None:
            if tag == _ENCODED:
                item.encoded = True
            elif tag == _MEDIA_DESCRIPTION and item.media_description is None:
                text = []

    def end(tag: str) -> None:
        nonlocal depth, item, text
        depth -= 1
        if tag in _ITEM:
            item = None
        elif text is not None and tag == _MEDIA_DESCRIPTION and item is not None:
            item.media_description = "".join(text)
            text = None

    def characters(data_: str) -> None:
        if text is not None:
            text.append(data_)

    def external(*_: Any) -> int:
        raise _RefusedError("refers to an external entity: external entities are refused")

    parser.EntityDeclHandler = entity
    parser.StartElementHandler = start
    parser.EndElementHandler = end
    parser.CharacterDataHandler = characters
    parser.ExternalEntityRefHandler = external
    try:
        parser.Parse(data, True)
    except _RefusedError as e:
        raise refuse(str(e), name) from None
    except (xml.parsers.expat.ExpatError, ValueError, LookupError):
        # Not well-formed, or in an encoding expat lacks (big5): feedparser reads those, but
        # no entity declaration gets that far.
        if b"<!ENTITY" in data[:65536] or "<!ENTITY".encode("utf-16-le") in data[:131072]:
            raise refuse("declares entities: entity declarations are refused", name) from None
        return None
    return items


# --- one entry --------------------------------------------------------------------------------

def _text_value(value: Any) -> str | None:
    return value.strip() or None if isinstance(value, str) else None


def _strip_html(value: str) -> str:
    import nh3

    return html.unescape(nh3.clean(value, tags=set(), clean_content_tags={"script", "style"}))


def _text(detail: Any) -> str | None:
    """A feedparser text construct as plain text (HTML types have their markup removed)."""
    if not detail:
        return None
    value = detail.get("value")
    if not isinstance(value, str):
        return None
    if detail.get("type") in ("text/html", "application/xhtml+xml"):
        value = _strip_html(value)
    return value.strip() or None


def _when(raw: Any) -> date | str | None:
    """An RFC 3339 or RFC 822 date; midnight UTC (how storykit writes a plain date) is a date.

    A date that neither reads is returned as it stands, for the model to report.
    """
    if not isinstance(raw, str) or not raw.strip():
        return None
    text = raw.strip()
    moment: datetime | None
    try:
        moment = datetime.fromisoformat(text.replace("z", "Z"))
    except ValueError:
        try:
            moment = email.utils.parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError):
            return text
        moment = _four_digit_year(text, moment)
    if moment.tzinfo is None:
        if len(text) <= 10:
            return moment.date()
        return text
    if moment.utcoffset() == UTC.utcoffset(None) and moment.time() == datetime.min.time():
        return moment.date()
    return moment


# The year of an RFC 822 date: after the day and the month's name ("23 Feb 0099").
_RFC822_YEAR = re.compile(r"\b\d{1,2}\s+[A-Za-z]{3}\s+(\d{3,4})\b")


def _four_digit_year(text: str, moment: datetime) -> datetime:
    """``moment`` in the year ``text`` writes in full: RFC 5322 parsers read any year below
    100 as a two-digit year (``0099`` as 1999); a year written with three or four digits is
    the year it says (storykit's RSS writes years 1 to 99 so)."""
    m = _RFC822_YEAR.search(text)
    if m is None or int(m.group(1)) == moment.year:
        return moment
    try:
        return moment.replace(year=int(m.group(1)))
    except ValueError:  # (no 29 February that year: the date is read as it stands)
        return moment


def _alternate(links: Any) -> str | None:
    for link in links or ():
        if link.get("rel") == "alternate" and link.get("href"):
            return str(link["href"])
    return None


def _entry(entry: Any, language: str, taken: set[str], atom: bool, item: _Item | None
           ) -> dict[str, Any]:
    story: dict[str, Any] = {}
    lang = (language_tag(entry.get("language"))
            or language_tag((entry.get("title_detail") or {}).get("language")) or language)
    title = entry.get("title_detail")
    # RSS titles are plain text (feedparser guesses HTML when one looks like markup); Atom
    # says its type.
    story["title"] = (_text(title) if atom else _text_value((title or {}).get("value"))) \
        or _text_value(entry.get("title"))
    # dict.get: feedparser's own get() maps a missing "updated" to "published", with a warning
    updated = _when(dict.get(entry, "updated"))
    published = _when(dict.get(entry, "published")) or updated
    story["published"] = published
    if updated is not None and updated != published:
        story["updated"] = updated
    body = None
    # (an RSS item without content:encoded has no body: its "content" is a media:description)
    no_body = not atom and item is not None and not item.encoded
    for content in () if no_body else entry.get("content") or ():
        if content.get("type") in ("text/html", "application/xhtml+xml") and content.get("value"):
            body = content["value"]
            break
    summary = _summary(entry, atom)
    if summary is None:
        summary = _strip_html(body).strip() if body else None
        summary = (summary[:500] if summary else None) or story["title"]
    story["summary"] = summary
    if body:
        story["body"] = body
    url, translations, related = None, [], []
    for link in entry.get("links") or ():
        rel, href = link.get("rel"), link.get("href")
        if not href:
            continue
        if rel == "alternate" and link.get("type", "text/html") in ("text/html", ""):
            hreflang = link.get("hreflang")
            if url is None and not link.get("title") and (hreflang in (None, lang)):
                url = href
            elif hreflang:
                tr = {"language": hreflang, "url": href}
                if link.get("title"):
                    tr["title"] = link["title"]
                translations.append(tr)
        elif rel == "related":
            related.append({"url": href, "title": link.get("title") or href})
    if url is None and not atom and not translations:
        url = entry.get("link")  # RSS's <link> (feedparser gives Atom's id there too)
    if url:
        story["url"] = url
    if translations:
        story["translations"] = translations
    if related:
        story["links"] = related
    topics: list[str] = []
    countries: list[str] = []
    for tag in entry.get("tags") or ():
        term = (tag.get("term") or tag.get("label") or "").strip()
        if not term:
            continue
        target = countries if tag.get("scheme") == COUNTRY_SCHEME else topics
        if term not in target:
            target.append(term)
    if topics:
        story["topics"] = topics
    if countries:
        story["countries"] = countries
    story["language"] = lang
    media = _media_description(entry) if item is None else _text_value(item.media_description)
    image = _image(entry, story["title"], media)
    if image is not None:
        story["image"] = image
    key = entry.get("id") or entry.get("link") or story.get("title") or ""
    story["id"] = stable_id(str(key), taken)
    return story


def _summary(entry: Any, atom: bool) -> str | None:
    """The entry's summary as plain text.

    feedparser lets a Media RSS ``media:description`` overwrite ``summary_detail`` (not
    ``summary``): the detail's type is trusted only when its value is the summary's. An RSS
    description is HTML (RSS 2.0).
    """
    value = entry.get("summary")
    if not isinstance(value, str):
        return None
    detail = entry.get("summary_detail") or {}
    if not atom:
        kind = "text/html"
    elif detail.get("value") == value:
        kind = detail.get("type")
    else:
        kind = "text/plain"
    if kind in ("text/html", "application/xhtml+xml"):
        value = _strip_html(value)
    return value.strip() or None


def _media_description(entry: Any) -> str | None:
    """``media:description``: where feedparser put it (see :func:`_summary`)."""
    detail = entry.get("summary_detail") or {}
    if detail.get("value") is not None and detail.get("value") != entry.get("summary"):
        return _text_value(detail["value"])
    for content in reversed(entry.get("content") or ()):
        if content.get("type") == "text/plain":
            return _text_value(content.get("value"))
    return None


def _image(entry: Any, title: Any, description: str | None) -> dict[str, Any] | None:
    """The picture: Media RSS content (with its description and credit), else an image
    enclosure; the entry's title stands in for a missing description."""
    url = None
    for media in entry.get("media_content") or ():
        if media.get("url") and media.get("medium", "image") == "image":
            url = media["url"]
            break
    if url is None:
        for enclosure in entry.get("enclosures") or ():
            if str(enclosure.get("type", "")).startswith("image/") and enclosure.get("href"):
                url = enclosure["href"]
                break
    if url is None:
        for thumb in entry.get("media_thumbnail") or ():
            if thumb.get("url"):
                url = thumb["url"]
                break
    if url is None:
        return None
    alt = description or (title if isinstance(title, str) and title else "Image")
    image: dict[str, Any] = {"url": url, "alt": alt}
    credit = entry.get("media_credit")
    if credit:
        text = credit[0].get("content") if isinstance(credit, list) else None
        if isinstance(text, str) and text.strip():
            image["credit"] = text.strip()
    return image


# --- JSON Feed --------------------------------------------------------------------------------


class JSONFeedReader:
    """The ``jsonfeed`` reader: JSON Feed 1.0 and 1.1, with storykit's ``_storykit`` extension."""

    name = "jsonfeed"
    suffixes = (".feed.json",)
    media_types = ("application/feed+json",)
    description = "JSON Feed 1.0 and 1.1: items, images, tags, storykit's credit extension."
    options_type = None
    input = "stream"

    def sniff(self, head: bytes) -> bool:
        return re.search(rb'"version"\s*:\s*"https://jsonfeed\.org/version/', head) is not None

    def read(self, source: BinaryIO, **options: Any) -> storykit.Collection:
        from storykit.exporter import parse_options

        parse_options(self, options)
        name = source_name(source)
        return read_jsonfeed(read_bytes(source, what="feed"), name)


def read_jsonfeed(data: bytes, name: str | None = None) -> storykit.Collection:
    import orjson

    try:
        feed = orjson.loads(data)
    except orjson.JSONDecodeError as e:
        if "depth" in str(e) or "recursion" in str(e).lower():
            raise refuse("nests deeper than the limit of 1,024 levels (JSON)", name) from None
        raise refuse(f"is not JSON ({str(e).splitlines()[0]})", name) from None
    if not isinstance(feed, dict) or not str(feed.get("version", "")).startswith(
            "https://jsonfeed.org/version/"):
        raise refuse("is not a JSON Feed (no \"version\": \"https://jsonfeed.org/version/1.1\")",
                     name)
    if depth_of(feed) > MAX_DEPTH:
        raise refuse(f"nests deeper than the limit of {MAX_DEPTH}", name)
    items = feed.get("items")
    if not isinstance(items, list):
        raise refuse("has no list of \"items\"", name, "items")
    language = language_tag(feed.get("language")) or "en"
    collection: dict[str, Any] = {"title": feed.get("title") or "Feed",
                                  "language": language}
    if feed.get("description"):
        collection["description"] = feed["description"]
    if feed.get("home_page_url"):
        collection["url"] = feed["home_page_url"]
    taken: set[str] = set()
    collection["stories"] = [_item(item, language, taken) for item in items]
    keys = [item.get("id") if isinstance(item, dict) else None for item in items]
    return _validated(collection, name, lambda i: f"items[{i}] ({keys[i]})")


def _item(item: Any, language: str, taken: set[str]) -> Any:
    if not isinstance(item, dict):
        return item  # the model reports it ("must be a story object")
    story: dict[str, Any] = {"title": item.get("title")}
    ext = item.get("_storykit") if isinstance(item.get("_storykit"), dict) else {}
    published = item.get("date_published") or item.get("date_modified")
    story["published"] = _when(published) if isinstance(published, str) else published
    if item.get("date_modified"):
        updated = _when(item["date_modified"]) if isinstance(item["date_modified"], str) \
            else item["date_modified"]
        if updated != story["published"]:
            story["updated"] = updated
    body = item.get("content_html")
    summary = item.get("summary") or item.get("content_text")
    if not summary and isinstance(body, str):
        summary = _strip_html(body).strip()[:500] or None
    story["summary"] = summary or story["title"]
    if isinstance(body, str) and body.strip():
        story["body"] = body
    if item.get("url"):
        story["url"] = item["url"]
    if item.get("tags"):
        story["topics"] = item["tags"]
    story["language"] = item.get("language") or language
    image_url = item.get("image") or item.get("banner_image")
    if image_url:
        image: dict[str, Any] = {"url": image_url,
                                 "alt": ext.get("image_alt") or story["title"] or "Image"}
        credit = ext.get("credit")
        if isinstance(credit, dict) and credit.get("holder"):
            image["credit"] = {"holder": credit["holder"], "year": credit.get("year")}
        story["image"] = image
    if ext.get("countries"):
        story["countries"] = ext["countries"]
    if isinstance(ext.get("links"), list):
        story["links"] = ext["links"]
    elif item.get("external_url"):
        story["links"] = [{"url": item["external_url"], "title": item["external_url"]}]
    key = item.get("id") or item.get("url") or ""
    story["id"] = stable_id(str(key), taken)
    return story


@storykit.hookimpl
def register_readers() -> list[Any]:
    """The feed readers."""
    return [FeedReader("atom"), FeedReader("rss"), FeedReader("feed"), JSONFeedReader()]
