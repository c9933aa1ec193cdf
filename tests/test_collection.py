"""Collection: the sequence protocol and the pure operations, on the example and on Hypothesis
collections."""

from __future__ import annotations

import csv
import enum
import io
import json
import unicodedata
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any, Literal

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

import storykit
import storykit._countries
from storykit import Collection, Story, ValidationError
from storykit.model import instant
from storykit.testing import collections, contacts, stories

META = ("title", "description", "url", "language", "contacts")


def meta(col: Collection) -> tuple[Any, ...]:
    return tuple(getattr(col, name) for name in META)


def make(*items: dict[str, Any], **metadata: Any) -> Collection:
    base = {"published": "2021-02-03", "summary": "s"}
    return Collection(stories=[{**base, **item} for item in items], **metadata)


@st.composite
def colliding(draw: st.DrawFn) -> Collection:
    """Collections whose stories often share URLs, for dedupe."""
    col = draw(collections(max_size=10))
    pool = ["https://example.org/a", "https://example.org/b", None]
    return col.replace(attrs.evolve(s, url=draw(st.sampled_from(pool))) for s in col)


class TestSequence:
    """``len``, iteration, indexing by position, lookup by id, slicing."""

    def test_len_and_iter(self, example: Collection) -> None:
        """A collection has a length and iterates over its stories in order."""
        assert len(example) == 10
        assert list(example) == list(example.stories)
        assert all(isinstance(s, Story) for s in example)

    def test_index(self, example: Collection) -> None:
        """An int index gives a story; negative indexes count from the end."""
        assert example[0].title == "Can digital labour platforms create fair competition and " \
                                   "decent jobs?"
        assert example[-1].title == "Bees - A remedy for business success"
        with pytest.raises(IndexError):
            example[10]

    def test_lookup_by_id(self, example: Collection) -> None:
        """A string index looks a story up by id; ``in`` and ``get`` work with ids."""
        s = example["a-song-to-let-children-fly"]
        assert s.title == "A song to let children fly"
        assert "a-song-to-let-children-fly" in example
        assert s in example
        assert example.get("a-song-to-let-children-fly") is s
        assert example.get("nope") is None

    def test_the_id_index_is_not_a_field(self, example: Collection) -> None:
        """``attrs.asdict()`` and ``attrs.fields()`` give the six fields of DESIGN, not the
        lookup index; a pickled collection looks stories up by id as the original does."""
        import pickle

        assert list(attrs.asdict(example, recurse=False)) == list(Collection.FIELDS)
        assert tuple(f.name for f in attrs.fields(Collection)) == Collection.FIELDS
        copy = pickle.loads(pickle.dumps(example))
        assert copy == example
        assert copy["a-song-to-let-children-fly"] == example["a-song-to-let-children-fly"]
        assert "nope" not in copy and copy.get("nope") is None

    def test_missing_id_suggests(self, example: Collection) -> None:
        """A missing id raises KeyError naming it, with the nearest id."""
        with pytest.raises(KeyError) as err:
            example["a-song-to-let-children-fli"]
        assert err.value.args[0] == ("no story with id 'a-song-to-let-children-fli'; "
                                     "did you mean 'a-song-to-let-children-fly'?")

    def test_slice_is_a_collection(self, example: Collection) -> None:
        """A slice is a Collection with the same metadata."""
        part = example[2:5]
        assert isinstance(part, Collection)
        assert part.stories == example.stories[2:5]
        assert meta(part) == meta(example)

    def test_empty(self) -> None:
        """An empty collection has length 0 and default metadata."""
        col = Collection()
        assert len(col) == 0
        assert list(col) == []
        assert (col.title, col.language) == ("Stories", "en")

    def test_ids(self, example: Collection) -> None:
        """``ids`` lists the ids in order."""
        assert example.ids[4] == "a-song-to-let-children-fly"
        assert len(set(example.ids)) == 10


