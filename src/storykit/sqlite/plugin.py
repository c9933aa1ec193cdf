"""The ``sqlite`` format: a writer and a reader, registered like every other plugin."""

from __future__ import annotations

import os
import shutil
import tempfile
from datetime import date, datetime
from pathlib import Path
from typing import Any, BinaryIO, Literal

import attrs

from storykit import hookspecs
from storykit.collection import Collection
from storykit.exporter import parse_options
from storykit.plugins import hookimpl

__all__ = ["SqliteOptions", "SqliteReadOptions", "SqliteReader", "SqliteWriter"]

#: The first 16 bytes of every SQLite 3 database file.
HEADER = b"SQLite format 3\x00"


@attrs.frozen
class SqliteOptions:
    """Options of the ``sqlite`` writer."""

    #: ``replace``: the archive holds exactly this collection. ``append``: its stories are
    #: added to the archive's (an id the archive holds already is an error; nothing is written).
    mode: Literal["replace", "append"] = "replace"
    #: Write Datasette's ``<name>.metadata.json`` beside the database.
    datasette: bool = True
    #: The database's name in Datasette (by default the file name without its suffix).
    name: str | None = None
    #: What the full-text index keeps: ``none`` (words, prefixes, AND/OR/NOT: the smallest
    #: file), ``column`` (and column filters, ``title: mines``), ``full`` (and phrases, NEAR).
    search: Literal["none", "column", "full"] = "none"


class SqliteWriter:
    """The ``sqlite`` writer: a normalised, full-text-searchable archive."""

    name = "sqlite"
    media_type = "application/vnd.sqlite3"
    suffix = ".db"
    description = "An SQLite archive: normalised tables, full-text search, ready for Datasette."
    options_type = SqliteOptions
    output = "file"

    def write_path(self, collection: Collection, path: Path, *, target: Path | None = None,
                   **options: Any) -> int:
        """Write the archive at ``path`` in one transaction; returns the stories written.

        ``target`` is the name the file will have (:func:`storykit.dump` writes to a temporary
        name beside it): the Datasette metadata is named after it."""
        from storykit.sqlite.datasette import write_metadata
        from storykit.sqlite.writer import write_archive

        opts: SqliteOptions = parse_options(self, options)
        path = Path(path)
        final = Path(target) if target is not None else path
        if opts.mode == "append" and final != path and final.is_file() and not path.exists():
            shutil.copyfile(final, path)  # appended to a copy: the original until it is whole
        n = write_archive(collection, path, mode=opts.mode, search=opts.search)
        if opts.datasette:
            name = opts.name or final.stem
            write_metadata(collection, final.with_name(f"{name}.metadata.json"), name)
        return n

    def write(self, collection: Collection, out: BinaryIO, **options: Any) -> int:
        """Write the archive to a temporary file, then its bytes to ``out`` (no Datasette
        metadata: a stream has no folder to put it in)."""
        opts: SqliteOptions = parse_options(self, options)
        if opts.mode == "append":
            raise ValueError("sqlite: mode='append' needs a database file, not a stream")
        with tempfile.TemporaryDirectory(prefix="storykit-sqlite-") as folder:
            path = Path(folder) / "archive.db"
            n = self.write_path(collection, path, datasette=False, search=opts.search)
            with open(path, "rb") as f:
                shutil.copyfileobj(f, out)
        return n


@attrs.frozen
class SqliteReadOptions:
    """Options of the ``sqlite`` reader: the criteria of :meth:`Collection.filter`, run as
    SQL. ``text`` is an FTS5 query over title, summary and body."""

    #: Only the stories with this topic or any of these (case-insensitively).
    topic: str | list[str] | None = None
    #: Only the stories about this country or any of these (a code or a name: ``LK``).
    country: str | list[str] | None = None
    #: Only the stories of this date or later (a date, or an aware datetime's instant).
    since: date | datetime | str | None = None
    #: Only the stories of this date or earlier (a date, or an aware datetime's instant).
    until: date | datetime | str | None = None
    #: Only the stories in this primary language (``fr`` matches ``fr-CH``).
    language: str | None = None
    #: An FTS5 full-text query over the title, summary and body (``bees AND honey``).
    text: str | None = None
    #: A function of a story, applied to the stories the SQL selected.
    where: Any = None


class SqliteReader:
    """The ``sqlite`` reader: an archive written by the ``sqlite`` writer."""

    name = "sqlite"
    suffixes = (".db", ".sqlite", ".sqlite3")
    media_types = ("application/vnd.sqlite3", "application/x-sqlite3")
    description = "An SQLite archive written by storykit; filters run as SQL."
    options_type = SqliteReadOptions
    #: SQLite needs a file: give ``read()`` a path (a stream is copied to a temporary file).
    input = "path"
    #: The filter criteria (topic, country, since, until, language, text) are options, run as
    #: SQL: ``load("archive.db", country="LK")`` and the CLI's filters read only the matching
    #: rows; ``text`` is an FTS5 query.
    handles_criteria = True

    def sniff(self, head: bytes) -> bool:
        return head.startswith(HEADER)

    def read(self, source: Any, **options: Any) -> Collection:
        from storykit.sqlite.reader import read_archive

        opts: SqliteReadOptions = parse_options(self, options)
        criteria = {k: v for k, v in attrs.asdict(opts, recurse=False).items() if v is not None}
        if isinstance(source, (str, os.PathLike)):
            return read_archive(Path(source), **criteria)
        name = getattr(source, "name", None)
        with tempfile.TemporaryDirectory(prefix="storykit-sqlite-") as folder:
            path = Path(folder) / "archive.db"
            with open(path, "wb") as f:
                shutil.copyfileobj(source, f)
            return read_archive(path, source=name if isinstance(name, str) else "<stream>",
                                **criteria)


@hookimpl
def register_exporters() -> list[Any]:
    return [SqliteWriter()]


if hasattr(hookspecs, "register_readers"):  # (the readers hook, where this storykit has it)

    @hookimpl
    def register_readers() -> list[Any]:
        return [SqliteReader()]
