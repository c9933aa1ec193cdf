"""The model's validation rules, each checked by the exact message a user reads."""

from __future__ import annotations

import enum
import json
import pickle
import re
import unicodedata
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import attrs
import pytest
from html_support import parse_html
from html_support import text as html_text
from hypothesis import given
from hypothesis import strategies as st

import storykit
from storykit import (
    Collection,
    Credit,
    Image,
    Link,
    MediaContact,
    Story,
    Translation,
    ValidationError,
)
from storykit.testing import stories, text

BASE: dict[str, Any] = {"title": "A song to let children fly", "published": "2021-02-03",
                        "summary": "Sri Lankan music star Ridma Weerawardena talks about his song."}
NEXT_YEAR = date.today().year + 1


def story(**changes: Any) -> Story:
    return Story(**{**BASE, **changes})


def problems(err: pytest.ExceptionInfo[ValidationError]) -> list[str]:
    """The problem lines of a ValidationError's message, without the header, and without the
    line and column of a JSON or TOML document (tests/test_positions.py checks those)."""
    return [_AT.sub("", line.strip()) for line in str(err.value).splitlines()[1:]]


_AT = re.compile(r"^line \d+, column \d+: ")


def only_problem(**changes: Any) -> str:
    """The one problem line that a story with ``changes`` gives."""
    with pytest.raises(ValidationError) as err:
        story(**changes)
    lines = problems(err)
    assert len(lines) == 1, lines
    return lines[0]


def load_stories(*items: dict[str, Any]) -> Collection:
    return storykit.loads(storykit_json(list(items)), "json")


def storykit_json(doc: Any) -> str:
    import json

    return json.dumps(doc, ensure_ascii=False)


class TestId:
    """``id``: the slug rule, and ids derived from titles."""

    @pytest.mark.parametrize("bad", ["Bad Id", "a--b", "-a", "a-", "a_b", "ça", "../etc", "A"])
    def test_slug_rule_message(self, bad: str) -> None:
        """An id that is not a slug names the rule and shows a good one."""
        assert only_problem(id=bad) == (
            f"id: {bad!r} is not a valid id (lowercase letters and digits in words joined by "
            "single hyphens, e.g. 'a-song-to-let-children-fly')")

    def test_slug_accepted(self) -> None:
        """A slug is kept as given."""
        assert story(id="a-song-2021").id == "a-song-2021"

    def test_too_long_id(self) -> None:
        """An id over 200 characters is refused with the limit named."""
        assert only_problem(id="a" * 201) == (
            "id: is 201 characters long; the limit for an id is 200")

    def test_derived_from_title(self) -> None:
        """A story without an id gets the slug of its title, ASCII-folded."""
        assert story().id == "a-song-to-let-children-fly"
        assert story(title="Labour, freedom and happiness: The great driving forces of "
                           "antiquity").id == (
            "labour-freedom-and-happiness-the-great-driving-forces-of-antiquity")
        assert story(title="Child labour in Myanmar’s jade mines").id == (
            "child-labour-in-myanmars-jade-mines")
        assert story(title="Ça va? Ångström, naïve").id == "ca-va-angstrom-naive"

    def test_empty_id_is_derived(self) -> None:
        """An empty id (a blank CSV cell) counts as no id."""
        assert story(id="").id == "a-song-to-let-children-fly"

    @given(text())
    def test_same_title_same_id(self, title: str) -> None:
        """The same title always gives the same id, and it keeps the slug rule."""
        a = story(title=title).id
        assert a == story(title=title).id
        assert story(id=a).id == a

    @pytest.mark.parametrize(("title", "expected"), [
        ("Доклад 2021", "doklad-2021"),
        ("Ελληνικά νέα", "ellenika-nea"),
        ("Straße in København", "strasse-in-kobenhavn"),
        ("Child labour in Myanmar’s jade mines", "child-labour-in-myanmars-jade-mines"),
        ("Tom & Jerry's", "tom-jerry-s"),
    ])
    def test_titles_are_transliterated(self, title: str, expected: str) -> None:
        """Greek, Cyrillic and Latin letters beyond ASCII give Latin ids; Latin titles keep
        the ids they always had."""
        assert story(title=title).id == expected

    @pytest.mark.parametrize("title", ["🐝🍯", "🎉", "!!!"])
    def test_fallback_for_titles_without_letters(self, title: str) -> None:
        """A title with no letters to slug gets ``story-`` and a stable hash."""
        sid = story(title=title).id
        assert sid.startswith("story-")
        assert len(sid) == len("story-") + 10
        assert sid == story(title=title).id
        assert sid != story(title=title + "!").id or title == "!!!"

    def test_fallback_ids_differ_for_different_titles(self) -> None:
        """Two emoji titles do not share a fallback id."""
        assert story(title="🐝🍯").id != story(title="🍯🐝").id

    def test_long_title_cut_at_a_hyphen(self) -> None:
        """A long title's id is cut at a word boundary, at most 80 characters."""
        sid = story(title="word " * 40).id
        assert len(sid) <= 80
        assert sid.endswith("word")

    def test_derived_clash_numbered_in_a_collection(self) -> None:
        """Stories of one collection with the same title get ``-2``, ``-3``."""
        col = load_stories(BASE, BASE, {**BASE, "title": "A song to let children fly!"})
        assert col.ids == ("a-song-to-let-children-fly", "a-song-to-let-children-fly-2",
                           "a-song-to-let-children-fly-3")

    def test_derived_id_avoids_explicit_ids(self) -> None:
        """A derived id steps past an explicit id that comes later in the file."""
        col = load_stories(BASE, {**BASE, "id": "a-song-to-let-children-fly"},
                           {**BASE, "id": "a-song-to-let-children-fly-2"})
        assert col.ids == ("a-song-to-let-children-fly-3", "a-song-to-let-children-fly",
                           "a-song-to-let-children-fly-2")

    def test_duplicate_explicit_ids_name_both_positions(self) -> None:
        """Two stories with one explicit id: the error names the id and both positions."""
        with pytest.raises(ValidationError) as err:
            load_stories({**BASE, "id": "x"}, {**BASE, "id": "y"}, {**BASE, "id": "x"})
        assert problems(err) == ["stories[2].id: 'x' is already the id of stories[0]"]

    def test_duplicate_ids_in_python(self) -> None:
        """A Collection built in Python refuses duplicate ids too."""
        s = story()
        with pytest.raises(ValidationError) as err:
            Collection(stories=[s, s])
        assert problems(err) == [
            "stories[1].id: 'a-song-to-let-children-fly' is already the id of stories[0]"]


