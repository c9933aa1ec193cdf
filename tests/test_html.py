"""The html exporter, read back with html5lib (the WHATWG parsing algorithm) and json."""

from __future__ import annotations

import importlib.util
import io
import itertools
import json
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import attrs
import pytest
from html_support import parse_html, text
from hypothesis import given, settings
from hypothesis import strategies as st

import storykit
from storykit import Collection, Image, Link, MediaContact, Story
from storykit.exporters.html import HTMLExporter, page_filename, write_pages
from storykit.plugins import Registry, use_registry
from storykit.templating import format_date
from storykit.testing import Keeps, check_exporter, collections
from storykit.testing import paragraphs as summary_paragraphs

PLUGINS = Path(__file__).parent / "plugins"

#: What the page keeps: datetimes to the second (<time datetime>), U+FFFD for a noncharacter.
HTML_KEEPS = Keeps(timespec="seconds", noncharacters=False)


# --- reading the page back ------------------------------------------------------------------


def parse(data: bytes) -> ET.Element:
    """The document tree; fails listing every parse error html5lib reports."""
    return parse_html(data)


def parse_fragment(data: bytes) -> ET.Element:
    return parse_html(data, fragment=True)


def has_class(el: ET.Element, name: str) -> bool:
    return name in (el.get("class") or "").split()


def find_all(root: ET.Element, tag: str, cls: str | None = None) -> list[ET.Element]:
    return [el for el in root.iter(tag) if cls is None or has_class(el, cls)]


def articles(root: ET.Element) -> list[ET.Element]:
    return find_all(root, "article", "sk-story")


def titles(root: ET.Element) -> list[str]:
    return [text(h) for h in find_all(root, "h2", "sk-title")]


def shown_paragraphs(article: ET.Element) -> list[str]:
    """The text of each paragraph of a story's summary element, whitespace collapsed."""
    (summary,) = find_all(article, "div", "sk-summary")
    return [" ".join(text(p).split()) for p in summary.iter("p")]


def json_ld(root: ET.Element) -> Iterator[dict[str, Any]]:
    """The stories' JSON-LD (the media contacts' is a list of its own)."""
    for script in root.iter("script"):
        if script.get("type") == "application/ld+json":
            doc = json.loads(script.text or "")
            if isinstance(doc, dict):
                yield doc


def render(col: Collection, **options: Any) -> bytes:
    buf = io.BytesIO()
    HTMLExporter().write(col, buf, **options)
    return buf.getvalue()


