"""Streaming export: JSON Lines and CSV files go out as CSV or JSON Lines in constant memory,
with load()'s verdict on bad input."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from hypothesis import given, settings
from hypothesis import strategies as st

import storykit
from storykit.cli import main
from storykit.io import atomic_writer, stream_export, streamable
from storykit.plugins import get_exporter
from storykit.testing import collections


def _story(i: int, **extra: Any) -> dict[str, Any]:
    return {"id": f"story-{i}", "title": f"Story {i} — “naïve”", "published": "2021-02-03",
            "summary": f"=SUM(A{i}) and more", **extra}


def _jsonl(path: Path, items: list[Any]) -> Path:
    path.write_text("".join(json.dumps(x, ensure_ascii=False) + "\n" for x in items),
                    encoding="utf-8")
    return path


def _export(*args: str | Path) -> Result:
    return CliRunner().invoke(main, [str(a) for a in args], prog_name="storykit",
                              catch_exceptions=False)


class TestStreamExport:
    @settings(max_examples=25)
    @given(collections(max_size=6), st.sampled_from(["csv", "json"]))
    def test_streamed_output_equals_the_loaded_one(self, col: storykit.Collection,
                                                   fmt: str) -> None:
        """A JSON Lines file streamed to CSV or JSON Lines gives the bytes dump() gives."""
        import tempfile

        options = {"shape": "lines"} if fmt == "json" else {}
        with tempfile.TemporaryDirectory() as tmp:
            src = Path(tmp) / "in.jsonl"
            src.write_bytes(storykit.dumps(col, "json", shape="lines"))
            out = Path(tmp) / "out"
            with atomic_writer(out) as f:
                n = stream_export(src, get_exporter(fmt), f, **options)
            assert n == len(col)
            assert out.read_bytes() == storykit.dumps(storykit.load(src), fmt, **options)

    def test_csv_source_streams_too(self, tmp_path: Path) -> None:
        """A CSV file streams to JSON Lines; each line loads back to the CSV's story."""
        src = tmp_path / "in.csv"
        src.write_bytes(storykit.dumps(storykit.Collection(stories=[_story(1), _story(2)]),
                                       "csv"))
        out = tmp_path / "out.jsonl"
        result = _export("export", src, "--format", "json", "-O", "shape=lines", "-o", out)
        assert result.exit_code == 0, result.output
        assert storykit.load(out) == storykit.load(src)

    def test_every_bad_record_is_reported_with_its_line(self, tmp_path: Path) -> None:
        """Two bad stories among good ones: both reported, with line and path; no output."""
        src = _jsonl(tmp_path / "in.jsonl", [
            _story(0), _story(1, published="2021-02-30"), _story(2), _story(3, url="ftp://x"),
        ])
        out = tmp_path / "out.csv"
        result = _export("export", src, "--format", "csv", "-o", out)
        assert result.exit_code == 1
        assert "line 2: stories[1].published: '2021-02-30' is not a valid date" in result.output
        assert "line 4: stories[3].url" in result.output
        assert not out.exists()
        with pytest.raises(storykit.ValidationError) as loaded:
            storykit.load(src)
        assert len(loaded.value.errors) == 2

    def test_errors_after_an_unreadable_line_are_load_s_errors(self, tmp_path: Path) -> None:
        """A line that is not JSON, a repeated key and a bad date: the same list as load()."""
        src = tmp_path / "in.jsonl"
        lines = [json.dumps(_story(0)), '{"id": "x", "title": ', json.dumps(_story(2)),
                 '{"id":"a","id":"b","title":"T","published":"2021-02-03","summary":"s"}',
                 json.dumps(_story(4, published="2021-02-30")), ""]
        src.write_text("\n".join(lines), encoding="utf-8")
        with pytest.raises(storykit.ValidationError) as loaded:
            storykit.load(src)
        with pytest.raises(storykit.ValidationError) as streamed, \
                atomic_writer(tmp_path / "out.csv") as f:
            stream_export(src, get_exporter("csv"), f)
        assert [str(e) for e in streamed.value.errors] == [str(e) for e in loaded.value.errors]
        assert [e.line for e in streamed.value.errors] == [2, 4, 5]
        assert "stories[4].published" in str(streamed.value)

    def test_repeated_id_is_reported_as_load_reports_it(self, tmp_path: Path) -> None:
        """Two stories with one id: the same error as load(), and no output."""
        src = _jsonl(tmp_path / "in.jsonl", [_story(1), _story(2), _story(1)])
        out = tmp_path / "out.csv"
        result = _export("export", src, "--format", "csv", "-o", out)
        assert result.exit_code == 1
        assert "stories[2].id: 'story-1' is already the id of stories[0]" in result.output
        assert not out.exists()

    def test_clashing_derived_ids_are_numbered_as_load_numbers_them(self, tmp_path: Path,
                                                                     ) -> None:
        """Two stories without ids and with one title get "-2", as with load()."""
        same = {"title": "Same title", "published": "2021-02-03", "summary": "x"}
        src = _jsonl(tmp_path / "in.jsonl", [same, same])
        out = tmp_path / "out.csv"
        assert _export("export", src, "--format", "csv", "-o", out).exit_code == 0
        ids = [row["id"] for row in csv.DictReader(io.StringIO(out.read_text("utf-8")))]
        assert ids == ["same-title", "same-title-2"]

    def test_formulas_are_neutralised_when_streaming(self, tmp_path: Path) -> None:
        """The streamed CSV makes formula cells inert, as the exporter always does."""
        src = _jsonl(tmp_path / "in.jsonl", [_story(1)])
        out = tmp_path / "out.csv"
        assert _export("export", src, "--format", "csv", "-o", out).exit_code == 0
        row = next(csv.DictReader(io.StringIO(out.read_text("utf-8"))))
        assert row["summary"] == "'=SUM(A1) and more"

    def test_only_line_and_csv_files_stream(self, tmp_path: Path) -> None:
        """JSON and TOML documents are loaded whole; JSON Lines, CSV and TSV stream."""
        assert streamable("a.jsonl") and streamable("a.csv") and streamable("a.tsv")
        assert not streamable("a.json") and not streamable("a.toml")


