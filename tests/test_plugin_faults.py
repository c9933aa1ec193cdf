"""Broken plugins: each gives an error naming the plugin and its distribution; the rest works.

The fixture plugins are one-file plugins in ``tests/plugins_faults/``. They are loaded two ways:
as a ``--plugins-dir`` folder, and as entry points of installed distributions (simulated, so that
the error can name a distribution). A fresh registry is used in every test.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType, SimpleNamespace
from typing import Any

import pytest
from click.testing import CliRunner

import storykit
from storykit.cli import main
from storykit.plugins import Registry, use_registry

FOLDER = Path(__file__).parent / "plugins_faults"
#: Each broken fixture plugin, and what its error must say.
BROKEN = {
    "import_failure": "failed to load: ModuleNotFoundError",
    "misspelled_hook": "register_exporter",
    "wrong_signature": "'registry'",
    "raises_in_register": "failed in register_exporters(): RuntimeError",
    "twin_two": "'twin'",
}
WORKING_FORMATS = {"csv", "json", "html", "email", "titles", "explode", "twin"}


@pytest.fixture
def col() -> storykit.Collection:
    return storykit.Collection(title="Plugins", stories=[
        {"title": "A story", "published": "2021-02-03", "summary": "s"}])


class FakeEntryPoint:
    """An entry point of group ``storykit`` from a distribution ``storykit-<stem> 0.<n>``."""

    def __init__(self, file: Path, n: int) -> None:
        self.name = file.stem
        self.group = "storykit"
        self.file = file
        self.dist = SimpleNamespace(name=f"storykit-{file.stem.replace('_', '-')}",
                                    version=f"0.{n}")

    def load(self) -> ModuleType:
        modname = f"storykit_fault_fixture_{self.file.stem}"
        spec = importlib.util.spec_from_file_location(modname, self.file)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        try:
            spec.loader.exec_module(module)
        finally:
            sys.modules.pop(modname, None)
        return module


@pytest.fixture
def installed(monkeypatch: pytest.MonkeyPatch) -> Iterator[Registry]:
    """A registry that found every fixture plugin as an installed distribution's entry point."""
    eps = [FakeEntryPoint(f, n) for n, f in enumerate(sorted(FOLDER.glob("*.py")), 1)]

    def entry_points(**kwargs: Any) -> list[FakeEntryPoint]:
        return eps if kwargs.get("group") == "storykit" else []

    monkeypatch.setattr(importlib.metadata, "entry_points", entry_points)
    registry = Registry(autoload=True)
    with use_registry(registry):
        yield registry


def dist_of(stem: str) -> str:
    files = sorted(f.stem for f in FOLDER.glob("*.py"))
    return f"storykit-{stem.replace('_', '-')} 0.{files.index(stem) + 1}"


class TestLoading:
    def test_each_broken_plugin_is_named_with_its_distribution(self,
                                                               installed: Registry) -> None:
        """Every broken plugin gives one error that names it and its distribution."""
        installed.exporters  # noqa: B018 - collecting the formats runs the hooks
        by_plugin = {e.plugin: e for e in installed.errors}
        assert set(by_plugin) == set(BROKEN), [str(e) for e in installed.errors]
        for stem, says in BROKEN.items():
            err = by_plugin[stem]
            assert err.distribution == dist_of(stem)
            assert str(err).startswith(f"plugin '{stem}' ({err.distribution}) ")
            assert says in str(err)

    def test_the_rest_keeps_working(self, installed: Registry,
                                    col: storykit.Collection) -> None:
        """Built-in and healthy plugin formats are all there and export normally."""
        assert set(installed.exporters) >= WORKING_FORMATS
        assert json.loads(storykit.dumps(col, "titles")) == ["A story"]
        assert storykit.loads(storykit.dumps(col, "json")) == col
        assert storykit.dumps(col, "twin") == b'"one"'  # the first to claim it keeps it

    def test_folder_plugins_are_named_by_their_file(self) -> None:
        """From --plugins-dir the error names the file (there is no distribution)."""
        registry = Registry(autoload=False, plugins_dirs=[FOLDER])
        registry.exporters  # noqa: B018
        named = {Path(e.plugin).stem for e in registry.errors}
        assert named == set(BROKEN)
        assert all(e.distribution is None for e in registry.errors)
        assert set(registry.exporters) >= WORKING_FORMATS


