"""Loading: JSON, JSON Lines, TOML, CSV and TSV in; every problem at once, with line numbers."""

from __future__ import annotations

import csv
import inspect
import io
import json
import re
import tracemalloc
from datetime import date
from pathlib import Path
from typing import Any, ClassVar

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pipe_support import feeding
from test_csv import carried

import storykit
from storykit import Collection, Credit, Image, Link, Story, ValidationError
from storykit.errors import UnknownFormatError
from storykit.model import _join
from storykit.testing import collections

STORY: dict[str, Any] = {"title": "A song to let children fly", "published": "2021-02-03",
                         "summary": "Sri Lankan music star Ridma Weerawardena talks."}


def problems(err: pytest.ExceptionInfo[ValidationError]) -> list[str]:
    """The problem lines, without the line and column of a problem in a JSON or TOML document
    (tests/test_positions.py checks those; ``at()`` keeps them)."""
    return [_AT.sub("", line) for line in at(err)]


def at(err: pytest.ExceptionInfo[ValidationError]) -> list[str]:
    """The problem lines of a ValidationError's message, without the header."""
    return [line.strip() for line in str(err.value).splitlines()[1:]]


_AT = re.compile(r"^line \d+, column \d+: ")


def jsonl(*items: Any) -> str:
    return "".join(json.dumps(i, ensure_ascii=False) + "\n" for i in items)


def csv_text(rows: list[dict[str, str]], delimiter: str = ",") -> str:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(rows[0]), delimiter=delimiter,
                            lineterminator="\r\n")
    writer.writeheader()
    writer.writerows(rows)
    return buf.getvalue()


CSV_ROW = {
    "id": "a-song-to-let-children-fly",
    "title": "A song to let children fly",
    "published": "2021-02-03",
    "summary": "Sri Lankan music star Ridma Weerawardena talks about his hit song \"Let them "
               "fly\".\nRead more on our new multimedia Voices platform.",
    "url": "https://news.example.org/a-song",
    "image.url": "https://images.example.org/a-song.jpg",
    "image.alt": "Ridma Weerawardena in a recording studio",
    "image.credit": "© Asitha Seneviratne 2021",
    "topics": "child labour;music",
    "countries": "lk",
    "language": "en",
    "links": "https://voices.ilo.org/ Read more on our new multimedia Voices platform",
}


class TestFormats:
    """Each input format gives the same story."""

    EXPECTED = Story(
        id="a-song-to-let-children-fly", title="A song to let children fly",
        published=date(2021, 2, 3),
        summary="Sri Lankan music star Ridma Weerawardena talks about his hit song \"Let them "
                "fly\".\nRead more on our new multimedia Voices platform.",
        url="https://news.example.org/a-song",
        image=Image("https://images.example.org/a-song.jpg",
                    "Ridma Weerawardena in a recording studio",
                    Credit("Asitha Seneviratne", 2021)),
        topics=("child labour", "music"), countries=("LK",), language="en",
        links=(Link("https://voices.ilo.org/",
                    "Read more on our new multimedia Voices platform"),),
    )
    DATA: ClassVar[dict[str, Any]] = {
        "id": "a-song-to-let-children-fly", "title": "A song to let children fly",
        "published": "2021-02-03", "summary": CSV_ROW["summary"],
        "url": "https://news.example.org/a-song",
        "image": {"url": "https://images.example.org/a-song.jpg",
                  "alt": "Ridma Weerawardena in a recording studio",
                  "credit": "© Asitha Seneviratne 2021"},
        "topics": ["child labour", "music"], "countries": ["lk"],
        "links": [{"url": "https://voices.ilo.org/",
                   "title": "Read more on our new multimedia Voices platform"}],
    }

    def test_json_document(self) -> None:
        """A collection document loads with its metadata."""
        col = storykit.loads(json.dumps({"title": "Impact and people", "stories": [self.DATA]}))
        assert col.title == "Impact and people"
        assert col.stories == (self.EXPECTED,)

    def test_json_bare_list(self) -> None:
        """A bare JSON list of stories loads into a collection with default metadata."""
        col = storykit.loads(json.dumps([self.DATA]).encode(), "json")
        assert (col.title, col.stories) == ("Stories", (self.EXPECTED,))

    def test_json_bom(self) -> None:
        """A UTF-8 byte order mark (Windows editors) is skipped."""
        col = storykit.loads(b"\xef\xbb\xbf" + json.dumps([self.DATA]).encode(), "json")
        assert col.stories == (self.EXPECTED,)

    def test_jsonl(self) -> None:
        """JSON Lines holds one story per line; blank lines are skipped."""
        col = storykit.loads(jsonl(self.DATA) + "\n  \n" + jsonl({**STORY, "id": "two"}),
                             "jsonl")
        assert col.ids == ("a-song-to-let-children-fly", "two")
        assert col[0] == self.EXPECTED

    def test_toml(self) -> None:
        """TOML with a native date loads the same story."""
        doc = """
title = "Impact and people"

[[stories]]
id = "a-song-to-let-children-fly"
title = "A song to let children fly"
published = 2021-02-03
summary = '''Sri Lankan music star Ridma Weerawardena talks about his hit song "Let them fly".
Read more on our new multimedia Voices platform.'''
url = "https://news.example.org/a-song"
image = { url = "https://images.example.org/a-song.jpg", alt = "Ridma Weerawardena in a recording studio", credit = { holder = "Asitha Seneviratne", year = 2021 } }
topics = ["child labour", "music"]
countries = ["LK"]
links = [{ url = "https://voices.ilo.org/", title = "Read more on our new multimedia Voices platform" }]
"""  # noqa: E501
        col = storykit.loads(doc, "toml")
        assert col.title == "Impact and people"
        assert col.stories == (self.EXPECTED,)

    def test_csv(self) -> None:
        """CSV flat columns: image.url, image.alt, image.credit, topics joined by ';'."""
        col = storykit.loads(csv_text([CSV_ROW]), "csv")
        assert col.stories == (self.EXPECTED,)

    def test_tsv(self) -> None:
        """TSV is CSV with tabs."""
        col = storykit.loads(csv_text([CSV_ROW], "\t"), "tsv")
        assert col.stories == (self.EXPECTED,)

    def test_csv_minimal_columns(self) -> None:
        """Only title, published and summary are needed; empty cells mean absent fields."""
        text = "title,published,summary,url,image.url,topics\nA,2021-02-03,S,,,\n"
        s = storykit.loads(text, "csv")[0]
        assert (s.id, s.url, s.image, s.topics) == ("a", None, None, ())

    def test_csv_escaped_semicolon(self) -> None:
        """A topic holding ';' is written with a backslash and read back whole."""
        text = "title,published,summary,topics\nA,2021-02-03,S,a\\;b;c\\\\d; ;e\n"
        assert storykit.loads(text, "csv")[0].topics == ("a;b", "c\\d", "e")

    def test_csv_formula_guard_undone(self) -> None:
        """The ``'`` the CSV exporter puts before a formula is taken off again."""
        text = "title,published,summary\n'=SUM(A1),2021-02-03,'+1 and '-1\n"
        s = storykit.loads(text, "csv")[0]
        assert (s.title, s.summary) == ("=SUM(A1)", "+1 and '-1")

    def test_csv_bom_and_crlf(self) -> None:
        """Excel's BOM and CRLF line ends are read, inside a multi-line cell too."""
        data = ('\ufefftitle,published,summary\r\nA,2021-02-03,"S\r\nT"\r\n').encode()
        col = storykit.loads(data, "csv")
        assert col.ids == ("a",)
        assert col[0].summary == "S\nT"

    @pytest.mark.parametrize(("suffix", "fmt"), [(".json", "json"), (".jsonl", "jsonl"),
                                                 (".ndjson", "jsonl"), (".toml", "toml"),
                                                 (".csv", "csv"), (".tsv", "tsv"),
                                                 (".JSON", "json")])
    def test_load_picks_format_from_suffix(self, tmp_path: Path, suffix: str,
                                           fmt: str) -> None:
        """``load`` reads the format its suffix names."""
        content = {
            "json": json.dumps([STORY]),
            "jsonl": jsonl(STORY),
            "toml": "[[stories]]\n" + "".join(f"{k} = {json.dumps(v)}\n"
                                              for k, v in STORY.items()),
            "csv": csv_text([STORY]),
            "tsv": csv_text([STORY], "\t"),
        }[fmt]
        path = tmp_path / f"stories{suffix}"
        path.write_text(content, encoding="utf-8")
        assert storykit.load(path).ids == ("a-song-to-let-children-fly",)
        assert storykit.load(str(path)).ids == ("a-song-to-let-children-fly",)

    def test_format_overrides_suffix(self, tmp_path: Path) -> None:
        """``format=`` reads a file whatever its name."""
        path = tmp_path / "stories.txt"
        path.write_text(jsonl(STORY), encoding="utf-8")
        assert len(storykit.load(path, format="jsonl")) == 1

    def test_unknown_suffix(self, tmp_path: Path) -> None:
        """An unknown suffix names the known ones."""
        path = tmp_path / "stories.yaml"
        path.write_text("x", encoding="utf-8")
        with pytest.raises(UnknownFormatError) as err:
            storykit.load(path)
        suffixes = sorted({s for r in storykit.readers().values() for s in r.suffixes})
        assert str(err.value).startswith(
            f"unknown input file type '.yaml' (available: {', '.join(suffixes)})")
        assert ".toml" in suffixes and ".csv" in suffixes
        assert isinstance(err.value, ValueError)

    def test_unknown_format_name(self) -> None:
        """An unknown format name for ``loads`` names the known ones."""
        with pytest.raises(UnknownFormatError) as err:
            storykit.loads("[]", "yaml")
        assert str(err.value) == (
            f"unknown input format 'yaml' (available: {', '.join(sorted(storykit.readers()))})")

    def test_missing_file(self, tmp_path: Path) -> None:
        """A missing file is a FileNotFoundError naming it."""
        with pytest.raises(FileNotFoundError, match=r"^no such file: .*nope\.json$"):
            storykit.load(tmp_path / "nope.json")

    @pytest.mark.parametrize("fmt", ["jsonl", "csv", "tsv", "toml"])
    def test_empty_document(self, fmt: str) -> None:
        """An empty document is an empty collection."""
        assert len(storykit.loads("", fmt)) == 0