class TestLongLines:
    def test_an_over_long_line_is_an_error_and_the_rest_is_still_read(
            self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        """A line over the limit is reported with its number, without reading it whole; the
        lines after it are numbered and checked as usual."""
        import storykit.io

        monkeypatch.setattr(storykit.io, "MAX_LINE", 300)
        src = _jsonl(tmp_path / "in.jsonl", [
            _story(0), _story(1, summary="x" * 1_000), _story(2, published="2021-02-30"),
            _story(3)])
        with pytest.raises(storykit.ValidationError) as streamed, \
                atomic_writer(tmp_path / "out.csv") as f:
            stream_export(src, get_exporter("csv"), f)
        assert [str(e) for e in streamed.value.errors] == [
            "line 2: (document): is longer than 300 bytes, the limit for one line of JSON Lines",
            "line 3: stories[2].published: '2021-02-30' is not a valid date"]
        read = storykit.iter_stories(src)
        assert next(read).id == "story-0"
        with pytest.raises(storykit.ValidationError, match=r"line 2: .*longer than 300 bytes"):
            next(read)

    def test_a_line_of_exactly_the_limit_is_read(self, tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
        """The limit counts the record, not its newline; the last line needs no newline."""
        import storykit.io

        line = json.dumps(_story(0), ensure_ascii=False).encode()
        monkeypatch.setattr(storykit.io, "MAX_LINE", len(line))
        src = tmp_path / "in.jsonl"
        src.write_bytes(line + b"\n" + line.replace(b"story-0", b"story-1"))
        assert [s.id for s in storykit.iter_stories(src)] == ["story-0", "story-1"]
