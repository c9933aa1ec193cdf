"""The json exporter: shapes, indent, ensure_ascii, read back with the json module; it streams."""

from __future__ import annotations

import io
import json
import tracemalloc
from typing import Any

import attrs
import pytest
from hypothesis import given

import storykit
from storykit.convert import collection_to_data
from storykit.errors import OptionError
from storykit.plugins import Registry, use_registry
from storykit.testing import collections

#: The exporter under test, from a fresh registry (never the process's).
JSON = Registry(autoload=False).get("json")


def dumps(col: storykit.Collection, **options: Any) -> bytes:
    with use_registry(Registry(autoload=False)):
        return storykit.dumps(col, "json", **options)


class Discard(io.RawIOBase):
    """A sink that throws bytes away, counting them."""

    def __init__(self) -> None:
        super().__init__()
        self.count = 0

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        self.count += len(data)
        return len(data)


class TestDocument:
    @given(collections())
    def test_loads_back_equal(self, col: storykit.Collection) -> None:
        """The document shape loads back to an equal collection."""
        assert storykit.loads(dumps(col), "json") == col

    @given(collections(max_size=4))
    def test_pretty_and_ascii_load_back_equal(self, col: storykit.Collection) -> None:
        """Indented and ASCII-only documents load back equal too."""
        assert storykit.loads(dumps(col, indent=2), "json") == col
        assert storykit.loads(dumps(col, ensure_ascii=True), "json") == col
        assert storykit.loads(dumps(col, indent=2, ensure_ascii=True), "json") == col

    @given(collections(max_size=6))
    def test_bytes_are_the_json_modules(self, col: storykit.Collection) -> None:
        """Compact and indented output are byte for byte what the json module writes for the
        converter's plain data (the same keys in the same order, the same date forms)."""
        doc = collection_to_data(col)
        assert dumps(col) == json.dumps(doc, ensure_ascii=False,
                                        separators=(",", ":")).encode()
        assert dumps(col, indent=2) == (json.dumps(doc, indent=2, ensure_ascii=False)
                                        + "\n").encode()
        assert dumps(col, ensure_ascii=True) == json.dumps(doc, separators=(",", ":")).encode()
        # (JSON Lines escapes U+2028 and U+2029, which str.splitlines() takes for line breaks)
        lines = b"".join(json.dumps(s, ensure_ascii=False, separators=(",", ":"))
                         .replace("\u2028", "\\u2028").replace("\u2029", "\\u2029").encode()
                         + b"\n" for s in doc["stories"])
        assert dumps(col, shape="lines") == lines

    def test_document_is_the_design_shape(self, example: storykit.Collection) -> None:
        """The json module reads the collection document: metadata, contacts, stories."""
        doc = json.loads(dumps(example))
        assert doc == collection_to_data(example)
        assert doc["title"] == "Impact and people"
        assert doc["contacts"][0]["phone"] == "+41227997912"
        assert [s["id"] for s in doc["stories"]] == [s.id for s in example]

    def test_compact_by_default(self, example: storykit.Collection) -> None:
        """The default output is compact: one line, no spaces after separators."""
        data = dumps(example)
        assert b"\n" not in data
        assert data == json.dumps(json.loads(data), ensure_ascii=False,
                                  separators=(",", ":")).encode()

    @pytest.mark.parametrize("shape", ["document", "stories"])
    def test_indent_is_the_json_modules(self, example: storykit.Collection, shape: str) -> None:
        """indent=2 gives exactly what json.dumps(indent=2) gives, plus a final newline."""
        data = dumps(example, indent=2, shape=shape)
        doc = json.loads(data)
        assert data.decode() == json.dumps(doc, indent=2, ensure_ascii=False) + "\n"
        assert data.decode() != json.dumps(doc, indent=4, ensure_ascii=False) + "\n"

    def test_every_field_is_written(self) -> None:
        """Every field is present, keys in name order, empty ones as null or [], UTC as Z;
        the json and jsonl readers load that form back equal."""
        story = storykit.Story(title="A song", summary="S.", published="2021-02-03",
                               updated="2021-02-04T09:30:00+00:00")
        col = storykit.Collection(stories=[story])
        doc = json.loads(dumps(col))
        assert list(doc) == sorted(doc) and doc["description"] is None
        assert doc["stories"][0] == {
            "body": None, "countries": [], "id": "a-song", "image": None, "language": "en",
            "links": [], "published": "2021-02-03", "summary": "S.", "title": "A song",
            "topics": [], "translations": [], "updated": "2021-02-04T09:30:00Z", "url": None}
        assert storykit.loads(dumps(col), "json") == col
        assert storykit.loads(dumps(col, shape="lines"), "jsonl").stories == col.stories

    @given(collections(max_size=6))
    def test_streamed_document_is_the_same(self, col: storykit.Collection) -> None:
        """Stories given one at a time (``write_stream``) make the same bytes as the whole
        collection, compact and indented."""
        for options in ({}, {"indent": 2}, {"ensure_ascii": True}):
            out = io.BytesIO()
            JSON.write_stream(col, iter(col.stories), out, **options)
            assert out.getvalue() == dumps(col, **options)

    def test_a_stream_that_keeps_what_it_is_given(self) -> None:
        """A ``write()`` that keeps the object it is given, not a copy, still ends up with the
        document: what it kept of one chunk is not overwritten by the next."""
        class Keeper(io.RawIOBase):
            def __init__(self) -> None:
                super().__init__()
                self.kept: list[Any] = []

            def writable(self) -> bool:
                return True

            def write(self, data: Any) -> int:
                self.kept.append(data)
                return len(data)

        col = build(2_000)  # several chunks
        for options in ({}, {"shape": "stories"}):
            out = Keeper()
            JSON.write(col, out, **options)
            assert b"".join(bytes(x) for x in out.kept) == dumps(col, **options)

    def test_empty(self) -> None:
        """An empty collection is a document with an empty stories list, in every form."""
        col = storykit.Collection(title="Nothing yet")
        for options in ({}, {"indent": 2}, {"ensure_ascii": True}):
            assert json.loads(dumps(col, **options))["stories"] == []
        assert json.loads(dumps(col, shape="stories", indent=2)) == []
        assert dumps(col, shape="lines") == b""


