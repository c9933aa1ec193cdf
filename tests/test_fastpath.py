"""The fast paths of loading agree with the detailed checkers: same stories, same verdicts."""

from __future__ import annotations

import enum
from typing import Any

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

import storykit
from storykit import _fast
from storykit import _rules as rules
from storykit.convert import story_to_data
from storykit.model import Story, _build, check_story_values
from storykit.testing import stories

# Every character, surrogates and controls included, and the awkward ones often.
_ANY_CHAR = st.characters(codec=None, categories=None) | st.sampled_from(
    " \t\n\r\x0b\x85\xa0\u2028\u2029\u200b\u200c\u200d\u2060\ufeff\ufffe\uffff\ud800"
    "e\u0301\u212b\uff21é’—")
_ANY_TEXT = st.text(_ANY_CHAR, max_size=40)


def _detailed(data: Any, derive_id: bool = True) -> tuple[Story | None, list[Any]]:
    errors: list[Any] = []
    values = check_story_values(errors, "", data, derive_id=derive_id)
    return (None if values is None else _build(Story, values)), errors


def _as_content(story: Story, credit_string: bool) -> dict[str, Any]:
    """A story as a content file holds it: credits often as the display string."""
    data = story_to_data(story)
    image = data.get("image")
    if credit_string and image and "credit" in image and story.image and story.image.credit:
        image["credit"] = str(story.image.credit)
    return data


class _Sub(str):
    """A ``str`` subclass whose ``str()`` is not its value: the model keeps its characters."""

    __slots__ = ()

    def __str__(self) -> str:
        return "not the value"


class _Topic(enum.StrEnum):
    JOBS = "jobs"
    BLANK = " "


_SUBCLASSED = st.one_of(
    st.builds(_Sub, _ANY_TEXT),
    st.sampled_from(["2021-02-03", "en", "fr-CH", "LK", "https://x.org/a", "a-b", "© ILO 2021",
                     "Title", " padded "]).map(_Sub),
    st.sampled_from(list(_Topic)),
)

_MUTANTS = st.one_of(
    _SUBCLASSED,
    _ANY_TEXT, st.none(), st.just(""), st.integers(), st.booleans(), st.lists(_ANY_TEXT),
    st.dictionaries(_ANY_TEXT, _ANY_TEXT, max_size=2), st.just("2021-02-30"),
    st.just("2021-02-23T09:30:00"), st.just("https://exa mple.org/"), st.just("ftp://x.org/"),
    st.just("http://x.org:99999/"), st.just("© 2021"), st.just("zz"), st.just("en-"),
    st.sampled_from(["a--b", "-a", "a-", "-", "A-b", "a-b-", "a_b", "ab\n", "é-a", "a-1"]),
    st.just({"url": "https://x.org/", "title": "T", "extra": 1}),
)


@st.composite
def raw_stories(draw: st.DrawFn) -> dict[str, Any]:
    """Story data: valid, or valid but for a few fields replaced by anything at all."""
    data = _as_content(draw(stories()), draw(st.booleans()))
    for _ in range(draw(st.integers(0, 3))):
        key = draw(st.sampled_from([*Story.FIELDS, "image.url", "image.alt", "image.credit",
                                    "links.url", "links.title", "links.0", "topics.0",
                                    "countries.0", "unknown"]))
        value = draw(_MUTANTS)
        head, _, tail = key.partition(".")
        target = data.get(head)
        if not tail:
            data[head] = value
        elif isinstance(target, dict):
            target[tail] = value
        elif isinstance(target, list) and target:
            if tail == "0":
                target[0] = value
            elif isinstance(target[0], dict):
                target[0][tail] = value
    return data


