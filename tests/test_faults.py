"""Faults while writing: nothing is lost, nothing is half-written, nothing is left behind.

Each fault is injected into a real write (an exporter that raises, a full disk, a failing
``os.replace``, a SIGKILL in a subprocess). After each: the previous output is byte-identical,
no temporary file is left in the folder, and the next run succeeds.
"""

from __future__ import annotations

import errno
import io
import os
import signal
import subprocess
import sys
import textwrap
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO

import pytest
from click.testing import CliRunner

import storykit
import storykit.files
from storykit.cli import main
from storykit.plugins import Registry, hookimpl, use_registry

OLD = b'{"old": "output, which must survive every fault"}'


def stories(n: int) -> storykit.Collection:
    return storykit.Collection(title="Faults", stories=[
        {"title": f"Story {i}", "published": "2021-02-03", "summary": "word " * 40}
        for i in range(n)])


@pytest.fixture
def target(tmp_path: Path) -> Path:
    """An existing output file holding :data:`OLD`."""
    path = tmp_path / "out" / "stories.json"
    path.parent.mkdir()
    path.write_bytes(OLD)
    return path


def assert_intact(target: Path) -> None:
    """The old file is byte-identical and it is alone in its folder."""
    assert target.read_bytes() == OLD
    assert sorted(p.name for p in target.parent.iterdir()) == [target.name]


def assert_next_run_succeeds(target: Path) -> None:
    col = stories(3)
    storykit.dump(col, target)
    assert storykit.load(target) == col
    assert sorted(p.name for p in target.parent.iterdir()) == [target.name]


class Exploding:
    """An exporter that writes half its output, then fails."""

    name = "exploding"
    media_type = "application/x-exploding"
    suffix = ".boom"
    description = "Writes 100 KB, then raises."

    def __init__(self, exc: BaseException) -> None:
        self.exc = exc

    def write(self, collection: storykit.Collection, out: BinaryIO, **options: Any) -> None:
        out.write(b"[" + b"1," * 50_000)
        raise self.exc


@pytest.fixture
def exploding_registry() -> Iterator[Registry]:
    """A registry with the built-ins and the ``exploding`` format."""
    registry = Registry(autoload=False)

    class Plugin:
        @hookimpl
        def register_exporters(self) -> list[Exploding]:
            return [Exploding(RuntimeError("disk gremlin"))]

    registry.register(Plugin(), "exploding-plugin", distribution="storykit-gremlins 6.6.6")
    with use_registry(registry):
        yield registry


class TestExporterRaises:
    def test_dump_keeps_the_old_file(self, target: Path,
                                     exploding_registry: Registry) -> None:
        """An exporter raising mid-write leaves the old file and no temporary file."""
        with pytest.raises(storykit.PluginError) as info:
            storykit.dump(stories(3), target, format="exploding")
        assert info.value.plugin == "exploding-plugin"
        assert info.value.distribution == "storykit-gremlins 6.6.6"
        assert isinstance(info.value.__cause__, RuntimeError)
        assert_intact(target)
        assert_next_run_succeeds(target)

    @pytest.mark.parametrize("exc", [KeyboardInterrupt(), SystemExit(3), MemoryError()])
    def test_interrupts_clean_up_too(self, target: Path,
                                     exc: BaseException) -> None:
        """Ctrl-C, sys.exit() or MemoryError inside write() propagate unchanged, and clean up."""
        def write_then_fail() -> None:
            with storykit.files.atomic_writer(target) as out:
                out.write(b"partial")
                raise exc

        with pytest.raises(type(exc)):
            write_then_fail()
        assert_intact(target)
        assert_next_run_succeeds(target)

    def test_cli_exits_1_naming_the_plugin(self, target: Path, tmp_path: Path,
                                           exploding_registry: Registry) -> None:
        """The CLI reports a failing exporter in one line naming plugin and distribution."""
        src = tmp_path / "in.json"
        storykit.dump(stories(2), src)
        result = CliRunner().invoke(main, ["export", str(src), "-f", "exploding",
                                           "-o", str(target)])
        assert result.exit_code == 1
        assert result.stderr.strip().splitlines()[-1] == (
            "storykit: error: plugin 'exploding-plugin' (storykit-gremlins 6.6.6) failed "
            "writing format 'exploding': RuntimeError: disk gremlin")
        assert_intact(target)


class FullDiskFile(io.FileIO):
    """A file on a disk with ``budget`` bytes free: writes past it raise ENOSPC."""

    budget = 64 * 1024

    def write(self, b: Any) -> int:
        if self.tell() + len(b) > self.budget:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return super().write(b)


