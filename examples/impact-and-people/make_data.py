"""Regenerate stories.toml and content/ from stories.json (all hold the same collection).

content/ is the collection as a Hugo/Jekyll-style content folder, read by the ``folder``
reader: collection.toml for the collection's metadata and contacts, and one Markdown file per
story with YAML front matter (``date`` for ``published``, as site generators spell it).
"""

from __future__ import annotations

import json
from pathlib import Path

HERE = Path(__file__).parent


def _toml_value(value: object) -> str:
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{k} = {_toml_value(v)}" for k, v in value.items()) + " }"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    return json.dumps(value, ensure_ascii=False)


def to_toml(doc: dict[str, object]) -> str:
    lines = ["# The seed page \"Impact and people\" as data (generated from stories.json).", ""]
    for key, value in doc.items():
        if key not in ("contacts", "stories"):
            lines.append(f"{key} = {_toml_value(value)}")
    for table in ("contacts", "stories"):
        for item in doc.get(table, []):  # type: ignore[attr-defined]
            lines += ["", f"[[{table}]]"]
            for key, value in item.items():
                if key == "published":
                    lines.append(f"{key} = {value}")  # a TOML date, not a string
                else:
                    lines.append(f"{key} = {_toml_value(value)}")
    return "\n".join(lines) + "\n"


def content_files(doc: dict[str, object]) -> dict[str, str]:
    """The content folder's files, by path relative to it."""
    meta = {k: v for k, v in doc.items() if k != "stories"}
    files = {"collection.toml": to_toml(meta).replace(
        "(generated from stories.json)", "(generated from stories.json by make_data.py)")}
    for story in doc.get("stories", []):  # type: ignore[attr-defined]
        lines = ["---"]
        for key, value in story.items():
            # JSON is YAML's flow style: every value written as JSON reads back as it was.
            lines.append(f"{'date' if key == 'published' else key}: "
                         f"{json.dumps(value, ensure_ascii=False)}")
        lines.append("---")
        year = str(story["published"])[:4]
        files[f"{year}/{story['id']}.md"] = "\n".join(lines) + "\n"
    return files


if __name__ == "__main__":
    doc = json.loads((HERE / "stories.json").read_text(encoding="utf-8"))
    (HERE / "stories.toml").write_text(to_toml(doc), encoding="utf-8")
    for rel, text in content_files(doc).items():
        path = HERE / "content" / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
