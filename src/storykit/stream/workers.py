"""Streaming JSON Lines through worker processes: :func:`storykit.stream.stream_export` with
``jobs``.

The reading process splits the file into parts of whole lines, about :data:`PART_BYTES` each,
and keeps a few parts in flight per worker. Each worker checks the stories of its part (the
same code as one process runs, so the same stories and the same errors, numbered by line and
index in the whole file) and renders them with the exporter: the first part with the options
as given, every later part with the exporter's ``continuation_options()``, so the parts
concatenate into what one process writes. The reading process writes the parts in order and
gathers the errors in order.
"""

from __future__ import annotations

import array
import contextlib
import errno
import importlib.util
import io
import os
import signal
import sys
import threading
import time
from collections import deque
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

from storykit import _rules as rules
from storykit.errors import ValidationError
from storykit.read import jsonl

if TYPE_CHECKING:
    from concurrent.futures import Future

    from storykit.errors import ErrorDetail
    from storykit.model import Errors

#: The size of a part of the file given to a worker (bytes, in whole lines).
PART_BYTES = 1024 * 1024
#: Parts in flight per worker: enough that no worker waits while the next part is read.
AHEAD = 2


def workers(jobs: int) -> int:
    """The number of worker processes ``jobs`` asks for: itself, or one per CPU for ``0``."""
    jobs = rules.whole(jobs, "jobs must be an int, 0 (one per CPU) or more")
    if jobs < 0:
        raise ValueError(f"jobs must be 0 (one per CPU) or more, not {jobs}")
    if jobs == 0:
        try:
            return len(os.sched_getaffinity(0))
        except AttributeError:  # pragma: no cover - macOS and Windows
            return os.cpu_count() or 1
    return jobs


def later_options(exporter: Any, options: Mapping[str, Any]) -> dict[str, Any] | None:
    """The options for every part after the first, or None when parts cannot concatenate.

    That is when the exporter has no ``continuation_options()`` or it returns None, or a
    worker could not import the exporter's class by its module's name (a plugin loaded from a
    file by ``--plugins-dir``).
    """
    method = getattr(exporter, "continuation_options", None)
    if method is None:
        return None
    later = method(dict(options))
    if later is None:
        return None
    cls = type(exporter)
    module = sys.modules.get(cls.__module__)
    try:
        found = importlib.util.find_spec(cls.__module__) is not None
    except (ImportError, ValueError):
        found = False
    if not found or module is None or getattr(module, cls.__qualname__, None) is not cls:
        return None
    import pickle

    try:  # what a worker is sent must pickle, the class by its module's name (find_spec()
        # above answers from sys.modules, where --plugins-dir puts a module no import finds)
        pickle.dumps((exporter, dict(options), later))
    except Exception:
        return None
    return dict(later)


class RemoteError(Exception):
    """An exception a worker's exporter raised that could not be sent back as it is (its class
    does not rebuild from a pickle): its type's name and message; its traceback is a note,
    which ``--debug`` shows."""

    def __init__(self, type_name: str, message: str) -> None:
        super().__init__(type_name, message)
        self.type_name = type_name
        self.message = message

    def __str__(self) -> str:
        return self.message


def _sendable(e: BaseException) -> BaseException:
    """``e``, or a :class:`RemoteError` saying the same if ``e`` would not survive the trip to
    the main process (which would then find the pool broken and say only that)."""
    import pickle

    try:
        pickle.loads(pickle.dumps(e))
    except Exception:
        import traceback

        sent = RemoteError(type(e).__name__, str(e))
        sent.add_note("In the worker:\n" + "".join(traceback.format_exception(e)))
        return sent
    return e


def _changed(path: str) -> OSError:
    return OSError(errno.ESTALE, "changed while it was read (replaced or cut short); nothing "
                   "was written: run the command again", path)


def render_part(exporter: Any, options: dict[str, Any], path: str, span: tuple[int, int], *,
                first_line: int, first_index: int, source: str,
                identity: tuple[int, int] | None = None,
                ) -> tuple[bytes, str, list[ErrorDetail]]:
    """In a worker: check the stories on the lines of ``path`` in the byte ``span`` (whole
    lines), and render them.

    ``identity`` is the ``(st_dev, st_ino)`` of the file the main process split: a file put
    in its place since, or cut short, is an OSError (its parts would not be the ones the main
    process found, and one process reads the file it opened).

    Returns the rendered bytes, the ids joined by newlines (an id holds none: those of the valid
    stories and those the others give) and the problems. When there are problems no bytes are
    returned: the output is void.
    """
    from storykit.collection import Collection

    start, end = span
    with open(path, "rb") as f:
        if identity is not None:
            st = os.fstat(f.fileno())
            if (st.st_dev, st.st_ino) != identity:
                raise _changed(source)
        f.seek(start)
        data = f.read(end - start)
    if len(data) != end - start:
        raise _changed(source)
    errors: Errors = []
    ids: list[str] = []
    stories = jsonl.part_stories(data, first_line, first_index, source, errors=errors, ids=ids)
    buf = io.BytesIO()
    try:
        exporter.write_stream(Collection(), stories, buf, **options)
    except Exception as e:
        sent = _sendable(e)
        if sent is e:
            raise
        raise sent from None
    return b"" if errors else buf.getvalue(), "\n".join(ids), errors