class TestErrors:
    """Every problem of a document in one raise, with paths, values and line numbers."""

    def test_whole_document_at_once(self) -> None:
        """Problems of several stories and of the metadata come in one ValidationError."""
        doc = {"title": " ", "contacts": [{"name": "Desk"}],
               "stories": [STORY, {**STORY, "id": "b", "published": "2021-02-30"},
                           {**STORY, "id": "c", "url": "javascript:alert(1)"}]}
        with pytest.raises(ValidationError) as err:
            storykit.loads(json.dumps(doc))
        assert problems(err) == [
            "title: ' ' is blank",
            "contacts[0]: a media contact needs at least one of email, phone or url",
            "stories[1].published: '2021-02-30' is not a valid date",
            "stories[2].url: 'javascript:alert(1)' has scheme 'javascript'; only http and https "
            "are allowed",
        ]

    def test_a_bad_story_among_plain_ones_is_reported_in_full(self) -> None:
        """A bad story among plain ones is reported in full, with its path."""
        good = {"id": "a", "title": "A", "published": "2021-02-03", "summary": "B"}
        bad = {"id": "b", "title": " ", "published": "2021-02-30", "summary": "C",
               "url": "ftp://x.org/"}
        with pytest.raises(storykit.ValidationError) as info:
            storykit.loads(json.dumps({"stories": [good, bad]}))
        paths = sorted(e.path for e in info.value.errors)
        assert paths == ["stories[1].published", "stories[1].title", "stories[1].url"]

    def test_source_in_header(self, tmp_path: Path) -> None:
        """``load`` names the file in the header and in ``.source``."""
        path = tmp_path / "stories.json"
        path.write_text(json.dumps([{**STORY, "published": "2021-02-30"}]), encoding="utf-8")
        with pytest.raises(ValidationError) as err:
            storykit.load(path)
        assert str(err.value) == (f"1 problem in {path}\n"
                                  "  line 1, column 42: stories[0].published: '2021-02-30' is "
                                  "not a valid date")
        assert err.value.source == str(path)

    def test_invalid_json(self) -> None:
        """Broken JSON says where."""
        with pytest.raises(ValidationError) as err:
            storykit.loads('{"stories": [')
        assert at(err) == [
            "line 1, column 14: (document): is not valid JSON: unexpected end of data"]

    def test_duplicate_json_key(self) -> None:
        """A key given twice in one JSON object is an error, not a silent overwrite."""
        with pytest.raises(ValidationError) as err:
            storykit.loads(json.dumps([STORY])[:-2] + ', "title": "Other"}]')
        assert problems(err) == ["stories[0].title: 'title' is given twice in one object "
                                 "(a JSON object must not repeat a key)"]

    @given(st.dictionaries(st.text(max_size=8),
                           st.text(max_size=8) | st.integers(-(2**63), 2**63 - 1),
                           min_size=1, max_size=6),
           st.data(), st.sampled_from(["json", "jsonl"]))
    def test_a_repeated_key_in_compact_json_is_always_found(self, obj: dict[str, Any],
                                                            data: st.DataObject,
                                                            fmt: str) -> None:
        """Compact JSON (as orjson writes it, the text the fast check compares) with one key
        repeated is refused, as bytes and as text, naming that key."""
        import orjson

        key = data.draw(st.sampled_from(sorted(obj)))
        body = orjson.dumps(obj)
        repeated = orjson.dumps({key: "again"})[1:-1]
        story = b'{"image":' + body[:-1] + b"," + repeated + b"}}"
        doc = story + b"\n" if fmt == "jsonl" else b"[" + story + b"]"
        for given_as in (doc, doc.decode()):
            with pytest.raises(ValidationError) as err:
                storykit.loads(given_as, fmt)
            assert f"{_join('stories[0].image', key)}: {key!r} is given twice in one object" in (
                str(err.value))

    @given(st.dictionaries(st.text(max_size=8),
                           st.text(max_size=8) | st.integers(-(2**63), 2**63 - 1),
                           min_size=1, max_size=6),
           st.data(), st.booleans(), st.sampled_from(["json", "jsonl"]))
    def test_a_repeated_key_in_spaced_json_is_always_found(
            self, obj: dict[str, Any], data: st.DataObject, ascii_only: bool,
            fmt: str) -> None:
        """JSON as Python's json.dumps writes it (", " and ": ", escapes or not) with one key
        repeated is refused, even when an escaped colon (\\u003a) elsewhere makes the colons
        of the text add up to those of its compact form."""
        key = data.draw(st.sampled_from(sorted(obj)))
        hide = data.draw(st.booleans()) and "colon" not in obj
        extra = ', "colon": "\\u003a"' if hide else ""
        body = json.dumps(obj, ensure_ascii=ascii_only)
        story = ('{"image": ' + body[:-1] + ", " + json.dumps(key) + ': "again"' + extra
                 + "}}")
        doc = story + "\n" if fmt == "jsonl" else "[" + story + "]"
        for given_as in (doc.encode(), doc):
            with pytest.raises(ValidationError) as err:
                storykit.loads(given_as, fmt)
            assert f"{_join('stories[0].image', key)}: {key!r} is given twice in one object" in (
                str(err.value))

    @pytest.mark.parametrize(("doc", "message"), [
        ('"x"', "(document): must be a collection object (got str 'x')"),
        ("[1]", "stories[0]: must be a story object (got int 1)"),
        ('{"stories": {"a": 1}}', "stories: must be a list of stories (got dict)"),
    ])
    def test_wrong_shapes(self, doc: str, message: str) -> None:
        """A document of the wrong shape says what was expected."""
        with pytest.raises(ValidationError) as err:
            storykit.loads(doc)
        assert problems(err) == [message]

    def test_not_utf8(self) -> None:
        """Bytes that are not UTF-8 are named with their offset and line."""
        with pytest.raises(ValidationError) as err:
            storykit.loads(b"title,published,summary\n\xff,2021-02-03,S\n", "csv")
        assert problems(err) == ["line 2: (document): is not UTF-8: byte 0xff at offset 24"]

    def test_jsonl_line_numbers(self) -> None:
        """JSON Lines problems name the line, counting blank lines too."""
        data = jsonl(STORY) + "\n" + jsonl({**STORY, "id": "b", "published": "2021-02-30"},
                                           {**STORY, "id": "c", "titel": "x"})
        with pytest.raises(ValidationError) as err:
            storykit.loads(data, "jsonl")
        assert problems(err) == [
            "line 3: stories[1].published: '2021-02-30' is not a valid date",
            "line 4: stories[2].titel: 'titel' is not a field of Story; did you mean 'title'?",
        ]
        assert [e.line for e in err.value.errors] == [3, 4]

    def test_jsonl_syntax_errors_all_named(self) -> None:
        """Every line that is not JSON is named, not just the first."""
        data = jsonl(STORY) + '{"title": \n' + jsonl(STORY) + "nope\n"
        with pytest.raises(ValidationError) as err:
            storykit.loads(data, "jsonl")
        assert [e.line for e in err.value.errors] == [2, 4]
        assert all(e.message.startswith("is not valid JSON") for e in err.value.errors)

    def test_jsonl_syntax_and_content_errors_together(self) -> None:
        """A broken line does not hide the problems of the lines that parse."""
        data = (jsonl({**STORY, "id": "a", "published": "2021-02-30"}) + "{oops\n"
                + jsonl({**STORY, "id": "c", "url": "/relative"}))
        with pytest.raises(ValidationError) as err:
            storykit.loads(data, "jsonl")
        got = [(e.line, e.path, e.message[:30]) for e in err.value.errors]
        assert got == [
            (1, "stories[0].published", "'2021-02-30' is not a valid da"),
            (2, "", "is not valid JSON: unexpected "),
            (3, "stories[2].url", "'/relative' is not an absolute"),
        ]

    def test_jsonl_duplicate_ids_name_the_line(self) -> None:
        """A repeated id in JSON Lines names the line of the repeat."""
        with pytest.raises(ValidationError) as err:
            storykit.loads(jsonl({**STORY, "id": "x"}, {**STORY, "id": "y"},
                                 {**STORY, "id": "x"}), "jsonl")
        assert problems(err) == ["line 3: stories[2].id: 'x' is already the id of stories[0]"]

    def test_csv_line_numbers(self) -> None:
        """CSV problems name the line where the row starts, counting multi-line cells."""
        rows = [dict(CSV_ROW), {**CSV_ROW, "id": "b", "published": "2021-02-30"},
                {**CSV_ROW, "id": "c", "image.alt": "", "countries": "XX"}]
        text = csv_text(rows)
        with pytest.raises(ValidationError) as err:
            storykit.loads(text, "csv")
        # The header is line 1; each row's summary spans two lines.
        assert problems(err) == [
            "line 4: stories[1].published: '2021-02-30' is not a valid date",
            "line 6: stories[2].image.alt: required with an image (describe what the picture "
            "shows)",
            "line 6: stories[2].countries[0]: 'XX' is not an ISO 3166-1 alpha-2 country code",
        ]

    def test_csv_unknown_column(self) -> None:
        """An unknown column is named on line 1, with the nearest column."""
        with pytest.raises(ValidationError) as err:
            storykit.loads("title,published,summary,image_url\n", "csv")
        assert problems(err) == [
            "line 1: (document): column 'image_url' is not a story column; "
            "did you mean 'image.url'?"]

    def test_csv_duplicate_column(self) -> None:
        """A column given twice is an error."""
        with pytest.raises(ValidationError) as err:
            storykit.loads("title,published,summary,title\n", "csv")
        assert problems(err) == [
            "line 1: (document): column 'title' appears twice in the header"]

    def test_csv_ragged_rows(self) -> None:
        """Rows with more or fewer cells than the header are named by line."""
        with pytest.raises(ValidationError) as err:
            storykit.loads("title,published,summary\nA,2021-02-03,S,extra\nB,2021-02-03\n",
                           "csv")
        assert problems(err) == [
            "line 2: stories[0]: the row has 1 more cells than the header",
            "line 3: stories[1].summary: the row has fewer cells than the header",
        ]

    def test_csv_ragged_and_content_together(self) -> None:
        """A ragged row does not hide the problems of the well-formed rows."""
        with pytest.raises(ValidationError) as err:
            storykit.loads("title,published,summary\nA,2021-02-30,S\nB,2021-02-03,S,extra\n"
                           "C,2021-02-03,\n", "csv")
        assert problems(err) == [
            "line 2: stories[0].published: '2021-02-30' is not a valid date",
            "line 3: stories[1]: the row has 1 more cells than the header",
            "line 4: stories[2].summary: must not be blank",
        ]

    def test_csv_blank_required_cells(self) -> None:
        """An empty title or summary cell is a blank field, not a missing column."""
        with pytest.raises(ValidationError) as err:
            storykit.loads("title,published,summary\n,2021-02-03,\n", "csv")
        assert problems(err) == ["line 2: stories[0].title: must not be blank",
                                 "line 2: stories[0].summary: must not be blank"]

    def test_csv_missing_required_column(self) -> None:
        """A CSV without a published column reports it missing for each row."""
        with pytest.raises(ValidationError) as err:
            storykit.loads("title,summary\nA,S\n", "csv")
        assert problems(err) == ["line 2: stories[0].published: required field missing"]

    def test_toml_naive_datetime(self) -> None:
        """A TOML local date-time has no timezone, and the error says so."""
        doc = '[[stories]]\ntitle = "T"\nsummary = "S"\npublished = 2021-02-03T09:30:00\n'
        with pytest.raises(ValidationError) as err:
            storykit.loads(doc, "toml")
        assert problems(err) == [
            "stories[0].published: '2021-02-03T09:30:00' has no timezone; give an offset such "
            "as '+00:00' or 'Z', or a plain date"]

    def test_invalid_toml(self) -> None:
        """Broken TOML says where."""
        with pytest.raises(ValidationError) as err:
            storykit.loads("[[stories]\n", "toml")
        assert at(err) == ["line 1, column 10: (document): is not valid TOML: Expected "
                                 "']]' at the end of an array declaration"]

    def test_nothing_half_loaded(self, tmp_path: Path) -> None:
        """A file with one bad story among many gives no collection at all."""
        items = [{**STORY, "id": f"s{i}"} for i in range(50)]
        items[37]["published"] = "2021-02-30"
        path = tmp_path / "stories.jsonl"
        path.write_text(jsonl(*items), encoding="utf-8")
        result: Collection | None = None
        with pytest.raises(ValidationError) as err:
            result = storykit.load(path)
        assert result is None
        assert [e.line for e in err.value.errors] == [38]


