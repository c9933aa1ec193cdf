"""Shared test set-up: Hypothesis profiles and the example data.

Hypothesis profiles (choose with ``HYPOTHESIS_PROFILE=name``):

- ``default``: 50 examples per test, no deadline (the machine is shared; timing is not tested);
- ``ci``: 100 examples, derandomised so a CI run is reproducible, failing examples printed;
- ``dev``: 10 examples, for a quick loop while editing.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

import storykit

_COMMON = {
    "deadline": None,
    "suppress_health_check": [HealthCheck.too_slow, HealthCheck.data_too_large],
}
settings.register_profile("default", max_examples=50, **_COMMON)  # type: ignore[arg-type]
settings.register_profile("ci", max_examples=100, derandomize=True, print_blob=True,
                          **_COMMON)  # type: ignore[arg-type]
settings.register_profile("dev", max_examples=10, **_COMMON)  # type: ignore[arg-type]
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))

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