class TestFilter:
    """``filter``: every criterion given must match."""

    def test_topic_case_insensitive(self, example: Collection) -> None:
        """A topic matches case-insensitively; several topics match any of them."""
        assert example.filter(topic="Child Labour").ids == (
            "a-song-to-let-children-fly", "child-labour-in-myanmars-jade-mines-is-a-deadly-gamble")
        assert len(example.filter(topic=["child labour", "skills"])) == 4

    def test_country(self, example: Collection) -> None:
        """A country code matches in any case."""
        assert example.filter(country="lk").ids == ("a-song-to-let-children-fly",)
        assert len(example.filter(country=["LK", "MM"])) == 2

    def test_unknown_country(self, example: Collection) -> None:
        """An unknown country code is a ValueError naming it."""
        with pytest.raises(ValueError, match=r"'XX' is not an ISO 3166-1 alpha-2 country code"):
            example.filter(country="XX")

    def test_date_window_inclusive(self, example: Collection) -> None:
        """``since`` and ``until`` include their own day."""
        got = example.filter(since="2021-02-01", until=date(2021, 2, 11))
        assert [s.published for s in got] == [date(2021, 2, 11), date(2021, 2, 3),
                                              date(2021, 2, 1)]

    def test_bad_bound(self, example: Collection) -> None:
        """A bad date bound is a ValueError naming the bound."""
        with pytest.raises(ValueError, match=r"^since: '2021-02-30' is not a valid date$"):
            example.filter(since="2021-02-30")

    def test_datetime_bound(self) -> None:
        """An aware datetime bound compares instants; date stories count from midnight UTC."""
        col = make({"id": "morning", "title": "M", "published": "2021-02-03T08:00:00+00:00"},
                   {"id": "evening", "title": "E", "published": "2021-02-03T20:00:00+01:00"},
                   {"id": "day", "title": "D", "published": "2021-02-03"})
        noon = datetime(2021, 2, 3, 12, tzinfo=UTC)
        assert col.filter(since=noon).ids == ("evening",)
        assert col.filter(until=noon).ids == ("morning", "day")
        assert col.filter(since="2021-02-03", until="2021-02-03").ids == col.ids

    def test_text(self, example: Collection) -> None:
        """``text`` looks in titles and summaries, case-insensitively."""
        assert example.filter(text="VOICES").ids == (
            "a-song-to-let-children-fly", "from-prison-to-a-better-life",
            "child-labour-in-myanmars-jade-mines-is-a-deadly-gamble")
        assert example.filter(text="bees").ids == ("bees-a-remedy-for-business-success",)

    def test_language_prefix(self) -> None:
        """``language="fr"`` matches ``fr`` and ``fr-CH`` but not ``fro``."""
        col = make({"title": "A", "language": "fr"}, {"title": "B", "language": "fr-CH"},
                   {"title": "C", "language": "fro"}, {"title": "D"})
        assert col.filter(language="fr").ids == ("a", "b")
        assert col.filter(language="FR-ch").ids == ("b",)

    def test_where_and_combination(self, example: Collection) -> None:
        """A predicate combines with the other criteria (all must match)."""
        got = example.filter(topic="child labour", where=lambda s: s.published.day == 21)
        assert got.ids == ("child-labour-in-myanmars-jade-mines-is-a-deadly-gamble",)

    def test_no_criteria(self, example: Collection) -> None:
        """No criteria keeps everything."""
        assert example.filter() == example

    @given(collections(), st.data())
    def test_never_adds(self, col: Collection, data: st.DataObject) -> None:
        """A filter keeps a subsequence of the stories, in order, with the metadata."""
        topics = sorted({t for s in col for t in s.topics}) or ["none"]
        kw: dict[str, Any] = data.draw(st.fixed_dictionaries({}, optional={
            "topic": st.sampled_from(topics),
            "since": st.dates(date(1990, 1, 1), date(2036, 1, 1)),
            "until": st.dates(date(1990, 1, 1), date(2036, 1, 1)),
            "text": st.sampled_from(["a", "e", "é", "<"]),
            "where": st.just(lambda s: len(s.title) % 2 == 0),
        }))
        got = col.filter(**kw)
        ids = iter(col.ids)
        assert all(i in ids for i in got.ids)  # a subsequence, order kept
        assert meta(got) == meta(col)
        assert col.filter(**kw) == got  # pure: the original is unchanged


class TestFilterQueries:
    """``filter``'s text criteria compare as stories hold text: NFC, any ``str``."""

    def test_decomposed_query_finds_composed_story(self) -> None:
        """QA's case: ``"Cafe\\u0301"`` finds "Café", ``"E\\u0301conomie"`` the topic "Économie"."""
        col = Collection(stories=[Story(title="Café culture", published="2021-02-03",
                                        summary="s", topics=["Économie"])])
        assert col.filter(text="Cafe\u0301").ids == ("cafe-culture",)
        assert col.filter(topic="E\u0301conomie").ids == ("cafe-culture",)
        assert col.filter(topic=["jobs", "E\u0301CONOMIE"]).ids == ("cafe-culture",)
        assert col.filter(text="cafe\u0301 CULTURE").ids == ("cafe-culture",)
        assert col.filter(text="Cafe").ids == ()  # "e" is not "é": no accent folding

    @given(stories(), st.sampled_from(["NFC", "NFD"]))
    def test_any_canonical_form_of_a_topic_or_title_finds_the_story(
            self, s: Story, form: Literal["NFC", "NFD"]) -> None:
        """A story's title, and each of its topics, in NFC or NFD, finds the story."""
        col = Collection(stories=[s])
        assert col.filter(text=unicodedata.normalize(form, s.title)).ids == (s.id,)
        for topic in s.topics:
            assert col.filter(topic=unicodedata.normalize(form, topic)).ids == (s.id,)

    def test_str_subclass_criteria(self) -> None:
        """``StrEnum`` and ``(str, Enum)`` members work as criteria, as their plain values do."""

        class Topic(enum.StrEnum):
            JOBS = "jobs"

        class Lang(str, enum.Enum):  # noqa: UP042 - the mixin, whose str() is not its value
            FR = "fr"

        col = make({"id": "a", "title": "A", "language": "fr", "topics": ["Jobs"]},
                   {"id": "b", "title": "B", "language": "en"})
        assert col.filter(language=Lang.FR).ids == ("a",)
        assert col.filter(topic=Topic.JOBS).ids == ("a",)
        assert col.filter(topic=[Topic.JOBS]).ids == ("a",)
        assert col.filter(text=Topic.JOBS).ids == ()  # (the topic is not in title or summary)

    def test_non_text_query(self) -> None:
        """A topic or text that is not a string is a ValueError naming the criterion."""
        col = make({"title": "A"})
        with pytest.raises(ValueError, match=r"^filter\(text=\.\.\.\): must be a string "
                                             r"\(got int 5\)$"):
            col.filter(text=5)  # type: ignore[arg-type]
        with pytest.raises(ValueError, match=r"^filter\(topic=\.\.\.\): must be a string"):
            col.filter(topic=[None])  # type: ignore[list-item]