def _big_jsonl(path: Path, n: int, tail: str) -> None:
    with path.open("w", encoding="utf-8") as f:
        for i in range(n):
            f.write(json.dumps({**STORY, "id": f"s{i}", "summary": "x" * 200}) + "\n")
        f.write(tail)


class TestIterStories:
    """``iter_stories`` streams JSON Lines and CSV one story at a time."""

    def test_is_a_generator(self, tmp_path: Path) -> None:
        """It returns a generator, which opens nothing until the first story is asked for."""
        missing = tmp_path / "later.jsonl"
        it = storykit.iter_stories(missing)
        assert inspect.isgenerator(it)
        missing.write_text(jsonl(STORY), encoding="utf-8")
        assert [s.id for s in it] == ["a-song-to-let-children-fly"]

    def test_first_story_without_reading_the_rest(self, tmp_path: Path) -> None:
        """The first story of a big file arrives before the broken last line is read."""
        path = tmp_path / "big.jsonl"
        _big_jsonl(path, 20_000, "{not json\n")
        it = storykit.iter_stories(path)
        tracemalloc.start()
        try:
            first = next(it)
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        assert first.id == "s0"
        assert path.stat().st_size > 4_000_000
        assert peak < 1_000_000  # far less than the 4 MB file: it was not read whole
        with pytest.raises(ValidationError) as err:
            for _ in it:
                pass
        assert err.value.errors[0].line == 20_001

    def test_csv_streams(self, tmp_path: Path) -> None:
        """A CSV file streams the same way, and a bad row names its line."""
        rows = [{**CSV_ROW, "id": f"s{i}"} for i in range(3)]
        rows[2]["published"] = "2021-02-30"
        path = tmp_path / "stories.csv"
        path.write_text(csv_text(rows), encoding="utf-8")
        it = storykit.iter_stories(path)
        assert [next(it).id, next(it).id] == ["s0", "s1"]
        with pytest.raises(ValidationError) as err:
            next(it)
        assert problems(err) == [
            "line 6: stories[2].published: '2021-02-30' is not a valid date"]

    def test_tsv_streams(self, tmp_path: Path) -> None:
        """TSV files stream too."""
        path = tmp_path / "stories.tsv"
        path.write_text(csv_text([CSV_ROW], "\t"), encoding="utf-8")
        assert [s.id for s in storykit.iter_stories(path)] == ["a-song-to-let-children-fly"]

    def test_equals_load(self, tmp_path: Path) -> None:
        """Streaming gives the stories ``load`` gives, when ids are explicit."""
        path = tmp_path / "stories.jsonl"
        _big_jsonl(path, 100, "")
        assert tuple(storykit.iter_stories(path)) == storykit.load(path).stories

    def test_jsonl_error_names_line(self, tmp_path: Path) -> None:
        """A bad JSON Lines record names its line, after the stories before it."""
        path = tmp_path / "stories.jsonl"
        path.write_text(jsonl(STORY) + "\n" + jsonl({**STORY, "published": "2021-02-30"}),
                        encoding="utf-8")
        it = storykit.iter_stories(path)
        assert next(it).id == "a-song-to-let-children-fly"
        with pytest.raises(ValidationError) as err:
            next(it)
        assert problems(err) == [
            "line 3: stories[1].published: '2021-02-30' is not a valid date"]

    def test_other_formats_refused(self, tmp_path: Path) -> None:
        """JSON and TOML documents cannot be streamed; the error says to use load()."""
        path = tmp_path / "stories.json"
        path.write_text("[]", encoding="utf-8")
        with pytest.raises(ValueError) as err:
            list(storykit.iter_stories(path))
        assert str(err.value) == (
            "iter_stories() streams jsonl and csv files, not json; use load()")


