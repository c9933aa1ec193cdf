"""The sqlite format: writer, reader, SQL filters, schema checks."""

from __future__ import annotations

import io
import re
import sqlite3
import tempfile
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

import storykit
from storykit import sqlite as sk
from storykit.sqlite.plugin import HEADER, SqliteReader, SqliteWriter
from storykit.sqlite.schema import SchemaError
from storykit.testing import collections


@pytest.fixture
def archive(tmp_path: Path, example: storykit.Collection) -> Path:
    path = tmp_path / "archive.db"
    sk.write(example, path)
    return path


def _scratch() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="storykit-test-") as folder:
        yield Path(folder) / "archive.db"


def _tables(path: Path) -> dict[str, int]:
    with sqlite3.connect(path) as conn:
        names = [r[0] for r in conn.execute(
            "SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'stories_fts%'")]
        return {n: conn.execute(f'SELECT count(*) FROM "{n}"').fetchone()[0] for n in names}


class TestRoundTrip:
    @given(collections())
    def test_written_archive_reads_back_equal(self, col: storykit.Collection) -> None:
        """Any valid collection written to an archive reads back equal, stories in order."""
        for path in _scratch():
            assert sk.write(col, path) == len(col)
            assert sk.query(path) == col
            assert SqliteReader().read(path) == col

    def test_a_topic_or_country_named_twice_reads_back_as_written(self) -> None:
        """The model keeps a country or topic named twice; the archive keeps the story as
        written and finds it once by either (the join tables failed on the repeat)."""
        story = storykit.Story(title="T", summary="S", published="2021-02-03",
                               countries=["LK", "lk"], topics=["mines", "mines"])
        col = storykit.Collection(title="C", stories=[story])
        for path in _scratch():
            assert sk.write(col, path) == 1
            assert sk.query(path) == col
            assert list(sk.query(path, country="LK")) == [story]
            assert list(sk.query(path, topic="mines")) == [story]

    @given(collections(max_size=3))
    def test_dumps_bytes_read_back_from_a_stream(self, col: storykit.Collection) -> None:
        """dumps() gives the database's bytes; the reader takes them as a stream."""
        data = storykit.dumps(col, "sqlite")
        assert data.startswith(HEADER) and SqliteReader().sniff(data[:4096])
        assert SqliteReader().read(io.BytesIO(data)) == col

    def test_load_reads_the_archive_by_its_suffix(self, archive: Path,
                                                  example: storykit.Collection) -> None:
        """storykit.load("archive.db") picks the sqlite reader by its suffix."""
        assert storykit.load(archive) == example
        assert storykit.load(archive, country="LK") == example.filter(country="LK")

    def test_is_a_registered_file_writer(self) -> None:
        """The format is registered like every built-in one, as a file writer."""
        from storykit.plugins import get_exporter

        writer = get_exporter("sqlite")
        assert isinstance(writer, SqliteWriter) and writer.output == "file"

    def test_other_files_are_not_sniffed_as_sqlite(self) -> None:
        """Only the SQLite header is recognised."""
        assert not SqliteReader().sniff(b'{"title": "SQLite format 3"}')


