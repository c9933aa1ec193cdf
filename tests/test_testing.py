"""storykit.testing: the strategies make every kind of value the model accepts, Keeps says what
a format keeps, and check_exporter / check_reader fail with an AssertionError that names the
story, the field and the values."""

from __future__ import annotations

import io
import json
import re
from collections.abc import Callable
from datetime import date, datetime, timedelta, timezone
from typing import Any, BinaryIO
from zoneinfo import ZoneInfo

import pytest
from hypothesis import Phase, find, given, settings
from hypothesis import strategies as st

import storykit
from storykit import Collection, Story
from storykit import _rules as rules
from storykit.errors import ErrorDetail
from storykit.testing import (
    EDGE_DATES,
    EDGE_URLS,
    Keeps,
    bodies,
    check_exporter,
    check_reader,
    collections,
    contacts,
    published,
    stories,
    text,
    urls,
    zones,
)

#: A deterministic search for an example: derandomised, no example database, so the same
#: draws every run (the suite never flakes on a rare value).
QUICK = settings(phases=[Phase.generate], database=None, derandomize=True, max_examples=2000)


def found(strategy: st.SearchStrategy[Any], condition: Callable[[Any], bool]) -> Any:
    """An example of ``strategy`` for which ``condition`` holds (or the test fails)."""
    return find(strategy, condition, settings=QUICK)


def _moment(when: date) -> bool:
    return isinstance(when, datetime)


class TestDates:
    """published() (and so stories()) makes every date the model accepts."""

    @pytest.mark.parametrize(("what", "condition"), [
        ("a plain date", lambda d: not _moment(d)),
        ("a date before year 1000", lambda d: not _moment(d) and d.year < 1000),
        ("a date before year 100 (a 'two-digit' year)", lambda d: d.year < 100),
        ("year 1", lambda d: d.year == 1),
        ("year 9999", lambda d: d.year == 9999),
        ("a datetime with microseconds", lambda d: _moment(d) and d.microsecond != 0),
        ("a datetime to the whole second", lambda d: _moment(d) and d.microsecond == 0
         and d.second != 0),
        ("a datetime in a zoneinfo zone", lambda d: _moment(d) and isinstance(d.tzinfo,
                                                                              ZoneInfo)),
        ("a datetime with fold=1", lambda d: _moment(d) and d.fold == 1),
        ("a half-hour offset west of UTC", lambda d: _moment(d) and d.utcoffset() is not None
         and d.utcoffset() < timedelta(0) and d.utcoffset() % timedelta(hours=1)),
        ("a quarter-hour offset", lambda d: _moment(d) and d.utcoffset() is not None
         and d.utcoffset() % timedelta(minutes=30) == timedelta(minutes=15)),
        ("the offset +14:00", lambda d: _moment(d) and d.utcoffset() == timedelta(hours=14)),
        ("the offset -14:00 on the last day of year 9999", lambda d: _moment(d)
         and (d.year, d.month, d.day) == (9999, 12, 31)
         and d.utcoffset() == -timedelta(hours=14)),
        ("the offset +14:00 on the first day of year 1", lambda d: _moment(d)
         and (d.year, d.month, d.day) == (1, 1, 1) and d.utcoffset() == timedelta(hours=14)),
    ])
    def test_makes(self, what: str, condition: Callable[[date], bool]) -> None:
        """Each kind of date a writer may get wrong is made (found by a fixed search)."""
        assert condition(found(published(), condition)), what

    @given(published())
    def test_every_date_is_one_the_model_takes(self, when: date) -> None:
        """Every date made is valid, and the model keeps its moment (a named zone becomes its
        fixed offset on that day)."""
        kept = rules.published(when)
        assert kept.replace(tzinfo=None) == when.replace(tzinfo=None) if _moment(when) \
            else kept == when
        if _moment(when):
            assert isinstance(kept, datetime) and kept.utcoffset() == when.utcoffset()

    def test_edge_dates_are_valid(self) -> None:
        """The edge dates are ones the model takes as they are."""
        for when in EDGE_DATES:
            assert rules.published(when) == when

    @given(bodies())
    def test_every_body_is_one_the_model_takes(self, body: str) -> None:
        """Every body made is one the model takes (it refused U+FFFE, drawn now and then)."""
        Story(title="T", summary="S", published="2021-02-03", body=body)  # (no ValidationError)

    def test_zones_include_named_zones(self) -> None:
        """zones() makes zoneinfo zones beside fixed offsets (with a time-zone database)."""
        zone = found(zones(), lambda z: isinstance(z, ZoneInfo))
        assert isinstance(zone, ZoneInfo)
        assert isinstance(found(zones(), lambda z: isinstance(z, timezone)), timezone)


