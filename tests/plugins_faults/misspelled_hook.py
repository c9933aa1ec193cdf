"""A hook name with a typo: ``register_exporter`` (no s)."""

from __future__ import annotations

from typing import Any

import storykit


@storykit.hookimpl
def register_exporter() -> list[Any]:
    return []