class TestFilters:
    @given(collections(min_size=1), st.data())
    def test_criteria_select_what_filter_selects(self, col: storykit.Collection,
                                                 data: st.DataObject) -> None:
        """topic, country, since, until and language in SQL give Collection.filter's stories."""
        topics = sorted({t for s in col for t in s.topics}) or ["none"]
        countries = sorted({c for s in col for c in s.countries}) or ["LK"]
        days = sorted(s.published for s in col if type(s.published) is date) or [
            date(2020, 1, 1)]
        criteria: dict[str, Any] = data.draw(st.fixed_dictionaries({}, optional={
            "topic": st.sampled_from(topics).map(str.upper) | st.lists(
                st.sampled_from(topics), min_size=1, max_size=2),
            "country": st.sampled_from(countries),
            "since": st.sampled_from(days) | st.sampled_from([s.published for s in col]),
            "until": st.sampled_from(days).map(date.isoformat),
            "language": st.sampled_from(["en", "fr", "pt", "zh", "zh-hans"]),
        }))
        for path in _scratch():
            sk.write(col, path, datasette=False)
            assert sk.query(path, **criteria) == col.filter(**criteria)

    def test_text_searches_title_summary_and_body(self, archive: Path,
                                                  example: storykit.Collection) -> None:
        """text is a full-text query: words of the title or summary, any case or accent."""
        story = example[3]
        word = max(story.title.split(), key=len).strip(".,:;?!'\"()")
        found = sk.query(archive, text=word.upper())
        assert story in found
        assert all(word.casefold() in (s.title + " " + s.summary).casefold() for s in found)

    def test_text_combines_with_the_other_criteria(self, archive: Path,
                                                   example: storykit.Collection) -> None:
        """text, country and since together select their intersection."""
        got = sk.query(archive, text="child*", country="LK", since="2019-01-01")
        expected = [s for s in example.filter(country="LK", since="2019-01-01")
                    if s in sk.query(archive, text="child*")]
        assert list(got) == expected

    @pytest.mark.parametrize("query", ['"unbalanced', "AND", "nosuchcolumn: mines", "(a OR"])
    def test_a_bad_search_is_one_line_naming_it(self, archive: Path, query: str) -> None:
        """A query FTS5 cannot parse is a one-line ValueError that quotes it."""
        with pytest.raises(ValueError) as info:
            sk.query(archive, text=query)
        message = str(info.value)
        assert repr(query) in message and "\n" not in message

    def test_bad_criteria_fail_as_filter_fails(self, archive: Path,
                                               example: storykit.Collection) -> None:
        """A bad country or date is the ValueError Collection.filter raises."""
        for bad in ({"country": "XX"}, {"since": "2021-02-30"}, {"topic": b"x"}):
            with pytest.raises(ValueError) as ours:
                sk.query(archive, **bad)
            with pytest.raises(ValueError) as theirs:
                example.filter(**bad)
            assert str(ours.value) == str(theirs.value)

    def test_where_filters_the_selected_stories(self, archive: Path,
                                                example: storykit.Collection) -> None:
        """where (a function of a story) runs on what the SQL selected."""
        got = sk.query(archive, language="en", where=lambda s: s.image is not None)
        assert got == example.filter(language="en", where=lambda s: s.image is not None)


HOSTILE = [
    "'); DROP TABLE stories; --",
    "Robert\"); DELETE FROM topics WHERE (\"1\"=\"1",
    "x' OR '1'='1",
    "stories_fts MATCH '*'",
    "%_\\ LIKE '%'",
]


class TestHostileText:
    def test_sql_looking_text_is_kept_as_text(self, tmp_path: Path) -> None:
        """SQL in titles, topics and criteria is data: stored, read back and matched as such."""
        col = storykit.Collection(title=HOSTILE[0], stories=[
            storykit.Story(title=t, published="2021-02-03", summary=t, topics=[t])
            for t in HOSTILE])
        path = tmp_path / "archive.db"
        sk.write(col, path)
        before = _tables(path)
        assert sk.query(path) == col
        for i, t in enumerate(HOSTILE):
            assert list(sk.query(path, topic=t)) == [col[i]]
            words = " ".join(f'"{w}"' for w in re.findall(r"[^\W_]+", t))  # each quoted
            assert list(sk.query(path, text=words)) == [col[i]]
        with pytest.raises(ValueError, match="language"):
            sk.query(path, language="en' OR 1=1 --")
        assert _tables(path) == before

    def test_search_words_in_quotes_match_literally(self, tmp_path: Path) -> None:
        """Operators in double quotes are words: they find the text that has them."""
        col = storykit.Collection(stories=[storykit.Story(
            title="Miners' rights: AND/OR (not) NEAR* columns", published="2021-02-03",
            summary="s")])
        path = tmp_path / "archive.db"
        sk.write(col, path)
        assert sk.query(path, text='"AND" "OR" "not" "NEAR" "columns"') == col
        with pytest.raises(ValueError, match="phrase"):  # (no word positions are kept)
            sk.query(path, text='"AND/OR (not)"')

    def test_phrases_and_columns_with_a_fuller_index(self, tmp_path: Path,
                                                     example: storykit.Collection) -> None:
        """search="full" keeps positions (phrases), search="column" columns (title: ...)."""
        full, column = tmp_path / "full.db", tmp_path / "column.db"
        sk.write(example, full, search="full")
        sk.write(example, column, search="column")
        assert list(sk.query(full, text='"child labour"')) == [
            s for s in example if "child labour" in f"{s.title} {s.summary}".lower()]
        assert sk.query(column, text="title: pandemic") == example.filter(
            where=lambda s: "pandemic" in s.title.lower())
        smallest = tmp_path / "archive.db"
        sk.write(example, smallest)
        with pytest.raises(ValueError, match="'title: pandemic' is not a valid"):
            sk.query(smallest, text="title: pandemic")


