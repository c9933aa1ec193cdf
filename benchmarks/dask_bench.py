"""storykit.dask against one process: the three goals of issue 21, measured by one command.

    python benchmarks/dask_bench.py --full     # the goals: 1,000,000 subscribers and stories
    python benchmarks/dask_bench.py            # a quick check: 20,000 subscribers, 100,000 stories
    python benchmarks/dask_bench.py --subscribers 50000 --stories 200000 --repeat 3

1. Memory: ``storykit digest --subscribers`` (one process) at N/100, N/10 and N subscribers x 20
   stories: peak resident memory of the process and its children, summed and sampled from
   /proc every 20 ms, beside the process's own high-water mark (VmHWM). Flat means memory
   does not grow with the subscribers.
2. Speed: the same N-subscriber job on ``LocalCluster(n_workers=1|2, threads_per_worker=1)``
   (``storykit.dask.digests``) against the one-process time; a throughput table with a
   PROJECTION for 10 million subscribers at 16 and 64 workers (the measured per-worker rate
   at 2 workers times the workers: not a measurement).
3. Export: a JSON Lines archive of M stories to one CSV file, ``storykit export --jobs W``
   against ``storykit.dask.export`` on a LocalCluster of W workers (W = 1, 2; --full: 2),
   the two in turn ``--repeat`` times, each pair's ratio with the load average; each
   worker's peak memory (VmHWM, read on each worker) and the driver's. The two CSV files
   must be identical.

Every contender runs in a fresh process; outputs are compared (the outboxes' file names and a
sample of their bytes, the CSV files whole) and deleted after each measurement. Both digest
contenders write the same files and flush them to disk (``os.sync()``) before they finish.
Between two digest runs the bench deletes the outbox, flushes, and waits ``--settle`` seconds,
untimed: on ext4 without a journal a file made within minutes of a mass deletion costs up to
~0.7 ms of kernel time (the inode allocator steps over recently deleted inodes, under the
folder's lock), so a run right after deleting the previous outbox is measured on a slower
file system than the first. The one-process run at N is made again after the cluster runs
(the order alternates); the table shows both and compares with the faster. The outbox
of N subscribers takes about 22 KB x N of disk: before each digest run the free space is
checked against an estimate (from the smallest run), and a watchdog stops any run that would
leave less than ``--keep-free`` GB free (default 20), saying so in the table.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import hashlib
import json
import os
import resource
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

import data  # noqa: E402 - the benchmark's own generator, beside this file

STORYKIT = str(Path(sys.executable).parent / "storykit")
SENDER = "Newsroom <news@example.org>"
WINDOW = ["--since", "2000-01-01", "--until", "2030-01-01"]
#: the options `storykit digest` gives the email writer for WINDOW
OPTIONS = {"sender": SENDER, "since": "2000-01-01", "until": "2030-01-01"}
GB = 1 << 30


class DiskFullError(Exception):
    """A run stopped by the watchdog: the disk would have gone below the floor."""


def write_subscribers(path: Path, n: int) -> Path:
    """``n`` subscribers, a third following one topic, a third one country."""
    with path.open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["email", "name", "topics", "countries"])
        for i in range(n):
            w.writerow([f"reader{i}@example.org", f"Reader {i}",
                        "decent work" if i % 3 == 1 else "", "LK" if i % 3 == 2 else ""])
    return path


# --- memory, from /proc -------------------------------------------------------------------


def _status(pid: int) -> dict[str, int]:
    """VmRSS and VmHWM of a process, in kB (empty once it is gone)."""
    got: dict[str, int] = {}
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(("VmRSS:", "VmHWM:")):
                    key, value = line.split(":", 1)
                    got[key] = int(value.split()[0])
    except (FileNotFoundError, ProcessLookupError):
        pass
    return got


def _tree(pid: int) -> Iterator[int]:
    """``pid`` and all its descendants (from /proc/<pid>/task/*/children)."""
    yield pid
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except FileNotFoundError:
        return
    for tid in tasks:
        try:
            with open(f"/proc/{pid}/task/{tid}/children") as f:
                children = [int(c) for c in f.read().split()]
        except FileNotFoundError:
            continue
        for child in children:
            yield from _tree(child)


class Watch:
    """Samples a process tree's memory and the disk's free space while a command runs."""

    def __init__(self, pid: int, disk: Path, keep_free: float) -> None:
        self.pid, self.disk, self.floor = pid, disk, keep_free * GB
        self.tree_peak = self.hwm = 0  # kB
        self.min_free = shutil.disk_usage(disk).free
        self.full = False
        self.cpu = 0.0
        self.worker_peaks: list[float] = []  # MB, each worker's VmHWM (on_cluster)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(0.02):
            total = 0
            for p in _tree(self.pid):
                st = _status(p)
                total += st.get("VmRSS", 0)
                if p == self.pid:
                    self.hwm = max(self.hwm, st.get("VmHWM", 0))
            self.tree_peak = max(self.tree_peak, total)
            free = shutil.disk_usage(self.disk).free
            self.min_free = min(self.min_free, free)
            if free < self.floor and not self.full:
                self.full = True
                with_suppressed(lambda: os.killpg(self.pid, signal.SIGTERM))

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()


def with_suppressed(fn: Callable[[], object]) -> None:
    with contextlib.suppress(ProcessLookupError):
        fn()


def children_cpu() -> float:
    """CPU seconds (user + system) of every child reaped so far, and of theirs."""
    got = resource.getrusage(resource.RUSAGE_CHILDREN)
    return got.ru_utime + got.ru_stime


def run(argv: list[str], disk: Path, keep_free: float) -> tuple[float, Watch, str]:
    """Run a command in a fresh process group: wall time (s), its memory watch, its stdout.
    ``watch.cpu`` is the CPU time of the whole tree (every process, start-up included)."""
    cpu = children_cpu()
    start = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    watch = Watch(proc.pid, disk, keep_free)
    try:
        out, err = proc.communicate()
    finally:
        if proc.poll() is None:
            with_suppressed(lambda: os.killpg(proc.pid, signal.SIGKILL))
            proc.wait()
        watch.stop()
    took = time.perf_counter() - start
    watch.cpu = children_cpu() - cpu
    if watch.full:
        raise DiskFullError(f"stopped: free disk went below {keep_free:g} GB")
    if proc.returncode:
        raise RuntimeError(f"{argv[:3]} failed ({proc.returncode}):\n{err[-3000:]}")
    return took, watch, out


# --- the contenders -----------------------------------------------------------------------

CLUSTER = """
import json, os, sys, time
import storykit
from storykit import dask as skd

def hwm():
    with open("/proc/self/status") as f:
        return max(int(l.split()[1]) for l in f if l.startswith("VmHWM:"))

def cpu():
    t = os.times()
    return t.user + t.system

args = json.loads(sys.argv[1])
with skd.client("local", n_workers=args["workers"]) as c:
    c.run(hwm)  # the workers are up before the clock starts
    before = sum(c.run(cpu).values()) + cpu()
    start = time.perf_counter()
    if args["job"] == "digests":
        col = storykit.load(args["stories"])
        skd.digests(col, args["subscribers"], args["outbox"], **args["options"])
    else:
        skd.export(args["source"], "csv", args["out"], single_file=True)
    took = time.perf_counter() - start
    job_cpu = sum(c.run(cpu).values()) + cpu() - before
    peaks = c.run(hwm)
print(json.dumps({"took": took, "cpu": job_cpu, "worker_peak_kb": max(peaks.values()),
                  "worker_peaks_kb": sorted(peaks.values())}))
"""


RENDER_ONLY = """
import json, sys
import storykit
from storykit.email import PersonalisedRun, iter_subscribers

col = storykit.load(sys.argv[1])
run = PersonalisedRun(col, iter_subscribers(sys.argv[2]), json.loads(sys.argv[3]),
                      keep_skipped=False)
print(sum(len(m.data) for m in run))  # every message made, none written
"""


def on_cluster(workers: int, job: str, disk: Path, keep_free: float,
               **args: Any) -> tuple[float, float, Watch]:
    """Time (s, the job alone, the cluster already up) of ``job`` on a fresh LocalCluster of
    ``workers``, the largest worker's peak RSS (MB), and the whole tree's watch (its ``cpu``
    here: the job's CPU seconds in the workers and the driver, start-up left out)."""
    _, watch, out = run([sys.executable, "-c", CLUSTER, json.dumps(
        {"workers": workers, "job": job, **args})], disk, keep_free)
    got = json.loads(out.splitlines()[-1])
    watch.cpu = got["cpu"]
    watch.worker_peaks = [kb / 1024 for kb in got["worker_peaks_kb"]]
    return got["took"], got["worker_peak_kb"] / 1024, watch


def outbox_digest(folder: Path) -> tuple[int, str, dict[str, str]]:
    """How many .eml files, a hash of their sorted names, and the hashes of every 500th."""
    names = sorted(e.name for e in os.scandir(folder) if e.name.endswith(".eml"))
    sample = {n: hashlib.sha256((folder / n).read_bytes()).hexdigest() for n in names[::500]}
    return len(names), hashlib.sha256("\n".join(names).encode()).hexdigest(), sample


def file_hash(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


def folder_bytes(folder: Path) -> int:
    return sum(e.stat().st_blocks * 512 for e in os.scandir(folder))


def best(n: int, fn: Callable[[], tuple[Any, ...]]) -> tuple[Any, ...]:
    """The fastest of ``n`` runs of ``fn`` (its first element is the time)."""
    return min((fn() for _ in range(n)), key=lambda r: float(r[0]))


def uptime() -> str:
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


# --- the goals ----------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--full", action="store_true",
                    help="the goals' sizes: 1,000,000 subscribers and 1,000,000 stories")
    ap.add_argument("--subscribers", type=int,
                    help="default 20,000 (--full: 1,000,000)")
    ap.add_argument("--stories", type=int, help="default 100,000 (--full: 1,000,000)")
    ap.add_argument("--repeat", type=int, default=1, help="best of this many runs (speed)")
    ap.add_argument("--keep-free", type=float, default=20.0,
                    help="GB of disk never to go below (the run is stopped)")
    ap.add_argument("--only", choices=["memory", "digests", "export"], action="append",
                    help="measure only these goals (again for several)")
    ap.add_argument("--workdir", type=Path, default=ROOT / "build" / "bench-dask")
    ap.add_argument("--settle", type=float,
                    help="seconds to wait, untimed, after deleting an outbox before the next "
                         "digest run (default 360 with --full, the kernel's window; else 60)")
    args = ap.parse_args(argv)
    # Stopped (timeout, kill), the bench still stops the run in flight: it is in a session of
    # its own (see run()), which only the bench's own clean-up reaches.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    big = 1_000_000 if args.full else 0
    args.subscribers = args.subscribers or big or 20_000
    args.stories = args.stories or big or 100_000
    goals = set(args.only or ["memory", "digests", "export"])
    work: Path = args.workdir
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    keep = args.keep_free
    settle_s = args.settle if args.settle is not None else 360.0 if args.full else 60.0
    began = time.perf_counter()
    lines: list[str] = [f"load before: {uptime()}"]

    def say(text: str) -> None:
        print(text, file=sys.stderr, flush=True)

    def delete_outbox(folder: Path) -> None:
        """Delete an outbox, flush, and let the file system settle (untimed)."""
        shutil.rmtree(folder, ignore_errors=True)
        os.sync()
        if settle_s:
            say(f"  (outbox deleted; settling {settle_s:g} s, untimed)")
            time.sleep(settle_s)

    n = args.subscribers
    stories = work / "twenty.json"
    stories.write_bytes(data.json_bytes(20))
    one_process: dict[int, dict[str, Any]] = {}  # by subscribers
    memory_rows: list[str] = []

    def digest_one(count: int) -> tuple[float, Watch, Path]:
        subs = write_subscribers(work / f"subscribers-{count}.csv", count)
        outbox = work / f"outbox-1p-{count}"
        took, watch, _ = run([STORYKIT, "digest", str(stories), *WINDOW, "--subscribers",
                              str(subs), "--outbox", str(outbox), "-q", "-O",
                              f"sender={SENDER}"], work, keep)
        return took, watch, outbox

    def fits(count: int, per_subscriber: float) -> str | None:
        need = count * per_subscriber
        free = shutil.disk_usage(work).free
        if free - need < keep * GB:
            return (f"not run: {count:,} subscribers need ~{need / GB:.1f} GB of outbox and "
                    f"{free / GB:.1f} GB is free (floor {keep:g} GB)")
        return None

    per_sub = 0.0
    if goals & {"memory", "digests"}:
        # (--full: the 1-worker cluster is timed at N/10, against one process at N/10)
        sizes = sorted({max(100, n // 100), max(100, n // 10), n} if "memory" in goals
                       else {n // 10, n} if args.full else {n})
        for count in sizes:
            if per_sub and (why := fits(count, per_sub)):
                memory_rows.append(f"| {count:,} | {why} | | | |")
                say(memory_rows[-1])
                continue
            say(f"digest, one process, {count:,} subscribers...")
            try:
                took, watch, outbox = digest_one(count)
            except DiskFullError as e:
                memory_rows.append(f"| {count:,} | {e} | | | |")
                say(memory_rows[-1])
                delete_outbox(work / f"outbox-1p-{count}")
                continue
            size = folder_bytes(outbox)
            per_sub = max(per_sub, size / count)
            one_process[count] = {"took": took, "cpu": watch.cpu, "load": uptime(),
                                  "outbox": outbox_digest(outbox)}
            memory_rows.append(
                f"| {count:,} | {took:.1f} s | {watch.tree_peak / 1024:.0f} MB | "
                f"{watch.hwm / 1024:.0f} MB | {size / GB:.2f} GB, min free "
                f"{watch.min_free / GB:.0f} GB |")
            say(memory_rows[-1])
            delete_outbox(outbox)
    if "memory" in goals:
        lines += ["", f"### 1. One process, `storykit digest --subscribers`, 20 stories "
                      f"(load {uptime()})", "",
                  "| subscribers | time | peak RSS, process + children (/proc, sampled) | "
                  "VmHWM | outbox on disk |", "|---:|---:|---:|---:|---|", *memory_rows]

    if "digests" in goals and n in one_process:
        speed: list[str] = []
        rates: dict[int, float] = {}
        say(f"render only (no files), one process, {n:,} subscribers...")
        subs_n = work / f"subscribers-{n}.csv"
        r_took, r_watch, _ = run([sys.executable, "-c", RENDER_ONLY, str(stories), str(subs_n),
                                  json.dumps(OPTIONS)], work, keep)
        render_row = (f"| one process, render only (no files) | {n:,} | {r_took:.1f} s | "
                      f"{n / r_took:,.0f} | | {r_watch.cpu:.1f} s | | {uptime()} |")
        say(render_row)

        def checked_run(workers: int, count: int, out: Path,
                        want: Any) -> tuple[float, float, Watch]:
            """One cluster run, its outbox compared with one process's, then deleted."""
            subs = work / f"subscribers-{count}.csv"
            try:
                got = on_cluster(workers, "digests", work, keep, stories=str(stories),
                                 subscribers=str(subs), outbox=str(out), options=OPTIONS)
                count, names, sample = outbox_digest(out)
                assert (count, names) == want[:2], "the outboxes differ"
                assert sample == want[2], "a message differs"
                return got
            finally:
                delete_outbox(out)
        cluster: list[tuple[int, int, float, float, Watch, str]] = []
        for workers, count in ((1, n // 10 if args.full else n), (2, n)):
            if count not in one_process:
                continue
            if why := fits(count, per_sub):
                speed.append(f"| LocalCluster, {workers} worker(s) | {count:,} | {why} ||||||")
                say(speed[-1])
                continue
            out = work / f"outbox-{workers}w"
            say(f"digests, LocalCluster of {workers}, {count:,} subscribers...")
            try:
                took, peak, watch = best(args.repeat, lambda w=workers, c=count, o=out:
                                         checked_run(w, c, o, one_process[c]["outbox"]))
            except DiskFullError as e:
                speed.append(f"| LocalCluster, {workers} worker(s) | {count:,} | {e} ||||||")
                say(speed[-1])
                delete_outbox(out)
                continue
            cluster.append((workers, count, took, peak, watch, uptime()))
            say(f"  {took:.1f} s (load {uptime()})")
        # One process at N again, after the cluster: the order alternates, each contender
        # meets the file system in the state the other left it.
        if cluster and not fits(n, per_sub):
            say(f"digest, one process, {n:,} subscribers, again (after the cluster)...")
            took, watch, outbox = digest_one(n)
            assert outbox_digest(outbox) == one_process[n]["outbox"], "the outboxes differ"
            delete_outbox(outbox)
            one_process[n]["again"] = (took, watch.cpu, uptime())
        for count, got in sorted(one_process.items()):
            if count < n // 10:
                continue
            speed.append(f"| one process | {count:,} | {got['took']:.1f} s | "
                         f"{count / got['took']:,.0f} | | {got['cpu']:.1f} s | | {got['load']} |")
            if "again" in got:
                took, cpu, load = got["again"]
                speed.append(f"| one process, again after the cluster | {count:,} | "
                             f"{took:.1f} s | {count / took:,.0f} | | {cpu:.1f} s | | {load} |")
        speed.append(render_row)
        for workers, count, took, peak, watch, load in cluster:
            got = one_process[count]
            t1, c1 = min((got["took"], got["cpu"]), got.get("again", (float("inf"),))[:2])
            rates[workers] = count / took
            speed.append(f"| LocalCluster, {workers} worker{'s' * (workers > 1)} | "
                         f"{count:,} | {took:.1f} s | {count / took:,.0f} | {took / t1:.2f}x | "
                         f"{watch.cpu:.1f} s ({watch.cpu / c1:.2f}x) | {peak:.0f} MB "
                         f"(driver tree {watch.tree_peak / 1024:.0f} MB) | {load} |")
        lines += ["", f"### 2. Personalised digests on a LocalCluster, 20 stories "
                      f"(load {uptime()}; settle {settle_s:g} s after each deleted outbox)", "",
                  "| where | subscribers | time | subscribers/s | time / one process (the "
                  "faster of its runs) | CPU (/ one process) | largest worker's peak | "
                  "load 1/5/15 min after |",
                  "|---|---:|---:|---:|---:|---:|---|---|", *speed]
        if 2 in rates:
            per_worker = rates[2] / 2
            lines += ["", f"PROJECTION (not measured): 10,000,000 subscribers at the "
                          f"measured 2-worker rate per worker ({per_worker:,.0f}/s):", "",
                      "| workers | projected time | projected subscribers/s |",
                      "|---:|---:|---:|"]
            for w in (16, 64):
                lines.append(f"| {w} | {10_000_000 / (per_worker * w) / 60:.1f} min "
                             f"(projected) | {per_worker * w:,.0f} (projected) |")
    for count in {max(100, n // 100), max(100, n // 10), n // 10, n}:
        (work / f"subscribers-{count}.csv").unlink(missing_ok=True)

    if "export" in goals:
        # The two contenders in turn, --repeat pairs: each pair's ratio is measured side by
        # side (the machine may be shared), with the load average at its start. Both check
        # every story with the same code (storykit.read.jsonl.line_story) and must write the
        # same bytes. `storykit export` is timed whole (start-up included); the cluster's
        # time is the job's alone, on a cluster already up (as an operator's would be).
        m = args.stories
        say(f"writing a JSON Lines archive of {m:,} stories...")
        archive = data.write_jsonl(work / "archive.jsonl", m)
        rows, summary = [], []
        single, out = work / "one.csv", work / "cluster.csv"
        for workers in (2,) if args.full else (1, 2):
            pairs = []
            for attempt in range(args.repeat):
                load = uptime()
                say(f"export, storykit export --jobs {workers} / LocalCluster of {workers} "
                    f"({attempt + 1} of {args.repeat}, load {load})...")
                t_one, w_one, _ = run([STORYKIT, "export", str(archive), "--format", "csv",
                                       "-o", str(single), "--jobs", str(workers), "-q"],
                                      work, keep)
                want = file_hash(single)
                single.unlink()
                took, _, watch = on_cluster(workers, "export", work, keep, source=str(archive),
                                            out=str(out))
                assert file_hash(out) == want, "the CSV files differ"
                out.unlink()
                pairs.append((t_one, w_one, took, watch, load))
                rows += [f"| storykit export --jobs {workers} | {m:,} | {t_one:.1f} s | "
                         f"{m / t_one:,.0f} | | {w_one.cpu:.1f} s | "
                         f"{w_one.tree_peak / 1024:.0f} MB (process tree) | {load} |",
                         f"| LocalCluster, {workers} worker{'s' * (workers > 1)} | {m:,} | "
                         f"{took:.1f} s | {m / took:,.0f} | **{took / t_one:.2f}x** | "
                         f"{watch.cpu:.1f} s ({watch.cpu / w_one.cpu:.2f}x) | workers "
                         f"{', '.join(f'{p:.0f}' for p in watch.worker_peaks)} MB; driver "
                         f"{watch.hwm / 1024:.0f} MB (tree {watch.tree_peak / 1024:.0f} MB) | "
                         f"{uptime()} |"]
                say("\n".join(rows[-2:]))
            ratios = sorted(took / t_one for t_one, _, took, _, _ in pairs)
            fastest = min(t for t, *_ in pairs), min(p[2] for p in pairs)
            summary.append(f"- {workers} worker{'s' * (workers > 1)}: ratio of each pair "
                        f"{', '.join(f'{r:.2f}x' for r in ratios)} (median "
                        f"{ratios[len(ratios) // 2]:.2f}x); fastest of each "
                        f"{fastest[1]:.1f} s / {fastest[0]:.1f} s = "
                        f"{fastest[1] / fastest[0]:.2f}x; largest worker "
                        f"{max(max(p[3].worker_peaks) for p in pairs):.0f} MB")
            say(summary[-1])
        archive.unlink()
        lines += ["", f"### 3. JSON Lines to one CSV file (load {uptime()})", "",
                  "| where | stories | time | stories/s | time / storykit export (same pair) | "
                  "CPU (/ storykit export) | peak RSS (VmHWM) | load (1, 5, 15 min) |",
                  "|---|---:|---:|---:|---:|---:|---|---|", *rows, "", *summary]
    shutil.rmtree(work, ignore_errors=True)
    lines += ["", f"load after: {uptime()}; the whole bench took "
                  f"{(time.perf_counter() - began) / 60:.1f} min"]
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
