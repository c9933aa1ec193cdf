"""The whole test suite on an oversubscribed machine, several times in a row (``make stress-test``).

Each run is ``pytest -n 4`` (four workers, whatever the number of cores) while a CPU-bound
burner process runs beside it; then the tests marked ``concurrency`` (those that start threads,
processes, servers, browsers or watchers) run ``--count`` times each, under the same load.
Every run must pass. The burner is started here and killed here, whatever happens.

    python tools/stress_test.py [--runs 5] [--count 10] [--workers 4] [pytest args...]
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time

BURN = "while True: pass"


def pytest(args: list[str]) -> tuple[int, float]:
    """Run pytest with ``args``; its exit code and how long it took (seconds)."""
    env = dict(os.environ)
    if "--count" in args:  # (see the "repeat" profile in conftest.py)
        env["HYPOTHESIS_PROFILE"] = "repeat"
    start = time.monotonic()
    code = subprocess.call([sys.executable, "-m", "pytest", *args], env=env)
    return code, time.monotonic() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="whole-suite runs (default 5)")
    parser.add_argument("--count", type=int, default=10,
                        help="repeats of each concurrency test (default 10; 0 to skip)")
    parser.add_argument("--workers", type=int, default=4, help="pytest -n (default 4)")
    options, extra = parser.parse_known_args()
    # SIGTERM (make killed, a CI timeout) unwinds as Ctrl-C does, so the burner goes too.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    burner = subprocess.Popen([sys.executable, "-c", BURN])
    failed: list[str] = []
    try:
        plan = [(f"run {i} of {options.runs}", ["-n", str(options.workers), "-q", *extra])
                for i in range(1, options.runs + 1)]
        if options.count:
            plan.append((f"concurrency tests x{options.count}",
                         ["-n", str(options.workers), "-q", "-m", "concurrency",
                          "--count", str(options.count), *extra]))
        for name, args in plan:
            print(f"stress-test: {name} (pytest {' '.join(args)}, beside a CPU burner)",
                  flush=True)
            code, took = pytest(args)
            print(f"stress-test: {name}: {'passed' if code == 0 else 'FAILED'} in {took:.0f} s",
                  flush=True)
            if code != 0:
                failed.append(name)
    finally:
        burner.kill()
        burner.wait()
    if failed:
        print(f"stress-test: failed: {', '.join(failed)}", flush=True)
        return 1
    print(f"stress-test: all {len(plan)} passed", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
