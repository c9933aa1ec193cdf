"""Whole downloads from ``storykit serve archive.db``: time and the server's peak RSS (issue 23).

    python benchmarks/serve_stream_bench.py ARCHIVE [URL ...]            # one after another
    python benchmarks/serve_stream_bench.py ARCHIVE --together URL ...   # all at once

Make ARCHIVE with ``python benchmarks/sqlite_bench.py 1000000 --keep``. The server is
``storykit serve ARCHIVE`` in its own process (``--storykit`` picks another installation's, to
compare two side by side); each URL is fetched whole by curl, its body thrown away; the
server's VmRSS is sampled every 0.1 s. A URL may end in ``|gzip`` or ``|br`` to ask for that
coding. Default URLs: a big topic's Atom feed, then all stories as JSON and as CSV (goal: RSS
under 150 MB, flat). The load average is printed beside every figure: on a shared machine the
times are inflated by it, the RSS is not.
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

DEFAULT_URLS = ["/topics/youth.atom", "/stories.json", "/stories.csv"]


def _rss(pid: int) -> int:
    """The process's resident memory, MB."""
    with open(f"/proc/{pid}/status", encoding="ascii") as f:
        return next(int(line.split()[1]) // 1024 for line in f if line.startswith("VmRSS:"))


def _load() -> str:
    return " ".join(f"{x:.1f}" for x in os.getloadavg())


class _Peak:
    """The peak RSS of ``pid`` while the block runs."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.peak = 0
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._sample)

    def _sample(self) -> None:
        while not self._done.is_set():
            self.peak = max(self.peak, _rss(self.pid))
            time.sleep(0.1)

    def __enter__(self) -> _Peak:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._done.set()
        self._thread.join()


def _curl(base: str, url: str) -> list[str]:
    path, _, coding = url.partition("|")
    return ["curl", "-s", "-o", "/dev/null", "-H", f"accept-encoding: {coding or 'identity'}",
            "-w", "%{http_code} %{size_download} %{time_total}", base + path]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("archive", type=Path)
    parser.add_argument("urls", nargs="*", default=DEFAULT_URLS)
    parser.add_argument("--together", action="store_true", help="fetch every URL at once")
    parser.add_argument("--storykit", default=str(Path(sys.executable).with_name("storykit")),
                        help="the storykit command that serves (default: this Python's)")
    args = parser.parse_intermixed_args()
    if shutil.which("curl") is None:
        sys.exit("serve_stream_bench needs curl")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = subprocess.Popen([args.storykit, "serve", str(args.archive), "--port", str(port)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        while subprocess.run(["curl", "-sf", "-o", "/dev/null", base + "/api/topics"],
                             check=False).returncode:
            if server.poll() is not None:
                sys.exit("the server did not start")
            time.sleep(0.1)
        print(f"{args.storykit} serve {args.archive}: RSS {_rss(server.pid)} MB after start "
              f"(load {_load()})")
        if args.together:
            with _Peak(server.pid) as peak:
                start = time.monotonic()
                procs = [subprocess.Popen(_curl(base, url), stdout=subprocess.PIPE, text=True)
                         for url in args.urls]
                outs = [p.communicate()[0] for p in procs]
            for url, out in zip(args.urls, outs, strict=True):
                status, size, took = out.split()
                print(f"{url}: {status}, {int(size):,} bytes in {float(took):.1f} s")
            print(f"all {len(args.urls)} at once: {time.monotonic() - start:.1f} s; RSS peak "
                  f"{peak.peak} MB, after {_rss(server.pid)} MB (load {_load()})")
            return
        for url in args.urls:
            before = _rss(server.pid)
            with _Peak(server.pid) as peak:
                out = subprocess.run(_curl(base, url), capture_output=True, text=True,
                                     check=True).stdout
            status, size, took = out.split()
            print(f"{url}: {status}, {int(size):,} bytes in {float(took):.1f} s; RSS before "
                  f"{before} MB, peak {peak.peak} MB, after {_rss(server.pid)} MB "
                  f"(load {_load()})", flush=True)
    finally:
        server.terminate()
        server.wait()


if __name__ == "__main__":
    main()
