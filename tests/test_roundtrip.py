"""Round trips: what storykit writes, storykit reads back equal (Hypothesis collections)."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import Phase, find, given, settings
from hypothesis import strategies as st
from test_csv import carried

import storykit
from storykit import Collection, Credit, MediaContact, Story
from storykit.convert import collection_to_data, converter, credit_text
from storykit.plugins import Registry, use_registry
from storykit.testing import collections, contacts, credits, stories


@pytest.fixture(autouse=True, scope="module")
def builtin_formats_only() -> Iterator[Registry]:
    """The built-in exporters, without any installed plugin."""
    with use_registry(Registry(autoload=False)) as registry:
        yield registry


class TestJSON:
    """The JSON collection document loads back to an equal collection."""

    @given(collections())
    def test_document(self, col: Collection) -> None:
        """``loads(dumps(col, "json")) == col``, metadata and all."""
        assert storykit.loads(storykit.dumps(col, "json"), "json") == col

    @given(collections(max_size=4), st.sampled_from([0, 2]), st.booleans())
    def test_document_options(self, col: Collection, indent: int, ascii_only: bool) -> None:
        """Indented and ASCII-only JSON load back equal too."""
        data = storykit.dumps(col, "json", indent=indent, ensure_ascii=ascii_only)
        if ascii_only:
            assert data.isascii()
        assert storykit.loads(data, "json") == col

    @given(collections())
    def test_bare_list_and_lines(self, col: Collection) -> None:
        """The ``stories`` and ``lines`` shapes load back to the same stories."""
        bare = storykit.dumps(col, "json", shape="stories")
        assert storykit.loads(bare, "json").stories == col.stories
        lines = storykit.dumps(col, "json", shape="lines")
        assert storykit.loads(lines, "jsonl").stories == col.stories

    @given(collections(max_size=4))
    def test_read_by_the_standard_library(self, col: Collection) -> None:
        """The output is plain JSON: the standard library reads it to the same data."""
        doc = json.loads(storykit.dumps(col, "json"))
        assert doc == collection_to_data(col)
        assert storykit.loads(json.dumps(doc), "json") == col

    @given(collections(max_size=4))
    def test_converter(self, col: Collection) -> None:
        """The cattrs converter unstructures and structures back to an equal collection."""
        data = converter.unstructure(col)
        assert converter.structure(data, Collection) == col

    def test_example(self, example: Collection) -> None:
        """The example collection survives a JSON round trip."""
        assert storykit.loads(storykit.dumps(example, "json")) == example


class TestCSV:
    """The CSV export loads back to equal stories in every field CSV carries (test_csv's
    CSV_FIELDS: all but the body; CSV holds no collection metadata)."""

    @given(collections())
    def test_stories(self, col: Collection) -> None:
        """``loads(dumps(col, "csv"), "csv")`` gives the same stories."""
        data = storykit.dumps(col, "csv")
        assert carried(storykit.loads(data, "csv").stories) == carried(col.stories)

    @given(collections(max_size=4))
    def test_tsv(self, col: Collection) -> None:
        """Tab-separated output loads back as TSV."""
        data = storykit.dumps(col, "csv", delimiter="\t")
        assert carried(storykit.loads(data, "tsv").stories) == carried(col.stories)

    @given(collections(max_size=4), st.booleans())
    def test_bom_and_line_ends(self, col: Collection, bom: bool) -> None:
        """A BOM and ``\\n`` line ends load back the same."""
        data = storykit.dumps(col, "csv", bom=bom, lineterminator="\n")
        assert carried(storykit.loads(data, "csv").stories) == carried(col.stories)

    @given(collections(min_size=1, max_size=4))
    def test_no_live_formulas(self, col: Collection) -> None:
        """Read with the csv module, no cell starts with a formula trigger."""
        text = storykit.dumps(col, "csv").decode("utf-8")
        rows = list(csv.reader(io.StringIO(text, newline="")))
        assert len(rows) == len(col) + 1
        for row in rows[1:]:
            for cell in row:
                assert cell[:1] not in ("=", "+", "-", "@", "\t", "\r"), cell

    def test_example(self, example: Collection) -> None:
        """The example's stories survive a CSV round trip."""
        assert storykit.loads(storykit.dumps(example, "csv"), "csv").stories == example.stories