class TestText:
    """``title`` and ``summary``: stripped, NFC, not blank, no control characters."""

    def test_stripped(self) -> None:
        """Leading and trailing spaces go."""
        s = story(title="  Title \t", summary="\n Summary\n")
        assert (s.title, s.summary) == ("Title", "Summary")

    def test_nfd_equals_nfc(self) -> None:
        """A decomposed (NFD) title makes the same story as the composed (NFC) one."""
        nfc = "René Levita: Ça va, naïve Ångström"
        nfd = unicodedata.normalize("NFD", nfc)
        assert nfd != nfc
        a, b = story(title=nfd, summary=nfd), story(title=nfc, summary=nfc)
        assert a == b
        assert a.title == nfc
        assert a.id == b.id

    @given(st.text(max_size=40))
    def test_normalised_text_is_a_fixed_point(self, raw: str) -> None:
        """Whatever a title becomes, making a story from it again changes nothing."""
        try:
            title = story(title=raw).title
        except ValidationError:
            return
        assert story(title=title).title == title
        assert unicodedata.is_normalized("NFC", title)
        assert title == title.strip()

    @pytest.mark.parametrize(("raw", "message"), [
        ("", "title: must not be blank"),
        ("   ", "title: '   ' is blank"),
        ("\u200b\u200c\ufeff", "title: '\\u200b\\u200c\\ufeff' is blank"),
        ("\u200b \u2060 ", "title: '\\u200b \\u2060 ' is blank"),
    ])
    def test_blank(self, raw: str, message: str) -> None:
        """An empty, space-only or zero-width-only title is blank."""
        assert only_problem(title=raw) == message

    def test_zero_width_edges_stripped(self) -> None:
        """Zero-width characters and spaces at the edges go, however they interleave."""
        assert story(title="\u200b \u200b Title \ufeff").title == "Title"

    def test_blank_summary(self) -> None:
        """A blank summary is refused too."""
        assert only_problem(summary=" ") == "summary: ' ' is blank"

    @pytest.mark.parametrize(("raw", "code"), [
        ("a\x00b", "U+0000"), ("a\x07b", "U+0007"), ("a\x1bb", "U+001B"), ("a\x7fb", "U+007F"),
        ("a\x85b", "U+0085"), ("a\x9fb", "U+009F"), ("a\rb", "U+000D"), ("a\nb", "U+000A"),
        ("a\tb", "U+0009"),
    ])
    def test_control_characters_in_title(self, raw: str, code: str) -> None:
        """C0 and C1 controls in a title are refused, the character named."""
        assert only_problem(title=raw) == (
            f"title: {raw!r} contains the control character {code}")

    def test_summary_may_hold_newlines_and_tabs(self) -> None:
        """A summary keeps its line breaks and tabs, and refuses other controls."""
        assert story(summary="one\n\ttwo").summary == "one\n\ttwo"
        assert only_problem(summary="one\x0ctwo") == (
            "summary: 'one\\x0ctwo' contains the control character U+000C")

    def test_summary_line_ends_normalised(self) -> None:
        """Windows and old Mac line ends in a summary become ``\\n``."""
        assert story(summary="one\r\ntwo\rthree").summary == "one\ntwo\nthree"

    def test_lone_surrogate(self) -> None:
        """A lone surrogate (broken UTF-16) is refused."""
        assert only_problem(title="a\ud800") == (
            "title: 'a\\ud800' contains the control character U+D800")

    def test_title_length_limit(self) -> None:
        """A title over 1,000 characters is refused with the limit named."""
        assert only_problem(title="x" * 1001) == (
            "title: is 1,001 characters long; the limit is 1,000")


class TestPublished:
    """``published``: an ISO date or an aware datetime."""

    def test_date(self) -> None:
        """An ISO date string becomes a date."""
        assert story(published="2021-02-23").published == date(2021, 2, 23)

    @pytest.mark.parametrize("raw", ["20210223", "2021-W08-2", " 2021-02-23 "])
    def test_other_iso_date_forms(self, raw: str) -> None:
        """ISO basic and week dates are dates too, never naive datetimes at midnight."""
        assert story(published=raw).published == date(2021, 2, 23)

    def test_date_object(self) -> None:
        """A date object is kept."""
        assert story(published=date(2021, 2, 23)).published == date(2021, 2, 23)

    @pytest.mark.parametrize(("raw", "expected"), [
        ("2021-02-23T09:30:00+01:00",
         datetime(2021, 2, 23, 9, 30, tzinfo=timezone(timedelta(hours=1)))),
        ("2021-02-23T09:30:00Z", datetime(2021, 2, 23, 9, 30, tzinfo=UTC)),
        (datetime(2021, 2, 23, 9, 30, tzinfo=UTC), datetime(2021, 2, 23, 9, 30, tzinfo=UTC)),
    ])
    def test_aware_datetime(self, raw: Any, expected: datetime) -> None:
        """An aware datetime is kept with its offset."""
        got = story(published=raw).published
        assert got == expected
        assert isinstance(got, datetime)
        assert got.utcoffset() == expected.utcoffset()

    def test_naive_datetime_says_no_timezone(self) -> None:
        """A naive datetime is an error that says it has no timezone."""
        assert only_problem(published="2021-02-23T09:30:00") == (
            "published: '2021-02-23T09:30:00' has no timezone; give an offset such as "
            "'+00:00' or 'Z', or a plain date")

    def test_naive_datetime_object(self) -> None:
        """A naive datetime object is refused the same way, shown as ISO text."""
        assert only_problem(published=datetime(2021, 2, 23, 9, 30)) == (
            "published: '2021-02-23T09:30:00' has no timezone; give an offset such as "
            "'+00:00' or 'Z', or a plain date")

    @pytest.mark.parametrize("bad", ["2021-02-30", "2021-13-01", "2021-00-10", "2022-02-29"])
    def test_impossible_date(self, bad: str) -> None:
        """A date that does not exist is named as not a valid date."""
        assert only_problem(published=bad) == f"published: {bad!r} is not a valid date"

    def test_not_a_date(self) -> None:
        """Text that is no date says what form is expected."""
        assert only_problem(published="03 February 2021") == (
            "published: '03 February 2021' is not a valid date or datetime "
            "(ISO 8601, e.g. '2021-02-23' or '2021-02-23T09:30:00+01:00')")

    def test_number_is_not_a_date(self) -> None:
        """A number is not a date."""
        assert only_problem(published=20210223) == (
            "published: must be an ISO 8601 date string (got int 20210223)")

    def test_missing(self) -> None:
        """``published`` is required."""
        with pytest.raises(ValidationError) as err:
            storykit.loads('[{"title": "T", "summary": "S"}]')
        assert problems(err) == ["stories[0].published: required field missing"]

    def test_updated_follows_the_same_rule(self) -> None:
        """``updated`` is checked like ``published``."""
        assert only_problem(updated="2021-02-30") == "updated: '2021-02-30' is not a valid date"


