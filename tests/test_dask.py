"""storykit.dask on a real LocalCluster with two worker processes, compared with one process."""

from __future__ import annotations

import csv
import io
import json
import os
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import storykit
from storykit import ValidationError

distributed = pytest.importorskip("distributed")
skdask = pytest.importorskip("storykit.dask")

pytestmark = [pytest.mark.slow]


@pytest.fixture(scope="module")
def cluster() -> Iterator[Any]:
    """Two worker processes on 127.0.0.1, one thread each, shared by the tests here."""
    with skdask.client("local", n_workers=2) as c:
        yield c


def story(i: int, **changes: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": f"story-{i}",
        "title": f"Story number {i}",
        "published": f"2021-{1 + i % 12:02d}-{1 + i % 28:02d}",
        "summary": f"What happened in story {i}, with a comma, and \"quotes\".",
        "topics": ["decent work"] if i % 3 else ["child labour", "mines"],
        "countries": ["LK"] if i % 2 else ["MM", "PH"],
    }
    data.update(changes)
    return {k: v for k, v in data.items() if v is not None}


def write_jsonl(path: Path, items: list[Any]) -> Path:
    path.write_text("".join((x if isinstance(x, str) else json.dumps(x)) + "\n" for x in items),
                    encoding="utf-8")
    return path


def one_process_errors(path: Path) -> list[tuple[Any, ...]]:
    try:
        storykit.load(path)
    except ValidationError as e:
        return [(d.path, d.message, d.value, d.line) for d in e.errors]
    return []


def as_tuples(errors: list[storykit.ErrorDetail]) -> list[tuple[Any, ...]]:
    return [(d.path, d.message, d.value, d.line) for d in errors]


class TestValidate:
    def test_a_valid_archive_has_no_problem(self, cluster: Any, tmp_path: Path) -> None:
        """An archive split into many blocks and chunks validates as one process says."""
        path = write_jsonl(tmp_path / "a.jsonl", [story(i) for i in range(5000)])
        assert one_process_errors(path) == []
        assert skdask.validate(str(path), blocksize=60_000) == []

    def test_problems_are_those_of_one_process(self, cluster: Any, tmp_path: Path) -> None:
        """Bad stories in different blocks and chunks give one process's records, in line
        order: a missing title, a bad date, a repeated id across blocks, broken JSON."""
        items: list[Any] = [story(i) for i in range(4500)]
        items[3] = story(3, title=None)
        items[2100] = story(2100, published="2021-02-30")
        items[4000] = story(4000, id="story-10")
        items[4200] = "{not json"
        items[4300] = json.dumps(story(4300))[:-1] + ', "title": "Twice"}'  # a repeated key
        items.insert(50, "   ")  # a blank line is no story
        path = write_jsonl(tmp_path / "bad.jsonl", items)
        expected = one_process_errors(path)
        assert len(expected) == 5
        got = skdask.validate(str(path), blocksize=40_000)
        assert as_tuples(got) == expected

    def test_read_stories_raises_every_problem(self, cluster: Any, tmp_path: Path) -> None:
        """read_stories() checks the archive first and raises one ValidationError."""
        path = write_jsonl(tmp_path / "bad.jsonl",
                           [story(0), story(1, published="yesterday"), story(2, id="story-0")])
        with pytest.raises(ValidationError) as info:
            skdask.read_stories(str(path))
        assert as_tuples(list(info.value.errors)) == one_process_errors(path)


    def test_a_byte_order_mark_is_only_the_first_lines(self, cluster: Any,
                                                       tmp_path: Path) -> None:
        """A line that starts with a byte order mark is an error, as in one process, unless
        it is the file's first line, however the blocks fall (here each line is one)."""
        lines = [json.dumps(story(i)) for i in range(4)]
        path = tmp_path / "a.jsonl"
        path.write_bytes(b"\xef\xbb\xbf" + "\n".join(lines[:2]).encode() + b"\n\xef\xbb\xbf"
                         + "\n".join(lines[2:]).encode() + b"\n")
        expected = one_process_errors(path)
        assert [e[3] for e in expected] == [3]
        assert as_tuples(skdask.validate(str(path), blocksize=100)) == expected


