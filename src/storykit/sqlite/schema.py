"""The archive's schema: every table, index and trigger, and the version that names them.

The statements here are the only definition of the schema: the writer runs them, the reader
checks a database's version against :data:`SCHEMA_VERSION`, and the reference page
``docs/reference/sqlite-schema.md`` is generated from them by :func:`schema_markdown`.
"""

from __future__ import annotations

import sqlite3
from typing import Any, Literal

from storykit.errors import ErrorDetail, ValidationError

__all__ = [
    "APPLICATION_ID",
    "SCHEMA_VERSION",
    "TABLES",
    "SchemaError",
    "SearchDetail",
    "check_schema",
    "create_schema",
    "schema_markdown",
    "statements",
    "trigger_statements",
]

#: ``PRAGMA user_version`` of a storykit archive; raised whenever a table changes shape.
SCHEMA_VERSION = 1
#: ``PRAGMA application_id``: "SKit", so that a storykit archive is told from other databases.
APPLICATION_ID = 0x534B6974


class SchemaError(ValidationError):
    """The database is not a storykit archive of this version (``.path``, ``.found``).

    A :class:`~storykit.ValidationError` of one problem: a reader's one-line refusal of a
    document it does not read."""

    def __init__(self, path: str, message: str, found: int | None = None) -> None:
        self.path = path
        self.found = found
        super().__init__([ErrorDetail("", message)], path)

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.path, self.errors[0].message, self.found), self.__dict__)


#: (table, what it holds, CREATE statements) in creation order.
TABLES: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("collection", "The collection's metadata: exactly one row.", (
        """CREATE TABLE collection (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    title TEXT NOT NULL,
    description TEXT,
    url TEXT,
    language TEXT NOT NULL
)""",)),
    ("contacts", "The collection's media contacts, in order.", (
        """CREATE TABLE contacts (
    position INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    role TEXT,
    organization TEXT,
    email TEXT,
    phone TEXT,
    url TEXT
)""",)),
    ("stories", "One row per story, in the collection's order (``rowid``). ``published`` and "
     "``updated`` are ISO 8601 as written; ``published_at`` is the instant in microseconds "
     "since 1970 UTC (a plain date counts as midnight UTC) and orders stories; the first ten "
     "characters of ``published`` are the story's own date, and ``month`` its ``YYYY-MM`` (a "
     "Datasette facet); "
     "``topics`` and ``countries`` are JSON arrays (for Datasette's array facets; the join "
     "tables below index them).", (
        """CREATE TABLE stories (
    rowid INTEGER PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    title TEXT NOT NULL,
    published TEXT NOT NULL,
    published_at INTEGER NOT NULL,
    month TEXT NOT NULL,
    summary TEXT NOT NULL,
    body TEXT,
    url TEXT,
    language TEXT NOT NULL,
    updated TEXT,
    topics TEXT NOT NULL DEFAULT '[]',
    countries TEXT NOT NULL DEFAULT '[]'
)""",
        "CREATE INDEX stories_published ON stories (published_at)")),
    ("images", "A story's image and its credit (at most one per story).", (
        """CREATE TABLE images (
    story INTEGER PRIMARY KEY REFERENCES stories (rowid) ON DELETE CASCADE,
    url TEXT NOT NULL,
    alt TEXT NOT NULL,
    credit_holder TEXT,
    credit_year INTEGER
)""",)),
    ("links", "A story's links, in order.", (
        """CREATE TABLE links (
    story INTEGER NOT NULL REFERENCES stories (rowid) ON DELETE CASCADE,
    position INTEGER NOT NULL,
    url TEXT NOT NULL,
    title TEXT NOT NULL,
    PRIMARY KEY (story, position)
) WITHOUT ROWID""",)),
    ("translations", "A story's translations, in order.", (
        """CREATE TABLE translations (
    story INTEGER NOT NULL REFERENCES stories (rowid) ON DELETE CASCADE,
    position INTEGER NOT NULL,
    language TEXT NOT NULL,
    url TEXT NOT NULL,
    title TEXT,
    PRIMARY KEY (story, position)
) WITHOUT ROWID""",)),
    ("topics", "Each distinct topic once; ``key`` is its case-folded NFC form, which the "
     "topic filter compares.", (
        """CREATE TABLE topics (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    key TEXT NOT NULL
)""",
        "CREATE INDEX topics_key ON topics (key)")),
    ("story_topics", "Which story has which topic (join table; a story's topics in order are "
     "``stories.topics``).", (
        """CREATE TABLE story_topics (
    topic INTEGER NOT NULL REFERENCES topics (id),
    story INTEGER NOT NULL REFERENCES stories (rowid) ON DELETE CASCADE,
    PRIMARY KEY (topic, story)
) WITHOUT ROWID""",)),
    ("story_countries", "Which story is about which country, ISO 3166-1 alpha-2 (join "
     "table; a story's countries in order are ``stories.countries``).", (
        """CREATE TABLE story_countries (
    country TEXT NOT NULL,
    story INTEGER NOT NULL REFERENCES stories (rowid) ON DELETE CASCADE,
    PRIMARY KEY (country, story)
) WITHOUT ROWID""",)),
    ("stories_fts", "The FTS5 full-text index of title, summary and body. It keeps no copy of "
     "the text (``content='stories'``), and by default neither word positions nor columns "
     "(``detail=none``: words, prefixes and ``AND``/``OR``/``NOT`` work; phrases of several "
     "words, ``NEAR`` and column filters do not), which keeps the archive near the size of its "
     "JSON Lines file. The writer's option ``search=\"column\"`` or ``\"full\"`` keeps more "
     "(column filters; and phrases) for a bigger file. The triggers keep the index in step with "
     "``stories``.", (
        """CREATE VIRTUAL TABLE stories_fts USING fts5 (
    title, summary, body,
    content = 'stories', content_rowid = 'rowid', detail = none,
    tokenize = 'unicode61 remove_diacritics 2'
)""",
        """CREATE TRIGGER stories_fts_insert AFTER INSERT ON stories BEGIN
    INSERT INTO stories_fts (rowid, title, summary, body)
    VALUES (new.rowid, new.title, new.summary, new.body);
END""",
        """CREATE TRIGGER stories_fts_delete AFTER DELETE ON stories BEGIN
    INSERT INTO stories_fts (stories_fts, rowid, title, summary, body)
    VALUES ('delete', old.rowid, old.title, old.summary, old.body);
END""",
        """CREATE TRIGGER stories_fts_update AFTER UPDATE ON stories BEGIN
    INSERT INTO stories_fts (stories_fts, rowid, title, summary, body)
    VALUES ('delete', old.rowid, old.title, old.summary, old.body);
    INSERT INTO stories_fts (rowid, title, summary, body)
    VALUES (new.rowid, new.title, new.summary, new.body);
END""")),
)


