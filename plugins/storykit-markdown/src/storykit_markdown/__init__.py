"""storykit-markdown: one Markdown section per story, for newsletters and wikis.

Installed, it adds the format ``markdown``::

    storykit export stories.json --format markdown -o stories.md

The output is CommonMark. Titles, summaries and every other text are escaped, so a ``*``, ``_``,
``[``, ``<`` or ``#`` in a story stays a literal character instead of becoming markup. It uses
only storykit's public API, and it is the plugin that docs/plugins.md walks through.
"""

from __future__ import annotations

__all__ = ["MarkdownExporter", "MarkdownOptions", "escape", "register_exporters"]

import re
from datetime import date
from typing import Any, BinaryIO

import attrs

import storykit
from storykit.exporter import parse_options

# Characters that are markup anywhere in a line: backslash-escaped (CommonMark 2.4).
_INLINE = re.compile(r"([\\`*_\[\]<>#~])")
# Entity and character references (&amp; &#169;), which a renderer would decode.
_ENTITY = re.compile(r"&(?=#?[0-9A-Za-z]+;)")
# What starts a block at the beginning of a line: lists, quotes, setext underlines, "1." and "1)".
_LINE_START = re.compile(r"^([-+=>|])|^(\d{1,9})([.)])")


def escape(text: str) -> str:
    """``text`` as CommonMark that renders as exactly this text, never as markup.

    Each line is stripped (leading spaces would make code blocks, trailing ones hard breaks);
    the line breaks themselves are kept.
    """
    lines = []
    for raw in text.split("\n"):
        line = _INLINE.sub(r"\\\1", raw.strip())
        line = _ENTITY.sub(r"\\&", line)
        line = _LINE_START.sub(lambda m: f"\\{m[1]}" if m[1] else f"{m[2]}\\{m[3]}", line)
        lines.append(line)
    return "\n".join(lines)


def _destination(url: str) -> str:
    """A link destination, with the characters that would end or break it escaped."""
    return re.sub(r"([()<>\\])", r"\\\1", url)


def _title_attr(text: str) -> str:
    """A link title in double quotes."""
    return '"' + re.sub(r'(["\\])', r"\\\1", text) + '"'


def _day(when: date) -> str:
    """``3 February 2021``: the date as the press page prints it."""
    return f"{when.day} {when:%B} {when.year}"


def _heading_level(_instance: object, _attribute: object, value: int) -> None:
    if not 1 <= value <= 5:
        raise ValueError(f"'heading_level' must be 1 to 5 (got {value!r})")


@attrs.frozen
class MarkdownOptions:
    """Options of the ``markdown`` format."""

    #: The level of each story's heading; the collection's title is one level above it
    #: (or left out when this is 1).
    heading_level: int = attrs.field(default=2, validator=_heading_level)
    #: Show each story's picture, with its alt text and photo credit.
    images: bool = True


class MarkdownExporter:
    """The ``markdown`` format."""

    name = "markdown"
    media_type = "text/markdown"
    suffix = ".md"
    description = "One Markdown section per story: linked title, date, photo credit, summary."
    options_type = MarkdownOptions

    def write(self, collection: storykit.Collection, out: BinaryIO, **options: Any) -> None:
        opts = parse_options(self, options, MarkdownOptions)
        blocks: list[str] = []
        if opts.heading_level > 1:
            blocks.append("#" * (opts.heading_level - 1) + " " + escape(collection.title))
            if collection.description:
                blocks.append(escape(collection.description))
        for story in collection:
            blocks.extend(self.section(story, opts))
        out.write(("\n\n".join(blocks) + "\n").encode("utf-8"))

    def section(self, story: storykit.Story, opts: MarkdownOptions) -> list[str]:
        """The blocks of one story: heading, date, picture, summary, links."""
        title = escape(story.title)
        if story.url:
            title = f"[{title}]({_destination(story.url)})"
        blocks = ["#" * opts.heading_level + " " + title, f"*{_day(story.published)}*"]
        image = story.image
        if opts.images and image is not None:
            credit = f" {_title_attr(str(image.credit))}" if image.credit else ""
            blocks.append(f"![{escape(image.alt)}]({_destination(image.url)}{credit})")
            if image.credit:
                blocks.append(f"*{escape(str(image.credit))}*")
        blocks.extend(escape(p) for p in re.split(r"\n\s*\n", story.summary) if p.strip())
        if story.links:
            blocks.append("\n".join(f"- [{escape(link.title)}]({_destination(link.url)})"
                                    for link in story.links))
        return blocks


@storykit.hookimpl
def register_exporters() -> list[storykit.Exporter]:
    """Tell storykit about the ``markdown`` format."""
    return [MarkdownExporter()]