class TestRaisingInWrite:
    def test_dumps_names_plugin_and_distribution(self, installed: Registry,
                                                 col: storykit.Collection) -> None:
        """An exception inside write() becomes a PluginError naming plugin and distribution."""
        with pytest.raises(storykit.PluginError) as info:
            storykit.dumps(col, "explode")
        err = info.value
        assert (err.plugin, err.distribution) == ("explodes_in_write",
                                                  dist_of("explodes_in_write"))
        assert str(err) == (
            f"plugin 'explodes_in_write' ({err.distribution}) failed writing format 'explode': "
            "ValueError: plugin bug: cannot render story 0")
        assert isinstance(err.__cause__, ValueError)
        assert json.loads(storykit.dumps(col, "titles")) == ["A story"]

    def test_dump_leaves_no_partial_file(self, installed: Registry, tmp_path: Path,
                                         col: storykit.Collection) -> None:
        """dump() to a new path writes nothing; to an existing one, keeps it byte-identical."""
        with pytest.raises(storykit.PluginError):
            storykit.dump(col, tmp_path / "new.explode")
        assert list(tmp_path.iterdir()) == []
        old = tmp_path / "old.explode"
        old.write_bytes(b"previous")
        with pytest.raises(storykit.PluginError):
            storykit.dump(col, old)
        assert old.read_bytes() == b"previous"
        assert [p.name for p in tmp_path.iterdir()] == ["old.explode"]

    def test_storykit_errors_pass_through(self, installed: Registry,
                                          col: storykit.Collection) -> None:
        """Option errors are not blamed on the plugin: they stay OptionError."""
        with pytest.raises(storykit.OptionError):
            storykit.dumps(col, "json", no_such_option=1)


class TestCommandLine:
    @pytest.fixture(autouse=True)
    def fresh_default_registry(self) -> Iterator[None]:
        """--plugins-dir adds to the process's registry: give each test its own."""
        with use_registry(Registry(autoload=False)):
            yield

    def test_formats_lists_the_rest_and_warns_once_each(self) -> None:
        """storykit formats works with broken plugins: one warning line per broken plugin."""
        result = CliRunner().invoke(main, ["--plugins-dir", str(FOLDER), "formats", "--json"])
        assert result.exit_code == 0, result.output
        names = {row["name"] for row in json.loads(result.stdout)}
        assert names >= WORKING_FORMATS
        warnings = [line for line in result.stderr.splitlines()
                    if line.startswith("storykit: warning: plugin ")]
        assert len(warnings) == len(BROKEN), result.stderr
        for stem in BROKEN:
            assert sum(f"{stem}.py" in w for w in warnings) == 1

    def test_export_through_a_healthy_format_succeeds(self, tmp_path: Path,
                                                      col: storykit.Collection) -> None:
        """Broken plugins beside it do not stop an export in a working format."""
        src = tmp_path / "in.json"
        storykit.dump(col, src)
        out = tmp_path / "out.titles.json"
        result = CliRunner().invoke(main, ["--plugins-dir", str(FOLDER), "export", str(src),
                                           "-o", str(out)])
        assert result.exit_code == 0, result.output
        assert json.loads(out.read_bytes()) == ["A story"]

    def test_export_through_the_exploding_format_fails_in_one_line(
            self, tmp_path: Path, col: storykit.Collection) -> None:
        """A plugin raising in write(): exit 1, one error line naming it, no file written."""
        src = tmp_path / "in.json"
        storykit.dump(col, src)
        out = tmp_path / "out.explode"
        result = CliRunner().invoke(main, ["--plugins-dir", str(FOLDER), "export", str(src),
                                           "-o", str(out)])
        assert result.exit_code == 1
        errors = [line for line in result.stderr.splitlines()
                  if line.startswith("storykit: error:")]
        assert len(errors) == 1
        assert "explodes_in_write.py" in errors[0] and "ValueError" in errors[0]
        assert "Traceback" not in result.output
        assert not out.exists()
        assert sorted(p.name for p in tmp_path.iterdir()) == ["in.json"]
