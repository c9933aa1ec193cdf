"""An exporter for the worker tests: importable by name, as a worker needs its class to be."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any, BinaryIO

from storykit.collection import Collection
from storykit.exporters.csv import CSVExporter
from storykit.model import Story


class FailingCSV(CSVExporter):
    """The ``csv`` format, failing when it meets the story ``story-25`` (a bug in a plugin)."""

    def write_stream(self, collection: Collection, stories: Iterable[Story], out: BinaryIO,
                     **options: Any) -> None:
        def checked() -> Iterator[Story]:
            for story in stories:
                if story.id == "story-25":
                    raise RuntimeError("the exporter failed on story-25")
                yield story

        super().write_stream(collection, checked(), out, **options)


class RenderError(Exception):
    """A plugin's own exception whose ``__init__`` takes two arguments: it does not rebuild
    from a pickle of its message, as an exception sent back from a worker must."""

    def __init__(self, story_id: str, reason: str) -> None:
        super().__init__(f"cannot render {story_id}: {reason}")


class FailingOddlyCSV(CSVExporter):
    """The ``csv`` format, raising :class:`RenderError` at the story ``story-25``."""

    def write_stream(self, collection: Collection, stories: Iterable[Story], out: BinaryIO,
                     **options: Any) -> None:
        def checked() -> Iterator[Story]:
            for story in stories:
                if story.id == "story-25":
                    raise RenderError(story.id, "no template")
                yield story

        super().write_stream(collection, checked(), out, **options)
