"""Regenerate stories.toml from stories.json (the two must hold the same collection)."""

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


if __name__ == "__main__":
    doc = json.loads((HERE / "stories.json").read_text(encoding="utf-8"))
    (HERE / "stories.toml").write_text(to_toml(doc), encoding="utf-8")