BAD_URLS = [
    ("javascript:alert(1)", "'javascript:alert(1)' has scheme 'javascript'; "
                            "only http and https are allowed"),
    ("JaVaScRiPt:alert(1)", "'JaVaScRiPt:alert(1)' has scheme 'javascript'; "
                            "only http and https are allowed"),
    ("data:text/html,<b>x</b>", "'data:text/html,<b>x</b>' is not a valid URL: it contains '<'"),
    ("data:text/plain,hello", "'data:text/plain,hello' has scheme 'data'; "
                              "only http and https are allowed"),
    ("vbscript:msgbox(1)", "'vbscript:msgbox(1)' has scheme 'vbscript'; "
                           "only http and https are allowed"),
    ("ftp://example.org/x", "'ftp://example.org/x' has scheme 'ftp'; "
                            "only http and https are allowed"),
    ("/impact-and-people/", "'/impact-and-people/' is not an absolute URL (it needs https://...)"),
    ("stories/x.html", "'stories/x.html' is not an absolute URL (it needs https://...)"),
    ("//evil.example/x", "'//evil.example/x' is not an absolute URL (it needs https://...)"),
    ("https://example.org/a b", "'https://example.org/a b' is not a valid URL: it contains "
                                "a space"),
    ("java\tscript:alert(1)", "'java\\tscript:alert(1)' is not a valid URL: it contains '\\t'"),
    ("https://", "'https://' has no host"),
    ("https://example.org:99999/", "'https://example.org:99999/' is not a valid URL"),
]


class TestUrl:
    """Every URL: absolute ``http`` or ``https`` only."""

    @pytest.mark.parametrize(("bad", "message"), BAD_URLS)
    def test_story_url(self, bad: str, message: str) -> None:
        """A story URL that is not absolute http(s) is refused, saying why."""
        assert only_problem(url=bad) == f"url: {message}"

    @pytest.mark.parametrize(("bad", "message"), BAD_URLS[:3])
    def test_every_url_field(self, bad: str, message: str) -> None:
        """Image, link, translation and contact URLs follow the same rule."""
        with pytest.raises(ValidationError) as err:
            storykit.loads(storykit_json({
                "url": bad,
                "contacts": [{"name": "Desk", "url": bad}],
                "stories": [{**BASE, "image": {"url": bad, "alt": "a"},
                             "links": [{"url": bad, "title": "Voices"}],
                             "translations": [{"language": "fr", "url": bad}]}],
            }))
        assert problems(err) == [
            f"url: {message}",
            f"contacts[0].url: {message}",
            f"stories[0].image.url: {message}",
            f"stories[0].links[0].url: {message}",
            f"stories[0].translations[0].url: {message}",
        ]

    @pytest.mark.parametrize("good", [
        "https://www.ilo.org/", "http://example.org", "HTTPS://EXAMPLE.ORG/Path?q=1#frag",
        "https://example.org:8443/a%20b", "https://[::1]/x",
    ])
    def test_accepted(self, good: str) -> None:
        """Absolute http and https URLs are kept as given."""
        assert story(url=good).url == good

    def test_surrounding_spaces_stripped(self) -> None:
        """Spaces around a URL (from a form or a CSV cell) go."""
        assert story(url=" https://example.org/ ").url == "https://example.org/"


