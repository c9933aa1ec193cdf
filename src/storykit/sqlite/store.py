"""SqliteStore: the web app's content store, answered from SQL without loading the archive."""

from __future__ import annotations

import os
import sqlite3
import threading
from pathlib import Path
from typing import Any

from storykit.collection import Collection
from storykit.convert import collection_from_data
from storykit.model import Story
from storykit.sqlite.reader import Selection, connect, meta_data, stories_data, story_rows

__all__ = ["SqliteStore"]

#: As Collection.sort(reverse=True) orders them: ties by id.
_NEWEST_FIRST = "published_at DESC, id"
#: Counts of selections remembered (the oldest forgotten first).
_CACHED = 256


class SqliteStore:
    """The stories of an SQLite archive, as ``storykit serve`` asks for them.

    Every call is a few indexed queries: the archive is never loaded whole, so memory does not
    grow with its size. One read-only connection is shared by every thread (one call at a
    time). :meth:`version` changes whenever another process writes the archive.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self._conn: sqlite3.Connection = connect(self.path)
        self._file = self._identity()
        self._lock = threading.Lock()
        self._counts: dict[tuple[str, tuple[Any, ...]], int] = {}
        self._meta_data: dict[str, Any] | None = None
        self._stamp: tuple[Any, ...] = ()

    def _identity(self) -> tuple[int, int]:
        st = os.stat(self.path)
        return st.st_dev, st.st_ino

    def _fresh(self) -> sqlite3.Connection:
        """The connection, opened again if the archive was replaced by a new file (as
        ``storykit export`` does); called with the lock held."""
        try:
            now = self._identity()
        except FileNotFoundError:
            return self._conn  # (being replaced: the old file still answers)
        if now != self._file:
            conn = connect(self.path)
            self._conn.close()
            self._conn, self._file = conn, now
        return self._conn

    def close(self) -> None:
        self._conn.close()

    def __enter__(self) -> SqliteStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _collection(self, data: list[dict[str, Any]], meta: dict[str, Any]) -> Collection:
        return collection_from_data({**meta, "stories": data}, source=str(self.path))

    def meta(self) -> Collection:
        """The collection's title, description, url, language and contacts; no stories."""
        with self._lock:
            meta = self._meta(self._fresh())
        return self._collection([], meta)

    def query(self, *, topic: Any = None, country: Any = None, since: Any = None,
              until: Any = None, language: str | None = None, text: str | None = None,
              offset: int = 0, limit: int | None = None) -> tuple[list[Story], int]:
        """The matching stories, newest first, from ``offset`` (at most ``limit`` of them),
        and how many match in all."""
        if offset < 0 or (limit is not None and limit < 0):
            raise ValueError(f"offset and limit must not be negative (got {offset}, {limit})")
        sel = Selection(topic=topic, country=country, since=since, until=until,
                        language=language, text=text)
        with self._lock:
            conn = self._fresh()
            sel.check(conn)
            total = self._count(conn, sel)
            wanted = offset + (total if limit is None else limit)
            if not total or offset >= total or limit == 0:
                return [], total
            # Matches spread over the archive: walking it newest first meets the ones wanted
            # after about wanted * all / total rows. Fewer than the matches: walk the date
            # index and stop at the LIMIT; else look the matches up and sort them.
            everything = self._count(conn, Selection())
            scan = sel.rowids is not None and wanted * everything < total * total
            rows = story_rows(conn, sel, order=_NEWEST_FIRST, offset=offset, limit=limit,
                              scan=scan)
            data = stories_data(conn, rows)
            meta = self._meta(conn)
        return list(self._collection(data, meta)), total

    def _count(self, conn: sqlite3.Connection, sel: Selection) -> int:
        """How many stories ``sel`` selects, remembered until the archive changes (a page of
        a big selection then reads only its own rows); called with the lock held."""
        self._check_cache(conn)
        key = (sel.sql, sel.params)
        got = self._counts.get(key)
        if got is None:
            got = conn.execute(sel.count_sql(), sel.params).fetchone()[0]
            if len(self._counts) >= _CACHED:
                self._counts.pop(next(iter(self._counts)))
            self._counts[key] = got
        return got

    def _meta(self, conn: sqlite3.Connection) -> dict[str, Any]:
        self._check_cache(conn)
        if self._meta_data is None:
            self._meta_data = meta_data(conn)
        return self._meta_data

    def _check_cache(self, conn: sqlite3.Connection) -> None:
        """Forget the counts and metadata if the archive changed since they were read."""
        stamp = (self._file, conn.execute("PRAGMA data_version").fetchone()[0])
        if stamp != self._stamp:
            self._counts.clear()
            self._meta_data = None
            self._stamp = stamp

    def get(self, id: str) -> Story | None:
        """The story with this id, or None."""
        with self._lock:
            rows = self._fresh().execute(
                "SELECT rowid, id, title, published, summary, body, url, language, updated, "
                "topics, countries FROM stories WHERE id = ?", (id,)).fetchall()
            if not rows:
                return None
            data = stories_data(self._conn, rows)
            meta = self._meta(self._conn)
        return self._collection(data, meta).stories[0]

    def counts(self, key: str) -> dict[str, int]:
        """How many stories have each topic (``key="topic"``) or country (``"country"``),
        most first."""
        if key == "topic":
            sql = ("SELECT t.name, count(*) AS n FROM story_topics AS st "
                   "JOIN topics AS t ON t.id = st.topic GROUP BY t.id ORDER BY n DESC, t.name")
        elif key == "country":
            sql = ("SELECT country, count(*) AS n FROM story_countries "
                   "GROUP BY country ORDER BY n DESC, country")
        else:
            raise ValueError(f"cannot count by {key!r} (choose topic or country)")
        with self._lock:
            return dict(self._fresh().execute(sql).fetchall())

    def collection(self, **criteria: Any) -> Collection:
        """The matching stories, whole, newest first, with the collection's metadata."""
        stories, _ = self.query(**criteria)
        return self.meta().replace(stories)

    def version(self) -> str:
        """A string that changes whenever the archive's content changes (another process's
        commit, or the file replaced)."""
        try:
            st = os.stat(self.path)
            stamp = f"{st.st_ino}-{st.st_size}-{st.st_mtime_ns}"
        except FileNotFoundError:
            stamp = "gone"
        with self._lock:
            data_version = self._fresh().execute("PRAGMA data_version").fetchone()[0]
        return f"{data_version}-{stamp}"
