"""Story.body: an allow-list-sanitised HTML fragment; cleaning is idempotent, so a body that
loads back (from JSON, a feed, a page) is unchanged."""

from __future__ import annotations

import html

import html5lib
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import storykit
from storykit import Collection, Story, ValidationError
from storykit import _rules as rules
from storykit.testing import HOSTILE_BODIES, bodies, text


@settings(max_examples=300, deadline=None)
@given(raw=bodies())
def test_cleaning_twice_is_cleaning_once(raw: str) -> None:
    once = rules.body(raw)
    assert once is None or rules.body(once) == once


def _assert_safe(fragment: str) -> None:
    tree = html5lib.parseFragment(fragment, treebuilder="etree", namespaceHTMLElements=False)
    for element in tree.iter():
        assert element.tag not in ("script", "style", "iframe", "object", "svg"), fragment
        for name, value in element.attrib.items():
            assert not name.lower().startswith("on"), fragment
            if name in ("href", "src"):
                assert not value.strip().lower().startswith(("javascript:", "data:")), fragment


@settings(max_examples=300, deadline=None)
@given(raw=bodies())
def test_no_script_no_handlers_no_bad_urls(raw: str) -> None:
    cleaned = rules.body(raw)
    if cleaned is not None:
        _assert_safe(cleaned)


def _images(fragment: str) -> list[dict[str, str]]:
    tree = html5lib.parseFragment(fragment, treebuilder="etree", namespaceHTMLElements=False)
    return [dict(img.attrib) for img in tree.iter("img")]


@settings(max_examples=300, deadline=None)
@given(raw=bodies())
def test_every_image_keeps_or_gets_an_alt(raw: str) -> None:
    """HTML requires alt on <img>: a clean body's images all have one, so a page or feed that
    shows the body stays valid (an image without a description gets alt="")."""
    cleaned = rules.body(raw)
    if cleaned is not None:
        assert all("alt" in img for img in _images(cleaned)), cleaned


@settings(max_examples=100, deadline=None)
@given(alt=st.none() | st.just("") | text(), title=st.none() | text(max_size=20))
def test_an_alt_given_is_kept_and_a_missing_one_is_empty(alt: str | None,
                                                         title: str | None) -> None:
    """The alt an author wrote is kept as it is; only a missing one becomes "" (an attribute
    that reads like one, title="x alt=", does not count as one)."""
    attrs = ' src="https://example.org/a.jpg"'
    if title is not None:
        attrs += f' title="{html.escape(title)} alt="'
    if alt is not None:
        attrs += f' alt="{html.escape(alt)}"'
    cleaned = rules.body(f"<p>Before<img{attrs}>after</p>")
    assert cleaned is not None and rules.body(cleaned) == cleaned
    [img] = _images(cleaned)
    assert img["alt"] == (alt or "")
    if title is not None:
        assert img["title"] == f"{title} alt="


@pytest.mark.parametrize("raw", HOSTILE_BODIES)
def test_hostile_bodies(raw: str) -> None:
    story = Story(title="T", published="2021-01-01", summary="S", body=raw)
    if story.body is not None:
        _assert_safe(story.body)


def test_body_round_trips_through_json() -> None:
    col = Collection(title="C", stories=[Story(title="T", published="2021-01-01", summary="S",
                                               body="<p>Hi <b>there</b> &amp; <a href="
                                                    '"https://e.org">x</a></p>')])
    assert storykit.loads(storykit.dumps(col, "json"), format="json") == col
    assert storykit.loads(storykit.dumps(col, "json", indent=2), format="json") == col


def test_a_body_that_cleans_to_nothing_is_none() -> None:
    assert Story(title="T", published="2021-01-01", summary="S",
                 body="<script>x</script>").body is None


def test_body_must_be_text() -> None:
    with pytest.raises(ValidationError, match="body"):
        Story(title="T", published="2021-01-01", summary="S", body=42)  # type: ignore[arg-type]


def test_html_page_shows_the_body() -> None:
    col = Collection(title="C", stories=[Story(title="T", published="2021-01-01", summary="S",
                                               body="<p>The <em>whole</em> story</p>")])
    assert '<div class="sk-article" dir="auto"><p>The <em>whole</em> story</p></div>' in \
        storykit.dumps(col, "html").decode()