class TestImageAndCredit:
    """``image.alt`` is required; ``Credit`` reads and renders ``© Holder 2021``."""

    def test_alt_required(self) -> None:
        """An image without alt text is refused, saying what alt is for."""
        assert only_problem(image={"url": "https://example.org/a.jpg"}) == (
            "image.alt: required with an image (describe what the picture shows)")

    def test_blank_alt(self) -> None:
        """Blank alt text is refused."""
        assert only_problem(image={"url": "https://example.org/a.jpg", "alt": " "}) == (
            "image.alt: ' ' is blank")

    def test_image_url_required(self) -> None:
        """An image needs its URL."""
        assert only_problem(image={"alt": "A beekeeper"}) == "image.url: required field missing"

    @pytest.mark.parametrize(("raw", "holder", "year"), [
        ("© Asitha Seneviratne 2021", "Asitha Seneviratne", 2021),
        ("(c) Asitha Seneviratne 2021", "Asitha Seneviratne", 2021),
        ("(C) Asitha Seneviratne, 2021", "Asitha Seneviratne", 2021),
        ("Copyright Asitha Seneviratne 2021", "Asitha Seneviratne", 2021),
        ("© Federico Taverni, Museo Egizio 2021", "Federico Taverni, Museo Egizio", 2021),
        ("© Seng Mai / Photo Doc 2021", "Seng Mai / Photo Doc", 2021),
        ("©René Levita 2021", "René Levita", 2021),
        ("© ILO", "ILO", None),
        ({"holder": "Ion Buga", "year": 2021}, "Ion Buga", 2021),
        ({"holder": "Ion Buga", "year": "2021"}, "Ion Buga", 2021),
        ({"holder": "Ion Buga"}, "Ion Buga", None),
    ])
    def test_credit_forms(self, raw: Any, holder: str, year: int | None) -> None:
        """A credit is read from its display string or from holder and year."""
        img = story(image={"url": "https://example.org/a.jpg", "alt": "a", "credit": raw}).image
        assert img is not None
        assert img.credit == Credit(holder, year)

    def test_renders_as_display_string(self) -> None:
        """``str(Credit)`` is the display string, and parses back equal."""
        c = Credit("Asitha Seneviratne", 2021)
        assert str(c) == "© Asitha Seneviratne 2021"
        assert Credit.parse(str(c)) == c
        assert str(Credit("ILO")) == "© ILO"
        assert Credit.parse("(c) Asitha Seneviratne 2021") == c

    @given(text(max_size=30), st.none() | st.integers(1800, NEXT_YEAR))
    def test_display_string_round_trip(self, holder: str, year: int | None) -> None:
        """Any credit renders to a display string that parses back equal.

        The one ambiguity is a credit without a year whose holder ends in a separate
        four-digit number: ``"© Studio 1999"`` reads as holder ``Studio``, year 1999.
        """
        try:
            c = Credit(holder, year)
        except ValidationError:
            return
        if year is None and re.search(r"(^|[\s,])\d{4}$", c.holder):
            return
        assert Credit.parse(str(c)) == c

    def test_trailing_commas_dropped(self) -> None:
        """A holder's trailing commas go, as the display string would lose them anyway."""
        assert Credit("Reuters, ", 2021) == Credit.parse("© Reuters, 2021") == Credit(
            "Reuters", 2021)
        with pytest.raises(ValidationError) as err:
            Credit(" , ", 2021)
        assert problems(err) == ["holder: ' , ' names no holder"]

    def test_story_credit_shortcut(self) -> None:
        """``Story.credit`` is the image's credit, or None."""
        s = story(image=Image("https://example.org/a.jpg", "a", "© Ion Buga 2021"))
        assert s.credit == Credit("Ion Buga", 2021)
        assert story().credit is None

    def test_not_a_credit(self) -> None:
        """A string without ``©`` or ``(c)`` is not read as a credit."""
        with pytest.raises(ValidationError) as err:
            Credit.parse("Asitha Seneviratne 2021")
        assert problems(err) == [
            "(document): 'Asitha Seneviratne 2021' is not a photo credit (write it as "
            "'© Holder 2021' or give {'holder': ..., 'year': ...})"]

    @pytest.mark.parametrize("raw", ["© 2021", "©", "(c) "])
    def test_credit_without_holder(self, raw: str) -> None:
        """A credit that names only a year, or nothing, names no holder."""
        with pytest.raises(ValidationError) as err:
            story(image={"url": "https://example.org/a.jpg", "alt": "a", "credit": raw})
        assert problems(err) == [f"image.credit: {raw!r} names no holder"]

    @pytest.mark.parametrize("year", [1799, NEXT_YEAR + 1, 0, 3000])
    def test_year_range(self, year: int) -> None:
        """A year outside 1800..next year is refused, the range named."""
        with pytest.raises(ValidationError) as err:
            Credit("Ion Buga", year)
        assert problems(err) == [f"year: {year} is not a year between 1800 and {NEXT_YEAR}"]
        with pytest.raises(ValidationError) as err:
            Credit.parse(f"© Ion Buga {year:04d}")
        assert problems(err) == [f"(document): {year} is not a year between 1800 and "
                                 f"{NEXT_YEAR}"]

    @pytest.mark.parametrize("year", [1800, NEXT_YEAR])
    def test_year_range_inclusive(self, year: int) -> None:
        """1800 and next year are allowed."""
        assert Credit("Ion Buga", year).year == year

    def test_year_not_a_number(self) -> None:
        """A year must be an integer."""
        with pytest.raises(ValidationError) as err:
            Credit("Ion Buga", "twenty")  # type: ignore[arg-type]
        assert problems(err) == ["year: must be a year such as 2021 (got 'twenty')"]

    @pytest.mark.parametrize("credit", [{"holder": "2021"}, {"holder": "2021", "year": 2021},
                                        "© 2020 2021"])
    def test_a_year_is_not_a_holder(self, credit: Any) -> None:
        """A holder that is only a year is refused, in either form of the credit."""
        with pytest.raises(ValidationError, match="names no holder"):
            story(image={"url": "https://example.org/a.jpg", "alt": "a", "credit": credit})

    def test_credit_holder_required(self) -> None:
        """A credit object needs a holder."""
        with pytest.raises(ValidationError) as err:
            story(image={"url": "https://example.org/a.jpg", "alt": "a",
                         "credit": {"year": 2021}})
        assert problems(err) == ["image.credit.holder: required field missing"]


class TestCountriesAndLanguage:
    """``countries``: ISO 3166-1 alpha-2, upper case; ``language``: BCP 47."""

    def test_case_folded(self) -> None:
        """Country codes are upper-cased."""
        assert story(countries=["lk", "Mm", " br "]).countries == ("LK", "MM", "BR")

    @pytest.mark.parametrize("bad", ["XX", "UK", "USA", "Sri Lanka", ""])
    def test_unknown_code_named(self, bad: str) -> None:
        """An unknown code is named, with its position."""
        assert only_problem(countries=["LK", bad]) == (
            f"countries[1]: {bad!r} is not an ISO 3166-1 alpha-2 country code")

    def test_countries_must_be_a_list(self) -> None:
        """A bare string is not taken letter by letter."""
        with pytest.raises(ValidationError) as err:
            load_stories({**BASE, "countries": "LK"})
        assert problems(err) == ["stories[0].countries: must be a list (got str 'LK')"]

    @pytest.mark.parametrize("good", ["en", "fr-CH", "zh-Hans", "zh-Hans-CN", "pt-BR", "es-419",
                                      "sl-rozaj", "de-CH-1901", "x-private", "en-a-bbb-x-ccc"])
    def test_language_accepted(self, good: str) -> None:
        """Well-formed BCP 47 tags are kept."""
        assert story(language=good).language == good

    @pytest.mark.parametrize("bad", ["englishman", "en_US", "e", "en-", "fr--CH", "12"])
    def test_language_refused(self, bad: str) -> None:
        """A tag that is not BCP 47 syntax is refused with an example."""
        assert only_problem(language=bad) == (
            f"language: {bad!r} is not a BCP 47 language tag (e.g. 'en', 'fr-CH')")

    @pytest.mark.parametrize(("given", "canonical"), [
        ("EN", "en"), ("en-us", "en-US"), ("ZH-hant-tw", "zh-Hant-TW"), ("es-419", "es-419"),
        ("de-ch-1901", "de-CH-1901"), ("en-X-Twain", "en-x-twain"), ("X-Private", "x-private"),
    ])
    def test_language_case_is_made_canonical(self, given: str, canonical: str) -> None:
        """Tags are case-insensitive: each is kept in the case RFC 5646 recommends, so that
        ``EN`` and ``en`` stories group together and match the page's language."""
        assert story(language=given).language == canonical
        col = Collection(language=given, stories=[story(language=given), story(id="b")])
        assert col.language == canonical
        assert len(col.group_by("language")) == (1 if canonical == "en" else 2)

    def test_language_default(self) -> None:
        """A story's language is ``en`` unless given."""
        assert story().language == "en"


