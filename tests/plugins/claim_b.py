"""One of two plugins claiming the format name ``shared``: this one comes second."""

from __future__ import annotations

from typing import Any, BinaryIO

import storykit


class SharedB:
    name = "shared"
    media_type = "text/plain"
    suffix = ".b.txt"
    description = "The second claim on 'shared'."

    def write(self, collection: storykit.Collection, out: BinaryIO, **options: Any) -> None:
        out.write(b"B\n")


@storykit.hookimpl
def register_exporters() -> list[SharedB]:
    return [SharedB()]
