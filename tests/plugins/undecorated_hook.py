"""A plugin that forgot ``@storykit.hookimpl``: storykit would never call its hook."""

from __future__ import annotations


def register_exporters() -> list[object]:
    return []