class TestMediaContact:
    """``MediaContact``: email syntax, E.164 phones, a way to reach them."""

    def test_phone_normalised(self) -> None:
        """A phone number in international form is normalised to E.164."""
        c = MediaContact("ILO Newsroom", phone="+41 22 799 79 12")
        assert c.phone == "+41227997912"
        assert MediaContact("Desk", phone="+1 (212) 555-0100").phone == "+12125550100"

    @pytest.mark.parametrize(("bad", "message"), [
        ("022 799 7912", "'022 799 7912' is not a phone number in international form "
                         "(start with + and the country code, e.g. '+41 22 799 7912')"),
        ("call us", "'call us' is not a phone number in international form "
                    "(start with + and the country code, e.g. '+41 22 799 7912')"),
        ("+41 1", "'+41 1' is not a possible phone number"),
        ("+41 22 799 7912 ext. 3", "'+41 22 799 7912 ext. 3' has an extension (3), which "
                                   "E.164 cannot hold; give the direct number"),
    ])
    def test_bad_phone(self, bad: str, message: str) -> None:
        """A phone number that cannot be made E.164 is refused, saying why."""
        with pytest.raises(ValidationError) as err:
            MediaContact("Desk", phone=bad)
        assert problems(err) == [f"phone: {message}"]

    @pytest.mark.parametrize("bad", ["newsroom", "newsroom@", "@ilo.org", "a b@ilo.org",
                                     "newsroom@ilo", "newsroom@ilo..org", "x@-ilo.org"])
    def test_bad_email(self, bad: str) -> None:
        """An email address with bad syntax is refused."""
        with pytest.raises(ValidationError) as err:
            MediaContact("Desk", email=bad)
        (problem,) = problems(err)
        assert problem.startswith(f"email: {bad!r} is not a valid email address (")

    @pytest.mark.parametrize("good", ["newsroom@ilo.org", "first.last+tag@news.example.org",
                                      "o'brien@example.com"])
    def test_good_email(self, good: str) -> None:
        """Valid addresses are kept (no DNS lookup)."""
        assert MediaContact("Desk", email=good).email == good

    def test_needs_a_way_to_reach(self) -> None:
        """A contact without email, phone or url is refused."""
        with pytest.raises(ValidationError) as err:
            MediaContact("ILO Newsroom", role="Media relations")
        assert problems(err) == [
            "contact: a media contact needs at least one of email, phone or url"]

    def test_one_way_is_enough(self) -> None:
        """Any one of email, phone or url is enough."""
        MediaContact("Desk", email="newsroom@ilo.org")
        MediaContact("Desk", phone="+41 22 799 7912")
        MediaContact("Desk", url="https://www.ilo.org/")

    def test_name_required(self) -> None:
        """A contact needs a name, in a collection document too."""
        with pytest.raises(ValidationError) as err:
            storykit.loads('{"contacts": [{"email": "newsroom@ilo.org"}]}')
        assert problems(err) == ["contacts[0].name: required field missing"]

    def test_every_problem_at_once(self) -> None:
        """A contact with several problems reports each of them."""
        with pytest.raises(ValidationError) as err:
            MediaContact(" ", email="x", phone="y", url="/z")
        assert problems(err) == [
            "name: ' ' is blank",
            "email: 'x' is not a valid email address (An email address must have an @-sign.)",
            "phone: 'y' is not a phone number in international form (start with + and the "
            "country code, e.g. '+41 22 799 7912')",
            "url: '/z' is not an absolute URL (it needs https://...)",
        ]


class TestUnknownKeys:
    """An unknown key is an error that names it and suggests the nearest field."""

    def test_story(self) -> None:
        """A misspelt story field is named, with the field meant."""
        with pytest.raises(ValidationError) as err:
            load_stories({**BASE, "titel": "x"})
        assert problems(err) == [
            "stories[0].titel: 'titel' is not a field of Story; did you mean 'title'?"]

    def test_through_the_converter(self) -> None:
        """The cattrs converter structures a story with the same check and message."""
        from storykit.convert import converter

        with pytest.raises(ValidationError) as err:
            converter.structure({**BASE, "sumary": "x"}, Story)
        assert problems(err) == ["sumary: 'sumary' is not a field of Story; did you mean "
                                 "'summary'?"]
        assert converter.structure(BASE, Story) == story()

    def test_no_suggestion_when_nothing_is_close(self) -> None:
        """A key far from every field gets no guess."""
        with pytest.raises(ValidationError) as err:
            load_stories({**BASE, "zzzz": "x"})
        assert problems(err) == ["stories[0].zzzz: 'zzzz' is not a field of Story"]

    @pytest.mark.parametrize(("doc", "message"), [
        ({"titl": "x"}, "titl: 'titl' is not a field of Collection; did you mean 'title'?"),
        ({"contacts": [{"name": "Desk", "email": "a@b.org", "phon": "+41227997912"}]},
         "contacts[0].phon: 'phon' is not a field of MediaContact; did you mean 'phone'?"),
        ({"stories": [{**BASE, "image": {"url": "https://example.org/a.jpg", "alt": "a",
                                         "credits": "© ILO"}}]},
         "stories[0].image.credits: 'credits' is not a field of Image; did you mean 'credit'?"),
        ({"stories": [{**BASE, "image": {"url": "https://example.org/a.jpg", "alt": "a",
                                         "credit": {"holder": "ILO", "yaer": 2021}}}]},
         "stories[0].image.credit.yaer: 'yaer' is not a field of Credit; did you mean 'year'?"),
        ({"stories": [{**BASE, "links": [{"url": "https://voices.ilo.org/", "titel": "V"}]}]},
         "stories[0].links[0].titel: 'titel' is not a field of Link; did you mean 'title'?"),
    ])
    def test_nested(self, doc: dict[str, Any], message: str) -> None:
        """Unknown keys are caught at every level: collection, contacts, image, credit, link."""
        with pytest.raises(ValidationError) as err:
            storykit.loads(storykit_json(doc))
        assert message in problems(err)

    def test_typo_never_dropped_silently(self) -> None:
        """A misspelt optional field is an error even when the rest is valid."""
        with pytest.raises(ValidationError):
            load_stories({**BASE, "countires": ["LK"]})

    def test_key_with_a_line_break_stays_on_one_line(self) -> None:
        """QA's case: a key holding a line break cannot plant a fake problem line."""
        with pytest.raises(ValidationError) as err:
            load_stories({**BASE, "x\nstories[9].title: fake": 1})
        assert str(err.value).splitlines() == [
            "1 problem",
            "  line 1, column 146: stories[0]['x\\nstories[9].title: fake']: "
            "'x\\nstories[9].title: fake' is not a field of Story",
        ]
        assert err.value.errors[0].path == "stories[0]['x\\nstories[9].title: fake']"

    @pytest.mark.parametrize(("doc", "path"), [
        ({"Published date": 1}, "['Published date']"),
        ({"stories": [{**BASE, "read-more": "x"}]}, "stories[0]['read-more']"),
        ({"stories": [{**BASE, "été": "x"}]}, "stories[0]['été']"),
        ({"stories": [{**BASE, "": "x"}]}, "stories[0]['']"),
        ({"stories": [{**BASE, "image": {"url": "https://example.org/a.jpg", "alt": "a",
                                         "a.b": 1}}]}, "stories[0].image['a.b']"),
    ])
    def test_keys_that_are_not_plain_names_are_quoted(self, doc: dict[str, Any],
                                                      path: str) -> None:
        """A key that is not a plain identifier shows as its repr in brackets."""
        with pytest.raises(ValidationError) as err:
            storykit.loads(storykit_json(doc))
        assert [e.path for e in err.value.errors] == [path]

    @given(st.text(st.characters(codec=None, categories=None)
                   | st.sampled_from("\n\r\x0b\x0c\x1c\x85\u2028\u2029\ud800"), max_size=20),
           st.sampled_from(["collection", "story", "image", "credit", "link", "contact"]))
    def test_any_key_gives_one_line_per_problem(self, key: str, where: str) -> None:
        """Whatever an unknown key holds, each problem is one line, and so is its path."""
        from storykit.convert import collection_from_data

        image = {"url": "https://example.org/a.jpg", "alt": "a"}
        doc: dict[str, Any] = {
            "collection": {key: 1},
            "story": {"stories": [{**BASE, key: 1}]},
            "image": {"stories": [{**BASE, "image": {**image, key: 1}}]},
            "credit": {"stories": [{**BASE, "image": {**image, "credit": {"holder": "ILO",
                                                                           key: 1}}}]},
            "link": {"stories": [{**BASE, "links": [{"url": "https://x.org/", "title": "X",
                                                     key: 1}]}]},
            "contact": {"contacts": [{"name": "Desk", "email": "a@b.org", key: 1}]},
        }[where]
        with pytest.raises(ValidationError) as err:  # (a field's name, given 1, is wrong too)
            collection_from_data(doc)
        e = err.value
        assert len(str(e).splitlines()) == 1 + len(e.errors)
        assert all(len(str(x).splitlines()) == 1 for x in e.errors)
        assert all(x.path.isprintable() and x.message.isprintable() for x in e.errors)

    def test_csv_cell_paths(self) -> None:
        """A short CSV row names a story column by its dotted name, any other header quoted."""
        from storykit.convert import unflatten_story

        errors: list[Any] = []
        unflatten_story({"image.url": None, "x\ny": None}, errors, "stories[0]", 3)
        assert [str(e) for e in errors] == [
            "line 3: stories[0].image.url: the row has fewer cells than the header",
            "line 3: stories[0]['x\\ny']: the row has fewer cells than the header",
        ]

    def test_values_and_types_with_line_breaks_in_their_repr(self) -> None:
        """An object whose repr, or whose class name, holds a line break stays on one line."""

        class Weird:
            def __repr__(self) -> str:
                return "<weird\nstories[9].title: fake>"

        odd = type("Odd\nstories[9].title: fake", (), {})
        with pytest.raises(ValidationError) as err:
            story(title=Weird(), summary=odd())
        assert len(str(err.value).splitlines()) == 3
        assert str(err.value.errors[0]) == (
            "title: must be a string (got Weird <weird\\nstories[9].title: fake>)")
        assert str(err.value.errors[1]).startswith(
            "summary: must be a string (got Odd\\nstories[9].title: fake <")


