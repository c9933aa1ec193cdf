"""Helpers shared by the feeds plugin's tests (a plain module, not collected by pytest)."""

from __future__ import annotations

import json
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import feedparser
import html5lib
import jsonschema
from lxml import etree

import storykit
from storykit.testing import paragraphs as summary_paragraphs

HERE = Path(__file__).resolve().parent
EXAMPLE = HERE.parents[2] / "examples" / "impact-and-people" / "stories.json"

_RNG: etree.RelaxNG | None = None
_SCHEMA: dict[str, Any] | None = None


def example() -> storykit.Collection:
    return storykit.load(EXAMPLE)


def atom_grammar() -> etree.RelaxNG:
    """RFC 4287's RELAX NG grammar (appendix B), in tests/atom.rng."""
    global _RNG
    if _RNG is None:
        _RNG = etree.RelaxNG(etree.parse(str(HERE / "atom.rng")))
    return _RNG


def assert_valid_atom(data: bytes) -> None:
    grammar = atom_grammar()
    doc = etree.fromstring(data)
    assert grammar.validate(doc), str(grammar.error_log)


def jsonfeed_validator() -> jsonschema.Draft7Validator:
    global _SCHEMA
    if _SCHEMA is None:
        _SCHEMA = json.loads((HERE / "jsonfeed-1.1.schema.json").read_text("utf-8"))
    return jsonschema.Draft7Validator(_SCHEMA, format_checker=jsonschema.FormatChecker())


def assert_valid_jsonfeed(data: bytes) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(data)
    errors = sorted(jsonfeed_validator().iter_errors(doc), key=lambda e: list(e.path))
    assert not errors, "\n".join(f"{list(e.path)}: {e.message}" for e in errors)
    return doc


def parse_xml_feed(data: bytes, version: str) -> Any:
    """feedparser's reading of ``data``; a well-formed feed of ``version`` or AssertionError."""
    parsed = feedparser.parse(data)
    assert parsed.bozo == 0, parsed.get("bozo_exception")
    assert parsed.version == version
    return parsed


def utc_struct(when: date) -> time.struct_time:
    """A story date as the UTC ``struct_time`` feedparser gives for it (counted in seconds:
    a moment of year 1 east of UTC, or of 9999 west of it, is in year 0 or 10000 in UTC,
    which feedparser gives and ``datetime`` cannot hold)."""
    if not isinstance(when, datetime):
        when = datetime(when.year, when.month, when.day, tzinfo=UTC)
    offset = when.utcoffset()
    assert offset is not None
    seconds = (when.replace(tzinfo=None) - datetime(1970, 1, 1)) // timedelta(seconds=1)
    return time.gmtime(seconds - offset // timedelta(seconds=1))[:6]  # type: ignore[return-value]


def same_instant(parsed: time.struct_time, when: date) -> bool:
    return tuple(parsed[:6]) == tuple(utc_struct(when))


def as_feedparser_reads(text: str) -> str:
    """``text`` as feedparser returns it: it "repairs" text that looks like UTF-8 misread as
    Latin-1 (a story that really says ``Â¡`` reads back as ``¡``), a documented heuristic of
    feedparser's, not a fault of the feed; the XML itself is checked exactly with lxml."""
    try:
        return text.encode("iso-8859-1").decode("utf-8")
    except (UnicodeEncodeError, UnicodeDecodeError):
        return text


def xml_texts(data: bytes, path: str, namespaces: dict[str, str] | None = None) -> list[str]:
    """The exact text of every element at ``path`` (ElementPath), read with lxml."""
    root = etree.fromstring(data)
    return [el.text or "" for el in root.iterfind(path, namespaces)]


def squash(text: str) -> str:
    """Whitespace collapsed, as an HTML reader shows it."""
    return " ".join(text.split())


def assert_content(content: str, story: storykit.Story) -> None:
    """An Atom or JSON Feed entry's HTML content with ``content="full"``: the story's own
    body, exactly (it reads back unchanged), or for a story without one the full body made of
    its summary, picture and links (see :func:`assert_full_body`)."""
    if story.body is not None:
        assert content == story.body
    else:
        assert_full_body(content, story)


def assert_full_body(body: str, story: storykit.Story) -> None:
    """The ``content="full"`` HTML ``body``, parsed by html5lib as a browser parses it, shows
    the story: one paragraph per summary paragraph, then its picture, then its links (href and
    text), each in order."""
    root = html5lib.parseFragment(body, namespaceHTMLElements=False)
    paragraphs = [squash("".join(p.itertext())) for p in root.iter("p")]
    assert paragraphs == summary_paragraphs(story.summary)
    links = [(unquote(a.get("href") or ""), "".join(a.itertext())) for a in root.iter("a")]
    assert links == [(unquote(link.url), link.title) for link in story.links]
    images = [(unquote(i.get("src") or ""), i.get("alt")) for i in root.iter("img")]
    assert images == ([(unquote(story.image.url), story.image.alt)] if story.image else [])
