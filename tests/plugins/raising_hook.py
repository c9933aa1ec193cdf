"""A plugin whose ``register_exporters()`` raises."""

from __future__ import annotations

import storykit


@storykit.hookimpl
def register_exporters() -> list[object]:
    raise RuntimeError("the licence server is down")