class TestSort:
    """``sort``: stable, ties broken by id, any field or function."""

    def test_by_published(self, example: Collection) -> None:
        """Oldest first by default, newest first with ``reverse``."""
        assert example.sort()[0].published == date(2021, 1, 15)
        assert example.sort(reverse=True).stories == example.stories

    def test_by_title(self, example: Collection) -> None:
        """Titles sort case-insensitively."""
        titles = [s.title for s in example.sort("title")]
        assert titles == sorted(titles, key=str.casefold)

    def test_ties_by_id(self) -> None:
        """Stories with one date come in id order, whatever the input order."""
        col = make({"id": "c", "title": "C"}, {"id": "a", "title": "A"},
                   {"id": "b", "title": "B", "published": "2021-01-01"})
        assert col.sort().ids == ("b", "a", "c")
        assert col.sort(reverse=True).ids == ("a", "c", "b")

    def test_datetimes_and_dates_together(self) -> None:
        """Dates and aware datetimes sort on one time line (a date is midnight UTC)."""
        col = make({"id": "late", "title": "L", "published": "2021-02-03T00:30:00+00:00"},
                   {"id": "early", "title": "E", "published": "2021-02-03T00:30:00+01:00"},
                   {"id": "day", "title": "D", "published": "2021-02-03"})
        assert col.sort().ids == ("early", "day", "late")

    def test_unknown_key(self, example: Collection) -> None:
        """An unknown field name says what can be used."""
        with pytest.raises(ValueError) as err:
            example.sort("date")  # type: ignore[arg-type]
        assert str(err.value) == ("cannot sort by 'date' (choose published, updated, title or "
                                  "id, or give a function)")

    @given(collections(max_size=10), st.randoms(use_true_random=False),
           st.sampled_from(["published", "title", "id", "updated"]), st.booleans())
    def test_stable_and_deterministic(self, col: Collection, rnd: Any, by: Any,
                                      reverse: bool) -> None:
        """Sorting any order of the same stories gives one result, sorted, ties by id."""
        got = col.sort(by, reverse=reverse)
        shuffled = list(col)
        rnd.shuffle(shuffled)
        assert col.replace(shuffled).sort(by, reverse=reverse) == got
        assert got.sort(by, reverse=reverse) == got
        assert sorted(got.ids) == sorted(col.ids)
        assert meta(got) == meta(col)
        key = {"published": lambda s: instant(s.published),
               "updated": lambda s: instant(s.updated or s.published),
               "title": lambda s: s.title.casefold(), "id": lambda s: s.id}[by]
        for a, b in zip(got, got.stories[1:], strict=False):
            if key(a) == key(b):
                assert a.id < b.id
            else:
                assert (key(a) > key(b)) if reverse else (key(a) < key(b))

    @given(collections(max_size=10))
    def test_function_key_stable(self, col: Collection) -> None:
        """A key function with many ties still gives id order within each tie."""
        got = col.sort(lambda s: len(s.topics))
        for a, b in zip(got, got.stories[1:], strict=False):
            assert (len(a.topics), a.id) < (len(b.topics), b.id)


class TestLatest:
    """``latest(n)``: the newest n, newest first."""

    def test_latest(self, example: Collection) -> None:
        """The three newest stories of the example."""
        assert [s.published for s in example.latest(3)] == [
            date(2021, 2, 23), date(2021, 2, 22), date(2021, 2, 19)]
        assert meta(example.latest(3)) == meta(example)

    def test_more_than_there_are(self, example: Collection) -> None:
        """Asking for more than exist gives them all; zero gives none."""
        assert len(example.latest(50)) == 10
        assert len(example.latest(0)) == 0

    def test_negative(self, example: Collection) -> None:
        """A negative count is refused."""
        with pytest.raises(ValueError, match=r"^latest\(\) needs n >= 0 \(got -1\)$"):
            example.latest(-1)


