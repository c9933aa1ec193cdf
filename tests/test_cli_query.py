"""One set of filters on every command, `storykit list`, `storykit import`, and the options of
a format (`storykit formats FORMAT`, the generated reference page)."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from test_cli import fresh_registry, invoke  # (each command against a fresh registry)

import storykit

ROOT = Path(__file__).resolve().parents[1]
__all__ = ["fresh_registry"]  # (an autouse fixture: imported to apply here too)


def listed(*args: str | Path) -> list[dict[str, object]]:
    """The stories ``storykit list ... --format json`` prints."""
    result = invoke("list", *args, "--format", "json")
    assert result.exit_code == 0, result.stderr
    got: list[dict[str, object]] = json.loads(result.stdout)
    return got


def formats_page() -> str:
    """The generated formats reference page (docs/hooks/generate.py)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("generate",
                                                  ROOT / "docs" / "hooks" / "generate.py")
    assert spec is not None and spec.loader is not None
    generate = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(generate)
    page: str = generate.formats_reference()
    return page


class TestFilters:
    @pytest.mark.parametrize("country", ["LK", "lk", "Sri Lanka", "sri  LANKA"])
    def test_country_by_code_or_name(self, example_json: Path, country: str) -> None:
        """--country takes a code in any case, or the country's name."""
        assert [s["id"] for s in listed(example_json, "--country", country)] == [
            "a-song-to-let-children-fly"]

    def test_a_name_in_the_collections_language(self, tmp_path: Path) -> None:
        """A French collection's stories are found by the French name of their country."""
        doc = {"title": "Histoires", "language": "fr", "stories": [
            {"id": "cote", "title": "Cacao", "published": "2021-02-01", "summary": "x",
             "countries": ["CI"]},
            {"id": "allemagne", "title": "Bière", "published": "2021-02-02", "summary": "x",
             "countries": ["DE"]}]}
        src = tmp_path / "fr.json"
        src.write_text(json.dumps(doc), encoding="utf-8")
        assert [s["id"] for s in listed(src, "--country", "Allemagne")] == ["allemagne"]
        assert [s["id"] for s in listed(src, "--country", "Côte d’Ivoire")] == ["cote"]
        assert [s["id"] for s in listed(src, "--country", "Germany")] == ["allemagne"]

    def test_an_unknown_country_is_a_usage_error(self, example_json: Path) -> None:
        """A name that is no country: exit 2, one line naming the option and the value."""
        result = invoke("export", example_json, "--format", "csv", "--country", "Narnia")
        assert result.exit_code == 2
        assert result.stderr.startswith("storykit: error: --country: 'Narnia' is not")
        assert result.stdout == ""

    @pytest.mark.parametrize(("args", "ids"), [
        (["--week", "2021-W07"], ["a-fight-for-survival-amid-the-pandemic"]),
        (["--month", "2021-01", "--topic", "child labour"],
         ["child-labour-in-myanmars-jade-mines-is-a-deadly-gamble"]),
        (["--since", "2021-02-19", "--until", "2021-02-22"],
         ["additional-incomes-help-rural-communities-of-timor-leste-during-the-pandemic",
          "a-fight-for-survival-amid-the-pandemic"]),
        (["--last", "2d", "--today", "2021-02-23"],
         ["can-digital-labour-platforms-create-fair-competition-and-decent-jobs",
          "additional-incomes-help-rural-communities-of-timor-leste-during-the-pandemic"]),
        (["--search", "BEES"], ["bees-a-remedy-for-business-success"]),
        (["--language", "fr"], []),
    ])
    def test_windows_topics_text_language(self, example_json: Path, args: list[str],
                                          ids: list[str]) -> None:
        """Each filter keeps what it says, newest first."""
        assert [s["id"] for s in listed(example_json, *args)] == ids

    def test_two_windows_are_a_usage_error(self, example_json: Path) -> None:
        """--week and --month together: exit 2, saying to give only one."""
        result = invoke("list", example_json, "--week", "2021-W07", "--month", "2021-02")
        assert result.exit_code == 2
        assert "give only one of --week and --month" in result.stderr

    def test_export_writes_only_the_matching_stories(self, example_json: Path,
                                                     tmp_path: Path) -> None:
        """export --country writes the matching stories, and a reader finds only them."""
        out = tmp_path / "lk.csv"
        result = invoke("export", example_json, "--country", "Sri Lanka", "-o", out)
        assert result.exit_code == 0, result.stderr
        rows = list(csv.DictReader(io.StringIO(out.read_text(encoding="utf-8"))))
        assert [r["id"] for r in rows] == ["a-song-to-let-children-fly"]
        assert result.stderr == f"wrote {out} (csv, 1 story)\n"

    def test_export_of_a_json_lines_archive_filters_story_by_story(
            self, example: storykit.Collection, tmp_path: Path) -> None:
        """A JSON Lines source is filtered as it is read; the output holds the window."""
        src = tmp_path / "archive.jsonl"
        storykit.dump(example, src)
        out = tmp_path / "feb.json"
        result = invoke("export", src, "--month", "2021-02", "-o", out)
        assert result.exit_code == 0, result.stderr
        assert len(storykit.load(out)) == len(example.filter(since="2021-02-01",
                                                             until="2021-02-28"))

    def test_validate_counts_the_matching_stories(self, example_json: Path) -> None:
        """validate checks the whole file and says how many stories match."""
        result = invoke("validate", example_json, "--topic", "child labour")
        assert result.exit_code == 0, result.stderr
        assert result.stdout == f"{example_json}: ok (2 stories matching, 1 contact)\n"

    def test_digest_takes_country(self, example_json: Path) -> None:
        """digest --country keeps the window's stories about that country."""
        result = invoke("digest", example_json, "--month", "2021-02", "--country", "Timor-Leste",
                        "--format", "json", "-o", "-")
        assert result.exit_code == 0, result.stderr
        got = storykit.loads(result.stdout_bytes)
        assert got.ids == ("additional-incomes-help-rural-communities-of-timor-leste-during"
                           "-the-pandemic",)


