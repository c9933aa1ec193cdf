"""The first-party plugins (plugins/storykit-*): each adds its formats, and only its formats.

Uninstalling one plugin must remove exactly the formats it registered and leave every other
format working. That is checked twice: by unregistering the plugin from a registry, and for real
in a subprocess whose site-packages lacks the distribution's files (as `pip uninstall` leaves it).
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import sysconfig
from importlib.metadata import distribution
from pathlib import Path

import pytest

import storykit
from storykit.plugins import Registry

#: distribution -> (entry point name, the formats it adds)
FIRST_PARTY = {
    "storykit-feeds": ("feeds", {"atom", "rss", "jsonfeed"}),
    "storykit-vcard": ("vcard", {"vcard"}),
    "storykit-markdown": ("markdown", {"markdown"}),
}
ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "impact-and-people" / "stories.json"


def _formats_by_distribution(registry: Registry) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for name, info in registry.exporters.items():
        dist = (info.distribution or "-").split(" ")[0]
        found.setdefault(dist, set()).add(name)
    return found


class TestInstalled:
    def test_each_distribution_adds_its_formats(self) -> None:
        """With the plugins installed, each format is listed with its plugin's distribution."""
        registry = Registry()
        assert not registry.errors, registry.errors
        by_dist = _formats_by_distribution(registry)
        for dist, (plugin, formats) in FIRST_PARTY.items():
            assert by_dist.get(dist) == formats
            for name in formats:
                assert registry.exporters[name].plugin == plugin

    @pytest.mark.parametrize("name", ["atom", "rss", "jsonfeed", "vcard", "markdown"])
    def test_every_format_exports_the_example(self, name: str) -> None:
        """Each first-party format writes the example collection."""
        assert storykit.dumps(storykit.load(EXAMPLE), name)


class TestUnregister:
    @pytest.mark.parametrize("dist", sorted(FIRST_PARTY))
    def test_removing_one_plugin_removes_only_its_formats(self, dist: str,
                                                          tmp_path: Path) -> None:
        """Unregistering one plugin takes away its formats; every other format stays usable."""
        registry = Registry()
        before = set(registry.exporters)
        plugin, formats = FIRST_PARTY[dist]
        registry.unregister(plugin)
        after = set(registry.exporters)
        assert after == before - formats
        for name in formats:
            with pytest.raises(storykit.UnknownFormatError):
                registry.get(name)
        col = storykit.load(EXAMPLE)
        for name in after:
            exporter = registry.get(name)
            if getattr(exporter, "output", "stream") == "folder":  # (the site writes a folder)
                files = exporter.write_path(col, tmp_path / name)
                assert files and any((tmp_path / name).iterdir()), name
                continue
            out = io.BytesIO()
            exporter.write(col, out)
            assert out.getvalue(), name


def _site_without(dist: str, farm: Path) -> Path:
    """A copy of site-packages (as symlinks) without the files that ``dist`` installed."""
    site = Path(sysconfig.get_paths()["purelib"])
    record = distribution(dist).read_text("RECORD") or ""
    owned = {line.split(",")[0].split("/")[0] for line in record.splitlines() if line}
    farm.mkdir()
    for entry in site.iterdir():
        if entry.name not in owned:
            (farm / entry.name).symlink_to(entry)
    return farm


class TestUninstalled:
    @pytest.mark.parametrize("dist", sorted(FIRST_PARTY))
    def test_uninstalled_distribution_leaves_the_others(self, dist: str, tmp_path: Path) -> None:
        """Without one distribution's files, `storykit formats` lists all but its formats."""
        farm = _site_without(dist, tmp_path / "site-packages")
        program = ("import site, sys; site.addsitedir(sys.argv[1]); "
                   "from storykit.cli import main; main(['formats', '--json'])")
        env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH",)}
        proc = subprocess.run([sys.executable, "-S", "-c", program, str(farm)],
                              capture_output=True, text=True, env=env, check=False,
                              cwd=tmp_path)
        assert proc.returncode == 0, proc.stderr
        assert "warning" not in proc.stderr, proc.stderr
        listed = {row["name"]: row["distribution"] for row in json.loads(proc.stdout)}
        expected = set(Registry().exporters) - FIRST_PARTY[dist][1]
        assert set(listed) == expected
        for other, (_, formats) in FIRST_PARTY.items():
            if other != dist:
                for name in formats:
                    assert listed[name].startswith(f"{other} ")
