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

    Each line loses its outer spaces and tabs (leading ones would make a code block, trailing
    ones a hard break); the line breaks themselves are kept.
    """
    lines = []
    for raw in text.split("\n"):
        line = _INLINE.sub(r"\\\1", raw.strip(" \t"))
        line = _ENTITY.sub(r"\\&", line)
        line = _LINE_START.sub(lambda m: f"\\{m[1]}" if m[1] else f"{m[2]}\\{m[3]}", line)
        lines.append(line)
    return "\n".join(lines)


def _destination(url: str) -> str:
    """A link destination, with the characters that would end or break it escaped (and the
    ``&`` of anything that reads as an entity, such as ``&quot;``, which would be decoded)."""
    return _ENTITY.sub(r"\\&", re.sub(r"([()<>\\])", r"\\\1", url))


def _title_attr(text: str) -> str:
    """A link title in double quotes (where entities such as ``&copy;`` would be decoded)."""
    return '"' + re.sub(r'(["\\&])', r"\\\1", text) + '"'


def _day(when: date, locale: str = "en") -> str:
    """``03 February 2021``: the date as the press page prints it, in the reader's language
    (``03 février 2021``, ``03 de febrero de 2021``; CLDR, through :mod:`storykit.i18n`)."""
    from storykit.i18n import format_date

    return format_date(when, locale)


def _heading_level(_instance: object, _attribute: object, value: int) -> None:
    if not 1 <= value <= 5:
        raise ValueError(f"must be 1 to 5 (got {value!r})")


@attrs.frozen
class MarkdownOptions:
    """Options of the ``markdown`` format."""

    #: The level of each story's heading; the collection's title is one level above it
    #: (or left out when this is 1).
    heading_level: int = attrs.field(default=2, validator=_heading_level)
    #: Show each story's picture, with its alt text and photo credit.
    images: bool = True
    #: The language of the dates (BCP 47, e.g. ``fr``); default the collection's language.
    locale: str | None = None


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
        locale = opts.locale or collection.language
        for story in collection:
            blocks.extend(self.section(story, opts, locale=locale))
        out.write(("\n\n".join(blocks) + "\n").encode("utf-8"))

    def section(self, story: storykit.Story, opts: MarkdownOptions, *,
                locale: str = "en") -> list[str]:
        """The blocks of one story: heading, date (in ``locale``), picture, summary, links."""
        title = escape(story.title)
        if story.url:
            title = f"[{title}]({_destination(story.url)})"
        day = escape(_day(story.published, locale))
        blocks = ["#" * opts.heading_level + " " + title, f"*{day}*"]
        image = story.image
        if opts.images and image is not None:
            credit = f" {_title_attr(str(image.credit))}" if image.credit else ""
            blocks.append(f"![{escape(image.alt)}]({_destination(image.url)}{credit})")
            if image.credit:
                blocks.append(f"*{escape(str(image.credit))}*")
        blocks.extend(escape(p) for p in re.split(r"\n\s*\n", story.summary) if p.strip())
        if story.body:
            # The sanitised HTML body as one raw HTML block: CommonMark ends such a block at a
            # blank line, so none is left inside it.
            inner = re.sub(r"\n\s*\n", "\n", story.body)
            blocks.append(f'<div class="story-body">\n{inner}\n</div>')
        if story.links:
            blocks.append("\n".join(f"- [{escape(link.title)}]({_destination(link.url)})"
                                    for link in story.links))
        return blocks


@storykit.hookimpl
def register_exporters() -> list[storykit.Exporter]:
    """Tell storykit about the ``markdown`` format."""
    return [MarkdownExporter()]
