"""A plugin that works: it must keep working beside the broken ones."""

from __future__ import annotations

import json
from typing import Any, BinaryIO

import storykit


class Titles:
    name = "titles"
    media_type = "application/json"
    suffix = ".titles.json"
    description = "The story titles as a JSON array."

    def write(self, collection: storykit.Collection, out: BinaryIO, **options: Any) -> None:
        out.write(json.dumps([s.title for s in collection]).encode())


@storykit.hookimpl
def register_exporters() -> list[Titles]:
    return [Titles()]
