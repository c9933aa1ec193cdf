"""Test helpers for users and plugin authors: Hypothesis strategies that make every value the
model accepts (``stories()``, ``collections()``, ``published()``, ...), ``check_exporter`` and
``check_reader`` (the format contracts), and ``Keeps``, which says what a format keeps of a
story (its fields, a datetime's finest digits) for a test that reads its output back.

Needs Hypothesis (``pip install storykit[testing]``).

.. code-block:: python

    from storykit.testing import check_exporter

    def test_my_format():
        check_exporter(MyExporter())
"""

from __future__ import annotations

from storykit.testing.checks import check_exporter, check_reader
from storykit.testing.keeps import Keeps
from storykit.testing.strategies import (
    AWKWARD_TEXT,
    EDGE_DATES,
    EDGE_URLS,
    HOSTILE_BODIES,
    ZONE_NAMES,
    bodies,
    collections,
    contacts,
    credits,
    images,
    paragraphs,
    published,
    stories,
    text,
    urls,
    zones,
)

__all__ = [
    "AWKWARD_TEXT",
    "EDGE_DATES",
    "EDGE_URLS",
    "HOSTILE_BODIES",
    "ZONE_NAMES",
    "Keeps",
    "bodies",
    "check_exporter",
    "check_reader",
    "collections",
    "contacts",
    "credits",
    "images",
    "paragraphs",
    "published",
    "stories",
    "text",
    "urls",
    "zones",
]
