"""The feeds plugin as a whole: registration, the exporter contract, options, safe text."""

from __future__ import annotations

import io
import json
from datetime import date
from types import SimpleNamespace
from typing import Any

import feedparser
import pytest
import storykit_feeds
from feeds_support import assert_valid_atom, assert_valid_jsonfeed, example, parse_xml_feed
from lxml import etree

import storykit
from storykit.plugins import Registry, use_registry
from storykit.testing import check_exporter

FORMATS = {"atom": "application/atom+xml", "rss": "application/rss+xml",
           "jsonfeed": "application/feed+json"}


def _registry() -> Registry:
    registry = Registry(autoload=False)
    registry.register(storykit_feeds, "feeds", distribution="storykit-feeds 0.1.0")
    return registry


class TestRegistration:
    """How the plugin reaches storykit."""

    def test_hook_registers_three_formats(self) -> None:
        """register_exporters() gives atom, rss and jsonfeed with their media types."""
        found = {e.name: e.media_type for e in storykit_feeds.register_exporters()}
        assert found == FORMATS

    def test_entry_point_names_the_distribution(self) -> None:
        """Installed, the formats come from the ``feeds`` entry point of storykit-feeds."""
        registry = Registry()
        for name in FORMATS:
            info = registry.exporters[name]
            assert info.plugin == "feeds"
            assert info.distribution is not None
            assert info.distribution.startswith("storykit-feeds ")

    def test_suffixes(self) -> None:
        """``.atom`` and ``.rss`` pick their formats; ``*.feed.json`` beats the json format."""
        registry = _registry()
        assert registry.for_path("out/feed.atom").name == "atom"
        assert registry.for_path("out/feed.rss").name == "rss"
        assert registry.for_path("out/news.feed.json").name == "jsonfeed"
        assert registry.for_path("out/stories.json").name == "json"

    def test_dump_with_explicit_format(self, tmp_path: Any) -> None:
        """``dump(col, "feed.json", format="jsonfeed")`` writes a JSON Feed, not the json format."""
        with use_registry(_registry()):
            storykit.dump(example(), tmp_path / "feed.json", format="jsonfeed")
        assert_valid_jsonfeed((tmp_path / "feed.json").read_bytes())


class TestContract:
    """storykit.testing.check_exporter for every format, in both content modes."""

    @pytest.mark.parametrize("exporter", storykit_feeds.register_exporters(),
                             ids=lambda e: e.name)
    @pytest.mark.parametrize("content", ["summary", "full"])
    def test_check_exporter(self, exporter: storykit.Exporter, content: str) -> None:
        """The exporter keeps the contract: types, determinism, awkward text, empty input."""
        check_exporter(exporter, max_examples=15, options={"content": content})

    @pytest.mark.parametrize("name", sorted(FORMATS))
    def test_empty_collection(self, name: str) -> None:
        """A collection without stories is still a valid, readable feed."""
        data = storykit.dumps(storykit.Collection(title="Nothing yet"), name)
        if name == "jsonfeed":
            assert assert_valid_jsonfeed(data)["items"] == []
        else:
            parsed = parse_xml_feed(data, {"atom": "atom10", "rss": "rss20"}[name])
            assert parsed.entries == []
        if name == "atom":
            assert_valid_atom(data)


class TestOptions:
    """content, limit and self_url, and their errors."""

    @pytest.mark.parametrize("name", sorted(FORMATS))
    def test_limit_keeps_given_order(self, name: str) -> None:
        """limit=3 keeps the first three stories in the collection's order, not sorted."""
        col = example()
        shuffled = col.replace([col[4], col[0], col[7], col[2]])
        data = storykit.dumps(shuffled, name, limit=3)
        if name == "jsonfeed":
            titles = [i["title"] for i in json.loads(data)["items"]]
        else:
            titles = [e.title for e in feedparser.parse(data).entries]
        assert titles == [col[4].title, col[0].title, col[7].title]

    @pytest.mark.parametrize("name", sorted(FORMATS))
    def test_limit_zero(self, name: str) -> None:
        """limit=0 writes the feed's metadata and no entries."""
        data = storykit.dumps(example(), name, limit=0)
        if name == "jsonfeed":
            assert json.loads(data)["items"] == []
        else:
            assert feedparser.parse(data).entries == []

    @pytest.mark.parametrize(("options", "message"), [
        ({"limit": -1}, "'limit' must be 0 or more"),
        ({"limit": "many"}, "whole number"),
        ({"content": "everything"}, "must be one of 'summary', 'full'"),
        ({"self_url": "feed.atom"}, "'self_url' must be an absolute http or https URL"),
        ({"self_uri": "https://x.org/"}, "did you mean 'self_url'"),
    ])
    @pytest.mark.parametrize("name", sorted(FORMATS))
    def test_bad_options_say_what_is_wrong(self, name: str, options: dict[str, Any],
                                           message: str) -> None:
        """A wrong option raises OptionError naming the problem."""
        with pytest.raises(storykit.OptionError, match=message):
            storykit.dumps(example(), name, **options)

    def test_command_line_strings_are_converted(self) -> None:
        """``-O limit=2`` arrives as a string and is read as a number."""
        data = storykit.dumps(example(), "rss", limit="2", content="full")
        assert len(feedparser.parse(data).entries) == 2


class _Credit:
    def __str__(self) -> str:
        return "© Bad\x00Holder\ufffe 2021"


def _unchecked_collection() -> Any:
    """A collection-shaped object that storykit's validation never saw: forbidden characters."""
    bad = "A\x00B\x01C\x08D\x0bE\x1fF\ud800G\ufffeH\uffffI"
    story = SimpleNamespace(
        id="bad", title=bad, summary=bad, published=date(2021, 2, 3), updated=None,
        url="https://news.example.org/bad", language="en", topics=(bad,), countries=(),
        links=(SimpleNamespace(url="https://voices.ilo.org/", title=bad),),
        image=SimpleNamespace(url="https://img.example.org/a.jpg", alt=bad, credit=_Credit()))
    return SimpleNamespace(title=bad, description=bad, url="https://news.example.org/",
                           language="en", contacts=(), stories=(story,))


class TestForbiddenCharacters:
    """No character that XML forbids reaches an XML feed, even past the model's checks."""

    def test_xml_text_removes_what_xml_forbids(self) -> None:
        """xml_text keeps tab, newline and every allowed character, and drops the rest."""
        allowed = "\t\n\r a é \ud7ff \ue000 \ufffd \U0001f41d"
        assert storykit_feeds.xml_text(allowed) == allowed
        assert storykit_feeds.xml_text("A\x00B\x01\x1f\ud800\udfff\ufffe\uffffC") == "ABC"

    @pytest.mark.parametrize("exporter", [storykit_feeds.AtomExporter(),
                                          storykit_feeds.RSSExporter()], ids=lambda e: e.name)
    @pytest.mark.parametrize("content", ["summary", "full"])
    def test_unchecked_input_still_makes_well_formed_xml(self, exporter: Any,
                                                         content: str) -> None:
        """Controls, surrogates and U+FFFE in every field are dropped; the XML parses."""
        buf = io.BytesIO()
        exporter.write(_unchecked_collection(), buf, content=content)
        data = buf.getvalue()
        etree.fromstring(data)  # a strict XML parser: raises on any forbidden character
        parsed = feedparser.parse(data)
        assert parsed.bozo == 0
        assert parsed.entries[0].title == "ABCDEFGHI"
