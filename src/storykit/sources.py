"""Helpers for readers: names, bounded reads, one-line refusals, stable ids, error paths.

Every first-party reader (the content folder, the feeds, the web page, the WordPress export)
uses these, and a plugin's reader may too: they keep "this is not what I read" a one-line
:class:`~storykit.ValidationError` and every limit named.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from typing import Any, BinaryIO

import attrs

from storykit import _rules as rules
from storykit.errors import ErrorDetail, ValidationError

__all__ = [
    "MAX_BYTES",
    "MAX_DEPTH",
    "depth_of",
    "language_tag",
    "read_bytes",
    "refuse",
    "source_name",
    "stable_id",
    "with_paths",
]

#: The largest document a stream reader takes (a feed of 10,000 full entries is ~50 MB).
MAX_BYTES = 256 * 1024 * 1024
#: The deepest nesting of elements or JSON values a reader accepts.
MAX_DEPTH = 200


def source_name(source: Any) -> str | None:
    """The name a stream or path goes by in messages (a file object's ``name``), or None."""
    name = getattr(source, "name", None)
    if isinstance(name, str):
        return name
    if name is not None and not isinstance(name, int):
        return str(name)
    return None


def refuse(message: str, source: str | None = None, path: str = "") -> ValidationError:
    """A one-line :class:`~storykit.ValidationError`: the document is not what the reader reads,
    or passes one of its limits. Raise it (``raise refuse(...) from None``)."""
    return ValidationError([ErrorDetail(path, message)], source)


def read_bytes(stream: BinaryIO, limit: int = MAX_BYTES, *, what: str = "document") -> bytes:
    """All of ``stream``, refused (one line, the limit named) past ``limit`` bytes."""
    data = stream.read(limit + 1)
    if isinstance(data, str):
        data = data.encode("utf-8")
    if len(data) > limit:
        raise refuse(f"the {what} is larger than the limit of {limit:,} bytes",
                     source_name(stream))
    return bytes(data)


_SLUG_RUN = re.compile(r"[^a-z0-9]+")


def language_tag(value: Any) -> str | None:
    """``value`` as the model's language tag (``en_US`` read as ``en-US``), or None when it is
    not a string the model takes: a reader then falls back to the source's or a default."""
    if not isinstance(value, str):
        return None
    try:
        return rules.language(value.strip().replace("_", "-"))
    except rules.Invalid:
        return None


def _slug(text: str) -> str:
    # (cut at the longest id the model takes: a storykit feed's ids read back whole)
    return _SLUG_RUN.sub("-", text.lower()).strip("-")[:rules.MAX_ID].strip("-")


def stable_id(key: str, taken: set[str] | None = None) -> str:
    """A story id from an entry's id or link: the slug of its last path segments, or a short
    hash when they give none; the same key always gives the same id.

    ``taken`` (ids already given) makes a clash take the key's hash as a suffix instead.
    """
    text = key.strip()
    web = "://" in text
    if web:
        text = text.split("://", 1)[1]
        text = text.split("/", 1)[1] if "/" in text else ""
        text = text.split("?", 1)[0].split("#", 1)[0]
    elif text.startswith("tag:") and ":" in text[4:]:  # tag:host,2021:path/id (RFC 4151)
        text = text[4:].split(":", 1)[1]
    segments = [s for s in text.split("/") if s]
    digest = hashlib.sha1(key.encode("utf-8", "surrogatepass")).hexdigest()[:10]
    slug = _slug(segments[-1]) if segments else ""
    if web and (slug in ("index-html", "index", "") or slug.isdigit()) and len(segments) > 1:
        # .../2021/bees/index.html, .../posts/123: the segment before says more
        slug = _slug("-".join(segments[-2:]))
    if not slug:
        slug = f"entry-{digest}"
    if taken is not None:
        if slug in taken:
            slug = f"{slug[:68].strip('-')}-{digest}"
        taken.add(slug)
    return slug


_INDEXED = re.compile(r"stories\[(\d+)\]\.?(.*)", re.DOTALL)


def with_paths(error: ValidationError, name_of: Callable[[int], str],
               line_of: Callable[[int, str], int | None] | None = None) -> ValidationError:
    """``error`` (from :func:`storykit.convert.collection_from_data`) with each story's path
    ``stories[3].published`` renamed by ``name_of(3)`` (a file name, an entry's id), as
    ``2021/bees.md:3: published`` when ``line_of(3, "published")`` gives a line."""
    details: list[ErrorDetail] = []
    for d in error.errors:
        m = _INDEXED.fullmatch(d.path)
        if m is None:
            details.append(d)
            continue
        i, rest = int(m.group(1)), m.group(2)
        where = name_of(i)
        field = rest.split(".", 1)[0].split("[", 1)[0]
        line = line_of(i, field) if line_of is not None and field else None
        if line is not None:
            where = f"{where}:{line}"
        path = f"{where}: {rest}" if rest else where
        details.append(attrs.evolve(d, path=path))
    return ValidationError(details, error.source)


def depth_of(value: Any, limit: int = MAX_DEPTH) -> int:
    """How deeply ``value`` (lists and dicts) nests, counting up to just past ``limit``."""
    deepest = 0
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if depth > deepest:
            deepest = depth
            if deepest > limit:
                return deepest
        if isinstance(item, dict):
            stack.extend((v, depth + 1) for v in item.values())
        elif isinstance(item, list):
            stack.extend((v, depth + 1) for v in item)
    return deepest