class TestCollector:
    def test_the_collector_runs_again_after_a_load(self) -> None:
        """Loading pauses the garbage collector and switches it back on, also after an
        error; a collector the program had switched off stays off."""
        import gc

        good = json.dumps([STORY]).encode()
        assert gc.isenabled()
        assert len(storykit.loads(good)) == 1
        assert gc.isenabled()
        with pytest.raises(ValidationError):
            storykit.loads(b'[{"title": ""}]')
        assert gc.isenabled()
        gc.disable()
        try:
            storykit.loads(good)
            assert not gc.isenabled()
        finally:
            gc.enable()

    def test_the_collector_is_paused_while_stories_are_built(self, monkeypatch: pytest.MonkeyPatch,
                                                           ) -> None:
        """While the stories are checked and built, the collector is off."""
        import gc

        reader = storykit.readers()["json"]
        seen: list[bool] = []
        read_data = reader.read_data  # type: ignore[attr-defined]

        def spy(data: str | bytes, source: str | None) -> Collection:
            seen.append(gc.isenabled())
            return read_data(data, source)  # type: ignore[no-any-return]

        monkeypatch.setattr(reader, "read_data", spy)
        storykit.loads(json.dumps([STORY]))
        assert seen == [False]
        assert gc.isenabled()


def document(fmt: str) -> str:
    """``STORY`` as a document in ``fmt``."""
    return {
        "json": json.dumps([STORY]),
        "jsonl": jsonl(STORY),
        "toml": "[[stories]]\n" + "".join(f"{k} = {json.dumps(v)}\n" for k, v in STORY.items()),
        "csv": csv_text([STORY]),
        "tsv": csv_text([STORY], "\t"),
    }[fmt]


def _stream_to_jsonl(path: Path, out: Path, jobs: int = 1) -> int:
    from storykit.files import atomic_writer
    from storykit.plugins import get_exporter
    from storykit.stream import stream_export

    with atomic_writer(out) as f:
        return stream_export(path, get_exporter("json"), f, jobs=jobs, shape="lines")


class TestBlankLinesInCSV:
    """Blank lines before the header or between rows are skipped, and lines are counted."""

    def test_a_blank_first_line_before_the_header(self) -> None:
        """The header after a blank first line is the header: every story loads."""
        col = storykit.loads("\ntitle,published,summary\nA song,2021-02-03,Against child "
                             "labour.\nBees,2021-01-15,Beekeeping in Moldova.\n", "csv")
        assert col.ids == ("a-song", "bees")

    @pytest.mark.parametrize("text", ["", "\n", "\r\n\r\n", " \n\t\n"])
    def test_nothing_but_blank_lines_is_an_empty_collection(self, text: str) -> None:
        """A file of blank lines, like an empty one, holds no story."""
        assert len(storykit.loads(text, "csv")) == 0

    def test_a_header_after_blank_lines_is_checked(self) -> None:
        """A header after blank lines is checked, and its problems name its line."""
        with pytest.raises(ValidationError) as err:
            storykit.loads("\n\r\n\ntitle,published,summry\nA,2021-02-03,S\n", "csv")
        assert problems(err) == ["line 4: (document): column 'summry' is not a story column; "
                                 "did you mean 'summary'?"]

    def test_a_row_after_blank_lines_is_named_by_its_line(self) -> None:
        """A bad row after blank lines names the line it is on."""
        with pytest.raises(ValidationError) as err:
            storykit.loads("title,published,summary\n\n\n\nbad,2021-02-30,s\n", "csv")
        assert problems(err) == ["line 5: stories[0].published: '2021-02-30' is not a valid date"]

    def test_a_broken_row_after_blank_lines_is_named_by_its_line(self) -> None:
        """A CSV syntax error after blank lines names its line."""
        with pytest.raises(ValidationError) as err:
            storykit.loads('\ntitle,published,summary\n\nA,2021-02-03,S\n\nB,"x"y,S\n', "csv")
        assert [e.line for e in err.value.errors] == [6]
        assert "is not valid CSV" in str(err.value)

    @given(st.lists(st.sampled_from(["", " ", " \t "]), max_size=3),
           st.lists(st.tuples(st.lists(st.sampled_from(["", " ", " \t "]), max_size=3),
                              st.booleans(), st.booleans()), max_size=6),
           st.lists(st.sampled_from(["", " "]), max_size=3), st.sampled_from(["\n", "\r\n"]))
    def test_blank_lines_anywhere(self, lead: list[str],
                                  rows: list[tuple[list[str], bool, bool]], tail: list[str],
                                  eol: str) -> None:
        """Blank lines (or of spaces) anywhere keep every story; a bad row, on one line or
        two, is named by the line it starts on, when loaded and when streamed."""
        import tempfile

        lines = [*lead, "title,published,summary"]
        bad_lines: list[int] = []
        for i, (blanks, two_lines, bad) in enumerate(rows):
            lines += blanks
            if bad:
                bad_lines.append(len(lines) + 1)
            cells = f"s{i},{'2021-02-30' if bad else '2021-02-03'},"
            lines += [cells + '"first', 'second"'] if two_lines else [cells + "s"]
        lines += tail
        text = eol.join(lines) + eol
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "stories.csv"
            path.write_text(text, encoding="utf-8", newline="")
            if not bad_lines:
                ids = tuple(f"s{i}" for i in range(len(rows)))
                assert storykit.loads(text, "csv").ids == ids
                assert tuple(s.id for s in storykit.iter_stories(path)) == ids
                return
            with pytest.raises(ValidationError) as err:
                storykit.loads(text, "csv")
            assert [e.line for e in err.value.errors] == bad_lines
            with pytest.raises(ValidationError) as streamed:
                list(storykit.iter_stories(path))
            assert [e.line for e in streamed.value.errors] == bad_lines[:1]


