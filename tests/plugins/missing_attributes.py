"""A plugin whose exporter lacks ``media_type`` and ``write()``."""

from __future__ import annotations

import storykit


class Incomplete:
    name = "incomplete"
    suffix = ".inc"
    description = "Has no media type and cannot write."


@storykit.hookimpl
def register_exporters() -> list[Incomplete]:
    return [Incomplete()]
