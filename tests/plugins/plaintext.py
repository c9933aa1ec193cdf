"""A good one-file plugin: a plain-text digest with typed options (the test suite's markdown)."""

from __future__ import annotations

from typing import Any, BinaryIO, Literal

import attrs

import storykit
from storykit.exporter import parse_options


@attrs.frozen
class PlainOptions:
    """Options of the ``plaintext`` format."""

    #: Number the stories.
    numbered: bool = True
    #: The rule drawn under the title, in characters.
    width: int = 40
    #: ``title`` (title lines only) or ``full`` (summary too).
    detail: Literal["title", "full"] = "full"


class PlainText:
    """One paragraph per story."""

    name = "plaintext"
    media_type = "text/plain; charset=utf-8"
    suffix = ".txt"
    description = "One paragraph per story, for a quick look in a terminal."
    options_type = PlainOptions

    def write(self, collection: storykit.Collection, out: BinaryIO, **options: Any) -> None:
        opts = parse_options(self, options, PlainOptions)
        out.write(f"{collection.title}\n{'=' * opts.width}\n".encode())
        for n, story in enumerate(collection, 1):
            head = f"{n}. {story.title}" if opts.numbered else story.title
            body = f"\n{story.summary}" if opts.detail == "full" else ""
            out.write(f"\n{head} ({story.published.isoformat()}){body}\n".encode())


@storykit.hookimpl
def register_exporters() -> list[PlainText]:
    return [PlainText()]
