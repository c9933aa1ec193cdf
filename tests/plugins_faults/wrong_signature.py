"""A hook implementation that asks for an argument the hook does not have."""

from __future__ import annotations

from typing import Any

import storykit


@storykit.hookimpl
def register_exporters(registry: Any) -> list[Any]:
    return []
