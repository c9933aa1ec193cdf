"""The ``markdown`` format, parsed back with markdown-it-py (CommonMark)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import storykit_markdown
from hypothesis import given, settings
from markdown_it import MarkdownIt
from markdown_it.token import Token

import storykit
from storykit.plugins import Registry
from storykit.testing import AWKWARD_TEXT, check_exporter, collections, text
from storykit.testing import paragraphs as paragraphs_of

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "impact-and-people" / "stories.json"
MD = MarkdownIt("commonmark")

#: Text that would be markup if it were not escaped.
MARKUP = [
    "*bold* and _em_ and **strong** __strong__",
    "[a link](https://evil.example.org) and ![img](x.png)",
    "<b>html</b> <https://auto.link> <!-- comment -->",
    "`code` and ``more``",
    "# not a heading #",
    "Title ending in hashes ##",
    "&amp; &copy; &#169; &#x41;",
    "back\\slash \\* \\",
    "~~strike~~ | table | cell |",
    "1. not a list",
    "2) nor this",
    "- nor this",
    "+ nor this",
    "> not a quote",
    "=== not an underline",
    "--- not a rule",
    "***",
    "    not code",
    "[ref]: https://example.org",
    "a\\\nb",
]

INLINE_TEXT = {"text", "softbreak", "hardbreak"}


def _text(children: list[Token]) -> str:
    parts = []
    for tok in children:
        if tok.type == "text":
            parts.append(tok.content)
        elif tok.type in ("softbreak", "hardbreak"):
            parts.append("\n")
    return "".join(parts)


def _squash(s: str) -> str:
    return " ".join(s.split())


def lede(tokens: list[Token], level: int = 2) -> list[tuple[str, set[str]]]:
    """The paragraphs a reader sees before the first story heading: (text, inline types)."""
    found: list[tuple[str, set[str]]] = []
    for i, tok in enumerate(tokens):
        if tok.type == "heading_open" and tok.tag == f"h{level}":
            break
        if tok.type == "inline" and tokens[i - 1].type == "paragraph_open":
            children = tok.children or []
            found.append((_text(children), {c.type for c in children}))
    return found


def assert_lede(tokens: list[Token], col: storykit.Collection) -> None:
    """The collection's description is shown, as literal text, before the first story."""
    shown = lede(tokens)
    assert [_squash(t) for t, _ in shown] == (paragraphs_of(col.description)
                                              if col.description else [])
    for _, types in shown:
        assert types <= INLINE_TEXT


def sections(markdown: str, level: int = 2) -> tuple[list[Token], list[dict[str, Any]]]:
    """The document's tokens and, per story heading, what a reader sees in that section."""
    tokens = MD.parse(markdown)
    found: list[dict[str, Any]] = []
    i = 0
    while i < len(tokens):
        tok = tokens[i]
        if tok.type == "heading_open" and tok.tag == f"h{level}":
            children = tokens[i + 1].children or []
            links = [c for c in children if c.type == "link_open"]
            found.append({
                "title": _text(children),
                "title_types": {c.type for c in children},
                "href": links[0].attrs["href"] if links else None,
                "paragraphs": [], "images": [], "bullets": [], "emphasis": [],
            })
            i += 3
            continue
        if found and tok.type == "inline":
            children = tok.children or []
            section = found[-1]
            types = [c.type for c in children]
            if tokens[i - 1].type == "paragraph_open" and tokens[i - 2].type == "list_item_open":
                link = children[0]
                section["bullets"].append((link.attrs["href"], _text(children[1:-1]), types))
            elif types == ["image"]:
                img = children[0]
                # The alt text a renderer writes is the image's parsed children, as text.
                section["images"].append((img.attrs["src"], _text(img.children or []),
                                          img.attrs.get("title")))
            elif types and types[0] == "em_open" and types[-1] == "em_close":
                section["emphasis"].append((_text(children[1:-1]), set(types[1:-1])))
            else:
                section["paragraphs"].append((_text(children), set(types)))
        i += 1
    return tokens, found


def assert_story(section: dict[str, Any], story: storykit.Story, images: bool = True) -> None:
    """A reader sees exactly the story's text, and the links and picture it has."""
    assert section["title"] == story.title
    allowed = INLINE_TEXT | ({"link_open", "link_close"} if story.url else set())
    assert section["title_types"] <= allowed
    assert section["href"] == (MD.normalizeLink(story.url) if story.url else None)
    summary = " ".join(text for text, _ in section["paragraphs"])
    assert _squash(summary) == _squash(story.summary)
    # Paragraph for paragraph: a blank line in the summary stays a paragraph break.
    assert [_squash(text) for text, _ in section["paragraphs"]] == paragraphs_of(story.summary)
    for _, types in section["paragraphs"]:
        assert types <= INLINE_TEXT
    # The date is localised (the collection's language); its exact text is tested below.
    date_text, date_types = section["emphasis"][0]
    assert str(story.published.year) in date_text
    assert date_types == {"text"}
    image = story.image if images else None
    if image is None:
        assert section["images"] == []
    else:
        credit = str(image.credit) if image.credit else None
        assert section["images"] == [(MD.normalizeLink(image.url), image.alt, credit)]
        if credit:
            assert section["emphasis"][1] == (credit, {"text"})
    assert [(href, label) for href, label, _ in section["bullets"]] == [
        (MD.normalizeLink(link.url), link.title) for link in story.links]
    for _, _, types in section["bullets"]:
        assert set(types) <= INLINE_TEXT | {"link_open", "link_close"}


