"""The ``jsonfeed`` format, checked against a JSON Feed 1.1 schema and read by feedparser-rs."""

from __future__ import annotations

from datetime import datetime

import feedparser_rs
import pytest
import rfc3987
from feeds_support import assert_content, assert_valid_jsonfeed, example
from hypothesis import given, settings
from lxml import etree

import storykit
from storykit.testing import collections

SELF = "https://news.example.org/impact-and-people/feed.json"


def _when(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


class TestJSONFeedExample:
    """The example page as a JSON Feed."""

    def test_valid_json_feed_11(self) -> None:
        """The feed validates against the JSON Feed 1.1 schema with format checking on."""
        for content in ("summary", "full"):
            doc = assert_valid_jsonfeed(storykit.dumps(example(), "jsonfeed", content=content,
                                                       self_url=SELF))
            assert doc["version"] == "https://jsonfeed.org/version/1.1"

    def test_a_feed_reader_reads_it(self) -> None:
        """feedparser-rs reads it as JSON Feed 1.1 without complaint, titles and ids intact."""
        col = example()
        parsed = feedparser_rs.parse(storykit.dumps(col, "jsonfeed", self_url=SELF))
        assert parsed.bozo == 0
        assert parsed.version == "json11"
        assert parsed.feed.title == col.title
        assert [e.title for e in parsed.entries] == [s.title for s in col]
        assert [e.id for e in parsed.entries] == [
            f"tag:news.example.org,2021:impact-and-people/{s.id}" for s in col]

    def test_every_item_field_survives(self) -> None:
        """Urls, dates, text, image, tags, the Voices link, countries and credits are carried."""
        col = example()
        doc = assert_valid_jsonfeed(storykit.dumps(col, "jsonfeed", self_url=SELF))
        assert doc["feed_url"] == SELF
        assert doc["home_page_url"] == col.url
        assert doc["description"] == col.description
        assert len(doc["items"]) == len(col)
        for item, story in zip(doc["items"], col, strict=True):
            ext = item["_storykit"]
            assert item["url"] == story.url
            assert item["title"] == story.title
            assert item["summary"] == item["content_text"] == story.summary
            assert item["date_published"] == f"{story.published.isoformat()}T00:00:00Z"
            assert item.get("tags", []) == list(story.topics)
            assert ext.get("countries", []) == list(story.countries)
            assert ext.get("links", []) == [{"url": x.url, "title": x.title}
                                            for x in story.links]
            if story.links:
                assert item["external_url"] == story.links[0].url
            if story.image is not None:
                assert item["image"] == story.image.url
                assert ext["image_alt"] == story.image.alt
                credit = story.image.credit
                assert credit is not None
                assert ext["credit"] == {"holder": credit.holder, "year": credit.year,
                                         "display": str(credit)}

    def test_voices_link_is_external_url(self) -> None:
        """The song story's "Voices" pointer is its external_url."""
        doc = assert_valid_jsonfeed(storykit.dumps(example(), "jsonfeed"))
        song = next(i for i in doc["items"] if i["id"].endswith("/a-song-to-let-children-fly"))
        assert song["external_url"] == "https://voices.ilo.org/"
        assert song["_storykit"]["credit"]["display"] == "© Asitha Seneviratne 2021"

    def test_schema_rejects_a_broken_feed(self) -> None:
        """The schema is strict enough to catch a bad date, a missing id and a stray key."""
        from feeds_support import jsonfeed_validator

        validator = jsonfeed_validator()
        good = {"version": "https://jsonfeed.org/version/1.1", "title": "T",
                "items": [{"id": "1", "content_text": "x"}]}
        assert validator.is_valid(good)
        for bad_item in ({"content_text": "x"},
                         {"id": "1", "content_text": "x", "date_published": "03 Feb 2021"},
                         {"id": "1", "content_text": "x", "image": "not a url"},
                         {"id": "1", "content_text": "x", "stray": 1},
                         {"id": "1"}):
            assert not validator.is_valid({**good, "items": [bad_item]}), bad_item


class TestJSONFeedProperties:
    """JSON Feed output for any valid collection."""

    @settings(max_examples=40, deadline=None)
    @given(collections(max_size=5))
    def test_any_collection_is_valid(self, col: storykit.Collection) -> None:
        """Every collection gives a schema-valid feed that a reader reads field for field,
        its HTML body showing every summary paragraph and every link."""
        data = storykit.dumps(col, "jsonfeed", content="full")
        doc = assert_valid_jsonfeed(data)
        parsed = feedparser_rs.parse(data)
        assert parsed.bozo == 0
        assert parsed.version == "json11"
        # feedparser-rs cleans titles as if they were HTML, so compare ids through it and the
        # text through the JSON itself.
        assert [e.id for e in parsed.entries] == [i["id"] for i in doc["items"]]
        assert [i["title"] for i in doc["items"]] == [s.title for s in col]
        for item, story in zip(doc["items"], col, strict=True):
            assert item["content_text"] == story.summary
            # The story's body, or the HTML body made of summary paragraphs, picture, links.
            assert_content(item["content_html"], story)
            assert _when(item["date_published"]) == (
                story.published if isinstance(story.published, datetime)
                else _when(f"{story.published.isoformat()}T00:00:00Z"))


@pytest.mark.parametrize("url", ["https://example.org/?a[]=1&b='x'", "https://e.org/a#b#c",
                                 "http://[2001:db8::1]/a[1]", "https://bücher.example/straße"])
@pytest.mark.parametrize("fmt", ["jsonfeed", "atom"])
def test_urls_the_model_takes_are_valid_uris(url: str, fmt: str) -> None:
    """A URL the model takes is written as a valid URI: brackets outside an IPv6 host and a
    second "#" are percent-encoded (JSON Feed's schema refused "?a[]=1" as a uri)."""
    col = storykit.Collection(title="C", url=url, stories=[storykit.Story(
        title="T", published="2021-02-03", summary="S", url=url,
        image={"url": url, "alt": "A"}, links=[{"url": url, "title": "L"}])])
    data = storykit.dumps(col, fmt)
    if fmt == "jsonfeed":
        doc = assert_valid_jsonfeed(data)
        written = [doc["home_page_url"], doc["items"][0]["url"], doc["items"][0]["image"]]
    else:
        atom = "{http://www.w3.org/2005/Atom}"
        written = [el.get("href") for el in etree.fromstring(data).iter(f"{atom}link")]
    for value in written:
        assert rfc3987.match(value, rule="URI"), value