class TestList:
    def test_table(self, example_json: Path) -> None:
        """A header, then one row per story (newest first): id, date, title, topics,
        countries."""
        result = invoke("list", example_json, "--topic", "child labour")
        assert result.exit_code == 0, result.stderr
        lines = result.stdout.splitlines()
        assert lines[0].split() == ["ID", "DATE", "TITLE", "TOPICS", "COUNTRIES"]
        assert lines[1].split("  ")[0] == "a-song-to-let-children-fly"
        assert lines[1].split()[1:3] == ["2021-02-03", "A"]
        assert lines[1].endswith("child labour          LK")
        assert len(lines) == 3

    def test_csv_reads_back(self, example_json: Path, example: storykit.Collection) -> None:
        """--format csv is read by the csv module: every story, lists joined by '; '."""
        result = invoke("list", example_json, "--format", "csv")
        rows = list(csv.DictReader(io.StringIO(result.stdout)))
        assert {r["id"] for r in rows} == set(example.ids)
        song = next(r for r in rows if r["id"] == "a-song-to-let-children-fly")
        assert song == {"id": "a-song-to-let-children-fly", "date": "2021-02-03",
                        "title": "A song to let children fly", "topics": "child labour",
                        "countries": "LK"}

    @pytest.mark.parametrize("key", ["topic", "country", "month", "week", "language"])
    def test_count_by(self, example_json: Path, example: storykit.Collection,
                      key: str) -> None:
        """--count-by gives what group_by gives, as JSON or a table."""
        result = invoke("list", example_json, "--count-by", key, "--format", "json")
        assert result.exit_code == 0, result.stderr
        got = {row["key"]: row["count"] for row in json.loads(result.stdout)}
        assert got == {str(k): len(v) for k, v in example.group_by(key).items()}  # type: ignore[arg-type]

    def test_weeks_are_in_time_order(self, example_json: Path) -> None:
        """Weeks and months are listed in time order, numbers right-aligned in the table."""
        result = invoke("list", example_json, "--count-by", "week")
        lines = result.stdout.splitlines()
        assert lines[0].split() == ["KEY", "COUNT"]
        weeks = [line.split()[0] for line in lines[1:]]
        assert weeks == sorted(weeks)
        assert lines[1] == "2021-W02      1"


