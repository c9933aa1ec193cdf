"""The command in a real process: output it cannot write is a one-line error, and a progress bar
appears on a terminal's standard error, never in the data nor when piped."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

import storykit

STORYKIT = str(Path(sys.executable).with_name("storykit"))


def run(*args: str | Path, stdout: int | None = subprocess.PIPE,
        env: dict[str, str] | None = None) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([STORYKIT, *map(str, args)], stdout=stdout, stderr=subprocess.PIPE,
                          env=env, timeout=120, check=False)


class TestOutputItCannotWrite:
    @pytest.mark.parametrize("args", [["--help"], ["export", "--help"], ["--version"],
                                      ["formats"], ["formats", "csv"]])
    def test_a_full_disk_is_one_line_and_exit_1(self, args: list[str]) -> None:
        """Into /dev/full: exit 1, one line on stderr, no traceback."""
        with open("/dev/full", "wb") as full:
            done = run(*args, stdout=full.fileno())
        assert done.returncode == 1
        assert done.stderr.decode().splitlines() == [
            "storykit: error: cannot write to standard output: No space left on device"]

    @pytest.mark.parametrize("args", [["formats"], ["--help"], ["list", "{example}"]])
    def test_a_closed_stdout_is_one_line_and_exit_1(self, args: list[str],
                                                    example_json: Path) -> None:
        """With stdout closed (``>&-``), a command whose result is its output says so."""
        argv = [a.format(example=example_json) for a in args]
        done = subprocess.run([STORYKIT, *argv], stdin=subprocess.DEVNULL,
                              stderr=subprocess.PIPE, timeout=120, check=False,
                              preexec_fn=lambda: os.close(1))
        assert done.returncode == 1
        lines = done.stderr.decode().splitlines()
        assert len(lines) == 1
        assert lines[0].startswith("storykit: error: standard output is closed")


def _under_a_pty(args: list[str | Path], env: dict[str, str]) -> tuple[int, bytes, bytes]:
    """Run ``storykit args`` with standard error on a pseudo-terminal and standard output on a
    pipe; return the status, what stdout got and what the terminal got."""
    master, slave = os.openpty()
    try:
        proc = subprocess.Popen([STORYKIT, *map(str, args)], stdout=subprocess.PIPE,
                                stderr=slave, stdin=subprocess.DEVNULL, env=env)
    finally:
        os.close(slave)
    terminal = bytearray()
    try:
        while True:
            try:
                chunk = os.read(master, 4096)
            except OSError:  # EIO: the terminal's other end is closed (the process is done)
                break
            if not chunk:
                break
            terminal += chunk
        out, _ = proc.communicate(timeout=120)
    finally:
        os.close(master)
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    return proc.returncode, out, bytes(terminal)


@pytest.fixture
def archive(tmp_path: Path, example: storykit.Collection) -> Path:
    """A JSON Lines archive of a few hundred stories."""
    stories = [s for k in range(40) for s in
               (storykit.Story(**{**_fields(s), "id": f"{s.id}-{k}"}) for s in example)]
    path = tmp_path / "archive.jsonl"
    storykit.dump(example.replace(stories), path)
    return path


def _fields(story: storykit.Story) -> dict[str, object]:
    import attrs

    return attrs.asdict(story, recurse=False)


class TestProgress:
    """A bar shows after PROGRESS_AFTER seconds of work; the tests set it to 0 so that the
    bar's appearance does not depend on how fast the machine is."""

    @pytest.fixture
    def env(self) -> dict[str, str]:
        return {**os.environ, "STORYKIT_PROGRESS_AFTER": "0", "COLUMNS": "100"}

    @pytest.mark.parametrize("command", [
        ["validate", "{src}"],
        ["export", "{src}", "--format", "csv", "-o", "{out}"],
        ["import", "{src}", "-o", "{out}"],
    ])
    def test_on_a_terminal(self, command: list[str], archive: Path, tmp_path: Path,
                           env: dict[str, str]) -> None:
        """On a terminal the bar shows the bytes done, the rate and 100% at the end, on
        stderr; standard output holds only the result."""
        out = tmp_path / ("out.csv" if "csv" in command else "out.json")
        args: list[str | Path] = [a.format(src=archive, out=out) for a in command]
        status, stdout, terminal = _under_a_pty(args, env)
        assert status == 0, terminal
        text = terminal.decode()
        assert "100%" in text
        assert "MB at " in text and "MB/s" in text
        assert b"100%" not in stdout and b"MB/s" not in stdout

    def test_personalised_digests_on_a_terminal(self, tmp_path: Path,
                                                env: dict[str, str]) -> None:
        """digest --subscribers shows the bar over the subscribers file, read a row at a time
        as the messages are written; -q hides it."""
        subs = tmp_path / "subscribers.csv"
        subs.write_text("email,name\n" + "".join(f"r{i}@example.org,Reader {i}\n"
                                                  for i in range(300)), encoding="utf-8")
        args: list[str | Path] = [
            "digest", "examples/impact-and-people/stories.json", "--since", "2021-01-01",
            "--until", "2021-03-01", "--subscribers", subs, "--outbox", tmp_path / "out",
            "-O", "sender=news@example.org"]
        status, stdout, terminal = _under_a_pty(args, env)
        assert status == 0, terminal
        assert "writing digests for subscribers.csv" in terminal.decode()
        assert "100%" in terminal.decode()
        assert b"%" not in stdout  # (the bar is on stderr only)
        assert len(list((tmp_path / "out").glob("*.eml"))) == 300
        status, _, terminal = _under_a_pty([*args, "-q"], env)
        assert status == 0
        assert b"%" not in terminal

    def test_never_when_piped(self, archive: Path, env: dict[str, str]) -> None:
        """With stderr a pipe, no bar at all: only the result line."""
        done = run("validate", archive, env=env)
        assert done.returncode == 0
        assert done.stderr == b""
        assert done.stdout.decode() == f"{archive}: ok (400 stories, 0 contacts)\n"

    def test_never_with_quiet(self, archive: Path, env: dict[str, str]) -> None:
        """-q: no bar, even on a terminal."""
        status, _, terminal = _under_a_pty(["validate", "-q", archive], env)
        assert status == 0
        assert b"%" not in terminal
