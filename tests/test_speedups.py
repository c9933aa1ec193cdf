"""The C encoder of the JSON export writes exactly what the pure path writes.

``storykit._speedups.encode`` renders stories as compact JSON. Its output must be byte for byte
``orjson.dumps(_story_doc(story))`` for every story, whatever its fields hold: the model's valid
stories, and objects the checker would refuse (built with ``_build``), whose text holds every
character, surrogates and controls included. What the C code was not written for goes back to
the pure path, which also raises the same errors.
"""

from __future__ import annotations

import json
import platform
from datetime import UTC, date, datetime, timedelta, timezone, tzinfo
from typing import Any

import orjson
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

import storykit
from storykit.exporters import json as json_exporter
from storykit.model import Credit, Image, Link, Story, Translation, _build
from storykit.testing import collections, stories

if platform.python_implementation() != "CPython":
    pytest.skip("the C module is built on CPython only", allow_module_level=True)

from storykit import _speedups as speedups

_ANY_TEXT = st.text(st.characters(codec=None, categories=None) | st.sampled_from(
    '"\\/\x00\x1f\x7f\x80\xff\u0100\u07ff\u0800\u2028\ud7ff\ud800\udfff\ue000\uffff'
    "\U00010000\U0010ffff"), max_size=30)


def _pure(items: list[Any], sep: bytes, end: bool) -> bytes:
    parts = [orjson.dumps(json_exporter._story_doc(s)) for s in items]
    return sep.join([*parts, b""] if end and parts else parts)


def _same(items: list[Any], sep: bytes = b",", end: bool = False) -> bytes:
    """The C encoder's bytes, checked against the pure path's (or the same error)."""
    try:
        expected = _pure(items, sep, end)
    except Exception as e:  # whatever the pure path raises, C raises too
        with pytest.raises(type(e)):
            speedups.encode(items, sep, end)
        return b""
    got = speedups.encode(items, sep, end)
    assert got == expected
    return got


def test_built_on_cpython() -> None:
    """On CPython the install built the C module and the exporter uses it: a failed build
    must fail here, not quietly make the export twice as slow."""
    assert json_exporter._encode is speedups.encode


@given(st.lists(stories(), max_size=4), st.sampled_from([b",", b"\n"]), st.booleans())
def test_valid_stories(items: list[Story], sep: bytes, end: bool) -> None:
    got = _same(items, sep, end)
    if items and sep == b"\n":
        lines = got.split(b"\n")
        docs = [json.loads(x) for x in (lines[:-1] if end else lines)]
        assert [d["id"] for d in docs] == [s.id for s in items]


