"""The site writer: a folder of pages, feeds, digests and a sitemap, read back with real clients."""

from __future__ import annotations

import json
import posixpath
import xml.etree.ElementTree as ET
from datetime import date
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import feedparser
import pytest
from click.testing import CliRunner
from html_support import parse_html, text
from hypothesis import HealthCheck, given, settings

import storykit
from storykit import Collection, Image, Story
from storykit.cli import main
from storykit.errors import OptionError
from storykit.exporters.site import SiteExporter, SitePages, render_site, week_of
from storykit.plugins import Registry
from storykit.testing import collections


@pytest.fixture(scope="module")
def site(example: Collection) -> dict[str, bytes]:
    return render_site(example, base_url="https://news.example.org/site/")


def _hrefs(page: bytes) -> list[str]:
    root = parse_html(page)
    return [el.get("href") or "" for el in root.iter() if el.get("href") is not None]


class TestPages:
    def test_every_part_is_there(self, site: dict[str, bytes], example: Collection) -> None:
        """Index, a page per story, topic and country pages with feeds, digests, sitemap."""
        for story in example:
            assert f"stories/{story.id}.html" in site
        assert "index.html" in site and "page-2.html" not in site  # 10 stories, 10 a page
        assert {"topics/index.html", "countries/index.html", "digests/index.html",
                "sitemap.xml", "topics/covid-19.html", "topics/covid-19.atom",
                "countries/lk.html", "countries/lk.atom"} <= set(site)
        assert f"digests/{week_of(example[0].published)}.html" in site

    def test_every_page_parses_and_its_links_resolve(self, site: dict[str, bytes]) -> None:
        """Every HTML page parses strictly; every relative link names a file of the site."""
        for path, data in site.items():
            if not path.endswith(".html") or path.startswith("digests/2"):
                continue
            for href in _hrefs(data):
                parts = urlsplit(href)
                if parts.scheme or href.startswith("#"):
                    continue
                target = posixpath.normpath(posixpath.join(posixpath.dirname(path), parts.path))
                assert target in site, (path, href)

    def test_numbered_as_the_source(self, site: dict[str, bytes], example: Collection) -> None:
        """The index numbers its stories 1-10 as the source page does, titles linking to the
        story pages."""
        root = parse_html(site["index.html"])
        numbers = [text(s) for s in root.iter("span") if s.get("class") == "sk-number"]
        assert numbers == [str(n) for n in range(1, 11)]
        titles = [a for h2 in root.iter("h2") if h2.get("class") == "sk-title"
                  for a in h2.iter("a")]
        assert [a.get("href") for a in titles] == [f"stories/{s.id}.html" for s in example]

    def test_media_contact_on_every_page(self, site: dict[str, bytes]) -> None:
        """Each page of the site (not the email copies) has the Media contact block."""
        for path, data in site.items():
            if path.endswith(".html") and not path.startswith("digests/2"):
                root = parse_html(data)
                assert "Media contact" in [text(h) for h in root.iter("h2")], path

    def test_story_page(self, site: dict[str, bytes], example: Collection) -> None:
        """A story page: its title as h1, image with alt and credit, Read more, tag links,
        and NewsArticle JSON-LD with the image's copyright holder and year."""
        story = next(s for s in example if s.image and s.image.credit and s.countries)
        root = parse_html(site[f"stories/{story.id}.html"])
        assert [text(h) for h in root.iter("h1")] == [story.title]
        img = next(root.iter("img"))
        assert img.get("alt") == story.image.alt
        caption = text(next(root.iter("figcaption")))
        assert story.image.credit.holder in caption
        more = [a for p in root.iter("p") if p.get("class") == "sk-more" for a in p.iter("a")]
        assert [a.get("href") for a in more] == [story.url]
        tags = [a.get("href") for ul in root.iter("ul") if ul.get("class") == "sk-tags"
                for a in ul.iter("a")]
        assert f"../countries/{story.countries[0].lower()}.html" in tags
        lds = [json.loads(s.text or "") for s in root.iter("script")
               if s.get("type") == "application/ld+json"]
        [ld] = [d for d in lds if isinstance(d, dict)]  # (the contacts' JSON-LD is a list)
        assert ld["@type"] == "NewsArticle" and ld["headline"] == story.title
        assert ld["image"]["copyrightHolder"]["name"] == story.image.credit.holder
        assert ld["image"]["copyrightYear"] == story.image.credit.year
        assert ld["image"]["creditText"] == story.image.credit.holder

    def test_story_body(self, example: Collection) -> None:
        """A story's body, when the model has one, is on its page."""
        if "body" not in {a.name for a in Story.__attrs_attrs__}:
            pytest.skip("Story.body comes with the readers branch")
        story = Story(title="With a body", published="2021-02-03", summary="s",
                      body="<p>The <em>whole</em> story.</p>")  # type: ignore[call-arg]
        files = render_site(example.replace([story]))
        assert b"<em>whole</em>" in files[f"stories/{story.id}.html"]

    def test_pages_one_at_a_time(self, site: dict[str, bytes], example: Collection) -> None:
        """SitePages knows every path at once and gives each page the bytes render_site
        writes, asked for in any order."""
        pages = SitePages(example, base_url="https://news.example.org/site/")
        assert list(pages) == list(site) and len(pages) == len(site)
        assert "nowhere.html" not in pages
        for path in reversed(list(site)):
            assert pages[path] == site[path], path

    def test_topic_page_and_feed(self, site: dict[str, bytes], example: Collection) -> None:
        """A topic page lists that topic's stories and links its Atom feed, which feedparser
        reads with an absolute self link from base_url."""
        wanted = [s.title for s in example if "COVID-19" in s.topics]
        root = parse_html(site["topics/covid-19.html"])
        assert [text(h) for h in root.iter("h2") if h.get("class") == "sk-title"] == wanted
        feed_links = [link.get("href") for link in root.iter("link")
                      if link.get("type") == "application/atom+xml"]
        assert feed_links == ["covid-19.atom"]
        feed = feedparser.parse(site["topics/covid-19.atom"])
        assert not feed.bozo
        assert [e.title for e in feed.entries] == wanted
        assert any(link.href == "https://news.example.org/site/topics/covid-19.atom"
                   for link in feed.feed.links)

    def test_sitemap(self, site: dict[str, bytes]) -> None:
        """sitemap.xml lists every HTML page, absolute under base_url."""
        ns = {"s": "http://www.sitemaps.org/schemas/sitemap/0.9"}
        root = ET.fromstring(site["sitemap.xml"])
        locs = {loc.text for loc in root.findall("s:url/s:loc", ns)}
        assert locs == {"https://news.example.org/site/" + p for p in site if p.endswith(".html")}

    def test_digest_pages(self, site: dict[str, bytes], example: Collection) -> None:
        """Each week's page is that week's email digest as HTML, with only its stories."""
        week = week_of(example[0].published)
        page = site[f"digests/{week}.html"].decode()
        in_week = [s for s in example if week_of(s.published) == week]
        other = [s for s in example if week_of(s.published) != week]
        assert all(s.title in page for s in in_week)
        assert not any(s.title in page for s in other)
        index = parse_html(site["digests/index.html"])
        assert f"{week}.html" in [a.get("href") for a in index.iter("a")]

    def test_paginated_index(self, example: Collection) -> None:
        """page_size=4: index.html, page-2.html, page-3.html, numbered on from page to page."""
        files = render_site(example, page_size=4, feeds=False, digests=False)
        assert {"index.html", "page-2.html", "page-3.html"} <= set(files)
        root = parse_html(files["page-2.html"])
        numbers = [text(s) for s in root.iter("span") if s.get("class") == "sk-number"]
        assert numbers == ["5", "6", "7", "8"]

    def test_theme_restyles_every_page(self, example: Collection, tmp_path: Path) -> None:
        """A theme's page.html (extending the built-in one) is used by every page."""
        (tmp_path / "page.html").write_text(
            '{% extends "storykit/page.html" %}{% block head %}'
            '<meta name="theme" content="mine">{% endblock %}', encoding="utf-8")
        files = render_site(example, template_dir=tmp_path, feeds=False, digests=False)
        for path, data in files.items():
            if path.endswith(".html"):
                assert b'<meta name="theme" content="mine">' in data, path

    def test_without_feeds_format(self, example: Collection, monkeypatch: Any) -> None:
        """Without an atom format installed the site has no feeds, and says so."""
        import storykit.exporters.site as site_module

        real = site_module._formats
        monkeypatch.setattr(site_module, "_formats",
                            lambda registry: {k: v for k, v in real(registry).items()
                                              if k != "atom"})
        with pytest.warns(site_module.SiteWarning, match="atom"):
            files = render_site(example, digests=False)
        assert not any(p.endswith(".atom") for p in files)
        assert b"application/atom+xml" not in files["topics/covid-19.html"]