class TestGroupBy:
    """``group_by``: an ordered mapping of key to Collection."""

    def test_month(self, example: Collection) -> None:
        """Month keys are ``YYYY-MM``, in order of each month's first story."""
        groups = example.group_by("month")
        assert list(groups) == ["2021-02", "2021-01"]
        assert [len(g) for g in groups.values()] == [6, 4]
        assert all(isinstance(g, Collection) and meta(g) == meta(example)
                   for g in groups.values())

    def test_year(self, example: Collection) -> None:
        """Year keys are ints."""
        assert list(example.group_by("year")) == [2021]

    def test_topic_puts_a_story_in_each_of_its_groups(self, example: Collection) -> None:
        """A story with two topics is in two groups; one without is in none."""
        groups = example.group_by("topic")
        assert groups["child labour"].ids == (
            "a-song-to-let-children-fly", "child-labour-in-myanmars-jade-mines-is-a-deadly-gamble")
        assert sum(len(g) for g in groups.values()) == sum(len(s.topics) for s in example)

    def test_country(self, example: Collection) -> None:
        """Country groups are keyed by code."""
        groups = example.group_by("country")
        assert groups["LK"].ids == ("a-song-to-let-children-fly",)
        assert "TL" in groups

    def test_callable(self, example: Collection) -> None:
        """A function gives each story's key."""
        groups = example.group_by(lambda s: s.image is not None)
        assert list(groups) == [False, True]
        assert len(groups[True]) == 6

    def test_unknown_key(self, example: Collection) -> None:
        """An unknown key name says what can be used."""
        with pytest.raises(ValueError) as err:
            example.group_by("fortnight")  # type: ignore[arg-type]
        assert str(err.value) == ("cannot group by 'fortnight' (choose month, week, year, topic, "
                                  "country or language, or give a function)")

    @given(collections())
    def test_month_groups_partition(self, col: Collection) -> None:
        """Month groups hold every story once, each in its own month."""
        groups = col.group_by("month")
        assert sorted(i for g in groups.values() for i in g.ids) == sorted(col.ids)
        for key, g in groups.items():
            assert all(f"{s.published.year:04d}-{s.published.month:02d}" == key for s in g)


    @given(collections())
    def test_week_groups_partition(self, col: Collection) -> None:
        """ISO week groups hold every story once, each in its own week (``2021-W07``), and a
        week's stories are those a ``--week`` window of that week finds."""
        groups = col.group_by("week")
        assert sorted(i for g in groups.values() for i in g.ids) == sorted(col.ids)
        for key, g in groups.items():
            year, week = key.split("-W")
            assert all(s.published.isocalendar()[:2] == (int(year), int(week)) for s in g)
            monday = date.fromisocalendar(int(year), int(week), 1)
            # (the last ISO week of year 9999 ends in year 10000, past date.max)
            sunday = min(monday, date.max - timedelta(days=6)) + timedelta(days=6)
            window = col.filter(since=monday, until=sunday)
            assert set(window.ids) == set(g.ids)

    def test_week_key(self, example: Collection) -> None:
        """A week key is the ISO year and week: 2021-02-19 is in 2021-W07."""
        groups = example.group_by("week")
        assert groups["2021-W07"].ids == ("a-fight-for-survival-amid-the-pandemic",)


class TestCountryNames:
    """``filter(country=...)`` takes a country's name as well as its code."""

    @given(st.sampled_from(sorted(storykit._countries.ISO_3166_1_ALPHA_2)))
    def test_every_english_name_is_its_code(self, code: str) -> None:
        """The English CLDR name of any country finds what its code finds."""
        from babel import Locale

        name = Locale.parse("en").territories[code]
        col = Collection(stories=[Story(id="a", title="A", published=date(2021, 1, 1),
                                        summary="x", countries=(code,))])
        assert col.filter(country=name).ids == ("a",)
        assert col.filter(country=name.upper()).ids == ("a",)

    def test_names_in_the_collections_language(self) -> None:
        """A German collection finds Sri Lanka by its German and its English name."""
        col = Collection(language="de", stories=[
            Story(id="a", title="A", published=date(2021, 1, 1), summary="x",
                  countries=("LK",)),
            Story(id="b", title="B", published=date(2021, 1, 1), summary="x",
                  countries=("DE",))])
        assert col.filter(country="Deutschland").ids == ("b",)
        assert col.filter(country="Germany").ids == ("b",)
        assert col.filter(country=["Sri Lanka", "lk"]).ids == ("a",)

    def test_no_such_country(self, example: Collection) -> None:
        """A name that is no country's: ValueError naming it and saying what is accepted."""
        with pytest.raises(ValueError, match="'Narnia' is not an ISO 3166-1 alpha-2 country "
                                             "code, nor a country's name in English"):
            example.filter(country="Narnia")


