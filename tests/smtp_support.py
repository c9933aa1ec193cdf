"""An SMTP server for the tests: aiosmtpd's protocol on 127.0.0.1, on a port the system picks
(bound to port 0 and held from then on: no "free port" found first and bound later, which
another process may take in between), in a thread with its own event loop, stopped and joined
whatever the test did."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from aiosmtpd.smtp import SMTP

DEADLINE = 60.0  # seconds to start or to stop: only a real hang takes that long


@contextmanager
def smtp_server(handler: Any) -> Iterator[int]:
    """Serve SMTP with ``handler`` (aiosmtpd's handler hooks) while the block runs; its port."""
    loop = asyncio.new_event_loop()
    ready = threading.Event()
    started: list[asyncio.Server | BaseException] = []

    def run() -> None:
        asyncio.set_event_loop(loop)
        try:
            server = loop.run_until_complete(
                loop.create_server(lambda: SMTP(handler), host="127.0.0.1", port=0))
        except BaseException as e:
            started.append(e)
            ready.set()
            return
        started.append(server)
        ready.set()
        try:
            loop.run_forever()
        finally:
            server.close()
            loop.run_until_complete(server.wait_closed())
            tasks = asyncio.all_tasks(loop)  # (sessions still open)
            for task in tasks:
                task.cancel()
            loop.run_until_complete(asyncio.gather(*tasks, return_exceptions=True))
            loop.run_until_complete(loop.shutdown_default_executor())

    thread = threading.Thread(target=run, name="smtp server", daemon=True)
    thread.start()
    try:
        assert ready.wait(DEADLINE), "the SMTP server did not start"
        [server] = started
        if isinstance(server, BaseException):
            raise server
        port: int = server.sockets[0].getsockname()[1]
        yield port
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join(DEADLINE)
        if not thread.is_alive():
            loop.close()
        assert not thread.is_alive(), "the SMTP server did not stop"