class TestImport:
    def test_a_csv_file_becomes_the_json_document(self, example: storykit.Collection,
                                                  tmp_path: Path) -> None:
        """import SOURCE -o stories.json writes the canonical document, which loads back."""
        src = tmp_path / "stories.csv"
        storykit.dump(example, src)
        out = tmp_path / "stories.json"
        result = invoke("import", src, "-o", out)
        assert result.exit_code == 0, result.stderr
        assert storykit.load(out).ids == example.ids
        assert json.loads(out.read_text(encoding="utf-8"))["stories"][0]["id"] == example.ids[0]

    def test_any_writer_by_suffix(self, example_json: Path, tmp_path: Path) -> None:
        """-o's suffix picks the writer (JSON Lines here)."""
        out = tmp_path / "stories.jsonl"
        result = invoke("import", example_json, "--from", "json", "-o", out)
        assert result.exit_code == 0, result.stderr
        assert len(out.read_text(encoding="utf-8").splitlines()) == 10

    def test_an_unknown_reader_is_a_usage_error(self, example_json: Path,
                                                tmp_path: Path) -> None:
        """--from a reader that does not exist: exit 2, naming the readers; nothing written."""
        out = tmp_path / "out.json"
        result = invoke("import", example_json, "--from", "nosuch", "-o", out)
        assert result.exit_code == 2
        assert result.stderr.startswith("storykit: error: --from nosuch: no such reader")
        assert not out.exists()


class TestFormatOptions:
    def test_a_writers_options(self) -> None:
        """formats csv lists each option with its type, default and #: description."""
        result = invoke("formats", "csv")
        assert result.exit_code == 0, result.stderr
        out = result.stdout
        assert out.startswith("csv (writer): ")
        assert "  bom  (bool, default: False)\n" in out
        assert "Start with a UTF-8 byte order mark, which Excel needs to read UTF-8." in out

    def test_json(self) -> None:
        """--json gives the same options as data."""
        result = invoke("formats", "csv", "--json")
        options = {o["name"]: o for o in json.loads(result.stdout)["writer"]}
        assert options["header"] == {"name": "header", "type": "bool", "default": "True",
                                     "description": "Write the header row (the CSV loader "
                                                    "needs it)."}

    def test_every_option_of_every_writer_is_described_or_shown(self) -> None:
        """Each writer's options appear by name (the options class is read, not a copy)."""
        import attrs

        from storykit.plugins import get_registry

        for name, info in get_registry().exporters.items():
            out = invoke("formats", name).stdout
            cls = getattr(info.exporter, "options_type", None)
            for field in attrs.fields(cls) if cls is not None else ():
                assert f"  {field.name}  (" in out, (name, field.name)

    def test_an_unknown_format_lists_them(self) -> None:
        """formats NOSUCH: exit 2, the error lists the formats."""
        result = invoke("formats", "nosuch")
        assert result.exit_code == 2
        assert "csv" in result.stderr

    def test_export_help_points_to_it(self) -> None:
        """export --help says where a format's options are."""
        assert "storykit formats FORMAT" in invoke("export", "--help").stdout

    def test_dumps_help_points_to_it(self) -> None:
        """help(storykit.dumps) says where the options are."""
        assert "storykit formats FORMAT" in (storykit.dumps.__doc__ or "")

    def test_reference_page_lists_every_writer(self) -> None:
        """The generated reference page has a section and an options table per writer."""
        page = formats_page()
        from storykit.plugins import get_registry

        for name in get_registry().exporters:
            assert f"### `{name}`" in page
        assert "| `bom` | `bool` | `False` | Start with a UTF-8 byte order mark" in page

    def test_reference_page_lists_every_reader(self) -> None:
        """The page has a section per reader, apart from the writer of the same name, saying
        how it is picked, and a described row per option."""
        page = formats_page()
        readers = page[page.index("## Readers"):]
        for name, reader in storykit.readers().items():
            assert f"### `{name}` reader\n" in readers
            section = readers[readers.index(f"### `{name}` reader\n"):].split("\n### ")[0]
            assert f'`format="{name}"` (`--from {name}`) picks it' in section
            for suffix in reader.suffixes:
                assert f"`{suffix}`" in section
        assert "for any folder" in readers
        sqlite = readers[readers.index("### `sqlite` reader"):].split("\n### ")[0]
        for option in ("topic", "country", "since", "until", "language", "text", "where"):
            row = next(line for line in sqlite.splitlines() if line.startswith(f"| `{option}`"))
            assert not row.rstrip().endswith("|  |"), f"{option} has no description"
