"""The ``atom`` format, read back with feedparser and checked against RFC 4287's grammar."""

from __future__ import annotations

import attrs
from feeds_support import (
    as_feedparser_reads,
    assert_content,
    assert_full_body,
    assert_valid_atom,
    example,
    parse_xml_feed,
    same_instant,
    xml_texts,
)
from hypothesis import example as case
from hypothesis import given, settings
from hypothesis import strategies as st

import storykit
from storykit.testing import collections

SELF = "https://news.example.org/impact-and-people/feed.atom"


class TestAtomExample:
    """The example page as an Atom feed."""

    def test_well_formed_atom_10(self) -> None:
        """feedparser reads the feed as Atom 1.0 without complaint."""
        parse_xml_feed(storykit.dumps(example(), "atom"), "atom10")

    def test_valid_against_rfc_4287_grammar(self) -> None:
        """The feed validates against the RELAX NG grammar of RFC 4287, in both content modes."""
        for content in ("summary", "full"):
            assert_valid_atom(storykit.dumps(example(), "atom", content=content,
                                             self_url=SELF))

    def test_feed_metadata_survives(self) -> None:
        """Title, subtitle, alternate and self links, author and language reach the reader."""
        col = example()
        feed = parse_xml_feed(storykit.dumps(col, "atom", self_url=SELF), "atom10").feed
        assert feed.title == col.title
        assert feed.subtitle == col.description
        assert feed.id == col.url
        links = {link["rel"]: link["href"] for link in feed.links}
        assert links == {"alternate": col.url, "self": SELF}
        assert feed.author == "International Labour Organization"
        assert feed.updated == "2021-02-23T00:00:00Z"

    def test_every_entry_field_survives(self) -> None:
        """Ids, titles, links, dates, summaries, topics, countries, image and credit survive."""
        col = example()
        entries = parse_xml_feed(storykit.dumps(col, "atom"), "atom10").entries
        assert len(entries) == len(col)
        for entry, story in zip(entries, col, strict=True):
            assert entry.id == f"tag:news.example.org,2021:impact-and-people/{story.id}"
            assert entry.title == story.title
            assert entry.link == story.url
            assert entry.summary == story.summary
            assert same_instant(entry.published_parsed, story.published)
            assert entry.published.endswith("Z")
            related = [(x["href"], x["title"]) for x in entry.links if x["rel"] == "related"]
            assert related == [(link.url, link.title) for link in story.links]
            terms = [(t["term"], t["scheme"]) for t in entry.tags]
            assert terms == ([(t, None) for t in story.topics]
                             + [(c, "urn:iso:std:iso:3166:-1") for c in story.countries])
            if story.image is None:
                assert "media_content" not in entry
                continue
            assert entry.media_content[0]["url"] == story.image.url
            assert entry.media_content[0]["medium"] == "image"
            assert entry.content[0]["value"] == story.image.alt
            assert entry.media_credit[0]["content"] == str(story.image.credit)

    def test_voices_link_is_related(self) -> None:
        """The "Voices" pointer of the song story is a rel="related" link with its title."""
        col = example()
        entries = parse_xml_feed(storykit.dumps(col, "atom"), "atom10").entries
        song = next(e for e in entries if e.id.endswith("/a-song-to-let-children-fly"))
        assert {"rel": "related", "href": "https://voices.ilo.org/", "type": "text/html",
                "title": "Read more on our new multimedia Voices platform"} in song.links

    def test_full_content_carries_html_body(self) -> None:
        """content=full adds an HTML body with the summary's paragraphs, the figure with its
        alt text and credit, and the story's links."""
        col = example()
        # One summary of two paragraphs (the example's are one each): both must be shown.
        col = col.replace(tuple(
            attrs.evolve(s, summary=s.summary + "\n\nA second paragraph,\nof two lines.")
            if s.id == "a-song-to-let-children-fly" else s for s in col))
        data = storykit.dumps(col, "atom", content="full")
        entries = parse_xml_feed(data, "atom10").entries
        song = next(e for e in entries if e.id.endswith("/a-song-to-let-children-fly"))
        body = song.content[0]
        assert body["type"] == "text/html"
        assert 'alt="Ridma Weerawardena, a Sri Lankan singer' in body["value"]
        assert "<figcaption>© Asitha Seneviratne 2021</figcaption>" in body["value"]
        # Read as a feed reader shows it (feedparser's cleaned HTML) and exactly as written.
        raw = xml_texts(data, "a:entry/a:content", {"a": "http://www.w3.org/2005/Atom"})
        assert len(entries) == len(raw) == len(col)
        for entry, written, story in zip(entries, raw, col, strict=True):
            assert_full_body(entry.content[0]["value"], story)
            assert_full_body(written, story)
        assert sum(len(s.links) for s in col) > 0


