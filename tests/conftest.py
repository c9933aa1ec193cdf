"""Shared test set-up: the example data.

Hypothesis profiles live in the repository's root ``conftest.py``, so that the first-party
plugins' tests under ``plugins/`` share them.
"""

from __future__ import annotations

from pathlib import Path

import pytest

import storykit

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE_DIR = ROOT / "examples" / "impact-and-people"


@pytest.fixture(scope="session")
def example_json() -> Path:
    """The path of the example collection in JSON."""
    return EXAMPLE_DIR / "stories.json"


@pytest.fixture(scope="session")
def example() -> storykit.Collection:
    """The example collection, "Impact and people", loaded from JSON."""
    return storykit.load(EXAMPLE_DIR / "stories.json")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark ``concurrency`` (repeated by ``make stress-test``) every test that starts a browser
    (marked ``browser``) or an SMTP server (the ``smtp`` fixture), besides those marked so by
    hand: the tests that start threads, processes, servers or watchers."""
    for item in items:
        if item.get_closest_marker("browser") is not None or "smtp" in getattr(
                item, "fixturenames", ()):
            item.add_marker(pytest.mark.concurrency)
