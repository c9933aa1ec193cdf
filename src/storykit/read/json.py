"""The ``json`` reader: the collection document of DESIGN, or a bare list of stories.

A document is first decoded by msgspec against the document's schema (``read/schema.py``:
types, unknown fields and the rules that are patterns, in compiled code; the other rules once
per value). Only a document that try does not accept as a whole is parsed by orjson and checked
the detailed way, which names every problem with its path, line and value. A key an object
repeats (which both parsers would keep silently, the last value) is found by parsing once more
only when two cheap checks cannot rule it out.
"""

from __future__ import annotations

import re
from typing import Any

import orjson

from storykit.collection import Collection
from storykit.convert import collection_from_data
from storykit.errors import ErrorDetail, ValidationError
from storykit.model import Errors, _join
from storykit.plugins import hookimpl
from storykit.read.decode import BOM, decode, fail, first_bad_byte, no_key_lost, not_utf8

__all__ = ["MAX_JSON_DEPTH", "JSONReader", "no_repeated_key", "one_object_per_line",
           "parse_json", "repeated_keys"]

#: The deepest JSON nesting read: orjson's fixed limit (a story document needs 5 levels).
MAX_JSON_DEPTH = 1024


_NUMBER = re.compile(r"-?[0-9.eE+-]+")


_NON_JSON_NUMBER = re.compile(r"-?(?:NaN|Infinity|nan|inf)\b")



def json_error(e: orjson.JSONDecodeError, source: str | None, line: int | None = None) -> (
        ValidationError):
    """The error for JSON that orjson refused, at its line and column (``line``: the line of
    JSON Lines that holds it, whose column orjson counts)."""
    msg = e.msg.lower()
    n, col = e.lineno if line is None else line, e.colno
    if "depth" in msg or "recursion" in msg:
        return fail(f"nested too deeply: JSON deeper than {MAX_JSON_DEPTH:,} levels", source,
                    line=n, column=col)
    if "infinity when parsed" in msg:
        number = _NUMBER.match(e.doc, e.pos)
        digits = len(number.group()) if number else 0
        return fail(f"holds a number of {digits:,} characters, too large for JSON's 64-bit "
                    "float (the limit is about 1.8e308)", source,
                    number.group()[:40] if number else None, line=n, column=col)
    bad = _NON_JSON_NUMBER.match(e.doc, max(e.pos - 1, 0)) or _NON_JSON_NUMBER.match(e.doc, e.pos)
    if bad is not None:
        return fail(f"holds {bad.group()!r}, which is not a JSON number (NaN and Infinity are "
                    "not allowed)", source, bad.group(), line=n, column=col)
    hint = ""
    if line is not None and e.doc[:e.pos].rstrip(" \t").endswith("\r"):
        hint = ("; lines of JSON Lines end with \\n, and this one holds another line after a "
                "lone \\r, as files with old Mac line ends do")
    return fail(f"is not valid JSON: {e.msg}{hint}", source, line=n, column=col)


def parse_json(data: str | bytes, source: str | None, line: int | None = None,
          index: int | None = None, repeats: Errors | None = None) -> Any:
    """Parse JSON with orjson; refuse duplicate keys, NaN, huge numbers and deep nesting.


    ``line`` and ``index`` are given for a line of JSON Lines: its number, and the index of the
    story it holds (an error's path starts ``stories[index]``). A key repeated in an object
    raises, or, given a list ``repeats``, is added to it and the document (the last value of
    the key) returned: the caller then lists it with the document's other problems.


    A byte order mark at the very start (of a document, or of line 1) is skipped, and bytes that
    are not UTF-8 are named: both only once orjson has refused the data, which it does for
    either at once, so that valid JSON is parsed once and never decoded first.
    """
    try:
        doc = orjson.loads(data)
    except orjson.JSONDecodeError as e:
        if line is None and type(data) is bytes and (bad := first_bad_byte(data)) is not None:
            # (before a BOM is taken off: the offset is the one in the file)
            raise not_utf8(data[bad], bad, source, data.count(b"\n", 0, bad) + 1) from None
        bom: Any = BOM if type(data) is bytes else "\ufeff"
        if line in (None, 1) and data.startswith(bom) and not data.startswith(bom, len(bom)):
            return parse_json(data[len(bom):], source, line, index, repeats)
        if line is not None and type(data) is bytes:
            if (bad := first_bad_byte(data)) is not None:
                raise not_utf8(data[bad], bad, source, line, in_line=True) from None
            if data.endswith((b"\n", b"\r")):  # the column on this line
                return parse_json(data.rstrip(b"\r\n"), source, line, index, repeats)
        raise json_error(e, source, line) from None
    if isinstance(doc, (dict, list)):
        found = repeated_keys(data, doc, line, index)
        if found:
            if repeats is None:
                raise ValidationError(found, source)
            repeats.extend(found)
    return doc


