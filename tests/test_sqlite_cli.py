"""The CLI's filters on an SQLite archive run as SQL: only the matching rows are read.

The archive here has one story that cannot be loaded (its date is not a date): a command that
read every row would fail on it; one whose filters run as SQL never reads it.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlite_support import broken_archive

import storykit
from storykit.cli import main


@pytest.fixture
def archive(tmp_path: Path, example: storykit.Collection) -> Path:
    return broken_archive(tmp_path / "archive.db", example)


def _run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.stdout, result.stderr


def test_the_broken_story_breaks_a_whole_read(archive: Path) -> None:
    with pytest.raises(storykit.ValidationError, match="someday"):
        storykit.load(archive)
    code, _, err = _run("list", str(archive))
    assert code == 1
    assert "someday" in err


def test_load_with_criteria_reads_only_matching_rows(archive: Path) -> None:
    got = storykit.load(archive, country="MM", text="mines")
    assert [s.id for s in got] == ["child-labour-in-myanmars-jade-mines-is-a-deadly-gamble"]


def test_list_search_and_country_run_as_sql(archive: Path) -> None:
    code, out, err = _run("list", str(archive), "--search", "mines", "--country", "MM",
                          "--format", "json")
    assert code == 0, err
    assert [s["id"] for s in json.loads(out)] == [
        "child-labour-in-myanmars-jade-mines-is-a-deadly-gamble"]


def test_export_with_a_filter_runs_as_sql(archive: Path, tmp_path: Path) -> None:
    out = tmp_path / "lk.json"
    code, _, err = _run("export", str(archive), "--country", "LK", "-o", str(out))
    assert code == 0, err
    assert [s.id for s in storykit.load(out)] == ["a-song-to-let-children-fly"]


def test_validate_with_a_filter_runs_as_sql(archive: Path) -> None:
    code, out, err = _run("validate", str(archive), "--since", "2021-02-01")
    assert code == 0, err
    assert "ok (6 stories matching" in out


def test_digest_of_a_week_runs_as_sql(archive: Path) -> None:
    code, out, err = _run("digest", str(archive), "--week", "2021-W07", "--format", "json")
    assert code == 0, err
    assert [s["id"] for s in json.loads(out)["stories"]] == [
        "a-fight-for-survival-amid-the-pandemic"]


def test_a_bad_search_is_a_one_line_usage_error(archive: Path) -> None:
    # Exit 2, as a bad --country: the archive is fine, the option's value is not.
    code, out, err = _run("list", str(archive), "--search", "mines AND")
    assert code == 2
    assert out == ""
    assert len(err.strip().splitlines()) == 1
    assert "--search: 'mines AND' is not a valid full-text query" in err


def test_a_bad_search_in_python_is_a_value_error(archive: Path) -> None:
    with pytest.raises(ValueError, match="not a valid full-text query"):
        storykit.load(archive, text='"unclosed')
