"""A plugin whose register_exporters() hook itself raises."""

from __future__ import annotations

from typing import Any

import storykit


@storykit.hookimpl
def register_exporters() -> list[Any]:
    raise RuntimeError("plugin bug: no exporters today")
