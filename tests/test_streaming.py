"""Streaming export: JSON Lines and CSV files go out as CSV or JSON Lines in constant memory,
with load()'s verdict on bad input."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
from click.testing import CliRunner, Result
from hypothesis import given, settings
from hypothesis import strategies as st

import storykit
import storykit.read.jsonl
import storykit.stream
from storykit.cli import main
from storykit.files import atomic_writer
from storykit.plugins import get_exporter
from storykit.stream import check_stream, stream_export, streamable
from storykit.testing import collections


def _story(i: int, **extra: Any) -> dict[str, Any]:
    return {"id": f"story-{i}", "title": f"Story {i} — “naïve”", "published": "2021-02-03",
            "summary": f"=SUM(A{i}) and more", **extra}


def _jsonl(path: Path, items: list[Any]) -> Path:
    path.write_text("".join(json.dumps(x, ensure_ascii=False) + "\n" for x in items),
                    encoding="utf-8")
    return path


def _export(*args: str | Path) -> Result:
    return CliRunner().invoke(main, [str(a) for a in args], prog_name="storykit",
                              catch_exceptions=False)


class TestStreamExport:
    @settings(max_examples=25)
    @given(collections(max_size=6), st.sampled_from(["csv", "json"]))
    def test_streamed_output_equals_the_loaded_one(self, col: storykit.Collection,
                                                   fmt: str) -> None:
        """A JSON Lines file streamed to CSV or JSON Lines gives the bytes dump() gives."""
        import tempfile

        options = {"shape": "lines"} if fmt == "json" else {}
        with tempfile.TemporaryDirectory() as tmp:
            src = Path(tmp) / "in.jsonl"
            src.write_bytes(storykit.dumps(col, "json", shape="lines"))
            out = Path(tmp) / "out"
            with atomic_writer(out) as f:
                n = stream_export(src, get_exporter(fmt), f, **options)
            assert n == len(col)
            assert out.read_bytes() == storykit.dumps(storykit.load(src), fmt, **options)

    def test_csv_source_streams_too(self, tmp_path: Path) -> None:
        """A CSV file streams to JSON Lines; each line loads back to the CSV's story."""
        src = tmp_path / "in.csv"
        src.write_bytes(storykit.dumps(storykit.Collection(stories=[_story(1), _story(2)]),
                                       "csv"))
        out = tmp_path / "out.jsonl"
        result = _export("export", src, "--format", "json", "-O", "shape=lines", "-o", out)
        assert result.exit_code == 0, result.output
        assert storykit.load(out) == storykit.load(src)

    def test_every_bad_record_is_reported_with_its_line(self, tmp_path: Path) -> None:
        """Two bad stories among good ones: both reported, with line and path; no output."""
        src = _jsonl(tmp_path / "in.jsonl", [
            _story(0), _story(1, published="2021-02-30"), _story(2), _story(3, url="ftp://x"),
        ])
        out = tmp_path / "out.csv"
        result = _export("export", src, "--format", "csv", "-o", out)
        assert result.exit_code == 1
        assert "line 2: stories[1].published: '2021-02-30' is not a valid date" in result.output
        assert "line 4: stories[3].url" in result.output
        assert not out.exists()
        with pytest.raises(storykit.ValidationError) as loaded:
            storykit.load(src)
        assert len(loaded.value.errors) == 2

    def test_errors_after_an_unreadable_line_are_load_s_errors(self, tmp_path: Path) -> None:
        """A line that is not JSON, a repeated key and a bad date: the same list as load()."""
        src = tmp_path / "in.jsonl"
        lines = [json.dumps(_story(0)), '{"id": "x", "title": ', json.dumps(_story(2)),
                 '{"id":"a","id":"b","title":"T","published":"2021-02-03","summary":"s"}',
                 json.dumps(_story(4, published="2021-02-30")), ""]
        src.write_text("\n".join(lines), encoding="utf-8")
        with pytest.raises(storykit.ValidationError) as loaded:
            storykit.load(src)
        with pytest.raises(storykit.ValidationError) as streamed, \
                atomic_writer(tmp_path / "out.csv") as f:
            stream_export(src, get_exporter("csv"), f)
        assert [str(e) for e in streamed.value.errors] == [str(e) for e in loaded.value.errors]
        assert [e.line for e in streamed.value.errors] == [2, 4, 5]
        assert "stories[4].published" in str(streamed.value)

    def test_repeated_id_is_reported_as_load_reports_it(self, tmp_path: Path) -> None:
        """Two stories with one id: the same error as load(), and no output."""
        src = _jsonl(tmp_path / "in.jsonl", [_story(1), _story(2), _story(1)])
        out = tmp_path / "out.csv"
        result = _export("export", src, "--format", "csv", "-o", out)
        assert result.exit_code == 1
        assert "stories[2].id: 'story-1' is already the id of stories[0]" in result.output
        assert not out.exists()

    def test_clashing_derived_ids_are_numbered_as_load_numbers_them(self, tmp_path: Path,
                                                                     ) -> None:
        """Two stories without ids and with one title get "-2", as with load()."""
        same = {"title": "Same title", "published": "2021-02-03", "summary": "x"}
        src = _jsonl(tmp_path / "in.jsonl", [same, same])
        out = tmp_path / "out.csv"
        assert _export("export", src, "--format", "csv", "-o", out).exit_code == 0
        ids = [row["id"] for row in csv.DictReader(io.StringIO(out.read_text("utf-8")))]
        assert ids == ["same-title", "same-title-2"]

    def test_formulas_are_neutralised_when_streaming(self, tmp_path: Path) -> None:
        """The streamed CSV makes formula cells inert, as the exporter always does."""
        src = _jsonl(tmp_path / "in.jsonl", [_story(1)])
        out = tmp_path / "out.csv"
        assert _export("export", src, "--format", "csv", "-o", out).exit_code == 0
        row = next(csv.DictReader(io.StringIO(out.read_text("utf-8"))))
        assert row["summary"] == "'=SUM(A1) and more"

    def test_only_line_and_csv_files_stream(self, tmp_path: Path) -> None:
        """JSON and TOML documents are loaded whole; JSON Lines, CSV and TSV stream."""
        assert streamable("a.jsonl") and streamable("a.csv") and streamable("a.tsv")
        assert not streamable("a.json") and not streamable("a.toml")