class TestPlainText:
    @given(_ANY_TEXT)
    @example(" a")
    @example("a\u00a0")
    @example("\u200ba")
    @example("a\u2028b")
    @example("e\u0301")
    @example("a\tb")
    @example("a\nb")
    @example("a\r\nb")
    def test_plain_text_is_returned_unchanged_by_the_rule(self, s: str) -> None:
        """Text the fast check calls plain is text the full rule accepts and leaves as it is."""
        for multiline in (False, True):
            if _fast.plain_text(s, multiline):
                assert rules.text(s, multiline=multiline) == s

    @pytest.mark.parametrize("s", ["Impact and people", "Côte d’Ivoire — “fair” jobs"])
    def test_ordinary_text_is_plain(self, s: str) -> None:
        """Ordinary headlines, ASCII or not, take the fast path."""
        assert _fast.plain_text(s)


class TestPlainUrl:
    @given(st.sampled_from(["https://", "http://", "HTTP://", "https:", "ftp://", ""]),
           st.text(st.sampled_from("aZ09.-_~/?#:@[]!$&'()*+,;=%\\ <>\"`{}|^\x00é"),
                   max_size=30))
    @example("https://", "www.example.org/a?b=1#c")
    @example("https://", "x.org:8080/")
    @example("https://", "[::1]/")
    @example("https://", "-x.org")
    def test_plain_url_is_returned_unchanged_by_the_rule(self, scheme: str, rest: str) -> None:
        """A URL the fast check calls plain is one the full rule accepts and leaves as it is."""
        s = scheme + rest
        if _fast.plain_url(s):
            assert rules.url(s) == s

    def test_ordinary_url_is_plain(self) -> None:
        """A newsroom URL takes the fast path."""
        assert _fast.plain_url("https://www.ilo.org/global/about/newsroom/a-song-to-let-kids")


class TestSlug:
    @given(st.text(st.sampled_from("az09-AZ_é\n "), max_size=8) | _ANY_TEXT)
    @example("a--b")
    @example("-a")
    @example("a-")
    @example("")
    def test_is_slug_is_the_slug_pattern(self, s: str) -> None:
        """The id rule without the regex's per-word group says exactly what the pattern says."""
        import re

        assert rules.is_slug(s) == (re.fullmatch(r"[a-z0-9]+(?:-[a-z0-9]+)*", s) is not None)


class TestStory:
    @given(raw_stories())
    def test_fast_story_equals_the_detailed_one(self, data: dict[str, Any]) -> None:
        """When the fast path vouches for a story, the detailed checker makes the same one
        without a problem; when anything is wrong the fast path declines."""
        fast = _fast.story(data, derive_id=True)
        detailed, errors = _detailed(data)
        if fast is not None:
            assert errors == []
            assert fast == detailed
            assert all(type(getattr(fast, f)) is type(getattr(detailed, f))
                       for f in Story.FIELDS)

    @given(raw_stories(), st.sampled_from(["en", "fr", "ar", "pt-BR"]))
    def test_a_collection_language_is_given_the_same_way(self, data: dict[str, Any],
                                                         language: str) -> None:
        """A story without a language gets its collection's, on both paths alike."""
        fast = _fast.story(data, True, language)
        errors: list[Any] = []
        values = check_story_values(errors, "", data, language=language)
        if fast is not None:
            assert errors == [] and values is not None
            assert fast == _build(Story, values)
            assert fast.language == (language if data.get("language") is None
                                     else values["language"])

    def test_plain_story_takes_the_fast_path(self) -> None:
        """An ordinary story (display credit, topics, countries, a link) is vouched for."""
        data = {
            "id": "a-song-to-let-children-fly", "title": "A song to let children fly",
            "published": "2021-02-03", "summary": "Sri Lankan music star Ridma Weerawardena…",
            "url": "https://www.ilo.org/stories/a-song",
            "image": {"url": "https://www.ilo.org/a.jpg", "alt": "A singer",
                      "credit": "© Asitha Seneviratne 2021"},
            "topics": ["child labour"], "countries": ["LK"], "language": "en",
            "links": [{"url": "https://voices.ilo.org/a", "title": "Read more on Voices"}],
        }
        fast = _fast.story(data)
        assert fast is not None
        assert fast == _detailed(data)[0]

    def test_story_without_id_is_left_to_the_collection(self) -> None:
        """Without an id the collection derives it (clash rule), so the fast path declines."""
        data = {"title": "A", "published": "2021-02-03", "summary": "B"}
        assert _fast.story(data) is None
        assert _fast.story(data, derive_id=True) == _detailed(data)[0]

    def test_loads_reports_every_problem_as_before(self) -> None:
        """A bad story among plain ones is reported in full, with its path."""
        good = {"id": "a", "title": "A", "published": "2021-02-03", "summary": "B"}
        bad = {"id": "b", "title": " ", "published": "2021-02-30", "summary": "C",
               "url": "ftp://x.org/"}
        with pytest.raises(storykit.ValidationError) as info:
            storykit.loads(storykit.dumps(storykit.Collection(stories=[good]), "json")
                           .replace(b"]}", b"," + _json(bad) + b"]}"))
        paths = sorted(e.path for e in info.value.errors)
        assert paths == ["stories[1].published", "stories[1].title", "stories[1].url"]


