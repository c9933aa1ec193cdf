"""The csv exporter: RFC 4180 read back with the csv module, options, formula cells, streaming."""

from __future__ import annotations

import csv
import io
from datetime import UTC
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from test_json import BIG, SMALL, peak_bytes

import storykit
from storykit.convert import CSV_COLUMNS, FORMULA_TRIGGERS, flatten_story, neutralise, restore
from storykit.plugins import Registry, use_registry
from storykit.testing import collections, stories


def dumps(col: storykit.Collection, **options: Any) -> bytes:
    with use_registry(Registry(autoload=False)):
        return storykit.dumps(col, "csv", **options)


def rows(data: bytes, delimiter: str = ",") -> list[list[str]]:
    """The records of ``data``, read by the csv module as RFC 4180 says (strict)."""
    text = data.decode("utf-8-sig")
    return list(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True))


#: The story fields a CSV row carries: every field but ``body`` (an HTML fragment has no
#: column; the exporters that carry a body are the feeds, JSON, Markdown and the HTML page).
CSV_FIELDS = ("id", "title", "published", "updated", "summary", "url", "image", "topics",
              "countries", "language", "links", "translations")


def carried(stories: tuple[storykit.Story, ...]) -> list[dict[str, Any]]:
    """What a CSV round trip keeps of ``stories``: the values of :data:`CSV_FIELDS`."""
    return [{name: getattr(s, name) for name in CSV_FIELDS} for s in stories]


def test_csv_carries_every_field_but_the_body() -> None:
    """The list above is the model's fields less ``body``: a new field is a new column (or a
    decision to write here)."""
    assert sorted(CSV_FIELDS) == sorted(set(storykit.Story.FIELDS) - {"body"})


def col_of(*titles: str, summary: str = "A summary.") -> storykit.Collection:
    return storykit.Collection(stories=[
        {"title": t, "published": "2021-02-03", "summary": summary} for t in titles])


AWKWARD = storykit.Collection(title="Awkward", stories=[
    {"title": "Tom & Jerry's \"quotes\", commas; semicolons", "published": "2021-02-03",
     "summary": "Two paragraphs.\n\nThe second, with a\ttab and \"quotes\".",
     "topics": ["a;b", "back\\slash"], "countries": ["LK", "TL"],
     "links": [{"url": "https://voices.example.org/a?b=1&c=2", "title": "Read more on Voices"}],
     "image": {"url": "https://img.example.org/x.jpg", "alt": "A child, flying a kite",
               "credit": "© Asitha Seneviratne 2021"}},
    {"title": "=HYPERLINK(\"https://evil.example\",\"click\")", "published": "2021-02-04",
     "summary": "-1 is less than +1 @home", "topics": ["=1+1", "+x", "@y", "-z"]},
    {"title": "'=already quoted", "published": "2021-02-05",
     "summary": "''+two quotes then a plus"},
    {"title": "'just a quote", "published": "2021-02-06", "summary": "'\tquote then tab"},
])


class TestRFC4180:
    def test_read_back_by_the_csv_module(self) -> None:
        """The header is CSV_COLUMNS; each record is a story's cells; CRLF ends every record."""
        data = dumps(AWKWARD)
        records = rows(data)
        assert records[0] == list(CSV_COLUMNS)
        assert len(records) == 1 + len(AWKWARD)
        for record, story in zip(records[1:], AWKWARD, strict=True):
            flat = flatten_story(story)
            assert [restore(cell) for cell in record] == [flat[c] for c in CSV_COLUMNS]
        assert data.endswith(b"\r\n")
        assert data.count(b"\r\n") == len(records)  # embedded newlines are LF, quoted

    def test_quotes_are_doubled(self) -> None:
        """A cell with quotes is quoted, its quotes doubled (RFC 4180 2.7)."""
        data = dumps(col_of('He said "hi", then left'))
        assert b'"He said ""hi"", then left"' in data

    @given(collections(max_size=6))
    def test_round_trip(self, col: storykit.Collection) -> None:
        """The CSV loader reads back the same stories (the columns are the loader's)."""
        assert carried(storykit.loads(dumps(col), "csv").stories) == carried(col.stories)

    def test_awkward_round_trip(self) -> None:
        """Newlines, tabs, quotes, separators and formula cells survive the round trip."""
        assert storykit.loads(dumps(AWKWARD), "csv").stories == AWKWARD.stories
        tsv = dumps(AWKWARD, delimiter="\t")
        assert storykit.loads(tsv, "tsv").stories == AWKWARD.stories

    def test_empty(self) -> None:
        """An empty collection is a header alone."""
        assert rows(dumps(storykit.Collection())) == [list(CSV_COLUMNS)]