def statements(*, triggers: bool = True) -> list[str]:
    """Every CREATE statement of the schema, in order (the FTS triggers last, if wanted)."""
    got = [sql for _, _, group in TABLES for sql in group]
    tables = [sql for sql in got if not sql.startswith("CREATE TRIGGER")]
    return tables + [sql for sql in got if sql.startswith("CREATE TRIGGER")] if triggers else tables


def trigger_statements() -> list[str]:
    """The triggers that keep ``stories_fts`` in step with ``stories``."""
    return [sql for sql in statements() if sql.startswith("CREATE TRIGGER")]


#: What the full-text index keeps: ``none`` (words), ``column`` (and which column each is
#: in), ``full`` (and its position: phrases and NEAR).
SearchDetail = Literal["none", "column", "full"]


def create_schema(conn: sqlite3.Connection, *, triggers: bool = True,
                  search: SearchDetail = "none") -> None:
    """Create every table in an empty database (inside the caller's transaction).

    A bulk write leaves out the triggers, fills the tables, rebuilds the full-text index in
    one pass and then creates them (:func:`trigger_statements`).
    """
    if search not in ("none", "column", "full"):
        raise ValueError(f"search must be 'none', 'column' or 'full' (got {search!r})")
    for sql in statements(triggers=triggers):
        conn.execute(sql.replace("detail = none", f"detail = {search}"))
    conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")


def check_schema(conn: sqlite3.Connection, path: str, *, empty_ok: bool = False) -> bool:
    """Make sure ``conn`` holds a storykit archive of :data:`SCHEMA_VERSION`.

    Returns False for an empty database when ``empty_ok`` (the writer then creates the
    schema). Raises :class:`SchemaError` for another application's database, or an archive of
    another schema version: never read as if it were this one.
    """
    try:
        app = conn.execute("PRAGMA application_id").fetchone()[0]
    except sqlite3.DatabaseError as e:
        raise SchemaError(path, f"is not an SQLite database ({e})") from None
    version = conn.execute("PRAGMA user_version").fetchone()[0]
    tables = conn.execute("SELECT count(*) FROM sqlite_schema").fetchone()[0]
    if tables == 0 and app == 0 and version == 0:
        if empty_ok:
            return False
        raise SchemaError(path, "is an empty database, not a storykit archive")
    if app != APPLICATION_ID:
        raise SchemaError(path, "is an SQLite database but not a storykit archive "
                                f"(application_id {app}, expected {APPLICATION_ID})")
    if version != SCHEMA_VERSION:
        newer = "a newer" if version > SCHEMA_VERSION else "an older"
        raise SchemaError(
            path, f"is a storykit archive of schema version {version}, {newer} one than this "
                  f"storykit reads ({SCHEMA_VERSION}); export it again from its source with this "
                  "version of storykit", version)
    return True


def schema_markdown() -> str:
    """The reference page ``docs/reference/sqlite-schema.md``: every table and its SQL."""
    out = [
        "# SQLite archive schema",
        "",
        "<!-- Generated by storykit.sqlite.schema.schema_markdown(); a test keeps it equal. -->",
        "",
        "The `sqlite` format writes one database per collection. It sets "
        f"`PRAGMA application_id = {APPLICATION_ID}` (\"SKit\") and "
        f"`PRAGMA user_version = {SCHEMA_VERSION}` (the schema version). A database of "
        "another version is refused with a message saying so, never read as if it were this "
        "one. Foreign keys cascade from `stories` to every table that belongs to a story.",
        "",
    ]
    for name, about, group in TABLES:
        out += [f"## `{name}`", "", about, "", "```sql"]
        out += [sql + ";" for sql in group]
        out += ["```", ""]
    return "\n".join(out)
