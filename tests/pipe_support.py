"""Named pipes for the tests: a thread at the other end that is always ended, never left
blocked, whatever the test did (or failed to do) with the pipe, and however late the system
schedules that thread.

Why this needs care: opening a FIFO blocks until the other end is opened too. A test that
ends its writer thread by opening the pipe for reading "if the writer is still alive" hangs
for ever when the writer has already closed its end but its thread has not ended yet (on a
busy machine it can stay in that state for a long time): that open waits for a writer that
will never come. Here the cleanup opens its end with ``O_NONBLOCK``, which never blocks, and
reads it until the writer says it is done with its end (an event), with a deadline.
"""

from __future__ import annotations

import fcntl
import os
import select
import struct
import termios
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

DEADLINE = 60.0  # seconds: far beyond any healthy run, so only a real hang ends a test here


def _unread(fd: int) -> int:
    """The bytes written into the pipe of ``fd`` and not read yet."""
    got = fcntl.ioctl(fd, termios.FIONREAD, struct.pack("i", 0))
    count: int = struct.unpack("i", got)[0]
    return count


def _wait_until_read(fd: int) -> None:
    """Wait (polling, with a deadline) until the reader has taken every byte written to the
    pipe of ``fd``; BrokenPipeError if it has no reader any more."""
    poller = select.poll()
    poller.register(fd, select.POLLOUT)
    deadline = time.monotonic() + DEADLINE
    while _unread(fd):
        if any(event & select.POLLERR for _, event in poller.poll(0)):
            raise BrokenPipeError("the pipe's reader closed its end")
        if time.monotonic() > deadline:
            raise TimeoutError("the reader took nothing for a minute")
        time.sleep(0.001)


@contextmanager
def feeding(fifo: Path, data: bytes, *, pieces: int = 1,
            linger: threading.Event | None = None) -> Iterator[threading.Thread]:
    """A named pipe ``fifo`` (made here, removed after) and a thread writing ``data`` into it
    while the block runs.

    ``pieces > 1`` writes it in that many parts, each only once the reader has taken the one
    before: every read the reader makes comes back short, with more to follow. A reader that
    stops early (at a size limit) is not an error. With ``linger``, the writer closes its end
    and then waits for that event, which is set only after the pipe is drained: the state of a
    writer that the system has not scheduled again yet.
    """
    os.mkfifo(fifo)
    failed: list[BaseException] = []
    closed = threading.Event()  # set once the writer is done with its end of the pipe

    def write() -> None:
        try:
            fd = os.open(fifo, os.O_WRONLY)
        except BaseException as e:  # (reported by the test's thread, after the join)
            failed.append(e)
            closed.set()
            return
        try:
            step = -(-len(data) // pieces)
            for start in range(0, len(data), step):
                view = memoryview(data)[start:start + step]
                while view:
                    view = view[os.write(fd, view):]
                if pieces > 1:
                    _wait_until_read(fd)
        except BrokenPipeError:  # the reader stopped at its limit
            pass
        except BaseException as e:
            failed.append(e)
        finally:
            os.close(fd)
            closed.set()
        if linger is not None:
            linger.wait(DEADLINE)

    writer = threading.Thread(target=write, name=f"writer of {fifo.name}", daemon=True)
    writer.start()
    try:
        yield writer
    finally:
        try:
            _drain(fifo, closed)
        finally:
            if linger is not None:
                linger.set()
            writer.join(DEADLINE)
            fifo.unlink()
        assert not writer.is_alive(), "the pipe's writer did not end"
        if failed:
            raise failed[0]


def _drain(fifo: Path, closed: threading.Event) -> None:
    """Read the pipe until its writer is done with its end (``closed``).

    Not "while the writer's thread is alive": that thread may have closed its end long
    before it ends. The reading end is opened without blocking (it never waits for a writer)
    and kept open meanwhile: a writer still waiting to open the pipe gets this reader, and
    one still writing finds its bytes taken, so it always reaches its end.
    """
    fd = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)
    try:
        deadline = time.monotonic() + DEADLINE
        while not closed.is_set():
            if time.monotonic() > deadline:
                raise TimeoutError("the pipe's writer wrote nothing for a minute")
            ready, _, _ = select.select([fd], [], [], 0.05)
            if ready:
                with suppress(BlockingIOError):
                    os.read(fd, 1 << 16)
    finally:
        os.close(fd)


@contextmanager
def draining(fifo: Path) -> Iterator[list[bytes]]:
    """A named pipe ``fifo`` (made here, removed after) and a thread reading it whole while
    the block runs; the list gets its bytes once the writer has closed its end.

    After the block, a reader still waiting for a writer (the block failed before it opened
    the pipe) is given one, opened without blocking, and closed: it reads an empty pipe.
    """
    os.mkfifo(fifo)
    got: list[bytes] = []
    reader = threading.Thread(target=lambda: got.append(fifo.read_bytes()),
                              name=f"reader of {fifo.name}", daemon=True)
    reader.start()
    try:
        yield got
    finally:
        try:
            deadline = time.monotonic() + DEADLINE
            while reader.is_alive() and time.monotonic() < deadline:
                # (refused while no reader has opened the pipe yet: try again)
                with suppress(OSError):
                    os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
                reader.join(0.05)
        finally:
            reader.join(DEADLINE)
            fifo.unlink()
        assert not reader.is_alive(), "the pipe's reader did not end"
