"""storykit.dask against one process: personalised digests and a streamed export.

    python benchmarks/dask_bench.py                      # 100,000 subscribers, 1,000,000 stories
    python benchmarks/dask_bench.py --subscribers 1000000 --stories 1000000

Each contender runs in a fresh process under the same conditions (the GC as Python leaves
it, the same stories, subscribers and options, the same output bytes, checked): one process
(`storykit digest --subscribers`, `storykit export`) and `storykit.dask` on a
`LocalCluster` of 1 and of 2 worker processes. Peak memory is each process's own maximum
resident set (`getrusage`), the workers' read on the workers. The projection for 10 million
subscribers on 16 and 64 workers assumes the 2-worker rate per worker: it is a projection,
not a measurement.
"""

from __future__ import annotations

import argparse
import csv
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

import data  # noqa: E402 - the benchmark's own generator, beside this file

STORYKIT = str(Path(sys.executable).parent / "storykit")
SENDER = "Newsroom <news@example.org>"


def write_subscribers(path: Path, n: int) -> Path:
    """``n`` subscribers, a third following one topic, a third one country."""
    with path.open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["email", "name", "topics", "countries"])
        for i in range(n):
            w.writerow([f"reader{i}@example.org", f"Reader {i}",
                         "decent work" if i % 3 == 1 else "", "LK" if i % 3 == 2 else ""])
    return path


def measured(argv: list[str]) -> tuple[float, float]:
    """Wall time (s) and peak RSS (MB) of a command run in a fresh process."""
    start = time.perf_counter()
    wrapper = ("import resource, subprocess, sys; subprocess.run(sys.argv[1:], check=True); "
               "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)")
    out = subprocess.run([sys.executable, "-c", wrapper, *argv], check=True,
                         capture_output=True, text=True)
    took = time.perf_counter() - start
    return took, int(out.stdout.split()[-1]) / 1024


def on_cluster(workers: int, job: str, args: dict[str, Any]) -> tuple[float, float]:
    """Wall time (s) of ``job`` on a fresh LocalCluster of ``workers``, and the largest
    worker's peak RSS (MB)."""
    code = f"""
import json, resource, sys, time
import storykit
from storykit import dask as skd
args = json.loads(sys.argv[1])
with skd.client("local", n_workers={workers}) as c:
    start = time.perf_counter()
    if {job!r} == "digests":
        col = storykit.load(args["stories"])
        skd.digests(col, args["subscribers"], args["outbox"], **args["options"])
    else:
        skd.export(args["source"], "csv", args["out"], single_file=True)
    took = time.perf_counter() - start
    peaks = c.run(lambda: resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
print(took, max(peaks.values()) / 1024)
"""
    out = subprocess.run([sys.executable, "-c", code, json.dumps(args)], check=True,
                         capture_output=True, text=True)
    took, peak = out.stdout.split()[-2:]
    return float(took), float(peak)


def same_outbox(a: Path, b: Path) -> None:
    names = sorted(p.name for p in a.iterdir() if p.suffix == ".eml")
    other = sorted(p.name for p in b.iterdir() if p.suffix == ".eml")
    assert names == other, "the outboxes differ"
    for name in names[:: max(1, len(names) // 500)]:
        assert (a / name).read_bytes() == (b / name).read_bytes(), name


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--subscribers", type=int, default=100_000)
    ap.add_argument("--stories", type=int, default=1_000_000)
    ap.add_argument("--workdir", type=Path, default=ROOT / "build" / "bench-dask")
    args = ap.parse_args(argv)
    work = args.workdir
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)

    # Personalised digests: 20 stories, N subscribers.
    stories = work / "twenty.json"
    stories.write_bytes(data.json_bytes(20))
    subs = write_subscribers(work / "subscribers.csv", args.subscribers)
    one = work / "outbox-1p"
    t1, rss1 = measured([STORYKIT, "digest", str(stories), "--since", "2000-01-01",
                         "--until", "2030-01-01", "--subscribers", str(subs), "--outbox",
                         str(one), "-O", f"sender={SENDER}"])
    rows = [("digests, one process", args.subscribers, t1, rss1, None)]
    for workers in (1, 2):
        out = work / f"outbox-{workers}w"
        took, peak = on_cluster(workers, "digests", {
            "stories": str(stories), "subscribers": str(subs), "outbox": str(out),
            # the options `storykit digest` gives the email writer for this window
            "options": {"sender": SENDER, "since": "2000-01-01", "until": "2030-01-01"}})
        same_outbox(one, out)
        rows.append((f"digests, LocalCluster {workers} worker{'s' * (workers > 1)}",
                     args.subscribers, took, peak, t1 / took))
        shutil.rmtree(out)
    shutil.rmtree(one)

    # A streamed export: N stories of JSON Lines to one CSV file.
    archive = data.write_jsonl(work / "archive.jsonl", args.stories)
    single = work / "one.csv"
    t_one, rss_one = measured([STORYKIT, "export", str(archive), "--format", "csv", "-o",
                               str(single)])
    rows.append(("export jsonl->csv, one machine (storykit export)", args.stories, t_one,
                 rss_one, None))
    out = work / "cluster.csv"
    took, peak = on_cluster(2, "export", {"source": str(archive), "out": str(out)})
    assert out.read_bytes() == single.read_bytes(), "the CSV files differ"
    rows.append(("export jsonl->csv, LocalCluster 2 workers", args.stories, took, peak,
                 t_one / took))

    print(f"{'job':54} {'n':>10} {'time':>8} {'peak MB':>8} {'speed-up':>8}")
    for name, n, took, peak, ratio in rows:
        print(f"{name:54} {n:>10,} {took:>7.1f}s {peak:>8.0f} "
              f"{'' if ratio is None else f'{ratio:.2f}x':>8}")
    per_worker = args.subscribers / rows[2][2] / 2
    for workers in (16, 64):
        print(f"projected: 10,000,000 subscribers on {workers} workers ≈ "
              f"{10_000_000 / (per_worker * workers) / 60:.1f} min (at the 2-worker rate per "
              "worker; a projection, not a measurement)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
