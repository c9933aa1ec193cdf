"""What the three feed formats share: options, entry ids, dates, safe text, the HTML body."""

from __future__ import annotations

import email.utils
import functools
import mimetypes
import re
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from datetime import UTC, date, datetime, time
from typing import Any, Literal
from urllib.parse import quote, urlsplit

import attrs

import storykit

#: The Media RSS namespace: ``media:content``, ``media:credit``, ``media:description``.
MEDIA_NS = "http://search.yahoo.com/mrss/"
#: The Atom namespace (also used inside RSS for ``atom:link rel="self"``).
ATOM_NS = "http://www.w3.org/2005/Atom"
#: RSS's content module: ``content:encoded`` holds an item's HTML body.
CONTENT_NS = "http://purl.org/rss/1.0/modules/content/"
#: The category scheme that marks a category as an ISO 3166-1 alpha-2 country code.
COUNTRY_SCHEME = "urn:iso:std:iso:3166:-1"
#: Where the ``_storykit`` JSON Feed extension is described (JSON Feed asks for an ``about``).
EXTENSION_ABOUT = "https://storykit.readthedocs.io/plugins/#feeds"
#: The feed date of a feed without stories (a fixed instant: output never depends on a clock).
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
GENERATOR = "storykit-feeds"
#: ``xml:lang``, as ElementTree spells it.
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"

ET.register_namespace("media", MEDIA_NS)
ET.register_namespace("atom", ATOM_NS)
ET.register_namespace("content", CONTENT_NS)

# Characters XML 1.0 allows (production [2] Char); everything else is removed.
_NOT_XML_CHAR = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def xml_text(value: str) -> str:
    """``value`` without the characters XML 1.0 forbids (controls, surrogates, U+FFFE/FFFF).

    storykit's model already rejects them; this is the exporter's own guard, so that no input
    can make a feed that a reader refuses.
    """
    if value.isprintable():  # no control, surrogate or noncharacter: the common case, fast
        return value
    return _NOT_XML_CHAR.sub("", value)


_LONE_PERCENT = re.compile("%(?![0-9A-Fa-f]{2})")


# Characters quote() below never changes (its safe set, letters, digits, "_.-~"), without "%",
# "[", "]" (only an IPv6 host may hold them) and a second "#".
_URI_CHARS = r"[A-Za-z0-9_.~!$&'()*+,/:;=?@-]*"
_PLAIN_URI = re.compile(f"{_URI_CHARS}(?:#{_URI_CHARS})?")
_URI_SAFE = "!$%&'()*+,/:;=?@~"
# A URL's scheme and authority (an IPv6 host's brackets are kept there), and the rest.
_AUTHORITY = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://[^/?#]*")


def uri(value: str) -> str:
    """``value`` as a valid URI (RFC 3986): a ``%`` that starts no escape becomes ``%25``,
    characters outside ASCII are percent-encoded as UTF-8, and so are brackets outside the
    host and a ``#`` inside the fragment. A valid URI is returned unchanged."""
    if _PLAIN_URI.fullmatch(value):  # the common case, without quote()'s per-character work
        return value
    value = _LONE_PERCENT.sub("%25", value)
    m = _AUTHORITY.match(value)
    head, rest = (m.group(), value[m.end():]) if m else ("", value)
    path, hash_, fragment = rest.partition("#")
    return (quote(head, safe=_URI_SAFE + "[]") + quote(path, safe=_URI_SAFE) + hash_
            + quote(fragment, safe=_URI_SAFE))


def _absolute_url(_instance: object, _attribute: object, value: str | None) -> None:
    if value is None:
        return
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc or any(c.isspace()
                                                                        for c in value):
        raise ValueError(f"must be an absolute http or https URL (got {value!r})")


def _limit(_instance: object, _attribute: object, value: int | None) -> None:
    if value is not None and value < 0:
        raise ValueError(f"must be 0 or more (got {value!r})")


@attrs.frozen
class FeedOptions:
    """Options of the ``atom``, ``rss`` and ``jsonfeed`` formats."""

    #: ``summary``: each entry carries the story's summary as text. ``full``: also an HTML body
    #: with the summary, the image with its alt text and credit, and the story's links. A story
    #: with its own ``body`` carries that body as its HTML content in either mode.
    content: Literal["summary", "full"] = "summary"
    #: At most this many entries, the first ones in the collection's order (``None``: all).
    limit: int | None = attrs.field(default=None, validator=_limit)
    #: The URL the feed itself will be served from (Atom ``rel="self"``, RSS ``atom:link``,
    #: JSON Feed ``feed_url``).
    self_url: str | None = attrs.field(default=None, validator=_absolute_url)


def selected(collection: storykit.Collection, opts: FeedOptions) -> Sequence[storykit.Story]:
    """The stories to write, in the order given (no sorting: the caller decides)."""
    stories = collection.stories
    return stories if opts.limit is None else stories[:opts.limit]


def instant(when: date) -> datetime:
    """A story date as an aware datetime; a plain date is midnight UTC of that day."""
    if isinstance(when, datetime):
        return when
    return datetime.combine(when, time.min, tzinfo=UTC)


