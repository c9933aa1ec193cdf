"""storykit serve and the site writer, measured against issue 20's goals, in one command.

    python benchmarks/serve_bench.py                 # everything, 1.5-3 minutes
    python benchmarks/serve_bench.py --only http     # or site, live-reload
    python benchmarks/serve_bench.py --db build/bench/sqlite/archive.db --seconds 10  # issue 23

It prints a Markdown table (and writes it, with every raw figure as JSON, to
``build/bench/serve.md`` and ``serve.json``), ready to paste into RESULTS.md:

1. **HTTP** (a 10,000-story collection): one uvicorn worker on 127.0.0.1 per app, each in its
   own process; the client (aiohttp, 32 concurrent connections) in this one. Beside storykit,
   a bare Starlette app answers the same URLs with the same bytes (read from storykit's app
   before the run) and the same 304. The contenders alternate, several rounds; each keeps its
   best round. Figures: requests/s and p99 latency of a conditional ``GET /stories.json``
   answered 304 (goal >= 2,000 req/s) and of ``/api/stories?topic=...&page=2`` (goal >= 500
   req/s), p99 under 50 ms; storykit / bare is the ratio that holds on any machine.
   Beside it, the time each app itself takes per request, called through ASGI in this
   process with no server or socket (alternating blocks, best of 5): the app's own cost,
   which a loaded machine's noise hides in the HTTP figures.
2. **Site export**: ``export --format site`` per page written, against the html writer's
   one-page export written a page at a time (``write_pages``), alternating, best of
   ``--repeats`` (goal: <= 2x per page).
3. **Live reload**: ``storykit serve SOURCE --watch`` (its own process) with headless Chromium
   on the index page. Each edit of the source is timed to the server's reload event (SSE),
   to the new page being served (a client GETs ``/`` on the event), and to the new title on
   the browser's page (goal: under 1 s). The example collection; needs Chromium.
4. With ``--db ARCHIVE`` (instead of the above; make one with ``benchmarks/sqlite_bench.py
   1000000 --keep``): the API answered from SQL (``storykit serve archive.db``) beside a bare
   app with the same bytes, both served at once, alternating: some 2,500 distinct URLs in turn
   (topics, countries, both, searches, dates, languages; pages 1-25; every answer made anew),
   after a warm-up pass that asks for each once (reported: the cold figure), and one URL
   repeated (the app's cache); requests/s, p50 and p99; the server's RSS at the start, after
   the warm-up, at its peak and at the end (issue 23: >= 500 req/s, RSS under 150 MB).

Server and client share the machine (and its load, printed beside every figure): the ratios
hold what the absolute figures cannot.
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
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import data

CONCURRENCY = 32
ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "impact-and-people" / "stories.json"
OUT = ROOT / "build" / "bench"
#: The API request of the HTTP goal (page 2 of a topic's stories).
API_PATH = "/api/stories?topic=child%20labour&page=2"


def _record(out: Path, stem: str, text: str, results: dict[str, Any]) -> None:
    """Print the table, and write it (``STEM.md``) and every figure (``STEM.json``) to
    ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{stem}.md").write_text(text, encoding="utf-8")
    (out / f"{stem}.json").write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    print(text)
    print(f"(written to {out / f'{stem}.md'}; every figure in {out / f'{stem}.json'})")


def _load_average() -> str:
    one, five, fifteen = os.getloadavg()
    return f"{one:.1f} {five:.1f} {fifteen:.1f}"


# --- the servers ------------------------------------------------------------------------------


def _serve(kind: str, source: str, paths: list[str], ports: Any) -> None:
    """Child process: serve ``kind`` ("storykit" or "bare") with one uvicorn worker on a free
    port of 127.0.0.1; report the port."""
    import uvicorn

    from storykit.web import create_app

    app: Any = create_app(source) if kind == "storykit" else _bare_app(source, paths)
    config = uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning",
                            access_log=False, workers=1, lifespan="on")
    server = uvicorn.Server(config)

    async def run() -> None:
        task = asyncio.create_task(server.serve())
        while not server.started:
            if task.done():
                await task
                return
            await asyncio.sleep(0.01)
        ports.put(server.servers[0].sockets[0].getsockname()[1])
        await task

    asyncio.run(run())