class TestPaginate:
    """``paginate`` and ``page``: pages joined equal the whole."""

    def test_pages(self, example: Collection) -> None:
        """Ten stories in pages of four: 4, 4, 2."""
        pages = example.paginate(4)
        assert [len(p) for p in pages] == [4, 4, 2]
        assert example.page(3, 4) == pages[2]
        assert len(example.page(4, 4)) == 0

    def test_empty_has_one_page(self) -> None:
        """An empty collection has one, empty, page."""
        assert [len(p) for p in Collection().paginate(5)] == [0]

    @pytest.mark.parametrize(("call", "message"), [
        (lambda c: c.paginate(0), "page size must be at least 1 (got 0)"),
        (lambda c: c.page(0, 5), "pages are numbered from 1 (got 0)"),
        (lambda c: c.page(1, 0), "page size must be at least 1 (got 0)"),
    ])
    def test_bad_arguments(self, example: Collection, call: Any, message: str) -> None:
        """Page sizes under 1 and page numbers under 1 are refused."""
        with pytest.raises(ValueError) as err:
            call(example)
        assert str(err.value) == message

    @given(collections(max_size=12), st.integers(1, 5))
    def test_pages_joined_equal_the_whole(self, col: Collection, size: int) -> None:
        """Joining the pages gives the stories back; every page but the last is full."""
        pages = col.paginate(size)
        assert tuple(s for p in pages for s in p) == col.stories
        assert all(len(p) == size for p in pages[:-1])
        assert 0 < len(pages[-1]) <= size or len(col) == 0
        assert all(meta(p) == meta(col) for p in pages)
        for n, p in enumerate(pages, 1):
            assert col.page(n, size) == p


class TestDedupe:
    """``dedupe``: the first story of each id, then of each URL."""

    def test_by_url(self) -> None:
        """A second story with a URL already seen goes; stories without URLs stay."""
        col = make({"id": "a", "title": "A", "url": "https://example.org/x"},
                   {"id": "b", "title": "B"},
                   {"id": "c", "title": "C", "url": "https://example.org/x"},
                   {"id": "d", "title": "D"})
        assert col.dedupe().ids == ("a", "b", "d")

    def test_by_id_across_merged_input(self, example: Collection) -> None:
        """Merging a collection with itself and deduping changes nothing."""
        assert example.merge(example).dedupe() == example

    @given(colliding())
    def test_idempotent(self, col: Collection) -> None:
        """Deduping twice is deduping once; URLs are then unique; order and metadata kept."""
        once = col.dedupe()
        assert once.dedupe() == once
        urls = [s.url for s in once if s.url is not None]
        assert len(urls) == len(set(urls))
        ids = iter(col.ids)
        assert all(i in ids for i in once.ids)
        assert meta(once) == meta(col)


class TestMerge:
    """``merge``: union; the same id keeps the newer ``updated``."""

    def test_disjoint(self, example: Collection) -> None:
        """Stories of both, this collection's first, this collection's metadata."""
        other = make({"id": "new", "title": "New"}, title="Other")
        got = example.merge(other)
        assert got.ids == (*example.ids, "new")
        assert meta(got) == meta(example)

    def test_newer_updated_wins(self) -> None:
        """Of two stories with one id, the later ``updated`` wins, from either side."""
        old = make({"id": "x", "title": "Old", "updated": "2021-02-04"})
        new = make({"id": "x", "title": "New", "updated": "2021-02-05T10:00:00+00:00"})
        assert old.merge(new)["x"].title == "New"
        assert new.merge(old)["x"].title == "New"

    def test_dated_beats_undated(self) -> None:
        """A story with ``updated`` replaces one without."""
        plain = make({"id": "x", "title": "Plain"})
        fixed = make({"id": "x", "title": "Fixed", "updated": "2021-02-04"})
        assert plain.merge(fixed)["x"].title == "Fixed"
        assert fixed.merge(plain)["x"].title == "Fixed"

    def test_equal_stories_merge_quietly(self, example: Collection) -> None:
        """The same story on both sides is kept once."""
        assert example.merge(example) == example

    @pytest.mark.parametrize("updated", [None, "2021-02-04"])
    def test_conflict_names_the_id(self, updated: str | None) -> None:
        """Two different stories with one id and no later ``updated`` are an error naming it."""
        extra = {"updated": updated} if updated else {}
        a = make({"id": "x", "title": "One", **extra}, {"id": "y", "title": "Y"})
        b = make({"id": "x", "title": "Two", **extra})
        with pytest.raises(ValidationError) as err:
            a.merge(b)
        assert str(err.value) == (
            "1 problem in merge\n"
            "  stories[0].id: 'x' names two different stories and neither has a later "
            "'updated'")
        assert err.value.errors[0].value == "x"

    def test_merge_stories(self, example: Collection) -> None:
        """Merging a list of stories works like merging a collection."""
        s = Story(title="Extra", published="2021-03-01", summary="s")
        assert example.merge([s]).ids[-1] == "extra"

    @given(collections(max_size=6), collections(max_size=6))
    def test_disjoint_loses_nothing(self, a: Collection, b: Collection) -> None:
        """Merging collections with no id in common keeps every story of both, in order."""
        b = b.replace(s for s in b if s.id not in a)
        got = a.merge(b)
        assert got.stories == a.stories + b.stories
        assert meta(got) == meta(a)

    @given(collections(max_size=6))
    def test_original_untouched(self, a: Collection) -> None:
        """Operations never change the collection they are called on."""
        before = (a.stories, meta(a))
        a.merge([Story(title="Zz", published="2021-01-01", summary="s", id="zz-only")]) \
            if "zz-only" not in a else None
        a.sort(reverse=True)
        a.filter(text="a")
        a.dedupe()
        assert (a.stories, meta(a)) == before


