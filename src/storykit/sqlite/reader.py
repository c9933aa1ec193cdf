"""Reading an SQLite archive: the filters as SQL, and stories built from the rows they select."""

from __future__ import annotations

import sqlite3
import unicodedata
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, date, datetime, time
from pathlib import Path
from typing import Any

import orjson

from storykit import _rules as rules
from storykit.collection import Collection, matcher
from storykit.convert import collection_from_data
from storykit.errors import ErrorDetail, OptionError, ValidationError
from storykit.model import Credit, Image, Link, Story, Translation, _build
from storykit.sqlite import schema
from storykit.sqlite.writer import instant_us

__all__ = ["STORY_COLUMNS", "SearchError", "Selection", "connect", "meta_data", "page_data",
           "read_archive", "stories_data", "story_rows", "written_stories"]

#: Parameters per ``IN (...)`` list, well under SQLite's limit of bound parameters.
CHUNK = 500

_HAS_BODY = "body" in Story.FIELDS

_HOUR_US = 3_600_000_000
#: A date's first instant is less than 24 hours before its midnight UTC (Python's offsets are
#: under a day) ...
_LATEST_START = -24 * _HOUR_US
#: ... and its last less than 48 hours after.
_EARLIEST_END = 48 * _HOUR_US


#: Bytes of the archive a connection reads through a memory map (no copy into SQLite's
#: cache); the pages it touches count in the process's resident memory, so it is bounded.
MMAP_BYTES = 64 * 1024 * 1024