def test_equal_instants_keep_their_own_offsets() -> None:
    """Two datetimes of the same instant in other time zones are written each with its own
    offset, and equal dates alike, in every row (dates are formatted once per distinct date)."""
    from datetime import date, datetime, timedelta, timezone

    noon_utc = datetime(2021, 2, 4, 12, 0, tzinfo=UTC)
    same_in_paris = noon_utc.astimezone(timezone(timedelta(hours=1)))
    col = storykit.Collection(stories=[
        {"title": f"Story {i}", "published": date(2021, 2, 3), "summary": "S.", "updated": when}
        for i, when in enumerate([noon_utc, same_in_paris, noon_utc, None])])
    records = rows(dumps(col, columns=("published", "updated")))
    assert records[1:] == [["2021-02-03", "2021-02-04T12:00:00+00:00"],
                           ["2021-02-03", "2021-02-04T13:00:00+01:00"],
                           ["2021-02-03", "2021-02-04T12:00:00+00:00"],
                           ["2021-02-03", ""]]


class TestOptions:
    def test_columns_choose_and_order(self) -> None:
        """columns= picks and orders the columns."""
        records = rows(dumps(AWKWARD, columns=("title", "id")))
        assert records[0] == ["title", "id"]
        assert records[1][1] == AWKWARD[0].id

    def test_tsv(self) -> None:
        """delimiter='\\t' writes TSV that the csv module and the tsv loader read."""
        data = dumps(AWKWARD, delimiter="\t")
        records = rows(data, delimiter="\t")
        assert records[0] == list(CSV_COLUMNS)
        assert b"\tpublished\t" in data

    def test_semicolon(self) -> None:
        """delimiter=';' (European spreadsheets) quotes cells holding a semicolon."""
        data = dumps(AWKWARD, delimiter=";")
        assert rows(data, ";")[1][1] == AWKWARD[0].title
        assert b'"Tom & Jerry\'s ""quotes"", commas; semicolons"' in data

    def test_no_header(self) -> None:
        """header=False writes only the stories."""
        records = rows(dumps(AWKWARD, header=False))
        assert len(records) == len(AWKWARD)
        assert records[0][0] == AWKWARD[0].id

    def test_bom(self) -> None:
        """bom=True starts with the UTF-8 byte order mark, and the loader still reads it."""
        data = dumps(AWKWARD, bom=True)
        assert data.startswith(b"\xef\xbb\xbfid,title,")
        assert not dumps(AWKWARD).startswith(b"\xef\xbb\xbf")
        assert storykit.loads(data, "csv").stories == AWKWARD.stories

    def test_lineterminator(self) -> None:
        """lineterminator='\\n' ends records with LF only; the file still reads back."""
        data = dumps(AWKWARD, lineterminator="\n")
        assert b"\r" not in data
        assert storykit.loads(data, "csv").stories == AWKWARD.stories

    @pytest.mark.parametrize(("given_", "means"), [
        ({"delimiter": "tab"}, {"delimiter": "\t"}),
        ({"delimiter": "\\t"}, {"delimiter": "\t"}),
        ({"lineterminator": "lf"}, {"lineterminator": "\n"}),
        ({"lineterminator": "crlf"}, {"lineterminator": "\r\n"}),
    ])
    def test_named_characters(self, given_: dict[str, str], means: dict[str, str]) -> None:
        """Characters hard to type on a command line have names."""
        assert dumps(AWKWARD, **given_) == dumps(AWKWARD, **means)