class TestValues:
    """stories(), contacts(), urls() and text() make every kind of value the model takes."""

    @pytest.mark.parametrize(("what", "condition"), [
        ("no body", lambda s: s.body is None),
        ("a body", lambda s: s.body is not None),
        ("no URL", lambda s: s.url is None),
        ("a picture without credit", lambda s: s.image is not None and s.image.credit is None),
        ("a picture with a dated credit", lambda s: s.credit is not None
         and s.credit.year is not None),
        ("no topics", lambda s: s.topics == ()),
        ("several countries", lambda s: len(s.countries) >= 2),
        ("links", lambda s: len(s.links) >= 1),
        ("a translation without title", lambda s: any(t.title is None for t in s.translations)),
        ("a translation with a title", lambda s: any(t.title for t in s.translations)),
        ("an updated date", lambda s: s.updated is not None),
        ("a summary of over 4,096 characters", lambda s: len(s.summary) > 4096),
        ("a multi-line summary", lambda s: "\n\n" in s.summary),
        ("an astral character in the title", lambda s: any(ord(c) > 0xFFFF for c in s.title)),
        ("a private-use character", lambda s: any(0xE000 <= ord(c) <= 0xF8FF
                                                  for c in s.title + s.summary)),
        ("a language tag with a script", lambda s: re.search(r"-[A-Z][a-z]{3}\b", s.language)),
        ("the longest id", lambda s: len(s.id) == rules.MAX_ID),
    ])
    def test_stories_make(self, what: str, condition: Callable[[Story], bool]) -> None:
        """Each optional field is sometimes missing and sometimes set, and text and dates
        reach the model's edges."""
        assert condition(found(stories(), condition)), what

    @pytest.mark.parametrize("url", EDGE_URLS)
    def test_edge_urls_are_made_and_valid(self, url: str) -> None:
        """Each edge URL (port, IPv6, IRI, long) is one the model keeps as it is, and
        urls() makes it."""
        assert rules.url(url) == url
        assert found(urls(), lambda u: u == url) == url

    def test_text_reaches_the_astral_planes(self) -> None:
        """One-line text holds astral characters and noncharacters the model takes."""
        assert found(text(), lambda t: any(ord(c) > 0xFFFF for c in t))
        assert found(text(), lambda t: "\ufdd0" in t)

    def test_contacts_without_role_or_organisation(self) -> None:
        """A contact's optional role and organisation are sometimes missing."""
        c = found(contacts(), lambda c: c.role is None and c.organization is None)
        assert c.role is None and c.organization is None

    def test_collections_make_empty_and_full(self) -> None:
        """A collection may have no stories, no description, and contacts."""
        assert len(found(collections(), lambda c: len(c) == 0)) == 0
        full = found(collections(), lambda c: c.description is None and c.contacts)
        assert full.description is None and full.contacts