class TestMetadata:
    """Every operation keeps the collection's metadata."""

    @given(collections(min_size=1, max_size=6), st.lists(contacts(), min_size=1, max_size=2))
    def test_every_operation(self, col: Collection, cs: list[Any]) -> None:
        """filter, sort, latest, group_by, paginate, page, dedupe, merge, slice keep metadata."""
        col = Collection(title=col.title, description="Desc", url="https://example.org/",
                         language="fr", contacts=cs, stories=col.stories)
        results = [
            col.filter(text="a"), col.sort("title"), col.latest(2), col.dedupe(),
            col.merge(Collection(title="Other")), col.page(1, 2), col[1:],
            *col.group_by("year").values(), *col.paginate(2),
        ]
        for r in results:
            assert meta(r) == meta(col)

    def test_replace_checks_ids(self, example: Collection) -> None:
        """``replace`` refuses stories with one id twice."""
        with pytest.raises(ValidationError):
            example.replace([example[0], example[0]])


class TestTimezones:
    """Stories in other timezones keep their local date for month and window."""

    def test_local_month(self) -> None:
        """A story late on 31 January at UTC-5 is in January."""
        minus5 = timezone(timedelta(hours=-5))
        col = Collection(stories=[Story(title="Late", summary="s",
                                        published=datetime(2021, 1, 31, 22, tzinfo=minus5))])
        assert list(col.group_by("month")) == ["2021-01"]
        assert col.filter(until="2021-01-31").ids == ("late",)


class TestPublicNames:
    """The names users import."""

    def test_top_level(self) -> None:
        """Collection and Story are the same objects at the top level."""
        assert storykit.Collection is Collection
        assert storykit.Story is Story

    @given(stories())
    def test_strategy_stories_fit_a_collection(self, s: Story) -> None:
        """A story from ``storykit.testing.stories()`` makes a one-story collection."""
        assert Collection(stories=[s])[s.id] is s


def _stories_doc(*items: dict[str, Any]) -> str:
    base = {"published": "2021-02-03", "summary": "s"}
    return json.dumps({"stories": [{"title": "T", **base, **item} for item in items]})


