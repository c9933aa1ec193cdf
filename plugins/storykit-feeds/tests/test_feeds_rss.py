"""The ``rss`` format, read back with feedparser."""

from __future__ import annotations

import email.utils
import html

from feeds_support import (
    as_feedparser_reads,
    assert_full_body,
    example,
    parse_xml_feed,
    same_instant,
    squash,
    summary_paragraphs,
    xml_texts,
)
from hypothesis import given, settings

import storykit
from storykit.testing import AWKWARD_TEXT, collections

SELF = "https://news.example.org/impact-and-people/feed.rss"


class TestRSSExample:
    """The example page as an RSS 2.0 feed."""

    def test_well_formed_rss_20(self) -> None:
        """feedparser reads the feed as RSS 2.0 without complaint."""
        parse_xml_feed(storykit.dumps(example(), "rss"), "rss20")

    def test_channel_survives(self) -> None:
        """Title, link, description, language and the self link reach the reader."""
        col = example()
        feed = parse_xml_feed(storykit.dumps(col, "rss", self_url=SELF), "rss20").feed
        assert feed.title == col.title
        assert feed.link == col.url
        assert feed.subtitle == col.description
        assert feed.language == "en"
        assert {"rel": "self", "type": "application/rss+xml", "href": SELF} in feed.links

    def test_every_item_field_survives(self) -> None:
        """Guids, titles, links, dates, summaries, categories, enclosure and credit survive."""
        col = example()
        entries = parse_xml_feed(storykit.dumps(col, "rss"), "rss20").entries
        assert len(entries) == len(col)
        for entry, story in zip(entries, col, strict=True):
            assert entry.id == f"tag:news.example.org,2021:impact-and-people/{story.id}"
            assert entry.guidislink is False
            assert entry.title == story.title
            assert entry.link == story.url
            assert html.unescape(entry.summary) == story.summary
            assert same_instant(entry.published_parsed, story.published)
            terms = [(t["term"], t["scheme"]) for t in entry.tags]
            assert terms == ([(t, None) for t in story.topics]
                             + [(c, "urn:iso:std:iso:3166:-1") for c in story.countries])
            related = [(x["href"], x["title"]) for x in entry.links if x["rel"] == "related"]
            assert related == [(link.url, link.title) for link in story.links]
            if story.image is None:
                assert not entry.enclosures
                continue
            assert entry.enclosures[0]["href"] == story.image.url
            assert entry.enclosures[0]["type"] == "image/jpeg"
            assert entry.media_content[0]["url"] == story.image.url
            assert entry.content[0]["value"] == story.image.alt
            assert entry.media_credit[0]["content"] == str(story.image.credit)

    def test_dates_are_rfc_822_with_numeric_zone(self) -> None:
        """pubDate is RFC 822 with a numeric zone, e.g. ``Tue, 23 Feb 2021 00:00:00 +0000``."""
        entries = parse_xml_feed(storykit.dumps(example(), "rss"), "rss20").entries
        assert entries[0].published == "Tue, 23 Feb 2021 00:00:00 +0000"
        for entry in entries:
            assert email.utils.parsedate_to_datetime(entry.published).tzinfo is not None
            assert entry.published[-5] in "+-"

    def test_markup_in_summary_stays_literal(self) -> None:
        """A summary with HTML in it is shown as text by a reader, not run as markup."""
        story = storykit.Story(title="Markup", published="2021-02-03",
                               summary=" and ".join(AWKWARD_TEXT[:6]))
        col = storykit.Collection(title="T", stories=[story])
        entry = parse_xml_feed(storykit.dumps(col, "rss"), "rss20").entries[0]
        assert "<script>" not in entry.summary
        assert html.unescape(entry.summary) == story.summary


class TestRSSProperties:
    """RSS output for any valid collection."""

    @settings(max_examples=40, deadline=None)
    @given(collections(max_size=5))
    def test_any_collection_reads_back(self, col: storykit.Collection) -> None:
        """Every collection gives a clean RSS 2.0 feed whose titles, text and dates survive;
        the full body shows every summary paragraph and every link."""
        for content in ("summary", "full"):
            data = storykit.dumps(col, "rss", content=content)
            parsed = parse_xml_feed(data, "rss20")
            assert xml_texts(data, "channel/title") == [col.title]
            assert xml_texts(data, "channel/item/title") == [s.title for s in col]
            assert parsed.feed.title == as_feedparser_reads(col.title)
            assert [e.title for e in parsed.entries] == [as_feedparser_reads(s.title)
                                                         for s in col]
            descriptions = xml_texts(data, "channel/item/description")
            for entry, story, description in zip(parsed.entries, col, descriptions,
                                                 strict=True):
                assert same_instant(entry.published_parsed, story.published)
                if content == "summary":
                    assert html.unescape(description) == story.summary
                    assert html.unescape(entry.summary) == as_feedparser_reads(story.summary)
                else:
                    # The HTML body holds the summary as escaped text, paragraph by paragraph.
                    for para in summary_paragraphs(story.summary):
                        assert para in squash(html.unescape(description))
                    # As a reader parses it: every summary paragraph, the picture, the links.
                    assert_full_body(description, story)