def _bare_app(source: str, paths: list[str]) -> Any:
    """A bare Starlette app answering each of ``paths`` with the bytes, media type and ETag
    storykit gives for it (read once from storykit's own app), and 304 to a request that has
    that ETag: what any app must do at least, with none of storykit's work."""
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import Response
    from starlette.routing import Route
    from starlette.testclient import TestClient

    from storykit.web import create_app

    answers: dict[str, tuple[int, bytes, str, dict[str, str]]] = {}
    with TestClient(create_app(source)) as client:
        for path in paths:
            r = client.get(path, headers={"accept-encoding": "identity"})
            etag = {"ETag": r.headers["etag"]} if "etag" in r.headers else {}
            answers[path] = (r.status_code, r.content, r.headers["content-type"], etag)

    async def answer(request: Request) -> Response:
        query = request.url.query
        status, body, media_type, etag = answers[
            request.url.path + (f"?{query}" if query else "")]
        if etag and request.headers.get("if-none-match") == etag["ETag"]:
            return Response(status_code=304, headers=etag)
        return Response(body, status_code=status, media_type=media_type, headers=etag)

    routes = sorted({p.partition("?")[0] for p in paths})
    return Starlette(routes=[Route(r, answer) for r in routes])


class _Server:
    """A server process (``_serve``) and its base URL; stopped on exit."""

    def __init__(self, kind: str, source: str, paths: list[str], timeout: float) -> None:
        # (spawned, not forked: the server's memory is its own, not a copy of this process's)
        spawn = mp.get_context("spawn")
        ports: Any = spawn.Queue()
        self.kind = kind
        self.proc = spawn.Process(target=_serve, args=(kind, source, paths, ports), daemon=True)
        self.proc.start()
        try:
            self.base = f"http://127.0.0.1:{ports.get(timeout=timeout)}"
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.join(10)
        if self.proc.is_alive():
            self.proc.kill()
            self.proc.join()

    def __enter__(self) -> _Server:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


# --- the client -------------------------------------------------------------------------------


async def _load(base: str, paths: list[str], headers: dict[str, str], seconds: float,
                expect: int, requests: int | None = None) -> dict[str, float]:
    """``CONCURRENCY`` clients requesting ``paths`` in turn for ``seconds`` (or, with
    ``requests``, that many requests): requests/s and the median and 99th percentile latency
    (ms). Every answer must have status ``expect``."""
    import aiohttp

    latencies: list[float] = []
    connector = aiohttp.TCPConnector(limit=CONCURRENCY, force_close=False)
    async with aiohttp.ClientSession(base, connector=connector,
                                     auto_decompress=False) as session:
        turn = iter(range(10**12))
        stop = time.perf_counter() + seconds

        async def worker() -> None:
            while requests is not None or time.perf_counter() < stop:
                i = next(turn)
                if requests is not None and i >= requests:
                    return
                t = time.perf_counter()
                async with session.get(paths[i % len(paths)], headers=headers) as r:
                    await r.read()
                    status = r.status
                latencies.append(time.perf_counter() - t)
                if status != expect:
                    raise AssertionError(f"{base}{paths[i % len(paths)]}: status {status}, "
                                         f"not {expect}")

        start = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))
        elapsed = time.perf_counter() - start
    latencies.sort()
    return {"rps": len(latencies) / elapsed, "requests": len(latencies),
            "p50_ms": statistics.median(latencies) * 1000,
            "p99_ms": latencies[max(0, int(len(latencies) * 0.99) - 1)] * 1000}


def _etag(base: str, path: str) -> str:
    import httpx

    r = httpx.get(base + path, timeout=60)
    r.raise_for_status()
    return r.headers["etag"]


