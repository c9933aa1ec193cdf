"""A plugin whose hook takes an argument the hook spec does not have."""

from __future__ import annotations

import storykit


@storykit.hookimpl
def register_exporters(config: object) -> list[object]:
    return []
