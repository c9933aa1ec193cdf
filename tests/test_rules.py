"""The rule functions under the model, checked as properties over many inputs."""

from __future__ import annotations

import re

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from storykit import _rules as rules
from storykit.testing import AWKWARD_TEXT, text, urls

SLUG = re.compile(r"[a-z0-9]+(-[a-z0-9]+)*")


class TestSlugify:
    """``slugify``: every title gives a valid, stable id."""

    @given(st.text(max_size=200))
    @example("🐝🍯")
    @example("---")
    @example("a" * 300)
    def test_always_a_valid_id(self, title: str) -> None:
        """Any text slugifies to an id the slug rule accepts, at most 80 characters."""
        sid = rules.slugify(title)
        assert SLUG.fullmatch(sid), sid
        assert len(sid) <= max(rules.MAX_DERIVED_ID, len("story-") + 10)
        assert rules.slug(sid) == sid

    @given(st.text(max_size=50))
    def test_stable(self, title: str) -> None:
        """The same title gives the same id, call after call."""
        assert rules.slugify(title) == rules.slugify(title)

    @pytest.mark.parametrize(("title", "sid"), [
        ("Bees - A remedy for business success", "bees-a-remedy-for-business-success"),
        ("Can digital labour platforms create fair competition and decent jobs?",
         "can-digital-labour-platforms-create-fair-competition-and-decent-jobs"),
        ("COVID-19: the ILO’s response", "covid-19-the-ilos-response"),
        ("  Ümlaut  ", "umlaut"),
    ])
    def test_known_titles(self, title: str, sid: str) -> None:
        """Known titles give the ids an editor expects."""
        assert rules.slugify(title) == sid


class TestText:
    """``text``: normalisation is idempotent and keeps awkward but valid text."""

    @given(st.text(max_size=60))
    @example("\u200b \u200b a")
    @example(" \ufeff x \u2060 ")
    @example("Cafe\u0301")
    def test_idempotent(self, raw: str) -> None:
        """Normalising normalised text changes nothing."""
        try:
            once = rules.text(raw)
        except rules.Invalid:
            return
        assert rules.text(once) == once

    @given(text())
    def test_strategy_text_is_valid(self, s: str) -> None:
        """``storykit.testing.text()`` makes text the rule keeps unchanged."""
        assert rules.text(s) == s

    @pytest.mark.parametrize("s", AWKWARD_TEXT)
    def test_awkward_text_kept(self, s: str) -> None:
        """Markup, formulas, right-to-left text and emoji are valid text, kept as written."""
        assert rules.text(s) == s

    def test_long_values_cut_in_messages(self) -> None:
        """An error quotes at most 80 characters of a long value."""
        with pytest.raises(rules.Invalid) as err:
            rules.text("x" * 500 + "\x00")
        assert len(err.value.message) < 150
        assert "...' contains" not in err.value.message
        assert "U+0000" in err.value.message


class TestUrl:
    """``url``: what the strategy makes is valid; the dangerous schemes never are."""

    @given(urls())
    def test_strategy_urls_are_valid(self, u: str) -> None:
        """``storykit.testing.urls()`` makes URLs the rule keeps unchanged."""
        assert rules.url(u) == u

    @given(st.sampled_from(["javascript", "data", "vbscript", "file", "ftp", "mailto"]),
           st.text(st.characters(codec="ascii", categories=["L", "N", "P"]), max_size=20),
           st.data())
    def test_other_schemes_refused(self, scheme: str, rest: str, data: st.DataObject) -> None:
        """Any other scheme, in any letter case, is refused."""
        cased = "".join(data.draw(st.sampled_from([c.lower(), c.upper()])) for c in scheme)
        with pytest.raises(rules.Invalid):
            rules.url(f"{cased}:{rest}")

    def test_length_limit(self) -> None:
        """A URL over 8,000 characters is refused with the limit named."""
        with pytest.raises(rules.Invalid) as err:
            rules.url("https://example.org/" + "a" * 8000)
        assert err.value.message == (
            "is 8,020 characters long; the limit for a URL is 8,000")


class TestCountry:
    """``country``: ISO 3166-1 alpha-2 codes, any case in, upper case out."""

    @given(st.sampled_from(sorted(rules.ISO_3166_1_ALPHA_2)), st.booleans())
    def test_any_case(self, code: str, lower: bool) -> None:
        """A known code in either case comes out upper-case."""
        assert rules.country(code.lower() if lower else code) == code

    def test_table_is_alpha_2(self) -> None:
        """The table holds 249 two-letter codes (ISO 3166-1 as of 2024)."""
        assert all(re.fullmatch("[A-Z]{2}", c) for c in rules.ISO_3166_1_ALPHA_2)
        assert len(rules.ISO_3166_1_ALPHA_2) == 249
