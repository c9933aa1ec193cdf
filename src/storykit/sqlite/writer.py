"""Writing a collection to an SQLite archive, in one transaction."""

from __future__ import annotations

import itertools
import sqlite3
from collections.abc import Iterable, Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import orjson

from storykit.collection import Collection
from storykit.errors import ErrorDetail, ValidationError
from storykit.model import Story
from storykit.sqlite import schema

__all__ = ["write_archive"]

#: Stories inserted per batch: big enough to amortise executemany, small enough for memory.
BATCH = 20_000

#: The page size of a new archive.
PAGE_SIZE = 16_384

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_EPOCH_DAY = date(1970, 1, 1).toordinal()
_DAY_US = 86_400_000_000


def instant_us(when: date) -> int:
    """A story date as microseconds since 1970 UTC; a plain date counts as midnight UTC."""
    if isinstance(when, datetime):
        delta = when - _EPOCH
        return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds
    return (when.toordinal() - _EPOCH_DAY) * _DAY_US


def _story_row(rowid: int, s: Story) -> tuple[Any, ...]:
    published = s.published
    day = (published.date() if isinstance(published, datetime) else published).isoformat()
    return (rowid, s.id, s.title, published.isoformat(), instant_us(published), day[:7],
            s.summary, getattr(s, "body", None), s.url, s.language,
            None if s.updated is None else s.updated.isoformat(),
            orjson.dumps(s.topics).decode(), orjson.dumps(s.countries).decode())


_INSERT_STORY = ("INSERT INTO stories (rowid, id, title, published, published_at, month, "
                 "summary, body, url, language, updated, topics, countries) "
                 "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")


class _Topics:
    """Each topic's id in ``topics``, adding the new ones as stories name them."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn
        self.ids: dict[str, int] = dict(conn.execute("SELECT name, id FROM topics"))
        self.next = max(self.ids.values(), default=0) + 1

    def id(self, name: str) -> int:
        got = self.ids.get(name)
        if got is None:
            got = self.next
            self.next += 1
            self.conn.execute("INSERT INTO topics (id, name, key) VALUES (?, ?, ?)",
                              (got, name, name.casefold()))
            self.ids[name] = got
        return got


def _insert(conn: sqlite3.Connection, stories: Iterable[Story], first_rowid: int) -> int:
    """Insert ``stories`` numbered from ``first_rowid``; returns how many."""
    topics = _Topics(conn)
    rowids = itertools.count(first_rowid)
    n = 0
    for batch in _batches(stories):
        rows, images, links, translations, story_topics, story_countries = [], [], [], [], [], []
        for s in batch:
            rowid = next(rowids)
            rows.append(_story_row(rowid, s))
            image = s.image
            if image is not None:
                credit = image.credit
                images.append((rowid, image.url, image.alt,
                               None if credit is None else credit.holder,
                               None if credit is None else credit.year))
            for i, link in enumerate(s.links):
                links.append((rowid, i, link.url, link.title))
            for i, t in enumerate(s.translations):
                translations.append((rowid, i, t.language, t.url, t.title))
            for topic in s.topics:
                story_topics.append((topics.id(topic), rowid))
            for country in s.countries:
                story_countries.append((country, rowid))
        conn.executemany(_INSERT_STORY, rows)
        conn.executemany("INSERT INTO images VALUES (?, ?, ?, ?, ?)", images)
        conn.executemany("INSERT INTO links VALUES (?, ?, ?, ?)", links)
        conn.executemany("INSERT INTO translations VALUES (?, ?, ?, ?, ?)", translations)
        # (a story built without the model's checks may name a topic twice)
        conn.executemany("INSERT OR IGNORE INTO story_topics VALUES (?, ?)", story_topics)
        conn.executemany("INSERT OR IGNORE INTO story_countries VALUES (?, ?)", story_countries)
        n += len(rows)
    return n


def _batches(stories: Iterable[Story]) -> Iterator[list[Story]]:
    it = iter(stories)
    while batch := list(itertools.islice(it, BATCH)):
        yield batch


def _write_meta(conn: sqlite3.Connection, col: Collection) -> None:
    conn.execute("INSERT INTO collection (id, title, description, url, language) "
                 "VALUES (1, ?, ?, ?, ?)", (col.title, col.description, col.url, col.language))
    conn.executemany(
        "INSERT INTO contacts (position, name, role, organization, email, phone, url) "
        "VALUES (?, ?, ?, ?, ?, ?, ?)",
        [(i, c.name, c.role, c.organization, c.email, c.phone, c.url)
         for i, c in enumerate(col.contacts)])


def _drop_all(conn: sqlite3.Connection) -> None:
    """Drop every table of a storykit archive (inside the transaction: undone on failure)."""
    names = [name for name, _, _ in schema.TABLES]
    for name in reversed(names):  # referencing tables first
        conn.execute(f'DROP TABLE IF EXISTS "{name}"')


def _clashes(conn: sqlite3.Connection, col: Collection) -> list[ErrorDetail]:
    """Every story of ``col`` whose id the archive already holds."""
    ids = col.ids
    held: set[str] = set()
    for start in range(0, len(ids), 500):
        chunk = ids[start:start + 500]
        marks = ", ".join("?" * len(chunk))
        held.update(r[0] for r in conn.execute(
            f"SELECT id FROM stories WHERE id IN ({marks})", chunk))
    return [ErrorDetail(f"stories[{i}].id", f"{sid!r} is already in the archive", sid)
            for i, sid in enumerate(ids) if sid in held]


def write_archive(col: Collection, path: Path, *, mode: str = "replace",
                  search: schema.SearchDetail = "none") -> int:
    """Write ``col`` to the archive at ``path`` in one transaction; returns the stories written.

    ``replace`` makes the archive hold exactly ``col``; ``append`` adds its stories after those
    the archive holds (a story whose id is already there is a :class:`ValidationError` naming
    every such id, and nothing is written), keeping the archive's metadata. A failure leaves
    the database as it was. Another application's database, or an archive of another schema
    version, is refused with :class:`~storykit.sqlite.schema.SchemaError`. ``search`` is what
    the full-text index of a new archive keeps (:data:`~storykit.sqlite.schema.SearchDetail`).
    """
    name = str(path)
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute("PRAGMA foreign_keys = ON")
        # (a new database only) Rows of ~700 bytes fill 16 KiB pages: 4 KiB ones waste a sixth.
        conn.execute(f"PRAGMA page_size = {PAGE_SIZE}")
        # One big transaction: a journal of the pages it changes, the data synced at commit.
        conn.execute("PRAGMA synchronous = NORMAL")
        conn.execute("PRAGMA cache_size = -65536")
        conn.execute("BEGIN IMMEDIATE")
        try:
            exists = schema.check_schema(conn, name, empty_ok=True)
            if mode == "append" and exists:
                first = conn.execute("SELECT coalesce(max(rowid), 0) + 1 FROM stories"
                                     ).fetchone()[0]
                clashes = _clashes(conn, col)
                if clashes:
                    raise ValidationError(clashes, name)
                n = _insert(conn, col, first)
            else:
                if exists:
                    _drop_all(conn)
                schema.create_schema(conn, triggers=False, search=search)
                _write_meta(conn, col)
                n = _insert(conn, col, 1)
                conn.execute("INSERT INTO stories_fts (stories_fts) VALUES ('rebuild')")
                for sql in schema.trigger_statements():
                    conn.execute(sql)
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
    finally:
        conn.close()
    return n