class TestKeeps:
    """Keeps: what a format keeps, and the precise message when a reading differs."""

    MOMENT = datetime(2021, 2, 3, 9, 30, 15, 123456, tzinfo=timezone(timedelta(hours=5,
                                                                                minutes=45)))

    @pytest.mark.parametrize(("timespec", "microsecond"), [
        ("microseconds", 123456), ("milliseconds", 123000), ("seconds", 0)])
    def test_date(self, timespec: str, microsecond: int) -> None:
        """A datetime is cut (not rounded) to the timespec; a plain date is left alone."""
        keeps = Keeps(timespec=timespec)
        assert keeps.date(self.MOMENT) == self.MOMENT.replace(microsecond=microsecond)
        assert keeps.date(self.MOMENT).utcoffset() == self.MOMENT.utcoffset()
        assert keeps.date(date(1, 1, 1)) == date(1, 1, 1)

    def test_noncharacters(self) -> None:
        """noncharacters=False: each of the 66 noncharacters becomes U+FFFD, nothing else."""
        keeps = Keeps(noncharacters=False)
        assert keeps.text("a\ufdd0b\U0010ffff\ue000") == "a\ufffdb\ufffd\ue000"
        assert Keeps().text("a\ufdd0b") == "a\ufdd0b"

    def test_story_and_collection(self) -> None:
        """Every date and every text of a story (image, links, ...) and of a collection (its
        title, contacts) is kept as the format keeps it."""
        story = Story(title="T\ufdd0", published=self.MOMENT, summary="S", updated=self.MOMENT,
                      image={"url": "https://e.org/a.jpg", "alt": "A\ufdd0"},
                      links=[{"url": "https://e.org/", "title": "L\ufdd0"}])
        keeps = Keeps(timespec="seconds", noncharacters=False)
        kept = keeps.story(story)
        assert (kept.title, kept.image and kept.image.alt, kept.links[0].title) == (
            "T\ufffd", "A\ufffd", "L\ufffd")
        assert kept.published == kept.updated == self.MOMENT.replace(microsecond=0)
        col = keeps.collection(Collection(title="C\ufdd0", stories=[story], contacts=[
            {"name": "N\ufdd0", "email": "a@example.org"}]))
        assert (col.title, col.contacts[0].name, col.stories[0]) == ("C\ufffd", "N\ufffd", kept)

    def test_bad_arguments(self) -> None:
        """An unknown field or timespec is refused at once, naming the choices."""
        with pytest.raises(ValueError, match="'headline' is not a Story field"):
            Keeps(fields=("title", "headline"))
        with pytest.raises(ValueError, match="timespec must be one of"):
            Keeps(timespec="minutes")

    def test_assert_kept_names_story_field_and_values(self) -> None:
        """A difference names the story (place and id), the field and both values; fields
        the format does not carry are not compared."""
        written = [Story(id="a", title="A", published="2021-02-03", summary="S"),
                   Story(id="b", title="B", published=self.MOMENT, summary="S")]
        read = [written[0], Story(id="b", title="B", published=self.MOMENT.replace(
            microsecond=0), summary="Other")]
        with pytest.raises(AssertionError) as e:
            Keeps(fields=("title", "published")).assert_kept(written, read)
        message = str(e.value)
        assert "story 1 ('b'): published: wrote datetime.datetime(2021, 2, 3, 9, 30, 15, " \
               "123456" in message
        assert "read back datetime.datetime(2021, 2, 3, 9, 30, 15, tzinfo" in message
        assert "summary" not in message and "story 0" not in message
        Keeps(timespec="seconds", fields=("title", "published")).assert_kept(written, read)

    def test_assert_kept_counts(self) -> None:
        """A story missing from what was read back is named by the ids."""
        story = Story(id="a", title="A", published="2021-02-03", summary="S")
        with pytest.raises(AssertionError, match=r"read back 0 stories of the 1 written "
                                                 r"\(ids written: \['a'\]; read: \[\]\)"):
            Keeps().assert_kept([story], [])


# --- check_exporter's messages ------------------------------------------------------------------


class _Exporter:
    """A small exporter for the checks: one line per story, its id and date."""

    name = "lines"
    media_type = "text/plain"
    suffix = ".txt"
    description = "One line per story."
    options_type = None

    def line(self, story: Story) -> str:
        return f"{story.id} {story.published.isoformat()}\n"

    def write(self, collection: Collection, out: BinaryIO, **options: Any) -> None:
        for story in collection:
            out.write(self.line(story).encode())


class _OldDatesFail(_Exporter):
    """Fails on a year before 1000, as a writer with a four-digit date pattern might."""

    def line(self, story: Story) -> str:
        if story.published.year < 1000:
            raise ValueError(f"year {story.published.year} is out of range")
        return super().line(story)


class _Clock(_Exporter):
    """Writes a counter: equal input, other output."""

    calls = 0

    def write(self, collection: Collection, out: BinaryIO, **options: Any) -> None:
        _Clock.calls += 1
        out.write(f"written #{_Clock.calls}\n".encode())
        super().write(collection, out)


class _BadStream(_Exporter):
    """Streams, but write_stream() takes the wrong arguments (a TypeError)."""

    streams = True

    def write_stream(self, collection: Collection, out: BinaryIO) -> None:
        self.write(collection, out)


