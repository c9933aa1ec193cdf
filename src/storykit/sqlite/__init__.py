"""SQLite archives: write a collection to a searchable database, query it without loading it,
serve it from SQL (:class:`SqliteStore`), and browse it in Datasette.

.. code-block:: python

    from storykit import sqlite

    sqlite.write(collection, "archive.db")
    recent = sqlite.query("archive.db", country="LK", since="2019-01-01", text="mines")
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from storykit.collection import Collection
    from storykit.sqlite.schema import SCHEMA_VERSION, SchemaError, schema_markdown
    from storykit.sqlite.store import SqliteStore

__all__ = [
    "SCHEMA_VERSION",
    "SchemaError",
    "SqliteStore",
    "query",
    "schema_markdown",
    "write",
]


def write(collection: Collection, path: str | Path, **options: Any) -> int:
    """Write ``collection`` to the archive at ``path`` (options of the ``sqlite`` writer:
    ``mode="replace"`` or ``"append"``, ``datasette``, ``name``); returns the stories written."""
    from storykit.sqlite.plugin import SqliteWriter

    return SqliteWriter().write_path(collection, Path(path), **options)


def query(path: str | Path, **criteria: Any) -> Collection:
    """The stories of the archive at ``path`` that match ``criteria`` (``topic``, ``country``,
    ``since``, ``until``, ``language``, ``text``: an FTS5 query; ``where``: a function of a
    story), in the archive's order, with its metadata. Only the matching rows are read."""
    from storykit.sqlite.reader import read_archive

    return read_archive(Path(path), **criteria)


# The registry imports the plugin module, and with it this package: the rest loads on first use.
_LAZY = {
    "SCHEMA_VERSION": "storykit.sqlite.schema",
    "SchemaError": "storykit.sqlite.schema",
    "schema_markdown": "storykit.sqlite.schema",
    "SqliteStore": "storykit.sqlite.store",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'storykit.sqlite' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
