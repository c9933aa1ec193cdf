"""SqliteStore: the web app's content store, answered from SQL without loading the archive."""

from __future__ import annotations

import os
import sqlite3
import threading
from array import array
from collections import OrderedDict
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

from storykit import _rules as rules
from storykit.collection import Collection
from storykit.convert import collection_from_data
from storykit.model import Story
from storykit.sqlite.reader import (
    Selection,
    connect,
    meta_data,
    page_data,
    story_rows,
    written_stories,
)
from storykit.store import check_window

__all__ = ["SqliteStore"]

#: As Collection.sort(reverse=True) orders them: ties by id.
_NEWEST_FIRST = "published_at DESC, id"
#: The same order backwards.
_OLDEST_FIRST = "published_at, id DESC"
#: Selections whose totals and order are remembered (the least recently used forgotten first).
_CACHED = 256
#: A selection's order is remembered for its first stories only (pages past them are found
#: with an OFFSET): at most 8 bytes each, so that memory stays flat.
_PREFIX = 5_000
#: Stories the order of a selection is first read for (it then doubles as pages ask).
_FIRST = 200
#: The whole archive's order newest first is marked every this many stories (its date, and
#: how many stories of that date come before it): a page anywhere is then read from the mark
#: before it, walking at most this many stories (and those of one date) past it.
_STEP = 500
#: Stories' last changes read at a time (:meth:`SqliteStore.lastmods`).
_CHUNK = 1000
#: Stories :meth:`SqliteStore.stream` reads at a time.
_STREAM_PAGE = 1000
#: The page cache of a stream's own connection (KiB): one pass in order gains nothing from a
#: bigger one (measured: as fast as 16 MiB, 24 MB less), and a selection's order sorted
#: beyond it goes to a temporary file, so that streams at once stay small.
_STREAM_CACHE_KIB = 2 * 1024


#: SQLite's page cache per connection (KiB): the B-trees' inner pages stay in it, so that
#: a page's rows cost a read of their own pages. Reads are not memory-mapped: a map counts
#: every page it touched in the server's resident memory, and the pages of a big archive
#: asked for at random gain little from it.
_CACHE_KIB = 16 * 1024


def _connect(path: Path) -> sqlite3.Connection:
    """A read-only connection (:func:`~storykit.sqlite.reader.connect`) with the store's
    bounded cache and no memory map."""
    conn = connect(path)
    conn.execute("PRAGMA mmap_size = 0")
    conn.execute(f"PRAGMA cache_size = -{_CACHE_KIB}")
    return conn


class _Order:
    """The rowids of a selection's stories newest first, as far as pages have asked, and the
    sort key of the last one (the next ones are read from there: no OFFSET)."""

    __slots__ = ("done", "last", "lock", "rowids")

    def __init__(self) -> None:
        self.rowids = array("q")
        self.last: tuple[int, str] | None = None
        self.done = False
        self.lock = threading.Lock()


