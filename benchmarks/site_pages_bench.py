"""The site's pages of ``storykit serve archive.db``: how long each takes the first time.

    python benchmarks/site_pages_bench.py --db build/bench/sqlite/archive.db
    python benchmarks/site_pages_bench.py --db archive.db --src ../main/src --src src

Make the archive with ``benchmarks/sqlite_bench.py 1000000 --keep``. Each round starts a fresh
``storykit serve DB`` per source tree (``--src``, default this checkout's; several are run
side by side, alternating, under the same load) and asks it, in turn, once each: the first
index page (which pays for what every page needs: the store's counts, the topics and
countries), page 2, index pages from the middle and the end (page 50,000 of 100,000 is the
one an ``OFFSET`` made slow), the topics and digests listings, ``sitemap.xml`` and, when it is
a sitemap index, its first, middle and last parts. The server's cache answers a page asked
again, so only the first time is a figure. Beside each, the server's peak resident memory
(issue 23: under 150 MB) and the load average. A page slower than ``--timeout`` is stopped
there (its server too) and reported as more than that.
"""

from __future__ import annotations

import argparse
import os
import re
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.error
import urllib.request
import xml.etree.ElementTree as ET
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
_NS = "{http://www.sitemaps.org/schemas/sitemap/0.9}"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _memory_mb(pid: int) -> tuple[float, float]:
    """The process's resident memory and its peak, MB."""
    status = Path(f"/proc/{pid}/status").read_text()
    rss, hwm = (int(re.search(rf"{k}:\s+(\d+)", status)[1])  # type: ignore[index]
                for k in ("VmRSS", "VmHWM"))
    return rss / 1024, hwm / 1024


def _index_pages(db: Path, page_size: int = 10) -> int:
    conn = sqlite3.connect(f"{db.resolve().as_uri()}?mode=ro", uri=True)
    try:
        total = conn.execute("SELECT count(*) FROM stories").fetchone()[0]
    finally:
        conn.close()
    return max(1, -(-total // page_size))


def run(src: Path, db: Path, timeout: float) -> list[tuple[str, float | None, int, float]]:
    """(path, ms or None past the timeout, bytes, peak MB) of each page, first time asked."""
    port = _free_port()
    env = {**os.environ, "PYTHONPATH": str(src)}
    proc = subprocess.Popen([sys.executable, "-m", "storykit", "serve", str(db), "--port",
                             str(port)], env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    pages = _index_pages(db)
    paths = ["/", "/page-2.html", f"/page-{pages // 2}.html", f"/page-{pages * 7 // 9}.html",
             f"/page-{pages}.html", "/topics/index.html", "/digests/index.html",
             "/sitemap.xml"]
    out: list[tuple[str, float | None, int, float]] = []
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise RuntimeError("the server did not start") from None
                time.sleep(0.05)
        while paths:
            path = paths.pop(0)
            start = time.perf_counter()
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}",
                                            timeout=timeout) as r:
                    data = r.read()
            except (TimeoutError, urllib.error.URLError) as e:
                if not isinstance(getattr(e, "reason", e), TimeoutError):
                    raise
                out.append((path, None, 0, _memory_mb(proc.pid)[1]))
                break
            ms = (time.perf_counter() - start) * 1000
            out.append((path, ms, len(data), _memory_mb(proc.pid)[1]))
            if path == "/sitemap.xml":
                root = ET.fromstring(data)
                if root.tag == f"{_NS}sitemapindex":
                    parts = len(root.findall(f"{_NS}sitemap"))
                    paths += [f"/sitemap-{n}.xml" for n in sorted({1, (parts + 1) // 2, parts})]
    finally:
        proc.terminate()  # (a server still rendering a page waits for it: then it is killed)
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--db", type=Path, required=True)
    parser.add_argument("--src", type=Path, action="append",
                        help="a source tree of storykit to serve with (repeat to compare)")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--timeout", type=float, default=60.0)
    args = parser.parse_args(argv)
    sources = args.src or [ROOT / "src"]
    best: dict[tuple[int, str], tuple[float | None, int, float]] = {}
    for rnd in range(args.rounds):
        for i, src in enumerate(sources):
            for path, ms, size, peak in run(src, args.db, args.timeout):
                took = f"> {args.timeout:.0f} s" if ms is None else f"{ms:.1f} ms"
                print(f"round {rnd + 1} {src}: {path} {took}, "
                      f"{size:,} B, peak {peak:.0f} MB, load {os.getloadavg()[0]:.2f}",
                      flush=True)
                old = best.get((i, path))
                if old is None or (ms is not None and (old[0] is None or ms < old[0])):
                    best[(i, path)] = (ms, size, max(peak, old[2] if old else 0))
                else:
                    best[(i, path)] = (old[0], old[1], max(peak, old[2]))
    print(f"\nFirst time each page is asked of a fresh server, best of {args.rounds} "
          f"(load {os.getloadavg()[0]:.2f}); peak RSS of the server so far:\n")
    print("| page | " + " | ".join(str(s) for s in sources) + " |")
    print("|---|" + "---|" * len(sources))
    for path in dict.fromkeys(p for _, p in best):
        cells = []
        for i in range(len(sources)):
            got = best.get((i, path))
            if got is None:
                cells.append("-")
                continue
            ms, size, peak = got
            took = f"> {args.timeout:.0f} s" if ms is None else f"{ms:,.1f} ms"
            cells.append(f"{took} ({size / 1e6:.2f} MB; peak {peak:.0f} MB)")
        print(f"| `{path}` | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
