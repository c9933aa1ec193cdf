"""The documentation site builds with warnings as errors, and its generated pages are complete.

The build runs once per test session (``mkdocs build --strict`` in a subprocess, as ``make docs``
does); the pages are then read back with html5lib.
"""

from __future__ import annotations

import importlib.util
import inspect
import os
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import attrs
import html5lib
import pytest
from mkdocs.exceptions import PluginError

import storykit
import storykit.hookspecs

ROOT = Path(__file__).resolve().parents[1]
MKDOCS = Path(sys.executable).parent / "mkdocs"


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The site, built from the working tree into a temporary folder."""
    out = tmp_path_factory.mktemp("site")
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    proc = subprocess.run([str(MKDOCS), "build", "--strict", "--site-dir", str(out)], cwd=ROOT,
                          env=env, capture_output=True, text=True, timeout=600, check=False)
    assert proc.returncode == 0, f"mkdocs build --strict failed:\n{proc.stdout}\n{proc.stderr}"
    return out


def page(site: Path, name: str) -> Any:
    """A built page parsed by html5lib: its ``<article>`` element."""
    tree = html5lib.parse((site / name / "index.html").read_text(encoding="utf-8"),
                          namespaceHTMLElements=False)
    article = tree.find(".//article")
    assert article is not None, f"{name} has no <article>"
    return article


def text(element: Any) -> str:
    return " ".join(" ".join(element.itertext()).split())


def load_hooks() -> ModuleType:
    spec = importlib.util.spec_from_file_location("docs_generate",
                                                  ROOT / "docs" / "hooks" / "generate.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class TestBuild:
    def test_every_nav_page_is_built(self, site: Path) -> None:
        """Each page of the navigation exists in the built site."""
        for name in ("", "tutorial", "plugins", "changelog", "reference/cli",
                     "reference/data-format", "reference/api", "reference/hooks",
                     "howto/validate", "howto/filter-and-group", "howto/weekly-digest",
                     "howto/personalised", "howto/retheme", "howto/languages",
                     "howto/spreadsheet", "howto/stream"):
            assert (site / name / "index.html").is_file(), name

    def test_hook_reference_documents_every_hook(self, site: Path) -> None:
        """Every hook in hookspecs.py has a section with its docstring's first line."""
        body = page(site, "reference/hooks")
        ids = {el.get("id") for el in body.iter() if el.get("id")}
        hooks = [name for name, fn in inspect.getmembers(storykit.hookspecs, inspect.isfunction)
                 if fn.__module__ == "storykit.hookspecs" and not name.startswith("_")]
        assert hooks
        for name in hooks:
            assert f"storykit.hookspecs.{name}" in ids, f"hook {name} is not documented"
            first = (inspect.getdoc(getattr(storykit.hookspecs, name)) or "").splitlines()[0]
            assert "".join(first.replace("``", "").split()) in "".join(text(body).split())

    def test_cli_reference_shows_every_command_help(self, site: Path) -> None:
        """The CLI page holds each command's usage line, from the commands themselves."""
        import click

        from storykit.cli import main

        body = text(page(site, "reference/cli"))
        ctx = click.Context(main, info_name="storykit")
        for name in main.list_commands(ctx):
            assert f"Usage: storykit {name} [OPTIONS]" in body, name

    def test_data_format_lists_every_field_with_its_real_error(self, site: Path) -> None:
        """Every field of every model class has a row, with the error storykit really gives."""
        body = page(site, "reference/data-format")
        rows = {}
        for table in body.iter("table"):
            for tr in table.iter("tr"):
                cells = [text(td) for td in tr.findall("td")]
                if cells:
                    rows.setdefault(cells[0].split()[0], []).append(cells)
        for cls in (storykit.Story, storykit.Image, storykit.Credit, storykit.Link,
                    storykit.Translation, storykit.MediaContact, storykit.Collection):
            for field in attrs.fields(cls):
                if not field.name.startswith("_"):
                    assert field.name in rows, f"{cls.__name__}.{field.name} has no row"
        published = next(r for r in rows["published"])
        assert "stories[0].published: '2021-02-30' is not a valid date" in published[-1]

    def test_changelog_is_included(self, site: Path) -> None:
        """The changelog page is CHANGELOG.md."""
        body = text(page(site, "changelog"))
        first = next(line for line in (ROOT / "CHANGELOG.md").read_text().splitlines()
                     if line.startswith("- "))
        words = first[2:].replace("`", "").replace("*", "").split()[:6]  # (markup rendered)
        assert "".join(words) in "".join(body.split())


class TestGenerators:
    def test_undocumented_field_stops_the_build(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """A model field without a row in the data format table is a build error naming it."""
        hooks = load_hooks()
        rules = {k: dict(v) for k, v in hooks.RULES.items()}
        del rules["Story"]["updated"]
        monkeypatch.setattr(hooks, "RULES", rules)
        with pytest.raises(PluginError, match=r"Story has fields .*'updated'"):
            hooks.data_format()

    def test_bad_value_that_passes_stops_the_build(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """A documented bad value that storykit accepts is a build error naming the field."""
        hooks = load_hooks()
        rules = {k: dict(v) for k, v in hooks.RULES.items()}
        rules["Story"]["published"] = ("a date", "2021-02-23")
        monkeypatch.setattr(hooks, "RULES", rules)
        with pytest.raises(PluginError, match=r"Story\.published: the bad value"):
            hooks.data_format()

    def test_missing_screenshot_is_a_note_not_an_error(self, tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
        """Without ``make demo``'s pictures the page says how to make them."""
        hooks = load_hooks()
        monkeypatch.setattr(hooks, "SCREENSHOTS", tmp_path / "none")
        monkeypatch.setattr(hooks, "ROOT", tmp_path)

        class FakeFile:
            src_uri = "howto/retheme.md"

        class FakePage:
            file = FakeFile()

        out = hooks.on_page_markdown('<!-- storykit:screenshot page-1280.png "The page" -->',
                                     FakePage(), None, None)
        assert out.startswith('!!! note "Picture not built"')
        assert "make demo" in out

    def test_story_language_row_gives_both_defaults(self) -> None:
        """The Story.language row gives the default of a Python Story and of a story in a file,
        and each is what storykit does in a French collection."""
        hooks = load_hooks()
        row = next(line for line in hooks.data_format().split("## Story\n")[1].splitlines()
                   if line.startswith("| **`language`**"))
        assert "`en` for a Story built in Python" in row
        assert "in a file or a dict, the collection's language" in row
        built = storykit.Collection(title="A", language="fr", stories=[
            storykit.Story(title="Une histoire", published="2021-01-01", summary="Texte.")])
        given = storykit.Collection(title="A", language="fr", stories=[
            {"title": "Une histoire", "published": "2021-01-01", "summary": "Texte."}])
        loaded = storykit.loads('{"title": "A", "language": "fr", "stories": [{"title": "U", '
                                '"published": "2021-01-01", "summary": "T."}]}', "json")
        assert (built[0].language, given[0].language, loaded[0].language) == ("en", "fr", "fr")