class TestShapes:
    @given(collections(max_size=5))
    def test_stories_is_a_bare_array(self, col: storykit.Collection) -> None:
        """shape='stories' is a JSON array of the stories, which loads back to them."""
        data = dumps(col, shape="stories")
        assert json.loads(data) == collection_to_data(col)["stories"]
        assert storykit.loads(data, "json").stories == col.stories

    @given(collections(max_size=5))
    def test_lines(self, col: storykit.Collection) -> None:
        """shape='lines' is JSON Lines: one story per line, loaded back by the jsonl reader."""
        data = dumps(col, shape="lines")
        lines = data.decode().splitlines()
        assert len(lines) == len(col)
        assert [json.loads(line) for line in lines] == collection_to_data(col)["stories"]
        assert storykit.loads(data, "jsonl").stories == col.stories
        assert data.endswith(b"\n") or len(col) == 0

    def test_lines_escape_the_unicode_line_separators(self) -> None:
        """A summary may hold U+2028 and U+2029; JSON Lines escapes them, so a reader that
        splits with str.splitlines() still sees one story per line (and loads it back)."""
        col = storykit.Collection(stories=[
            {"title": "A", "published": "2021-02-03", "summary": "one\u2028two\u2029three"},
            {"title": "B", "published": "2021-02-04", "summary": "S."}])
        data = dumps(col, shape="lines")
        assert data.isascii() and b"\\u2028" in data and b"\\u2029" in data
        assert [json.loads(line)["title"] for line in data.decode().splitlines()] == ["A", "B"]
        assert storykit.loads(data, "jsonl").stories == col.stories

    def test_lines_cannot_be_indented(self, example: storykit.Collection) -> None:
        """JSON Lines with indent=2 is refused, naming the option."""
        with pytest.raises(OptionError) as e:
            dumps(example, shape="lines", indent=2)
        assert (e.value.exporter, e.value.option) == ("json", "indent")


class TestEnsureASCII:
    def test_escapes_everything_outside_ascii(self) -> None:
        """ensure_ascii escapes accents, right-to-left text and emoji (as surrogate pairs)."""
        col = storykit.Collection(title="Ça va? 🐝", stories=[
            {"title": "العمل اللائق للجميع", "published": "2021-02-03",
             "summary": "労働と幸福 🍯"}])
        for options in ({}, {"indent": 2}, {"shape": "lines"}, {"shape": "stories"}):
            data = dumps(col, ensure_ascii=True, **options)
            assert data.isascii(), options
            assert b"\\ud83d\\udc1d" in data or options.get("shape") in ("lines", "stories")
            plain = dumps(col, **options)
            assert json.loads(data if options.get("shape") != "lines" else data.splitlines()[0]) \
                == json.loads(plain if options.get("shape") != "lines" else plain.splitlines()[0])
        assert dumps(col, ensure_ascii=True, indent=2).decode() == json.dumps(
            json.loads(dumps(col)), indent=2, ensure_ascii=True) + "\n"

    def test_off_by_default(self) -> None:
        """Without ensure_ascii, text is written as UTF-8."""
        col = storykit.Collection(title="Ça va?")
        assert "Ça va?".encode() in dumps(col)


def build(n: int) -> storykit.Collection:
    """n stories, made cheaply from one by changing the id."""
    base = storykit.Story(
        title="Additional incomes help rural communities of Timor-Leste during the pandemic",
        published="2021-02-10",
        summary="A project helped rural communities earn more during the COVID-19 crisis. " * 4,
        url="https://news.example.org/impact-and-people/timor-leste",
        topics=["rural development", "COVID-19"], countries=["TL"])
    return storykit.Collection(title="Big", stories=[attrs.evolve(base, id=f"story-{i}")
                                                     for i in range(n)])


def peak_bytes(col: storykit.Collection, fmt: str, **options: Any) -> tuple[int, int]:
    """The peak memory Python allocated while writing ``col`` to a discarding sink, and bytes."""
    exporter = Registry(autoload=False).get(fmt)
    sink = Discard()
    tracemalloc.start()
    try:
        exporter.write(col, sink, **options)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return peak, sink.count


SMALL, BIG = build(2_000), build(20_000)


class TestStreaming:
    @pytest.mark.parametrize("options", [
        {}, {"shape": "lines"}, {"shape": "stories"}, {"indent": 2},
        {"ensure_ascii": True, "indent": 2},
    ])
    def test_memory_does_not_grow_with_the_count(self, options: dict[str, Any]) -> None:
        """Ten times the stories: the output grows tenfold, the peak memory does not double."""
        small_peak, small_size = peak_bytes(SMALL, "json", **options)
        big_peak, big_size = peak_bytes(BIG, "json", **options)
        assert big_size > 9 * small_size
        assert big_peak < 2 * small_peak, (small_peak, big_peak)
        assert big_peak < big_size / 2  # less than the output: it was never held whole