class TestMarkdownExample:
    """The example page as Markdown."""

    def test_one_section_per_story(self) -> None:
        """Under the title and description, every story is a level-2 section with its linked
        title, date, summary paragraphs and links."""
        col = storykit.load(EXAMPLE)
        tokens, found = sections(storykit.dumps(col, "markdown").decode("utf-8"))
        assert len(found) == len(col)
        for section, story in zip(found, col, strict=True):
            assert_story(section, story)
        h1 = [tokens[i + 1].content for i, t in enumerate(tokens) if t.tag == "h1"
              and t.type == "heading_open"]
        assert h1 == ["Impact and people"]
        assert col.description
        assert [t for t, _ in lede(tokens)] == [col.description]
        assert_lede(tokens, col)

    def test_dates_as_the_page_prints_them(self) -> None:
        """Dates read "03 February 2021", or in the language asked for with ``locale``."""
        col = storykit.load(EXAMPLE)
        _, found = sections(storykit.dumps(col, "markdown").decode("utf-8"))
        assert found[4]["emphasis"][0] == ("03 February 2021", {"text"})
        _, found = sections(storykit.dumps(col, "markdown", locale="fr").decode("utf-8"))
        assert found[4]["emphasis"][0] == ("03 février 2021", {"text"})

    def test_song_story(self) -> None:
        """The song story shows its picture with alt text and credit, and the Voices link."""
        col = storykit.load(EXAMPLE)
        _, found = sections(storykit.dumps(col, "markdown").decode("utf-8"))
        song = found[[s.id for s in col].index("a-song-to-let-children-fly")]
        assert song["images"][0][1].startswith("Ridma Weerawardena")
        assert song["images"][0][2] == "© Asitha Seneviratne 2021"
        assert song["bullets"][0][:2] == ("https://voices.ilo.org/",
                                          "Read more on our new multimedia Voices platform")

    def test_options(self) -> None:
        """heading_level moves the sections; images=false leaves pictures out."""
        col = storykit.load(EXAMPLE)
        data = storykit.dumps(col, "markdown", heading_level="3", images="false").decode()
        _, found = sections(data, level=3)
        assert len(found) == len(col)
        for section, story in zip(found, col, strict=True):
            assert_story(section, story, images=False)
        _, top = sections(storykit.dumps(col, "markdown", heading_level=1).decode(), level=1)
        assert [s["title"] for s in top] == [s.title for s in col]

    def test_bad_heading_level(self) -> None:
        """A heading level out of range is an OptionError."""
        with pytest.raises(storykit.OptionError, match="option 'heading_level' must be 1 to 5"):
            storykit.dumps(storykit.Collection(title="T"), "markdown", heading_level=7)


class TestEscaping:
    """Markup characters in stories stay literal."""

    @pytest.mark.parametrize("markup", MARKUP + list(AWKWARD_TEXT))
    def test_markup_stays_literal(self, markup: str) -> None:
        """Titles, summaries, alt text, credits and link titles render as the exact text."""
        title = " ".join(markup.split())
        story = storykit.Story(
            title=title, published="2021-02-03", summary=f"{markup}\n{markup}\n\n{markup}",
            url="https://news.example.org/a_(b)*c",
            image={"url": "https://img.example.org/x_(1).jpg", "alt": title,
                   "credit": {"holder": title.replace("©", ""), "year": 2021}},
            links=[{"url": "https://voices.ilo.org/x)y(z", "title": title}])
        col = storykit.Collection(title=title, description=markup, stories=[story])
        tokens, found = sections(storykit.dumps(col, "markdown").decode("utf-8"))
        assert [t.type for t in tokens if t.type.endswith("_open")].count("heading_open") == 2
        assert not {"html_block", "html_inline", "code_block", "fence", "blockquote_open",
                    "hr", "ordered_list_open"} & {t.type for t in tokens}
        (section,) = found
        assert_story(section, story)
        assert_lede(tokens, col)


class TestMarkdownProperties:
    """Any valid collection."""

    @settings(max_examples=60, deadline=None)
    @given(collections(max_size=5))
    def test_reader_sees_the_stories(self, col: storykit.Collection) -> None:
        """markdown-it-py finds the description, then one section per story whose text is the
        story's text, paragraph for paragraph."""
        tokens, found = sections(storykit.dumps(col, "markdown").decode("utf-8"))
        assert len(found) == len(col)
        for section, story in zip(found, col, strict=True):
            assert_story(section, story)
        assert_lede(tokens, col)

    @settings(max_examples=60, deadline=None)
    @given(text(max_size=120))
    def test_escape_round_trips(self, value: str) -> None:
        """Any one-line text, escaped and rendered, reads back as itself."""
        (inline,) = [t for t in MD.parse(storykit_markdown.escape(value)) if t.type == "inline"]
        assert _text(inline.children or []) == value
        assert {c.type for c in inline.children or []} <= INLINE_TEXT


class TestMarkdownPlugin:
    """Registration and the exporter contract."""

    def test_entry_point(self) -> None:
        """Installed, ``markdown`` comes from the storykit-markdown distribution."""
        registry = Registry()
        info = registry.exporters["markdown"]
        assert info.plugin == "markdown"
        assert info.distribution is not None
        assert info.distribution.startswith("storykit-markdown ")
        assert registry.for_path("stories.md").name == "markdown"

    @pytest.mark.parametrize("options", [{}, {"heading_level": 1, "images": False}])
    def test_check_exporter(self, options: dict[str, Any]) -> None:
        """check_exporter passes with the default options and with others."""
        check_exporter(storykit_markdown.MarkdownExporter(), max_examples=20, options=options)