class TestWriter:
    def test_registered_as_folder_writer(self) -> None:
        """site is a built-in format with output = "folder"."""
        registry = Registry(autoload=False)
        info = registry.exporters["site"]
        assert info.plugin == "storykit.exporters.site"
        assert info.exporter.output == "folder"

    def test_write_path_writes_the_rendered_bytes(self, example: Collection,
                                                  tmp_path: Path) -> None:
        """write_path writes exactly render_site's files and returns the story count."""
        target = tmp_path / "public"
        count = SiteExporter().write_path(example, target, feeds=False)
        files = render_site(example, feeds=False)
        assert count == len(example)
        written = {p.relative_to(target).as_posix(): p.read_bytes()
                   for p in target.rglob("*") if p.is_file()}
        assert written == files

    def test_stream_write_is_refused(self, example: Collection) -> None:
        """A folder cannot go to a stream: a clear ValueError."""
        import io

        with pytest.raises(ValueError, match="folder"):
            SiteExporter().write(example, io.BytesIO())

    def test_bad_option_writes_nothing(self, example: Collection, tmp_path: Path) -> None:
        """A bad option is an OptionError before anything is written."""
        with pytest.raises(OptionError, match="page_size"):
            SiteExporter().write_path(example, tmp_path / "out", page_size=0)
        assert not (tmp_path / "out").exists()

    def test_failed_build_keeps_the_previous_site(self, example: Collection, tmp_path: Path,
                                                  monkeypatch: Any) -> None:
        """Everything is rendered before anything is written: a failure half-way through the
        rendering leaves the previous site as it was."""
        import storykit.exporters.site as site_module

        target = tmp_path / "public"
        SiteExporter().write_pages(example, target, feeds=False, digests=False)
        before = {p: p.read_bytes() for p in target.rglob("*") if p.is_file()}
        calls = {"n": 0}
        real = site_module.render

        def failing(*args: Any, **kwargs: Any) -> bytes:
            calls["n"] += 1
            if calls["n"] > 5:
                raise RuntimeError("disk on fire")
            return real(*args, **kwargs)

        monkeypatch.setattr(site_module, "render", failing)
        bigger = example.replace([*example, Story(title="New", published="2021-03-01",
                                                  summary="s")])
        with pytest.raises(RuntimeError, match="disk on fire"):
            SiteExporter().write_pages(bigger, target, feeds=False, digests=False)
        after = {p: p.read_bytes() for p in target.rglob("*") if p.is_file()}
        assert after == before
        assert sorted(p.name for p in tmp_path.iterdir()) == ["public"]

    def test_rebuild_removes_stale_pages(self, example: Collection, tmp_path: Path) -> None:
        """A rebuild replaces the folder: a story gone is a page gone."""
        target = tmp_path / "public"
        SiteExporter().write_pages(example, target, feeds=False, digests=False)
        SiteExporter().write_pages(example[:3], target, feeds=False, digests=False)
        assert sorted(p.name for p in (target / "stories").iterdir()) == sorted(
            f"{s.id}.html" for s in example[:3])

    def test_cli_export(self, tmp_path: Path) -> None:
        """storykit export SRC --format site -o public/ writes the site."""
        source = Path(__file__).resolve().parents[1] / "examples/impact-and-people/stories.json"
        result = CliRunner().invoke(main, ["export", str(source), "--format", "site",
                                           "-o", f"{tmp_path}/public/"])
        assert result.exit_code == 0, result.output
        assert (tmp_path / "public" / "index.html").is_file()
        assert (tmp_path / "public" / "sitemap.xml").is_file()

    def test_image_without_credit(self) -> None:
        """A picture without a credit still has its alt text and no caption."""
        col = Collection(title="T", stories=[Story(
            title="Pic", published="2021-02-03", summary="s",
            image=Image("https://images.example.org/a.jpg", "A pic"))])
        files = render_site(col, feeds=False, digests=False)
        root = parse_html(files["stories/pic.html"])
        assert next(root.iter("img")).get("alt") == "A pic"
        assert list(root.iter("figcaption")) == []