def rfc3339(when: date) -> str:
    """``2021-02-23T00:00:00Z`` (Atom, JSON Feed)."""
    if type(when) is date:  # days repeat across a feed (datetimes are not cached: equal
        return _rfc3339_day(when)  # instants with other offsets must keep their own text)
    moment = instant(when)
    text = moment.isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


@functools.lru_cache(maxsize=4096)
def _rfc3339_day(day: date) -> str:
    return f"{day.isoformat()}T00:00:00Z"


def rfc822(when: date) -> str:
    """``Tue, 23 Feb 2021 00:00:00 +0000``: RFC 822 with a numeric zone (RSS)."""
    return email.utils.format_datetime(instant(when))


def story_updated(story: storykit.Story) -> date:
    return story.updated if story.updated is not None else story.published


def feed_updated(stories: Sequence[storykit.Story]) -> datetime:
    """The latest date of any story (fixed for an empty feed: no clocks)."""
    return max((instant(story_updated(s)) for s in stories), default=EPOCH)


@functools.lru_cache(maxsize=64)
def _tag_parts(url: str) -> tuple[str, str]:
    """The host (lower case) and the path (without end slashes) of a collection URL."""
    parts = urlsplit(url)
    return (parts.hostname or "").lower(), parts.path.strip("/")


def entry_id(collection: storykit.Collection, story: storykit.Story) -> str:
    """A stable id for a story's entry, made from the story id, so readers never see it twice.

    With a collection URL it is a ``tag:`` URI (RFC 4151) such as
    ``tag:news.example.org,2021:impact-and-people/a-song-to-let-children-fly`` (the year is the
    story's publication year); without one, the story URL with the story id as its fragment
    (``https://e.org/2021/bees#bees``: two stories may link to the same page, and their entries
    must still differ); failing that a name-based UUID URN.
    """
    if collection.url:
        host, path = _tag_parts(collection.url)
        if host:
            specific = f"{path}/{story.id}" if path else story.id
            return uri(f"tag:{host},{story.published.year:04d}:{specific}")
    if story.url:
        return uri(f"{story.url.partition('#')[0]}#{story.id}")
    return uuid.uuid5(uuid.NAMESPACE_URL, f"storykit:{collection.title}/{story.id}").urn


def feed_id(collection: storykit.Collection, opts: FeedOptions) -> str:
    if collection.url:
        return uri(collection.url)
    if opts.self_url:
        return uri(opts.self_url)
    return uuid.uuid5(uuid.NAMESPACE_URL, f"storykit:{collection.title}").urn


def author_name(collection: storykit.Collection) -> str:
    """Who publishes the feed: the first media contact's organisation or name, else the title."""
    for contact in collection.contacts:
        return contact.organization or contact.name
    return collection.title


def image_type(url: str) -> str:
    """The media type of an image URL, guessed from its file name."""
    # (The path's last segment, by hand: urlsplit() was a fifth of an Atom export's time.)
    rest = url.partition("#")[0].partition("?")[0]
    start = rest.find("/", rest.find("://") + 3)  # the path begins after the host
    name = rest[rest.rfind("/") + 1:] if start >= 0 else ""
    dot = name.find(".", 1)  # the guess depends only on the name's suffixes: cache on them
    return _image_type("x" + name[dot:] if dot > 0 else name)


@functools.lru_cache(maxsize=1024)
def _image_type(name: str) -> str:
    guessed, _ = mimetypes.guess_type(name, strict=False)
    return guessed if guessed and guessed.startswith("image/") else "image/jpeg"


def body_html(story: storykit.Story) -> str:
    """The ``full`` content: summary paragraphs, the figure with its credit, the links.

    Built as elements and serialised by ElementTree, so every text and attribute is escaped.
    """
    root = ET.Element("div")
    for para in re.split(r"\n\s*\n", story.summary):
        ET.SubElement(root, "p").text = xml_text(para.strip())
    if story.image is not None:
        figure = ET.SubElement(root, "figure")
        ET.SubElement(figure, "img", src=xml_text(uri(story.image.url)),
                      alt=xml_text(story.image.alt))
        if story.image.credit is not None:
            ET.SubElement(figure, "figcaption").text = xml_text(str(story.image.credit))
    if story.links:
        ul = ET.SubElement(root, "ul")
        for link in story.links:
            li = ET.SubElement(ul, "li")
            ET.SubElement(li, "a", href=xml_text(uri(link.url))).text = xml_text(link.title)
    inner: list[str] = [ET.tostring(child, encoding="unicode", method="html") for child in root]
    return "".join(inner)


def sub(parent: ET.Element, tag: str, text: str | None = None, **attrib: Any) -> ET.Element:
    """A child element whose text and attribute values pass through :func:`xml_text`."""
    clean = {k: xml_text(str(v)) for k, v in attrib.items() if v is not None}
    child = ET.SubElement(parent, tag, clean)
    if text is not None:
        child.text = xml_text(text)
    return child


def write_xml(root: ET.Element, out: Any) -> None:
    """Serialise ``root`` as indented UTF-8 with an XML declaration."""
    ET.indent(root, space="  ")
    # Serialised to one str and encoded once: ElementTree.write(encoding="utf-8") goes through
    # a TextIOWrapper, one small write and encoder reset per piece, several times slower.
    text = ET.tostring(root, encoding="unicode")
    out.write(b"<?xml version='1.0' encoding='utf-8'?>\n" + text.encode("utf-8") + b"\n")