class TestByteOrderMark:
    """A UTF-8 byte order mark at the very start of the data (Notepad writes one) is skipped."""

    @pytest.mark.parametrize("fmt", ["json", "jsonl", "toml", "csv", "tsv"])
    @pytest.mark.parametrize("as_bytes", [True, False], ids=["bytes", "str"])
    def test_every_format_bytes_or_text(self, fmt: str, as_bytes: bool) -> None:
        """``loads`` skips a BOM in every format, given bytes or a string."""
        text = "\ufeff" + document(fmt)
        col = storykit.loads(text.encode() if as_bytes else text, fmt)
        assert col.ids == ("a-song-to-let-children-fly",)

    @pytest.mark.parametrize("fmt", ["json", "jsonl", "toml", "csv", "tsv"])
    def test_only_a_bom(self, fmt: str) -> None:
        """A file that holds only a BOM is empty (JSON: an empty document, an error)."""
        if fmt == "json":
            with pytest.raises(ValidationError, match="is not valid JSON"):
                storykit.loads(b"\xef\xbb\xbf", fmt)
        else:
            assert len(storykit.loads(b"\xef\xbb\xbf", fmt)) == 0

    @pytest.mark.parametrize("suffix", [".jsonl", ".csv"])
    def test_files_loaded_and_streamed(self, tmp_path: Path, suffix: str) -> None:
        """A JSON Lines or CSV file with a BOM loads, streams and exports as a streamed file,
        the first line's problems still named by line 1."""
        path = tmp_path / f"stories{suffix}"
        path.write_bytes(b"\xef\xbb\xbf" + document(suffix[1:]).encode())
        assert storykit.load(path).ids == ("a-song-to-let-children-fly",)
        assert [s.id for s in storykit.iter_stories(path)] == ["a-song-to-let-children-fly"]
        assert _stream_to_jsonl(path, tmp_path / "out.jsonl") == 1
        assert storykit.load(tmp_path / "out.jsonl") == storykit.load(path)

    def test_jsonl_first_line_problems_keep_their_line(self, tmp_path: Path) -> None:
        """After a BOM, a bad first line of JSON Lines is reported as line 1, column counted
        without the BOM, when loaded and when streamed."""
        path = tmp_path / "stories.jsonl"
        path.write_bytes(b"\xef\xbb\xbf" + jsonl({**STORY, "published": "2021-02-30"}).encode())
        expected = ["line 1: stories[0].published: '2021-02-30' is not a valid date"]
        with pytest.raises(ValidationError) as err:
            storykit.load(path)
        assert problems(err) == expected
        with pytest.raises(ValidationError) as streamed:
            list(storykit.iter_stories(path))
        assert problems(streamed) == expected
        with pytest.raises(ValidationError) as exported:
            _stream_to_jsonl(path, tmp_path / "out.jsonl")
        assert problems(exported) == expected

    def test_jsonl_in_worker_processes(self, tmp_path: Path,
                                       monkeypatch: pytest.MonkeyPatch) -> None:
        """A JSON Lines file with a BOM exports through worker processes too."""
        import storykit.stream

        monkeypatch.setattr(storykit.stream, "PARALLEL_MIN_BYTES", 0)
        path = tmp_path / "stories.jsonl"
        items = [{**STORY, "id": f"s{i}"} for i in range(3)]
        path.write_bytes(b"\xef\xbb\xbf" + jsonl(*items).encode())
        assert _stream_to_jsonl(path, tmp_path / "out.jsonl", jobs=2) == 3
        assert storykit.load(tmp_path / "out.jsonl").ids == ("s0", "s1", "s2")

    def test_a_bom_elsewhere_is_not_skipped(self) -> None:
        """Only the very start of the data may hold a BOM: on line 2 of JSON Lines it is an
        error of that line."""
        with pytest.raises(ValidationError) as err:
            storykit.loads(jsonl(STORY) + "\ufeff" + jsonl({**STORY, "id": "b"}), "jsonl")
        assert [e.line for e in err.value.errors] == [2]


LATIN1_JSON = ('{\n "title": "x",\n "stories": [\n  {"title": "Caf\u00e9", '
               '"published": "2021-02-03", "summary": "s"}]}').encode("latin-1")
LATIN1_CSV = "title,published,summary\nCaf\u00e9,2021-02-03,s\n".encode("latin-1")


class TestNotUTF8:
    """Bytes that are not UTF-8 are named, with the byte, its offset and its line, in every
    format and on every path."""

    def test_json_names_the_byte(self, tmp_path: Path) -> None:
        """A Latin-1 JSON file names the byte, its offset and line, as CSV and TOML do."""
        path = tmp_path / "latin1.json"
        path.write_bytes(LATIN1_JSON)
        with pytest.raises(ValidationError) as err:
            storykit.load(path)
        offset = LATIN1_JSON.index(b"\xe9")
        assert problems(err) == [f"line 4: (document): is not UTF-8: byte 0xe9 at offset {offset}"]

    @pytest.mark.parametrize("fmt", ["json", "toml", "csv"])
    def test_after_a_bom_the_offset_counts_it(self, fmt: str) -> None:
        """After a BOM, the byte named is the bad one and its offset counts the BOM."""
        data = b"\xef\xbb\xbf" + document(fmt).replace("Sri", "S\x00ri").encode().replace(
            b"\x00", b"\xff")
        with pytest.raises(ValidationError) as err:
            storykit.loads(data, fmt)
        offset = data.index(b"\xff")
        line = data.count(b"\n", 0, offset) + 1
        assert problems(err) == [
            f"line {line}: (document): is not UTF-8: byte 0xff at offset {offset}"]

    def test_jsonl_names_the_line(self, tmp_path: Path) -> None:
        """A Latin-1 line of JSON Lines is named with its byte, and the other lines are still
        checked; streaming reports the same."""
        path = tmp_path / "latin1.jsonl"
        path.write_bytes(jsonl({**STORY, "published": "2021-02-30"}).encode()
                         + b'{"title": "Caf\xe9", "published": "2021-02-03", "summary": "s"}\n')
        expected = ["line 1: stories[0].published: '2021-02-30' is not a valid date",
                    "line 2: (document): is not UTF-8: byte 0xe9 at offset 14 of the line"]
        with pytest.raises(ValidationError) as err:
            storykit.load(path)
        assert problems(err) == expected
        with pytest.raises(ValidationError) as exported:
            _stream_to_jsonl(path, tmp_path / "out.jsonl")
        assert problems(exported) == expected
        path.write_bytes(b'{"title": "Caf\xe9", "published": "2021-02-03", "summary": "s"}\n')
        with pytest.raises(ValidationError) as streamed:
            list(storykit.iter_stories(path))
        assert problems(streamed) == [
            "line 1: (document): is not UTF-8: byte 0xe9 at offset 14 of the line"]

    def test_csv_streamed(self, tmp_path: Path) -> None:
        """``iter_stories`` and the streaming export of a Latin-1 CSV raise a ValidationError
        naming the line, as ``load`` does, not a bare UnicodeDecodeError."""
        path = tmp_path / "latin1.csv"
        path.write_bytes(LATIN1_CSV)
        expected = ["line 2: (document): is not UTF-8: byte 0xe9 at offset 27"]
        with pytest.raises(ValidationError) as loaded:
            storykit.load(path)
        assert problems(loaded) == expected
        with pytest.raises(ValidationError) as streamed:
            list(storykit.iter_stories(path))
        assert problems(streamed) == expected
        with pytest.raises(ValidationError) as exported:
            _stream_to_jsonl(path, tmp_path / "out.jsonl")
        assert problems(exported) == expected

    def test_csv_cli_export(self, tmp_path: Path) -> None:
        """``storykit export latin1.csv`` fails with one error line naming the byte, and
        writes nothing."""
        from click.testing import CliRunner

        from storykit.cli import main

        path = tmp_path / "latin1.csv"
        path.write_bytes(LATIN1_CSV)
        out = tmp_path / "x.json"
        result = CliRunner().invoke(main, ["export", str(path), "--format", "json", "-o",
                                           str(out)], prog_name="storykit")
        assert result.exit_code == 1
        assert "line 2: (document): is not UTF-8: byte 0xe9 at offset 27" in result.output
        assert "Traceback" not in result.output
        assert not out.exists()

    def test_a_bad_byte_far_into_a_streamed_csv(self, tmp_path: Path) -> None:
        """A bad byte after many good rows names its own line and offset, and the stories of
        the lines well before it were given first."""
        good = "".join(f"s{i},2021-02-03,{'x' * 40}\n" for i in range(2000))
        data = ("title,published,summary\n" + good).encode() + b"caf\xe9,2021-02-03,s\n"
        path = tmp_path / "big.csv"
        path.write_bytes(data)
        it = storykit.iter_stories(path)
        assert [next(it).id for _ in range(1000)] == [f"s{i}" for i in range(1000)]
        with pytest.raises(ValidationError) as err:
            list(it)
        offset = data.index(b"\xe9")
        assert problems(err) == [
            f"line 2002: (document): is not UTF-8: byte 0xe9 at offset {offset}"]