@settings(max_examples=15, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(col=collections())
def test_any_collection_gives_a_site_of_valid_pages(col: Collection) -> None:
    """Any valid collection renders: every page parses strictly, every story has its page,
    and the same collection gives the same bytes."""
    files = render_site(col, feeds=False, digests=False)
    for story in col:
        assert f"stories/{story.id}.html" in files
    for path, data in files.items():
        if path.endswith(".html"):
            parse_html(data)
    assert render_site(col, feeds=False, digests=False) == files


def test_a_story_in_the_last_week_of_9999_gets_its_digest_page() -> None:
    """The model takes any date to 9999-12-31; that ISO week ends in year 10000, which once
    raised OverflowError: its digest page covers it to the last day there is."""
    col = Collection(stories=[Story(title="Far", published="9999-12-30", summary="S.")])
    files = render_site(col, feeds=False)
    assert "Far" in files["digests/9999-W52.html"].decode()


def test_a_story_before_year_1000_gets_its_digest_page() -> None:
    """Weeks are named with four-digit years (``0999-W22``), as ``--week`` takes them; a
    three-digit year once broke the site's digest pages."""
    col = Collection(stories=[Story(title="Old", published="0999-06-01", summary="S.")])
    assert week_of(date(999, 6, 1)) == "0999-W22"
    files = render_site(col, feeds=False)
    assert "Old" in files["digests/0999-W22.html"].decode()


def test_dumps_refuses_the_folder_writer(example: Collection) -> None:
    """dumps() of the site format fails saying it writes a folder (a ValueError once dumps()
    knows folder writers; until then the writer's own ValueError, wrapped)."""
    from storykit.errors import PluginError

    with pytest.raises((ValueError, PluginError), match="writes a folder"):
        storykit.dumps(example, "site")
