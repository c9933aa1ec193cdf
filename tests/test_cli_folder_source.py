"""Every command that takes a SOURCE reads a content folder, as `validate` and `import` do."""

from __future__ import annotations

import csv
import io
import json
from email import message_from_bytes, policy
from pathlib import Path

from click.testing import CliRunner, Result

import storykit
from storykit.cli import main

ROOT = Path(__file__).resolve().parents[1]
CONTENT = ROOT / "examples" / "impact-and-people" / "content"


def invoke(*args: str | Path) -> Result:
    return CliRunner().invoke(main, [str(a) for a in args], prog_name="storykit",
                              catch_exceptions=False)


def test_export_a_content_folder(tmp_path: Path) -> None:
    """`storykit export content/ --topic COVID-19 -o stories.csv` writes the folder's matching
    stories."""
    out = tmp_path / "stories.csv"
    result = invoke("export", CONTENT, "--topic", "COVID-19", "-o", out)
    assert result.exit_code == 0, result.stderr
    rows = list(csv.DictReader(io.StringIO(out.read_text(encoding="utf-8-sig"))))
    expected = storykit.load(CONTENT).filter(topic="COVID-19")
    assert [r["id"] for r in rows] == [s.id for s in expected]


def test_list_a_content_folder() -> None:
    """`storykit list content/ --format json` prints the folder's stories."""
    result = invoke("list", CONTENT, "--format", "json")
    assert result.exit_code == 0, result.stderr
    listed = json.loads(result.stdout)
    assert len(listed) == len(storykit.load(CONTENT)) == 10


def test_digest_of_a_content_folder(tmp_path: Path) -> None:
    """`storykit digest content/ --since --until -o digest.eml` writes the week's message."""
    out = tmp_path / "digest.eml"
    result = invoke("digest", CONTENT, "--since", "2021-02-17", "--until", "2021-02-23",
                    "-O", "to=journalists@example.org", "-o", out)
    assert result.exit_code == 0, result.stderr
    message = message_from_bytes(out.read_bytes(), policy=policy.default)
    html = message.get_body(("html",))
    assert html is not None
    assert "Can digital labour platforms create fair competition" in html.get_content()
