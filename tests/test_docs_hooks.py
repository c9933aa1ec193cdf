"""Every hook in hookspecs.py has its own section in the plugin author's guide."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
HOOKSPECS = ROOT / "src" / "storykit" / "hookspecs.py"
GUIDE = ROOT / "docs" / "plugins.md"


def hookspecs() -> dict[str, str]:
    """``{hook name: signature}`` of every function decorated with ``@hookspec``."""
    tree = ast.parse(HOOKSPECS.read_text(encoding="utf-8"))
    found: dict[str, str] = {}
    for node in tree.body:
        if not isinstance(node, ast.FunctionDef):
            continue
        names = {ast.unparse(d.func if isinstance(d, ast.Call) else d)
                 for d in node.decorator_list}
        if "hookspec" in names:
            returns = f" -> {ast.unparse(node.returns)}" if node.returns else ""
            found[node.name] = f"{node.name}({ast.unparse(node.args)}){returns}"
    return found


def reference_sections(text: str | None = None) -> dict[str, str]:
    """``{heading: text}`` of each ``###`` section under the guide's "Hook reference"."""
    if text is None:
        text = GUIDE.read_text(encoding="utf-8")
    start = re.search(r"^## Hook reference$", text, re.MULTILINE)
    assert start is not None, "docs/plugins.md has no '## Hook reference' section"
    rest = text[start.end():]
    end = re.search(r"^## ", rest, re.MULTILINE)
    rest = rest[:end.start()] if end else rest
    parts = re.split(r"^### (.+)$", rest, flags=re.MULTILINE)
    return {parts[i].strip().strip("`"): parts[i + 1] for i in range(1, len(parts), 2)}


class TestHookReference:
    def test_hookspecs_found(self) -> None:
        """The scan finds the hooks, register_exporters among them (guards the scan itself)."""
        assert "register_exporters" in hookspecs()

    def test_every_hook_has_a_section(self) -> None:
        """Each hook decorated with @hookspec has a ``### `name` `` section in the guide."""
        missing = sorted(set(hookspecs()) - set(reference_sections()))
        assert not missing, f"hooks without a section in docs/plugins.md: {', '.join(missing)}"

    def test_no_section_for_a_hook_that_does_not_exist(self) -> None:
        """Every section of the hook reference is a hook storykit has (no stale sections)."""
        stale = sorted(set(reference_sections()) - set(hookspecs()))
        assert not stale, f"docs/plugins.md documents hooks that do not exist: {stale}"

    def test_sections_show_the_signature(self) -> None:
        """Each section shows the hook's signature as hookspecs.py declares it."""
        sections = reference_sections()
        for name, signature in hookspecs().items():
            assert f"`{signature}`" in sections.get(name, ""), (
                f"the section of {name} in docs/plugins.md should show `{signature}`")

    def test_sections_say_something(self) -> None:
        """A section is more than its heading and signature."""
        for name, body in reference_sections().items():
            words = re.sub(r"`[^`]*`", "", body).split()
            assert len(words) >= 12, f"the section of {name} in docs/plugins.md is too short"

    def test_an_undocumented_hook_is_caught(self) -> None:
        """A guide without a hook's section is told apart (the check can fail)."""
        text = GUIDE.read_text(encoding="utf-8")
        cut = re.sub(r"^### `register_translations`$", "### `something_else`", text,
                     flags=re.MULTILINE)
        assert cut != text
        sections = reference_sections(cut)
        assert "register_translations" not in sections
        assert "something_else" in sections
