"""The rule functions under the model, checked as properties over many inputs."""

from __future__ import annotations

import enum
import re
from datetime import date, datetime, timedelta, timezone

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from storykit import Story, ValidationError
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
        ("Доклад 2021", "doklad-2021"),
        ("Ελληνικά νέα 2021", "ellenika-nea-2021"),
        ("Straße", "strasse"),
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


class TestStrSubclasses:
    """Every rule takes any ``str`` and returns a plain ``str``: a subclass is its characters."""

    class Sub(str):
        __slots__ = ()

        def __str__(self) -> str:
            return "something else"

    @given(st.text(max_size=40) | st.sampled_from(["en", "fr-ch", "LK", "2021-02-03", "a-b",
                                                    "https://x.org/", "+41 22 799 7912",
                                                    "a@b.org", "© ILO 2021", "2021"]),
           st.sampled_from(["text", "optional_text", "slug", "url", "country", "language",
                            "email", "phone", "published", "credit_year", "parse_credit",
                            "credit_holder", "must_be_str"]))
    def test_subclass_gives_the_plain_verdict(self, value: str, rule: str) -> None:
        """A ``str`` subclass gets exactly the plain string's result, or its message."""
        check = getattr(rules, rule)

        def verdict(v: str) -> object:
            try:
                return ("ok", check(v))
            except rules.Invalid as e:
                return ("invalid", e.message)

        got, plain = verdict(self.Sub(value)), verdict(value)
        assert got == plain
        for x in got if isinstance(got, tuple) else ():
            assert type(x) is not self.Sub
            for y in x if isinstance(x, tuple) else ():
                assert type(y) is not self.Sub

    def test_mixin_enum_gives_its_value(self) -> None:
        """A ``(str, Enum)`` member gives its value, not its ``str()`` (``Lang.FR``)."""

        class Lang(str, enum.Enum):  # noqa: UP042 - the mixin, whose str() is not its value
            FR = "fr"

        assert str(Lang.FR) != "fr"
        assert rules.language(Lang.FR) == "fr"
        assert type(rules.must_be_str(Lang.FR)) is str

    @pytest.mark.parametrize("value", [b"en", 5, None, ["en"]])
    def test_non_strings_refused(self, value: object) -> None:
        """Bytes, numbers, null and lists are still not text."""
        with pytest.raises(rules.Invalid, match=r"^must be a string \(got "):
            rules.must_be_str(value)


class TestOneLine:
    """``one_line``: what goes into a message never breaks the line."""

    @given(st.text(st.characters(codec=None, categories=None), max_size=40))
    def test_one_printable_line(self, s: str) -> None:
        """Any text comes out printable, on one line, unchanged when it already was."""
        got = rules.one_line(s)
        assert got.isprintable()
        assert len(got.splitlines()) <= 1
        if s.isprintable():
            assert got == s

    @given(st.text(st.characters(codec=None, categories=None), max_size=200))
    def test_describe_is_one_line(self, s: str) -> None:
        """A value quoted in a message is one printable line, whatever it holds."""
        assert rules._describe(s).isprintable()
        assert rules._describe(s.encode("utf-8", "surrogatepass")).isprintable()


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


class TestEmail:
    """``email``: checked and normalised by email-validator, without DNS."""

    @given(st.emails())
    def test_accepted_addresses_round_trip(self, address: str) -> None:
        """An accepted address is normalised once: checking it again gives it back."""
        try:
            normal = rules.email(address)
        except rules.Invalid:
            return  # (Hypothesis' emails() include forms that email-validator refuses)
        assert rules.email(normal) == normal
        assert normal.count("@") == 1

    @pytest.mark.parametrize(("address", "normal"), [
        ("press@ilo.org", "press@ilo.org"),
        ("Press@ILO.ORG", "Press@ilo.org"),
        ("presse@bücher.de", "presse@bücher.de"),
        ("presse@xn--bcher-kva.de", "presse@bücher.de"),
        ("  desk@example.org ", "desk@example.org"),
    ])
    def test_internationalised_domains(self, address: str, normal: str) -> None:
        """IDNA domains are accepted, in Unicode or punycode, and normalised to Unicode."""
        assert rules.email(address) == normal

    @pytest.mark.parametrize("address", [
        "desk@", "@example.org", "a b@example.org", "desk@example", "desk@@example.org",
        "=?utf-8?q?a?=@example.org", "x" * 250 + "@example.org"])
    def test_refused(self, address: str) -> None:
        """Malformed addresses (and encoded words) are refused, quoting the value."""
        with pytest.raises(rules.Invalid) as err:
            rules.email(address)
        assert repr(address.strip())[:20] in err.value.message