class TestAtomProperties:
    """Atom output for any valid collection."""

    @settings(max_examples=40, deadline=None)
    @given(collections(max_size=5))
    def test_any_collection_is_valid_atom(self, col: storykit.Collection) -> None:
        """Every collection gives a feed that is valid Atom and reads back field for field."""
        data = storykit.dumps(col, "atom", content="full")
        assert_valid_atom(data)
        parsed = parse_xml_feed(data, "atom10")
        atom = {"a": "http://www.w3.org/2005/Atom"}
        assert xml_texts(data, "a:title", atom) == [col.title]
        bodies = xml_texts(data, "a:entry/a:content", atom)
        assert len(bodies) == len(col)
        for body, story in zip(bodies, col, strict=True):
            assert_content(body, story)
        assert xml_texts(data, "a:entry/a:title", atom) == [s.title for s in col]
        assert xml_texts(data, "a:entry/a:summary", atom) == [s.summary for s in col]
        assert parsed.feed.title == as_feedparser_reads(col.title)
        assert [e.title for e in parsed.entries] == [as_feedparser_reads(s.title) for s in col]
        assert [e.summary for e in parsed.entries] == [as_feedparser_reads(s.summary)
                                                       for s in col]
        for entry, story in zip(parsed.entries, col, strict=True):
            assert same_instant(entry.published_parsed, story.published)
            updated = story.updated if story.updated is not None else story.published
            assert same_instant(entry.updated_parsed, updated)

    @settings(max_examples=20, deadline=None)
    @given(collections(min_size=1, max_size=5))
    def test_entry_ids_are_stable_and_unique(self, col: storykit.Collection) -> None:
        """Entry ids depend only on the story: unique, and the same when the feed is rebuilt."""
        first = parse_xml_feed(storykit.dumps(col, "atom"), "atom10")
        ids = [e.id for e in first.entries]
        assert len(set(ids)) == len(ids)
        shuffled = col.replace(tuple(reversed(col.stories)))
        again = parse_xml_feed(storykit.dumps(shuffled, "atom"), "atom10")
        assert [e.id for e in again.entries] == list(reversed(ids))


class TestAtomEscaping:
    """The Atom writer escapes by hand for speed; these tests prove it escapes as ElementTree."""

    @settings(max_examples=200, deadline=None)
    @given(st.text(min_size=1))
    def test_text_is_escaped_as_elementtree_escapes_it(self, value: str) -> None:
        """Character data matches ElementTree's serialisation of the same (XML-safe) text."""
        import xml.etree.ElementTree as ET

        from storykit_feeds._common import xml_text
        from storykit_feeds.atom import _attr, _text

        safe = xml_text(value)
        if not safe:  # ElementTree writes an empty element as <x />, which is not escaping
            return
        el = ET.Element("x", a=safe)
        el.text = safe
        assert ET.tostring(el, encoding="unicode") == f'<x a="{_attr(value)}">{_text(value)}</x>'

    @settings(max_examples=200, deadline=None)
    @given(st.text())
    @case("\r\n")
    @case("a\rb\r\n\r")
    def test_escaped_text_reads_back_exactly(self, value: str) -> None:
        """A strict XML parser reads the escaped text and attribute back as the safe text
        (in element text, with XML's own line ends: CR LF and a lone CR read as LF)."""
        from lxml import etree
        from storykit_feeds._common import xml_text
        from storykit_feeds.atom import _attr, _text

        doc = etree.fromstring(f'<x a="{_attr(value)}">{_text(value)}</x>'.encode())
        assert doc.get("a") == xml_text(value)
        assert (doc.text or "") == xml_text(value).replace("\r\n", "\n").replace("\r", "\n")
