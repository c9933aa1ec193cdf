"""The guide's "Writing a reader" example runs and keeps the reader contract."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest

from storykit import ValidationError
from storykit.testing import check_reader

GUIDE = Path(__file__).resolve().parents[1] / "docs" / "plugins.md"


def reader_module() -> dict[str, Any]:
    text = GUIDE.read_text(encoding="utf-8")
    start = text.index("# myreaders/desk.py")
    code = text[start:text.index("```", start)]
    namespace: dict[str, Any] = {"__name__": "desk"}
    exec(compile(code, str(GUIDE), "exec"), namespace)  # the guide's own code
    return namespace


def test_guide_reader_keeps_the_contract() -> None:
    module = reader_module()
    reader = module["DeskListReader"]()
    check_reader(reader, sample=b"2021-02-23 | Bees | Honey helps.\n", max_examples=10)
    assert [r.name for r in module["register_readers"]()] == ["desk"]


def test_guide_reader_names_the_line() -> None:
    reader = reader_module()["DeskListReader"]()
    with pytest.raises(ValidationError) as e:
        reader.read(io.BytesIO(b"2021-02-23 | Bees | Honey.\nsomeday | Wasps | Stings.\n"))
    assert [d.path for d in e.value.errors] == ["line 2: published"]
