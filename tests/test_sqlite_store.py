"""SqliteStore: the web app's store answered from SQL."""

from __future__ import annotations

import tempfile
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from unittest.mock import patch

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

import storykit
from storykit import sqlite as sk
from storykit.sqlite import store as store_module
from storykit.store import MemoryStore
from storykit.testing import collections


@pytest.fixture
def store(tmp_path: Path, example: storykit.Collection) -> Any:
    path = tmp_path / "archive.db"
    sk.write(example, path)
    with sk.SqliteStore(path) as s:
        yield s


class TestSqliteStore:
    @given(collections(), st.integers(0, 9), st.none() | st.integers(0, 5))
    def test_query_pages_newest_first(self, col: storykit.Collection, offset: int,
                                      limit: int | None) -> None:
        """query() gives the page of the stories sorted newest first, and the total."""
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / "a.db"
            sk.write(col, path, datasette=False)
            with sk.SqliteStore(path) as store:
                stories, total = store.query(offset=offset, limit=limit)
                newest = list(col.sort("published", reverse=True))
                end = None if limit is None else offset + limit
                assert (stories, total) == (newest[offset:end], len(col))

    def test_query_filters_and_counts_every_match(self, store: Any,
                                                  example: storykit.Collection) -> None:
        """Criteria select as Collection.filter does; the total counts past the page."""
        expected = list(example.filter(topic="child labour").sort("published", reverse=True))
        stories, total = store.query(topic="child labour", limit=1)
        assert stories == expected[:1] and total == len(expected)

    @given(collections(min_size=1), st.integers(0, 4), st.integers(0, 4), st.data())
    def test_every_plan_pages_as_filter_does(self, col: storykit.Collection, offset: int,
                                             limit: int, data: st.DataObject) -> None:
        """Whether a page walks the date index or looks up every match (the store chooses by
        how many match), it is the page of Collection.filter's stories, newest first; a
        story with two of the topics asked for counts once."""
        topics = sorted({t for s in col for t in s.topics}) or ["none"]
        countries = sorted({c for s in col for c in s.countries}) or ["FR"]
        criteria = data.draw(st.sampled_from([
            {"topic": topics[:2]}, {"country": countries[:2]}, {"topic": topics[0]},
            {"topic": topics[:2], "country": countries[:2]}]))
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / "a.db"
            sk.write(col, path, datasette=False)
            with sk.SqliteStore(path) as store:
                expected = list(col.filter(**criteria).sort("published", reverse=True))
                for _ in range(2):  # (the second time, the total is remembered)
                    got = store.query(offset=offset, limit=limit, **criteria)
                    assert got == (expected[offset:offset + limit], len(expected))

    @given(collections(min_size=1), st.lists(st.tuples(st.integers(0, 12), st.integers(1, 4)),
                                             min_size=1, max_size=6), st.data())
    def test_pages_read_the_order_on_and_past_what_is_remembered(
            self, col: storykit.Collection, pages: list[tuple[int, int]],
            data: st.DataObject) -> None:
        """Pages asked in any order read a selection's order on from its last story known
        (ties of date broken by id), and pages past the part remembered use an OFFSET (from
        the oldest end when nearer it): each is the page of Collection.filter's stories,
        newest first."""
        topics = sorted({t for s in col for t in s.topics}) or ["none"]
        criteria = data.draw(st.sampled_from([{}, {"topic": topics[0]}, {"since": "2000-01-01"}]))
        expected = list(col.filter(**criteria).sort("published", reverse=True))
        with tempfile.TemporaryDirectory() as folder, \
                patch.object(store_module, "_FIRST", 2), patch.object(store_module, "_PREFIX", 5):
            path = Path(folder) / "a.db"
            sk.write(col, path, datasette=False)
            with sk.SqliteStore(path) as store:
                for offset, limit in pages:
                    got = store.query(offset=offset, limit=limit, **criteria)
                    assert got == (expected[offset:offset + limit], len(expected))

    @given(st.lists(st.sampled_from([date(2021, 2, 15), date(2021, 2, 14), date(1969, 12, 31),
                                     datetime(2021, 2, 15, 0, 0, tzinfo=UTC),
                                     datetime(2021, 2, 15, 3, 0,
                                              tzinfo=timezone(timedelta(hours=3)))]),
                    min_size=1, max_size=30),
           st.integers(1, 7), st.lists(st.tuples(st.integers(0, 32), st.integers(0, 9)),
                                       min_size=1, max_size=8))
    def test_pages_of_the_archive_from_its_marks(self, dates: list[date], step: int,
                                                 pages: list[tuple[int, int]]) -> None:
        """Past what is remembered, a page of the whole archive is read from the mark before
        it (a date, and how many stories of that instant come before): with many stories of
        one instant (ties broken by id) and marks every ``step`` stories, each page is the
        page of the stories newest first, before and after another writer's append."""
        col = storykit.Collection(stories=[
            storykit.Story(title=f"Story {i}", published=when, summary="s")
            for i, when in enumerate(dates)])
        with tempfile.TemporaryDirectory() as folder, \
                patch.object(store_module, "_PREFIX", 0), patch.object(store_module, "_STEP",
                                                                       step):
            path = Path(folder) / "a.db"
            sk.write(col, path, datasette=False)
            with sk.SqliteStore(path) as store:
                for more in ([], [storykit.Story(title="Later", published=dates[0],
                                                 summary="s")]):
                    if more:
                        sk.write(storykit.Collection(stories=more), path, mode="append")
                        col = col.replace([*col, *more])
                    expected = list(col.sort("published", reverse=True))
                    for offset, limit in pages:
                        got = store.query(offset=offset, limit=limit)
                        assert got == (expected[offset:offset + limit], len(expected))

    @given(collections(), st.integers(0, 12), st.none() | st.integers(0, 12))
    def test_lastmods_in_id_order(self, col: storykit.Collection, offset: int,
                                  limit: int | None) -> None:
        """lastmods() gives each story's id and last change (updated, else published) in id
        order, from offset (at most limit), read a chunk at a time; a MemoryStore the same."""
        expected = sorted((s.id, s.updated or s.published) for s in col)
        end = None if limit is None else offset + limit
        with tempfile.TemporaryDirectory() as folder, \
                patch.object(store_module, "_CHUNK", 2):
            path = Path(folder) / "a.db"
            sk.write(col, path, datasette=False)
            with sk.SqliteStore(path) as store:
                for each in (store, MemoryStore(col)):
                    assert list(each.lastmods(offset=offset, limit=limit)) == \
                        expected[offset:end]
                with pytest.raises(ValueError, match="must not be negative"):
                    store.lastmods(offset=-1)

    def test_a_topic_named_twice_counts_its_story_once(self, tmp_path: Path) -> None:
        """counts() counts stories: one that names a topic twice counts once, in an archive
        and in a MemoryStore (and a country named twice, in a MemoryStore)."""
        col = storykit.Collection(stories=[
            storykit.Story(title="Twice", published="2021-02-15", summary="s",
                           topics=("Jobs", "Jobs", "jobs"), countries=("LK",)),
            storykit.Story(title="Once", published="2021-02-16", summary="s",
                           topics=("Jobs",), countries=("LK",))])
        path = tmp_path / "a.db"
        sk.write(col, path, datasette=False)
        with sk.SqliteStore(path) as store:
            for each in (store, MemoryStore(col)):
                assert each.counts("topic") == {"Jobs": 2, "jobs": 1}
                assert each.counts("country") == {"LK": 2}
        twice = attrs.evolve(col[0], countries=("LK", "LK"))
        assert MemoryStore(col.replace([twice, col[1]])).counts("country") == {"LK": 2}

    def test_threads_read_at_once(self, store: Any, example: storykit.Collection) -> None:
        """Threads asking at once (each through its own connection) get the same pages."""
        from concurrent.futures import ThreadPoolExecutor

        expected = list(example.sort("published", reverse=True))
        with ThreadPoolExecutor(4) as pool:
            got = list(pool.map(lambda i: store.query(offset=i % 5, limit=3), range(40)))
        assert got == [(expected[i % 5:i % 5 + 3], len(example)) for i in range(40)]

    def test_get_finds_a_story_by_id(self, store: Any, example: storykit.Collection) -> None:
        """get() returns the story itself, or None for an unknown id."""
        assert store.get(example[2].id) == example[2]
        assert store.get("no-such-story' OR '1'='1") is None

    def test_counts_are_the_groups_sizes(self, store: Any,
                                         example: storykit.Collection) -> None:
        """counts() gives how many stories each topic, country and day has, as the
        collection's own groups and a MemoryStore of it."""
        for key in ("topic", "country"):
            groups = example.group_by(key)  # type: ignore[arg-type]
            assert store.counts(key) == {k: len(v) for k, v in groups.items()}
        days: dict[str, int] = {}
        for story in example:
            day = story.published.date() if isinstance(story.published, datetime) else (
                story.published)
            days[day.isoformat()] = days.get(day.isoformat(), 0) + 1
        assert store.counts("day") == days == MemoryStore(example).counts("day")
        assert list(store.counts("day").values()) == sorted(days.values(), reverse=True)
        with pytest.raises(ValueError, match="topic, country or day"):
            store.counts("month")

    def test_meta_and_collection(self, store: Any, example: storykit.Collection) -> None:
        """meta() is the metadata without stories; collection() the matching stories, whole."""
        assert store.meta() == example.replace([])
        assert store.collection(country="LK") == example.filter(country="LK").sort(
            "published", reverse=True)

    def test_version_changes_when_the_archive_does(self, store: Any, tmp_path: Path,
                                                   example: storykit.Collection) -> None:
        """Another writer's append, or a new file in its place, changes version()."""
        first = store.version()
        assert store.version() == first
        sk.write(storykit.Collection(stories=[{"title": "New", "published": "2030-01-01",
                                               "summary": "s"}]), store.path, mode="append")
        second = store.version()
        assert second != first
        assert store.query(limit=1)[0][0].title == "New"
        replacement = tmp_path / "new.db"
        sk.write(example[:1], replacement)
        replacement.replace(store.path)
        assert store.version() != second
        assert store.query()[1] == 1
