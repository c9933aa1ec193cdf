"""What the app serves, and how it changes: the store, the rendered site, watching the source.

:class:`Content` holds the current :class:`~storykit.store.Store` and the errors of the last
edit (``--watch``). Every response's validators derive from :meth:`Content.version`, so a
change of content or of the error banner changes every ETag.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from storykit.store import MemoryStore, Store

__all__ = ["Content", "open_store"]

#: Answers kept per content version (a store of any size is paged through in flat memory),
#: and the bytes they may hold together (a crawler fetching every 6 MB part of a big sitemap
#: must not fill the memory): the least recently used answers go first.
_CACHED = 512
_CACHED_BYTES = 32 * 1024 * 1024


def _size(value: Any) -> int:
    """The bytes an answer holds: its own, or its body's (other values count as nothing)."""
    if isinstance(value, bytes):
        return len(value)
    data = getattr(value, "data", None)
    return len(data) if isinstance(data, bytes) else 0


def open_store(source: str | os.PathLike[str]) -> Store:
    """A store for ``source``: an SQLite archive (``.db``, ``.sqlite``, ``.sqlite3``) answered
    from SQL by :class:`storykit.sqlite.SqliteStore`, anything else loaded by
    :func:`storykit.load` into a :class:`MemoryStore`. Raises
    :class:`~storykit.ValidationError` (and the loader's other errors) as ``load``."""
    path = Path(source)
    if path.suffix.lower() in (".db", ".sqlite", ".sqlite3"):
        from storykit.sqlite import SqliteStore

        store: Store = SqliteStore(path)
        return store
    import storykit

    return MemoryStore(storykit.load(path))


class Content:
    """The store being served, the errors of a broken edit, and who to tell of a change."""

    def __init__(self, store: Store, source: Path | None = None) -> None:
        self.store = store
        self.source = source
        #: The problems of the source as last saved, one line each (empty when it is valid).
        self.errors: list[str] = []
        self.changed_at = datetime.now(UTC)
        self._lock = threading.Lock()
        self._cache: dict[Any, tuple[Any, int]] = {}
        self._cache_bytes = 0
        self._cache_version = ""
        self._listeners: set[asyncio.Queue[str]] = set()

    def version(self) -> str:
        """The store's version, and the error banner's."""
        if not self.errors:
            return self.store.version()
        banner = hashlib.sha256("\n".join(self.errors).encode()).hexdigest()[:12]
        return f"{self.store.version()}-{banner}"

    def cached(self, key: Any, make: Callable[[], Any]) -> Any:
        """``make()``'s result for ``key`` until the content changes (at most :data:`_CACHED`
        answers of :data:`_CACHED_BYTES` together are kept; a bigger one is made each time)."""
        version = self.version()
        with self._lock:
            if version != self._cache_version:
                self._cache = {}
                self._cache_bytes = 0
                self._cache_version = version
            if key in self._cache:  # (the newest use goes last: the oldest goes first)
                entry = self._cache[key] = self._cache.pop(key)
                return entry[0]
        value = make()
        size = _size(value)
        with self._lock:
            if version == self._cache_version and key not in self._cache and (
                    size <= _CACHED_BYTES):
                # (the least recently used go: memory stays flat)
                while self._cache and (len(self._cache) >= _CACHED
                                       or self._cache_bytes + size > _CACHED_BYTES):
                    self._cache_bytes -= self._cache.pop(next(iter(self._cache)))[1]
                self._cache[key] = (value, size)
                self._cache_bytes += size
        return value

    def reload(self) -> bool:
        """Load the source again: a valid one replaces the store, a broken one keeps it and
        sets :attr:`errors`. Returns whether anything visible changed."""
        from storykit.errors import ValidationError

        assert self.source is not None
        before = self.version()
        try:
            store = open_store(self.source)
        except ValidationError as e:
            self.errors = [str(d) for d in e.errors] or [str(e)]
        except (OSError, ValueError) as e:
            self.errors = [f"{self.source}: {e}"]
        else:
            self.store = store
            self.errors = []
        changed = self.version() != before
        if changed:
            self.changed_at = datetime.now(UTC)
        return changed

    # --- server-sent events -------------------------------------------------------------------

    def listen(self) -> asyncio.Queue[str]:
        queue: asyncio.Queue[str] = asyncio.Queue()
        self._listeners.add(queue)
        return queue

    def unlisten(self, queue: asyncio.Queue[str]) -> None:
        self._listeners.discard(queue)

    def notify(self, event: str) -> None:
        """Tell every open page (``reload``, or ``close`` when the server stops)."""
        for queue in list(self._listeners):
            queue.put_nowait(event)

    async def watch(self, stop: asyncio.Event) -> None:
        """Reload the source whenever it is saved, until ``stop`` is set."""
        from watchfiles import awatch

        assert self.source is not None
        target = self.source.resolve()
        async for changes in awatch(target.parent, stop_event=stop, debounce=50, step=20):
            if not any(Path(p).resolve() == target for _, p in changes):
                continue
            changed = await asyncio.to_thread(self.reload)
            if changed:
                self.notify("reload")
