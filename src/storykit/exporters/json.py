"""JSON: the collection document of DESIGN, a bare array of stories, or JSON Lines.

Every shape streams: the stories are rendered a chunk at a time, so memory does not grow with
the size of the collection. The ``document`` shape loads back to an equal collection.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable, Iterable, Iterator
from datetime import date
from typing import Any, BinaryIO, Literal

import attrs
import orjson

from storykit.collection import Collection
from storykit.convert import collection_meta, story_to_data
from storykit.errors import OptionError
from storykit.exporter import parse_options
from storykit.model import Story
from storykit.plugins import hookimpl

#: Stories rendered per write() call when streaming: big enough to amortise calls.
CHUNK = 64


@attrs.frozen
class JSONOptions:
    """Options of the ``json`` format."""

    #: ``document`` (the collection, loads back equal), ``stories`` (a bare array) or
    #: ``lines`` (JSON Lines, one story per line).
    shape: Literal["document", "stories", "lines"] = "document"
    #: Spaces of indentation: 0 for compact output, or 2 (not with ``shape="lines"``).
    indent: Literal[0, 2] = 0
    #: Escape every non-ASCII character as ``\\uXXXX`` (for 7-bit channels).
    ensure_ascii: bool = False


_NON_ASCII = re.compile("[^\x00-\x7f]+")


def _escape(match: re.Match[str]) -> str:
    out = []
    for ch in match.group():
        code = ord(ch)
        if code > 0xFFFF:  # outside the BMP: a UTF-16 surrogate pair, as JSON requires
            code -= 0x10000
            out.append(f"\\u{0xD800 + (code >> 10):04x}\\u{0xDC00 + (code & 0x3FF):04x}")
        else:
            out.append(f"\\u{code:04x}")
    return "".join(out)


def _ascii(data: bytes) -> bytes:
    """``data`` (JSON from orjson) with non-ASCII characters escaped.

    Outside strings JSON is ASCII, so escaping every non-ASCII character is exact.
    """
    if data.isascii():
        return data
    return _NON_ASCII.sub(_escape, data.decode("utf-8")).encode("ascii")


def _same(data: bytes) -> bytes:
    return data


class JSONExporter:
    """The ``json`` format."""

    name = "json"
    media_type = "application/json"
    suffix = ".json"
    description = "The collection document (loads back equal), a bare array, or JSON Lines."
    options_type = JSONOptions

    #: :meth:`write_stream` takes the stories as an iterable (``storykit.io.stream_export``).
    streams = True

    def continuation_options(self, options: dict[str, Any]) -> dict[str, Any] | None:
        """The options that render a later part of a stream so that the parts concatenate:
        JSON Lines only (a document or an array has one frame around all its stories)."""
        opts = parse_options(self, options, JSONOptions)
        return options if opts.shape == "lines" else None

    def write(self, collection: Collection, out: BinaryIO, **options: Any) -> None:
        """Write ``collection`` to ``out`` as JSON, a chunk of stories at a time."""
        self.write_stream(collection, collection.stories, out, **options)

    def write_stream(self, collection: Collection, stories: Iterable[Story], out: BinaryIO,
                     **options: Any) -> None:
        """Write ``stories`` (any iterable, read once) with ``collection``'s metadata."""
        opts = parse_options(self, options, JSONOptions)
        fix: Callable[[bytes], bytes] = _ascii if opts.ensure_ascii else _same
        if opts.shape == "lines":
            if opts.indent:
                raise OptionError(self.name, "indent", "must be 0 with shape='lines' (JSON Lines "
                                  "holds one story per line)")
            _write_lines(stories, out, fix)
        elif opts.indent:
            _write_pretty(collection, stories, out, fix, opts.shape == "document")
        else:
            _write_compact(collection, stories, out, fix, opts.shape == "document")


def _story_doc(s: Story) -> dict[str, Any]:
    """:func:`~storykit.convert.story_to_data` for orjson, which renders dates and tuples
    itself: the same JSON, byte for byte, with fewer calls (``tests/test_fastpath.py``)."""
    d: dict[str, Any] = {"id": s.id, "title": s.title, "published": s.published,
                         "summary": s.summary}
    if type(s.published) is not date:
        d["published"] = s.published.isoformat()
    if s.url is not None:
        d["url"] = s.url
    image = s.image
    if image is not None:
        credit = image.credit
        if credit is None:
            d["image"] = {"url": image.url, "alt": image.alt}
        elif credit.year is None:
            d["image"] = {"url": image.url, "alt": image.alt, "credit": {"holder": credit.holder}}
        else:
            d["image"] = {"url": image.url, "alt": image.alt,
                          "credit": {"holder": credit.holder, "year": credit.year}}
    if s.topics:
        d["topics"] = s.topics
    if s.countries:
        d["countries"] = s.countries
    d["language"] = s.language
    if s.links:
        d["links"] = [{"url": x.url, "title": x.title} for x in s.links]
    if s.translations:
        d["translations"] = story_to_data(s)["translations"]
    updated = s.updated
    if updated is not None:
        d["updated"] = updated if type(updated) is date else updated.isoformat()
    if s.body is not None:
        d["body"] = s.body
    return d


