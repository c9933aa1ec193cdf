"""Problems of JSON and TOML documents at their line and column."""

from __future__ import annotations

import copy
import json
import pickle
from typing import Any

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import storykit
from storykit import ValidationError
from storykit.errors import ErrorDetail
from storykit.testing import collections

STORY = {"title": "Bees", "summary": "S", "published": "2021-02-01", "topics": ["a", "b"]}


def places(data: str, fmt: str) -> list[tuple[int | None, int | None, str]]:
    with pytest.raises(ValidationError) as err:
        storykit.loads(data, fmt)
    return [(e.line, e.column, e.path) for e in err.value.errors]


class TestErrorDetail:
    def test_renders_line_and_column(self) -> None:
        """The column follows the line when both are known; the line alone otherwise."""
        e = ErrorDetail("stories[0].published", "bad", "x", 4, 19)
        assert str(e) == "line 4, column 19: stories[0].published: bad"
        assert str(ErrorDetail("title", "bad", None, 4)) == "line 4: title: bad"
        assert str(ErrorDetail("title", "bad")) == "title: bad"

    def test_pickles_and_copies_with_its_column(self) -> None:
        """A problem sent to another process (or copied) keeps its column."""
        error = ValidationError([ErrorDetail("stories[0].title", "bad", 3, 4, 19)], "a.json")
        for again in (pickle.loads(pickle.dumps(error)), copy.copy(error)):
            assert again.errors == error.errors
            assert str(again) == str(error)
            assert again.errors[0].column == 19


class TestJSON:
    DOC = """{
  "title": "C",
  "stories": [
    {"title": "Bees", "summary": "S", "published": "2021-02-01"},
    {
      "title": "Two",
      "summary": "S",
      "published": "2021-02-30",
      "topics": ["x", 3]
    },
    {"summary": "no title", "published": "2021-02-01"}
  ]
}
"""

    def test_each_problem_at_its_key(self) -> None:
        """A bad value is placed at its field's key, an array's element at the element, and
        a missing field at its story's opening brace."""
        assert places(self.DOC, "json") == [
            (8, 7, "stories[1].published"),
            (9, 23, "stories[1].topics[1]"),
            (11, 5, "stories[2].title"),
        ]

    def test_in_a_bare_list_of_stories(self) -> None:
        """A document that is a list of stories is followed from its list."""
        data = '[\n  {"title": "Bees", "summary": "S",\n   "published": 5}\n]'
        assert places(data, "json") == [(3, 4, "stories[0].published")]

    def test_repeated_key_at_its_second_occurrence(self) -> None:
        """A key given twice is placed where it is given again."""
        data = ('[{"title": "A", "summary": "S", "published": "2021-02-01",\n'
                '  "title": "B"}]')
        assert places(data, "json") == [(2, 3, "stories[0].title")]

    def test_collection_fields_and_unusual_keys(self) -> None:
        """The collection's own fields and keys that are not identifiers (written
        ``['a b']`` in paths, escaped in JSON) are placed too."""
        data = ('{"title": 5,\n "stories": [{"title": "A", "summary": "S", '
                '"published": "2021-02-01",\n  "pub\\u006cished date": 1}]}')
        found = places(data, "json")
        assert found[0] == (1, 2, "title")
        assert found[1] == (3, 3, "stories[0]['published date']")

    def test_non_ascii_columns_count_characters(self) -> None:
        """Columns count characters, as editors do, not UTF-8 bytes; a BOM is not one."""
        data = '\ufeff[{"title": "Ωμέγα", "summary": "S", "published": "x"}]'
        assert places(data, "json") == [(1, 37, "stories[0].published")]
        with pytest.raises(ValidationError) as err:
            storykit.loads(data.encode(), "json")
        assert (err.value.errors[0].line, err.value.errors[0].column) == (1, 37)

    def test_syntax_error_has_line_and_column(self) -> None:
        """orjson's position of broken JSON is in the fields, not only in the text."""
        with pytest.raises(ValidationError) as err:
            storykit.loads('{\n  "stories": [\n    {"title": x}]}', "json")
        (e,) = err.value.errors
        assert (e.line, e.column) == (3, 15)
        assert str(e).startswith("line 3, column 15: (document): is not valid JSON:")

    def test_valid_documents_never_look_for_positions(
            self, monkeypatch: pytest.MonkeyPatch) -> None:
        """The second pass runs only for a document with problems."""
        import storykit.read.positions as positions

        def refuse(*args: Any) -> None:
            raise AssertionError("positions looked up for a valid document")

        monkeypatch.setattr(positions, "located", refuse)
        assert len(storykit.loads(json.dumps([STORY]), "json")) == 1
        assert len(storykit.loads('[[stories]]\ntitle = "A"\nsummary = "S"\n'
                                  'published = 2021-02-01\n', "toml")) == 1

    def test_huge_documents_keep_problems_without_positions(
            self, monkeypatch: pytest.MonkeyPatch) -> None:
        """Past the size cap, problems are reported as before, without a place."""
        import storykit.read.positions as positions

        monkeypatch.setattr(positions, "MAX_MAPPED", 10)
        assert places(self.DOC, "json")[0] == (None, None, "stories[1].published")


