"""storykit serve and the site writer, measured (issue 20's goals).

1. Requests/s of one uvicorn worker for a conditional ``GET /stories.json`` answered 304, and
   for ``/api/stories?topic=...&page=2`` on a 10,000-story collection, with p99 latency, at 32
   concurrent clients (httpx, async), beside a bare Starlette app on the same server returning
   the same bytes (and the same 304): the ratio storykit / bare is the figure.
2. ``export --format site`` of 10,000 stories, per page written, against the html writer's
   one-page export of the same collection written a page at a time (``write_pages``).
3. Live preview: ``storykit serve SOURCE --watch`` (a real uvicorn, in its own process) with
   headless Chromium open on the index page; the source is saved with a new title and the time
   until the page shows it is taken, several times (``--edits``): the median, and the worst, is
   the figure (the goal: under one second). Uses the example collection; needs Chromium.

4. With ``--db``: ``storykit serve archive.db`` (answered from SQL) for the API, cycling
   through each country's and topic's first 40 pages (twice as many requests as the app keeps
   answers for), beside a bare Starlette app returning the same bytes; the storykit server's
   RSS is sampled during the run (issue 23: >= 500 req/s, memory flat under 150 MB). Then
   each app is called in the benchmark's own process (no server), the two alternating: the
   milliseconds per request that the app itself costs.

    python benchmarks/serve_bench.py [--stories 10000] [--seconds 5] [--edits 9]
    python benchmarks/serve_bench.py --only live-reload
    python benchmarks/serve_bench.py --db build/bench/sqlite/archive.db [--seconds 5]

Server and client run on the same machine; both apps are served the same way, so the ratio
holds what the figures cannot.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing as mp
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import data

CONCURRENCY = 32
ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "impact-and-people" / "stories.json"


def _serve(kind: str, source: str, ports: Any) -> None:
    """Child process: serve ``kind`` ("storykit" or "bare") on a free port; report the port."""
    import uvicorn

    import storykit
    from storykit.web import create_app

    if kind == "storykit":
        app: Any = create_app(source)
    elif source.endswith(".db"):
        app = _bare_db_app(source)
    else:
        app = _bare_app(storykit.load(source))
    config = uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning",
                            access_log=False, workers=1)
    server = uvicorn.Server(config)

    async def run() -> None:
        task = asyncio.create_task(server.serve())
        while not server.started:
            await asyncio.sleep(0.01)
        ports.put(server.servers[0].sockets[0].getsockname()[1])
        await task

    asyncio.run(run())


def _bare_app(col: Any) -> Any:
    """The same bytes from a bare Starlette app: precomputed bodies, an ETag compare."""
    import hashlib

    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import Response
    from starlette.routing import Route

    import storykit
    from storykit.convert import story_to_data
    from storykit.store import MemoryStore

    body = storykit.dumps(col, "json")
    etag = '"' + hashlib.blake2b(body, digest_size=12).hexdigest() + '"'
    store = MemoryStore(col)

    async def stories_json(request: Request) -> Response:
        if request.headers.get("if-none-match") == etag:
            return Response(status_code=304, headers={"ETag": etag})
        return Response(body, media_type="application/json", headers={"ETag": etag})

    async def api(request: Request) -> Response:
        page = int(request.query_params.get("page", "1"))
        items, total = store.query(topic=request.query_params.get("topic"),
                                   offset=(page - 1) * 20, limit=20)
        raw = json.dumps({"total": total, "page": page, "per_page": 20,
                          "stories": [story_to_data(s) for s in items]}).encode()
        return Response(raw, media_type="application/json")

    return Starlette(routes=[Route("/stories.json", stories_json), Route("/api/stories", api)])


#: Pages of each country and topic the database run asks for: 25 x 40 = 1,000 requests,
#: twice the answers the app keeps (512), so that each request is answered from SQL.
DB_PAGES = 40


def db_paths() -> list[str]:
    """The API requests of the database run, in turn: every country's and topic's first
    :data:`DB_PAGES` pages."""
    countries = [code for _, code in data._PLACES]
    topics = ["employment", "child%20labour", "skills", "migration", "youth", "green%20jobs"]
    return [f"/api/stories?{key}={value}&page={page}" for page in range(1, DB_PAGES + 1)
            for key, values in (("country", countries), ("topic", topics))
            for value in dict.fromkeys(values)]


def _bare_db_app(source: str) -> Any:
    """A bare Starlette app answering each request of :func:`db_paths` with the bytes storykit
    gives for it (read once, from storykit's own app, before the run)."""
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import Response
    from starlette.routing import Route
    from starlette.testclient import TestClient

    from storykit.web import create_app

    with TestClient(create_app(source)) as client:
        bodies = {path: client.get(path).content for path in db_paths()}

    async def api(request: Request) -> Response:
        return Response(bodies[f"{request.url.path}?{request.url.query}"],
                        media_type="application/json")

    return Starlette(routes=[Route("/api/stories", api)])


def _rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


async def _load(base: str, path: str | list[str], headers: dict[str, str], seconds: float,
                expect: int) -> dict[str, float]:
    import httpx

    latencies: list[float] = []
    stop = time.perf_counter() + seconds
    limits = httpx.Limits(max_connections=CONCURRENCY, max_keepalive_connections=CONCURRENCY)
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=30) as client:
        paths = [path] if isinstance(path, str) else path
        turn = iter(range(10**12))

        async def worker() -> None:
            while time.perf_counter() < stop:
                t = time.perf_counter()
                r = await client.get(paths[next(turn) % len(paths)], headers=headers)
                latencies.append(time.perf_counter() - t)
                assert r.status_code == expect, (path, r.status_code, r.text[:200])

        start = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))
        elapsed = time.perf_counter() - start
    latencies.sort()
    return {"rps": len(latencies) / elapsed,
            "p50_ms": statistics.median(latencies) * 1000,
            "p99_ms": latencies[int(len(latencies) * 0.99) - 1] * 1000}


