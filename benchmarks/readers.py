"""Reader benchmarks (``make bench`` runs them after run.py, at the sizes of the goals):

- a 10,000-entry Atom feed (storykit's own atom output) read by the ``atom`` reader, against
  ``feedparser.parse`` alone on the same bytes (goal: at most 1.5x). The two run alternately
  in this one process, garbage collected before each run; the ratio is of the fastest runs;
- a 10,000-file content folder (Markdown with YAML front matter and a body) read by the
  ``folder`` reader in this one process (goal: at least 5,000 files/s). The files are written
  first and read once before timing, so they are in the page cache: the figure is the
  reader's, not the disk's.

The load average (``os.getloadavg``) at the start and end is printed beside the figures: on a
busy machine the files/s figure means little, the ratio more.

    python benchmarks/readers.py [--entries 10000] [--files 10000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import gc
import io
import json
import os
import tempfile
import time
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path

import storykit
from storykit import Collection, Story


def collection(n: int) -> Collection:
    start = date(2020, 1, 1)
    return Collection(title="Bench", url="https://news.example.org/bench", stories=[
        Story(id=f"story-{i}", title=f"Story number {i}", published=start + timedelta(days=i % 900),
              summary=f"Summary of story {i}, a sentence or two long.\n\nA second paragraph.",
              url=f"https://news.example.org/bench/story-{i}", topics=["jobs", f"t{i % 7}"],
              countries=["LK"], image={"url": f"https://news.example.org/img/{i}.jpg",
                                       "alt": "A picture", "credit": "© ILO 2021"})
        for i in range(n)])


def best(fn: Callable[[], object], repeat: int) -> float:
    return min(alternate([fn], repeat)[0])


def alternate(fns: list[Callable[[], object]], repeat: int) -> list[list[float]]:
    """The times of each of ``fns``, run in turn ``repeat`` times, collected before each."""
    times: list[list[float]] = [[] for _ in fns]
    for _ in range(repeat):
        for fn, got in zip(fns, times, strict=True):
            gc.collect()
            t = time.perf_counter()
            fn()
            got.append(time.perf_counter() - t)
    return times


def atom(entries: int, repeat: int) -> dict[str, float]:
    import feedparser
    from storykit_feeds import FeedReader

    data = storykit.dumps(collection(entries), "atom")
    reader = FeedReader("atom")
    base_times, our_times = alternate([
        lambda: feedparser.parse(data, sanitize_html=False, resolve_relative_uris=False),
        lambda: reader.read(io.BytesIO(data))], repeat)
    base, ours = min(base_times), min(our_times)
    return {"entries": entries, "bytes": len(data), "feedparser_s": round(base, 3),
            "reader_s": round(ours, 3), "ratio": round(ours / base, 3)}


def folder(files: int, repeat: int) -> dict[str, float]:
    from storykit.read.folder import FolderReader

    col = collection(files)
    reader = FolderReader()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "collection.toml").write_text('title = "Bench"\n', encoding="utf-8")
        for s in col.stories:
            path = root / str(s.published.year) / f"{s.id}.md"
            path.parent.mkdir(exist_ok=True)
            path.write_text(
                f"---\ntitle: {json.dumps(s.title)}\ndate: {s.published.isoformat()}\n"
                f"summary: {json.dumps(s.summary)}\ntags: {json.dumps(list(s.topics))}\n"
                f"url: {s.url}\n---\n\nThe *body* of {s.title}.\n\nWith [a link]({s.url}).\n",
                encoding="utf-8")
        assert len(reader.read(root)) == files  # (and the files are in the page cache)
        seconds = best(lambda: reader.read(root), repeat)
    return {"files": files, "seconds": round(seconds, 3), "files_per_s": round(files / seconds)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, default=10_000)
    parser.add_argument("--files", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    load_before = os.getloadavg()[0]
    result: dict[str, object] = {"atom": atom(args.entries, args.repeat),
                                 "folder": folder(args.files, args.repeat)}
    result["load_average"] = {"start": round(load_before, 2),
                              "end": round(os.getloadavg()[0], 2)}
    atom_result, folder_result = result["atom"], result["folder"]
    assert isinstance(atom_result, dict) and isinstance(folder_result, dict)
    result["goals"] = {"atom_ratio_le_1.5": atom_result["ratio"] <= 1.5,
                       "folder_files_per_s_ge_5000": folder_result["files_per_s"] >= 5000}
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
