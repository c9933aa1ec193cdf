"""The plugin author's guide shows the Markdown plugin's real code, and its one-file plugin works.

docs/plugins.md walks through storykit-markdown with literal copies of its source. A block whose
first line is a comment naming a file (``# plugins/storykit-markdown/...``) must be an exact
excerpt of that file, so the guide can never drift from the code it explains.
"""

from __future__ import annotations

import ast
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

import storykit
from storykit.plugins import Registry
from storykit.testing import check_exporter

ROOT = Path(__file__).resolve().parents[1]
GUIDE = ROOT / "docs" / "plugins.md"
PLUGIN = "plugins/storykit-markdown/src/storykit_markdown/__init__.py"
BIN = Path(sys.executable).parent
_FENCE = re.compile(r"^(`{3,})([\w-]*)(.*)$")


def fenced_blocks() -> list[tuple[str, str, bool]]:
    """``(language, text, norun)`` of each fenced block of the guide."""
    found: list[tuple[str, str, bool]] = []
    lines = GUIDE.read_text(encoding="utf-8").splitlines()
    i, previous = 0, ""
    while i < len(lines):
        m = _FENCE.match(lines[i])
        if m is None:
            previous = lines[i].strip() or previous
            i += 1
            continue
        j = i + 1
        while lines[j].strip() != m[1]:
            j += 1
        found.append((m[2], "\n".join(lines[i + 1:j]) + "\n", previous == "<!-- norun -->"))
        previous = ""
        i = j + 1
    return found


def marked(prefix: str) -> list[tuple[str, str]]:
    """``(path, excerpt)`` of each block whose first line is ``# <path>`` under ``prefix``."""
    out = []
    for _, text, _ in fenced_blocks():
        first, _, rest = text.partition("\n")
        if first.startswith(f"# {prefix}"):
            out.append((first[2:].strip(), rest))
    return out


class TestSourceCopies:
    def test_guide_has_marked_blocks(self) -> None:
        """The guide shows the plugin's module and its pyproject.toml as marked blocks."""
        paths = {path for path, _ in marked("plugins/")}
        assert paths == {PLUGIN, "plugins/storykit-markdown/pyproject.toml"}

    @pytest.mark.parametrize("index", range(len(marked("plugins/"))))
    def test_marked_block_is_an_excerpt_of_its_file(self, index: int) -> None:
        """A block marked with a file's path is a contiguous, exact excerpt of that file."""
        path, excerpt = marked("plugins/")[index]
        source = (ROOT / path).read_text(encoding="utf-8")
        assert excerpt.strip("\n") in source, (
            f"docs/plugins.md shows a block from {path} that is not in the file any more; "
            f"copy it again from the file:\n{excerpt}")

    def test_whole_module_is_shown(self) -> None:
        """Every statement of the Markdown plugin's module (but its docstring) is in the guide."""
        source = (ROOT / PLUGIN).read_text(encoding="utf-8")
        shown = "\n".join(text for path, text in marked(PLUGIN) if path == PLUGIN)
        tree = ast.parse(source)
        for node in tree.body:
            if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant):
                continue  # the module docstring
            segment = ast.get_source_segment(source, node)
            assert segment is not None
            assert segment in shown, (
                f"docs/plugins.md does not show line {node.lineno} of {PLUGIN}:\n{segment}")

    def test_pyproject_is_shown_whole(self) -> None:
        """The pyproject.toml block is the whole file, entry point included."""
        path = "plugins/storykit-markdown/pyproject.toml"
        (shown,) = [text for p, text in marked(path)]
        assert shown.strip() == (ROOT / path).read_text(encoding="utf-8").strip()
        assert '[project.entry-points.storykit]\nmarkdown = "storykit_markdown"' in shown


def _expected_lines_found(expected: str, output: str) -> bool:
    """Each shown line (``...`` matching any text) appears in the output, in order."""
    got = output.splitlines()
    k = 0
    for want in expected.splitlines():
        if want.strip() == "...":
            continue
        pattern = ".*".join(re.escape(part) for part in want.rstrip().split("..."))
        while k < len(got) and re.fullmatch(pattern, got[k].rstrip()) is None:
            k += 1
        if k == len(got):
            return False
        k += 1
    return True


class TestOneFilePlugin:
    @pytest.fixture
    def folder(self, tmp_path: Path) -> Path:
        """The guide's one-file plugin, saved where the guide says, beside a copy of the example."""
        (block,) = [text for path, text in marked("myplugins/titles.py")]
        (tmp_path / "myplugins").mkdir()
        (tmp_path / "myplugins" / "titles.py").write_text(block, encoding="utf-8")
        (tmp_path / "examples" / "impact-and-people").mkdir(parents=True)
        example = ROOT / "examples" / "impact-and-people" / "stories.json"
        (tmp_path / "examples" / "impact-and-people" / "stories.json").write_bytes(
            example.read_bytes())
        return tmp_path

    def test_commands_print_what_the_guide_shows(self, folder: Path) -> None:
        """``storykit --plugins-dir myplugins formats`` and ``export`` print the guide's lines."""
        (console,) = [text for lang, text, norun in fenced_blocks()
                      if lang == "console" and "--plugins-dir myplugins" in text]
        commands: list[tuple[str, list[str]]] = []
        for line in console.splitlines():
            if line.startswith("$ "):
                commands.append((line[2:], []))
            else:
                commands[-1][1].append(line)
        assert len(commands) == 2
        for command, expected in commands:
            argv = shlex.split(command)
            proc = subprocess.run([str(BIN / argv[0]), *argv[1:]], cwd=folder,
                                  capture_output=True, text=True, check=False,
                                  env={"PATH": str(BIN), "COLUMNS": "100"})
            assert proc.returncode == 0, proc.stderr
            assert _expected_lines_found("\n".join(expected), proc.stdout), (
                f"`{command}` printed\n{proc.stdout}\nbut the guide shows\n"
                + "\n".join(expected))

    def test_titles_export_every_title(self, folder: Path) -> None:
        """The one-file plugin writes every story title, one per line, and keeps the contract."""
        registry = Registry(autoload=False, plugins_dirs=[folder / "myplugins"])
        assert not registry.errors
        info = registry.exporters["titles"]
        assert info.distribution is None
        col = storykit.load(folder / "examples" / "impact-and-people" / "stories.json")
        import io

        out = io.BytesIO()
        info.exporter.write(col, out)
        assert out.getvalue().decode("utf-8").splitlines() == [s.title for s in col]
        check_exporter(info.exporter, max_examples=10)