def _measure(kind: str, source: str, seconds: float, topic: str) -> dict[str, Any]:
    import httpx

    ports: Any = mp.Queue()
    proc = mp.Process(target=_serve, args=(kind, source, ports), daemon=True)
    proc.start()
    try:
        base = f"http://127.0.0.1:{ports.get(timeout=120)}"
        etag = httpx.get(base + "/stories.json").headers["etag"]
        api_path = f"/api/stories?topic={topic}&page=2"
        httpx.get(base + api_path)  # (warm: storykit caches each answer per content version)
        return {
            "304": asyncio.run(_load(base, "/stories.json", {"if-none-match": etag}, seconds,
                                     304)),
            "api": asyncio.run(_load(base, api_path, {}, seconds, 200)),
        }
    finally:
        proc.terminate()
        proc.join(10)


def _measure_db(kind: str, source: str, seconds: float) -> dict[str, Any]:
    """Requests/s of the API over the database, cycling through :func:`db_paths`, and the
    server's RSS sampled every 0.2 s during the run (MB: start, peak, end)."""
    import threading

    ports: Any = mp.Queue()
    proc = mp.Process(target=_serve, args=(kind, source, ports), daemon=True)
    proc.start()
    try:
        base = f"http://127.0.0.1:{ports.get(timeout=600)}"
        assert proc.pid is not None
        pid = proc.pid
        samples = [_rss_mb(pid)]
        done = threading.Event()

        def sample() -> None:
            while not done.wait(0.2):
                samples.append(_rss_mb(pid))

        sampler = threading.Thread(target=sample)
        sampler.start()
        try:
            got = asyncio.run(_load(base, db_paths(), {}, seconds, 200))
        finally:
            done.set()
            sampler.join()
        samples.append(_rss_mb(pid))
        return {"api": got, "rss_mb": {"start": samples[0], "peak": max(samples),
                                       "end": samples[-1]}}
    finally:
        proc.terminate()
        proc.join(10)


async def _asgi_get(app: Any, path: str) -> int:
    """Answer ``GET path`` by calling the ASGI app itself (no server, no socket)."""
    route, _, query = path.partition("?")
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1",
             "method": "GET", "scheme": "http", "path": route, "raw_path": route.encode(),
             "query_string": query.encode(), "root_path": "", "headers": [(b"host", b"b")],
             "client": ("127.0.0.1", 1), "server": ("127.0.0.1", 80)}
    status = 0

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]

    await app(scope, receive, send)
    return status


