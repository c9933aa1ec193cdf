"""A plugin whose hook name is misspelled: ``register_exporter`` for ``register_exporters``."""

from __future__ import annotations

import storykit


@storykit.hookimpl
def register_exporter() -> list[object]:
    return []