class TestStrategies:
    """What ``storykit.testing`` makes is valid and survives every text form."""

    @pytest.mark.parametrize(("value", "expected"), [
        ("One line.", ["One line."]),
        ("A line\nthe same paragraph", ["A line the same paragraph"]),
        ("First.\n\nSecond.", ["First.", "Second."]),
        ("First.\n  \t\nSecond,\n  still  second.", ["First.", "Second, still second."]),
        ("\n\nAfter blank lines.\n\n\n", ["After blank lines."]),
    ])
    def test_paragraphs_as_a_reader_sees_them(self, value: str, expected: list[str]) -> None:
        """paragraphs() splits at blank lines (spaces only count as blank) and collapses the
        whitespace inside each paragraph, as a browser shows it."""
        from storykit.testing import paragraphs

        assert paragraphs(value) == expected
        paragraphs(value).append("changed by a test")  # each call gives a list of its own
        assert paragraphs(value) == expected

    def test_strategies_are_built_once(self) -> None:
        """The strategy functions are cached (a fresh strategy per draw made collections()
        ten times slower); the same arguments give the same strategy object."""
        from storykit.testing import contacts, text

        assert text() is text() and text(max_size=8) is text(max_size=8)
        assert contacts() is contacts()

    @given(credits())
    def test_credits_render_and_parse(self, c: Credit) -> None:
        """Every generated credit parses back from its text form, which is its display
        string but for a trailing comma when a year-less holder ends in a number."""
        assert Credit.parse(credit_text(c)) == c
        assert credit_text(c).removesuffix(",") == str(c)

    @pytest.mark.parametrize(("credit", "cell"), [
        (Credit("Studio 2020"), "© Studio 2020,"),
        (Credit("Studio 2020", 2021), "© Studio 2020 2021"),
        (Credit("AP, 1999"), "© AP, 1999,"),
        (Credit("Ridma Weerawardena", 2021), "© Ridma Weerawardena 2021"),
    ])
    def test_a_holder_ending_in_a_year_survives_csv(self, credit: Credit, cell: str) -> None:
        """A year-less holder such as "Studio 2020" comes back from CSV as it was, not as
        holder "Studio" with the year 2020; the page still shows "© Studio 2020"."""
        story = Story(title="T", published="2021-02-03", summary="S",
                      image={"url": "https://example.org/a.jpg", "alt": "A", "credit": credit})
        col = Collection(stories=[story])
        data = storykit.dumps(col, "csv").decode("utf-8")
        assert next(csv.DictReader(io.StringIO(data)))["image.credit"] == cell
        assert storykit.loads(data, "csv").stories[0].credit == credit

    @given(stories())
    def test_stories_are_fixed_points(self, s: Story) -> None:
        """Checking a generated story's data again gives the same story."""
        assert Story(**{k: getattr(s, k) for k in Story.FIELDS}) == s
        assert converter.structure(converter.unstructure(s), Story) == s

    @given(contacts())
    def test_contacts(self, c: MediaContact) -> None:
        """Generated contacts are fixed points of the model and survive the converter."""
        assert MediaContact(**{k: getattr(c, k) for k in MediaContact.FIELDS}) == c
        assert converter.structure(converter.unstructure(c), MediaContact) == c

    @pytest.mark.parametrize("way", ["email", "phone", "url"])
    def test_contacts_reached_every_way(self, way: str) -> None:
        """contacts() makes contacts without ``way`` and contacts reached by ``way`` alone, so
        an exporter's code for a missing email, phone or URL is exercised."""
        ways = ("email", "phone", "url")
        # Any example will do; derandomised with room to look, so the search never flakes
        # (a contact reached by one way alone is about one draw in forty).
        quick = settings(phases=[Phase.generate], database=None, derandomize=True,
                         max_examples=2_000)
        find(contacts(), lambda c: getattr(c, way) is None, settings=quick)
        alone = find(contacts(), lambda c: all((getattr(c, w) is None) == (w != way)
                                                for w in ways), settings=quick)
        assert getattr(alone, way) is not None


class TestFiles:
    """``dump`` then ``load`` through files on disk."""

    @pytest.mark.parametrize("name", ["out/stories.json", "out/stories.csv"])
    def test_dump_then_load(self, tmp_path: Path, example: Collection, name: str) -> None:
        """A file written by ``dump`` loads back, its format taken from the suffix."""
        path = storykit.dump(example, tmp_path / name)
        back = storykit.load(path)
        assert back.stories == example.stories
        if name.endswith(".json"):
            assert back == example