class TestCollidingHashes:
    """Repeats are found from 8-byte hashes of the ids, and decided on the ids themselves:
    with a hash that makes most ids collide (on the driver and on the workers), the verdict
    and the ids are still one process's."""

    @pytest.fixture
    def weak_hash(self, cluster: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
        def swap(weak: bool) -> None:  # (sent to the workers)
            import storykit.dask.blocks
            import storykit.dask.keys

            setattr(storykit.dask.blocks, "hash_key",  # noqa: B010 - the module's name
                    (lambda key: len(key) % 3) if weak else storykit.dask.keys.hash_key)

        monkeypatch.setattr(skdask.blocks, "hash_key", lambda key: len(key) % 3)
        cluster.run(swap, True)
        yield
        cluster.run(swap, False)

    def test_the_verdict_and_ids_of_one_process(self, cluster: Any, weak_hash: None,
                                                tmp_path: Path) -> None:
        from hypothesis import HealthCheck, given, settings
        from hypothesis import strategies as st

        ids = st.sampled_from([None, "a", "b", "a-2", "same-title", "same-title-2",
                               "same-title-2-2", "other"])
        titles = st.sampled_from(["Same title", "Same title 2", "Other", "B"])
        stories = st.lists(st.tuples(ids, titles, st.booleans()), max_size=14)

        @settings(max_examples=15, deadline=None,
                  suppress_health_check=[HealthCheck.function_scoped_fixture])
        @given(stories=stories, size=st.integers(60, 600))
        def check(stories: list[tuple[str | None, str, bool]], size: int) -> None:
            items = [story(i, id=sid, title=title,
                           published=None if good else "2021-02-30")
                     for i, (sid, title, good) in enumerate(stories)]
            path = write_jsonl(tmp_path / "a.jsonl", items)
            expected = one_process_errors(path)
            assert as_tuples(skdask.validate(str(path), blocksize=size)) == expected
            if not expected:
                got = skdask.read_stories(str(path), blocksize=size).compute()
                assert [s.id for s in got] == [s.id for s in storykit.load(path)]

        check()


class TestReadStories:
    def test_the_same_stories_as_load(self, cluster: Any, tmp_path: Path) -> None:
        """The bag holds load()'s stories in order, ids derived from titles numbered across
        blocks as load() numbers them (a given id taking the slug first)."""
        items = [story(i) for i in range(3000)]
        for i in (5, 1500, 2999):
            items[i] = story(i, id=None, title="Same title")
        items[2000] = story(2000, id="same-title-2")
        path = write_jsonl(tmp_path / "a.jsonl", items)
        bag = skdask.read_stories(str(path), blocksize=50_000)
        assert bag.npartitions > 3
        got = bag.compute()
        want = list(storykit.load(path))
        assert [s.id for s in got if "same-title" in s.id] == ["same-title", "same-title-3",
                                                                 "same-title-2", "same-title-4"]
        assert got == want

    def test_a_glob_of_files(self, cluster: Any, tmp_path: Path) -> None:
        """A glob reads every file, in name order."""
        write_jsonl(tmp_path / "b.jsonl", [story(i) for i in range(10, 20)])
        write_jsonl(tmp_path / "a.jsonl", [story(i) for i in range(10)])
        got = skdask.read_stories(str(tmp_path / "*.jsonl")).compute()
        assert [s.id for s in got] == [f"story-{i}" for i in range(20)]


class TestExport:
    def test_parts_concatenate_to_one_process(self, cluster: Any, tmp_path: Path) -> None:
        """CSV and JSON Lines parts written by the workers concatenate to exactly what one
        process writes."""
        path = write_jsonl(tmp_path / "a.jsonl", [story(i) for i in range(4000)])
        col = storykit.load(path)
        for fmt, opts in (("csv", {}), ("json", {"shape": "lines"})):
            out = tmp_path / f"out-{fmt}"
            parts = skdask.export(str(path), fmt, str(out), blocksize=80_000, **opts)
            assert len(parts) > 2
            assert [Path(p).name for p in parts] == sorted(p.name for p in out.iterdir())
            joined = b"".join(Path(p).read_bytes() for p in parts)
            assert joined == storykit.dumps(col, fmt, **opts)
            if fmt == "csv":  # read back: one row a story, in order
                rows = list(csv.DictReader(io.StringIO(joined.decode("utf-8-sig"))))
                assert [r["id"] for r in rows] == [s.id for s in col]

    def test_ids_numbered_across_blocks(self, cluster: Any, tmp_path: Path) -> None:
        """Ids derived from one title in many blocks are numbered as one process numbers
        them (those parts are written again with the archive's numbering); no part or
        temporary file is left over."""
        items = [story(i) for i in range(3000)]
        for i in (5, 1500, 2999):
            items[i] = story(i, id=None, title="Same title")
        path = write_jsonl(tmp_path / "a.jsonl", items)
        out = tmp_path / "out"
        parts = skdask.export(str(path), "csv", str(out), blocksize=50_000)
        assert sorted(p.name for p in out.iterdir()) == [Path(p).name for p in parts]
        joined = b"".join(Path(p).read_bytes() for p in parts)
        assert joined == storykit.dumps(storykit.load(path), "csv")
        rows = list(csv.DictReader(io.StringIO(joined.decode("utf-8-sig"))))
        assert [r["id"] for r in rows if "same-title" in r["id"]] == [
            "same-title", "same-title-2", "same-title-3"]

    def test_single_file(self, cluster: Any, tmp_path: Path) -> None:
        """single_file=True leaves one file, equal to one process's, and no parts."""
        path = write_jsonl(tmp_path / "a.jsonl", [story(i) for i in range(1000)])
        out = tmp_path / "all.csv"
        assert skdask.export(str(path), "csv", str(out), single_file=True,
                             blocksize=30_000) == [str(out)]
        assert out.read_bytes() == storykit.dumps(storykit.load(path), "csv")
        assert sorted(p.name for p in tmp_path.iterdir()) == ["a.jsonl", "all.csv"]

    def test_from_a_bag(self, cluster: Any, tmp_path: Path) -> None:
        """A bag of stories exports too, a part per partition."""
        path = write_jsonl(tmp_path / "a.jsonl", [story(i) for i in range(500)])
        bag = skdask.read_stories(str(path), blocksize=20_000)
        parts = skdask.export(bag, "csv", str(tmp_path / "out"))
        assert len(parts) == bag.npartitions
        assert b"".join(Path(p).read_bytes() for p in parts) == storykit.dumps(
            storykit.load(path), "csv")

    def test_nothing_written_for_a_bad_archive(self, cluster: Any, tmp_path: Path) -> None:
        """A bad story is a ValidationError naming its line; no part is written."""
        path = write_jsonl(tmp_path / "a.jsonl", [story(0), story(1, title="")])
        with pytest.raises(ValidationError, match="line 2"):
            skdask.export(str(path), "csv", str(tmp_path / "out"))
        assert not (tmp_path / "out").exists() or not list((tmp_path / "out").iterdir())

    def test_a_killed_worker_loses_no_part(self, cluster: Any, tmp_path: Path) -> None:
        """Killing a worker process mid-job: every part is written once, the output whole."""
        path = write_jsonl(tmp_path / "a.jsonl", [story(i) for i in range(20000)])
        out = tmp_path / "out"
        result: dict[str, Any] = {}

        def run() -> None:
            try:
                result["parts"] = skdask.export(str(path), "csv", str(out), blocksize=100_000)
            except BaseException as e:  # (reported by the assertion below)
                result["error"] = e

        job = threading.Thread(target=run)
        job.start()
        try:
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline and not (out.exists() and any(out.iterdir())):
                time.sleep(0.01)
            pids = list(cluster.run(os.getpid).values())
            os.kill(pids[0], signal.SIGKILL)
        finally:
            job.join(timeout=240)
        assert "error" not in result, result.get("error")
        parts = result["parts"]
        assert sorted(p.name for p in out.iterdir()) == [Path(p).name for p in parts]
        assert b"".join(Path(p).read_bytes() for p in parts) == storykit.dumps(
            storykit.load(path), "csv")


class TestDigests:
    def test_messages_equal_one_machine(self, cluster: Any, tmp_path: Path) -> None:
        """The outbox holds the one-machine run's messages, byte for byte, with the same
        skipped readers; a rerun writes only what is missing."""
        from storykit.digest import PersonalisedRun, load_subscribers, write_outbox

        col = storykit.load(Path("examples/impact-and-people/stories.json"))
        subs = tmp_path / "subscribers.csv"
        with subs.open("w", newline="", encoding="utf-8") as f:
            w = csv.writer(f)
            w.writerow(["email", "name", "topics", "countries"])
            for i in range(300):
                w.writerow([f"reader{i}@example.org", f"Reader {i}",
                            "nothing here" if i % 7 == 0 else "", "LK" if i % 2 else ""])
        opts = {"sender": "Newsroom <news@example.org>"}
        one = tmp_path / "one"
        run = PersonalisedRun(col, load_subscribers(subs), opts)
        write_outbox(run, one)
        many = tmp_path / "many"
        report = skdask.digests(col, str(subs), str(many), blocksize=2000, **opts)
        assert report.skipped == len(run.skipped)
        assert report.messages == report.written == run.sent
        for p in one.iterdir():
            assert (many / p.name).read_bytes() == p.read_bytes()
        rows = list(csv.DictReader((many / "manifest.csv").open(encoding="utf-8")))
        skipped = {s.email for s in run.skipped}
        assert [r["email"] for r in rows] == [  # one row a message, in the file's order
            s.email for s in load_subscribers(subs) if s.email not in skipped]
        assert sorted(p.name for p in many.iterdir() if not p.name.endswith(".eml")) == [
            "manifest.csv"]
        (many / rows[3]["file"]).unlink()
        again = skdask.digests(col, str(subs), str(many), blocksize=2000, **opts)
        assert (again.messages, again.written) == (run.sent, 1)

    def test_a_repeated_mailbox_writes_nothing(self, cluster: Any, tmp_path: Path) -> None:
        """Two rows for one mailbox in different blocks: a ValidationError naming the line."""
        col = storykit.load(Path("examples/impact-and-people/stories.json"))
        subs = tmp_path / "subscribers.csv"
        rows = [f"r{i}@example.org" for i in range(200)] + ["R5@Example.org"]
        subs.write_text("email\n" + "\n".join(rows) + "\n", encoding="utf-8")
        with pytest.raises(ValidationError, match="line 202"):
            skdask.digests(col, str(subs), str(tmp_path / "out"), blocksize=500,
                           sender="news@example.org")
        assert not (tmp_path / "out").exists()


def test_an_unreachable_scheduler_is_one_line() -> None:
    """A scheduler nobody listens on is a ConnectionError of one line."""
    with pytest.raises(ConnectionError) as info, skdask.client("tcp://127.0.0.1:9", timeout=2):
        pass
    assert "\n" not in str(info.value)
    assert "tcp://127.0.0.1:9" in str(info.value)


class TestBlocks:
    @pytest.mark.parametrize("bom", [b"", b"\xef\xbb\xbf"])
    def test_blocks_hold_every_line_once(self, tmp_path: Path, bom: bytes) -> None:
        """However the file is cut, the blocks' lines are the file's lines, each once, in
        order (blank, long and unterminated lines included)."""
        from hypothesis import assume, given, settings
        from hypothesis import strategies as st

        lines = st.lists(st.binary(max_size=40).map(lambda b: b.replace(b"\n", b"x")),
                         max_size=60)

        @settings(max_examples=150, deadline=None)
        @given(lines=lines, size=st.integers(1, 120), end=st.booleans(),
               piece=st.integers(1, 50))
        def check(lines: list[bytes], size: int, end: bool, piece: int) -> None:
            body = b"\n".join(lines) + (b"\n" if end and lines else b"")
            assume(not body.startswith(b"\xef\xbb\xbf"))  # (a leading one is a BOM)
            path = tmp_path / "f.jsonl"
            path.write_bytes(bom + body)
            got = b""
            with pytest.MonkeyPatch.context() as m:  # (read in pieces of a few bytes)
                m.setattr(skdask.blocks, "CHUNK_BYTES", piece)
                for block in skdask.blocks._blocks(str(path), size, None):
                    seen = 0  # each chunk whole lines, with the line (in its block) it starts on
                    for first, chunk in skdask.blocks._chunks(block):
                        assert first == seen
                        seen += chunk.count(b"\n")
                        got += chunk
                        assert chunk.endswith(b"\n") or got == body
            assert got == body

        check()

    def test_a_csv_file_is_one_block(self, cluster: Any, tmp_path: Path) -> None:
        """A CSV file is read whole by one worker: the stories load() gives."""
        path = tmp_path / "a.csv"
        col = storykit.Collection(stories=[story(i) for i in range(50)])
        path.write_bytes(storykit.dumps(col, "csv"))
        assert skdask.read_stories(str(path), blocksize=100).compute() == list(
            storykit.load(path))


class TestCommandLine:
    """``--scheduler`` runs validate, export and digest on a cluster, with one process's
    results."""

    def run(self, *args: str) -> Any:
        from click.testing import CliRunner

        from storykit.cli import main

        return CliRunner().invoke(main, list(args), catch_exceptions=False)

    def test_export_and_validate_on_a_local_cluster(self, tmp_path: Path) -> None:
        """export --scheduler local writes the file one process writes; validate names the
        line of a bad story and exits 1."""
        path = write_jsonl(tmp_path / "a.jsonl", [story(i) for i in range(300)])
        out = tmp_path / "out.csv"
        got = self.run("export", str(path), "--format", "csv", "-o", str(out),
                       "--scheduler", "local")
        assert got.exit_code == 0, got.output
        assert out.read_bytes() == storykit.dumps(storykit.load(path), "csv")
        bad = write_jsonl(tmp_path / "bad.jsonl", [story(0), story(1, published="2021-02-30")])
        got = self.run("validate", str(bad), "--scheduler")
        assert got.exit_code == 1
        assert "line 2: stories[1].published" in got.output

    def test_an_unreachable_scheduler_exits_1_in_one_line(self, tmp_path: Path) -> None:
        """A scheduler address nobody answers: one line on stderr, exit 1."""
        path = write_jsonl(tmp_path / "a.jsonl", [story(0)])
        import subprocess
        import sys

        proc = subprocess.run([sys.executable, "-m", "storykit", "validate", str(path),
                               "--scheduler", "tcp://127.0.0.1:9"], check=False,
                              capture_output=True,
                              text=True, timeout=120)
        assert proc.returncode == 1
        assert proc.stderr.count("\n") == 1, proc.stderr
        assert "cannot reach the Dask scheduler at tcp://127.0.0.1:9" in proc.stderr