class TestTypes:
    """``null`` and numbers where strings belong are errors, never ``'None'`` text."""

    @pytest.mark.parametrize(("field", "value", "message"), [
        ("title", 5, "stories[0].title: must be a string (got int 5)"),
        ("title", True, "stories[0].title: must be a string (got bool True)"),
        ("summary", ["a"], "stories[0].summary: must be a string (got list ['a'])"),
        ("title", None, "stories[0].title: required field missing"),
        ("summary", None, "stories[0].summary: required field missing"),
        ("url", 5, "stories[0].url: must be a string (got int 5)"),
        ("id", 7, "stories[0].id: must be a string (got int 7)"),
        ("topics", [None], "stories[0].topics[0]: must be a string (got null)"),
        ("topics", [1.5], "stories[0].topics[0]: must be a string (got float 1.5)"),
        ("countries", [None], "stories[0].countries[0]: must be a string (got null)"),
        ("language", 1, "stories[0].language: must be a string (got int 1)"),
        ("image", "https://example.org/a.jpg",
         "stories[0].image: must be an image object (got str 'https://example.org/a.jpg')"),
    ])
    def test_wrong_types(self, field: str, value: Any, message: str) -> None:
        """A value of the wrong type names its type; null counts as missing."""
        with pytest.raises(ValidationError) as err:
            load_stories({**BASE, field: value})
        assert problems(err) == [message]
        assert "'None'" not in str(err.value)

    @pytest.mark.parametrize(("field", "value", "message"), [
        ("topics", 0, "stories[0].topics: must be a list (got int 0)"),
        ("topics", False, "stories[0].topics: must be a list (got bool False)"),
        ("links", {}, "stories[0].links: must be a list (got dict {})"),
        ("countries", "LK", "stories[0].countries: must be a list (got str 'LK')"),
    ])
    def test_falsy_values_are_not_absent(self, field: str, value: Any, message: str) -> None:
        """``0``, ``false`` and ``{}`` are wrong types, not a way to leave a field out."""
        with pytest.raises(ValidationError) as err:
            load_stories({**BASE, field: value})
        assert problems(err) == [message]

    def test_contact_zero_is_not_absent(self) -> None:
        """A contact's ``"phone": 0`` is an error, not a missing phone."""
        with pytest.raises(ValidationError) as err:
            MediaContact("Desk", email="a@b.org", phone=0)  # type: ignore[arg-type]
        assert problems(err) == ["phone: must be a string (got int 0)"]

    def test_null_optional_is_absent(self) -> None:
        """``null`` for an optional field means the field is absent."""
        s = load_stories({**BASE, "url": None, "image": None, "topics": None,
                          "language": None})[0]
        assert (s.url, s.image, s.topics, s.language) == (None, None, (), "en")

    def test_contact_null_fields(self) -> None:
        """Null contact fields stay None, never the text 'None'."""
        col = storykit.loads('{"contacts": [{"name": "Desk", "role": null, '
                             '"email": "a@b.org", "phone": null}]}')
        assert col.contacts[0] == MediaContact("Desk", email="a@b.org")


