"""storykit's benchmark: storykit against the libraries a user would pick instead.

Each comparison runs its contenders side by side in this one process, on the same synthetic
archive (``benchmarks/data.py``), interleaved, each repeated; the table gives the median and the
fastest run, the throughput, and the ratio storykit time / anchor time (medians). Machines are
noisy: the ratios, measured together, are the figures that count.

    make bench                           # N = 10,000 and 100,000, streaming 1,000,000
    python benchmarks/run.py --quick     # N = 10,000 only, fewer repeats, streaming 100,000
    python benchmarks/run.py --n 50000 --only load,json
"""

from __future__ import annotations

import argparse
import datetime as dt
import gc
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

import data  # noqa: E402

PY = sys.executable
BIN = Path(PY).parent


# --- the measuring --------------------------------------------------------------------------


@dataclass
class Row:
    """One line of the table."""

    comparison: str
    n: int
    contender: str
    times: list[float]
    unit: str = "stories"
    items: int = 0
    ratio: float | None = None
    goal: str = ""
    holds: bool | None = None
    note: str = ""

    @property
    def median(self) -> float:
        return statistics.median(self.times)

    @property
    def best(self) -> float:
        return min(self.times)


@dataclass
class Comparison:
    """Contenders doing the same work; the first is storykit."""

    name: str
    n: int
    contenders: dict[str, Callable[[], Any]]
    #: anchor name -> (operator, threshold) on the ratio storykit / anchor.
    goals: dict[str, tuple[str, float]] = field(default_factory=dict)
    unit: str = "stories"
    items: int = 0
    repeats: int = 5
    #: contender -> items it handles, when not ``items`` (the ratio is then per item).
    items_by: dict[str, int] = field(default_factory=dict)


def _time(fn: Callable[[], Any]) -> float:
    """The wall time of ``fn()``, run with the cyclic garbage collector paused.

    GC parity: ``storykit.loads`` pauses the collector itself while it builds a collection.
    Timed with the collector on for the anchors and off for storykit, it would win by that
    alone; so every contender of every comparison runs in the one state the harness sets
    (paused, after a full collection), whatever it does with the collector inside.
    """
    gc.collect()
    was_on = gc.isenabled()
    gc.disable()
    try:
        start = time.perf_counter()
        fn()
        return time.perf_counter() - start
    finally:
        if was_on:
            gc.enable()


def _holds(ratio: float, op: str, threshold: float) -> bool:
    return {"<": ratio < threshold, "<=": ratio <= threshold, ">=": ratio >= threshold}[op]


def measure(c: Comparison) -> list[Row]:
    """Run every contender once to warm up, then ``repeats`` rounds, interleaved."""
    names = list(c.contenders)
    for name in names:
        c.contenders[name]()
    times: dict[str, list[float]] = {name: [] for name in names}
    for r in range(c.repeats):
        order = names[r % len(names):] + names[:r % len(names)]
        for name in order:
            times[name].append(_time(c.contenders[name]))
    def items(name: str) -> int:
        return c.items_by.get(name, c.items or c.n)

    ours = statistics.median(times[names[0]]) / items(names[0])
    rows = []
    for name in names:
        row = Row(c.name, c.n, name, times[name], c.unit, items(name))
        if row.items != c.n:
            row.note = f"{row.items:,} {c.unit} (ratio per item)"
        if name != names[0]:
            row.ratio = ours / (row.median / row.items)
            if name in c.goals:
                op, threshold = c.goals[name]
                row.goal = f"{op} {threshold:g}"
                row.holds = _holds(row.ratio, op, threshold)
        rows.append(row)
    return rows


# --- the comparisons ---------------------------------------------------------------------------


@dataclass
class Archive:
    """One archive in every library's objects, made once per N (not timed)."""

    n: int
    docs: list[dict[str, Any]]
    json: bytes
    storykit: Any
    msgspec: Any
    pydantic: Any

    @classmethod
    def make(cls, n: int) -> Archive:
        import msgspec
        from models_msgspec import Collection as MCollection
        from models_pydantic import PCollectionAdapter

        import storykit

        doc = data.document(n)
        raw = data.orjson.dumps(doc)
        return cls(n, doc["stories"], raw, storykit.loads(raw),
                   msgspec.json.decode(raw, type=MCollection),
                   PCollectionAdapter.validate_json(raw))