class TestEveryProblemAtOnce:
    """A repeated id is reported in the same raise as every other problem, in story order."""

    def test_bad_date_and_repeated_id_together(self) -> None:
        """QA's case: a bad date in one story and an id given twice are listed in one raise."""
        doc = _stories_doc({"id": "bees", "title": "Bees", "published": "2021-02-30"},
                           {"id": "song", "title": "A song"},
                           {"id": "song", "title": "Another song", "published": "2021-02-04"})
        with pytest.raises(ValidationError) as err:
            storykit.loads(doc)
        assert str(err.value).splitlines() == [
            "2 problems",
            "  line 1, column 32: stories[0].published: '2021-02-30' is not a valid date",
            "  line 1, column 237: stories[2].id: 'song' is already the id of stories[1]",
        ]

    def test_a_failed_story_keeps_its_given_id(self) -> None:
        """A story that fails on another field still owns the id it gives."""
        doc = _stories_doc({"id": "song", "published": "2021-02-30"}, {"id": "song"})
        with pytest.raises(ValidationError) as err:
            storykit.loads(doc)
        assert [(e.path, e.message) for e in err.value.errors] == [
            ("stories[0].published", "'2021-02-30' is not a valid date"),
            ("stories[1].id", "'song' is already the id of stories[0]"),
        ]

    def test_an_invalid_id_is_not_counted(self) -> None:
        """An id that is itself invalid is reported as such, not as a repeat of anything."""
        doc = _stories_doc({"id": "Song"}, {"id": "song"}, {"title": "Song"})
        with pytest.raises(ValidationError) as err:
            storykit.loads(doc)
        assert [e.path for e in err.value.errors] == ["stories[0].id"]

    def test_errors_in_story_order(self) -> None:
        """Problems come story by story; a story's repeated id comes after its own fields."""
        doc = _stories_doc({"id": "a"}, {"id": "a"}, {"id": "b", "title": " "},
                           {"id": "a", "published": "2021-02-30"})
        with pytest.raises(ValidationError) as err:
            storykit.loads(doc)
        assert [e.path for e in err.value.errors] == [
            "stories[1].id", "stories[2].title", "stories[3].published", "stories[3].id"]

    def test_csv_lines(self) -> None:
        """From CSV, the repeated id and the bad date each name their row's line."""
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(["id", "title", "published", "summary"])
        writer.writerow(["song", "A song", "2021-02-30", "s"])
        writer.writerow(["song", "Another song", "2021-02-04", "s"])
        with pytest.raises(ValidationError) as err:
            storykit.loads(out.getvalue(), "csv")
        assert [str(e) for e in err.value.errors] == [
            "line 2: stories[0].published: '2021-02-30' is not a valid date",
            "line 3: stories[1].id: 'song' is already the id of stories[0]",
        ]

    def test_python_call(self) -> None:
        """``Collection(stories=[...])`` mixing Story objects and data reports it all at once."""
        song = Story(id="song", title="A song", published="2021-02-03", summary="s")
        with pytest.raises(ValidationError) as err:
            Collection(stories=[song, {"id": "song", "title": "B", "published": "2021-02-30",
                                       "summary": "s"}, {"id": "song", "title": "C",
                                                         "published": "2021-02-03",
                                                         "summary": "s"}])
        assert [str(e) for e in err.value.errors] == [
            "stories[1].published: '2021-02-30' is not a valid date",
            "stories[1].id: 'song' is already the id of stories[0]",
            "stories[2].id: 'song' is already the id of stories[0]",
        ]

    @given(st.lists(st.tuples(st.sampled_from(["a", "b", "c", None]), st.booleans()),
                    max_size=8))
    def test_every_repeat_and_every_bad_date(self, plan: list[tuple[str | None, bool]]) -> None:
        """For any mix of given, repeated and derived ids and bad dates, one raise lists each
        bad date and each repeat of a given id, in story order; with none, ids are unique."""
        items = [{**({"id": sid} if sid else {}), "title": "A",
                  "published": "2021-02-30" if bad else "2021-02-03", "summary": "s"}
                 for sid, bad in plan]
        expected: list[str] = []
        first: dict[str, int] = {}
        for i, (sid, bad) in enumerate(plan):
            if bad:
                expected.append(f"stories[{i}].published")
            if sid is not None and first.setdefault(sid, i) != i:
                expected.append(f"stories[{i}].id")
        if not expected:
            col = storykit.loads(json.dumps({"stories": items}))
            assert len(set(col.ids)) == len(plan)
            assert [s.id for s, (sid, _) in zip(col, plan, strict=True) if sid] == [
                sid for sid, _ in plan if sid]
            return
        with pytest.raises(ValidationError) as err:
            storykit.loads(json.dumps({"stories": items}))
        assert [e.path for e in err.value.errors] == expected


class TestFilterCriteriaTypes:
    """A filter criterion of the wrong type is refused at once, naming the criterion."""

    @pytest.mark.parametrize(("criterion", "value"), [
        ("topic", b"decent work"), ("country", b"TL"), ("topic", bytearray(b"jobs")),
        ("topic", 5), ("country", 5), ("topic", {"jobs": 1})])
    def test_bytes_and_non_iterables(self, example: Collection, criterion: str,
                                     value: Any) -> None:
        """Bytes, numbers and mappings name the criterion and the value, not its items."""
        with pytest.raises(ValueError, match=rf"^filter\({criterion}=\.\.\.\): must be a string "
                                             r"or a list of strings \(got ") as err:
            example.filter(**{criterion: value})
        assert type(value).__name__ in str(err.value)

    def test_a_list_of_strings_still_works(self, example: Collection) -> None:
        """A str, a list or a generator of strings: as before."""
        one = example.filter(country="TL")
        assert len(one) > 0
        assert example.filter(country=["TL"]) == one
        assert example.filter(country=(c for c in ["TL"])) == one

    @pytest.mark.parametrize("where", ["climate", True, 5])
    def test_where_must_be_callable(self, example: Collection, where: Any) -> None:
        """``where`` that is not a function is refused by matcher() itself, before any story."""
        from storykit.collection import matcher

        with pytest.raises(ValueError, match=r"^filter\(where=\.\.\.\): must be a function"):
            matcher(where=where)
        with pytest.raises(ValueError, match=r"^filter\(where=\.\.\.\): must be a function"):
            example.filter(where=where)

    def test_load_json_where_not_callable(self, example_json: Any) -> None:
        """``storykit.load(path, where="climate")`` of a JSON file says what is wrong."""
        with pytest.raises(ValueError, match=r"where=\.\.\.\): must be a function"):
            storykit.load(example_json, where="climate")