class TestCheckExporterMessages:
    def test_a_failing_field_is_named_with_its_value(self) -> None:
        """write() raising for one story: the message names that story, the field whose
        value makes it fail, the value, and a value that writes."""
        with pytest.raises(AssertionError) as e:
            check_exporter(_OldDatesFail(), max_examples=200)
        message = str(e.value)
        assert message.startswith("lines: write() raised ValueError: year ")
        assert re.search(r"story \d+ \('[a-z0-9-]+'\) of \d+, for published=datetime\.date\(",
                         message), message
        assert "(it writes with published=datetime.date(2021, 2, 3))" in message

    def test_different_output_shows_where(self) -> None:
        """Equal input, other bytes: the message gives the byte and the two outputs there."""
        with pytest.raises(AssertionError) as e:
            check_exporter(_Clock(), max_examples=5)
        assert re.search(r"equal input gave different output \(no clocks, no random ids\): "
                         r"they differ at byte \d+ .*b'written #\d+", str(e.value)), str(e.value)

    def test_write_stream_raising_is_an_assertion(self) -> None:
        """write_stream() raising TypeError fails the check with AssertionError naming it (a
        TypeError came out of check_exporter, whose docstring promises AssertionError)."""
        with pytest.raises(AssertionError, match=r"lines: write_stream\(\) raised TypeError"):
            check_exporter(_BadStream(), max_examples=5)

    def test_a_sound_exporter_passes(self) -> None:
        """The simple exporter keeps the contract over every date the strategy makes."""
        check_exporter(_Exporter(), max_examples=30)


# --- check_reader(keeps=...) --------------------------------------------------------------------


class _SecondsReader:
    """Reads storykit's JSON, but keeps datetimes to the second only."""

    name = "seconds"
    suffixes = (".json",)
    media_types = ("application/json",)
    description = "JSON, whole seconds."
    options_type = None
    input = "stream"

    def read(self, source: BinaryIO) -> Collection:
        data = source.read()
        try:
            doc = json.loads(data)
            for story in doc["stories"]:
                for key in ("published", "updated"):
                    if isinstance(story.get(key), str) and "." in story[key]:
                        story[key] = re.sub(r"\.\d+", "", story[key])
        except (ValueError, TypeError, KeyError, AttributeError) as e:
            problem = ErrorDetail("", f"not the JSON this reads: {e}")
            raise storykit.ValidationError([problem]) from e
        return storykit.loads(json.dumps(doc).encode(), "json")


class TestCheckReaderKeeps:
    def test_a_lost_digit_is_named(self) -> None:
        """With keeps, a reader that drops microseconds fails naming the story and field."""
        with pytest.raises(AssertionError) as e:
            check_reader(_SecondsReader(), writer="json", keeps=Keeps(), max_examples=200)
        message = str(e.value)
        assert message.startswith("seconds: read back what 'json' wrote, but what was read "
                                  "back differs from what was written:\nstory ")
        assert re.search(r"(published|updated): wrote datetime\.datetime\(.*, read back "
                         r"datetime\.datetime\(", message), message

    def test_stated_precision_passes(self) -> None:
        """The same reader passes once its test states it keeps whole seconds."""
        check_reader(_SecondsReader(), writer="json", keeps=Keeps(timespec="seconds"),
                     max_examples=30)

    def test_keeps_a_stream_roundtrip_through_io(self) -> None:
        """(The reader reads what storykit's JSON writes, as a plain stream.)"""
        col = Collection(title="C", stories=[Story(title="T", published="2021-02-03",
                                                   summary="S")])
        assert _SecondsReader().read(io.BytesIO(storykit.dumps(col, "json"))) == col


class _BadSniffer(_SecondsReader):
    """sniff() raises on bytes it cannot decode, where it should say False."""

    def sniff(self, head: bytes) -> bool:
        return head.decode("utf-8").lstrip().startswith("{")


def test_check_reader_sniff_raising_is_an_assertion() -> None:
    """sniff() raising UnicodeDecodeError fails check_reader with an AssertionError naming
    sniff() and the bytes (it came out as the UnicodeDecodeError itself)."""
    with pytest.raises(AssertionError, match=r"seconds: sniff\(\) raised UnicodeDecodeError"):
        check_reader(_BadSniffer(), max_examples=5)