def _story_json(s: Story) -> bytes:
    """One story as compact JSON: the pure path, and the C module's fallback."""
    return orjson.dumps(_story_doc(s))


def _load_encoder() -> Callable[[list[Story], bytes, bool], bytes] | None:
    """``storykit._speedups.encode``, set up for the model, or None where it was not built.

    ``encode(stories, sep, end)`` gives exactly ``sep.join(map(_story_json, stories))`` (and a
    final ``sep`` if ``end``), about twice as fast; anything it was not written for (a
    subclass, a lone surrogate) it hands back to :func:`_story_json`.
    """
    try:
        from storykit import _speedups
    except ImportError:  # not CPython, or run from a tree where it was not built
        return None
    from storykit.model import Credit, Image, Link, Translation

    _speedups.setup(Story, Image, Credit, Link, Translation, _story_json)
    return _speedups.encode


#: The C encoder of compact stories, or None: then the pure path below renders them.
_encode = _load_encoder()


def _encoded(stories: Iterable[Story], sep: bytes, end: bool) -> Iterator[bytes]:
    """The stories as compact JSON, :data:`CHUNK` at a time, each chunk joined by ``sep``
    (one byte) and ended by it too if ``end``."""
    encode = _encode
    for batch in _chunked(stories):
        if encode is not None:
            yield encode(batch, sep, end)
        else:
            parts = [_story_json(s) for s in batch]
            if end:
                parts.append(b"")  # (so that the join ends with sep: no copy to add one)
            yield sep.join(parts)


def _chunked(stories: Iterable[Story]) -> Iterator[list[Story]]:
    """The stories, :data:`CHUNK` at a time."""
    it = iter(stories)
    while batch := list(itertools.islice(it, CHUNK)):
        yield batch


def _chunks(stories: Iterable[Story], render: Callable[[Any], bytes]) -> Any:
    for batch in _chunked(stories):
        yield [render(_story_doc(s)) for s in batch]


def _write_compact(collection: Collection, stories: Iterable[Story], out: BinaryIO,
                   fix: Callable[[bytes], bytes], document: bool) -> None:
    if document:
        head = orjson.dumps(collection_meta(collection))
        out.write(fix(head[:-1]) + b',"stories":[')
    else:
        out.write(b"[")
    write = out.write
    first = True
    for data in _encoded(stories, b",", False):
        if not first:
            write(b",")
        write(fix(data))
        first = False
    write(b"]}" if document else b"]")


def _write_pretty(collection: Collection, stories: Iterable[Story], out: BinaryIO,
                  fix: Callable[[bytes], bytes], document: bool) -> None:
    """Indented by 2, byte for byte what ``orjson.dumps(doc, option=OPT_INDENT_2)`` gives."""
    pad = b"    " if document else b"  "
    if document:
        head = orjson.dumps(collection_meta(collection), option=orjson.OPT_INDENT_2)
        out.write(fix(head[:-2]) + b',\n  "stories": ')

    def render(data: Any) -> bytes:
        return pad + orjson.dumps(data, option=orjson.OPT_INDENT_2).replace(b"\n", b"\n" + pad)

    first = True
    for chunk in _chunks(stories, render):
        data = fix(b",\n".join(chunk))
        out.write(b"[\n" + data if first else b",\n" + data)
        first = False
    if first:  # no stories
        out.write(b"[]\n}\n" if document else b"[]\n")
        return
    out.write(b"\n  ]\n}\n" if document else b"\n]\n")


def _write_lines(stories: Iterable[Story], out: BinaryIO, fix: Callable[[bytes], bytes]) -> None:
    write = out.write
    for data in _encoded(stories, b"\n", True):
        write(fix(data))


@hookimpl
def register_exporters() -> list[JSONExporter]:
    """The built-in ``json`` format."""
    return [JSONExporter()]