def load_json(a: Archive, repeats: int) -> Comparison:
    import msgspec
    from models_msgspec import Collection as MCollection
    from models_pydantic import PCollectionAdapter

    import storykit

    raw = a.json
    return Comparison("load + validate JSON", a.n, {
        "storykit.loads": lambda: storykit.loads(raw),
        "msgspec.json.decode(type=)": lambda: msgspec.json.decode(raw, type=MCollection),
        "pydantic validate_json": lambda: PCollectionAdapter.validate_json(raw),
    }, {"msgspec.json.decode(type=)": ("<=", 1.3), "pydantic validate_json": ("<=", 0.8)},
        repeats=repeats)


def export_json(a: Archive, repeats: int) -> Comparison:
    import msgspec
    from models_pydantic import PCollectionAdapter

    import storykit

    _same_json(storykit.dumps(a.storykit, "json"), msgspec.json.encode(a.msgspec))
    return Comparison("JSON export", a.n, {
        "storykit.dumps json": lambda: storykit.dumps(a.storykit, "json"),
        "msgspec.json.encode": lambda: msgspec.json.encode(a.msgspec),
        "pydantic dump_json": lambda: PCollectionAdapter.dump_json(a.pydantic,
                                                                   exclude_none=True),
    }, {"msgspec.json.encode": ("<=", 1.1)}, repeats=repeats)


def _same_json(ours: bytes, theirs: bytes) -> None:
    """Both documents load back to the same collection (msgspec leaves out defaults)."""
    import storykit

    if storykit.loads(ours) != storykit.loads(theirs):
        raise SystemExit("bench: storykit's JSON and msgspec's differ; the comparison is unfair")


def export_csv(a: Archive, repeats: int) -> Comparison:
    import anchors

    import storykit

    rows = anchors.flat_rows(a.docs)
    if storykit.dumps(a.storykit, "csv") != anchors.csv_floor(anchors.CSV_HEADER, rows):
        raise SystemExit("bench: storykit's CSV and the floor's differ; the comparison is unfair")
    return Comparison("CSV export (neutralised)", a.n, {
        "storykit.dumps csv": lambda: storykit.dumps(a.storykit, "csv"),
        "csv.writer.writerows (pre-flattened)": lambda: anchors.csv_floor(anchors.CSV_HEADER, rows),
    }, {"csv.writer.writerows (pre-flattened)": ("<=", 1.3)}, repeats=repeats)


def _titled(title: str, note: str | None, differs: str) -> str:
    """A comparison's title; if its outputs differ (``note`` says how), a warning, and the
    title says so."""
    if not note:
        return title
    print(f"bench: warning: {note}", file=sys.stderr)
    return f"{title} ({differs})"


def export_html(a: Archive, repeats: int) -> Comparison | None:
    if not _module_exists("storykit.exporters.html"):
        return None
    import anchors_html

    import storykit

    col = a.storykit
    title = _titled("HTML export", anchors_html.check_equivalent(col), "markup differs!")
    return Comparison(title, a.n, {
        "storykit.dumps html": lambda: storykit.dumps(col, "html"),
        "jinja2 template": lambda: anchors_html.jinja2_page(col),
        "f-string + html.escape": lambda: anchors_html.fstring_page(col),
    }, {"jinja2 template": ("<=", 1.0), "f-string + html.escape": ("<=", 2.5)},
        repeats=repeats)


def export_atom(a: Archive, repeats: int) -> Comparison | None:
    import storykit

    if "atom" not in storykit.formats() or not _module_exists("feedgen"):
        return None
    import anchors_feed

    col = a.storykit
    title = _titled("Atom export", anchors_feed.check_equivalent(col), "entries differ!")
    return Comparison(title, a.n, {
        "storykit.dumps atom": lambda: storykit.dumps(col, "atom"),
        "feedgen atom_str": lambda: anchors_feed.feedgen_atom(col),
    }, {"feedgen atom_str": ("<=", 1 / 3)}, repeats=repeats)