@settings(max_examples=40, deadline=None)
@given(col=collections(min_size=1, max_size=4), data=st.data())
def test_json_problem_line_holds_its_key(col: storykit.Collection, data: st.DataObject) -> None:
    """In any collection written as indented JSON, one field of one story made invalid is
    reported on the line (and at the column) of that field's key."""
    doc = json.loads(storykit.dumps(col, "json", indent=2))
    i = data.draw(st.integers(0, len(doc["stories"]) - 1), label="story")
    field = data.draw(st.sampled_from(sorted(doc["stories"][i])), label="field")
    doc["stories"][i][field] = True  # (no field is a boolean)
    # The exporter's own layout: its encoder's output, indented by msgspec.
    text = msgspec.json.format(json.dumps(doc, ensure_ascii=False).encode(), indent=2).decode()
    lines = text.split("\n")
    with pytest.raises(ValidationError) as err:
        storykit.loads(text, "json")
    mine = [e for e in err.value.errors if e.path == f"stories[{i}].{field}"]
    assert mine, err.value
    for e in err.value.errors:
        assert e.line is not None and e.column is not None, e
        if e in mine:
            assert lines[e.line - 1][e.column - 1:].startswith(f'"{field}": true'), (e, text)


class TestTOML:
    DOC = '''title = "C"

[[stories]]
title = "Bees"
summary = "S"
published = 2021-02-01

[[stories]]
title = "Two"
summary = """a multi-line string
[[stories]]
published = "not a table"
"""
published = "2021-02-30"
topics = [
  "x",
  3,
]
image = { url = "https://example.org/a.png", alt = 5 }

[[stories]]
summary = "no title"
published = 2021-02-01

[stories.image]
url = "https://example.org/b.png"
alt = 7

[[stories.links]]
url = "https://example.org/c"
title = 8
'''

    def test_each_problem_at_its_key(self) -> None:
        """Keys of ``[[stories]]`` tables, elements of multi-line arrays, keys of inline tables,
        of ``[stories.image]`` sub-tables and of ``[[stories.links]]`` are each placed; a
        missing field at its story's ``[[stories]]``; a multi-line string is skipped."""
        assert sorted(places(self.DOC, "toml"), key=str) == sorted([
            (14, 1, "stories[1].published"),
            (17, 3, "stories[1].topics[1]"),
            (19, 46, "stories[1].image.alt"),
            (21, 1, "stories[2].title"),
            (27, 1, "stories[2].image.alt"),
            (31, 1, "stories[2].links[0].title"),
        ], key=str)

    def test_collection_fields_and_dotted_keys(self) -> None:
        """Top-level keys, quoted keys and dotted keys are placed."""
        data = ('title = 5\n\n[[stories]]\n"title" = "A"\nsummary = "S"\n'
                'published = 2021-02-01\nimage.url = "https://example.org/a.png"\n'
                'image.alt = 3\n')
        assert places(data, "toml") == [(1, 1, "title"), (8, 1, "stories[0].image.alt")]

    def test_syntax_error_has_line_and_column(self) -> None:
        """tomllib's place, given only in its message, is in the fields."""
        with pytest.raises(ValidationError) as err:
            storykit.loads('title = "C"\n[[stories]\n', "toml")
        (e,) = err.value.errors
        assert (e.line, e.column) == (2, 10)
        assert e.message == "is not valid TOML: Expected ']]' at the end of an array declaration"
        with pytest.raises(ValidationError) as err:
            storykit.loads('title = "C', "toml")
        (e,) = err.value.errors
        assert e.line == 1 and e.column is not None and "(at " not in e.message
