"""The sqlite format against its anchors (issue 23); not yet one of run.py's goals.

    python benchmarks/sqlite_bench.py [N] [--dir build/bench/sqlite] [--keep]

With ``N`` stories from ``data.py`` (default 1,000,000):

- **write**: storykit's ``sqlite`` writer (normalised tables, FTS5 index, one transaction)
  against ``sqlite-utils insert`` of the same stories pre-flattened to one row each (nested
  fields as JSON), in one transaction with WAL, no index. Goal: storykit >= 0.8x its speed.
- **size**: the database against the JSON Lines file of the same stories. Goal: <= 1.2x.
- **query**: ``country LK, since 2019-01-01, text mines`` on the archive, against a full
  ``load()`` + ``filter()`` of the JSON Lines file. Goal: under 50 ms (the ratio is the figure).

Prints one line per measure and the figures as JSON on the last line. Every file it makes is
removed at the end (``--keep`` keeps ``archive.db``), even when it fails.
"""

from __future__ import annotations

import argparse
import gc
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent))

from data import write_jsonl

import storykit
from storykit import sqlite as sk
from storykit.sqlite.writer import write_archive

CRITERIA: dict[str, Any] = {"country": "LK", "since": "2019-01-01", "text": "mines"}
#: The same with a word the generated stories do have ("Miners ..."), so that rows are read.
FOUND: dict[str, Any] = {**CRITERIA, "text": "miners"}


def flat(d: dict[str, Any]) -> dict[str, Any]:
    """One story as one row: scalars as they are, nested fields as JSON text."""
    image = d.get("image") or {}
    return {
        "id": d["id"], "title": d["title"], "published": d["published"],
        "summary": d["summary"], "url": d.get("url"), "image_url": image.get("url"),
        "image_alt": image.get("alt"), "image_credit": image.get("credit"),
        "topics": orjson.dumps(d.get("topics", [])).decode(),
        "countries": orjson.dumps(d.get("countries", [])).decode(),
        "language": d.get("language", "en"),
        "links": orjson.dumps(d.get("links", [])).decode(), "updated": d.get("updated"),
    }


def _clock(fn: Any, *args: Any, **kwargs: Any) -> tuple[float, Any]:
    gc.collect()
    start = time.perf_counter()
    got = fn(*args, **kwargs)
    return time.perf_counter() - start, got


def sqlite_utils_insert(rows: list[dict[str, Any]], path: Path) -> None:
    import sqlite_utils

    db = sqlite_utils.Database(path)
    db.enable_wal()
    with db.conn:  # one transaction
        db["stories"].insert_all(rows, pk="id", batch_size=10_000)  # type: ignore[union-attr]
    db.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.close()


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("n", type=int, nargs="?", default=1_000_000)
    parser.add_argument("--dir", type=Path, default=Path("build/bench/sqlite"))
    parser.add_argument("--keep", action="store_true",
                        help="Keep DIR/archive.db (for --queries-only and serve_bench.py --db); "
                             "by default every file the run made is removed at the end.")
    parser.add_argument("--queries-only", action="store_true",
                        help="Only the queries, on DIR/archive.db as it is (no writing).")
    args = parser.parse_args(argv)
    if args.queries_only:
        db = args.dir / "archive.db"
        figures: dict[str, Any] = {}
        for label, criteria in (("query", CRITERIA), ("query_found", FOUND)):
            times = [_clock(sk.query, db, **criteria)[0] for _ in range(7)]
            figures[f"{label}_ms"] = statistics.median(times) * 1000
            print(f"{label} {criteria}: {figures[f'{label}_ms']:.1f} ms")
        figures.update(store_queries(db))
        print(orjson.dumps(figures).decode())
        return figures
    folder: Path = args.dir
    folder.mkdir(parents=True, exist_ok=True)
    made = [folder / f"archive-{args.n}.jsonl", folder / "anchor.db", folder / "anchor.db-wal",
            folder / "anchor.db-shm", folder / "archive.db"]
    try:
        return _run(args.n, folder)
    finally:
        for path in made[:-1] if args.keep else made:
            path.unlink(missing_ok=True)


