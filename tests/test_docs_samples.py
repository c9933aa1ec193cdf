"""Every code sample in the docs and the README runs, and prints what the page says it prints.

- A ```` ```python ```` block runs (the blocks of one page in order, sharing their variables), in a
  temporary folder that holds a copy of ``examples/``. A ```` ```text ```` block right after it
  is its expected standard output.
- A ```` ```console ```` block whose commands are all ``$ storykit ...`` or ``$ python
  script.py ...`` runs each command and compares its standard output and error with the lines
  below it. Other blocks (``pip install``, ``make``) are shown, not run.
- In expected output a line ``...`` matches any number of lines, and ``...`` inside a line any
  text.
- Not run: a block with a ``title="..."`` (a file's contents shown, not a sample), or one right
  after a ``<!-- norun -->`` line. Keep those rare.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import shlex
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from storykit.plugins import Registry, use_registry

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
PAGES = sorted(p for p in DOCS.rglob("*.md") if "hooks" not in p.relative_to(DOCS).parts)
README = ROOT / "README.md"
BIN = Path(sys.executable).parent

_FENCE = re.compile(r"^(?P<indent>[ \t]*)(?P<ticks>`{3,})(?P<lang>[\w-]*)(?P<info>[^\n`]*)$")


@dataclass
class Block:
    """One fenced block of a page."""

    page: str
    line: int
    lang: str
    info: str
    text: str
    norun: bool
    #: Only blank lines separate this block from the one before it.
    follows: bool = False

    @property
    def where(self) -> str:
        return f"{self.page}:{self.line}"


def blocks(markdown: str, page: str = "<page>") -> list[Block]:
    """The fenced blocks of a Markdown page, in order, dedented to their fence."""
    out: list[Block] = []
    lines = markdown.splitlines()
    i = 0
    previous = ""
    while i < len(lines):
        m = _FENCE.match(lines[i])
        if m is None:
            if lines[i].strip():
                previous = lines[i].strip()
            i += 1
            continue
        indent, ticks = m.group("indent"), m.group("ticks")
        body: list[str] = []
        j = i + 1
        while j < len(lines) and lines[j].strip() != ticks:
            line = lines[j]
            body.append(line[len(indent):] if line.startswith(indent) else line.lstrip())
            j += 1
        out.append(Block(page, i + 1, m.group("lang"), m.group("info").strip(),
                         "\n".join(body) + "\n", previous == "<!-- norun -->",
                         follows=bool(out) and not previous))
        previous = ""
        i = j + 1
    return out


def matches(expected: str, actual: str) -> bool:
    """``actual`` has the lines of ``expected``, where a line ``...`` stands for any lines."""
    want = [line.rstrip() for line in expected.strip("\n").splitlines()]
    got = [line.rstrip() for line in actual.strip("\n").splitlines()]

    def match(w: int, g: int) -> bool:
        if w == len(want):
            return g == len(got)
        if want[w] == "...":
            return any(match(w + 1, k) for k in range(g, len(got) + 1))
        return g < len(got) and _line_matches(want[w], got[g]) and match(w + 1, g + 1)

    return match(0, 0)


def _line_matches(want: str, got: str) -> bool:
    """Equal lines, where ``...`` inside a line stands for any text (a time, a path)."""
    if "..." not in want:
        return want == got
    pattern = ".*".join(re.escape(part) for part in want.split("..."))
    return re.fullmatch(pattern, got) is not None


def console_commands(text: str) -> list[tuple[str, str]]:
    """``(command, expected output)`` pairs of a console block."""
    pairs: list[tuple[str, list[str]]] = []
    for line in text.splitlines():
        if line.startswith("$ "):
            pairs.append((line[2:], []))
        elif pairs:
            pairs[-1][1].append(line)
    return [(cmd, "\n".join(out)) for cmd, out in pairs]


def runnable(block: Block) -> bool:
    """Whether the test runs this block (a python or storykit sample, not shown-only)."""
    if block.norun or "title=" in block.info:
        return False
    if block.lang == "python":
        return True
    if block.lang == "console":
        cmds = console_commands(block.text)
        return bool(cmds) and all(_runnable_command(c) for c, _ in cmds)
    return False


def _runnable_command(command: str) -> bool:
    """``storykit ...`` or ``python some_script.py ...``, without shell operators."""
    argv = shlex.split(command)
    if any(a in ("&&", "||", "|", ";", ">", "<") for a in argv):
        return False
    return argv[0] == "storykit" or (argv[0] == "python" and len(argv) > 1
                                     and argv[1].endswith(".py"))


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A folder with a copy of examples/, as a user who cloned the repository has."""
    shutil.copytree(ROOT / "examples", tmp_path / "examples",
                    ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.chdir(tmp_path)
    return tmp_path


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
    env["PYTHONUNBUFFERED"] = "1"
    env["COLUMNS"] = "100"
    env.pop("STORYKIT_DISABLE_PLUGIN_AUTOLOAD", None)
    return env


def run_page(path: Path, cwd: Path) -> int:
    """Run every runnable block of a page; return how many ran."""
    page = str(path.relative_to(ROOT))
    found = blocks(path.read_text(encoding="utf-8"), page)
    namespace: dict[str, object] = {"__name__": "__docs__"}
    ran = 0
    with use_registry(Registry()):
        for n, block in enumerate(found):
            if not runnable(block):
                continue
            ran += 1
            if block.lang == "python":
                out = io.StringIO()
                with contextlib.redirect_stdout(out):
                    exec(compile(block.text, block.where, "exec"), namespace)
                after = found[n + 1] if n + 1 < len(found) else None
                if after is not None and after.lang == "text" and after.follows \
                        and not after.info:
                    assert matches(after.text, out.getvalue()), (
                        f"{block.where}: printed\n{out.getvalue()}\nbut the page says "
                        f"(line {after.line})\n{after.text}")
                continue
            for cmd, expected in console_commands(block.text):
                argv = shlex.split(cmd)
                if argv[0] == "python":
                    argv[0] = sys.executable
                proc = subprocess.run(argv, cwd=cwd, env=_env(), stdout=subprocess.PIPE,
                                      stderr=subprocess.STDOUT, text=True, timeout=300,
                                      check=False)
                assert matches(expected, proc.stdout), (
                    f"{block.where}: `{cmd}` printed (exit {proc.returncode})\n{proc.stdout}\n"
                    f"but the page says\n{expected}")
    return ran


class TestDocSamples:
    @pytest.mark.parametrize("path", PAGES, ids=lambda p: str(p.relative_to(DOCS)))
    def test_page_samples_run(self, path: Path, workdir: Path) -> None:
        """Every Python and command-line sample on the page runs and prints what it shows."""
        run_page(path, workdir)

    def test_readme_samples_run(self, workdir: Path) -> None:
        """The README's Python example and its storykit commands work as written."""
        assert run_page(README, workdir) >= 2

    def test_most_samples_run(self) -> None:
        """Skipped samples stay rare: at least four in five Python samples run."""
        python = [b for p in PAGES for b in blocks(p.read_text(encoding="utf-8"), str(p))
                  if b.lang == "python"]
        assert python, "the docs have no Python samples"
        skipped = [b.where for b in python if not runnable(b)]
        assert len(skipped) * 5 <= len(python), f"too many samples are not run: {skipped}"


class TestExtraction:
    def test_blocks_found_with_norun_and_titles(self) -> None:
        """Fences are found in order, with their language, info string and norun marker."""
        page = ("Intro\n\n```python\nx = 1\n```\n\n<!-- norun -->\n```python\nboom()\n```\n"
                "\n!!! note\n    ```console\n    $ storykit formats\n    ```\n"
                '```toml title="pyproject.toml"\n[x]\n```\n')
        found = blocks(page)
        assert [(b.lang, b.norun) for b in found] == [
            ("python", False), ("python", True), ("console", False), ("toml", False)]
        assert found[2].text == "$ storykit formats\n"
        assert [runnable(b) for b in found] == [True, False, True, False]

    def test_ellipsis_matches_any_lines(self) -> None:
        """A ``...`` line stands for zero or more lines, and nothing else is loose."""
        assert matches("a\n...\nd", "a\nb\nc\nd")
        assert matches("a\n...\nd", "a\nd")
        assert not matches("a\nd", "a\nb\nd")
        assert not matches("a\n...", "b\nc")
        assert matches("wrote 6 messages in ...s", "wrote 6 messages in 0.1s")
        assert not matches("wrote 6 messages in ...s", "wrote 5 messages in 0.1s")

    def test_console_commands_pair_outputs(self) -> None:
        """Each ``$`` line is paired with the output lines under it."""
        text = "$ storykit validate a.json\na.json: ok\n$ storykit formats\n"
        assert console_commands(text) == [("storykit validate a.json", "a.json: ok"),
                                          ("storykit formats", "")]


class TestReadme:
    def test_quick_start_shows_make_demo_and_make_test_first(self) -> None:
        """The first commands in the README are ``make demo`` and ``make test``, and both exist."""
        first = next(b for b in blocks(README.read_text(encoding="utf-8")) if b.lang == "console")
        assert [c for c, _ in console_commands(first.text)] == ["make demo", "make test"]
        makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
        for target in ("demo", "test", "docs"):
            assert re.search(rf"^{target}:", makefile, re.MULTILINE), target

    def test_formats_table_matches_the_registry(self) -> None:
        """Each format in the README's table is installed, with the media type it shows."""
        import storykit

        rows = re.findall(r"^\| `([a-z0-9_-]+)` \| `([^`]+)` \|", README.read_text("utf-8"),
                          re.MULTILINE)
        assert len(rows) >= 4
        available = storykit.formats()
        for name, media_type in rows:
            assert name in available, f"README lists {name!r}, which is not installed"
            assert available[name].media_type == media_type, name

    def test_formats_table_lists_every_first_party_format(self) -> None:
        """Every format of storykit and of the plugins in plugins/ has a row in the README."""
        from storykit.plugins import Registry

        rows = set(re.findall(r"^\| `([a-z0-9_-]+)` \|", README.read_text("utf-8"),
                              re.MULTILINE))
        first_party = {(d / "pyproject.toml").parent.name for d in (ROOT / "plugins").iterdir()
                       if (d / "pyproject.toml").is_file()} | {"storykit"}
        for name, info in Registry().exporters.items():
            dist = (info.distribution or "").split(" ")[0]
            if dist in first_party:
                assert name in rows, f"format {name!r} ({dist}) is missing from the README"

    def test_relative_links_point_at_files(self) -> None:
        """Every relative link in the README names a file of the repository."""
        links = re.findall(r"\]\(([^)#]+)\)", README.read_text(encoding="utf-8"))
        local = [link for link in links if "://" not in link]
        assert local
        for link in local:
            assert (ROOT / link).exists(), f"README links to {link}, which does not exist"


class TestPages:
    def test_tutorial_story_is_the_story_in_the_file(self) -> None:
        """The tutorial's "one story of stories.json" is that story as the example file holds it."""
        import json

        shown = next(b for b in blocks((DOCS / "tutorial.md").read_text(encoding="utf-8"))
                     if b.info == 'title="one story of stories.json"')
        story = json.loads(shown.text)
        data = json.loads((ROOT / "examples" / "impact-and-people" / "stories.json")
                          .read_text(encoding="utf-8"))
        held = next(s for s in data["stories"] if s["id"] == story["id"])
        assert story == held

    def test_index_lists_every_howto(self) -> None:
        """The home page's "Where next" links every how-to guide."""
        text = (DOCS / "index.md").read_text(encoding="utf-8")
        where_next = text.split("## Where next", 1)[1]
        for path in sorted((DOCS / "howto").glob("*.md")):
            assert f"(howto/{path.name})" in where_next, f"index.md does not link {path.name}"

    @pytest.mark.parametrize(("day", "sent"), [("2021-02-21", True), ("2020-02-21", False)])
    def test_weekly_crontab_writes_then_sends(self, workdir: Path, day: str, sent: bool) -> None:
        """The how-to's crontab line writes the week's digest and sends that folder (dry run
        here), and a week without stories sends nothing and reports no error."""
        page = (DOCS / "howto" / "weekly-digest.md").read_text(encoding="utf-8")
        cron = next(b for b in blocks(page) if b.info == 'title="crontab"')
        line = next(x for x in cron.text.splitlines() if x and not x.startswith("#"))
        command = line.split(None, 5)[5].replace("\\%", "%")  # as cron gives it to sh
        command = (command.replace("cd /srv/news", f"cd {shlex.quote(str(workdir))}")
                   .replace(".venv/bin/python weekly_digest.py",
                            "python examples/weekly_digest.py")
                   .replace(".venv/bin/", "")
                   .replace("-d yesterday", f"-d {day}"))
        assert " send " in command, "the crontab line does not send the digest"
        command = command.replace(" send ", " send --dry-run ")
        proc = subprocess.run(["sh", "-c", command], env=_env(), capture_output=True, text=True,
                              timeout=300, check=False)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        assert "error" not in proc.stderr
        week = "2021-W07" if sent else "2020-W08"
        assert (f"dry-run: outbox/{week}/digest.eml to" in proc.stdout) is sent, proc.stdout