def load_theme_plugin() -> Any:
    spec = importlib.util.spec_from_file_location("storykit_test_theme_plugin",
                                                  PLUGINS / "theme_plugin.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def hostile() -> Collection:
    return Collection(
        title="</script><script>alert('t')</script>",
        description="<img src=x onerror=alert(1)> & </style>",
        contacts=[MediaContact("<b>Desk</b>", email="press@example.org")],
        stories=[
            Story(title="</script><img src=x onerror=alert(1)>", published="2021-01-01",
                  summary="<!-- </script> \u2028 line \u2029 para & ]]>",
                  url="https://example.org/?q=%3C/script%3E&x='y'",
                  image=Image("https://images.example.org/a.jpg?a=1&b='x'", "\"><script>alert(2)"
                              "</script>", "© </figcaption><b>Bad</b> 2020"),
                  links=[Link("https://example.org/more", "<a href=javascript:x>more</a>")],
                  topics=["<svg onload=alert(3)>"]),
            Story(title="{{ 7*7 }} {% if %} <!--", published="2021-01-02",
                  summary="'; alert(4); //"),
        ],
    )


# --- tests ----------------------------------------------------------------------------------


class TestPage:
    def test_parses_without_errors(self, example: Collection) -> None:
        """The example page is a complete HTML5 document that parses with no parse errors."""
        root = parse(render(example))
        assert root.tag == "html"
        assert root.find("head/title") is not None
        assert text(root.find("head/title")) == "Impact and people"  # type: ignore[arg-type]
        charset = [m for m in root.iter("meta") if m.get("charset")]
        assert [m.get("charset") for m in charset] == ["utf-8"]

    def test_titles_dates_credits_in_order(self, example: Collection) -> None:
        """Every title, date and photo credit appears, in the collection's order."""
        root = parse(render(example))
        arts = articles(root)
        assert titles(root) == [s.title for s in example]
        times = [a.find(".//time") for a in arts]
        assert [t.get("datetime") for t in times if t is not None] == [
            s.published.isoformat() for s in example]
        assert [text(t) for t in times if t is not None] == [
            format_date(s.published) for s in example]
        credits = [text(c) for c in root.iter("figcaption")]
        assert credits == [f"Photo: {s.image.credit}" for s in example
                           if s.image is not None and s.image.credit is not None]

    def test_dates_read_like_the_seed(self, example: Collection) -> None:
        """Dates read "03 February 2021" with the machine date in <time datetime>."""
        root = parse(render(example))
        song = root.find(".//article[@id='story-a-song-to-let-children-fly']")
        assert song is not None
        time = song.find(".//time")
        assert time is not None
        assert (time.get("datetime"), text(time)) == ("2021-02-03", "03 February 2021")

    def test_credits_read_like_the_seed(self, example: Collection) -> None:
        """Photo credits read as on the seed page: "© Federico Taverni, Museo Egizio 2021"."""
        root = parse(render(example))
        assert "Photo: © Federico Taverni, Museo Egizio 2021" in [
            text(c) for c in root.iter("figcaption")]

    def test_stories_are_a_numbered_list(self, example: Collection) -> None:
        """The stories are the items of one <ol>, one <article> each."""
        root = parse(render(example))
        lists = find_all(root, "ol", "sk-stories")
        assert len(lists) == 1
        items = lists[0].findall("li")
        assert len(items) == len(example)
        assert all(li.find("article") is not None for li in items)

    def test_linked_titles(self, example: Collection) -> None:
        """A story with a URL has its title linked to it."""
        root = parse(render(example))
        for story, h2 in zip(example, find_all(root, "h2", "sk-title"), strict=True):
            a = h2.find("a")
            assert (a.get("href") if a is not None else None) == story.url

    def test_read_more_links(self, example: Collection) -> None:
        """Each story's links appear with their titles ("Read more on our new ... platform")."""
        root = parse(render(example))
        for story, art in zip(example, articles(root), strict=True):
            found = [(a.get("href"), text(a)) for ul in find_all(art, "ul", "sk-links")
                     for a in ul.iter("a")]
            assert found == [(link.url, link.title) for link in story.links]
        assert any(text(a).startswith("Read more on") for a in root.iter("a"))

    def test_images(self, example: Collection) -> None:
        """Every image has its alt text, width, height and lazy loading."""
        root = parse(render(example))
        imgs = list(root.iter("img"))
        expected = [s.image for s in example if s.image is not None]
        assert [(i.get("src"), i.get("alt")) for i in imgs] == [(e.url, e.alt) for e in expected]
        for img in imgs:
            assert img.get("width") == "600" and img.get("height") == "400"
            assert img.get("loading") == "lazy"

    def test_media_contact(self, example: Collection) -> None:
        """The media contact block has a heading, the name, and mailto/tel/web links."""
        root = parse(render(example))
        aside = root.find(".//aside")
        assert aside is not None
        h2 = aside.find("h2")
        assert h2 is not None and text(h2) == "Media contact"
        contact = example.contacts[0]
        assert contact.name in text(aside)
        assert contact.organization is not None and contact.organization in text(aside)
        hrefs = [a.get("href") for a in aside.iter("a")]
        assert hrefs == [f"mailto:{contact.email}", f"tel:{contact.phone}", contact.url]

    def test_accessible_structure(self, example: Collection) -> None:
        """lang on <html>, one h1, headings never skip a level, landmarks, unique ids."""
        root = parse(render(example))
        assert root.get("lang") == "en" and root.get("dir") == "ltr"
        headings = [int(el.tag[1]) for el in root.iter() if re.fullmatch(r"h[1-6]", str(el.tag))]
        assert headings[0] == 1 and headings.count(1) == 1
        assert all(b - a <= 1 for a, b in itertools.pairwise(headings))
        h1 = root.find(".//h1")
        assert h1 is not None and text(h1) == example.title
        for landmark in ("header", "main", "footer", "aside"):
            assert len(list(root.iter(landmark))) == 1, landmark
        ids = [el.get("id") for el in root.iter() if el.get("id")]
        assert len(ids) == len(set(ids))
        skip = root.find(".//a[@class='sk-skip']")
        assert skip is not None and skip.get("href") == "#stories"
        assert root.find(".//main[@id='stories']") is not None

    def test_links_are_only_web_mail_and_phone(self, example: Collection) -> None:
        """Every href from the data is http(s), mailto or tel; the page's own are anchors or
        tag queries (``?topic=``, ``?country=``) of the page itself."""
        root = parse(render(example))
        for el in root.iter():
            for attr in ("href", "src"):
                value = el.get(attr)
                if value is not None and not value.startswith(("#", "?topic=", "?country=")):
                    assert re.match(r"(https?:|mailto:|tel:)", value), value

    def test_viewport_and_style(self, example: Collection) -> None:
        """The page is responsive: a viewport meta tag and the default stylesheet inline."""
        root = parse(render(example))
        viewport = [m for m in root.iter("meta") if m.get("name") == "viewport"]
        assert viewport and "width=device-width" in (viewport[0].get("content") or "")
        styles = list(root.iter("style"))
        assert len(styles) == 1 and "overflow-wrap: anywhere" in (styles[0].text or "")

    def test_datetimes(self) -> None:
        """A story published at a moment shows its day and keeps the moment, to the second."""
        moment = datetime(2021, 2, 3, 10, 30, 15, 123456, tzinfo=timezone(timedelta(hours=1)))
        col = Collection(title="T", stories=[Story(title="A", published=moment, summary="S")])
        root = parse(render(col))
        time = root.find(".//time")
        assert time is not None
        assert (time.get("datetime"), text(time)) == ("2021-02-03T10:30:15+01:00",
                                                      "03 February 2021")
        (doc,) = json_ld(root)
        assert doc["datePublished"] == "2021-02-03T10:30:15+01:00"

    def test_deterministic(self, example: Collection) -> None:
        """Equal input gives byte-identical output."""
        assert render(example) == render(example)

    def test_dumps_and_dump(self, example: Collection, tmp_path: Path) -> None:
        """storykit.dumps and storykit.dump (by suffix) give the same page."""
        data = storykit.dumps(example, "html")
        assert data == render(example)
        path = storykit.dump(example, tmp_path / "out" / "index.html")
        assert path.read_bytes() == data


class TestJSONLD:
    def test_every_story_has_news_article(self, example: Collection) -> None:
        """Each story carries one NewsArticle JSON-LD block with its headline and date."""
        root = parse(render(example))
        for story, art in zip(example, articles(root), strict=True):
            (doc,) = list(json_ld(art))
            assert doc["@context"] == "https://schema.org"
            assert doc["@type"] == "NewsArticle"
            assert doc["headline"] == story.title
            assert doc["datePublished"] == story.published.isoformat()
            assert doc["inLanguage"] == story.language
            assert doc.get("url") == story.url

    def test_image_credit(self, example: Collection) -> None:
        """An image is an ImageObject with creditText (the holder) and copyrightNotice."""
        root = parse(render(example))
        docs = {d["headline"]: d for d in json_ld(root)}
        image = docs["Labour, freedom and happiness: The great driving forces of antiquity"][
            "image"]
        assert image["@type"] == "ImageObject"
        assert image["creditText"] == "Federico Taverni, Museo Egizio"
        assert image["copyrightNotice"] == "© Federico Taverni, Museo Egizio 2021"
        assert image["contentUrl"].startswith("https://images.example.org/")


class TestHostileText:
    def test_markup_in_data_stays_text(self) -> None:
        """Markup in titles, alt text, credits and links is shown as text, never parsed."""
        col = hostile()
        root = parse(render(col))
        assert titles(root) == [s.title for s in col]
        h1 = root.find(".//h1")
        assert h1 is not None and text(h1) == col.title
        assert [i.get("alt") for i in root.iter("img")] == [col[0].image.alt]  # type: ignore[union-attr]
        assert len(list(root.iter("img"))) == 1
        assert not any(k.startswith("on") for el in root.iter() for k in el.attrib)
        assert list(root.iter("svg")) == [] and list(root.iter("b")) == []
        scripts = list(root.iter("script"))
        assert len(scripts) == len(col) + bool(col.contacts)  # (the contacts' JSON-LD)
        assert all(s.get("type") == "application/ld+json" for s in scripts)
        assert [text(c) for c in root.iter("figcaption")] == [
            f"Photo: {col[0].image.credit}"]  # type: ignore[union-attr]

    def test_json_ld_cannot_close_its_script(self) -> None:
        """JSON-LD escapes <, >, & and U+2028/9, and parses back to the exact text."""
        col = hostile()
        data = render(col)
        for raw in re.findall(rb'<script type="application/ld\+json">(.*?)</script>', data,
                              re.S):
            assert not re.search(rb"[<>&]|\xe2\x80[\xa8\xa9]", raw)
        docs = list(json_ld(parse(data)))
        assert [d["headline"] for d in docs] == [s.title for s in col]
        assert docs[0]["description"] == col[0].summary
        assert docs[0]["image"]["description"] == col[0].image.alt  # type: ignore[union-attr]

    def test_template_syntax_in_data_is_not_run(self) -> None:
        """Jinja syntax in a title is shown as typed."""
        root = parse(render(hostile()))
        assert "{{ 7*7 }} {% if %} <!--" in titles(root)

    @pytest.mark.parametrize("around", ["", "¿Qué? пора", "\U0001f600 ｆｕｌｌ"])
    @pytest.mark.parametrize("nonchar", ["\ufdd0", "\ufdef", "\U0001fffe", "\U0010ffff"])
    def test_noncharacters_become_replacement_characters(self, nonchar: str,
                                                         around: str) -> None:
        """A noncharacter in a title is written U+FFFD, whatever other text is on the page."""
        title = f"{around} a{nonchar}b".lstrip()
        col = Collection(stories=[
            Story(title=title, published="2021-01-01", summary="Text."),
            Story(title=around or "Plain", published="2021-01-02", summary="Text."),
        ])
        data = render(col)
        assert nonchar.encode() not in data
        assert titles(parse(data)) == [title.replace(nonchar, "\ufffd"), around or "Plain"]


class TestOptions:
    def test_fragment(self, example: Collection) -> None:
        """fragment=True gives only the story list: no document, head or styles."""
        data = render(example, fragment=True)
        assert not data.lstrip().lower().startswith(b"<!doctype")
        assert b"<html" not in data and b"<style" not in data and b"<h1" not in data
        root = parse_fragment(data)
        assert titles(root) == [s.title for s in example]
        assert len(list(json_ld(root))) == len(example)

    def test_css_off_and_extra_stylesheet(self, example: Collection) -> None:
        """css=False drops the inline stylesheet; stylesheet= links another."""
        root = parse(render(example, css=False, stylesheet="https://cdn.example.org/site.css"))
        assert list(root.iter("style")) == []
        links = [el.get("href") for el in root.iter("link") if el.get("rel") == "stylesheet"]
        assert links == ["https://cdn.example.org/site.css"]

    def test_stylesheet_refuses_javascript(self, example: Collection) -> None:
        """A stylesheet URL that is not http(s) or relative is refused."""
        with pytest.raises(storykit.OptionError, match="stylesheet"):
            render(example, stylesheet="javascript:alert(1)")

    @pytest.mark.parametrize(("locale", "date", "direction", "label"), [
        ("fr", "03 février 2021", "ltr", "Contact presse"),
        ("es", "03 de febrero de 2021", "ltr", "Contacto de prensa"),
        ("ar", None, "rtl", None),
        ("en", "03 February 2021", "ltr", "Media contact"),
    ])
    def test_locale(self, example: Collection, locale: str, date: str | None,
                    direction: str, label: str | None) -> None:
        """locale sets <html lang>, the text direction and the date format."""
        root = parse(render(example, locale=locale))
        assert (root.get("lang"), root.get("dir")) == (locale, direction)
        song = root.find(".//article[@id='story-a-song-to-let-children-fly']")
        assert song is not None
        time = song.find(".//time")
        assert time is not None and time.get("datetime") == "2021-02-03"
        if date is not None:
            assert text(time) == date
        if label is not None:
            aside = root.find(".//aside/h2")
            assert aside is not None and text(aside) == label

    def test_story_in_another_language_is_marked(self) -> None:
        """A story whose language differs from the page's has lang on its article."""
        col = Collection(title="Mixed", stories=[
            Story(title="Le travail décent", published="2021-01-01", summary="Résumé.",
                  language="fr")])
        root = parse(render(col))
        article = root.find(".//article")
        assert article is not None and (article.get("lang"), article.get("dir")) == ("fr", "ltr")

    @pytest.mark.parametrize(("options", "match"), [
        ({"page_size": 0}, "page_size"),
        ({"page_size": "many"}, "page_size"),
        ({"fragmnet": True}, "did you mean 'fragment'"),
        ({"locale": "not a language"}, "locale"),
        ({"page": 9, "page_size": 5}, "only 2 pages"),
    ])
    def test_bad_options(self, example: Collection, options: dict[str, Any],
                         match: str) -> None:
        """Unknown or ill-typed options raise OptionError naming the option."""
        with pytest.raises(storykit.OptionError, match=match):
            render(example, **options)

    def test_command_line_strings(self, example: Collection) -> None:
        """Options given as strings (as -O key=value) are converted."""
        assert render(example, page_size="4", css="false") == render(
            example, page_size=4, css=False)

    def test_empty_collection(self) -> None:
        """A collection with no stories is still a valid page."""
        root = parse(render(Collection(title="Nothing yet")))
        assert titles(root) == []
        assert find_all(root, "p", "sk-empty")


class TestPagination:
    def test_pages_hold_every_story_once(self, example: Collection, tmp_path: Path) -> None:
        """Joined, the pages hold every story once, in order, numbered on across pages."""
        files = write_pages(example, tmp_path, page_size=3)
        assert [f.name for f in files] == ["index.html", "page-2.html", "page-3.html",
                                           "page-4.html"]
        seen: list[str] = []
        for n, file in enumerate(files, 1):
            root = parse(file.read_bytes())
            ol = find_all(root, "ol", "sk-stories")[0]
            assert ol.get("start") == (None if n == 1 else str(3 * (n - 1) + 1))
            seen.extend(titles(root))
        assert seen == [s.title for s in example]

    def test_rel_prev_next(self, example: Collection, tmp_path: Path) -> None:
        """Each page links its neighbours with rel=prev/next, in <head> and in a <nav>."""
        files = write_pages(example, tmp_path, page_size=4)
        count = len(files)
        assert count == 3
        for n, file in enumerate(files, 1):
            root = parse(file.read_bytes())
            head = {el.get("rel"): el.get("href") for el in root.iter("link")
                    if el.get("rel") in ("prev", "next")}
            nav = root.find(".//nav")
            assert nav is not None
            body = {a.get("rel"): a.get("href") for a in nav.iter("a")}
            expected = {}
            if n > 1:
                expected["prev"] = page_filename(n - 1)
            if n < count:
                expected["next"] = page_filename(n + 1)
            assert head == expected == body
            assert f"Page {n} of {count}" in text(nav)
            for rel, href in expected.items():
                assert (tmp_path / href).is_file(), rel

    def test_write_gives_page_one(self, example: Collection, tmp_path: Path) -> None:
        """write() with page_size renders page 1, the same bytes as index.html; page= others."""
        files = write_pages(example, tmp_path, page_size=4)
        assert render(example, page_size=4) == files[0].read_bytes()
        assert render(example, page_size=4, page=3) == files[2].read_bytes()

    def test_single_page_has_no_nav(self, example: Collection) -> None:
        """A collection that fits one page has no page links."""
        root = parse(render(example, page_size=50))
        assert list(root.iter("nav")) == []
        assert [el for el in root.iter("link") if el.get("rel") in ("prev", "next")] == []

    def test_stale_pages_removed(self, example: Collection, tmp_path: Path) -> None:
        """Re-paginating into fewer pages removes the pages that no longer exist."""
        write_pages(example, tmp_path, page_size=2)
        (tmp_path / "notes.html").write_text("mine")
        files = write_pages(example, tmp_path, page_size=5)
        assert sorted(p.name for p in tmp_path.iterdir()) == [
            "index.html", "notes.html", "page-2.html"]
        assert len(files) == 2

    def test_failure_leaves_no_file(self, example: Collection, tmp_path: Path) -> None:
        """A template that fails to render leaves no page and no temporary file."""
        theme = tmp_path / "theme"
        theme.mkdir()
        (theme / "page.html").write_text("{{ no_such_variable }}")
        out = tmp_path / "site"
        with pytest.raises(Exception, match="no_such_variable"):
            write_pages(example, out, page_size=3, template_dir=theme)
        assert not out.exists() or list(out.iterdir()) == []

    def test_fragment_pages(self, example: Collection, tmp_path: Path) -> None:
        """Fragments paginate too, keeping their page links."""
        files = write_pages(example, tmp_path, page_size=5, fragment=True)
        root = parse_fragment(files[0].read_bytes())
        nav = root.find(".//nav")
        assert nav is not None
        assert [a.get("href") for a in nav.iter("a")] == ["page-2.html"]


class TestThemes:
    def test_template_dir(self, example: Collection, tmp_path: Path) -> None:
        """template_dir replaces a partial; the rest of the page is the built-in one."""
        (tmp_path / "_contact.html").write_text(
            '<aside class="mine"><h2>{{ _("Press") }}</h2></aside>\n')
        root = parse(render(example, template_dir=tmp_path))
        aside = root.find(".//aside")
        assert aside is not None and aside.get("class") == "mine"
        assert titles(root) == [s.title for s in example]

    def test_template_dir_extends_builtin(self, example: Collection, tmp_path: Path) -> None:
        """A theme's page.html can extend "storykit/page.html" and override one block."""
        (tmp_path / "page.html").write_text(
            '{% extends "storykit/page.html" %}'
            '{% block footer %}<footer><p>Themed</p></footer>{% endblock %}')
        root = parse(render(example, template_dir=tmp_path))
        footer = root.find(".//footer")
        assert footer is not None and text(footer) == "Themed"
        assert titles(root) == [s.title for s in example]

    def test_missing_template_dir(self, example: Collection, tmp_path: Path) -> None:
        """A template_dir that is not a folder is an error naming it."""
        with pytest.raises(NotADirectoryError, match="nowhere"):
            render(example, template_dir=tmp_path / "nowhere")

    def test_theme_plugin(self, example: Collection) -> None:
        """A plugin's template folder re-themes page.html and its filter and global work."""
        registry = Registry(autoload=False)
        registry.register(load_theme_plugin(), "theme_plugin")
        with use_registry(registry):
            data = storykit.dumps(example, "html")
        root = parse(data)
        banner = root.find(".//p[@class='theme-banner']")
        assert banner is not None and text(banner) == "IMPACT AND PEOPLE!"
        name = root.find(".//p[@class='theme-name']")
        assert name is not None and text(name) == "Fixture theme"
        assert titles(root) == [s.title for s in example]
        # Without the plugin, the default page is back.
        assert b"theme-banner" not in render(example)


#: ``_stories.html`` as a theme might have written it: the story partial included in the loop.
INCLUDE_STORIES = """\
{% if stories %}
<ol class="sk-stories"{% if pagination.start != 1 %} start="{{ pagination.start }}"{% endif %}>
{% for story in stories %}
<li><span class="sk-number" aria-hidden="true">{{ pagination.start + loop.index0 }}</span>
{% include "_story.html" %}
</li>
{% endfor %}
</ol>
{% else %}
<p class="sk-empty">{{ _("No stories yet.") }}</p>
{% endif %}
{% if pagination.count > 1 %}
{% include "_pagination.html" %}
{% endif %}
"""


@pytest.fixture(scope="module")
def include_theme(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A theme folder whose ``_stories.html`` includes ``_story.html`` for each story."""
    folder = tmp_path_factory.mktemp("include-theme")
    (folder / "_stories.html").write_text(INCLUDE_STORIES, encoding="utf-8")
    return folder


class TestStoryPartial:
    def test_theme_story_partial_per_story(self, example: Collection, tmp_path: Path) -> None:
        """A theme's _story.html renders each story with the page's variables, nothing left over
        from the story before."""
        (tmp_path / "_story.html").write_text(
            '<article class="sk-story" id="story-{{ story.id }}">\n'
            "{% if story.image %}{% set pictured = true %}{% endif %}"
            '<h2 class="sk-title">{{ story.title }}</h2>\n'
            '<p class="pictured">{{ pictured is defined }}</p>\n'
            '<p class="page">{{ lang }} {{ options.image_width }} {{ collection.title }}'
            ' {{ _("Photo: %(credit)s", credit="x") }}</p>\n'
            "</article>\n", encoding="utf-8")
        col = Collection(title="Mixed", stories=[
            s if i % 2 else attrs.evolve(s, image=None) for i, s in enumerate(example)])
        root = parse(render(col, template_dir=tmp_path, locale="fr", image_width=320))
        assert titles(root) == [s.title for s in col]
        assert [text(p) for p in find_all(root, "p", "pictured")] == [
            str(s.image is not None) for s in col]
        assert {text(p) for p in find_all(root, "p", "page")} == {"fr 320 Mixed Photo\xa0: x"}

    def test_theme_story_partial_extends(self, example: Collection, tmp_path: Path) -> None:
        """A theme's _story.html may extend a base template of its own and override its
        blocks."""
        (tmp_path / "base_story.html").write_text(
            '<article class="sk-story">{% block heading %}<h2>?</h2>{% endblock %}'
            "{% block more %}<p>base</p>{% endblock %}</article>\n", encoding="utf-8")
        (tmp_path / "_story.html").write_text(
            '{% extends "base_story.html" %}'
            '{% block heading %}<h2 class="sk-title">{{ story.title }}</h2>{% endblock %}'
            "{% block more %}{{ super() }}<p>{{ story.id }}</p>{% endblock %}",
            encoding="utf-8")
        root = parse(render(example, template_dir=tmp_path))
        assert titles(root) == [s.title for s in example]
        assert [[text(p) for p in a.iter("p")] for a in articles(root)] == [
            ["base", s.id] for s in example]

    def test_render_story_sees_variables_set_before_it(self, example: Collection,
                                                      tmp_path: Path) -> None:
        """render_story() in a theme's list sees the variables the list set just before."""
        (tmp_path / "_stories.html").write_text(
            '{% set note = "first" %}{{ render_story(stories[0]) }}\n'
            '{% set note = "second" %}{{ render_story(stories[1]) }}\n', encoding="utf-8")
        (tmp_path / "_story.html").write_text(
            '<article class="sk-story"><p class="note">{{ note }} {{ story.id }}</p></article>\n',
            encoding="utf-8")
        root = parse(render(example, template_dir=tmp_path))
        assert [text(p) for p in find_all(root, "p", "note")] == [
            f"first {example[0].id}", f"second {example[1].id}"]

    @pytest.mark.parametrize("options", [{}, {"locale": "ar"}, {"fragment": True},
                                         {"page_size": 3, "page": 2, "locale": "fr"}])
    def test_include_in_a_theme_list_gives_the_same_page(
            self, example: Collection, include_theme: Path, options: dict[str, Any]) -> None:
        """A theme's _stories.html that includes _story.html in its loop gets the page the
        built-in list gives, byte for byte."""
        assert render(example, template_dir=include_theme, **options) == render(
            example, **options)


class TestConformance:
    def test_check_exporter(self) -> None:
        """The html exporter keeps the exporter contract."""
        check_exporter(HTMLExporter(), max_examples=15)

    def test_check_exporter_fragment_pages(self) -> None:
        """So does its fragment, paginated."""
        check_exporter(HTMLExporter(), max_examples=10, options={"fragment": True,
                                                                 "page_size": 2})

    def test_registered(self) -> None:
        """html is a built-in format, registered through the plugin hook."""
        registry = Registry(autoload=False)
        info = registry.exporters["html"]
        assert info.plugin == "storykit.exporters.html"
        assert info.exporter.media_type.startswith("text/html")
        assert registry.for_path("out/index.html").name == "html"


class TestProperties:
    @settings(max_examples=40)
    @given(collections(max_size=6))
    def test_any_collection_renders_valid_html(self, col: Collection) -> None:
        """Any valid collection renders a page that parses with no errors, keeping every title
        and every paragraph of every summary."""
        root = parse(render(col))
        col = HTML_KEEPS.collection(col)  # (a noncharacter is written U+FFFD)
        assert titles(root) == [s.title for s in col]
        h1 = root.find(".//h1")
        assert h1 is not None and text(h1) == col.title
        docs = list(json_ld(root))
        assert [d["headline"] for d in docs] == [s.title for s in col]
        assert [d["description"] for d in docs] == [s.summary for s in col]
        # The visible summary: one <p> per paragraph (blank-line separated), all of them.
        for article, story in zip(articles(root), col, strict=True):
            assert shown_paragraphs(article) == summary_paragraphs(story.summary)
        # The story's picture with its alt text; any picture of a body has an alt too.
        figures = [img for fig in find_all(root, "figure", "sk-figure") for img in fig.iter("img")]
        assert [i.get("alt") for i in figures] == [s.image.alt for s in col if s.image]
        assert all(i.get("alt") is not None for i in root.iter("img"))
        ids = [el.get("id") for el in root.iter() if el.get("id")]
        assert len(ids) == len(set(ids))

    @settings(max_examples=20)
    @given(collections(max_size=7), st.integers(1, 4), st.sampled_from(["en", "fr", "ar"]))
    def test_any_pagination_keeps_every_story_once(self, col: Collection, size: int,
                                                   locale: str) -> None:
        """For any page size, the pages joined hold every story once, in order."""
        count = max(1, -(-len(col) // size))
        seen: list[str] = []
        for n in range(1, count + 1):
            root = parse(render(col, page_size=size, page=n, locale=locale))
            seen.extend(a.get("id", "") for a in articles(root))
        assert seen == [f"story-{s.id}" for s in col]

    @settings(max_examples=30)
    @given(collections(max_size=5), st.sampled_from(["en", "fr", "ar", "ja"]), st.booleans())
    def test_any_collection_same_page_as_include(self, include_theme: Path, col: Collection,
                                                 locale: str, fragment: bool) -> None:
        """For any collection and locale, the built-in list gives byte for byte the page that
        including _story.html for each story gives, and that page reads back valid."""
        data = render(col, locale=locale, fragment=fragment)
        assert data == render(col, locale=locale, fragment=fragment,
                              template_dir=include_theme)
        root = parse_fragment(data) if fragment else parse(data)
        kept = [HTML_KEEPS.text(s.title) for s in col]  # (a noncharacter is written U+FFFD)
        assert titles(root) == kept
        assert [d["headline"] for d in json_ld(root)] == kept

    @settings(max_examples=20)
    @given(collections(max_size=6))
    def test_any_collection_renders_valid_fragment(self, col: Collection) -> None:
        """The fragment of any collection parses with no errors and keeps every title."""
        root = parse_fragment(render(col, fragment=True))
        assert titles(root) == [HTML_KEEPS.text(s.title) for s in col]


class TestStoryLanguage:
    def test_a_story_without_a_language_takes_the_pages(self) -> None:
        """In a French collection a story that gives no language is French: the page marks
        it up as French (no lang="en" on its article) and its JSON-LD says so; a story that
        gives another language keeps it."""
        col = storykit.loads(json.dumps({"title": "Impact", "language": "fr", "stories": [
            {"title": "Une chanson", "published": "2021-02-03", "summary": "Pour les enfants."},
            {"title": "A song", "published": "2021-02-04", "summary": "For children.",
             "language": "en"}]}))
        assert [s.language for s in col] == ["fr", "en"]
        root = parse(storykit.dumps(col, "html"))
        assert root.get("lang") == "fr"
        by_title = {text(a.find(".//h2")): a.get("lang") for a in articles(root)}
        assert by_title == {"Une chanson": None, "A song": "en"}
        assert {d["headline"]: d["inLanguage"] for d in json_ld(root)
                if d.get("@type") == "NewsArticle"} == {"Une chanson": "fr", "A song": "en"}