_datetimes = st.builds(
    lambda d, us, tz: datetime(d.year, d.month, d.day, tzinfo=tz) + timedelta(microseconds=us),
    st.dates(date(1, 1, 2), date(9999, 12, 30)), st.integers(0, 86_400 * 10**6 - 1),
    st.none() | st.just(UTC) | st.builds(
        timezone, st.timedeltas(timedelta(hours=-23, minutes=-59), timedelta(hours=23, minutes=59))
        .map(lambda t: timedelta(seconds=t // timedelta(seconds=1)))))

_dates = st.dates() | _datetimes


@st.composite
def raw_stories(draw: st.DrawFn) -> Story:
    """Stories as anything may have made them: any text, any date, odd types now and then."""
    text = _ANY_TEXT
    odd = st.sampled_from([1, None, ["list"], b"bytes", 1.5])

    def field(strategy: st.SearchStrategy[Any]) -> Any:
        return draw(strategy | odd) if draw(st.integers(0, 30)) == 0 else draw(strategy)

    credit = st.none() | st.builds(lambda h, y: _build(Credit, {"holder": h, "year": y}), text,
                                   st.none() | st.integers(-(2**70), 2**70) | st.integers(0, 3000))
    image = st.none() | st.builds(lambda u, a, c: _build(Image, {"url": u, "alt": a, "credit": c}),
                                  text, text, credit)
    link = st.builds(lambda u, t: _build(Link, {"url": u, "title": t}), text, text)
    translation = st.builds(
        lambda lang, u, t: _build(Translation, {"language": lang, "url": u, "title": t}),
        text, text, st.none() | text)
    return _build(Story, {
        "id": field(text), "title": field(text), "published": field(_dates),
        "summary": field(text), "url": field(st.none() | text), "image": field(image),
        "topics": field(st.lists(text, max_size=3).map(tuple)),
        "countries": field(st.lists(text, max_size=2).map(tuple)),
        "language": field(text), "links": field(st.lists(link, max_size=2).map(tuple)),
        "translations": field(st.lists(translation, max_size=2).map(tuple)),
        "updated": field(st.none() | _dates), "body": field(st.none() | text),
    })


@given(st.lists(raw_stories(), max_size=3), st.sampled_from([b",", b"\n", b"\x00"]),
       st.booleans())
@example([_build(Story, {"id": "a\ud800", "title": "t", "published": date(2021, 2, 3),
                         "summary": "s", "url": None, "image": None, "topics": (),
                         "countries": (), "language": "en", "links": (), "translations": (),
                         "updated": None, "body": None})], b",", False)
def test_any_story(items: list[Story], sep: bytes, end: bool) -> None:
    """Whatever a story holds, the bytes or the error are the pure path's."""
    _same(items, sep, end)


@given(_ANY_TEXT)
@example("a\udfff")  # a low surrogate alone
@example("\ud83d\ude00")  # a pair, which a str holds as two code points: still refused
@example("\x00\x1f\x7f\u2028\"\\/\U0010ffff")
@example("12345678\u00e9")  # a word of ASCII, then Latin-1
def test_strings_escape_as_orjson(value: str) -> None:
    """Every character: controls escaped as orjson does, the rest as UTF-8."""
    story = Story(id="a", title="t", published=date(2021, 2, 3), summary="s")
    odd = _build(Story, {**{f: getattr(story, f) for f in Story.FIELDS}, "title": value})
    _same([odd])


class _Zone(tzinfo):
    """A tzinfo written in Python, whose offset has seconds (datetime writes them)."""

    def utcoffset(self, dt: datetime | None) -> timedelta:
        return timedelta(hours=1, seconds=30)

    def dst(self, dt: datetime | None) -> timedelta:
        return timedelta(0)


class _Broken(tzinfo):
    def utcoffset(self, dt: datetime | None) -> timedelta:
        raise RuntimeError("no offset here")


@pytest.mark.parametrize("when", [
    datetime(2021, 2, 25, 9, 30, tzinfo=timezone(timedelta(hours=1))),
    datetime(2021, 2, 25, 9, 30, 1, 5, tzinfo=timezone(timedelta(hours=-9, minutes=-30))),
    datetime(1, 1, 1, tzinfo=UTC),
    datetime(2021, 2, 25, 9, 30),
    datetime(2021, 2, 25, 9, 30, tzinfo=_Zone()),
    datetime(2021, 2, 25, 9, 30, tzinfo=timezone(timedelta(microseconds=1))),
    date(999, 1, 2),
])
def test_dates(when: date) -> None:
    story = Story(id="a", title="t", published=date(2021, 2, 3), summary="s")
    values = {f: getattr(story, f) for f in Story.FIELDS}
    _same([_build(Story, {**values, "published": when, "updated": when})])


def _with(**changes: Any) -> Story:
    story = Story(id="a", title="t", published=date(2021, 2, 3), summary="s")
    return _build(Story, {**{f: getattr(story, f) for f in Story.FIELDS}, **changes})


def test_tzinfo_that_replaces_the_field() -> None:
    """utcoffset() is Python code: one that drops the story's datetime while it is being
    written must not leave the encoder reading freed memory (the pure path's bytes)."""
    victim: list[Story] = []

    class Dropping(tzinfo):
        def utcoffset(self, dt: datetime | None) -> timedelta:
            object.__setattr__(victim[0], "updated", None)
            return timedelta(hours=1)

    victim.append(_with(updated=datetime(2021, 2, 3, 4, 5, 6, tzinfo=Dropping())))
    got = speedups.encode(victim, b",", False)
    assert json.loads(got)["updated"] == "2021-02-03T04:05:06+01:00"


def test_setup_during_encode_is_refused() -> None:
    """A set-up from Python code run by encode() would change the slots it reads mid-story."""

    class Meddling(tzinfo):
        def utcoffset(self, dt: datetime | None) -> timedelta:
            speedups.setup(Story, Image, Credit, Link, Translation, json_exporter._story_json)
            return timedelta(hours=1)

    with pytest.raises(RuntimeError, match="setup\\(\\) while encode\\(\\) runs"):
        speedups.encode([_with(published=datetime(2021, 2, 3, tzinfo=Meddling()))], b",",
                        False)
    story = _with()
    assert speedups.encode([story], b",", False) == json_exporter._story_json(story)


def test_tzinfo_error_propagates() -> None:
    story = Story(id="a", title="t", published=date(2021, 2, 3), summary="s")
    odd = _build(Story, {**{f: getattr(story, f) for f in Story.FIELDS},
                         "updated": datetime(2021, 2, 3, tzinfo=_Broken())})
    with pytest.raises(RuntimeError, match="no offset here"):
        speedups.encode([story, odd], b",", False)


class _SubStory(Story):
    __slots__ = ()

    @property
    def title(self) -> str:  # type: ignore[override]
        return "from the subclass"


class _Str(str):
    __slots__ = ()


def test_subclasses_go_to_the_pure_path() -> None:
    """A subclass may change what a field reads as: the pure path renders it."""
    story = Story(id="a", title="t", published=date(2021, 2, 3), summary="s",
                  image=Image("https://x.org/a.jpg", "alt", "© ILO 2021"),
                  links=[Link("https://x.org/", "more")])
    values = {f: getattr(story, f) for f in Story.FIELDS}
    sub = _SubStory.__new__(_SubStory)
    for name, value in values.items():  # through Story's slots: the subclass hides "title"
        Story.__dict__[name].__set__(sub, value)
    got = _same([story, sub, _build(Story, {**values, "summary": _Str("sub")})])
    assert b'"title":"from the subclass"' in got


def test_empty_slot_raises_as_the_pure_path() -> None:
    """A story made without its fields is an AttributeError, not a crash."""
    with pytest.raises(AttributeError):
        speedups.encode([Story.__new__(Story)], b",", False)
    assert speedups.encode([], b",", True) == b""


def test_setup_checks_the_classes() -> None:
    class Plain:
        id = 1

    class Half:  # "id" is a slot (far past a Story's end), "title" is not: refused as a whole
        __slots__ = (*(f"a{i:03d}" for i in range(200)), "id")
        title = "x"

    with pytest.raises(TypeError, match="is not a slot"):
        speedups.setup(Plain, Image, Credit, Link, Translation, json_exporter._story_json)
    with pytest.raises(TypeError, match=r"Half\.title is not a slot"):
        speedups.setup(Half, Image, Credit, Link, Translation, json_exporter._story_json)
    # a class that holds Story's slot descriptors without being a Story: offsets not its own
    borrowed = type("Borrowed", (), {name: Story.__dict__[name] for name in Story.FIELDS})
    with pytest.raises(TypeError, match=r"Borrowed\.id is not an object slot"):
        speedups.setup(borrowed, Image, Credit, Link, Translation, json_exporter._story_json)
    with pytest.raises(TypeError, match="callable"):
        speedups.setup(Story, Image, Credit, Link, Translation, None)  # type: ignore[arg-type]
    # the exporter's set-up still holds after a refused one
    story = Story(id="a", title="t", published=date(2021, 2, 3), summary="s")
    assert speedups.encode([story], b",", False) == json_exporter._story_json(story)


@given(collections(max_size=4), st.sampled_from(["document", "stories", "lines"]), st.booleans())
def test_export_is_the_pure_exports(col: storykit.Collection, shape: str, ascii_: bool) -> None:
    """Every compact shape, with and without ensure_ascii, is the pure exporter's bytes."""
    options = {"shape": shape, "ensure_ascii": ascii_}
    fast = storykit.dumps(col, "json", **options)
    saved = json_exporter._encode
    json_exporter._encode = None
    try:
        pure = storykit.dumps(col, "json", **options)
    finally:
        json_exporter._encode = saved
    assert fast == pure
    if shape == "document":
        assert storykit.loads(fast) == col