class TestValidationError:
    """``ValidationError``: a ValueError with every problem, one line each."""

    def test_is_a_value_error(self) -> None:
        """It subclasses ValueError, so ``except ValueError`` catches it."""
        assert issubclass(ValidationError, ValueError)
        assert storykit.ValidationError is ValidationError

    def test_str_and_records(self) -> None:
        """``str()`` is a header and one line per problem; ``.errors`` keeps each as data."""
        doc = [{**BASE, "id": f"s{i}"} for i in range(5)]
        doc[1]["title"] = " "
        doc[3]["published"] = "2021-02-30"
        doc[4]["countries"] = ["XX"]
        with pytest.raises(ValidationError) as err:
            storykit.loads(json.dumps(doc, indent=2), source="stories.json")
        assert str(err.value) == (
            "3 problems in stories.json\n"
            "  line 9, column 5: stories[1].title: ' ' is blank\n"
            "  line 22, column 5: stories[3].published: '2021-02-30' is not a valid date\n"
            "  line 32, column 7: stories[4].countries[0]: 'XX' is not an ISO 3166-1 alpha-2 "
            "country code")
        e = err.value.errors[1]
        assert (e.path, e.message, e.value, e.line, e.column) == (
            "stories[3].published", "'2021-02-30' is not a valid date", "2021-02-30", 22, 5)
        assert err.value.source == "stories.json"

    def test_one_problem_header(self) -> None:
        """One problem says ``1 problem``."""
        with pytest.raises(ValidationError) as err:
            story(published="2021-02-30")
        assert str(err.value) == "1 problem\n  published: '2021-02-30' is not a valid date"

    def test_every_problem_of_a_story_at_once(self) -> None:
        """All of a story's problems come in one raise."""
        with pytest.raises(ValidationError) as err:
            Story(title="", published="2021-02-30", summary="\x00", url="javascript:x",
                  countries=["XX"], language="?")
        assert [e.path for e in err.value.errors] == [
            "title", "published", "summary", "url", "countries[0]", "language"]

    def test_pickles(self) -> None:
        """It survives pickling (multiprocessing, logging handlers)."""
        with pytest.raises(ValidationError) as err:
            story(published="2021-02-30")
        again = pickle.loads(pickle.dumps(err.value))
        assert str(again) == str(err.value)
        assert again.errors == err.value.errors


class TestModelClasses:
    """The classes: frozen attrs classes with slots, equal by value."""

    @pytest.mark.parametrize("cls", [Story, Image, Credit, Link, MediaContact, Collection,
                                     Translation])
    def test_frozen_slots(self, cls: type) -> None:
        """Every model class is an attrs class with slots."""
        assert attrs.has(cls)
        assert "__slots__" in cls.__dict__

    def test_cannot_change(self) -> None:
        """Setting a field raises; ``attrs.evolve`` makes a checked copy."""
        s = story()
        with pytest.raises(attrs.exceptions.FrozenInstanceError):
            s.title = "x"  # type: ignore[misc]
        t = attrs.evolve(s, title="  Other  ")
        assert t.title == "Other"
        with pytest.raises(ValidationError):
            attrs.evolve(s, published="2021-02-30")

    @given(stories())
    def test_equal_and_hashable(self, s: Story) -> None:
        """A story equals one made from its own fields, with the same hash."""
        again = attrs.evolve(s)
        assert again == s
        assert hash(again) == hash(s)

    def test_link_and_translation(self) -> None:
        """Links and translations are checked too."""
        assert Link("https://voices.ilo.org/", " Voices ").title == "Voices"
        with pytest.raises(ValidationError) as err:
            Translation("français", "https://example.org/fr")
        assert problems(err) == [
            "language: 'français' is not a BCP 47 language tag (e.g. 'en', 'fr-CH')"]


class TestStrSubclasses:
    """Any ``str`` is text: a subclass gives its characters, kept as a plain ``str``."""

    def test_strenum_topic(self) -> None:
        """QA's case: a ``StrEnum`` topic is accepted and kept as its plain value."""

        class Topic(enum.StrEnum):
            JOBS = "jobs"

        s = Story(title="Decent jobs", published="2021-02-03", summary="s",
                  topics=[Topic.JOBS])
        assert s.topics == ("jobs",)
        assert type(s.topics[0]) is str

    def test_mixin_enum_keeps_its_value_not_its_str(self) -> None:
        """A ``(str, Enum)`` member, whose ``str()`` is ``Lang.FR``, gives its value ``fr``."""

        class Lang(str, enum.Enum):  # noqa: UP042 - the mixin, whose str() is not its value
            FR = "fr"

        s = story(language=Lang.FR)
        assert (s.language, type(s.language)) == ("fr", str)
        data = json.loads(storykit.dumps(Collection(language=Lang.FR, stories=[s]), "json"))
        assert (data["language"], data["stories"][0]["language"]) == ("fr", "fr")

    def test_markup_title_is_plain_text(self) -> None:
        """A markupsafe ``Markup`` title is text like any other: the page shows it escaped."""
        from markupsafe import Markup

        s = story(title=Markup("<b>Bees</b> &amp; honey"))
        assert (s.title, type(s.title)) == ("<b>Bees</b> &amp; honey", str)
        page = parse_html(storykit.dumps(Collection(stories=[s]), "html"))
        titles = [html_text(h) for h in page.iter("h2")]
        assert titles == ["<b>Bees</b> &amp; honey"]
        assert page.find(".//h2/b") is None

    def test_every_text_field(self) -> None:
        """Every field and nested object takes a ``str`` subclass and keeps plain ``str``."""

        class Sub(str):
            __slots__ = ()

        def sub(value: Any) -> Any:
            if isinstance(value, str):
                return Sub(value)
            if isinstance(value, dict):
                return {k: sub(v) for k, v in value.items()}
            if isinstance(value, list):
                return [sub(v) for v in value]
            return value

        data = {**BASE, "id": "a-song", "url": "https://www.ilo.org/a", "updated": "2021-02-04",
                "image": {"url": "https://www.ilo.org/a.jpg", "alt": "A singer",
                          "credit": "© Asitha Seneviratne 2021"},
                "topics": ["child labour"], "countries": ["lk"], "language": "EN-us",
                "links": [{"url": "https://voices.ilo.org/", "title": "Voices"}],
                "translations": [{"language": "fr", "url": "https://www.ilo.org/fr",
                                  "title": "Une chanson"}]}
        plain, subbed = Story(**data), Story(**sub(data))
        assert subbed == plain
        leaves: list[Any] = []

        def walk(value: Any) -> None:
            if isinstance(value, (tuple, list)):
                for v in value:
                    walk(v)
            elif attrs.has(type(value)):
                for f in attrs.fields(type(value)):
                    walk(getattr(value, f.name))
            else:
                leaves.append(value)

        walk(subbed)
        assert [type(x) for x in leaves if isinstance(x, str)] == [
            str for x in leaves if isinstance(x, str)]
        contact = MediaContact(Sub("Desk"), role=Sub("Press"), email=Sub("a@b.org"),
                               phone=Sub("+41 22 799 7912"), url=Sub("https://ilo.org/"))
        assert all(type(getattr(contact, f)) is str for f in MediaContact.FIELDS
                   if f != "organization")
        assert contact == MediaContact("Desk", role="Press", email="a@b.org",
                                       phone="+41 22 799 7912", url="https://ilo.org/")
        assert Credit.parse(Sub("© ILO 2021")) == Credit("ILO", Sub("2021"))  # type: ignore[arg-type]

    @given(st.text(max_size=30) | st.sampled_from(["2021-02-03", "2021-02-30", "en", "LK",
                                                    "https://x.org/", "a-b", " a ", "e\u0301"]),
           st.sampled_from(["id", "title", "summary", "url", "language", "published",
                            "updated", "topics", "countries"]))
    def test_any_subclass_value_equals_the_plain_result(self, value: str, field: str) -> None:
        """A ``str`` subclass of any text gives exactly the plain string's story or problems."""

        class Sub(str):
            __slots__ = ()

            def __str__(self) -> str:
                return "not the value"

        def build(v: str) -> tuple[Story | None, list[str]]:
            given = [v] if field in ("topics", "countries") else v
            try:
                return story(**{field: given}), []
            except ValidationError as e:
                return None, [str(x) for x in e.errors]

        assert build(Sub(value)) == build(value)
        got, _ = build(Sub(value))
        if got is not None:
            stored = getattr(got, field)
            for item in stored if isinstance(stored, tuple) else (stored,):
                assert type(item) is not Sub