def _json(data: Any) -> bytes:
    import orjson

    return orjson.dumps(data)


class TestStrSubclasses:
    def test_subclass_values_give_plain_strings(self) -> None:
        """A story whose text comes as ``str`` subclasses is the plain story, on either path."""
        data: dict[str, Any] = {
            "id": _Sub("a"), "title": _Sub("A"), "published": _Sub("2021-02-03"),
            "summary": _Sub("S"), "url": _Sub("https://x.org/a"), "topics": [_Topic.JOBS],
            "countries": [_Sub("lk")], "language": _Sub("fr-ch"),
            "image": {"url": _Sub("https://x.org/a.jpg"), "alt": _Sub("Alt"),
                      "credit": _Sub("© ILO 2021")},
            "links": [{"url": _Sub("https://x.org/b"), "title": _Sub("B")}],
        }
        plain = {k: (v if not isinstance(v, str) else str.__str__(v)) for k, v in data.items()}
        detailed, errors = _detailed(data)
        assert errors == []
        assert detailed == _detailed(plain)[0]
        fast = _fast.story(data, derive_id=True)
        assert fast is None or fast == detailed

    def test_caches_keep_plain_keys_only(self) -> None:
        """A subclass never becomes a cache key, so it cannot answer for a plain string."""

        class Liar(str):
            __slots__ = ()

            def __eq__(self, other: object) -> bool:
                return True

            def __hash__(self) -> int:
                return hash("fr")

        data = {"id": "a", "title": "A", "published": "2021-02-03", "summary": "S",
                "language": Liar("de"), "topics": [Liar("x")], "countries": [Liar("DE")]}
        _fast.story(data)
        f = _fast._bound()
        for cache in (f.languages, f.topics, f.countries, f.topic_lists, f.country_lists):
            keys = [k for key in cache for k in (key if isinstance(key, tuple) else (key,))]
            assert all(type(k) is str for k in keys)
        assert _fast.story({**data, "language": "fr", "topics": ["x"], "countries": ["DE"]}) \
            == _detailed({**data, "language": "fr", "topics": ["x"], "countries": ["DE"]})[0]


class TestImport:
    def test_import_loads_no_plugin_and_no_heavy_library(self) -> None:
        """`import storykit` discovers no plugin and imports neither cattrs, jinja2, babel nor
        difflib: they load when a format or a feature is first used."""
        import subprocess
        import sys

        code = ("import sys, storykit, storykit.plugins as p\n"
                "heavy = {'cattrs', 'jinja2', 'babel', 'css_inline', 'difflib'}\n"
                "print(sorted(heavy & {m.split('.')[0] for m in sys.modules}),"
                " p._default is None,"
                " sorted(m for m in sys.modules if m.startswith('storykit.exporters')))")
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                             check=True).stdout.strip()
        assert out == "[] True []"
