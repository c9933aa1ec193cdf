"""JSON: the collection document of DESIGN, a bare array of stories, or JSON Lines."""

from __future__ import annotations

from typing import Any, BinaryIO, Literal

import attrs
import orjson

from storykit.collection import Collection
from storykit.convert import collection_meta, story_to_data
from storykit.exporter import parse_options
from storykit.plugins import hookimpl

#: Stories rendered per write() call when streaming: big enough to amortise calls.
CHUNK = 512


@attrs.frozen
class JSONOptions:
    """Options of the ``json`` format."""

    #: ``document`` (the collection, loads back equal), ``stories`` (a bare array) or
    #: ``lines`` (JSON Lines, one story per line).
    shape: Literal["document", "stories", "lines"] = "document"
    #: Spaces of indentation: 0 for compact output, or 2.
    indent: Literal[0, 2] = 0
    #: Escape every non-ASCII character as ``\\uXXXX``.
    ensure_ascii: bool = False


def _ascii(data: bytes) -> bytes:
    import json

    return json.dumps(orjson.loads(data), ensure_ascii=True, separators=(",", ":")).encode()


class JSONExporter:
    name = "json"
    media_type = "application/json"
    suffix = ".json"
    description = "The collection document (loads back equal), a bare array, or JSON Lines."
    options_type = JSONOptions

    def write(self, collection: Collection, out: BinaryIO, **options: Any) -> None:
        opts = parse_options(self, options, JSONOptions)
        flags = orjson.OPT_INDENT_2 if opts.indent == 2 else 0
        fix = _ascii if opts.ensure_ascii else (lambda b: b)
        if opts.shape == "lines":
            _write_lines(collection, out, fix)
            return
        if opts.indent == 2 or opts.ensure_ascii:
            # Pretty or ASCII output is for people and small files: render it whole.
            from storykit.convert import collection_to_data

            doc: Any = collection_to_data(collection)
            if opts.shape == "stories":
                doc = doc["stories"]
            data = orjson.dumps(doc, option=flags)
            if opts.ensure_ascii:
                import json

                data = json.dumps(orjson.loads(data), ensure_ascii=True,
                                  indent=opts.indent or None).encode()
            out.write(data + (b"\n" if opts.indent else b""))
            return
        # Compact output streams: the metadata, then the stories in chunks.
        if opts.shape == "document":
            head = orjson.dumps(collection_meta(collection))
            out.write(head[:-1] + b',"stories":[')
        else:
            out.write(b"[")
        stories = collection.stories
        dumps = orjson.dumps
        for start in range(0, len(stories), CHUNK):
            chunk = b",".join([dumps(story_to_data(s)) for s in stories[start:start + CHUNK]])
            out.write(chunk if start == 0 else b"," + chunk)
        out.write(b"]}" if opts.shape == "document" else b"]")


def _write_lines(collection: Collection, out: BinaryIO, fix: Any) -> None:
    stories = collection.stories
    dumps = orjson.dumps
    for start in range(0, len(stories), CHUNK):
        lines = [fix(dumps(story_to_data(s))) for s in stories[start:start + CHUNK]]
        out.write(b"\n".join(lines) + b"\n")


@hookimpl
def register_exporters() -> list[JSONExporter]:
    return [JSONExporter()]