class TestOffsets:
    """``published``: UTC offsets are whole minutes, as RFC 3339 has them."""

    @given(st.integers(-14 * 3600, 14 * 3600))
    def test_seconds_refused(self, seconds: int) -> None:
        """An offset with seconds is refused; a whole-minute one is kept."""
        when = datetime(2021, 2, 3, 10, tzinfo=timezone(timedelta(seconds=seconds)))
        if seconds % 60:
            with pytest.raises(rules.Invalid, match="whole minutes"):
                rules.published(when)
        else:
            assert rules.published(when) == when

    @pytest.mark.parametrize(("offset", "shown"), [("+14:01", "+14:01"), ("-23:59", "-23:59")])
    def test_beyond_fourteen_hours_refused(self, offset: str, shown: str) -> None:
        """Offsets beyond ±14:00 (no time zone has one; XML Schema refuses them) are refused."""
        with pytest.raises(rules.Invalid, match=f"offset of \\{shown}; offsets run from"):
            rules.published(f"2021-02-03T10:00:00{offset}")
        assert rules.published("2021-02-03T10:00:00-14:00").utcoffset() == timedelta(hours=-14)

    @pytest.mark.parametrize(("text", "said"), [
        ("0001-01-01T13:59:59+14:00", "before year 1"),
        ("9999-12-31T23:59:59-14:00", "after year 9999"),
        ("9999-12-31T10:00:00-14:00", "after year 9999"),
    ])
    def test_an_instant_outside_utc_years_1_to_9999_is_refused(self, text: str,
                                                                said: str) -> None:
        """A moment whose UTC instant is in year 0 or 10000 is refused with what is wrong:
        every feed reader (feedparser read none of them back), database and mail client
        converts to UTC. The last instants inside the range are kept."""
        with pytest.raises(rules.Invalid, match=f"{said} in UTC"):
            rules.published(text)
        with pytest.raises(ValidationError, match=f"published: .*{said} in UTC"):
            Story(title="T", summary="S", published=text)
        for kept in ("0001-01-01T14:00:00+14:00", "9999-12-31T09:59:59.999999-14:00"):
            assert rules.published(kept).isoformat() == kept

    @pytest.mark.parametrize("fold", [0, 1])
    def test_named_zone_becomes_its_offset(self, fold: int) -> None:
        """A datetime in a named zone, even in its repeated hour (Chatham's clocks went back
        at 03:45 on 1999-03-21), becomes the same moment with a fixed offset: the story then
        equals itself read back from JSON (PEP 495 made the zoned one unequal to it)."""
        from zoneinfo import ZoneInfo

        import storykit

        when = datetime(1999, 3, 21, 2, 45, fold=fold, tzinfo=ZoneInfo("Pacific/Chatham"))
        got = rules.published(when)
        assert isinstance(got, datetime)
        assert type(got.tzinfo) is timezone and got.fold == 0
        assert got.utcoffset() == when.utcoffset()
        assert got.replace(tzinfo=None) == when.replace(tzinfo=None)
        col = storykit.Collection(stories=[storykit.Story(title="T", published=when,
                                                          summary="S")])
        assert storykit.loads(storykit.dumps(col, "json"), "json") == col

    def test_text_with_seconds_refused(self) -> None:
        """'+05:30:15' in a file is refused; '+05:30' and dates are not."""
        with pytest.raises(rules.Invalid, match="with seconds"):
            rules.published("2021-02-03T10:00:00+05:30:15")
        assert rules.published("2021-02-03T10:00:00+05:30").utcoffset() == timedelta(
            hours=5, minutes=30)
        assert rules.published("2021-02-03") == date(2021, 2, 3)
