"""A format whose write() fails half-way, as a buggy plugin's would."""

from __future__ import annotations

from typing import Any, BinaryIO

import storykit


class Explodes:
    name = "explode"
    media_type = "application/x-explode"
    suffix = ".explode"
    description = "Writes a little, then raises."

    def write(self, collection: storykit.Collection, out: BinaryIO, **options: Any) -> None:
        out.write(b"half of the output")
        raise ValueError("plugin bug: cannot render story 0")


@storykit.hookimpl
def register_exporters() -> list[Explodes]:
    return [Explodes()]