class TestFormulas:
    @pytest.mark.parametrize("trigger", sorted(FORMULA_TRIGGERS))
    def test_each_trigger(self, trigger: str) -> None:
        """A cell starting with = + - @ tab or CR gets a leading quote, and only then."""
        assert neutralise(f"{trigger}cmd") == f"'{trigger}cmd"
        assert neutralise(f"'{trigger}cmd") == f"''{trigger}cmd"
        assert neutralise(f"x{trigger}cmd") == f"x{trigger}cmd"
        assert restore(neutralise(f"''{trigger}cmd")) == f"''{trigger}cmd"

    @pytest.mark.parametrize("cell", ["", "plain", "'quoted'", "it's", "''", "'", "x=1"])
    def test_harmless_cells_unchanged(self, cell: str) -> None:
        """Cells no spreadsheet would run are written and read as they are."""
        assert neutralise(cell) == cell
        assert restore(cell) == cell

    @given(st.text())
    def test_neutralise_is_undone_exactly(self, cell: str) -> None:
        """restore(neutralise(x)) == x, and no neutralised cell starts with a trigger."""
        safe = neutralise(cell)
        assert restore(safe) == cell
        assert safe[:1] not in FORMULA_TRIGGERS or not safe

    def test_cells_in_the_file(self) -> None:
        """In the file, formula cells start with a quote (OWASP); a spreadsheet shows text."""
        records = rows(dumps(AWKWARD))
        by_title = {r[1]: r for r in records[1:]}
        evil = by_title["'=HYPERLINK(\"https://evil.example\",\"click\")"]
        assert evil[CSV_COLUMNS.index("summary")] == "'-1 is less than +1 @home"
        assert evil[CSV_COLUMNS.index("topics")] == "'=1+1;+x;@y;-z"
        assert "''=already quoted" in by_title
        assert "'just a quote" in by_title  # a quote before harmless text is left alone
        quoted = by_title["''=already quoted"]
        assert quoted[CSV_COLUMNS.index("summary")] == "'''+two quotes then a plus"
        assert by_title["'just a quote"][CSV_COLUMNS.index("summary")] == "''\tquote then tab"
        for record in records:
            for cell in record:
                assert cell[:1] not in FORMULA_TRIGGERS

    def test_opt_out(self) -> None:
        """neutralise_formulas=False writes cells as they are."""
        records = rows(dumps(AWKWARD, neutralise_formulas=False))
        assert records[2][1] == "=HYPERLINK(\"https://evil.example\",\"click\")"

    @given(stories().map(lambda s: storykit.Collection(stories=[s])),
           st.sampled_from(["=", "+", "-", "@", "'=", "''+", "'", "'\t"]))
    def test_round_trip_with_triggers(self, col: storykit.Collection, prefix: str) -> None:
        """Titles and summaries starting with triggers (or quotes and triggers) come back."""
        import attrs

        story = col[0]
        changed = attrs.evolve(story, title=(prefix.strip() + story.title)[:1000],
                               summary=prefix + story.summary)
        one = storykit.Collection(stories=[changed])
        assert carried(storykit.loads(dumps(one), "csv").stories) == carried(one.stories)

    def test_loader_keeps_hand_written_quotes(self) -> None:
        """A hand-written cell "'hello" (no trigger after the quote) loads as written."""
        data = b"title,published,summary\r\n'hello,2021-02-03,'world\r\n"
        story = storykit.loads(data, "csv")[0]
        assert (story.title, story.summary) == ("'hello", "'world")


class TestStreaming:
    def test_memory_does_not_grow_with_the_count(self) -> None:
        """Ten times the stories: the output grows tenfold, the peak memory does not double."""
        small_peak, small_size = peak_bytes(SMALL, "csv")
        big_peak, big_size = peak_bytes(BIG, "csv")
        assert big_size > 9 * small_size
        assert big_peak < 2 * small_peak, (small_peak, big_peak)
