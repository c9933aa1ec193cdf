"""An exported archive served by a real Datasette: search and facets from its JSON API."""

from __future__ import annotations

import json
import queue
import re
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest

import storykit
from storykit import sqlite as sk

pytest.importorskip("datasette")

_LISTENING = re.compile(r"Uvicorn running on http://127\.0\.0\.1:(\d+)")


def _rows(page: dict[str, Any]) -> list[dict[str, Any]]:
    """The rows of a table page as dicts: 0.64 gives lists beside "columns", 1.x dicts."""
    rows = page["rows"]
    if rows and isinstance(rows[0], list):
        return [dict(zip(page["columns"], row, strict=True)) for row in rows]
    return list(rows)


def _port(proc: subprocess.Popen[str], deadline: float) -> int:
    """The port Datasette listens on, from its log (it binds port 0: any free port)."""
    lines: queue.Queue[str] = queue.Queue()

    def pump() -> None:
        assert proc.stderr is not None
        for line in proc.stderr:
            lines.put(line)
        lines.put("")

    threading.Thread(target=pump, daemon=True).start()
    log = []
    while (left := deadline - time.monotonic()) > 0:
        try:
            line = lines.get(timeout=left)
        except queue.Empty:
            break
        if line == "":
            break
        log.append(line)
        if found := _LISTENING.search(line):
            return int(found.group(1))
    raise AssertionError("Datasette did not start:\n" + "".join(log))


def _get(url: str, deadline: float) -> dict[str, Any]:
    """GET ``url`` as JSON, polling until the server answers or the deadline passes."""
    while True:
        try:
            with urllib.request.urlopen(url, timeout=10) as response:
                data: dict[str, Any] = json.load(response)
                return data
        except (ConnectionError, urllib.error.URLError):
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


class TestDatasette:
    def test_search_and_facets_from_an_exported_archive(self, tmp_path: Path,
                                                        example: storykit.Collection) -> None:
        """/archive/stories.json?_search=mines finds the stories about mines, with facets."""
        mines = storykit.Story(
            title="Children leave the mines of Madagascar for school", published="2021-06-12",
            summary="Families who worked in the mica mines find other incomes.",
            topics=["child labour"], countries=["MG"])
        col = example.replace([*example, mines])
        db = tmp_path / "archive.db"
        sk.write(col, db)
        metadata = tmp_path / "archive.metadata.json"
        proc = subprocess.Popen(
            [sys.executable, "-m", "datasette", "serve", str(db), "-m", str(metadata),
             "-h", "127.0.0.1", "-p", "0"],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        try:
            deadline = time.monotonic() + 60
            base = f"http://127.0.0.1:{_port(proc, deadline)}"
            page = _get(f"{base}/archive/stories.json?_search=mines", deadline)
            found = _rows(page)
            expected = {s.id for s in col
                        if re.search(r"\bmines\b", f"{s.title} {s.summary}", re.IGNORECASE)}
            assert mines.id in expected
            assert {r["id"] for r in found} == expected
            # newest first, as the metadata sorts the table
            assert [r["published"] for r in found] == sorted(
                (r["published"] for r in found), reverse=True)
            facets = page.get("facet_results", {})
            facets = facets.get("results", facets)  # (1.x nests them)
            assert {"topics", "countries", "month"} <= set(facets)
            meta = _get(f"{base}/-/metadata.json", deadline)
            assert meta["databases"]["archive"]["tables"]["stories"]["title"] == col.title
        finally:
            proc.kill()
            proc.wait(timeout=30)
            if proc.stderr is not None:
                proc.stderr.close()
