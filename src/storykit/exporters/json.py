"""JSON: the collection document of DESIGN, a bare array of stories, or JSON Lines.

Every shape streams: the stories are rendered a chunk at a time, so memory does not grow with
the size of the collection. The ``document`` shape loads back to an equal collection.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable, Iterable, Iterator
from typing import Any, BinaryIO, Literal

import attrs
import msgspec

from storykit.collection import Collection
from storykit.convert import collection_meta
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
    """``data`` (JSON from msgspec) with non-ASCII characters escaped.

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

    #: :meth:`write_stream` takes the stories as an iterable (``storykit.stream.stream_export``).
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


def _encoded(stories: Iterable[Story], *, lines: bool) -> Iterator[bytes]:
    """The stories as compact JSON, :data:`CHUNK` at a time: each chunk's stories joined by
    commas, or as JSON Lines (each story ended by a line break) if ``lines``.

    Each story is the converter's plain data (:func:`storykit.convert.story_to_data`, its
    unstructure hook for stories), encoded by msgspec.
    """
    from storykit.convert import converter

    to_data = converter.get_unstructure_hook(Story)
    encoder = msgspec.json.Encoder()
    for batch in _chunked(stories):
        data = [to_data(s) for s in batch]
        # ([a,b,c] without its brackets is the stories joined by commas.)
        yield encoder.encode_lines(data) if lines else encoder.encode(data)[1:-1]


def _chunked(stories: Iterable[Story]) -> Iterator[list[Story]]:
    """The stories, :data:`CHUNK` at a time."""
    it = iter(stories)
    while batch := list(itertools.islice(it, CHUNK)):
        yield batch


def _pretty(data: Any) -> bytes:
    """``data`` as JSON indented by 2 (as ``json.dumps(data, indent=2)`` writes it)."""
    return msgspec.json.format(msgspec.json.encode(data), indent=2)


def _write_compact(collection: Collection, stories: Iterable[Story], out: BinaryIO,
                   fix: Callable[[bytes], bytes], document: bool) -> None:
    if document:
        head = msgspec.json.encode(collection_meta(collection))
        out.write(fix(head[:-1]) + b',"stories":[')
    else:
        out.write(b"[")
    write = out.write
    first = True
    for data in _encoded(stories, lines=False):
        if not first:
            write(b",")
        write(fix(data))
        first = False
    write(b"]}" if document else b"]")


def _write_pretty(collection: Collection, stories: Iterable[Story], out: BinaryIO,
                  fix: Callable[[bytes], bytes], document: bool) -> None:
    """Indented by 2, byte for byte what :func:`_pretty` gives for the whole document."""
    from storykit.convert import converter

    to_data = converter.get_unstructure_hook(Story)
    if document:
        head = _pretty(collection_meta(collection))
        out.write(fix(head[:-2]) + b',\n  "stories": ')
    first = True
    for batch in _chunked(stories):
        # The chunk as an indented array, its items moved in under the document's key.
        items = _pretty([to_data(s) for s in batch])[2:-2]
        data = fix(b"  " + items.replace(b"\n", b"\n  ") if document else items)
        out.write(b"[\n" + data if first else b",\n" + data)
        first = False
    if first:  # no stories
        out.write(b"[]\n}\n" if document else b"[]\n")
        return
    out.write(b"\n  ]\n}\n" if document else b"\n]\n")


def _write_lines(stories: Iterable[Story], out: BinaryIO, fix: Callable[[bytes], bytes]) -> None:
    """JSON Lines; U+2028 and U+2029 (a summary may hold them) escaped, as only inside strings
    can they be: ``str.splitlines()`` and other line splitters take them for line breaks."""
    write = out.write
    for data in _encoded(stories, lines=True):
        write(fix(data).replace(_LS, b"\\u2028").replace(_PS, b"\\u2029"))


_LS, _PS = "\u2028".encode(), "\u2029".encode()


@hookimpl
def register_exporters() -> list[JSONExporter]:
    """The built-in ``json`` format."""
    return [JSONExporter()]