class SqliteStore:
    """The stories of an SQLite archive, as ``storykit serve`` asks for them.

    A page is three queries for its stories whole (the stories joined with their images, then
    their links and translations together), looked up by rowid; the rows are rebuilt as the
    writer wrote them, not checked again (:func:`~storykit.sqlite.reader.written_stories`).
    The order of each selection's first stories and how many match are remembered until the
    archive changes, so that a page of a big selection reads only its own rows. The archive is
    never loaded whole, so memory does not grow with its size. Each thread reads through its
    own read-only connection (a bounded page cache, no memory map). :meth:`version` changes
    whenever another process writes the archive.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        #: Answers PRAGMA data_version (a property of one connection): the archive's changes.
        self._watch = _connect(self.path)
        self._file = self._identity()
        self._local = threading.local()
        self._opened: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        self._counts: OrderedDict[tuple[str, tuple[Any, ...]], int] = OrderedDict()
        self._orders: OrderedDict[tuple[str, tuple[Any, ...]], _Order] = OrderedDict()
        self._tallies: dict[str, dict[str, int]] = {}
        #: The marks of the whole archive's order (:data:`_STEP`): each mark's published_at,
        #: and how many stories of that instant come before it; None until a page needs them.
        self._marks: tuple[array[int], array[int]] | None = None
        self._marks_lock = threading.Lock()
        self._meta_collection: Collection | None = None
        self._stamp: tuple[Any, ...] = ()

    def _identity(self) -> tuple[int, int]:
        st = os.stat(self.path)
        return st.st_dev, st.st_ino

    def _check(self) -> None:
        """Open the archive again if it was replaced by a new file (as ``storykit export``
        does), and forget what was remembered of it if it changed."""
        with self._lock:
            try:
                now = self._identity()
            except FileNotFoundError:
                now = self._file  # (being replaced: the old file still answers)
            if now != self._file:
                conn = _connect(self.path)
                self._watch.close()
                self._watch, self._file = conn, now
            stamp = (self._file, self._watch.execute("PRAGMA data_version").fetchone()[0])
            if stamp != self._stamp:
                self._counts.clear()
                self._orders.clear()
                self._tallies.clear()
                self._marks = None
                self._meta_collection = None
                self._stamp = stamp

    def _conn(self) -> sqlite3.Connection:
        """This thread's connection to the current file."""
        got: tuple[sqlite3.Connection, tuple[int, int]] | None = getattr(self._local, "conn",
                                                                          None)
        if got is not None and got[1] == self._file:
            return got[0]
        conn = _connect(self.path)
        with self._lock:
            if got is not None:
                got[0].close()
                self._opened.remove(got[0])
            self._opened.append(conn)
        self._local.conn = (conn, self._file)
        return conn

    def close(self) -> None:
        with self._lock:
            for conn in self._opened:
                conn.close()
            self._opened.clear()
            self._watch.close()

    def __enter__(self) -> SqliteStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def meta(self) -> Collection:
        """The collection's title, description, url, language and contacts; no stories.
        (Checked once, then remembered until the archive changes.)"""
        self._check()
        meta = self._meta_collection
        if meta is None:
            stamp = self._stamp
            meta = collection_from_data({**meta_data(self._conn()), "stories": []},
                                        source=str(self.path))
            with self._lock:
                if self._stamp == stamp:
                    self._meta_collection = meta
        return meta

    def query(self, *, topic: Any = None, country: Any = None, since: Any = None,
              until: Any = None, language: str | None = None, text: str | None = None,
              offset: int = 0, limit: int | None = None) -> tuple[list[Story], int]:
        """The matching stories, newest first, from ``offset`` (at most ``limit`` of them),
        and how many match in all."""
        check_window(offset, limit)
        sel = Selection(topic=topic, country=country, since=since, until=until,
                        language=language, text=text)
        self._check()
        conn = self._conn()
        sel.check(conn)
        total = self._count(conn, sel)
        if not total or offset >= total or limit == 0:
            return [], total
        end = total if limit is None else min(total, offset + limit)
        rowids = self._rowids(conn, sel, total, offset, end)
        if rowids is None and sel.sql == "1":  # (the whole archive: from the mark before)
            rowids = self._marked(conn, offset, end)
        elif rowids is None and offset > total - end:
            # (nearer the oldest: counted from the other end, the OFFSET walks fewer rows)
            rowids = [row[0] for row in story_rows(
                conn, sel, order=_OLDEST_FIRST, offset=total - end, limit=end - offset,
                scan=self._scan(conn, sel, total, total - offset), columns="rowid")][::-1]
        elif rowids is None:
            rowids = [row[0] for row in story_rows(
                conn, sel, order=_NEWEST_FIRST, offset=offset, limit=end - offset,
                scan=self._scan(conn, sel, total, end), columns="rowid")]
        return written_stories(page_data(conn, rowids)), total

    def _scan(self, conn: sqlite3.Connection, sel: Selection, total: int, wanted: int) -> bool:
        """Whether to walk the date index (and stop at the LIMIT) rather than look up every
        match and sort them: matches spread over the archive, so a walk newest first meets
        the ``wanted`` first after about ``wanted * all / total`` rows."""
        everything = self._count(conn, Selection())
        return sel.rowids is not None and wanted * everything < total * total

    def _rowids(self, conn: sqlite3.Connection, sel: Selection, total: int, start: int,
                end: int) -> list[int] | None:
        """The rowids of the ``start:end`` stories of ``sel`` newest first, from its
        remembered order (read further if need be); None past the first :data:`_PREFIX`."""
        if end > _PREFIX:
            return None
        key = (sel.sql, sel.params)
        with self._lock:
            order = self._orders.get(key)
            if order is None:
                order = self._orders[key] = _Order()
                if len(self._orders) > _CACHED:
                    self._orders.popitem(last=False)
            else:
                self._orders.move_to_end(key)
        with order.lock:
            if len(order.rowids) < end and not order.done:
                self._read_order(conn, sel, order, total, end)
            return order.rowids[start:end].tolist()

    def _read_order(self, conn: sqlite3.Connection, sel: Selection, order: _Order,
                    total: int, end: int) -> None:
        """Read the order of ``sel`` on from its last story (at least to ``end``, at least
        double what is known), its sort key bounding the next rows (no OFFSET)."""
        want = min(max(end, 2 * len(order.rowids), _FIRST), _PREFIX) - len(order.rowids)
        where = sel.where(scan=self._scan(conn, sel, total, len(order.rowids) + want))
        params = sel.params
        if order.last is not None:
            # (published_at alone is indexed: its bound narrows the walk, the id breaks ties)
            where += " AND published_at <= ? AND (published_at < ? OR id > ?)"
            params += (order.last[0], order.last[0], order.last[1])
        rows = conn.execute(f"SELECT rowid, published_at, id FROM stories WHERE {where} "
                            f"ORDER BY {_NEWEST_FIRST} LIMIT ?", (*params, want)).fetchall()
        order.rowids.extend(row[0] for row in rows)
        if rows:
            order.last = (rows[-1][1], rows[-1][2])
        order.done = len(rows) < want

    def _marked(self, conn: sqlite3.Connection, start: int, end: int) -> list[int]:
        """The rowids of the whole archive's ``start:end`` stories newest first, read from the
        mark at or before ``start`` (the date index walked from there, no OFFSET over the
        archive)."""
        values, skips = self._read_marks(conn)
        mark = start // _STEP
        if mark >= len(values):  # (the archive changed since it was counted)
            return []
        return [row[0] for row in conn.execute(
            f"SELECT rowid FROM stories WHERE published_at <= ? ORDER BY {_NEWEST_FIRST} "
            "LIMIT ? OFFSET ?", (values[mark], end - start, skips[mark] + start % _STEP))]

    def _read_marks(self, conn: sqlite3.Connection) -> tuple[array[int], array[int]]:
        """The marks of the whole archive's order, read once per version of the archive by
        one walk of the date index (how many stories each instant has, summed in SQL; only
        the instants that hold a mark come back)."""
        with self._marks_lock:
            marks = self._marks
            if marks is not None:
                return marks
            stamp = self._stamp
            values, skips = array("q"), array("q")
            rows = conn.execute(
                "WITH g AS (SELECT published_at AS v, count(*) AS n FROM stories "
                "GROUP BY published_at), "
                "s AS (SELECT v, n, sum(n) OVER (ORDER BY v DESC ROWS UNBOUNDED PRECEDING) - n "
                "AS before FROM g) "
                "SELECT v, n, before FROM s WHERE (before + ? - 1) / ? * ? < before + n "
                "ORDER BY v DESC", (_STEP, _STEP, _STEP))
            for value, n, before in rows:
                # (the marks this instant's stories hold: every multiple of _STEP among them)
                for place in range(-(-before // _STEP) * _STEP, before + n, _STEP):
                    values.append(value)
                    skips.append(place - before)
            marks = (values, skips)
            with self._lock:
                if self._stamp == stamp:
                    self._marks = marks
            return marks

    def _count(self, conn: sqlite3.Connection, sel: Selection) -> int:
        """How many stories ``sel`` selects, remembered until the archive changes."""
        key = (sel.sql, sel.params)
        with self._lock:
            got = self._counts.get(key)
            if got is not None:
                self._counts.move_to_end(key)
                return got
        stamp = self._stamp
        got = int(conn.execute(sel.count_sql(), sel.params).fetchone()[0])
        with self._lock:
            if self._stamp == stamp:  # (not if the archive changed meanwhile)
                self._counts[key] = got
                if len(self._counts) > _CACHED:
                    self._counts.popitem(last=False)
        return got

    def lastmods(self, *, offset: int = 0,
                 limit: int | None = None) -> Iterator[tuple[str, date]]:
        """Each story's id and last change (its ``updated``, else ``published``), in id order,
        from ``offset`` (at most ``limit``): the sitemap's. The unique index of ids is walked
        to ``offset`` once, then read :data:`_CHUNK` stories at a time from the last id (no
        OFFSET), so memory stays flat however many are asked for."""
        check_window(offset, limit)
        self._check()
        return self._lastmods(self._conn(), offset, limit)

    @staticmethod
    def _lastmods(conn: sqlite3.Connection, offset: int,
                  limit: int | None) -> Iterator[tuple[str, date]]:
        row = conn.execute("SELECT id FROM stories ORDER BY id LIMIT 1 OFFSET ?",
                           (offset,)).fetchone()
        left = -1 if limit is None else limit  # (-1: no limit)
        after, op = (None, "") if row is None else (row[0], ">=")
        while left and after is not None:
            want = _CHUNK if left < 0 else min(left, _CHUNK)
            rows = conn.execute(f"SELECT id, coalesce(updated, published) FROM stories "
                                f"WHERE id {op} ? ORDER BY id LIMIT ?", (after, want)).fetchall()
            for sid, when in rows:
                yield sid, rules.published(when)
            left = left if left < 0 else left - len(rows)
            after, op = (rows[-1][0], ">") if len(rows) == want else (None, "")

    def get(self, id: str) -> Story | None:
        """The story with this id, or None."""
        self._check()
        conn = self._conn()
        rowids = [row[0] for row in conn.execute("SELECT rowid FROM stories WHERE id = ?",
                                                 (id,))]
        found = written_stories(page_data(conn, rowids))
        return found[0] if found else None

    def counts(self, key: str) -> dict[str, int]:
        """How many stories have each topic (``key="topic"``), country (``"country"``) or
        date (``"day"``, the story's own), most first; remembered until the archive
        changes."""
        if key == "day":  # (a story's own date is the first ten characters of its ISO form)
            sql = ("SELECT substr(published, 1, 10) AS day, count(*) AS n FROM stories "
                   "GROUP BY day ORDER BY n DESC, day")
        elif key == "topic":
            sql = ("SELECT t.name, count(*) AS n FROM story_topics AS st "
                   "JOIN topics AS t ON t.id = st.topic GROUP BY t.id ORDER BY n DESC, t.name")
        elif key == "country":
            sql = ("SELECT country, count(*) AS n FROM story_countries "
                   "GROUP BY country ORDER BY n DESC, country")
        else:
            raise ValueError(f"cannot count by {key!r} (choose topic, country or day)")
        self._check()
        got = self._tallies.get(key)
        if got is None:
            stamp = self._stamp
            got = dict(self._conn().execute(sql).fetchall())
            with self._lock:
                if self._stamp == stamp:
                    self._tallies[key] = got
        return dict(got)

    def collection(self, *, offset: int = 0, limit: int | None = None,
                   **criteria: Any) -> Collection:
        """The matching stories, newest first (the archive's order as a site shows it), from
        ``offset`` (at most ``limit``), with the collection's metadata."""
        stories, _ = self.query(**criteria, offset=offset, limit=limit)
        return self.meta().replace(stories)

    def stream(self, **criteria: Any) -> Iterator[Story]:
        """The stories :meth:`collection` gives for ``criteria`` (newest first), read
        :data:`_STREAM_PAGE` at a time as they are asked for: a selection of any size in the
        memory of one page. They are read through a connection of their own, in one read
        transaction: one version of the archive however long the reading takes. A bad
        criterion raises at once (``ValueError``; an invalid full-text query
        :class:`~storykit.sqlite.reader.SearchError`), not when the first story is asked
        for."""
        sel = Selection(**criteria)
        self._check()
        sel.check(self._conn())
        return self._stream(sel)

    def _stream(self, sel: Selection) -> Iterator[Story]:
        conn = _connect(self.path)
        try:
            conn.execute(f"PRAGMA cache_size = -{_STREAM_CACHE_KIB}")
            conn.execute("BEGIN")  # (a read transaction: the stories of one version)
            # (one statement for the whole selection, read a page at a time: no OFFSET)
            rows = conn.execute(f"SELECT rowid FROM stories WHERE {sel.sql} "
                                f"ORDER BY {_NEWEST_FIRST}", sel.params)
            while page := rows.fetchmany(_STREAM_PAGE):
                yield from written_stories(page_data(conn, [row[0] for row in page]))
        finally:
            conn.close()

    def version(self) -> str:
        """A string that changes whenever the archive's content changes (another process's
        commit, or the file replaced)."""
        try:
            st = os.stat(self.path)
            stamp = f"{st.st_ino}-{st.st_size}-{st.st_mtime_ns}"
        except FileNotFoundError:
            stamp = "gone"
        with self._lock:
            data_version = self._watch.execute("PRAGMA data_version").fetchone()[0]
        return f"{data_version}-{stamp}"