class TestCSVDelimiters:
    """A CSV file written with another delimiter (``;``, ``|``, tab) is read with it: the
    header, made of known column names, shows which one."""

    @pytest.mark.parametrize("delimiter", [";", "|", "\t"])
    def test_exported_with_a_delimiter_loads_back(self, example: Collection,
                                                  delimiter: str) -> None:
        """What ``dumps(col, "csv", delimiter=...)`` writes loads back as CSV."""
        data = storykit.dumps(example, "csv", delimiter=delimiter)
        assert storykit.loads(data, "csv").stories == example.stories

    @given(collections(max_size=4), st.sampled_from([";", "|", "\t"]), st.booleans())
    def test_any_collection_round_trips(self, col: Collection, delimiter: str,
                                        bom: bool) -> None:
        """Any collection exported with a delimiter (and a BOM or not) loads back equal (in
        the fields CSV carries: all but the body)."""
        data = storykit.dumps(col, "csv", delimiter=delimiter, bom=bom)
        assert carried(storykit.loads(data, "csv").stories) == carried(col.stories)

    def test_tsv_that_is_comma_separated(self, example: Collection) -> None:
        """A ``.tsv`` file that is in fact comma-separated is read with commas."""
        data = storykit.dumps(example, "csv")
        assert storykit.loads(data, "tsv").stories == example.stories

    def test_load_stream_and_export(self, example: Collection, tmp_path: Path) -> None:
        """A semicolon CSV file loads, streams and exports as a streamed file."""
        path = tmp_path / "stories.csv"
        path.write_bytes(storykit.dumps(example, "csv", delimiter=";", bom=True))
        assert storykit.load(path).stories == example.stories
        assert tuple(storykit.iter_stories(path)) == example.stories
        assert _stream_to_jsonl(path, tmp_path / "out.jsonl") == len(example)
        assert storykit.load(tmp_path / "out.jsonl").stories == example.stories

    def test_line_numbers_with_another_delimiter(self, tmp_path: Path) -> None:
        """Rows of a semicolon file after blank lines are named by their lines."""
        text = "\ntitle;published;summary\r\nA, a;2021-02-03;S, s\r\n\r\nB;2021-02-30;S\r\n"
        with pytest.raises(ValidationError) as err:
            storykit.loads(text, "csv")
        assert problems(err) == ["line 5: stories[1].published: '2021-02-30' is not a valid date"]
        path = tmp_path / "stories.csv"
        path.write_text(text, encoding="utf-8", newline="")
        it = storykit.iter_stories(path)
        assert next(it).title == "A, a"
        with pytest.raises(ValidationError) as streamed:
            next(it)
        assert problems(streamed) == problems(err)

    def test_quoted_cells_and_header(self) -> None:
        """A semicolon file that quotes every cell (LibreOffice can) is read too."""
        col = storykit.loads('"title";"published";"summary"\r\n"A, b";"2021-02-03";"S; s"\r\n',
                             "csv")
        assert (col[0].title, col[0].summary) == ("A, b", "S; s")

    def test_a_mistyped_header_names_the_delimiter(self) -> None:
        """A semicolon header with an unknown column says the file seems to use ``;``, and
        which column is unknown."""
        with pytest.raises(ValidationError) as err:
            storykit.loads("title;published;sumary\nA;2021-02-03;S\n", "csv")
        assert problems(err) == [
            "line 1: (document): column 'title;published;sumary' is not a story column: the "
            "header seems to be separated by ';', but then 'sumary' is not a story column; "
            "did you mean 'summary'?"]

    def test_a_header_of_unknown_columns(self) -> None:
        """Several unknown columns separated by ``|`` are all named."""
        with pytest.raises(ValidationError) as err:
            storykit.loads("name|date|summary\n", "csv")
        assert problems(err) == [
            "line 1: (document): column 'name|date|summary' is not a story column: the header "
            "seems to be separated by '|', but then 'name', 'date' are not story columns"]

    def test_a_single_story_column_is_read_as_it_is(self) -> None:
        """A header of one story column is read with commas: nothing is guessed."""
        with pytest.raises(ValidationError) as err:
            storykit.loads("title\nA;B\n", "csv")
        assert problems(err) == ["line 2: stories[0].published: required field missing",
                                 "line 2: stories[0].summary: required field missing"]


class TestRepeatedKeysWithOtherProblems:
    """A repeated JSON key is listed with every other problem of the document."""

    def test_a_repeated_key_and_a_bad_date_in_another_story(self) -> None:
        """Both problems are listed, in the order of the stories."""
        doc = ('{"stories": [\n {"title": "A", "title": "B", "published": "2021-02-03", '
               '"summary": "s"},\n {"title": "C", "published": "2021-02-30", "summary": "s"}]}')
        with pytest.raises(ValidationError) as err:
            storykit.loads(doc)
        assert problems(err) == [
            "stories[0].title: 'title' is given twice in one object (a JSON object must not "
            "repeat a key)",
            "stories[1].published: '2021-02-30' is not a valid date",
        ]

    def test_sorted_by_where_they_are(self) -> None:
        """Metadata first, then story by story; a story's repeated keys before its other
        problems."""
        doc = {"title": "T", "stories": [
            {**STORY, "id": "a", "published": "2021-02-30"},
            {**STORY, "id": "b", "url": "/relative"},
            {**STORY, "id": "c"}]}
        text = (json.dumps(doc)
                .replace('"title": "T"', '"title": "T", "title": " "')
                .replace('"id": "b"', '"id": "b", "id": "b"')
                .replace('"id": "c"', '"id": "c", "summary": "s"'))
        with pytest.raises(ValidationError) as err:
            storykit.loads(text.encode())
        assert [(e.path, e.message[:24]) for e in err.value.errors] == [
            ("title", "'title' is given twice i"),
            ("title", "' ' is blank"),
            ("stories[0].published", "'2021-02-30' is not a va"),
            ("stories[1].id", "'id' is given twice in o"),
            ("stories[1].url", "'/relative' is not an ab"),
            ("stories[2].summary", "'summary' is given twice"),
        ]

    def test_a_repeated_key_alone(self) -> None:
        """A repeated key in a document that is otherwise right is still refused."""
        with pytest.raises(ValidationError) as err:
            storykit.loads(json.dumps(STORY).join(["[", "]"]).replace(
                '"title"', '"title": "x", "title"'))
        assert problems(err) == ["stories[0].title: 'title' is given twice in one object "
                                 "(a JSON object must not repeat a key)"]

    def test_jsonl_one_line_with_both(self, tmp_path: Path) -> None:
        """On one line of JSON Lines, a repeated key and a bad date are both listed, when
        loaded, streamed and exported."""
        path = tmp_path / "stories.jsonl"
        path.write_text(jsonl(STORY) + '{"title": "A", "title": "B", "published": '
                        '"2021-02-30", "summary": "s"}\n', encoding="utf-8")
        expected = [
            "line 2: stories[1].title: 'title' is given twice in one object (a JSON object "
            "must not repeat a key)",
            "line 2: stories[1].published: '2021-02-30' is not a valid date",
        ]
        with pytest.raises(ValidationError) as err:
            storykit.load(path)
        assert problems(err) == expected
        with pytest.raises(ValidationError) as streamed:
            list(storykit.iter_stories(path))
        assert problems(streamed) == expected
        with pytest.raises(ValidationError) as exported:
            _stream_to_jsonl(path, tmp_path / "out.jsonl")
        assert problems(exported) == expected


class TestSourceNames:
    def test_a_file_name_with_a_line_break_stays_on_the_header_line(
            self, tmp_path: Path) -> None:
        """The header names the file on its one line, a line break in the name written as
        ``\\n``: the error keeps one line per problem."""
        path = tmp_path / "a\nb.json"
        path.write_text('{"stories": [{"title": "", "published": "2021-02-03", "summary": "s"}]}')
        with pytest.raises(ValidationError) as err:
            storykit.load(path)
        lines = str(err.value).splitlines()
        assert len(lines) == 2
        assert lines[0].endswith("a\\nb.json")
        assert err.value.source == str(path)