def measure_http(source: str, seconds: float, rounds: int) -> dict[str, Any]:
    """The HTTP goals: both apps served at once, the load alternating between them."""
    paths = ["/stories.json", API_PATH]
    tests: dict[str, tuple[str, int]] = {"304": ("/stories.json", 304), "api": (API_PATH, 200)}
    best: dict[str, dict[str, dict[str, float]]] = {"bare": {}, "storykit": {}}
    runs: dict[str, dict[str, list[dict[str, float]]]] = {"bare": {}, "storykit": {}}
    with _Server("bare", source, paths, 300) as bare, \
            _Server("storykit", source, paths, 300) as sk:
        servers = {"bare": bare, "storykit": sk}
        headers = {kind: {"304": {"if-none-match": _etag(s.base, "/stories.json")},
                          "api": {}} for kind, s in servers.items()}
        for kind, server in servers.items():  # (warm: each answer made once, both apps)
            for test, (path, expect) in tests.items():
                asyncio.run(_load(server.base, [path], headers[kind][test], 0.5, expect))
        for n in range(rounds):
            order = ["bare", "storykit"] if n % 2 == 0 else ["storykit", "bare"]
            for test, (path, expect) in tests.items():
                for kind in order:
                    got = asyncio.run(_load(servers[kind].base, [path], headers[kind][test],
                                            seconds, expect))
                    got["load"] = os.getloadavg()[0]
                    runs[kind].setdefault(test, []).append(got)
                    if got["rps"] > best[kind].get(test, {"rps": 0.0})["rps"]:
                        best[kind][test] = got
    return {"best": best, "runs": runs}


async def _call(app: Any, path: str, headers: dict[str, str]) -> int:
    """One GET of ``path`` straight through the ASGI ``app`` (no server, no socket): the
    response's status."""
    route, _, query = path.partition("?")
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1",
             "method": "GET", "scheme": "http", "path": route, "raw_path": route.encode(),
             "query_string": query.encode(), "root_path": "",
             "headers": [(b"host", b"127.0.0.1"), (b"accept-encoding", b"gzip, deflate, br"),
                         *((k.encode(), v.encode()) for k, v in headers.items())],
             "client": ("127.0.0.1", 50000), "server": ("127.0.0.1", 8000)}
    status = 0

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]

    await app(scope, receive, send)
    return status


def measure_asgi(source: str, calls: int, repeats: int) -> dict[str, Any]:
    """Microseconds per request spent in each app itself (middleware, routing, the endpoint),
    called through ASGI in this process with no server or socket: what a loaded machine's
    noise hides in the HTTP figures. Blocks of ``calls`` alternate; each keeps its best."""
    import gc

    from starlette.testclient import TestClient

    from storykit.web import create_app

    apps = {"bare": _bare_app(source, ["/stories.json", API_PATH]),
            "storykit": create_app(source)}
    with TestClient(apps["storykit"]) as client:
        etag = client.get("/stories.json").headers["etag"]
    tests = {"304": ("/stories.json", {"if-none-match": etag}, 304), "api": (API_PATH, {}, 200)}
    best: dict[str, dict[str, float]] = {"bare": {}, "storykit": {}}

    async def run() -> None:
        for kind, app in apps.items():  # (warm: each answer made once)
            for path, headers, expect in tests.values():
                got = await _call(app, path, headers)
                if got != expect:
                    raise AssertionError(f"{kind} {path}: status {got}, not {expect}")
        for n in range(repeats):
            for test, (path, headers, _) in tests.items():
                for kind in (["bare", "storykit"] if n % 2 == 0 else ["storykit", "bare"]):
                    gc.collect()
                    t = time.perf_counter()
                    for _ in range(calls):
                        await _call(apps[kind], path, headers)
                    us = (time.perf_counter() - t) / calls * 1e6
                    best[kind][test] = min(best[kind].get(test, us), us)

    asyncio.run(run())
    return {"us_per_request": best, "load": os.getloadavg()[0]}