def repeated_keys(data: str | bytes, doc: Any, line: int | None,
                   index: int | None = None) -> Errors | None:
    """The problems of the keys an object of ``data`` repeats (orjson keeps the last value
    silently), or None.


    Two cheap checks come first. Text that is the compact re-rendering of what it parsed to
    (as JSON written by orjson, storykit or most serialisers is) repeats no key: a
    repeated key would be missing from the re-rendering. Otherwise, every ``:`` of a JSON text
    separates a key from its value or sits inside a string, so a document without repeated keys
    has exactly as many as its compact re-rendering (orjson never escapes ``:``). Only when the
    counts differ, or ``\u003a`` hides a colon, is the document parsed again to find the
    repeated key and its path.
    """
    if no_repeated_key(data, doc):
        return None
    import json


    found: list[tuple[str, Any]] = []


    def pairs(items: list[tuple[str, Any]]) -> dict[str, Any]:
        d: dict[str, Any] = {}
        for key, value in items:
            if key in d:
                found.append((key, d))
            d[key] = value
        return d


    try:
        tree = json.loads(data, object_pairs_hook=pairs)
    except (ValueError, RecursionError):  # pragma: no cover - orjson accepted it
        return None
    if not found:
        return None
    root = "stories" if isinstance(tree, list) else "" if index is None else f"stories[{index}]"
    paths = _paths_to(tree, {id(d) for _, d in found}, root)
    return [ErrorDetail(_join(paths[id(d)], key),
                        f"{key!r} is given twice in one object (a JSON object must not "
                        "repeat a key)", key, line) for key, d in found]


def no_repeated_key(data: str | bytes, doc: Any) -> bool:
    """The cheap checks of :func:`repeated_keys`: true when ``data``, which orjson parsed to
    ``doc``, surely repeats no key."""
    try:
        compact = orjson.dumps(doc)
    except orjson.JSONEncodeError:  # (nested deeper than orjson writes: 255 levels)
        return False
    return no_key_lost(data, compact)


def _paths_to(tree: Any, targets: set[int], root: str) -> dict[int, str]:
    """The path (``stories[3].image``) of each object of ``tree`` whose ``id()`` is in
    ``targets``, by its ``id()``, in one walk of the tree, whose own path is ``root``
    (``stories`` for a bare list of stories, ``stories[3]`` for a line of JSON Lines, ``""``
    for a collection document)."""
    found: dict[int, str] = {}
    stack: list[tuple[Any, str]] = [(tree, root)]
    while stack and len(found) < len(targets):
        node, path = stack.pop()
        if id(node) in targets:
            found[id(node)] = path
        if isinstance(node, dict):
            stack.extend((v, _join(path, str(k))) for k, v in node.items()
                         if isinstance(v, (dict, list)))
        elif isinstance(node, list):
            stack.extend((v, f"{path}[{i}]") for i, v in enumerate(node)
                         if isinstance(v, (dict, list)))
    return found



def read_json(data: str | bytes, source: str | None) -> Collection:
    """The collection of a JSON document: msgspec's schema first (compiled), and only for a
    document it does not accept as a whole, the detailed check that names every problem."""
    from storykit.read.schema import collection_from_json

    fast = collection_from_json(data)
    if fast is not None:
        return fast
    repeats: Errors = []
    doc = parse_json(data, source, repeats=repeats)
    try:
        if not repeats:
            return collection_from_data(doc, source)
        # A repeated key does not hide the document's other problems: one raise names them all.
        try:
            collection_from_data(doc, source)
        except ValidationError as e:
            repeats.extend(e.errors)
        repeats.sort(key=_story_of)  # (stable: a story's repeated keys come before its problems)
        raise ValidationError(repeats, source)
    except ValidationError as e:  # each problem at its line and column, found only now
        from storykit.read.positions import located

        raise ValidationError(located(e.errors, decode(data, source), "json"),
                              e.source) from None



_STORY_INDEX = re.compile(r"stories\[(\d+)\]")



def _story_of(error: ErrorDetail) -> int:
    """The index of the story a problem is in; -1 for the collection's metadata."""
    m = _STORY_INDEX.match(error.path)
    return int(m.group(1)) if m else -1



class JSONReader:
    """The collection document (storykit's JSON), or a bare list of stories."""

    name = "json"
    suffixes = (".json",)
    media_types = ("application/json",)
    description = "The collection document (storykit's JSON), or a bare list of stories."
    options_type = None
    input = "stream"

    def read(self, source: Any, **options: Any) -> Collection:
        return read_json(source.read(), getattr(source, "name", None))

    def read_data(self, data: str | bytes, source: str | None) -> Collection:
        return read_json(data, source)

    def sniff(self, head: bytes) -> bool:
        """A document that starts (after a BOM and white space) with an object or a list, and
        is not one object per line (JSON Lines)."""
        return (head.removeprefix(BOM).lstrip()[:1] in (b"{", b"[")
                and not one_object_per_line(head))


def one_object_per_line(head: bytes) -> bool:
    """Whether the first bytes of a file look like JSON Lines: an object on the first line,
    and another line after it."""
    first, newline, rest = head.removeprefix(BOM).lstrip().partition(b"\n")
    if not newline or not rest.strip():
        return False
    try:
        return isinstance(orjson.loads(first), dict)
    except orjson.JSONDecodeError:
        return False


@hookimpl
def register_readers() -> list[JSONReader]:
    return [JSONReader()]