class TestQuotedHeader:
    def test_a_header_quoted_as_one_cell_is_named(self) -> None:
        """A whole ``;`` header quoted as one cell: the error says so (it named no column)."""
        with pytest.raises(ValidationError) as err:
            storykit.loads(b'"id;title;published;summary"\na;T;2024-01-01;x\n', "csv")
        assert [str(e) for e in err.value.errors] == [
            "line 1: (document): column 'id;title;published;summary' is not a story column: "
            "the header seems to be separated by ';', but it is quoted as one cell"]


class TestLoadsArguments:
    @pytest.mark.parametrize("wrap", [bytearray, memoryview])
    def test_bytes_like_data_is_read_as_bytes(self, wrap: Any) -> None:
        """A bytearray or a memoryview is read as the bytes it holds, in every format, and
        a key repeated in it is still found."""
        doc = json.dumps({"stories": [STORY]}).encode()
        assert storykit.loads(wrap(doc)) == storykit.loads(doc)
        assert storykit.loads(wrap(jsonl(STORY).encode()), "jsonl")[0].title == STORY["title"]
        with pytest.raises(ValidationError, match="'title' is given twice"):
            storykit.loads(wrap(b'{"title": "a", "title": "b"}'))

    @pytest.mark.parametrize("fmt", ["json", "jsonl", "toml", "csv", "tsv"])
    @pytest.mark.parametrize("data", [None, 5, {"stories": []}, ["{}"]])
    def test_data_that_is_not_text_is_named(self, fmt: str, data: Any) -> None:
        """Data that is neither str nor bytes gets one TypeError naming its type, whatever
        the format; a dict is pointed to storykit.Collection(**data)."""
        with pytest.raises(TypeError) as err:
            storykit.loads(data, fmt)
        message = str(err.value)
        assert message.startswith(f"loads() takes str or bytes (got {type(data).__name__})")
        assert ("storykit.Collection(**data)" in message) == isinstance(data, dict)

    def test_a_format_in_capitals_is_read(self) -> None:
        """loads() takes a format name in any case, as dumps() does."""
        doc = json.dumps({"stories": [STORY]})
        assert storykit.loads(doc, "JSON") == storykit.loads(doc, "json")
        assert len(storykit.loads(jsonl(STORY), "JsonL")) == 1

    @pytest.mark.parametrize("fmt", [None, 5, b"json"])
    def test_a_format_that_is_not_a_string_is_named(self, fmt: Any) -> None:
        """A format that is not a str gets a TypeError listing the formats read."""
        with pytest.raises(TypeError, match=r"^format must be a str, one of json, jsonl, "
                                            rf"toml, csv, tsv, .* \(got {type(fmt).__name__}\)$"):
            storykit.loads("{}", fmt)

    def test_dumps_without_a_format_name_is_named(self) -> None:
        """dumps(col, None) gets a TypeError saying a format name is needed."""
        with pytest.raises(TypeError, match=r"^format must be a str, the name of a format "
                                            r"such as 'html' \(got NoneType None\)"):
            storykit.dumps(Collection(stories=[STORY]), None)  # type: ignore[arg-type]


class TestMaxBytes:
    @pytest.mark.parametrize(("value", "error"), [
        (None, TypeError), ("10", TypeError), (1.5, TypeError), (True, TypeError),
        (0, ValueError), (-1, ValueError)])
    def test_a_limit_that_is_not_a_positive_int_is_named(
            self, tmp_path: Path, value: Any, error: type[Exception]) -> None:
        """max_bytes must be a positive int: anything else is named before the file is read."""
        path = tmp_path / "a.json"
        path.write_text(json.dumps({"stories": [STORY]}))
        with pytest.raises(error, match=r"^max_bytes must be a positive int, a number of "
                                        rf"bytes \(got {type(value).__name__} "):
            storykit.load(path, max_bytes=value)

    def test_a_limit_beyond_memory_reads_the_file(self, tmp_path: Path) -> None:
        """A limit far beyond any file (10**30 bytes) loads the file, reading what it holds."""
        path = tmp_path / "a.json"
        path.write_text(json.dumps({"stories": [STORY]}))
        assert storykit.load(path, max_bytes=10**30)[0].title == STORY["title"]
        assert storykit.load(path, max_bytes=path.stat().st_size)[0].title == STORY["title"]
        with pytest.raises(ValidationError, match="the limit is 10 bytes"):
            storykit.load(path, max_bytes=10)

    @pytest.mark.concurrency
    def test_a_pipe_is_read_to_its_end_within_the_limit(self, tmp_path: Path) -> None:
        """A file with no size to stat (a pipe) is read whole under a huge limit, and refused
        beyond a small one."""
        fifo = tmp_path / "in.json"
        data = json.dumps({"stories": [STORY]}).encode() + b" " * 300_000
        with feeding(fifo, data):
            assert len(storykit.load(fifo, max_bytes=10**30)) == 1
        with feeding(fifo, data), pytest.raises(ValidationError,
                                                match="the limit is 1,000 bytes"):
            storykit.load(fifo, max_bytes=1000)

    @pytest.mark.concurrency
    @pytest.mark.parametrize("limit", [10**30, 300_000])
    def test_a_pipe_that_comes_in_pieces_is_read_to_its_end(self, tmp_path: Path,
                                                             limit: int) -> None:
        """A pipe whose writer sends its bytes in parts, each only once load() has taken the
        one before, so that every read comes back short with more to follow, is read to its
        end (a short read is not the end of a pipe), and still refused beyond the limit."""
        fifo = tmp_path / "in.json"
        data = json.dumps({"stories": [STORY]}).encode() + b" " * 200_000 + b"\n" * 200_000
        with feeding(fifo, data, pieces=40):
            if len(data) <= limit:
                assert storykit.load(fifo, max_bytes=limit)[0].title == STORY["title"]
            else:
                with pytest.raises(ValidationError, match="the limit is 300,000 bytes"):
                    storykit.load(fifo, max_bytes=limit)

    @pytest.mark.concurrency
    @pytest.mark.parametrize("ok", [True, False])
    def test_a_pipe_whose_writer_lingers_after_closing_is_cleaned_up(self, tmp_path: Path,
                                                                     ok: bool) -> None:
        """The cause of a hang on a busy machine (issue 24): the pipe's writer has closed its
        end but its thread has not ended yet (not scheduled again) when the test cleans up.
        The old cleanup opened the pipe for reading "if the writer is alive", an open that
        waits for ever for a writer that will never come. The cleanup must not hang."""
        import threading

        fifo = tmp_path / "in.json"
        data = json.dumps({"stories": [STORY]}).encode() + b" " * 300_000
        linger = threading.Event()
        with feeding(fifo, data, linger=linger) as writer:
            if ok:
                assert len(storykit.load(fifo, max_bytes=10**30)) == 1
            else:
                with pytest.raises(ValidationError, match="the limit is 1,000 bytes"):
                    storykit.load(fifo, max_bytes=1000)
            assert writer.is_alive()  # it waits for ``linger``, set after the cleanup
        assert not writer.is_alive() and linger.is_set()

    @pytest.mark.concurrency
    def test_a_pipe_never_opened_is_cleaned_up(self, tmp_path: Path) -> None:
        """A load() that fails before it opens the pipe leaves a writer blocked in open(): the
        cleanup gives it a reader, and it ends."""
        fifo = tmp_path / "in.json"
        with feeding(fifo, b"{}") as writer, pytest.raises(ValueError, match="max_bytes"):
            storykit.load(fifo, max_bytes=0)
        assert not writer.is_alive()


class TestFolders:
    def test_dump_to_a_folder_says_it_is_one(self, tmp_path: Path) -> None:
        """dump() to an existing folder with no suffix says it is a folder, not that the
        suffix is unknown."""
        (tmp_path / "outdir").mkdir()
        with pytest.raises(IsADirectoryError, match="is a folder; give a file name"):
            storykit.dump(Collection(stories=[STORY]), tmp_path / "outdir")

    def test_dump_of_a_list_makes_no_folder(self, tmp_path: Path) -> None:
        """dump() of something that is not a Collection raises before it makes any folder."""
        target = tmp_path / "nd" / "sub" / "x.json"
        with pytest.raises(TypeError, match=r"expected a storykit\.Collection, got list"):
            storykit.dump([Story(**STORY)], target)  # type: ignore[arg-type]
        assert not (tmp_path / "nd").exists()

    def test_iter_stories_of_a_folder_says_it_is_one(self, tmp_path: Path) -> None:
        """iter_stories() of a folder says so, as load() does, whatever the folder's name."""
        for name in ("data", "d.jsonl"):
            (tmp_path / name).mkdir()
            with pytest.raises(IsADirectoryError, match="is a folder, not a content file"):
                next(storykit.iter_stories(tmp_path / name))