def _db_in_process(source: str, repeats: int = 5) -> dict[str, float]:
    """Milliseconds per request of :func:`db_paths` answered by each app called in this
    process (no server), the two alternating, best of ``repeats`` cycles: the app's own cost,
    which a loaded machine blurs less than requests/s over sockets."""
    import gc

    from storykit.web import create_app

    apps = {"bare": _bare_db_app(source), "storykit": create_app(source)}
    paths = db_paths()
    best = {kind: float("inf") for kind in apps}

    async def cycle(app: Any) -> None:
        for path in paths:
            status = await _asgi_get(app, path)
            assert status == 200, (path, status)

    for _ in range(repeats):
        for kind, app in apps.items():
            gc.collect()
            start = time.perf_counter()
            asyncio.run(cycle(app))
            best[kind] = min(best[kind], (time.perf_counter() - start) / len(paths) * 1000)
    return {f"{kind}_ms": ms for kind, ms in best.items()}


def _site_vs_html(source: str) -> dict[str, float]:
    import storykit
    from storykit.exporters.html import write_pages
    from storykit.exporters.site import SiteExporter

    col = storykit.load(source)
    with tempfile.TemporaryDirectory() as tmp:
        t = time.perf_counter()
        html_pages = write_pages(col, Path(tmp) / "html", page_size=10)
        html_time = time.perf_counter() - t
        t = time.perf_counter()
        site_files = SiteExporter().write_pages(col, Path(tmp) / "site", page_size=10)
        site_time = time.perf_counter() - t
    site_pages = sum(1 for p in site_files if p.suffix == ".html")
    return {"html_s": html_time, "html_pages": len(html_pages),
            "site_s": site_time, "site_pages": site_pages, "site_files": len(site_files),
            "ratio_per_page": (site_time / site_pages) / (html_time / len(html_pages))}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_until_serving(base: str, proc: subprocess.Popen[bytes], timeout: float) -> None:
    import httpx

    deadline = time.monotonic() + timeout
    while True:
        if proc.poll() is not None:
            raise RuntimeError(f"storykit serve exited with {proc.returncode}")
        try:
            if httpx.get(base + "/", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"storykit serve did not answer on {base} in {timeout:.0f} s")
        time.sleep(0.05)


class _EventClock:
    """Listens to the server's reload events (as the page does) and notes when each came."""

    def __init__(self, url: str) -> None:
        import threading

        self.url = url
        self.times: list[float] = []
        self.ready = threading.Event()
        self.stopped = False
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()
        if not self.ready.wait(30):
            raise RuntimeError(f"no event stream at {url}")

    def _run(self) -> None:
        import httpx

        try:
            with httpx.stream("GET", self.url, timeout=None) as r:
                for line in r.iter_lines():
                    self.ready.set()
                    if line == "data: reload":
                        self.times.append(time.perf_counter())
                    if self.stopped:
                        return
        except httpx.HTTPError:
            pass  # (the server stopped)


