"""Datasette metadata for an archive: titles, facets, and the full-text table for search."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

import orjson

from storykit.collection import Collection

__all__ = ["datasette_metadata", "write_metadata"]

#: Tables that only index others: hidden from Datasette's table list.
_HIDDEN = ("topics", "story_topics", "story_countries", "stories_fts")


def datasette_metadata(col: Collection, name: str) -> dict[str, Any]:
    """Datasette's ``metadata.json`` for the archive of ``col`` served as database ``name``
    (its file name without the suffix): the stories table searchable (FTS5 over title, summary
    and body), faceted by topic, country, month and language, newest first."""
    about = col.description or f"{col.title}: stories exported by storykit"
    tables: dict[str, Any] = {
        "stories": {
            "title": col.title,
            "description": about,
            "sort_desc": "published_at",
            "label_column": "title",
            "facets": [{"array": "topics"}, {"array": "countries"}, "month", "language"],
            "fts_table": "stories_fts",
            "fts_pk": "rowid",
        },
        "collection": {"title": "Collection", "description": "The collection's metadata."},
        "contacts": {"title": "Media contacts"},
        "images": {"title": "Images", "description": "Each story's image and photo credit."},
        "links": {"title": "Links"},
        "translations": {"title": "Translations"},
    }
    for table in _HIDDEN:
        tables[table] = {"hidden": True}
    meta: dict[str, Any] = {
        "title": col.title,
        "description": about,
        "databases": {name: {"title": col.title, "description": about, "tables": tables}},
    }
    if col.url is not None:
        meta["source_url"] = col.url
        meta["source"] = col.title
    return meta


def write_metadata(col: Collection, path: Path, name: str) -> Path:
    """Write :func:`datasette_metadata` to ``path`` atomically; returns ``path``."""
    data = orjson.dumps(datasette_metadata(col, name), option=orjson.OPT_INDENT_2) + b"\n"
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path