class TestNotStories:
    """replace() and merge() refuse items that are not Story objects, naming each."""

    def test_merge_dicts(self, example: Collection) -> None:
        """A dict given to merge is named with its index, as Collection(stories=...) does."""
        with pytest.raises(ValidationError) as err:
            example.merge([{"title": "New", "published": "2021-03-01", "summary": "s"}])
        assert [e.path for e in err.value.errors] == ["other[0]"]
        assert err.value.errors[0].message.startswith("must be a story object (got dict ")

    def test_merge_a_list_of_collections(self, example: Collection) -> None:
        """Collections in a list are named, with a hint to merge one per call."""
        with pytest.raises(ValidationError) as err:
            example.merge([example[:2], example[2:]])
        assert [e.path for e in err.value.errors] == ["other[0]", "other[1]"]
        assert "merge one collection per call" in str(err.value)

    def test_merge_still_takes_collections_and_stories(self, example: Collection) -> None:
        """merge() takes a Collection or an iterable of stories, as documented."""
        assert example[:2].merge(example[2:]) == example
        assert example[:2].merge(iter(example.stories[2:])) == example

    def test_replace_with_none_and_ints(self, example: Collection) -> None:
        """Items of replace() that are not stories give the error Collection() gives."""
        with pytest.raises(ValidationError) as err:
            example.replace([example[0], None, 5])
        assert [str(e) for e in err.value.errors] == [
            "stories[1]: must be a story object (got null)",
            "stories[2]: must be a story object (got int 5)"]
        with pytest.raises(ValidationError, match=r"stories\[0\]: must be a story object"):
            Collection(stories=[None])

    def test_replace_with_group_by(self, example: Collection) -> None:
        """group_by()'s dict given to replace() is a TypeError that says what to pass."""
        with pytest.raises(TypeError, match=r"^replace\(stories=\.\.\.\): must be an iterable "
                                            r"of stories \(got dict .*pass one of its values"):
            example.replace(example.group_by("month"))  # type: ignore[arg-type]


class TestCountArguments:
    """latest(), paginate() and page() take ints only, and say which argument is wrong."""

    @pytest.mark.parametrize(("call", "arg"), [
        (lambda c: c.latest("3"), r"latest\(n=\.\.\.\)"),
        (lambda c: c.latest(2.0), r"latest\(n=\.\.\.\)"),
        (lambda c: c.latest(True), r"latest\(n=\.\.\.\)"),
        (lambda c: c.paginate(2.5), r"paginate\(size=\.\.\.\)"),
        (lambda c: c.paginate(None), r"paginate\(size=\.\.\.\)"),
        (lambda c: c.page("1", 3), r"page\(n=\.\.\.\)"),
        (lambda c: c.page(1, False), r"page\(size=\.\.\.\)"),
    ])
    def test_not_an_int(self, example: Collection, call: Any, arg: str) -> None:
        """A str, float, None or bool is a TypeError naming the argument and the value."""
        with pytest.raises(TypeError, match=rf"^{arg}: must be an int \(got "):
            call(example)

    def test_ints_still_work(self, example: Collection) -> None:
        """Plain ints behave as before."""
        assert len(example.latest(3)) == 3
        assert [len(p) for p in example.paginate(4)] == [4, 4, 2]
        assert len(example.page(3, 4)) == 2


class TestIndexLikeCounts:
    def test_numbers_with_index_are_counts(self, example: Collection, tmp_path: Any) -> None:
        """A count computed with numpy or pandas (an object with __index__, as numpy.int64)
        works wherever an int does, as it does in a slice; a bool still does not."""
        import storykit
        from storykit.stream import workers

        class Int64:
            def __init__(self, value: int) -> None:
                self.value = value

            def __index__(self) -> int:
                return self.value

        assert example.latest(Int64(2)) == example.latest(2)  # type: ignore[arg-type]
        assert example.paginate(Int64(4)) == example.paginate(4)  # type: ignore[arg-type]
        assert example.page(Int64(2), Int64(3)) == example.page(2, 3)  # type: ignore[arg-type]
        assert workers.workers(Int64(2)) == 2  # type: ignore[arg-type]
        with pytest.raises(TypeError, match="must be an int"):
            example.latest(True)
        path = storykit.dump(example, tmp_path / "a.json")
        big = Int64(10**9)
        assert storykit.load(path, max_bytes=big) == storykit.load(path)  # type: ignore[arg-type]