def digests(repeats: int, subscribers: int) -> Comparison | None:
    if not _module_exists("storykit.digest"):
        return None
    import anchors_digest

    setup = anchors_digest.Setup.make(subscribers)
    # The naive path is ~100x slower: it does a sample of the subscribers (ratio per digest).
    sample = min(subscribers, max(100, subscribers // 20))
    naive = anchors_digest.Setup(setup.collection, setup.subscribers[:sample])
    return Comparison("email digests (20 stories each)", subscribers, {
        "storykit PersonalisedRun": setup.storykit,
        "jinja2 + css_inline + EmailMessage": naive.naive,
    }, {"jinja2 + css_inline + EmailMessage": ("<=", 0.5)}, unit="digests",
        items_by={"jinja2 + css_inline + EmailMessage": sample}, repeats=repeats)


def _module_exists(name: str) -> bool:
    import importlib.util

    try:
        return importlib.util.find_spec(name) is not None
    except ModuleNotFoundError:
        return False


# --- streaming through the command line ------------------------------------------------------

RSS = re.compile(rb"Maximum resident set size \(kbytes\): (\d+)")

#: Whether this kernel lists a task's children in ``/proc/<pid>/task/<tid>/children``
#: (``CONFIG_PROC_CHILDREN``); without it, the descendants are found from each ``stat``'s ppid.
_PROC_CHILDREN = Path(f"/proc/self/task/{os.getpid()}/children").exists()
_HAS_PROC = Path("/proc/self/status").exists()


@dataclass
class Measured:
    """One run of a command: wall seconds, peak RSS in MB, most processes alive at once."""

    wall: float
    rss_mb: float
    processes: int = 1
    #: CPU seconds (user + system) of the command and every descendant it waited for: less
    #: moved by other work on the machine than the wall time.
    cpu: float = float("nan")


def _run_measured(argv: list[str]) -> Measured:
    """Wall time and peak RSS of one command with GNU time (fallback where /proc is missing).

    The RSS is that of the largest single process, not the sum over its children.
    """
    timer = shutil.which("time", path="/usr/bin")
    start = time.perf_counter()
    if timer:
        proc = subprocess.run([timer, "-v", *argv], capture_output=True, check=False)
        wall = time.perf_counter() - start
        m = RSS.search(proc.stderr)
        rss = int(m.group(1)) / 1024 if m else float("nan")
    else:  # pragma: no cover - without GNU time, the children's peak RSS so far
        import resource

        proc = subprocess.run(argv, capture_output=True, check=False)
        wall = time.perf_counter() - start
        rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    if proc.returncode != 0:
        raise SystemExit(f"bench: {' '.join(argv)} failed:\n{proc.stderr.decode()[-2000:]}")
    return Measured(wall, rss)


def _rss_kb(pid: int) -> int:
    """VmRSS of one process in kB; 0 when it is gone or a zombie (which has no VmRSS)."""
    try:
        with open(f"/proc/{pid}/status", "rb") as f:
            for line in f:
                if line.startswith(b"VmRSS:"):
                    return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return 0


def _children(pid: int) -> list[int]:
    """The children of every thread of ``pid``, from ``/proc/<pid>/task/<tid>/children``."""
    kids: list[int] = []
    try:
        tids = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return kids
    for tid in tids:
        try:
            with open(f"/proc/{pid}/task/{tid}/children", "rb") as f:
                kids.extend(int(k) for k in f.read().split())
        except (OSError, ValueError):
            continue
    return kids


def _children_by_ppid(root: int) -> dict[int, list[int]]:
    """ppid -> pids, read from ``/proc/<pid>/stat`` (for kernels without the children file).

    PIDs grow until they wrap at ``pid_max``, so only PIDs above ``root`` can be its
    descendants, and only those are read, unless the kernel's last PID shows a wrap.
    """
    try:
        wrapped = int(Path("/proc/sys/kernel/ns_last_pid").read_text()) < root
    except (OSError, ValueError):
        wrapped = True
    by_ppid: dict[int, list[int]] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        pid = int(entry.name)
        if pid <= root and not wrapped:
            continue
        try:
            with open(f"/proc/{pid}/stat", "rb") as f:
                stat = f.read()
            # "pid (comm) state ppid ...": comm may hold spaces and parentheses.
            ppid = int(stat[stat.rindex(b")") + 2:].split(None, 2)[1])
        except (OSError, ValueError, IndexError):
            continue
        by_ppid.setdefault(ppid, []).append(pid)
    return by_ppid


def _tree(root: int) -> list[int]:
    """``root`` and all its descendants alive now."""
    if _PROC_CHILDREN:
        children = _children
    else:
        by_ppid = _children_by_ppid(root)

        def children(pid: int) -> list[int]:
            return by_ppid.get(pid, [])

    pids, todo = [root], [root]
    while todo:
        kids = children(todo.pop())
        pids.extend(kids)
        todo.extend(kids)
    return pids


def run_sampled(argv: list[str], interval: float = 0.02) -> Measured:
    """Run ``argv``; its wall time and the peak of the RSS summed over its process tree.

    A thread of this (the bench) process samples, every ``interval`` seconds, the VmRSS of
    the command's process and of all its descendants (found through
    ``/proc/<pid>/task/<tid>/children``, or the ppids in ``/proc/*/stat`` where the kernel
    has no children file) and keeps the largest sum; between samples it sleeps, and the
    measured processes do no sampling work. The wall time is taken by the main thread as
    soon as the command exits, so the sampling does not round it up to an interval.

    Limits: sampling can miss a short peak (one that rises and falls within one interval,
    so the figure can be low by up to one interval's worth of growth); and the sum counts
    pages shared between processes (forked workers, shared libraries) once per process, so
    for several processes it is an upper bound of the memory really in use.

    Where ``/proc`` is missing, falls back to GNU time (:func:`_run_measured`), which gives
    the largest single process only.
    """
    if not _HAS_PROC:  # pragma: no cover - not Linux
        return _run_measured(argv)
    peak = {"kb": 0, "processes": 0}
    stop = threading.Event()

    def sample(pid: int) -> None:
        while True:
            sizes = [kb for kb in map(_rss_kb, _tree(pid)) if kb]
            if stop.is_set():  # exited meanwhile: the PIDs may be stale
                return
            peak["kb"] = max(peak["kb"], sum(sizes))
            peak["processes"] = max(peak["processes"], len(sizes))
            if stop.wait(interval):
                return

    import resource

    gc.collect()
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    sampler = threading.Thread(target=sample, args=(proc.pid,), daemon=True)
    sampler.start()
    _, err = proc.communicate()
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    stop.set()
    sampler.join()
    if proc.returncode != 0:
        raise SystemExit(f"bench: {' '.join(argv)} failed:\n{err.decode()[-2000:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return Measured(wall, peak["kb"] / 1024, max(1, peak["processes"]), cpu)


def _walls_of(runs: list[Measured]) -> list[float]:
    return [m.wall for m in runs]


def _peak_of(runs: list[Measured]) -> float:
    return max(m.rss_mb for m in runs)


def _same_bytes(files: dict[str, Path]) -> None:
    """Stop the bench, loudly, unless every file holds the same bytes (checked by SHA-256)."""
    import hashlib

    digests: dict[str, str] = {}
    for name, path in files.items():
        h = hashlib.sha256()
        with path.open("rb") as f:
            while chunk := f.read(1 << 20):
                h.update(chunk)
        digests[name] = h.hexdigest()
    if len(set(digests.values())) != 1:
        raise SystemExit("bench: the contenders of a streaming comparison wrote different "
                         "bytes, so their times do not compare: " + ", ".join(
                             f"{name} {path} sha256 {digests[name][:16]}"
                             for name, path in files.items()))


def streaming(n: int, repeats: int, workdir: Path) -> list[Row]:
    src = workdir / f"big-{n}.jsonl"
    if not src.exists():  # (written aside and renamed: a run cut short leaves no half file)
        print(f"  writing {src} ...", file=sys.stderr)
        data.write_jsonl(src.with_suffix(".part"), n).replace(src)
    storykit_cli = str(BIN / "storykit")
    floor = str(HERE / "floor_stream.py")
    rows: list[Row] = []
    for fmt in ("csv", "jsonl"):
        options = ["--format", "csv"] if fmt == "csv" else ["--format", "json", "-O", "shape=lines"]

        def ours(out: Path, options: list[str] = options) -> list[str]:
            return [storykit_cli, "export", str(src), *options, "-o", str(out)]

        # The command as a user runs it (its default for a file this big: two workers, on a
        # machine with two CPUs free), in one process, and the floor (one process, storykit's
        # text rules, the same bytes). For JSON Lines also the floor of rounds 1-5, which
        # applies no rule and writes its input back (other bytes), for the record.
        commands = {
            "storykit": ours(workdir / f"ours.{fmt}"),
            "floor": [PY, floor, str(src), fmt, str(workdir / f"floor.{fmt}")],
            "one": [*ours(workdir / f"one.{fmt}"), "--jobs", "1"],
        }
        if fmt == "jsonl":
            commands["raw floor"] = [PY, floor, str(src), fmt, str(workdir / "raw.jsonl"),
                                     "--raw"]
        names = list(commands)
        results: dict[str, list[Measured]] = {name: [] for name in names}
        loads: list[float] = []
        for r in range(repeats):
            # Rotate the order each round, so no contender always runs first (or after the
            # same one): they share the machine's noise.
            for name in names[r % len(names):] + names[:r % len(names)]:
                results[name].append(run_sampled(commands[name]))
            loads.append(os.getloadavg()[0])
            if r == 0:  # the same bytes, or the times do not compare
                _same_bytes({name: workdir / f"{name}.{fmt}"
                             for name in ("ours", "one", "floor")})
            print(f"  {fmt} round {r + 1}: " + ", ".join(
                f"{name} {results[name][-1].wall:.2f} s" for name in names)
                + f"; load {loads[-1]:.2f}", file=sys.stderr)
        load = f"load {min(loads):.1f}-{max(loads):.1f}"
        cpus = {name: f"CPU {statistics.median(m.cpu for m in runs):.2f} s"
                for name, runs in results.items()}

        ours_t, theirs = _walls_of(results["storykit"]), _walls_of(results["floor"])
        ours_rss = _peak_of(results["storykit"])
        procs = max(m.processes for m in results["storykit"])
        ratio = statistics.median(ours_t) / statistics.median(theirs)
        title = f"stream JSONL -> {fmt.upper()} (CLI)"
        rules = ("storykit's text rules and credit parsing, storykit's bytes (checked equal), "
                 "nothing else checked")
        # One goal, both halves: time within 2x of the (one-process) floor and the RSS of all
        # the command's processes together under 150 MB.
        rows.append(Row(title, n, "storykit export", ours_t,
                        note=f"as run by default ({procs} processes); peak RSS "
                             f"{ours_rss:.0f} MB summed over them (goal < 150); "
                             f"{cpus['storykit']} summed; {load}",
                        holds=ours_rss < 150))
        rows.append(Row(title, n, f"orjson{'/csv' if fmt == 'csv' else ''} floor", theirs,
                        ratio=ratio, goal="<= 2", holds=ratio <= 2.0 and ours_rss < 150,
                        note=f"one process, {rules}; peak RSS "
                             f"{_peak_of(results['floor']):.0f} MB; {cpus['floor']}"))
        one = _walls_of(results["one"])
        one_rss = _peak_of(results["one"])
        rows.append(Row(title, n, "storykit export --jobs 1", one,
                        ratio=statistics.median(one) / statistics.median(theirs),
                        holds=one_rss < 150,
                        note=f"one process: ratio to the floor; peak RSS {one_rss:.0f} MB "
                             f"(goal < 150); {cpus['one']}"))
        if "raw floor" in results:
            raw = _walls_of(results["raw floor"])
            rows.append(Row(title, n, "orjson floor of rounds 1-5, no rules", raw,
                            ratio=statistics.median(ours_t) / statistics.median(raw),
                            note="one process, `dumps(loads(line))`: no rule and not "
                                 "storykit's bytes; ratio of `storykit export` as run, for "
                                 f"the record (no goal); {cpus['raw floor']}"))
        for name in ("ours", "one", "floor", "raw"):
            (workdir / f"{name}.{fmt}").unlink(missing_ok=True)
    return rows


# --- start-up ----------------------------------------------------------------------------------


def _walls(commands: list[list[str]], repeats: int) -> list[list[float]]:
    """Wall times of each command, run in turn (interleaved, so they share the noise)."""
    times: list[list[float]] = [[] for _ in commands]
    for _ in range(repeats):
        for argv, got in zip(commands, times, strict=True):
            start = time.perf_counter()
            subprocess.run(argv, capture_output=True, check=True)
            got.append(time.perf_counter() - start)
    return times


def startup(repeats: int) -> list[Row]:
    bare, imp, cli = _walls([[PY, "-c", "pass"], [PY, "-c", "import storykit"],
                             [str(BIN / "storykit"), "--help"]], max(repeats * 4, 20))
    added = statistics.median(imp) - statistics.median(bare)
    probe = subprocess.run(
        [PY, "-X", "importtime", "-c",
         "import sys, storykit; import storykit.plugins as p\n"
         "mods = sorted({m if m.startswith('storykit') else m.split('.')[0] for m in sys.modules "
         "if m.startswith(('storykit.exporters', 'storykit_', 'jinja2', 'babel', 'css_inline', "
         "'cattrs'))})\n"
         "made = getattr(p, '_default', None) is not None\n"
         "print(', '.join(mods) + ('; registry made' if made else '') or 'none')"],
        capture_output=True, text=True, check=True)
    cumulative = 0
    for line in probe.stderr.splitlines():
        parts = line.split("|")
        if len(parts) == 3 and parts[2].strip() == "storykit":
            cumulative = int(parts[1])
    loaded = probe.stdout.strip()
    return [
        Row("start-up", 0, "python -c pass", bare, unit=""),
        Row("start-up", 0, "python -c 'import storykit'", imp, unit="",
            goal="adds < 80 ms", holds=added < 0.080,
            note=f"adds {added * 1000:.0f} ms; -X importtime: {cumulative / 1000:.0f} ms "
                 f"cumulative; loaded by the import (exporters, plugins, jinja2, babel, cattrs): "
                 f"{loaded}"),
        Row("start-up", 0, "storykit --help", cli, unit="",
            note=f"adds {(statistics.median(cli) - statistics.median(bare)) * 1000:.0f} ms"),
    ]


# --- the table -----------------------------------------------------------------------------------


def _secs(t: float) -> str:
    if t >= 1:
        return f"{t:.2f} s"
    return f"{t * 1000:.1f} ms"


def _rate(row: Row) -> str:
    if not row.unit or not row.items:
        return ""
    rate = row.items / row.median
    if rate >= 1e6:
        return f"{rate / 1e6:.2f} M {row.unit}/s"
    if rate >= 1e3:
        return f"{rate / 1e3:.1f} k {row.unit}/s"
    return f"{rate:.0f} {row.unit}/s"


def table(rows: list[Row]) -> str:
    head = ("comparison", "N", "contender", "median", "min", "throughput",
            "ratio sk/anchor", "goal", "holds", "note")
    lines = ["| " + " | ".join(head) + " |", "|" + "|".join("---" for _ in head) + "|"]
    for r in rows:
        mark = "" if r.holds is None else ("yes" if r.holds else "**no**")
        cells = (r.comparison, f"{r.n:,}" if r.n else "", r.contender, _secs(r.median),
                 _secs(r.best), _rate(r), "" if r.ratio is None else f"{r.ratio:.2f}",
                 r.goal, mark, r.note)
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def machine() -> str:
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    versions = []
    for dist in ("msgspec", "pydantic", "jinja2", "feedgen", "orjson", "css-inline"):
        try:
            from importlib.metadata import version

            versions.append(f"{dist} {version(dist)}")
        except Exception:
            versions.append(f"{dist} (missing)")
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    nproc = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return (f"- date: {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC\n"
            f"- CPU: {cpu}; `nproc`: {nproc}; load average at start: {load:.2f}\n"
            f"- Python {platform.python_version()} ({platform.python_implementation()}), "
            f"{platform.system()} {platform.release()}\n"
            f"- anchors: {', '.join(versions)}")


NOTES = """\
## What is compared

- **GC parity**: every contender of every comparison is timed in the same state of Python's
  cyclic garbage collector, set by the harness: paused, after a full collection.
  (`storykit.loads` pauses it itself while it builds a collection; timed against anchors that
  ran with it on, that pause alone made storykit look two to three times faster.)
- **load + validate JSON**: `storykit.loads` against `msgspec.json.decode(type=Collection)` with
  `Meta` constraints (slug and URL patterns, aware datetimes, ISO country `Literal`, BCP 47
  pattern) and storykit's text rules (stripped, NFC, no control characters; not blank) in
  `__post_init__` on every text field storykit applies them to, with credit parsing; and
  against pydantic v2 `TypeAdapter(Collection).validate_json` with the same rules as
  `AfterValidator`s (`benchmarks/models_msgspec.py`, `models_pydantic.py`). Goals: at most
  1.3x msgspec and 0.8x pydantic. storykit also refuses duplicate JSON keys, which neither
  anchor does.
- **JSON export**: `storykit.dumps(col, "json")` against `msgspec.json.encode` of the decoded
  Structs (goal: at most 1.1x) and pydantic `dump_json(exclude_none=True)`; outputs checked to
  load back equal.
- **CSV export**: storykit (14 columns, formula neutralisation on) against `csv.writer.writerows`
  of the same cells flattened ahead of time (not timed), with the same text rules; the two
  outputs are checked to be the same bytes.
- **HTML export**: storykit's page against the same markup (checked element by element) from
  one bare jinja2 template and from f-strings with `html.escape`. The anchors write each
  story's JSON-LD with `json.dumps` (as jinja2's `tojson` does); storykit uses orjson.
- **Atom export**: storykit-feeds against python-feedgen building the same entries (checked with
  feedparser); feedgen writes no `media:description`/`media:credit` and drops link attributes.
- **email digests**: `storykit.digest.PersonalisedRun` (10,000 subscribers x 20 stories) against
  rendering storykit's digest templates with jinja2, `css_inline.inline`, `EmailMessage` and
  `as_bytes()` per subscriber (run on a sample of the subscribers; the ratio is per digest).
  Every message is parsed back with `email.policy.default` before timing.
- **streaming**: `storykit export big.jsonl --format csv|json -O shape=lines -o out` through the
  CLI as a user runs it (for a file of 32 MiB or more on a machine with two CPUs free, that is
  two worker processes: the main process, 2 workers and multiprocessing's resource tracker), and
  in one process (`--jobs 1`), against `benchmarks/floor_stream.py` in one process: orjson (and
  csv) parsing each line, applying storykit's text rules (strip, NFC, no control characters,
  not blank) to the fields storykit applies them to and parsing the credit
  (`anchors.flat_rows`, `anchors.story_line`), and writing storykit's bytes: the outputs of
  the three are checked to be the same bytes (SHA-256) after the first round, and the bench
  stops if not. The floor checks nothing else (ids, URLs, dates, countries, languages,
  unknown fields, unique ids). For JSON Lines the floor of rounds 1-5 runs too, for the
  record: `dumps(loads(line))`, no rule, its input written back (not storykit's bytes); its
  ratio has no goal. No contender touches the garbage collector (all run with Python's
  default). The contenders run interleaved, the order rotated each round, and the load
  average is printed each round. Peak RSS is sampled every 20 ms from `/proc` and
  summed over the command's process and all its descendants (the same for all; a peak
  shorter than 20 ms can be missed, and pages the workers share with their parent count once
  per process); the goal is both the time ratio of the command as run and that sum under
  150 MB.
- **start-up**: wall time of `python -c "import storykit"` and `storykit --help` against
  `python -c pass`, and `-X importtime`.
"""


# --- main --------------------------------------------------------------------------------------

SECTIONS = ("load", "json", "csv", "html", "atom", "digest", "stream", "startup")


def _sections(args: argparse.Namespace, sizes: list[int], repeats: int,
              workdir: Path) -> Iterator[list[Row]]:
    only = set(args.only.split(",")) if args.only else set(SECTIONS)
    for n in sizes:
        if only & {"load", "json", "csv", "html", "atom"}:
            print(f"bench: making the archive, N = {n:,} ...", file=sys.stderr)
            archive = Archive.make(n)
            for key, make in (("load", load_json), ("json", export_json), ("csv", export_csv),
                              ("html", export_html), ("atom", export_atom)):
                if key in only:
                    c = make(archive, repeats)
                    if c is None:
                        print(f"bench: {key}: skipped (not available yet)", file=sys.stderr)
                        continue
                    print(f"bench: {c.name}, N = {n:,} ...", file=sys.stderr)
                    yield measure(c)
            del archive
            gc.collect()
    if "digest" in only:
        c = digests(repeats, args.subscribers)
        if c is None:
            print("bench: digest: skipped (storykit.digest not available yet)", file=sys.stderr)
        else:
            print(f"bench: {c.name} ...", file=sys.stderr)
            yield measure(c)
    if "stream" in only:
        print(f"bench: streaming {args.stream_n:,} stories through the CLI ...", file=sys.stderr)
        yield streaming(args.stream_n, args.repeats or (max(1, repeats // 2) if args.quick else 3),
                        workdir)
    if "startup" in only:
        print("bench: start-up ...", file=sys.stderr)
        yield startup(repeats)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true",
                    help="N = 10,000 only, 3 repeats, stream 100,000 stories")
    ap.add_argument("--n", type=int, action="append",
                    help="archive size (may be repeated; default 10,000 and 100,000)")
    ap.add_argument("--repeats", type=int, help="runs of each contender (default 5; quick 3)")
    ap.add_argument("--only", help=f"comma-separated sections: {','.join(SECTIONS)}")
    ap.add_argument("--subscribers", type=int, default=10_000, help="digest recipients")
    ap.add_argument("--stream-n", type=int, help="stories streamed (default 1,000,000)")
    ap.add_argument("--workdir", type=Path, default=ROOT / "build" / "bench")
    ap.add_argument("--record", type=Path, nargs="?", const=HERE / "RESULTS.md",
                    help="write the table to RESULTS.md (default for a full run)")
    args = ap.parse_args(argv)
    sizes = args.n or ([10_000] if args.quick else [10_000, 100_000])
    repeats = args.repeats or (3 if args.quick else 5)
    if args.stream_n is None:
        args.stream_n = 100_000 if args.quick else 1_000_000
    if args.subscribers == 10_000 and args.quick:
        args.subscribers = 2_000
    args.workdir.mkdir(parents=True, exist_ok=True)
    header = machine()
    rows: list[Row] = []
    with tempfile.TemporaryDirectory(dir=args.workdir):
        for section in _sections(args, sizes, repeats, args.workdir):
            rows.extend(section)
            print(table(section), file=sys.stderr)
    text = table(rows)
    print(text)
    held = [r for r in rows if r.holds is not None]
    missed = [r for r in held if not r.holds]
    summary = (f"{len(held) - len(missed)} of {len(held)} goals hold"
               + (": missed " + "; ".join(f"{r.comparison} vs {r.contender}" for r in missed)
                  if missed else ""))
    print(f"\n{summary}")
    record = args.record
    if record is None and not (args.quick or args.only or args.n):
        record = HERE / "RESULTS.md"
    if record is not None:
        record.write_text(
            "# Benchmark results\n\n"
            "Produced by `make bench` (`python benchmarks/run.py`); ratio = storykit time / "
            "anchor time (medians of runs interleaved in one process). Lower is better for "
            "storykit.\n\n"
            f"{header}\n- repeats: {repeats}\n\n{text}\n\n{summary}\n\n{NOTES}")
        print(f"bench: wrote {record}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
