"""The html reader: storykit's own page reads back equal on the fields its JSON-LD carries;
other pages' NewsArticle JSON-LD and microdata map to storykit's fields."""

from __future__ import annotations

import io

import attrs
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from storykit_webpage import WebPageReader

import storykit
from storykit import Collection, Story, ValidationError
from storykit.testing import Keeps, bodies, check_reader, collections

READER = WebPageReader()
#: What storykit's page keeps: datetimes to the second (<time datetime>, the JSON-LD), U+FFFD
#: for a noncharacter.
PAGE_KEEPS = Keeps(timespec="seconds", noncharacters=False)


def read(data: bytes) -> Collection:
    return READER.read(io.BytesIO(data))


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(col=collections(max_size=4), body=st.none() | bodies())
def test_own_page_reads_back_equal(col: Collection, body: str | None) -> None:
    # Every field: the links and the media contacts from the JSON-LD, the body (HTML) from
    # the article's class="sk-article" (articleBody is its text).
    col = attrs.evolve(col, stories=[attrs.evolve(s, body=body) for s in col.stories])
    back = read(storykit.dumps(col, "html"))
    PAGE_KEEPS.assert_kept(col.stories, back.stories)
    assert back == PAGE_KEEPS.collection(col)


def test_a_body_of_escaped_markup_reads_back_as_text() -> None:
    # The body's leading text is markup-looking text ("&lt;p&gt;"), not an element: it must
    # come back as text, not as a <p> the sanitiser then empties.
    story = Story(title="T", published="2021-02-03", summary="S",
                  body='<iframe><p href="https://e.org/a?b=1&c=2">')
    assert story.body == '&lt;p href="https://e.org/a?b=1&amp;c=2"&gt;'
    col = Collection(title="C", stories=[story])
    assert read(storykit.dumps(col, "html")).stories[0].body == story.body


PAGE = b"""<!doctype html><html lang="fr"><head><title>Newsroom</title>
<meta name="description" content="All the news">
<link rel="canonical" href="https://news.example.org/">
<script type="application/ld+json">{"@context": "https://schema.org", "@graph": [
 {"@type": "WebSite", "name": "x"},
 {"@type": "NewsArticle", "headline": "Bees", "datePublished": "2021-02-23T09:30:00+01:00",
  "dateModified": "2021-02-24", "description": "Honey.",
  "url": "https://news.example.org/bees", "inLanguage": "es", "keywords": "bees, rural",
  "articleBody": "First.\\n\\nSecond <script>.",
  "image": {"@type": "ImageObject", "url": "https://news.example.org/bee.jpg",
            "caption": "A bee", "copyrightHolder": {"@type": "Organization", "name": "ILO"},
            "copyrightYear": 2021},
  "contentLocation": {"@type": "Place", "address": {"addressCountry": "LK"}}}]}
</script></head><body>
<div itemscope itemtype="https://schema.org/Article">
 <h2 itemprop="headline">From microdata</h2>
 <time itemprop="datePublished" datetime="2021-02-20">20 Feb</time>
 <p itemprop="description">Micro summary.</p>
 <a itemprop="url" href="https://news.example.org/micro">link</a>
</div></body></html>"""


def test_other_pages_map() -> None:
    col = read(PAGE)
    assert (col.title, col.description, col.url, col.language) == (
        "Newsroom", "All the news", "https://news.example.org/", "fr")
    bees, micro = col.stories
    assert (bees.id, bees.title, bees.summary, bees.language) == ("bees", "Bees", "Honey.", "es")
    assert bees.topics == ("bees", "rural")
    assert bees.countries == ("LK",)
    assert str(bees.updated) == "2021-02-24"
    assert bees.body == "<p>First.</p><p>Second &lt;script&gt;.</p>"
    assert bees.image is not None and bees.image.alt == "A bee"
    assert str(bees.image.credit) == "© ILO 2021"
    assert (micro.id, micro.title, micro.summary) == ("micro", "From microdata", "Micro summary.")
    assert str(micro.published) == "2021-02-20"


def test_credit_text() -> None:
    page = PAGE.replace(b'"copyrightHolder": {"@type": "Organization", "name": "ILO"}',
                        b'"creditText": "Jane Doe"')
    assert str(read(page).stories[0].image.credit) == "© Jane Doe 2021"  # type: ignore[union-attr]


def test_problems_name_the_article() -> None:
    with pytest.raises(ValidationError) as e:
        read(PAGE.replace(b'"datePublished": "2021-02-23T09:30:00+01:00"',
                          b'"datePublished": "soon"'))
    assert [d.path for d in e.value.errors] == ["articles[0]: published"]


@pytest.mark.parametrize("data", [b"", b"plain text", b"\x00\xff"])
def test_not_a_page(data: bytes) -> None:
    with pytest.raises(ValidationError) as e:
        read(data)
    assert len(e.value.errors) == 1


def test_deep_json_ld_is_refused() -> None:
    deep = b"[" * 5000 + b"]" * 5000
    with pytest.raises(ValidationError, match="deeper than the limit"):
        read(b'<html><script type="application/ld+json">' + deep + b"</script></html>")


def test_conformance() -> None:
    sample = storykit.dumps(Collection(title="C", stories=[
        Story(title="T", published="2021-01-01", summary="S")]), "html")
    check_reader(READER, sample=sample, writer="html", max_examples=5)


def test_json_ld_alone_carries_text_links_and_contacts() -> None:
    # A theme that shows no body still leaves its text (articleBody) in the JSON-LD.
    desk = {"name": "Desk", "organization": "ILO", "email": "desk@example.org",
            "phone": "+41 22 799 7912"}
    col = Collection(title="C", contacts=[desk],
                     stories=[Story(id="a", title="T", published="2021-01-01", summary="S",
                                    body="<p>One &amp; two.</p><p>Three</p>",
                                    links=[{"url": "https://example.org/x", "title": "X"}])])
    page = storykit.dumps(col, "html").replace(b'class="sk-article"', b'class="theme-text"')
    got = read(page)
    assert got.contacts == col.contacts
    assert got.stories[0].links == col.stories[0].links
    assert got.stories[0].body == "<p>One &amp; two.</p><p>Three</p>"


@pytest.mark.parametrize(("lang", "expected"), [
    ("x-newsroom", "x-newsroom"), ("sr-Latn-RS", "sr-Latn-RS"), ("en_GB", "en-GB"),
    ("english language", "en"), ("", "en")])
def test_the_page_language_is_any_tag_the_model_takes(lang: str, expected: str) -> None:
    page = f'<!doctype html><html lang="{lang}"><head><title>N</title></head></html>'
    assert read(page.encode()).language == expected