def connect(path: str | Path) -> sqlite3.Connection:
    """A read-only connection to the archive at ``path``, its schema checked: opened
    read-only, ``PRAGMA query_only``, the first :data:`MMAP_BYTES` memory-mapped."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file")
    conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True,
                           check_same_thread=False)
    try:
        conn.execute("PRAGMA query_only = ON")
        conn.execute(f"PRAGMA mmap_size = {MMAP_BYTES}")
        schema.check_schema(conn, str(path))
    except BaseException:
        conn.close()
        raise
    return conn


class SearchError(OptionError):
    """``text`` is not a valid FTS5 query (one line, quoting it). An option error of the
    ``sqlite`` reader (so that it is not taken for the plugin's fault); ``criterion`` names the
    criterion, so that the CLI can name its option (``--search``)."""

    criterion = "text"

    def __str__(self) -> str:
        return f"text: {self.message}"


class Selection:
    """The criteria of :meth:`Collection.filter` as a parameterised SQL condition on the
    ``stories`` table (``sql``, ``params``): values are only ever bound, never built into SQL.

    Bad values raise the ``ValueError`` that :meth:`Collection.filter` raises; a ``text``
    that is not a valid FTS5 query raises a one-line ``ValueError`` naming it.
    """

    def __init__(self, *, topic: str | Iterable[str] | None = None,
                 country: str | Iterable[str] | None = None,
                 since: date | str | None = None, until: date | str | None = None,
                 language: str | None = None, text: str | None = None) -> None:
        # The same checks and messages as Collection.filter's, before any SQL.
        matcher(topic=topic, country=country, since=since, until=until, text=text,
                language=language)
        parts: list[str] = []
        params: list[Any] = []
        # The search and the join tables each list their stories' rowids; one INTERSECT of
        # the lists (sorted merges in SQLite) is then the only set of rows looked up.
        lists: list[str] = []
        # The same tests of one row (for a walk in date order): a probe of the join table's
        # primary key; the search's rowids are listed once.
        self._probes: list[str] = []
        self.text = None if text is None else _nfc(text)
        if self.text is not None:
            lists.append("SELECT rowid FROM stories_fts WHERE stories_fts MATCH ?")
            self._probes.append(f"+rowid IN ({lists[-1]})")
            params.append(self.text)
        if topic is not None:
            keys = [_nfc(t).casefold() for t in ([topic] if isinstance(topic, str) else topic)]
            ids = f"SELECT id FROM topics WHERE key IN ({_marks(keys)})"
            lists.append(f"SELECT story FROM story_topics WHERE topic IN ({ids})")
            self._probes.append("EXISTS (SELECT 1 FROM story_topics WHERE topic IN "
                                f"({ids}) AND story = stories.rowid)")
            params += keys
        if country is not None:
            codes = [rules.country(c) for c in ([country] if isinstance(country, str)
                                                else country)]
            lists.append(f"SELECT story FROM story_countries WHERE country IN ({_marks(codes)})")
            self._probes.append("EXISTS (SELECT 1 FROM story_countries WHERE country IN "
                                f"({_marks(codes)}) AND story = stories.rowid)")
            params += codes
        #: The rowids the search and join tables select (one compound SELECT), or None.
        self.rowids: str | None = " INTERSECT ".join(lists) if lists else None
        # (one list of several topics or countries may name a story twice)
        self._distinct = len(lists) > 1 or len(params) == len(lists)
        self.rowids_params: tuple[Any, ...] = tuple(params)
        for bound, op in ((since, ">="), (until, "<=")):
            if bound is not None:
                when = rules.published(bound)
                if isinstance(when, datetime):  # compared with each story's instant
                    parts.append(f"published_at {op} ?")
                    params.append(instant_us(when))
                    continue
                # A date compares with each story's own date, the first ten characters of
                # its ISO form; the instants that date can stand for (offsets under a day)
                # narrow the rows through the index first.
                parts.append(f"published_at {op} ? AND substr(published, 1, 10) {op} ?")
                edge = _LATEST_START if op == ">=" else _EARLIEST_END
                params += [instant_us(datetime.combine(when, time.min, UTC)) + edge,
                           when.isoformat()]
        if language is not None:
            lang = rules.language(language).lower()
            parts.append("(lower(language) = ? OR substr(lower(language), 1, ?) = ?)")
            params += [lang, len(lang) + 1, lang + "-"]
        #: The conditions on the row itself (dates, language), or None.
        self.rest: str | None = " AND ".join(parts) or None
        self.rest_params: tuple[Any, ...] = tuple(params[len(self.rowids_params):])
        self.sql = self.where()
        self.params: tuple[Any, ...] = tuple(params)

    def where(self, *, scan: bool = False) -> str:
        """The condition on ``stories`` (parameters: :attr:`params`). ``scan``: each row is
        tested (a probe of the join tables; the search's rowids listed once), the rowids never
        looked up, so that SQLite walks an index in the order asked for and stops at the
        ``LIMIT``: the plan for a selection of many stories."""
        parts = []
        if scan:
            parts += self._probes
        elif self.rowids is not None:
            parts.append(f"rowid IN ({self.rowids})")
        if self.rest is not None:
            parts.append(self.rest)
        return " AND ".join(parts) or "1"

    def count_sql(self) -> str:
        """A query of how many stories match (parameters: :attr:`params`): only the search
        and the join tables' indexes are read when there is no condition on the row."""
        if self.rest is None and self.rowids is not None:
            if self._distinct:
                return f"SELECT count(*) FROM ({self.rowids})"
            return f"SELECT count(*) FROM (SELECT DISTINCT * FROM ({self.rowids}))"
        return f"SELECT count(*) FROM stories WHERE {self.sql}"

    def check(self, conn: sqlite3.Connection) -> None:
        """Raise ``ValueError`` if ``text`` is not a valid FTS5 query."""
        if self.text is None:
            return
        try:
            conn.execute("SELECT rowid FROM stories_fts WHERE stories_fts MATCH ? LIMIT 1",
                         (self.text,)).fetchall()
        except sqlite3.OperationalError as e:
            raise SearchError("sqlite", "text",
                              f"{self.text!r} is not a valid full-text query ({e}); put each "
                              "word in double quotes to search for it as it is") from None


def _nfc(s: str) -> str:
    return s if s.isascii() else unicodedata.normalize("NFC", s)


def _marks(values: Sequence[Any]) -> str:
    return ", ".join("?" * len(values))


#: A story's row (:func:`stories_data`): its columns, then its image, links and
#: translations, each gathered as JSON by an indexed lookup of its own table: one query
#: gives whole stories, in any order and with any LIMIT.
STORY_COLUMNS = (
    "rowid, id, title, published, summary, body, url, language, updated, topics, countries, "
    "(SELECT json_array(url, alt, credit_holder, credit_year) FROM images "
    "WHERE story = stories.rowid), "
    # (an aggregate over an ordered subquery keeps its order: SQLite does not flatten it)
    "(SELECT json_group_array(json_array(url, title)) FROM (SELECT url, title FROM links "
    "WHERE story = stories.rowid ORDER BY position)), "
    "(SELECT json_group_array(json_array(language, url, title)) FROM (SELECT language, url, "
    "title FROM translations WHERE story = stories.rowid ORDER BY position))")


def stories_data(rows: Iterable[tuple[Any, ...]]) -> list[dict[str, Any]]:
    """Stories as plain data (storykit's field names) from rows of :data:`STORY_COLUMNS`."""
    loads = orjson.loads
    return [_story_data(row, None if row[11] is None else loads(row[11]), loads(row[12]),
                        loads(row[13])) for row in rows]


def _story_data(row: Sequence[Any], image: Sequence[Any] | None,
                links: Iterable[Sequence[Any]],
                translations: Iterable[Sequence[Any]]) -> dict[str, Any]:
    """One story as plain data: ``row`` its own columns (the first eleven of
    :data:`STORY_COLUMNS`), ``image`` its image's (url, alt, credit holder, credit year) or
    None, ``links`` its (url, title) and ``translations`` its (language, url, title) in
    order."""
    (_, sid, title, published, summary, body, url, language, updated, topics,
     countries) = row[:11]
    d: dict[str, Any] = {"id": sid, "title": title, "published": published,
                         "summary": summary, "url": url, "language": language,
                         "updated": updated, "topics": orjson.loads(topics),
                         "countries": orjson.loads(countries)}
    if body is not None and _HAS_BODY:
        d["body"] = body
    if image is not None:
        iurl, alt, holder, year = image
        d["image"] = {"url": iurl, "alt": alt,
                      "credit": None if holder is None else {"holder": holder, "year": year}}
    if links:
        d["links"] = [{"url": u, "title": t} for u, t in links]
    if translations:
        d["translations"] = [{"language": lg, "url": u, "title": t}
                             for lg, u, t in translations]
    return d


def written_stories(data: Iterable[dict[str, Any]]) -> list[Story]:
    """Stories from their plain data as the writer wrote it (:func:`stories_data`,
    :func:`page_data`), without checking them again.

    The writer stores only stories that passed the model's checks, with their values
    normalised, in one transaction; :func:`connect` refuses an archive of another schema
    version. So a row holds a valid story, and it is rebuilt as it was: its dates parsed by
    the same rule, nothing else re-checked. (A row edited by another tool is not checked; a
    date that does not parse is a :class:`~storykit.ValidationError`.)
    """
    out = []
    for d in data:
        try:
            published = rules.published(d["published"])
            updated = None if d["updated"] is None else rules.published(d["updated"])
        except rules.Invalid as e:
            raise ValidationError([ErrorDetail(f"stories[{d['id']!r}]", e.message)]) from None
        image = d.get("image")
        if image is not None:
            credit = image["credit"]
            image = _build(Image, {"url": image["url"], "alt": image["alt"], "credit": None
                                   if credit is None else _build(Credit, credit)})
        fields = {**d, "published": published, "updated": updated, "image": image,
                  "topics": tuple(d["topics"]), "countries": tuple(d["countries"]),
                  "links": tuple(_build(Link, x) for x in d.get("links", ())),
                  "translations": tuple(_build(Translation, x)
                                        for x in d.get("translations", ()))}
        if _HAS_BODY:
            fields.setdefault("body", None)
        out.append(_build(Story, fields))
    return out


#: A story's own columns and its image's, for :func:`page_data` (its links and translations
#: are read for all the page's stories at once).
_PAGE_COLUMNS = ("s.rowid, s.id, s.title, s.published, s.summary, s.body, s.url, s.language, "
                 "s.updated, s.topics, s.countries, i.url, i.alt, i.credit_holder, "
                 "i.credit_year")


def page_data(conn: sqlite3.Connection, rowids: Sequence[int]) -> list[dict[str, Any]]:
    """The stories with these rowids as plain data, in the order given: per
    :data:`CHUNK` of them, one query for the stories and their images (a join), one for their
    links and one for their translations (looked up together, not story by story)."""
    found: dict[int, dict[str, Any]] = {}
    for start in range(0, len(rowids), CHUNK):
        chunk = tuple(rowids[start:start + CHUNK])
        marks = _marks(chunk)
        links: dict[int, list[tuple[Any, ...]]] = {}
        for story, *link in conn.execute(f"SELECT story, url, title FROM links WHERE story IN "
                                         f"({marks}) ORDER BY story, position", chunk):
            links.setdefault(story, []).append(link)
        translations: dict[int, list[tuple[Any, ...]]] = {}
        for story, *tr in conn.execute(f"SELECT story, language, url, title FROM translations "
                                       f"WHERE story IN ({marks}) ORDER BY story, position",
                                       chunk):
            translations.setdefault(story, []).append(tr)
        for row in conn.execute(f"SELECT {_PAGE_COLUMNS} FROM stories AS s LEFT JOIN images "
                                f"AS i ON i.story = s.rowid WHERE s.rowid IN ({marks})", chunk):
            rowid = row[0]
            found[rowid] = _story_data(row, None if row[11] is None else row[11:],
                                       links.get(rowid, ()), translations.get(rowid, ()))
    return [found[r] for r in rowids if r in found]


def story_rows(conn: sqlite3.Connection, sel: Selection, *, order: str = "rowid",
               offset: int = 0, limit: int | None = None, scan: bool = False,
               columns: str = STORY_COLUMNS) -> list[tuple[Any, ...]]:
    """The rows (``columns``) of the stories ``sel`` selects, in ``order``; ``scan``: see
    :meth:`Selection.where`."""
    sel.check(conn)
    sql = (f"SELECT {columns} FROM stories WHERE {sel.where(scan=scan)} "
           f"ORDER BY {order}")
    params = sel.params
    if limit is not None or offset:
        sql += " LIMIT ? OFFSET ?"
        params += (-1 if limit is None else limit, offset)
    return conn.execute(sql, params).fetchall()


def meta_data(conn: sqlite3.Connection) -> dict[str, Any]:
    """The collection's metadata as plain data (no stories)."""
    title, description, url, language = conn.execute(
        "SELECT title, description, url, language FROM collection").fetchone()
    contacts = [
        {k: v for k, v in zip(("name", "role", "organization", "email", "phone", "url"), row,
                              strict=True) if v is not None}
        for row in conn.execute("SELECT name, role, organization, email, phone, url "
                                "FROM contacts ORDER BY position")]
    return {"title": title, "description": description, "url": url, "language": language,
            "contacts": contacts}


def read_archive(path: str | Path, *, where: Callable[[Story], bool] | None = None,
                 source: str | None = None, **criteria: Any) -> Collection:
    """The archive's collection, or only the stories matching ``criteria`` (the names of
    :meth:`Collection.filter`: ``topic``, ``country``, ``since``, ``until``, ``language``,
    ``text``; ``text`` is an FTS5 query over title, summary and body), in the archive's order.
    ``where`` (a function of a story) then filters the stories the SQL selected.

    Raises :class:`~storykit.sqlite.schema.SchemaError` for a database that is not a
    storykit archive of this version, ``ValueError`` for a bad criterion.
    """
    sel = Selection(**criteria)
    if where is not None and not callable(where):
        matcher(where=where)  # raises, with Collection.filter's message
    conn = connect(path)
    try:
        data = meta_data(conn)
        data["stories"] = stories_data(story_rows(conn, sel))
    finally:
        conn.close()
    col = collection_from_data(data, source=source or str(path))
    return col if where is None else col.filter(where=where)