class TestWriting:
    def test_replace_leaves_exactly_the_new_collection(self, archive: Path,
                                                       example: storykit.Collection) -> None:
        """Writing again replaces every story and the metadata."""
        smaller = example[:2]
        sk.write(smaller.filter(country="LK") or smaller, archive)
        assert sk.query(archive) == (smaller.filter(country="LK") or smaller)

    def test_append_adds_stories_after_the_archive(self, archive: Path,
                                                   example: storykit.Collection) -> None:
        """mode=append keeps the archive's stories and metadata and adds the new ones."""
        new = storykit.Collection(title="Other", stories=[storykit.Story(
            title="A new story", published="2022-05-01", summary="New.", topics=["Mining"],
            countries=["LK"])])
        assert sk.write(new, archive, mode="append") == 1
        got = sk.query(archive)
        assert got == example.replace([*example, *new])
        assert "Mining" in sk.SqliteStore(archive).counts("topic")

    def test_append_refuses_ids_already_held_and_writes_nothing(
            self, archive: Path, example: storykit.Collection) -> None:
        """A clash is one ValidationError naming every clashing id; the archive is unchanged."""
        clash = example.replace([storykit.Story(title="Fresh", published="2022-01-01",
                                                summary="x"), example[1], example[4]])
        with pytest.raises(storykit.ValidationError) as info:
            sk.write(clash, archive, mode="append")
        assert [d.path for d in info.value.errors] == ["stories[1].id", "stories[2].id"]
        assert sk.query(archive) == example

    def test_a_failed_write_leaves_the_database_as_it_was(
            self, archive: Path, example: storykit.Collection,
            monkeypatch: pytest.MonkeyPatch) -> None:
        """An error in the middle of a replace rolls everything back."""
        from storykit.sqlite import writer as write

        calls = iter(range(100))
        real = write._story_row

        def failing(rowid: int, story: storykit.Story) -> tuple[Any, ...]:
            if next(calls) == 3:
                raise RuntimeError("disk on fire")
            return real(rowid, story)

        monkeypatch.setattr(write, "_story_row", failing)
        with pytest.raises(RuntimeError, match="disk on fire"):
            sk.write(example.replace(reversed(example.stories)), archive)
        assert sk.query(archive) == example

    def test_append_to_a_stream_is_refused(self, example: storykit.Collection) -> None:
        """A stream has no archive to append to."""
        with pytest.raises(ValueError, match="append"):
            SqliteWriter().write(example, io.BytesIO(), mode="append")

    def test_datasette_metadata_is_written_beside(self, archive: Path) -> None:
        """The Datasette metadata names the database by its file name."""
        import json

        meta = json.loads(archive.with_name("archive.metadata.json").read_text("utf-8"))
        stories = meta["databases"]["archive"]["tables"]["stories"]
        assert stories["fts_table"] == "stories_fts"


class TestSchemaChecks:
    def test_another_schema_version_is_refused(self, archive: Path) -> None:
        """An archive of a newer (or older) schema is refused, saying which version it is."""
        with sqlite3.connect(archive) as conn:
            conn.execute(f"PRAGMA user_version = {sk.SCHEMA_VERSION + 1}")
        for call in (lambda: sk.query(archive), lambda: sk.SqliteStore(archive),
                     lambda: sk.write(storykit.Collection(), archive)):
            with pytest.raises(SchemaError, match=f"schema version {sk.SCHEMA_VERSION + 1}, "
                                                  "a newer one"):
                call()

    def test_another_applications_database_is_refused(self, tmp_path: Path) -> None:
        """A database storykit did not write is neither read nor overwritten."""
        path = tmp_path / "other.db"
        with sqlite3.connect(path) as conn:
            conn.execute("CREATE TABLE stories (x)")
        with pytest.raises(SchemaError, match="not a storykit archive"):
            sk.query(path)
        with pytest.raises(SchemaError, match="not a storykit archive"):
            sk.write(storykit.Collection(), path)
        assert _tables(path) == {"stories": 0}

    def test_a_file_that_is_no_database_is_refused(self, tmp_path: Path) -> None:
        """Garbage is a one-line error, not a traceback from sqlite3."""
        path = tmp_path / "junk.db"
        path.write_bytes(b"not a database at all" * 100)
        with pytest.raises(SchemaError, match="not an SQLite database"):
            sk.query(path)


class TestSchemaReference:
    def test_reference_page_is_generated_from_the_code(self) -> None:
        """docs/reference/sqlite-schema.md is schema_markdown()'s output."""
        page = Path(__file__).resolve().parents[1] / "docs" / "reference" / "sqlite-schema.md"
        assert page.read_text("utf-8") == sk.schema_markdown()

    def test_every_statement_of_the_page_is_the_database_schema(self, archive: Path) -> None:
        """The written database holds exactly the statements the reference shows."""
        from storykit.sqlite.schema import statements

        with sqlite3.connect(archive) as conn:
            held = {r[0] for r in conn.execute("SELECT sql FROM sqlite_schema "
                                               "WHERE sql IS NOT NULL")}
        assert set(statements()) <= held