class TestLongLines:
    def test_an_over_long_line_is_an_error_and_the_rest_is_still_read(
            self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        """A line over the limit is reported with its number, without reading it whole; the
        lines after it are numbered and checked as usual."""

        monkeypatch.setattr(storykit.read.jsonl, "MAX_LINE", 300)
        src = _jsonl(tmp_path / "in.jsonl", [
            _story(0), _story(1, summary="x" * 1_000), _story(2, published="2021-02-30"),
            _story(3)])
        with pytest.raises(storykit.ValidationError) as streamed, \
                atomic_writer(tmp_path / "out.csv") as f:
            stream_export(src, get_exporter("csv"), f)
        assert [str(e) for e in streamed.value.errors] == [
            "line 2: (document): is longer than 300 bytes, the limit for one line of JSON Lines",
            "line 3: stories[2].published: '2021-02-30' is not a valid date"]
        read = storykit.iter_stories(src)
        assert next(read).id == "story-0"
        with pytest.raises(storykit.ValidationError, match=r"line 2: .*longer than 300 bytes"):
            next(read)
        with pytest.raises(storykit.ValidationError) as loaded:  # load() says the same
            storykit.load(src)
        assert loaded.value.errors == streamed.value.errors

    def test_a_repeated_id_is_reported_with_the_other_problems(self, tmp_path: Path) -> None:
        """A bad value and two stories sharing an id: the export reports both, as load()
        does, in one raise."""
        src = _jsonl(tmp_path / "in.jsonl", [
            _story(0), _story(1, published="2021-02-30"), _story(2, id="story-0")])
        with pytest.raises(storykit.ValidationError) as loaded:
            storykit.load(src)
        with pytest.raises(storykit.ValidationError) as streamed, \
                atomic_writer(tmp_path / "out.csv") as f:
            stream_export(src, get_exporter("csv"), f)
        assert streamed.value.errors == loaded.value.errors
        assert [e.path for e in streamed.value.errors] == ["stories[1].published",
                                                           "stories[2].id"]

    def test_a_line_of_exactly_the_limit_is_read(self, tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
        """The limit counts the record, not its newline; the last line needs no newline."""

        line = json.dumps(_story(0), ensure_ascii=False).encode()
        monkeypatch.setattr(storykit.read.jsonl, "MAX_LINE", len(line))
        src = tmp_path / "in.jsonl"
        src.write_bytes(line + b"\n" + line.replace(b"story-0", b"story-1"))
        assert [s.id for s in storykit.iter_stories(src)] == ["story-0", "story-1"]


@pytest.fixture
def small_parts(monkeypatch: pytest.MonkeyPatch) -> None:
    """Split even a small file among workers, in parts of about 1 KiB (a few stories)."""
    from storykit.stream import workers as _parallel

    monkeypatch.setattr(storykit.stream, "PARALLEL_MIN_BYTES", 0)
    monkeypatch.setattr(_parallel, "PART_BYTES", 1024)


class WorkerSpy:
    """What ``_parallel.export`` was called with (``jobs``), on a machine with ``cpus`` CPUs."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        from storykit.stream import workers as _parallel

        self.used: list[int] = []
        self.cpus = 8
        real, workers = _parallel.export, _parallel.workers

        def export(*args: Any, **kwargs: Any) -> None:
            self.used.append(kwargs["jobs"])
            real(*args, **kwargs)

        monkeypatch.setattr(_parallel, "export", export)
        monkeypatch.setattr(_parallel, "workers",
                            lambda jobs: self.cpus if jobs == 0 else workers(jobs))


@pytest.fixture
def worker_spy(monkeypatch: pytest.MonkeyPatch) -> WorkerSpy:
    return WorkerSpy(monkeypatch)


def _streamed(src: Path, fmt: str, jobs: int, **options: Any) -> bytes | list[str]:
    """The bytes stream_export writes, or the errors it raises, one string each."""
    out = io.BytesIO()
    try:
        n = stream_export(src, get_exporter(fmt), out, jobs=jobs, **options)
    except storykit.ValidationError as e:
        return [str(x) for x in e.errors]
    assert n == len(storykit.load(src))
    return out.getvalue()


@given(st.lists(st.sampled_from([b"{}", b"", b" ", b"\t", b"\r", b"\x0b", b"\x0c", b" {}",
                                  b"\x85", b"\xa0", b"a b"]), min_size=1, max_size=8),
       st.booleans())
def test_lines_and_stories_are_counted_as_one_process_counts_them(
        pieces: list[bytes], last_break: bool) -> None:
    """A part's lines, and its stories (the lines not blank), as reading it line by line
    counts them."""
    from storykit.read.jsonl import count_lines

    part = b"\n".join(pieces) + (b"\n" if last_break else b"")
    if not part:
        return
    lines = io.BytesIO(part).readlines()
    expected = (len(lines), sum(not line.isspace() for line in lines))
    assert count_lines(part) == expected


@pytest.mark.concurrency
@pytest.mark.usefixtures("small_parts")
class TestJobs:
    def test_a_repeated_id_across_parts_is_reported_with_other_problems(
            self, tmp_path: Path) -> None:
        """A bad value in one part and an id repeated in another: the workers' verdict is
        load()'s, every problem in one raise, as with one process."""
        items = [_story(i) for i in range(40)]
        items[3]["published"] = "2021-02-30"
        items[35]["id"] = "story-20"
        src = _jsonl(tmp_path / "in.jsonl", items)
        with pytest.raises(storykit.ValidationError) as loaded:
            storykit.load(src)
        assert _streamed(src, "csv", 2) == _streamed(src, "csv", 1) == [
            str(e) for e in loaded.value.errors]
        assert [e.path for e in loaded.value.errors] == ["stories[3].published",
                                                         "stories[35].id"]

    """``jobs=2`` (``storykit export --jobs 2``) writes what one process writes."""

    @settings(max_examples=8, deadline=None)
    @given(collections(max_size=12), st.sampled_from(["csv", "json"]), st.booleans())
    def test_workers_write_the_same_bytes(self, col: storykit.Collection, fmt: str,
                                          blank_lines: bool) -> None:
        """Any archive, split into parts among two workers, gives one process's bytes."""
        import tempfile

        options = {"shape": "lines"} if fmt == "json" else {"bom": True}
        data = storykit.dumps(col, "json", shape="lines")
        if blank_lines:  # blank lines are not stories, but they are numbered
            data = b"\n" + data.replace(b"}\n", b"}\n  \n")
        with tempfile.TemporaryDirectory() as tmp:
            src = Path(tmp) / "in.jsonl"
            src.write_bytes(data)
            one = _streamed(src, fmt, 1, **options)
            assert _streamed(src, fmt, 2, **options) == one
        assert one == storykit.dumps(col, fmt, **options)

    def test_the_parts_go_to_worker_processes(self, tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
        """The file is split into parts, each checked and rendered in a worker process."""
        import os
        from concurrent.futures import ProcessPoolExecutor

        submitted: list[Any] = []
        where: list[Any] = []
        submit = ProcessPoolExecutor.submit

        def spy(pool: ProcessPoolExecutor, fn: Any, /, *args: Any, **kwargs: Any) -> Any:
            future = submit(pool, fn, *args, **kwargs)
            submitted.append(future)
            where.append(submit(pool, os.getpid))
            return future

        monkeypatch.setattr(ProcessPoolExecutor, "submit", spy)
        src = _jsonl(tmp_path / "in.jsonl", [_story(i) for i in range(40)])
        assert _streamed(src, "csv", 2) == _streamed(src, "csv", 1)
        assert len(submitted) >= 5  # about 1 KiB a part
        assert all(f.done() and f.exception() is None for f in submitted)
        assert os.getpid() not in {f.result() for f in where}

    @pytest.mark.parametrize("jobs", [1, 2])
    def test_a_failing_exporter_fails_the_export_and_writes_nothing(
            self, tmp_path: Path, jobs: int) -> None:
        """An exception in the exporter's write_stream(), in a worker or not, reaches the
        caller as a PluginError naming the format (the exception is its cause), and the
        atomic writer leaves no file."""
        from stream_support import FailingCSV

        src = _jsonl(tmp_path / "in.jsonl", [_story(i) for i in range(40)])
        out = tmp_path / "out.csv"
        with pytest.raises(storykit.PluginError) as e, atomic_writer(out) as f:
            stream_export(src, FailingCSV(), f, jobs=jobs)
        assert "failed writing format 'csv': RuntimeError: the exporter failed on story-25" \
            in str(e.value)
        assert e.value.plugin == "stream_support"
        assert isinstance(e.value.__cause__, RuntimeError)
        assert not out.exists()
        assert list(tmp_path.iterdir()) == [src]

    @pytest.mark.parametrize("jobs", [1, 2])
    def test_an_exception_that_does_not_pickle_is_still_the_plugins_error(
            self, tmp_path: Path, jobs: int) -> None:
        """A plugin's exception whose class does not rebuild from a pickle (its ``__init__``
        takes two arguments) is reported as one process reports it, not as a broken pool."""
        from stream_support import FailingOddlyCSV

        src = _jsonl(tmp_path / "in.jsonl", [_story(i) for i in range(40)])
        with pytest.raises(storykit.PluginError) as e:
            stream_export(src, FailingOddlyCSV(), io.BytesIO(), jobs=jobs)
        assert str(e.value) == ("plugin 'stream_support' failed writing format 'csv': "
                                "RenderError: cannot render story-25: no template")

    def test_a_plugin_from_a_folder_streams_in_one_process(self, tmp_path: Path) -> None:
        """A streaming plugin loaded by --plugins-dir, with continuation_options(): a worker
        could not import it, so --jobs 2 exports in one process, with its output (it used to
        hang or fail with a PicklingError blamed on the plugin)."""
        folder = tmp_path / "plugins"
        folder.mkdir()
        (folder / "ids.py").write_text(
            "import storykit\n"
            "class Ids:\n"
            "    name, media_type, suffix, description = 'ids', 'text/plain', '.ids', 'ids'\n"
            "    streams = True\n"
            "    def continuation_options(self, options):\n"
            "        return dict(options)\n"
            "    def write(self, collection, out, **options):\n"
            "        self.write_stream(collection, collection.stories, out, **options)\n"
            "    def write_stream(self, collection, stories, out, **options):\n"
            "        for s in stories:\n"
            "            out.write(s.id.encode() + b'\\n')\n"
            "@storykit.hookimpl\n"
            "def register_exporters():\n"
            "    return [Ids()]\n", encoding="utf-8")
        src = _jsonl(tmp_path / "in.jsonl", [_story(i) for i in range(40)])
        for jobs in ("2", "1"):
            result = _export("export", src, "--plugins-dir", folder, "-o",
                             tmp_path / f"out{jobs}.ids", "--jobs", jobs)
            assert result.exit_code == 0, result.output
        expected = "".join(f"story-{i}\n" for i in range(40)).encode()
        assert (tmp_path / "out2.ids").read_bytes() == (tmp_path / "out1.ids").read_bytes() \
            == expected

    def test_a_worker_reads_no_other_file_than_the_one_split(self, tmp_path: Path) -> None:
        """A part of a file that is no longer the one the main process split (replaced, or
        cut short) is an OSError saying so, which the command reports on one line; the
        workers never mix two files' stories."""
        import errno
        import os

        from storykit.stream import workers as _parallel

        src = _jsonl(tmp_path / "in.jsonl", [_story(i) for i in range(4)])
        st = os.stat(src)
        size = st.st_size

        def part(identity: tuple[int, int], span: tuple[int, int]) -> Any:
            return _parallel.render_part(get_exporter("csv"), {}, str(src), span,
                                         first_line=1, first_index=0, source="in.jsonl",
                                         identity=identity)

        _, ids, problems = part((st.st_dev, st.st_ino), (0, size))
        assert ids.split("\n") == [f"story-{i}" for i in range(4)] and problems == []
        for identity, span in (((st.st_dev, st.st_ino + 1), (0, size)),
                               ((st.st_dev, st.st_ino), (0, size + 10))):
            with pytest.raises(OSError) as e:
                part(identity, span)
            assert e.value.errno == errno.ESTALE and e.value.filename == "in.jsonl"
            assert e.value.strerror.startswith("changed while it was read")

    def test_workers_end_when_the_main_process_is_killed(self, tmp_path: Path) -> None:
        """A main process killed with SIGKILL in the middle of a stream_export(jobs=2) (no
        shutdown reaches the pool) does not leave its workers behind: each ends within a few
        seconds, instead of waiting for parts forever with the caller's pipes open."""
        import subprocess
        import sys
        import time

        src = _jsonl(tmp_path / "in.jsonl", [_story(i) for i in range(40)])
        script = tmp_path / "main.py"
        script.write_text(
            "import io, multiprocessing, os, sys, threading, time\n"
            "import storykit.stream as skio\n"
            "from storykit.stream import workers as _parallel\n"
            "from storykit.plugins import get_exporter\n"
            "skio.PARALLEL_MIN_BYTES, _parallel.PART_BYTES = 0, 256\n"
            "def kill_when_started():\n"
            "    while len(kids := multiprocessing.active_children()) < 2:\n"
            "        time.sleep(0.01)\n"
            "    print(' '.join(str(k.pid) for k in kids), flush=True)\n"
            "    os.kill(os.getpid(), 9)\n"
            "if __name__ == '__main__':\n"
            "    threading.Thread(target=kill_when_started, daemon=True).start()\n"
            "    while True:\n"
            "        skio.stream_export(sys.argv[1], get_exporter('csv'), io.BytesIO(), jobs=2)\n",
            encoding="utf-8")
        run = subprocess.run([sys.executable, str(script), str(src)], capture_output=True,
                             text=True, timeout=60, check=False)
        assert run.returncode == -9
        pids = [int(p) for p in run.stdout.split()]
        assert pids

        def alive(pid: int) -> bool:  # (a zombie nobody reaps has ended too)
            try:
                status = Path(f"/proc/{pid}/status").read_text()
            except OSError:
                return False
            return "\nState:\tZ" not in status

        deadline = time.monotonic() + 15
        while any(alive(p) for p in pids) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not [p for p in pids if alive(p)]

    def test_sigterm_waits_until_a_worker_has_started(self) -> None:
        """SIGTERM is held back while the main process starts a worker (as Ctrl-C is), and the
        worker lets it through once it has started: on a busy machine a SIGTERM that cut a
        start short left that worker printing "EOFError: Ran out of input" (issue 24)."""
        import subprocess
        import sys

        from storykit.stream.workers import _children_hold_ctrl_c

        probe = [sys.executable, "-c",
                 "import os, signal\n"
                 "from storykit.stream.workers import _watch_parent\n"
                 "held = lambda: signal.SIGTERM in signal.pthread_sigmask(signal.SIG_BLOCK, [])\n"
                 "before = held()\n"
                 "_watch_parent(os.getppid())\n"
                 "print(before, held())\n"]
        with _children_hold_ctrl_c():
            inside = subprocess.run(probe, capture_output=True, text=True, check=True)
        assert inside.stdout.split() == ["True", "False"]

    def test_workers_start_with_ctrl_c_held_back(self) -> None:
        """A process started while the pool starts its workers has SIGINT blocked from its
        first instruction, so Ctrl-C to the process group is reported once, by the main
        process; and a Ctrl-C that arrives meanwhile reaches the main process after, not
        lost (it used to be ignored, and the export went on to exit 0)."""
        import signal
        import subprocess
        import sys
        import threading

        from storykit.stream.workers import _children_hold_ctrl_c

        probe = [sys.executable, "-c",
                 "import signal; print(signal.SIGINT in signal.pthread_sigmask("
                 "signal.SIG_BLOCK, []))"]
        with _children_hold_ctrl_c():
            inside = subprocess.run(probe, capture_output=True, text=True, check=True)
        outside = subprocess.run(probe, capture_output=True, text=True, check=True)
        assert (inside.stdout.strip(), outside.stdout.strip()) == ("True", "False")
        assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
        reached = []

        def interrupted_inside() -> None:
            with _children_hold_ctrl_c():
                # (to this thread: a signal to the process could go to another of its threads)
                signal.pthread_kill(threading.get_ident(), signal.SIGINT)
                reached.append("the end of the block")

        # (the collector paused: a Ctrl-C handled inside a gc callback, such as Hypothesis
        # installs, is reported as unraisable and lost, which a busy machine made happen)
        import gc

        collecting = gc.isenabled()
        gc.disable()
        try:
            with pytest.raises(KeyboardInterrupt):
                interrupted_inside()
        finally:
            if collecting:
                gc.enable()
        assert reached == ["the end of the block"]
        assert signal.SIGINT not in signal.pthread_sigmask(signal.SIG_BLOCK, [])

    def test_csv_has_one_header_and_one_byte_order_mark(self, tmp_path: Path) -> None:
        """Parts after the first leave out the header row and the BOM; csv reads every row."""
        src = _jsonl(tmp_path / "in.jsonl", [_story(i) for i in range(40)])
        data = _streamed(src, "csv", 2, bom=True)
        assert isinstance(data, bytes)
        text = data.decode("utf-8")
        assert text.count("\ufeff") == 1 and text.count("id,title,") == 1
        rows = list(csv.DictReader(io.StringIO(text.removeprefix("\ufeff"))))
        assert [r["id"] for r in rows] == [f"story-{i}" for i in range(40)]
        assert rows[7]["summary"] == "'=SUM(A7) and more"

    def test_errors_are_the_same_list_with_the_same_lines(
            self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        """Bad JSON, a repeated key, a line too long and bad values, spread over parts: the
        errors of one process, in file order, with their line numbers and paths."""

        monkeypatch.setattr(storykit.read.jsonl, "MAX_LINE", 600)
        lines = [json.dumps(_story(i)) for i in range(30)]
        lines[3] = '{"id": "x", "title": '
        lines[9] = '{"id":"a","id":"b","title":"T","published":"2021-02-03","summary":"s"}'
        lines[14] = json.dumps(_story(14, summary="x" * 2_000))
        lines[15] = ""
        lines[21] = json.dumps(_story(21, published="2021-02-30"))
        lines[28] = json.dumps(_story(28, url="ftp://x"))
        src = tmp_path / "in.jsonl"
        src.write_text("\n".join(lines) + "\n", encoding="utf-8")
        one = _streamed(src, "csv", 1)
        assert isinstance(one, list) and len(one) == 5
        assert _streamed(src, "csv", 2) == one
        assert one[2].startswith("line 15: (document): is longer than 600 bytes")
        assert one[3].startswith("line 22: stories[20].published")

    @settings(max_examples=10, deadline=None)
    @given(st.lists(st.sampled_from(["story", "blank", "empty", "cr", "indented", "long",
                                     "too long", "crlf"]), max_size=14), st.booleans())
    def test_any_layout_of_lines_is_split_as_one_process_reads_it(
            self, kinds: list[str], last_break: bool) -> None:
        """Blank and indented lines, CRLF, lines longer than a part (but within the limit) and
        beyond the limit, the last line with or without its break: every line and story is
        numbered as one process numbers it (the errors and the output are one process's)."""
        import tempfile

        from storykit.stream import workers as _parallel

        make = {
            "story": lambda i: json.dumps(_story(i)), "blank": lambda i: "  \t",
            "empty": lambda i: "", "cr": lambda i: "\r",
            "indented": lambda i: "  " + json.dumps(_story(i)),
            "long": lambda i: json.dumps(_story(i, summary="x" * 1_500)),
            "too long": lambda i: json.dumps(_story(i, summary="x" * 5_000)),
            "crlf": lambda i: json.dumps(_story(i, url="ftp://x")) + "\r",
        }
        text = "\n".join(make[k](i) for i, k in enumerate(kinds)) + ("\n" if last_break else "")
        with tempfile.TemporaryDirectory() as tmp, \
                mock.patch.object(storykit.read.jsonl, "MAX_LINE", 3_000), \
                mock.patch.object(_parallel, "PART_BYTES", 700):
            src = Path(tmp) / "in.jsonl"
            src.write_text(text, encoding="utf-8")
            assert _streamed(src, "json", 2, shape="lines") == \
                _streamed(src, "json", 1, shape="lines")

    def test_a_repeated_id_in_another_part_is_found(self, tmp_path: Path) -> None:
        """Two stories with one id in different parts: load()'s error, as with one process."""
        src = _jsonl(tmp_path / "in.jsonl", [_story(i) for i in range(30)] + [_story(2)])
        errors = _streamed(src, "json", 2, shape="lines")
        assert errors == ["line 31: stories[30].id: 'story-2' is already the id of stories[2]"]

    def test_a_first_line_of_a_byte_order_mark_and_spaces_is_blank(self, tmp_path: Path) -> None:
        """A file that starts with a byte order mark on a line of its own (and spaces): that
        line is blank, so the stories after it are numbered as one process numbers them."""
        src = tmp_path / "in.jsonl"
        stories = [_story(i, published="2021-02-30" if i == 9 else "2021-02-03")
                   for i in range(12)]
        src.write_bytes(b"\xef\xbb\xbf  \n" + "".join(json.dumps(x) + "\n"
                                                      for x in stories).encode())
        expected = ["line 11: stories[9].published: '2021-02-30' is not a valid date"]
        assert _streamed(src, "json", 1, shape="lines") == expected
        assert _streamed(src, "json", 2, shape="lines") == expected

    def test_empty_and_blank_files(self, tmp_path: Path) -> None:
        """No story: CSV is its header row, JSON Lines is empty, as with one process."""
        for text in ("", "\n\n  \n"):
            src = tmp_path / "in.jsonl"
            src.write_text(text, encoding="utf-8")
            for fmt, options in (("csv", {}), ("json", {"shape": "lines"})):
                out = io.BytesIO()
                assert stream_export(src, get_exporter(fmt), out, jobs=2, **options) == 0
                assert out.getvalue() == storykit.dumps(storykit.Collection(), fmt, **options)

    def test_a_json_document_is_written_by_one_process(self, tmp_path: Path) -> None:
        """A JSON document has one frame around every story: it cannot be split, and
        ``jobs`` changes nothing."""
        src = _jsonl(tmp_path / "in.jsonl", [_story(i) for i in range(30)])
        assert _streamed(src, "json", 2) == storykit.dumps(storykit.load(src), "json")

    def test_the_command_gives_a_big_file_two_workers_unless_told(
            self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
            worker_spy: WorkerSpy) -> None:
        """``storykit export`` without --jobs splits a file of ``AUTO_JOBS_MIN_BYTES`` or more
        between two workers when two CPUs are free; a smaller file, ``--jobs 1`` or one CPU
        get one process. The output is the same."""
        import storykit.cli.common

        used = worker_spy.used
        src = _jsonl(tmp_path / "in.jsonl", [_story(i) for i in range(40)])
        size = src.stat().st_size
        monkeypatch.setattr(storykit.cli.common, "AUTO_JOBS_MIN_BYTES", size)
        expected = storykit.dumps(storykit.load(src), "csv")
        for name, extra, n in [("auto", [], 2), ("one", ["--jobs", "1"], None),
                               ("three", ["-j", "3"], 3)]:
            used.clear()
            result = _export("export", src, "-o", tmp_path / f"{name}.csv", *extra)
            assert result.exit_code == 0, result.output
            assert (tmp_path / f"{name}.csv").read_bytes() == expected
            assert used == ([] if n is None else [n])
        used.clear()
        monkeypatch.setattr(storykit.cli.common, "AUTO_JOBS_MIN_BYTES", size + 1)
        assert _export("export", src, "-o", tmp_path / "small.csv").exit_code == 0
        monkeypatch.setattr(storykit.cli.common, "AUTO_JOBS_MIN_BYTES", size)
        worker_spy.cpus = 1
        assert _export("export", src, "-o", tmp_path / "one-cpu.csv").exit_code == 0
        assert used == []
        assert (tmp_path / "small.csv").read_bytes() == expected

    def test_check_stream_with_workers_gives_one_process_verdict(self, tmp_path: Path) -> None:
        """check_stream(jobs=2) (``storykit validate`` of a big file) counts the stories and
        reports the problems one process reports, in order, with their lines: bad values in
        two parts, an id repeated across parts, and a line that is not JSON."""
        good = _jsonl(tmp_path / "good.jsonl", [_story(i) for i in range(40)])
        assert check_stream(good, jobs=2) == check_stream(good) == 40
        items: list[Any] = [_story(i) for i in range(40)]
        items[3]["published"] = "2021-02-30"
        items[37]["id"] = "story-5"
        bad = _jsonl(tmp_path / "bad.jsonl", items)
        with bad.open("a", encoding="utf-8") as f:
            f.write('{"id": "x", "title": \n')

        def verdict(jobs: int) -> list[str]:
            with pytest.raises(storykit.ValidationError) as e:
                check_stream(bad, jobs=jobs)
            return [str(x) for x in e.value.errors]

        one = verdict(1)
        assert verdict(2) == one
        assert [x.split(":")[0] for x in one] == ["line 4", "line 38", "line 41, column 22"]

    def test_validate_gives_a_big_file_two_workers_unless_told(
            self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
            worker_spy: WorkerSpy) -> None:
        """``storykit validate`` without --jobs checks a file of ``AUTO_JOBS_MIN_BYTES`` or more
        in two workers (two CPUs free), with --jobs 1 in one process; it says the same."""
        import storykit.cli.common

        src = _jsonl(tmp_path / "in.jsonl", [_story(i) for i in range(40)] + [_story(7)])
        monkeypatch.setattr(storykit.cli.common, "AUTO_JOBS_MIN_BYTES", src.stat().st_size)
        results = [CliRunner().invoke(main, ["validate", str(src), *extra])
                   for extra in ([], ["--jobs", "1"])]
        assert worker_spy.used == [2]
        assert [r.exit_code for r in results] == [1, 1]
        assert results[0].stderr == results[1].stderr == (
            f"storykit: error: 1 problem in {src}\n"
            "  line 41: stories[40].id: 'story-7' is already the id of stories[7]\n")

    def test_jobs_must_not_be_negative(self, tmp_path: Path) -> None:
        """A negative number of workers is a ValueError; 0 means one per CPU."""
        src = _jsonl(tmp_path / "in.jsonl", [_story(1)])
        with pytest.raises(ValueError, match="jobs must be 0"):
            stream_export(src, get_exporter("csv"), io.BytesIO(), jobs=-1)
        assert _streamed(src, "csv", 0) == _streamed(src, "csv", 1)

    def test_cli_jobs(self, tmp_path: Path) -> None:
        """``storykit export --jobs 2`` writes the file one process writes; -j -1 is a usage
        error."""
        src = _jsonl(tmp_path / "in.jsonl", [_story(i) for i in range(30)])
        for jobs in ("1", "2"):
            result = _export("export", src, "-o", tmp_path / f"out-{jobs}.csv", "--jobs", jobs)
            assert result.exit_code == 0, result.output
            assert "(csv, 30 stories)" in result.output
        assert (tmp_path / "out-2.csv").read_bytes() == (tmp_path / "out-1.csv").read_bytes()
        result = _export("export", src, "-o", tmp_path / "x.csv", "-j", "-1")
        assert result.exit_code == 2
        assert "-1 is not in the range x>=0" in result.output


class TestWhenPartsConcatenate:
    """Which exports ``jobs`` splits among workers."""

    def test_built_in_formats(self) -> None:
        """csv always (later parts without header and BOM), json only with shape=lines."""
        from storykit.stream import workers as _parallel

        assert _parallel.later_options(get_exporter("csv"), {"bom": True}) == {
            "bom": False, "header": False}
        assert _parallel.later_options(get_exporter("json"), {"shape": "lines"}) == {
            "shape": "lines"}
        assert _parallel.later_options(get_exporter("json"), {}) is None
        assert _parallel.later_options(get_exporter("html"), {}) is None

    def test_an_exporter_a_worker_cannot_import_is_run_in_one_process(self) -> None:
        """A class a worker cannot import by its module's name (a plugin loaded from a file,
        or one made inside a function) is never sent to a worker."""
        from storykit.stream import workers as _parallel

        class Local:
            name = "local"

            def continuation_options(self, options: dict[str, Any]) -> dict[str, Any]:
                return options

        assert _parallel.later_options(Local(), {}) is None

    def test_workers_count(self) -> None:
        """0 is one per CPU; a negative number is refused."""
        from storykit.stream import workers as _parallel

        assert _parallel.workers(3) == 3
        assert _parallel.workers(0) >= 1
        with pytest.raises(ValueError, match="jobs must be 0"):
            _parallel.workers(-2)


_LINES = st.one_of(
    st.fixed_dictionaries(
        {"title": st.sampled_from(["One", "Two", "One 2", "One-2-2", ""]),
         "published": st.sampled_from(["2021-02-03", "2021-02-30"]),
         "summary": st.just("s")},
        # Given ids that a derived one can meet: a slug, a slug and "-N", ids given twice.
        optional={"id": st.sampled_from(["a", "b", "one", "one-2", "one-3", "two-2", "one-02",
                                         "Not A Slug"])}).map(json.dumps),
    # Repeated keys: plain, and with an escaped colon that makes the colons add up.
    st.sampled_from(["", "   ", "{not json", "[1, 2]", '{"title": "T", "title": "U"}',
                     '{"title": "T", "title": "U\\u003a", "published": "2021-02-03", '
                     '"summary": "s"}',
                     # A repeated key in a story that is valid either way.
                     '{"title": "T", "published": "2021-02-03", "summary": "s", "summary": "t"}',
                     # Two stories on one line, and one story over two lines: no story.
                     '{"title": "T", "published": "2021-02-03", "summary": "s"} '
                     '{"title": "U", "published": "2021-02-03", "summary": "s"}',
                     '{"title": "V", "published": "2021-02-03",\n"summary": "s"}']),
)


class TestSameVerdictAsLoad:
    @settings(max_examples=60, deadline=None)
    @given(st.lists(_LINES, max_size=12), st.sampled_from([1, 90, 32 * 1024]))
    def test_json_lines(self, tmp_path_factory: pytest.TempPathFactory,
                        lines: list[str], step: int) -> None:
        """Any JSON Lines file, with bad values, bad lines, blank lines and ids given twice
        (by good stories or bad ones): the streaming export raises exactly load()'s problems,
        or writes what load() and dumps() give, however many lines are checked at a time
        (``step``: one, a few, all)."""
        src = tmp_path_factory.mktemp("v") / "in.jsonl"
        src.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
        try:
            loaded = storykit.load(src)
        except storykit.ValidationError as e:
            expected: bytes | list[str] = [str(x) for x in e.errors]
            verdict: int | list[str] = expected
        else:
            expected, verdict = storykit.dumps(loaded, "csv"), len(loaded)
        with mock.patch.object(storykit.read.jsonl, "STEP", step):
            assert _streamed(src, "csv", 1) == expected
            try:
                checked: int | list[str] = check_stream(src)
            except storykit.ValidationError as e:
                checked = [str(x) for x in e.errors]
        assert checked == verdict

    @settings(max_examples=60, deadline=None)
    @given(st.lists(st.fixed_dictionaries(
        {"title": st.sampled_from(["One", "One 2", "One-2-2", "Two"]),
         "published": st.just("2021-02-03"), "summary": st.just("s")},
        optional={"id": st.sampled_from(["one", "one-2", "one-3", "one-2-2", "two-2", "one-02",
                                         "b"])}), max_size=8),
           st.sampled_from(["jsonl", "csv"]))
    def test_derived_ids_are_numbered_as_load_numbers_them(
            self, tmp_path_factory: pytest.TempPathFactory, stories: list[dict[str, str]],
            fmt: str) -> None:
        """Stories without an id whose title gives one that is taken, by a given id or by an
        earlier story (its own number included: "One" twice and "One 2"): the streamed output
        is load()'s, in JSON Lines and in CSV, with no size limit on the way."""
        src = tmp_path_factory.mktemp("n") / f"in.{fmt}"
        if fmt == "jsonl":
            src.write_text("".join(json.dumps(s) + "\n" for s in stories), encoding="utf-8")
        else:
            with src.open("w", encoding="utf-8", newline="") as f:
                w = csv.DictWriter(f, ["id", "title", "published", "summary"])
                w.writeheader()
                w.writerows(stories)
        try:
            expected: bytes | list[str] = storykit.dumps(storykit.load(src), "json",
                                                         shape="lines")
        except storykit.ValidationError as e:
            expected = [str(x) for x in e.errors]
        with mock.patch.object(storykit.read, "load", side_effect=AssertionError("load()")):
            assert _streamed(src, "json", 1, shape="lines") == expected


class TestLoadWhere:
    @settings(max_examples=60, deadline=None)
    @given(st.lists(_LINES, max_size=12), st.sampled_from(["jsonl", "json"]),
           st.sampled_from(["one", "two", "-2"]))
    def test_same_as_filtering_what_load_gives(
            self, tmp_path_factory: pytest.TempPathFactory, lines: list[str], fmt: str,
            part: str) -> None:
        """load(where=) gives load().filter(where=), or raises exactly load()'s problems,
        for a file read a story at a time (JSON Lines) or whole (a JSON document); ``where``
        sees each story with the id load() gives it (numbered ones too)."""
        src = tmp_path_factory.mktemp("w") / "in.jsonl"
        src.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
        if fmt == "json":
            try:
                src = storykit.dump(storykit.load(src), src.with_suffix(".json"))
            except storykit.ValidationError:
                return

        def where(s: storykit.Story) -> bool:
            return part in s.id

        try:
            expected: storykit.Collection | list[str] = storykit.load(src).filter(where=where)
        except storykit.ValidationError as e:
            expected = [str(x) for x in e.errors]
        try:
            got: storykit.Collection | list[str] = storykit.load(src, where=where)
        except storykit.ValidationError as e:
            got = [str(x) for x in e.errors]
        assert got == expected

    def test_a_line_file_is_not_read_whole(self, tmp_path: Path,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
        """JSON Lines and CSV with where=: no max_bytes, and the file is never read whole;
        a JSON document is read whole, within max_bytes."""
        col = collections_example()
        lines = storykit.dump(col, tmp_path / "a.jsonl")
        table = storykit.dump(col, tmp_path / "a.csv")
        doc = storykit.dump(col, tmp_path / "a.json")
        monkeypatch.setattr("storykit.read.loads", lambda *a, **k: pytest.fail("read whole"))
        for path in (lines, table):
            got = storykit.load(path, where=lambda s: s.published.month == 2, max_bytes=1)
            assert got.stories == tuple(s for s in col if s.published.month == 2)
        with pytest.raises(storykit.ValidationError, match="the limit is 1 bytes"):
            storykit.load(doc, where=lambda s: True, max_bytes=1)


class TestLoadWhereArgument:
    @pytest.mark.parametrize("suffix", [".jsonl", ".csv", ".json"])
    def test_a_where_that_is_not_a_function_is_refused_at_once(self, tmp_path: Path,
                                                               suffix: str) -> None:
        """where="climate" (text, not a test) is the ValueError filter() gives, before the
        file is read, for every format."""
        path = storykit.dump(collections_example(), tmp_path / f"a{suffix}")
        with pytest.raises(ValueError, match=r"filter\(where=...\): must be a function"):
            storykit.load(path, where="climate")  # type: ignore[arg-type]


def collections_example() -> storykit.Collection:
    """Stories in January and February, without contacts (which line files cannot hold)."""
    return storykit.Collection(title="Stories", stories=[
        storykit.Story(title=f"Story {i}", published=f"2021-0{1 + i % 2}-{1 + i:02d}",
                       summary="x") for i in range(6)])


def _weekly(path: Path) -> Path:
    """Two id-less stories titled alike: the second takes ``weekly-update-2``, so a stream
    redoes its output."""
    return _jsonl(path, [{"title": "Weekly update", "published": d, "summary": "b"}
                         for d in ("2021-02-01", "2021-02-02")])


class TestStreamExportKeepsWhatOutHeld:
    def test_two_exports_append_into_one_file(self, tmp_path: Path) -> None:
        """Two stream_export() calls into one file: the first one's stories are still there
        when the second redoes its output."""
        first = _jsonl(tmp_path / "a.jsonl", [_story(1)])
        second = _weekly(tmp_path / "b.jsonl")
        lines = get_exporter("json")
        with (tmp_path / "all.jsonl").open("wb") as out:
            assert stream_export(first, lines, out, shape="lines") == 1
            assert stream_export(second, lines, out, shape="lines") == 2
        assert storykit.load(tmp_path / "all.jsonl").ids == (
            "story-1", "weekly-update", "weekly-update-2")

    def test_a_preface_in_out_is_kept(self, tmp_path: Path) -> None:
        """What a BytesIO holds before the call is kept; the CSV after it is load()'s."""
        src = _weekly(tmp_path / "b.jsonl")
        out = io.BytesIO(b"# preface\n")
        out.seek(0, io.SEEK_END)
        stream_export(src, get_exporter("csv"), out)
        preface, table = out.getvalue().split(b"\n", 1)
        assert preface == b"# preface"
        assert [r["id"] for r in csv.DictReader(io.StringIO(table.decode("utf-8-sig")))] == [
            "weekly-update", "weekly-update-2"]


class _Pipe(io.RawIOBase):
    """A binary file that cannot seek, as a pipe; it records what is written."""

    def __init__(self) -> None:
        self.data = bytearray()

    def writable(self) -> bool:
        return True

    def write(self, b: Any) -> int:
        self.data += b
        return len(b)


class TestStreamExportArguments:
    def test_a_pipe_is_refused_before_anything_is_read(self, tmp_path: Path) -> None:
        """An out that cannot seek is refused up front with a ValueError, and nothing is
        written to it."""
        pipe = _Pipe()
        with pytest.raises(ValueError, match=r"^out must be seekable \(got _Pipe"):
            stream_export(_weekly(tmp_path / "b.jsonl"), get_exporter("csv"), pipe)
        assert pipe.data == b""

    def test_a_format_name_is_not_an_exporter(self, tmp_path: Path) -> None:
        """A format name given as exporter says what to pass, and no plugin is blamed."""
        with pytest.raises(TypeError, match=r"^exporter must be an exporter object such as "
                                            r"storykit\.formats\(\)\['csv'\] \(got str 'csv'\)$"):
            stream_export(_weekly(tmp_path / "b.jsonl"), "csv", io.BytesIO())

    def test_an_exporter_that_does_not_stream_is_named(self, tmp_path: Path) -> None:
        """An exporter without write_stream() (html) is named as one that does not stream."""
        with pytest.raises(ValueError, match=r"^format 'html' does not stream \(streams = True "
                                             r"and write_stream\(\) are needed"):
            stream_export(_weekly(tmp_path / "b.jsonl"), storykit.formats()["html"],
                          io.BytesIO())

    @pytest.mark.parametrize("make", [str, Path])
    def test_a_path_as_out_is_named(self, tmp_path: Path, make: Any) -> None:
        """A path given as out says a file open for writing is needed, and writes nothing."""
        target = make(tmp_path / "out.csv")
        with pytest.raises(TypeError, match=r"^out must be a binary file open for writing, "
                                            r"not a path"):
            stream_export(_weekly(tmp_path / "b.jsonl"), get_exporter("csv"), target)
        assert not (tmp_path / "out.csv").exists()

    def test_a_text_file_as_out_is_named(self, tmp_path: Path) -> None:
        """A text file (StringIO) as out gets a TypeError, not a PluginError."""
        with pytest.raises(TypeError, match=r"^out must be a binary file open for writing, "
                                            r"such as .* \(got StringIO\)$"):
            stream_export(_weekly(tmp_path / "b.jsonl"), get_exporter("csv"), io.StringIO())

    @pytest.mark.parametrize("jobs", ["2", None, 2.0, True])
    def test_jobs_that_is_not_an_int_is_named(self, tmp_path: Path, jobs: Any) -> None:
        """jobs must be an int: a string from a config file gets a clear TypeError."""
        with pytest.raises(TypeError, match=r"^jobs must be an int, 0 \(one per CPU\) or more "
                                            rf"\(got {type(jobs).__name__} "):
            stream_export(_weekly(tmp_path / "b.jsonl"), get_exporter("csv"), io.BytesIO(),
                          jobs=jobs)


class TestCheckStreamOfAFolder:
    @pytest.mark.parametrize("name", ["outdir", "d.jsonl"])
    def test_a_folder_is_named_as_load_names_it(self, tmp_path: Path, name: str) -> None:
        """check_stream() and stream_export() of a folder say it is a folder, whatever the
        folder's name; load() gives it to the folder reader, which says it holds no story."""
        folder = tmp_path / name
        folder.mkdir()
        for call in (lambda: check_stream(folder),
                     lambda: stream_export(folder, get_exporter("csv"), io.BytesIO())):
            with pytest.raises(IsADirectoryError, match="is a folder, not a content file"):
                call()
        with pytest.raises(storykit.ValidationError, match="is a folder with no story files"):
            storykit.load(folder)


_TOKEN_GAPS = st.sampled_from(["", " ", "\r", " \r ", "\t\r"])


class TestLineEnds:
    @settings(max_examples=60, deadline=None)
    @given(st.lists(_LINES, max_size=8), st.sampled_from(["\n", "\r\n"]), _TOKEN_GAPS)
    def test_one_verdict_whatever_the_line_ends(
            self, tmp_path_factory: pytest.TempPathFactory, lines: list[str], end: str,
            gap: str) -> None:
        """Lines ended by \\n or \\r\\n, with \\r as whitespace between the tokens of a line:
        load(), load(where=) and check_stream() give one verdict, with the same line
        numbers."""
        src = tmp_path_factory.mktemp("e") / "in.jsonl"
        spaced = [line.replace(", ", f",{gap}").replace(": ", f":{gap}") for line in lines]
        src.write_bytes("".join(line + end for line in spaced).encode("utf-8"))

        def verdict(read: Any) -> Any:
            try:
                got = read()
            except storykit.ValidationError as e:
                return [str(x) for x in e.errors]
            return got if isinstance(got, int) else len(got)

        loaded = verdict(lambda: storykit.load(src))
        assert verdict(lambda: storykit.load(src, where=lambda s: True)) == loaded
        assert verdict(lambda: check_stream(src)) == loaded

    def test_a_lone_carriage_return_does_not_end_a_line(self, tmp_path: Path) -> None:
        """Old Mac line ends (a lone \\r): load() and check_stream() both refuse line 1, and
        say that a lone \\r is there."""
        src = tmp_path / "cr.jsonl"
        src.write_bytes(b"".join(json.dumps(_story(i)).encode() + b"\r" for i in range(3)))
        for read in (storykit.load, check_stream):
            with pytest.raises(storykit.ValidationError) as err:
                read(src)
            [problem] = err.value.errors
            assert problem.line == 1
            assert "after a lone \\r" in problem.message

    def test_a_carriage_return_inside_a_line_is_whitespace(self, tmp_path: Path) -> None:
        """A \\r between the tokens of a line is JSON whitespace: load() reads the line as
        check_stream() does, one story."""
        src = tmp_path / "ws.jsonl"
        src.write_bytes(b'{"id": "a",\r"title": "A", "published": "2021-02-03", '
                        b'"summary": "s"}\n')
        assert storykit.load(src).ids == ("a",)
        assert check_stream(src) == 1


class TestIdHashes:
    @settings(max_examples=80, deadline=None)
    @given(st.lists(st.integers(-(2**63), 2**63 - 1) | st.sampled_from([0, 1, -1, 2, 6]),
                    max_size=40),
           st.integers(-(2**63), 2**63 - 1) | st.sampled_from([0, 1, -1, 2, 6]),
           st.integers(0, 6))
    def test_repeats_and_lookups_whatever_the_buckets(self, values: list[int], probe: int,
                                                      bits: int) -> None:
        """The repeats found are exactly the values there twice or more, and a lookup finds
        exactly the values there, however many buckets the hashes are shared among."""
        import array

        from storykit.read import lines as skio

        with mock.patch.object(skio, "_BUCKET_BITS", bits):
            known = skio.IdHashes(array.array("q", values))
        assert known.repeats() == {v for v in values if values.count(v) > 1}
        for v in [*values, probe]:
            assert (v in known) == (v in values)

    def test_a_million_ids_in_little_memory(self) -> None:
        """Checking a million ids for repeats takes about 8 bytes a story beyond their array
        (sorting them as a list of ints took about 48), and finds the one repeated."""
        import array
        import random
        import tracemalloc

        from storykit.read import lines as skio

        ids = array.array("q", (random.getrandbits(63) for _ in range(1_000_000)))
        ids.append(ids[123_456])
        tracemalloc.start()
        try:
            found = skio.IdHashes(ids).repeats()
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        assert found == {ids[123_456]}
        assert peak < 20_000_000, f"{peak:,} bytes"

    def test_the_file_is_read_twice_more_when_derived_ids_clash(
            self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        """A derived id that is taken costs two more readings (the ids, then the output),
        as the streaming guide says; a file whose ids do not repeat is read once."""
        same = {"title": "Same title", "published": "2021-02-03", "summary": "x"}
        clash = _jsonl(tmp_path / "clash.jsonl", [same, _story(1), same])
        plain = _jsonl(tmp_path / "plain.jsonl", [_story(1), _story(2)])
        opened: list[str] = []
        real_open = Path.open

        def counting_open(self: Path, *args: Any, **kwargs: Any) -> Any:
            opened.append(self.name)
            return real_open(self, *args, **kwargs)

        monkeypatch.setattr(Path, "open", counting_open)
        stream_export(clash, get_exporter("csv"), io.BytesIO())
        stream_export(plain, get_exporter("csv"), io.BytesIO())
        assert opened.count("clash.jsonl") == 3 and opened.count("plain.jsonl") == 1


class TestWhereFailing:
    def test_the_files_problems_come_before_an_error_of_where(self, tmp_path: Path) -> None:
        """A test that fails on a story (a story without url) does not hide the file's own
        problems: load(where=) raises the ValidationError load() raises, as
        load().filter(where=) would; on a valid file, where's error is raised as it is."""
        good = {"id": "a", "title": "A", "published": "2021-02-03", "summary": "x"}
        src = tmp_path / "w.jsonl"
        src.write_text(json.dumps(good) + "\n{not json\n", encoding="utf-8")

        def where(s: storykit.Story) -> bool:
            assert s.url is not None
            return s.url.startswith("https")

        with pytest.raises(storykit.ValidationError) as whole:
            storykit.load(src).filter(where=where)
        with pytest.raises(storykit.ValidationError) as streamed:
            storykit.load(src, where=where)
        assert str(streamed.value) == str(whole.value)
        src.write_text(json.dumps(good) + "\n", encoding="utf-8")
        with pytest.raises(AssertionError):
            storykit.load(src, where=where)