def measure_db(source: str, seconds: float, rounds: int) -> dict[str, Any]:
    """The API answered from SQL (``storykit serve archive.db``) beside a bare app with the
    same bytes, both served at once, the load alternating between them for ``rounds``:

    - **distinct**: :func:`db_paths` in turn, more URLs than the app keeps answers for, so
      that every request is a new page read from the archive (the store's remembered counts
      and orders warm, as on a server that has been up a while: a warm-up pass asks for every
      URL once first, and its own rate is reported as the cold figure);
    - **repeated**: one URL, its answer made once (the app's cache).

    The storykit server's RSS (MB) is sampled every 0.2 s: at the start, after the warm-up,
    its peak and at the end."""
    from starlette.testclient import TestClient

    from storykit.web import create_app

    with TestClient(create_app(source)) as client:
        paths = [path for path in db_paths() if client.get(path).status_code == 200]
    repeated = paths[0]
    tests: dict[str, list[str]] = {"distinct": paths, "repeated": [repeated]}
    best: dict[str, dict[str, dict[str, float]]] = {"bare": {}, "storykit": {}}
    runs: dict[str, dict[str, list[dict[str, float]]]] = {"bare": {}, "storykit": {}}
    with _Server("bare", source, paths, 900) as bare, \
            _Server("storykit", source, paths, 900) as sk:
        servers = {"bare": bare, "storykit": sk}
        assert sk.proc.pid is not None
        pid = sk.proc.pid
        samples = [_rss_mb(pid)]
        rss: dict[str, float] = {"start": samples[0]}
        done = threading.Event()

        def sample() -> None:
            while not done.wait(0.2):
                samples.append(_rss_mb(pid))

        sampler = threading.Thread(target=sample)
        sampler.start()
        try:
            warm: dict[str, Any] = {}
            for kind, server in servers.items():  # (each URL once: the cold figure)
                warm[kind] = _timed(server, lambda s=server: asyncio.run(
                    _load(s.base, paths, {}, 0, 200, requests=len(paths))))
            rss["after_warm_up"] = _rss_mb(pid)
            for n in range(rounds):
                order = ["bare", "storykit"] if n % 2 == 0 else ["storykit", "bare"]
                for test, urls in tests.items():
                    for kind in order:
                        got = _timed(servers[kind], lambda s=servers[kind], u=urls: asyncio.run(
                            _load(s.base, u, {}, seconds, 200)))
                        runs[kind].setdefault(test, []).append(got)
                        if got["rps"] > best[kind].get(test, {"rps": 0.0})["rps"]:
                            best[kind][test] = got
        finally:
            done.set()
            sampler.join()
        rss["end"] = _rss_mb(pid)
        rss["peak"] = max([*samples, rss["end"]])
    return {"urls": len(paths), "repeated_url": repeated, "warm_up": warm, "best": best,
            "runs": runs, "rss_mb": rss}


def _cpu_s(pid: int) -> float:
    """The process's CPU time so far (user and system), in seconds."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _timed(server: _Server, run: Callable[[], dict[str, float]]) -> dict[str, float]:
    """``run()``'s figures, the load average after it, and the server's CPU time per
    request (ms): what one request costs the server, which a shared machine's load does not
    change as much as the rate."""
    assert server.proc.pid is not None
    before = _cpu_s(server.proc.pid)
    got = run()
    got["cpu_ms"] = (_cpu_s(server.proc.pid) - before) / got["requests"] * 1000
    got["load"] = os.getloadavg()[0]
    return got


def db_paths() -> list[str]:
    """The distinct API requests of the database run, in turn (about 2,500: five times as
    many as the app keeps answers for): pages 1-25 of every topic, country, topic and country
    together, full-text search, date range and language, 20 stories a page and 10."""
    from urllib.parse import urlencode

    codes = list(dict.fromkeys(code for _, code in data._PLACES))
    selections: list[dict[str, str]] = [
        *({"topic": t} for t in data._TOPICS), *({"country": c} for c in codes),
        *({"topic": t, "country": c} for t, c in zip(data._TOPICS, codes, strict=False)),
        *({"q": w} for w in ("miners", "nurses", "teachers", "wages", "refugees")),
        {"q": "miners", "country": "LK"}, {"since": "2019-01-01"},
        {"since": "2016-01-01", "until": "2016-12-31"}, {"until": "2013-06-30"},
        {"language": "fr"}, {"language": "es", "topic": "youth"}]
    return [f"/api/stories?{urlencode({**sel, 'page': page, 'per_page': per_page})}"
            for per_page in (20, 10) for page in range(1, 26) for sel in selections]


def _rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


# --- the site export --------------------------------------------------------------------------


def measure_site(source: str, repeats: int) -> dict[str, Any]:
    """Seconds per page of the site writer and of the html writer's pages, alternating, the
    best of ``repeats`` each (the same collection, the same GC state)."""
    import gc

    import storykit
    from storykit.exporters.html import write_pages
    from storykit.exporters.site import SiteExporter

    col = storykit.load(source)
    html_times: list[float] = []
    site_times: list[float] = []
    html_pages = site_pages = site_files = 0
    with tempfile.TemporaryDirectory() as tmp:
        for n in range(repeats):
            for which in (("html", "site") if n % 2 == 0 else ("site", "html")):
                gc.collect()
                t = time.perf_counter()
                if which == "html":
                    html_pages = len(write_pages(col, Path(tmp) / "html", page_size=10))
                    html_times.append(time.perf_counter() - t)
                else:
                    files = SiteExporter().write_pages(col, Path(tmp) / "site", page_size=10)
                    site_times.append(time.perf_counter() - t)
                    site_files = len(files)
                    site_pages = sum(1 for p in files if p.suffix == ".html")
    html_s, site_s = min(html_times), min(site_times)
    return {"stories": len(col), "html_s": html_s, "html_pages": html_pages,
            "site_s": site_s, "site_pages": site_pages, "site_files": site_files,
            "ratio_per_page": (site_s / site_pages) / (html_s / html_pages),
            "load": os.getloadavg()[0]}


# --- live reload ------------------------------------------------------------------------------


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
    """Listens to the server's reload events (as the page does); on each, GETs ``/`` until it
    has ``expected`` (the title just saved), noting when the event came and when the page
    was served."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.expected = ""
        self.events: list[float] = []
        self.served: list[float] = []
        self.ready = threading.Event()
        self.stopped = False
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()
        if not self.ready.wait(30):
            raise RuntimeError(f"no event stream at {base}")

    def _run(self) -> None:
        import httpx

        try:
            with httpx.Client(base_url=self.base, timeout=None) as client, \
                    client.stream("GET", "/_storykit/events") as r:
                for line in r.iter_lines():
                    self.ready.set()
                    if self.stopped:
                        return
                    if line != "data: reload":
                        continue
                    self.events.append(time.perf_counter())
                    deadline = time.monotonic() + 30
                    while time.monotonic() < deadline:
                        if self.expected.encode() in client.get("/").content:
                            self.served.append(time.perf_counter())
                            break
        except httpx.HTTPError:
            pass  # (the server stopped)


