"""An SQLite archive of the example with one row made unreadable: a test that still passes on
it shows that only the matching rows were read (a full read would fail)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import storykit
from storykit import sqlite as sk

#: The example story made unreadable: about Moldova, published 2021-01-15, no "mines".
BROKEN = "bees-a-remedy-for-business-success"


def broken_archive(path: Path, example: storykit.Collection) -> Path:
    """Write ``example`` to ``path`` and give the story :data:`BROKEN` an invalid date."""
    sk.write(example, path, datasette=False)
    conn = sqlite3.connect(path)
    try:
        with conn:
            conn.execute("UPDATE stories SET published = 'someday' WHERE id = ?", (BROKEN,))
    finally:
        conn.close()
    return path
