"""One of two plugins claiming the format name ``shared``: this one is registered first."""

from __future__ import annotations

from typing import Any, BinaryIO

import storykit


class SharedA:
    name = "shared"
    media_type = "text/plain"
    suffix = ".a.txt"
    description = "The first claim on 'shared'."

    def write(self, collection: storykit.Collection, out: BinaryIO, **options: Any) -> None:
        out.write(b"A\n")


@storykit.hookimpl
def register_exporters() -> list[SharedA]:
    return [SharedA()]