def _load_with_a_format_typo(text: str) -> storykit.Collection:
    """Run in a worker process: a format name with a typo raises UnknownFormatError there."""
    return storykit.loads(text, format="jsn")


def _exception_examples() -> list[BaseException]:
    from storykit.email import EmailTemplateError, OutboxBusyError, SendError
    from storykit.errors import ErrorDetail, OptionError, PluginError, UnknownFormatError

    broken = PluginError("storykit-broken", "failed to load: ImportError: x",
                         distribution="storykit-broken 0.1")
    return [
        ValidationError([ErrorDetail("stories[3].published", "'2021-02-30' is not a valid date",
                                     "2021-02-30", 4)], "stories.json"),
        UnknownFormatError("jsn", ["json", "csv"]),
        UnknownFormatError("x", ["html"], kind="output file suffix", problems=[broken]),
        broken,
        PluginError("local", "has no register_exporters hook"),
        OptionError("html", "theme", "must be a string (got int 5)"),
        EmailTemplateError("email.html", "/themes/x/email.html", "lacks the marker"),
        SendError("smtp.example.org", 587, "connection refused"),
        OutboxBusyError(Path("/srv/outbox")),
    ]


class TestExceptionsPickle:
    """Every storykit exception survives pickle and copy with its message and attributes."""

    @pytest.mark.parametrize("make", ["pickle", "copy", "deepcopy"])
    def test_each_exception_class(self, make: str) -> None:
        """pickle, copy.copy and copy.deepcopy give the same class, message and attributes."""
        import copy

        remake = {"pickle": lambda e: pickle.loads(pickle.dumps(e)),
                  "copy": copy.copy, "deepcopy": copy.deepcopy}[make]
        for error in _exception_examples():
            again = remake(error)
            assert type(again) is type(error)
            assert str(again) == str(error)
            assert again.args == error.args
            # Nested exceptions (problems) compare by their message: exceptions have no __eq__.
            assert repr(vars(again)) == repr(vars(error))

    def test_attributes_set_later_survive(self) -> None:
        """A note added to any storykit exception (add_note) is kept by pickle."""
        for error in _exception_examples():
            error.add_note("while loading feeds.toml")
            again = pickle.loads(pickle.dumps(error))
            assert again.__notes__ == ["while loading feeds.toml"], type(error).__name__

    def test_every_option_error_has_its_message(self) -> None:
        """Every OptionError, the email template's too, has .message, its text after the
        format and option."""
        from storykit.errors import OptionError

        for error in _exception_examples():
            if isinstance(error, OptionError):
                assert error.message and error.message in str(error)

    @pytest.mark.concurrency
    def test_through_a_process_pool(self) -> None:
        """A format typo in a worker process reaches the caller whole, hint included."""
        from concurrent.futures import ProcessPoolExecutor

        from storykit.errors import UnknownFormatError

        with ProcessPoolExecutor(1) as pool:
            future = pool.submit(_load_with_a_format_typo, "{}")
            with pytest.raises(UnknownFormatError) as info:
                future.result()
        assert info.value.name == "jsn"
        assert "json" in info.value.available
        assert "did you mean 'json'?" in str(info.value)


class _Sub(str):
    """A ``str`` subclass whose ``str()`` is not its value: the model keeps its characters."""

    __slots__ = ()

    def __str__(self) -> str:
        return "not the value"


class _Topic(enum.StrEnum):
    JOBS = "jobs"


class TestStrSubclassStory:
    def test_subclass_values_give_plain_strings(self) -> None:
        """A story whose text comes as ``str`` subclasses is the story of the plain strings."""
        data: dict[str, Any] = {
            "id": _Sub("a"), "title": _Sub("A"), "published": _Sub("2021-02-03"),
            "summary": _Sub("S"), "url": _Sub("https://x.org/a"), "topics": [_Topic.JOBS],
            "countries": [_Sub("lk")], "language": _Sub("fr-ch"),
            "image": {"url": _Sub("https://x.org/a.jpg"), "alt": _Sub("Alt"),
                      "credit": _Sub("© ILO 2021")},
            "links": [{"url": _Sub("https://x.org/b"), "title": _Sub("B")}],
        }
        plain = {k: (v if not isinstance(v, str) else str.__str__(v)) for k, v in data.items()}
        story = Story(**data)
        assert story == Story(**plain)
        assert all(type(getattr(story, f)) is str for f in ("id", "title", "summary", "url"))
        assert [type(t) for t in story.topics] == [str]


class TestSlugRule:
    @given(st.text(st.sampled_from("az09-AZ_é\n "), max_size=8))
    def test_is_slug_is_the_slug_pattern(self, s: str) -> None:
        """The id rule says exactly what the slug pattern of DESIGN says."""
        from storykit import _rules as rules

        assert rules.is_slug(s) == (re.fullmatch(r"[a-z0-9]+(?:-[a-z0-9]+)*", s) is not None)
