"""JSON: the collection document of DESIGN, a bare array of stories, or JSON Lines.

Every shape streams: the stories are rendered a chunk at a time, so memory does not grow with
the size of the collection. The ``document`` shape loads back to an equal collection.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from typing import Any, BinaryIO, Literal

import attrs
import msgspec

from storykit.collection import Collection
from storykit.convert import batches
from storykit.errors import OptionError
from storykit.exporter import parse_options
from storykit.model import Story
from storykit.plugins import hookimpl

#: Stories rendered per write() call when streaming: big enough to amortise calls.
CHUNK = 512
#: Stories per line of JSON Lines rendered at a time: fewer, as a stream's stories are made
#: as they are written (``storykit.stream``), and a small batch is still in the CPU's caches
#: and the garbage collector's youngest generation when it is encoded (512 at a time took a
#: fifth longer).
LINES_CHUNK = 64


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


def _ascii(data: Chunk) -> bytes:
    """``data`` (JSON from msgspec) with non-ASCII characters escaped.

    Outside strings JSON is ASCII, so escaping every non-ASCII character is exact.
    """
    data = bytes(data)
    if data.isascii():
        return data
    return _NON_ASCII.sub(_escape, data.decode("utf-8")).encode("ascii")


#: A piece of output: bytes, or a view of them (``write()`` takes either).
Chunk = bytes | memoryview
#: What every chunk goes through before it is written: :func:`_ascii` or :func:`_same`.
Fix = Callable[[Chunk], Chunk]


def _same(data: Chunk) -> Chunk:
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
        fix: Fix = _ascii if opts.ensure_ascii else _same
        if opts.shape == "lines":
            if opts.indent:
                raise OptionError(self.name, "indent", "must be 0 with shape='lines' (JSON Lines "
                                  "holds one story per line)")
            _write_lines(stories, out, fix)
        elif opts.indent:
            _write_pretty(collection, stories, out, fix, opts.shape == "document")
        else:
            _write_compact(collection, stories, out, fix, opts.shape == "document")


#: Where the stories go in the collection's encoding with no stories (compact, indented).
_HOLE = b'"stories":[]'
_PRETTY_HOLE = b'"stories": []'


def _frame(collection: Collection, indent: int) -> tuple[bytes, bytes]:
    """The document's bytes before and after its stories' array.

    That is ``msgspec.json.encode(collection)`` (indented by ``indent``), cut where its stories
    go: a collection with no stories encoded, and cut at its ``"stories":[]``. (Inside JSON
    strings ``"`` is escaped, so the key is found only where it is one.)
    """
    empty = msgspec.json.encode(attrs.evolve(collection, stories=()))
    if indent:
        head, hole, tail = msgspec.json.format(empty, indent=indent).partition(_PRETTY_HOLE)
    else:
        head, hole, tail = empty.partition(_HOLE)
    assert hole, "a collection's JSON has its stories"
    return head + hole[:-1], hole[-1:] + tail


def _write_compact(collection: Collection, stories: Iterable[Story], out: BinaryIO,
                   fix: Fix, document: bool) -> None:
    """Byte for byte ``msgspec.json.encode`` of the collection (or of its stories).

    msgspec encodes the attrs classes itself: this is :func:`storykit.convert.to_data`'s
    mapping (the one story-to-data mapping), with no Python code run per story. Each chunk is
    encoded into one reused buffer (``encode_into``: no allocation, no copy) and written as a
    view of it without its brackets: ``[a,b,c]`` without them is the stories joined by commas
    (after the first chunk, its ``[`` becomes the comma before them).
    """
    head, tail = _frame(collection, 0) if document else (b"[", b"]")
    write = out.write
    write(fix(head))
    encoder = msgspec.json.Encoder()
    buf = bytearray()
    start = 1
    for batch in batches(stories, CHUNK):
        encoder.encode_into(batch, buf)
        buf[0] = 0x2C  # (a comma)
        view = memoryview(buf)[start:-1]
        write(fix(view))
        del view
        start = 0
        try:
            buf.append(0)  # (refused while ``out`` keeps a view of the buffer: then a new one)
        except BufferError:
            buf = bytearray()
    write(fix(tail))


def _write_pretty(collection: Collection, stories: Iterable[Story], out: BinaryIO,
                  fix: Fix, document: bool) -> None:
    """Indented by 2, byte for byte what ``msgspec.json.format(..., indent=2)`` gives for the
    whole document, and a line break."""
    head, tail = _frame(collection, 2) if document else (b"[", b"]")
    out.write(fix(head))
    encoder = msgspec.json.Encoder()
    first = True
    for batch in batches(stories, CHUNK):
        # The chunk as an indented array, its items moved in under the document's key.
        items = msgspec.json.format(encoder.encode(batch), indent=2)[2:-2]
        data = fix(b"  " + items.replace(b"\n", b"\n  ") if document else items)
        out.write(b"\n" if first else b",\n")
        out.write(data)
        first = False
    if not first:
        out.write(b"\n  " if document else b"\n")
    out.write(fix(tail))
    out.write(b"\n")


def _write_lines(stories: Iterable[Story], out: BinaryIO, fix: Fix) -> None:
    """JSON Lines; U+2028 and U+2029 (a summary may hold them) escaped, as only inside strings
    can they be: ``str.splitlines()`` and other line splitters take them for line breaks."""
    write = out.write
    encoder = msgspec.json.Encoder()
    for batch in batches(stories, LINES_CHUNK):
        # (bytes() of bytes is the same object, not a copy.)
        data = bytes(fix(encoder.encode_lines(batch)))
        write(data.replace(_LS, b"\\u2028").replace(_PS, b"\\u2029"))


_LS, _PS = "\u2028".encode(), "\u2029".encode()


@hookimpl
def register_exporters() -> list[JSONExporter]:
    """The built-in ``json`` format."""
    return [JSONExporter()]
