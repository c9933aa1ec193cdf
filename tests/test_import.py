"""``import storykit`` stays light: no exporters, no plugin discovery, no heavy libraries."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from typing import Any

import pytest

PROBE = """
import json, sys
import storykit
import storykit.plugins
print(json.dumps({
    "modules": sorted(sys.modules),
    "registry_made": storykit.plugins._default is not None,
}))
"""

#: Modules that ``import storykit`` must not pull in: exporters and the libraries only they,
#: or plugin discovery, need.
HEAVY = ("jinja2", "babel", "phonenumbers", "css_inline", "hypothesis", "email.mime",
         "importlib.metadata", "importlib_metadata", "markupsafe", "smtplib", "cattrs",
         "difflib")


@pytest.fixture(scope="module")
def fresh_import() -> dict[str, Any]:
    """``import storykit`` in a new interpreter: the modules it loaded and its import times."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", PROBE],
        capture_output=True, text=True, check=True, env=env, timeout=120,
    )
    result: dict[str, Any] = json.loads(proc.stdout)
    result["importtime"] = proc.stderr
    return result


class TestImport:
    """What ``import storykit`` loads."""

    def test_no_exporters(self, fresh_import: dict[str, Any]) -> None:
        """No exporter module (not even the built-in ones) is imported."""
        loaded = [m for m in fresh_import["modules"]
                  if m == "storykit.exporters" or m.startswith("storykit.exporters.")]
        assert loaded == []

    @pytest.mark.parametrize("name", HEAVY)
    def test_no_heavy_modules(self, fresh_import: dict[str, Any], name: str) -> None:
        """Heavy or discovery-only modules wait until they are needed."""
        loaded = [m for m in fresh_import["modules"] if m == name or m.startswith(name + ".")]
        assert loaded == []

    def test_no_plugin_discovery(self, fresh_import: dict[str, Any]) -> None:
        """No registry is made at import, so no entry point is read."""
        assert fresh_import["registry_made"] is False
        assert "storykit.testing" not in fresh_import["modules"]
        assert "storykit.cli" not in fresh_import["modules"]

    def test_import_time_reported(self, fresh_import: dict[str, Any],
                                  capsys: pytest.CaptureFixture[str]) -> None:
        """``-X importtime`` has a line for storykit (its figure is reported, not asserted)."""
        rows = re.findall(r"^import time:\s+(\d+) \|\s+(\d+) \| (\s*)(\S+)$",
                          fresh_import["importtime"], flags=re.MULTILINE)
        top = [int(cumulative) for _, cumulative, indent, name in rows
               if name == "storykit" and not indent]
        assert len(top) == 1
        with capsys.disabled():
            print(f"\n[import storykit: {top[0]:,} us cumulative]", end=" ")