def _watch_parent(parent: int) -> None:
    """In a worker, at its start: end it when the main process is gone.

    A main process that is killed (SIGTERM, SIGKILL, out of memory) never shuts the pool
    down, and its workers would wait for parts forever, holding the caller's pipes open.
    """
    if hasattr(signal, "pthread_sigmask"):  # (held back while the main process started it)
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGTERM})

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(0.5)
        os._exit(1)

    threading.Thread(target=watch, name="storykit-watch-parent", daemon=True).start()


@contextlib.contextmanager
def _children_hold_ctrl_c() -> Iterator[None]:
    """Hold Ctrl-C back while the block may start a worker, which inherits that from its start.

    A terminal sends SIGINT to the whole process group: the main process stops the pool and
    reports once, and a worker, even one still starting up, prints no traceback of its own.
    SIGINT is blocked, not ignored: a worker keeps it blocked for good, and one that arrives
    during the block is delivered to the main process after it, not lost. (Where signals
    cannot be blocked, as on Windows, it is ignored during the block; only the main thread
    can set a handler, and elsewhere the block runs as it is.)

    SIGTERM is held back too, until the worker has started (its initializer lets it through):
    the command turns SIGTERM into an exception, which, raised while a worker was being
    started, cut it off before it got its start-up data, and that worker printed a traceback
    ("EOFError: Ran out of input") under the command's one line.
    """
    if hasattr(signal, "pthread_sigmask"):
        previous_mask = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})
        try:
            yield
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, previous_mask)
        return
    if threading.current_thread() is not threading.main_thread():  # pragma: no cover
        yield
        return
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)  # pragma: no cover - Windows
    try:  # pragma: no cover
        yield
    finally:  # pragma: no cover
        signal.signal(signal.SIGINT, previous)


def export(path: Path, exporter: Any, out: BinaryIO, options: Mapping[str, Any], *,
           source: str, later: dict[str, Any], jobs: int, errors: Errors,
           ids: array.array[int]) -> None:
    """Check and render the JSON Lines file ``path`` with ``jobs`` workers, writing to ``out``.

    Problems go to ``errors`` in the order of the file, and the hash of each id to ``ids``,
    as :meth:`storykit.read.lines.LineFile.checked` gives them; after the first problem
    nothing more is written.
    """
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    pending: deque[Future[tuple[bytes, str, list[ErrorDetail]]] | list[ErrorDetail]] = deque()
    add_ids = ids.extend

    def settle() -> None:
        part = pending.popleft()
        if isinstance(part, list):  # a problem found while reading (a line too long)
            errors.extend(part)
            return
        data, id_lines, problems = part.result()
        errors.extend(problems)
        if not errors:
            out.write(data)
        if id_lines:
            add_ids(map(hash, id_lines.split("\n")))

    pool = ProcessPoolExecutor(jobs, mp_context=multiprocessing.get_context("spawn"),
                               initializer=_watch_parent, initargs=(os.getpid(),))
    try:
        submitted = 0

        def submit(span: tuple[int, int], first_line: int, first_index: int) -> None:
            nonlocal submitted
            with _children_hold_ctrl_c():  # (a submit may start a worker)
                pending.append(pool.submit(
                    render_part, exporter, later if submitted else dict(options), str(path), span,
                    first_line=first_line, first_index=first_index, source=source,
                    identity=identity))
            submitted += 1
            while len(pending) > AHEAD * jobs:
                settle()

        # The workers read their parts themselves: only line numbers and offsets are sent,
        # and which file this is, so that a worker reads no other put in its place.
        with path.open("rb") as f:
            st = os.fstat(f.fileno())
            identity = (st.st_dev, st.st_ino)
            jsonl.skip_bom(f)  # (as one process reads the first line)
            for part in jsonl.parts(f, source, PART_BYTES):
                if isinstance(part, ValidationError):  # (a line too long)
                    pending.append(list(part.errors))
                    continue
                start, data, first_line, first_index = part
                submit((start, start + len(data)), first_line, first_index)
            if not submitted:  # (an empty file still gets a first part: a header)
                submit((0, 0), 1, 0)
        while pending:
            settle()
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
