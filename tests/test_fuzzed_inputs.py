"""Inputs a fuzzing run found (issue 18, defects 1, 2 and 4): each is one ValidationError when
the story is made or loaded, never a story that loads and then fails to export, nor a
TypeError from ``Story(...)``."""

from __future__ import annotations

from datetime import datetime, timedelta, tzinfo
from typing import Any

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

import storykit
from storykit import Collection, Story, ValidationError

BASE = {"title": "A story", "summary": "What happened.", "published": "2021-02-03"}


def round_trip(story: Story) -> None:
    """The story exports as JSON and CSV, and the JSON loads back the same."""
    col = Collection(stories=[story])
    assert storykit.loads(storykit.dumps(col, "json")) == col
    storykit.dumps(col, "csv")


class TestUrlWithALoneSurrogate:
    BAD = "https://e.org/\udc80"

    def test_story(self) -> None:
        with pytest.raises(ValidationError, match=r"url: .* contains the character U\+DC80"):
            Story(**BASE, url=self.BAD)

    @pytest.mark.parametrize(("fmt", "data"), [
        ("csv", f"title,summary,published,url\nA story,What happened.,2021-02-03,{BAD}\n"),
        ("toml", f'[[stories]]\ntitle = "A story"\nsummary = "What happened."\n'
                 f'published = 2021-02-03\nurl = "{BAD}"\n'),
    ])
    def test_loaded(self, fmt: str, data: str) -> None:
        """From a CSV or TOML document (a str, as a caller may have decoded it with
        ``surrogateescape``): a ValidationError at load, not a PluginError at export."""
        with pytest.raises(ValidationError, match=r"stories\[0\]\.url: .* U\+DC80") as e:
            storykit.loads(data, fmt)
        assert len(e.value.errors) == 1

    @given(st.text(max_size=20))
    @example("\udc80")
    @example("\ud800x")
    @example("\ufffe")
    def test_any_url_that_loads_exports(self, path: str) -> None:
        try:
            story = Story(**BASE, url="https://e.org/" + path)
        except ValidationError:
            return
        round_trip(story)


class TestNonAsciiLanguageTags:
    @pytest.mark.parametrize("tag", ["en-\u0130", "\u0131t", "\u017fr", "en-\u212a1",
                                     "de-\u212aK", "\u0130T"])
    def test_refused(self, tag: str) -> None:
        """"İ", "ı", "ſ" and the Kelvin sign match the case-insensitive pattern (they fold to
        ASCII letters) but are no letters of a tag: refused, not stored as something the same
        rule rejects."""
        with pytest.raises(ValidationError, match="is not a BCP 47 language tag"):
            Story(**BASE, language=tag)

    @given(st.text(alphabet="abcdefghiklmnorstxyzCHKST-0123\u0130\u0131\u017f\u212a",
                   min_size=1, max_size=12))
    @example("\u017fr")
    @example("en-\u212a1")
    def test_what_is_kept_is_kept_again(self, tag: str) -> None:
        """A tag that is accepted is ASCII, accepted again as it is stored, and its story's
        JSON export loads back."""
        try:
            story = Story(**BASE, language=tag)
        except ValidationError:
            return
        assert story.language is not None and story.language.isascii()
        assert Story(**BASE, language=story.language).language == story.language
        round_trip(story)


class Offset(tzinfo):
    """A tzinfo whose ``utcoffset()`` returns whatever it is given."""

    def __init__(self, offset: Any) -> None:
        self.offset = offset

    def utcoffset(self, dt: datetime | None) -> Any:
        return self.offset

    def dst(self, dt: datetime | None) -> None:
        return None

    def tzname(self, dt: datetime | None) -> str:
        return "X"


class TestTzinfoWithABadOffset:
    @pytest.mark.parametrize("offset", [5, "+01:00", 1.5, timedelta(days=1),
                                        timedelta(hours=-30)])
    def test_a_validation_error(self, offset: Any) -> None:
        with pytest.raises(ValidationError, match=r"published: .* has a timezone with no "
                                                  r"valid offset"):
            Story(**{**BASE, "published": datetime(2021, 2, 3, 9, 30, tzinfo=Offset(offset))})

    @given(st.one_of(st.none(), st.integers(), st.text(max_size=5), st.floats(),
                     st.timedeltas(min_value=timedelta(days=-3), max_value=timedelta(days=3))))
    def test_any_offset(self, offset: Any) -> None:
        """Whatever ``utcoffset()`` returns, Story() makes a story or raises ValidationError."""
        when = datetime(2021, 2, 3, 9, 30, tzinfo=Offset(offset))
        try:
            story = Story(**{**BASE, "published": when})
        except ValidationError as e:
            problems = [d.path for d in e.errors]
        else:
            problems = []
        assert problems in ([], ["published"])
        if problems:
            return
        assert isinstance(offset, timedelta) and abs(offset) < timedelta(days=1)
        assert story.published == when
