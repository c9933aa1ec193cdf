"""One of two plugins that claim the format name ``twin``."""

from __future__ import annotations

from typing import Any, BinaryIO

import storykit


class Twin:
    name = "twin"
    media_type = "application/json"
    suffix = ".twin"
    description = "The first twin."

    def write(self, collection: storykit.Collection, out: BinaryIO, **options: Any) -> None:
        out.write(b'"one"')


@storykit.hookimpl
def register_exporters() -> list[Twin]:
    return [Twin()]