def measure_live_reload(edits: int) -> dict[str, Any]:
    """Per edit of the source: seconds to the server's reload event, to the new page served,
    and to the new title on the browser's page."""
    sys.path.insert(0, str(ROOT / "tools"))
    import screenshot
    from playwright.sync_api import sync_playwright

    times: list[float] = []
    events: list[float] = []
    served: list[float] = []
    with tempfile.TemporaryDirectory() as tmp:
        source = Path(tmp) / "stories.json"
        shutil.copy(EXAMPLE, source)
        doc = json.loads(source.read_text(encoding="utf-8"))
        port = _free_port()
        base = f"http://127.0.0.1:{port}"
        proc = subprocess.Popen([sys.executable, "-m", "storykit", "serve", str(source),
                                 "--watch", "--port", str(port)],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        clock: _EventClock | None = None
        try:
            _wait_until_serving(base, proc, 60)
            clock = _EventClock(base)
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
                        clock.expected = f">{title}</h1>"
                        saved = json.dumps({**doc, "title": title}).encode()
                        start = time.perf_counter()
                        source.write_bytes(saved)
                        page.wait_for_function(
                            "t => { const h = document.querySelector('h1');"
                            " return h !== null && h.textContent.trim() === t; }",
                            arg=title, polling="raf", timeout=30_000)
                        times.append(time.perf_counter() - start)
                        deadline = time.monotonic() + 30
                        while len(clock.served) <= n and time.monotonic() < deadline:
                            time.sleep(0.01)  # (the clock's GET may still be on its way)
                        if len(clock.events) > n and len(clock.served) > n:
                            events.append(clock.events[n] - start)
                            served.append(clock.served[n] - start)
                        # (the reloaded page listens again before the next edit)
                        page.wait_for_function(
                            "() => document.querySelector('script[data-events]')")
                        page.wait_for_load_state("load")
                finally:
                    browser.close()
        finally:
            if clock is not None:
                clock.stopped = True
            proc.terminate()
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
    return {"edits": len(times), "browser_median_s": statistics.median(times),
            "browser_max_s": max(times), "browser_s": [round(t, 4) for t in times],
            "event_median_s": statistics.median(events) if events else None,
            "served_median_s": statistics.median(served) if served else None,
            "load": os.getloadavg()[0]}


# --- the table --------------------------------------------------------------------------------


def _met(ok: bool) -> str:
    return "yes" if ok else "**no**"


def table(results: dict[str, Any], command: str) -> str:
    """The figures as a Markdown table, each with its goal and the load beside it."""
    rows = ["| figure | storykit | bare Starlette, same bytes | storykit / bare | goal | met |",
            "| --- | --- | --- | --- | --- | --- |"]
    http = results.get("http")
    if http is not None:
        for test, label, goal in (("304", "conditional `GET /stories.json` -> 304", 2000),
                                  ("api", f"`{API_PATH}`", 500)):
            sk, bare = http["best"]["storykit"][test], http["best"]["bare"][test]
            rows.append(f"| {label}, req/s | {sk['rps']:,.0f} | {bare['rps']:,.0f} | "
                        f"{sk['rps'] / bare['rps']:.2f} | >= {goal:,} | "
                        f"{_met(sk['rps'] >= goal)} |")
            rows.append(f"| same, p99 at {CONCURRENCY} clients (p50), ms | "
                        f"{sk['p99_ms']:.1f} ({sk['p50_ms']:.1f}) | "
                        f"{bare['p99_ms']:.1f} ({bare['p50_ms']:.1f}) | "
                        f"{sk['p99_ms'] / bare['p99_ms']:.2f} | < 50 | "
                        f"{_met(sk['p99_ms'] < 50)} |")
    asgi = results.get("asgi")
    if asgi is not None:
        for test, label in (("304", "the 304"), ("api", "the API page")):
            sk, bare = (asgi["us_per_request"][k][test] for k in ("storykit", "bare"))
            rows.append(f"| {label}: time in the app per request, in process (no server), "
                        f"µs | {sk:.0f} | {bare:.0f} | {sk / bare:.2f} | - | - |")
    site = results.get("site")
    if site is not None:
        rows.append(f"| site export, {site['stories']:,} stories: s per page (site "
                    f"{site['site_pages']:,} pages in {site['site_s']:.1f} s; html "
                    f"{site['html_pages']:,} pages in {site['html_s']:.1f} s) | "
                    f"{site['site_s'] / site['site_pages'] * 1000:.2f} ms | "
                    f"html writer {site['html_s'] / site['html_pages'] * 1000:.2f} ms | "
                    f"{site['ratio_per_page']:.2f} | <= 2x | "
                    f"{_met(site['ratio_per_page'] <= 2)} |")
    live = results.get("live_reload")
    if live is not None:
        def ms(value: float | None) -> str:
            return "-" if value is None else f"{value * 1000:.0f} ms"

        rows.append(f"| live reload, source saved -> SSE event / page served / new title in "
                    f"Chromium (median of {live['edits']}; worst) | {ms(live['event_median_s'])}"
                    f" / {ms(live['served_median_s'])} / {ms(live['browser_median_s'])}; "
                    f"{ms(live['browser_max_s'])} | - | - | < 1 s | "
                    f"{_met(live['browser_max_s'] < 1)} |")
    return _titled("storykit serve and site", results, command, rows)


def db_table(results: dict[str, Any], command: str) -> str:
    """The ``--db`` figures as a Markdown table (issue 23: >= 500 req/s, RSS under 150 MB)."""
    db = results["db"]
    rows = ["| figure | storykit | bare Starlette, same bytes | storykit / bare | goal | met |",
            "| --- | --- | --- | --- | --- | --- |"]
    sk, bare = db["warm_up"]["storykit"], db["warm_up"]["bare"]
    rows.append(f"| warm-up: each of the {db['urls']:,} distinct API URLs once (the store's "
                f"counts and orders cold), req/s; p50 / p99 ms; CPU ms per request | "
                f"{sk['rps']:,.0f}; {sk['p50_ms']:.1f} / {sk['p99_ms']:.1f}; "
                f"{sk['cpu_ms']:.2f} | {bare['rps']:,.0f}; {bare['p50_ms']:.1f} / "
                f"{bare['p99_ms']:.1f}; {bare['cpu_ms']:.2f} | "
                f"{sk['rps'] / bare['rps']:.2f} | - | - |")
    for test, label in (("distinct", f"{db['urls']:,} distinct API URLs in turn (every answer "
                                      "made anew)"),
                        ("repeated", f"one API URL repeated (`{db['repeated_url']}`)")):
        sk, bare = db["best"]["storykit"][test], db["best"]["bare"][test]
        rows.append(f"| {label}, req/s (load average) | {sk['rps']:,.0f} ({sk['load']:.1f}) | "
                    f"{bare['rps']:,.0f} ({bare['load']:.1f}) | {sk['rps'] / bare['rps']:.2f} | "
                    f">= 500 | {_met(sk['rps'] >= 500)} |")
        rows.append(f"| same, p50 / p99 at {CONCURRENCY} clients, ms | {sk['p50_ms']:.1f} / "
                    f"{sk['p99_ms']:.1f} | {bare['p50_ms']:.1f} / {bare['p99_ms']:.1f} | "
                    f"{sk['p99_ms'] / bare['p99_ms']:.2f} (p99) | - | - |")
        rows.append(f"| same, the server's CPU time per request, ms (so one core's capacity, "
                    f"req/s) | {sk['cpu_ms']:.2f} ({1000 / sk['cpu_ms']:,.0f}) | "
                    f"{bare['cpu_ms']:.2f} ({1000 / bare['cpu_ms']:,.0f}) | "
                    f"{sk['cpu_ms'] / bare['cpu_ms']:.2f} | - | - |")
    rss = db["rss_mb"]
    rows.append(f"| storykit server RSS, MB: start / after warm-up / peak / end | "
                f"{rss['start']:.0f} / {rss['after_warm_up']:.0f} / {rss['peak']:.0f} / "
                f"{rss['end']:.0f} | - | - | < 150, flat | "
                f"{_met(rss['peak'] < 150)} |")
    return _titled("storykit serve archive.db", results, command, rows)


def _titled(what: str, results: dict[str, Any], command: str, rows: list[str]) -> str:
    """A table under its title line: what, when, the load average and the command."""
    return "\n".join([
        f"{what} ({time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, "
        f"load average at the start {results['load_start']}, at the end {_load_average()}; "
        f"{os.cpu_count()} CPUs; `{command}`):", "", *rows, ""])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--stories", type=int, default=10_000,
                        help="stories of the HTTP and site runs (10,000)")
    parser.add_argument("--seconds", type=float, default=3.0,
                        help="seconds of load per contender and round (3)")
    parser.add_argument("--rounds", type=int, default=3,
                        help="rounds of the HTTP run, contenders alternating (3)")
    parser.add_argument("--repeats", type=int, default=1,
                        help="exports of each writer in the site run, alternating, best kept "
                             "(1: each takes some 10-40 s; 3 on a quiet machine)")
    parser.add_argument("--edits", type=int, default=5,
                        help="source edits timed for the live reload (5)")
    parser.add_argument("--only", choices=("http", "asgi", "site", "live-reload"),
                        help="run one part")
    parser.add_argument("--db", type=Path, default=None,
                        help="Serve this SQLite archive instead (the API only, from SQL: "
                             "distinct URLs and a repeated one; --seconds and --rounds apply; "
                             "issue 23: >= 500 req/s, RSS under 150 MB). Make one with "
                             "benchmarks/sqlite_bench.py 1000000 --keep.")
    parser.add_argument("--out", type=Path, default=OUT,
                        help="where serve.md and serve.json go (build/bench)")
    args = parser.parse_args(argv)
    command = " ".join(["python benchmarks/serve_bench.py", *(argv or sys.argv[1:])])
    results: dict[str, Any] = {"load_start": _load_average()}
    if args.db is not None:
        results["db"] = measure_db(str(args.db), args.seconds, args.rounds)
        _record(args.out, "serve-db", db_table(results, command), results)
        return 0
    parts: dict[str, Callable[[str], Any]] = {
        "live-reload": lambda _: measure_live_reload(args.edits),
        "http": lambda source: measure_http(source, args.seconds, args.rounds),
        "asgi": lambda source: measure_asgi(source, 2000, 5),
        "site": lambda source: measure_site(source, args.repeats),
    }
    with tempfile.TemporaryDirectory() as tmp:
        source = Path(tmp) / "archive.json"
        source.write_bytes(data.json_bytes(args.stories))
        for name, run in parts.items():
            if args.only in (None, name):
                started = time.perf_counter()
                results[name.replace("-", "_")] = run(str(source))
                print(f"({name}: {time.perf_counter() - started:.0f} s, load average "
                      f"{_load_average()})", file=sys.stderr)
    _record(args.out, "serve", table(results, command), results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