@pytest.fixture
def full_disk(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every file opened with os.fdopen() behaves as if on a disk with 64 KB free."""
    def fdopen(fd: int, mode: str = "r", buffering: int = -1, *args: Any, **kwargs: Any) -> Any:
        raw = FullDiskFile(fd, "wb")
        return io.BufferedWriter(raw, buffer_size=max(buffering, io.DEFAULT_BUFFER_SIZE))

    monkeypatch.setattr(os, "fdopen", fdopen)


class TestDiskFull:
    def test_enospc_keeps_the_old_file(self, target: Path,
                                       full_disk: None, monkeypatch: pytest.MonkeyPatch) -> None:
        """A full disk (ENOSPC while writing) leaves the old file and no temporary file."""
        with pytest.raises(OSError) as info:
            storykit.dump(stories(2000), target)
        assert info.value.errno == errno.ENOSPC
        assert_intact(target)
        monkeypatch.undo()
        assert_next_run_succeeds(target)

    def test_enospc_in_the_final_flush(self, target: Path,
                                       full_disk: None, monkeypatch: pytest.MonkeyPatch) -> None:
        """ENOSPC when the last buffered bytes are flushed (after write() returned) is caught."""
        monkeypatch.setattr(FullDiskFile, "budget", 10)
        with pytest.raises(OSError, match="No space left"):
            storykit.dump(stories(1), target)
        assert_intact(target)

    def test_fsync_failing(self, target: Path,
                           monkeypatch: pytest.MonkeyPatch) -> None:
        """An I/O error from fsync (the data never reached the disk) keeps the old file."""
        def fsync(fd: int) -> None:
            raise OSError(errno.EIO, os.strerror(errno.EIO))

        monkeypatch.setattr(os, "fsync", fsync)
        with pytest.raises(OSError, match="Input/output error"):
            storykit.dump(stories(3), target)
        assert_intact(target)
        monkeypatch.undo()
        assert_next_run_succeeds(target)

    def test_cli_reports_a_full_disk_in_one_line(self, target: Path, tmp_path: Path,
                                                 full_disk: None) -> None:
        """storykit export on a full disk: exit 1, one line, old file intact."""
        src = tmp_path / "in.json"
        src.write_bytes(storykit.dumps(stories(2000), "json"))  # open(): not on the full disk
        result = CliRunner().invoke(main, ["export", str(src), "-o", str(target)])
        assert result.exit_code == 1
        assert result.stderr.strip() == f"storykit: error: {target}: No space left on device"
        assert_intact(target)


class TestReplaceFails:
    @pytest.mark.parametrize("err", [errno.EACCES, errno.EXDEV, errno.EBUSY])
    def test_failed_replace_keeps_the_old_file(self, target: Path, err: int,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
        """os.replace failing leaves the old file, and the temporary file is removed."""
        def replace(src: Any, dst: Any) -> None:
            raise OSError(err, os.strerror(err), str(src))

        monkeypatch.setattr(os, "replace", replace)
        with pytest.raises(OSError) as info:
            storykit.dump(stories(3), target)
        assert info.value.errno == err
        assert_intact(target)
        monkeypatch.undo()
        assert_next_run_succeeds(target)


STALLING_PLUGIN = textwrap.dedent("""
    import sys
    from storykit.plugins import hookimpl

    class Stalling:
        name, media_type, suffix, description = "stalling", "text/plain", ".txt", "Stalls."

        def write(self, collection, out, **options):
            out.write(b"half of it " * 100_000)
            out.flush()
            sys.stderr.write("written\\n")
            sys.stderr.flush()
            sys.stdin.read()  # wait here for the SIGINT

    @hookimpl
    def register_exporters():
        return [Stalling()]
""")


class TestInterrupted:
    def test_cli_exits_130_on_ctrl_c(self, target: Path, tmp_path: Path) -> None:
        """Ctrl-C inside an exporter: one line, exit 130 (128 + SIGINT), the old file kept."""
        registry = Registry(autoload=False)

        class Plugin:
            @hookimpl
            def register_exporters(self) -> list[Exploding]:
                return [Exploding(KeyboardInterrupt())]

        registry.register(Plugin(), "interrupted-plugin")
        src = tmp_path / "in.json"
        storykit.dump(stories(2), src)
        with use_registry(registry):
            result = CliRunner().invoke(main, ["export", str(src), "-f", "exploding",
                                               "-o", str(target)])
        assert result.exit_code == 130
        assert result.stderr.strip().splitlines()[-1] == "storykit: error: aborted"
        assert_intact(target)

    @pytest.mark.concurrency
    def test_sigint_mid_export(self, target: Path, tmp_path: Path) -> None:
        """SIGINT (Ctrl-C) to the real command mid-write: exit 130 with one line, no
        traceback, the old file intact and no temporary file."""
        plugins = tmp_path / "plugins"
        plugins.mkdir()
        (plugins / "stalling.py").write_text(STALLING_PLUGIN)
        src = tmp_path / "in.json"
        storykit.dump(stories(2), src)
        proc = subprocess.Popen(
            [sys.executable, "-m", "storykit", "--plugins-dir", str(plugins), "export",
             str(src), "-f", "stalling", "-o", str(target)],
            stdin=subprocess.PIPE, stderr=subprocess.PIPE,
            env=dict(os.environ, STORYKIT_DISABLE_PLUGIN_AUTOLOAD="1"))
        assert proc.stderr is not None
        try:
            assert proc.stderr.readline() == b"written\n"
            os.kill(proc.pid, signal.SIGINT)
            err = proc.stderr.read().decode()
        finally:
            proc.wait(timeout=60)
        assert proc.returncode == 130
        assert err.split() == ["storykit:", "error:", "aborted"]
        assert_intact(target)


KILL_SCRIPT = textwrap.dedent("""
    import os, sys
    import storykit, storykit.files
    from storykit.plugins import get_exporter
    col = storykit.Collection(title="Big", stories=[
        {"title": f"Story {i}", "published": "2021-02-03", "summary": "word " * 200}
        for i in range(20_000)])
    real = get_exporter("json")

    class Stalling:
        name, media_type, suffix, description = "json", "application/json", ".json", "x"

        def write(self, collection, out, **options):
            real.write(collection, out, **options)
            out.flush()  # many megabytes are in the temporary file now
            sys.stdout.write("written\\n")
            sys.stdout.flush()
            sys.stdin.read()  # wait here for the SIGKILL

    with storykit.files.atomic_writer(sys.argv[1]) as out:
        Stalling().write(col, out)
""")


@pytest.mark.slow
@pytest.mark.concurrency
class TestKilled:
    def test_sigkill_mid_export(self, target: Path) -> None:
        """SIGKILL during a large export: old file intact; the next run leaves no temp file."""
        proc = subprocess.Popen([sys.executable, "-c", KILL_SCRIPT, str(target)],
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        assert proc.stdout is not None
        try:
            assert proc.stdout.readline() == b"written\n"
            written = sum(p.stat().st_size for p in target.parent.iterdir()
                          if p != target)
            os.kill(proc.pid, signal.SIGKILL)
        finally:
            proc.wait(timeout=60)
        assert proc.returncode == -signal.SIGKILL
        assert target.read_bytes() == OLD
        left = sorted(p.name for p in target.parent.iterdir() if p != target)
        assert len(left) == 1 and written > 1_000_000  # what the killed process left
        assert_next_run_succeeds(target)  # ... which the next run removes


class TestPermissions:
    @pytest.mark.parametrize("umask", [0o022, 0o027, 0o002, 0o077])
    def test_new_files_follow_the_umask(self, tmp_path: Path,
                                        umask: int) -> None:
        """A new file gets 0666 less the umask, as open() gives (not mkstemp's 0600)."""
        old = os.umask(umask)
        try:
            path = storykit.dump(stories(1), tmp_path / "new.json")
        finally:
            os.umask(old)
        assert path.stat().st_mode & 0o777 == 0o666 & ~umask

    def test_a_replaced_file_keeps_its_mode(self, target: Path) -> None:
        """Replacing a file keeps its mode, so a private (0600) output stays private."""
        target.chmod(0o600)
        storykit.dump(stories(1), target)
        assert target.stat().st_mode & 0o777 == 0o600


@pytest.mark.concurrency
class TestConcurrentWriters:
    def test_last_writer_wins_whole(self, tmp_path: Path) -> None:
        """Threads writing one file: it ends up one writer's complete output, nothing else."""
        target = tmp_path / "shared.json"
        cols = [stories(n) for n in range(1, 9)]
        outputs = {storykit.dumps(c, "json") for c in cols}
        threads = [threading.Thread(target=storykit.dump, args=(c, target)) for c in cols]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert target.read_bytes() in outputs
        assert [p.name for p in tmp_path.iterdir()] == ["shared.json"]