def _run(n: int, folder: Path) -> dict[str, Any]:
    """Write, size and query ``n`` stories in ``folder``; print and return the figures."""
    print(f"load average {os.getloadavg()[0]:.1f} at start", flush=True)
    jsonl = folder / f"archive-{n}.jsonl"
    if not jsonl.exists():
        write_jsonl(jsonl, n)

    anchor_db = folder / "anchor.db"
    for suffix in ("", "-wal", "-shm"):
        Path(f"{anchor_db}{suffix}").unlink(missing_ok=True)
    with jsonl.open("rb") as f:
        rows = [flat(orjson.loads(line)) for line in f]
    anchor_s, _ = _clock(sqlite_utils_insert, rows, anchor_db)
    del rows

    # The baseline of the queries is load() + filter(): the load is timed once, and gives
    # the collection the writer writes.
    load_s, col = _clock(storykit.load, jsonl, max_bytes=jsonl.stat().st_size + 1)
    db = folder / "archive.db"
    db.unlink(missing_ok=True)
    ours_s, _ = _clock(write_archive, col, db)
    speed = anchor_s / ours_s
    size = db.stat().st_size / jsonl.stat().st_size
    print(f"write {n:,} stories: storykit {ours_s:.2f} s, sqlite-utils insert {anchor_s:.2f} s"
          f" -> {speed:.2f}x its speed (goal >= 0.8x)")
    print(f"size: database {db.stat().st_size / 1e6:.0f} MB, JSON Lines "
          f"{jsonl.stat().st_size / 1e6:.0f} MB -> {size:.2f}x (goal <= 1.2x)", flush=True)

    figures: dict[str, Any] = {"n": n, "write_s": ours_s, "anchor_write_s": anchor_s,
                               "write_speed": speed, "size_ratio": size, "load_s": load_s}
    for label, criteria in (("query", CRITERIA), ("query_found", FOUND)):
        times = []
        found = 0
        for _ in range(7):
            seconds, got = _clock(sk.query, db, **criteria)
            times.append(seconds)
            found = len(got)
        query_s = statistics.median(times)
        filter_s, base = _clock(col.filter, **criteria)
        baseline_s = load_s + filter_s
        print(f"{label} {criteria} on {n:,} stories: {query_s * 1000:.1f} ms ({found} stories;"
              f" goal < 50 ms); load()+filter() {baseline_s:.2f} s ({len(base)} stories: "
              f"filter's text is a substring) -> {baseline_s / query_s:.0f}x faster")
        figures.update({f"{label}_ms": query_s * 1000, f"{label}_stories": found,
                        f"{label}_baseline_s": baseline_s,
                        f"{label}_ratio": baseline_s / query_s})
    del col
    figures.update(store_queries(db))
    figures["load_average_end"] = os.getloadavg()[0]
    print(orjson.dumps(figures).decode())
    return figures


#: The web app's pages over the archive (SqliteStore.query): label, criteria.
PAGES: tuple[tuple[str, dict[str, Any]], ...] = (
    ("store_country", {"country": "LK", "limit": 20}),
    ("store_topic_page2", {"topic": "employment", "offset": 20, "limit": 20}),
    ("store_text_many", {"text": "miners", "limit": 20}),
    ("store_filtered", {**CRITERIA, "limit": 20}),
)


def store_queries(db: Path) -> dict[str, float]:
    """Median ms of each of :data:`PAGES` (the first call, which counts the matches, apart)."""
    out: dict[str, float] = {}
    with sk.SqliteStore(db) as store:
        for label, criteria in PAGES:
            first, (_, total) = _clock(store.query, **criteria)
            times = [_clock(store.query, **criteria)[0] for _ in range(7)]
            ms = statistics.median(times) * 1000
            print(f"{label} {criteria}: {ms:.1f} ms a page of {total:,} matches (first call "
                  f"{first * 1000:.1f} ms: it counts them)")
            out[f"{label}_ms"] = ms
            out[f"{label}_first_ms"] = first * 1000
    return out


if __name__ == "__main__":
    main()