def _slowest_growth(make: Any, run: Any, small: int) -> float:
    """How many times more Python lines ``run(make(10 * small))`` executes than
    ``run(make(small))``: about 10 for linear work, about 100 for quadratic. Lines are counted
    (``sys.settrace``), not timed, so that a busy machine cannot make a linear algorithm look
    slow (a wall-clock ratio failed under ``make stress-test``)."""
    import sys

    def lines(data: Any) -> int:
        count = 0

        def trace(frame: Any, event: str, arg: Any) -> Any:
            nonlocal count
            if event == "line":
                count += 1
            return trace

        run(data)  # (the first call may import and set up what later ones reuse)
        previous = sys.gettrace()
        sys.settrace(trace)
        try:
            run(data)
        finally:
            sys.settrace(previous)
        return count

    return lines(make(10 * small)) / lines(make(small))


class TestLinearTime:
    """Work that grows with the input grows linearly (a complexity test, not a timing one: ten
    times the input must run well under the hundred times the lines a quadratic algorithm
    runs)."""

    def test_ids_derived_for_many_stories_of_one_title(self) -> None:
        """Numbering ``n`` stories of one title without an id (``a``, ``a-2``...) is linear."""
        def make(n: int) -> bytes:
            return json.dumps([{"title": "A", "published": "2021-02-03", "summary": "S"}] * n
                              ).encode()

        col = storykit.loads(make(3))
        assert col.ids == ("a", "a-2", "a-3")
        assert _slowest_growth(make, storykit.loads, 300) < 20

    def test_many_repeated_keys_are_named_in_one_walk(self) -> None:
        """Naming ``n`` repeated keys of a document is linear in its size."""
        def make(n: int) -> bytes:
            story = '{"title": "A", "published": "2021-02-03", "summary": "S", "summary": "T"}'
            return ("[" + ", ".join([story] * n) + "]").encode()

        def run(data: bytes) -> None:
            with pytest.raises(ValidationError) as info:
                storykit.loads(data)
            assert len(info.value.errors) == data.count(b'"summary": "T"')

        with pytest.raises(ValidationError) as info:
            storykit.loads(make(2))
        assert [e.path for e in info.value.errors] == ["stories[0].summary",
                                                       "stories[1].summary"]
        assert _slowest_growth(make, run, 300) < 20


# --- JSON and plain data agree ------------------------------------------------------------------

#: Edits that make a valid document other than storykit writes it: each is valid or invalid for
#: the model, and a JSON document must load as the same data does through the converter.
_EDITS: dict[str, Any] = {
    "no id": lambda s, c: s.pop("id", None),
    "empty id": lambda s, c: s.__setitem__("id", ""),
    "id of another story": lambda s, c: s.__setitem__("id", c["stories"][0].get("id", "x")),
    "unknown key": lambda s, c: s.__setitem__("teaser", "x"),
    "url with a port": lambda s, c: s.__setitem__("url", "https://e.org:8080/a"),
    "url with spaces around": lambda s, c: s.__setitem__("url", " https://e.org/a "),
    "url upper-case scheme": lambda s, c: s.__setitem__("url", "HTTPS://e.org/a"),
    "url empty": lambda s, c: s.__setitem__("url", ""),
    "url null": lambda s, c: s.__setitem__("url", None),
    "url not http": lambda s, c: s.__setitem__("url", "ftp://e.org/a"),
    "country lower case": lambda s, c: s.__setitem__("countries", ["lk"]),
    "country unknown": lambda s, c: s.__setitem__("countries", ["XX"]),
    "language case": lambda s, c: s.__setitem__("language", "EN-us"),
    "language null": lambda s, c: s.__setitem__("language", None),
    "language bad": lambda s, c: s.__setitem__("language", "english!"),
    "credit text": lambda s, c: s.__setitem__("image", {"url": "https://e.org/i.jpg",
                                                        "alt": "A", "credit": "© Ann 2020"}),
    "credit empty": lambda s, c: s.__setitem__("image", {"url": "https://e.org/i.jpg",
                                                         "alt": "A", "credit": ""}),
    "credit year as text": lambda s, c: s.__setitem__(
        "image", {"url": "https://e.org/i.jpg", "alt": "A",
                  "credit": {"holder": "Ann", "year": "2020"}}),
    "credit in the future": lambda s, c: s.__setitem__(
        "image", {"url": "https://e.org/i.jpg", "alt": "A",
                  "credit": {"holder": "Ann", "year": 2999}}),
    "image without alt": lambda s, c: s.__setitem__("image", {"url": "https://e.org/i.jpg"}),
    "updated empty": lambda s, c: s.__setitem__("updated", ""),
    "updated naive": lambda s, c: s.__setitem__("updated", "2021-02-03T10:00:00"),
    "published datetime": lambda s, c: s.__setitem__("published", "2021-02-03T10:00:00+05:30"),
    "topics null": lambda s, c: s.__setitem__("topics", None),
    "topic blank": lambda s, c: s.__setitem__("topics", [" "]),
    "body empty": lambda s, c: s.__setitem__("body", ""),
    "title spaced, decomposed": lambda s, c: s.__setitem__("title", " Cafe\u0301 \n"),
    "title with a control character": lambda s, c: s.__setitem__("title", "a\x07b"),
    "summary with CRLF": lambda s, c: s.__setitem__("summary", "one\r\ntwo"),
    "link title blank": lambda s, c: s.__setitem__("links", [{"url": "https://e.org/",
                                                              "title": " "}]),
    "translation": lambda s, c: s.__setitem__("translations", [
        {"language": "FR", "url": "https://e.org/fr", "title": None}]),
    "title a number": lambda s, c: s.__setitem__("title", 7),
    "collection description empty": lambda s, c: c.__setitem__("description", ""),
    "collection language null": lambda s, c: c.__setitem__("language", None),
    "collection title null": lambda s, c: c.__setitem__("title", None),
    "contact without a way to reach": lambda s, c: c.__setitem__("contacts", [{"name": "A"}]),
}


def _outcome(load: Any) -> Any:
    try:
        return load()
    except ValidationError as e:
        return [(x.path, x.message) for x in e.errors]


@given(collections(min_size=1, max_size=4), st.lists(st.sampled_from(sorted(_EDITS)), max_size=3),
       st.data(), st.booleans())
def test_a_json_document_loads_as_its_data_structures(col: Collection, edits: list[str],
                                                      data: st.DataObject, indent: bool) -> None:
    """Whatever a document holds, storykit.loads() of its JSON (compact or indented, bytes or
    str) gives the collection, or the problems, that the converter gives for the same data."""
    from storykit.convert import collection_from_data, collection_to_data

    doc = collection_to_data(col)
    for name in edits:
        story = data.draw(st.sampled_from(doc["stories"]))
        _EDITS[name](story, doc)
    text = json.dumps(doc, ensure_ascii=False, indent=2 if indent else None,
                      separators=None if indent else (",", ":"))
    given = text.encode() if data.draw(st.booleans(), label="as bytes") else text
    assert _outcome(lambda: storykit.loads(given)) == _outcome(
        lambda: collection_from_data(json.loads(text)))


def test_text_with_a_lone_surrogate_is_a_validation_error() -> None:
    """A str (not bytes) document holding a lone surrogate, which no UTF-8 holds, is refused as
    a ValidationError with its place, as before the schema's try."""
    doc = '{"stories": [{"title": "\udc80", "published": "2021-02-03", "summary": "s"}]}'
    with pytest.raises(ValidationError, match="line 1, column"):
        storykit.loads(doc)


@pytest.mark.parametrize("depth", [300, 1100])
@pytest.mark.parametrize("field", ["contacts", "stories"])
def test_a_deep_value_is_a_validation_error(field: str, depth: int) -> None:
    """A value nested deeply (deeper than orjson writes, or than it reads) where an object or
    text belongs is one ValidationError, never a TypeError or RecursionError."""
    key = "name" if field == "contacts" else "title"
    doc = f'{{"{field}": [{{"{key}": {"[" * depth}{"]" * depth}}}]}}'
    with pytest.raises(ValidationError):
        storykit.loads(doc.encode())