def _live_reload(edits: int) -> dict[str, Any]:
    """Seconds from saving the source to the open page showing its new title, per edit, and
    to the server's reload event (what the watcher and the reload of the source take)."""
    sys.path.insert(0, str(ROOT / "tools"))
    import screenshot
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as tmp:
        source = Path(tmp) / "stories.json"
        shutil.copy(EXAMPLE, source)
        doc = json.loads(source.read_text(encoding="utf-8"))
        port = _free_port()
        base = f"http://127.0.0.1:{port}"
        proc = subprocess.Popen([sys.executable, "-m", "storykit", "serve", str(source),
                                 "--watch", "--port", str(port)],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                env={**os.environ, "PYTHONUNBUFFERED": "1"})
        times: list[float] = []
        notified: list[float] = []
        try:
            _wait_until_serving(base, proc, 60)
            clock = _EventClock(base + "/_storykit/events")
            with sync_playwright() as pw:
                browser = pw.chromium.launch(executable_path=screenshot.CHROMIUM,
                                             args=screenshot.LAUNCH_ARGS, headless=True)
                try:
                    page = browser.new_page()
                    # (pictures stay offline: placeholders, as in the browser tests)
                    page.route(f"https://{screenshot.IMAGE_HOST}/**", lambda r: r.fulfill(
                        status=200, content_type="image/svg+xml",
                        body=screenshot.placeholder_svg(r.request.url)))
                    page.goto(base + "/", wait_until="load")
                    page.wait_for_function("() => document.querySelector('script[data-events]')")
                    for n in range(edits):
                        title = f"Impact and people, edit {n + 1}"
                        data = json.dumps({**doc, "title": title}).encode()
                        start = time.perf_counter()
                        source.write_bytes(data)
                        page.wait_for_function(
                            "t => { const h = document.querySelector('h1');"
                            " return h !== null && h.textContent.trim() === t; }",
                            arg=title, polling="raf", timeout=30_000)
                        times.append(time.perf_counter() - start)
                        if len(clock.times) == n + 1:
                            notified.append(clock.times[n] - start)
                        # (the reloaded page listens again before the next edit)
                        page.wait_for_function(
                            "() => document.querySelector('script[data-events]')")
                        page.wait_for_load_state("load")
                finally:
                    browser.close()
            clock.stopped = True
        finally:
            proc.terminate()
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
    return {"edits": len(times), "median_s": statistics.median(times), "max_s": max(times),
            "min_s": min(times), "times_s": [round(t, 4) for t in times],
            "event_median_s": statistics.median(notified) if notified else None}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--stories", type=int, default=10_000)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--edits", type=int, default=9,
                        help="source edits timed for the live-reload figure (9)")
    parser.add_argument("--only", choices=("http", "live-reload"),
                        help="run one part: the HTTP and site figures, or the live reload")
    parser.add_argument("--db", type=Path, default=None,
                        help="Serve this SQLite archive instead (the API only, from SQL; "
                             "issue 23: >= 500 req/s, RSS under 150 MB).")
    args = parser.parse_args(argv)
    if args.db is not None:
        import os

        results = {kind: _measure_db(kind, str(args.db), args.seconds)
                   for kind in ("bare", "storykit")}
        # (after the servers: a server forked from this process would count its memory)
        inside = results["in_process"] = _db_in_process(str(args.db))
        print(f" in process: storykit {inside['storykit_ms']:.2f} ms a request "
              f"({1000 / inside['storykit_ms']:.0f}/s), bare {inside['bare_ms']:.3f} ms; load "
              f"average {os.getloadavg()[0]:.1f}")
        sk, bare = results["storykit"], results["bare"]
        print(f" api: storykit {sk['api']['rps']:7.0f} req/s p99 {sk['api']['p99_ms']:6.1f} ms"
              f" | bare {bare['api']['rps']:7.0f} req/s p99 {bare['api']['p99_ms']:6.1f} ms | "
              f"ratio {sk['api']['rps'] / bare['api']['rps']:.2f}")
        rss = sk["rss_mb"]
        print(f" rss: storykit server {rss['start']:.0f} MB at start, {rss['peak']:.0f} MB peak,"
              f" {rss['end']:.0f} MB at end; load average {os.getloadavg()[0]:.1f}")
        print(json.dumps(results, indent=2))
        return 0
    if args.only != "http":
        live = _live_reload(args.edits)
        print(f"live reload: source saved -> new title on the page: median "
              f"{live['median_s'] * 1000:.0f} ms, worst {live['max_s'] * 1000:.0f} ms "
              f"over {live['edits']} edits (goal: under 1 s); the server's reload event came "
              f"after {(live['event_median_s'] or 0) * 1000:.0f} ms (median)")
        if args.only == "live-reload":
            print(json.dumps({"live_reload": live}, indent=2))
            return 0
    with tempfile.TemporaryDirectory() as tmp:
        source = Path(tmp) / "archive.json"
        source.write_bytes(data.json_bytes(args.stories))
        topic = "child%20labour"
        results: dict[str, Any] = {}
        for kind in ("bare", "storykit"):
            results[kind] = _measure(kind, str(source), args.seconds, topic)
        results["site"] = _site_vs_html(str(source))
    for what in ("304", "api"):
        sk, bare = results["storykit"][what], results["bare"][what]
        print(f"{what:>4}: storykit {sk['rps']:7.0f} req/s p99 {sk['p99_ms']:6.1f} ms | "
              f"bare {bare['rps']:7.0f} req/s p99 {bare['p99_ms']:6.1f} ms | "
              f"ratio {sk['rps'] / bare['rps']:.2f}")
    site = results["site"]
    print(f"site: {site['site_pages']} pages ({site['site_files']} files) in "
          f"{site['site_s']:.1f} s; html: {site['html_pages']} pages in {site['html_s']:.1f} s; "
          f"per page {site['ratio_per_page']:.2f}x")
    if args.only != "http":
        results["live_reload"] = live
    print(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
