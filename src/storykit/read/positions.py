"""Where a problem is in a JSON or TOML document: the line and column of a path such as
``stories[3].published``.

Used only when a document has problems, after it was parsed and checked: finding positions
costs a second pass over the text, which a valid document never pays. Each format has a small
scanner of its own (a regular expression finds the tokens; a walk records the offset of the
keys and values that the problems name, and of their parents; JSON that holds none of them is
skipped by the standard library's scanner): no dependency.
"""

from __future__ import annotations

import ast
import json
import re
from bisect import bisect_right
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

import attrs

from storykit.errors import ErrorDetail

__all__ = ["MAX_MAPPED", "line_column", "located", "steps"]

#: Documents larger than this (characters) keep their problems without positions: the scan is
#: pure Python (about a second for this size), and a problem's path still names it.
MAX_MAPPED = 16 * 1024 * 1024

Step = str | int
Pointer = tuple[Step, ...]

_STEP = re.compile(r"""\.?([A-Za-z_][A-Za-z0-9_]*)|\[(\d+)\]
                      |\[('(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*")\]""", re.VERBOSE)


def steps(path: str) -> Pointer | None:
    """``stories[3].image.alt`` as ``("stories", 3, "image", "alt")``; a key written as its
    ``repr()`` (``stories[0]['a b']``, see :func:`storykit.model._join`) is read back. None for
    a path that is not of this form (a file name, ``(document)``)."""
    out: list[Step] = []
    end = 0
    for m in _STEP.finditer(path):
        if m.start() != end:
            return None
        end = m.end()
        if m[1] is not None:
            out.append(m[1])
        elif m[2] is not None:
            out.append(int(m[2]))
        else:
            out.append(ast.literal_eval(m[3]))
    return tuple(out) if end == len(path) and out else None


def line_column(text: str, offsets: Iterable[int]) -> dict[int, tuple[int, int]]:
    """The line and column (both from 1; the column in characters) of each offset of
    ``text``."""
    wanted = sorted(set(offsets))
    if not wanted:
        return {}
    starts = [0]
    find = text.find
    i = find("\n", 0, wanted[-1])
    while i != -1:
        starts.append(i + 1)
        i = find("\n", i + 1, wanted[-1])
    out = {}
    for offset in wanted:
        n = bisect_right(starts, offset)
        out[offset] = (n, offset - starts[n - 1] + 1)
    return out


# --- JSON -------------------------------------------------------------------------------------

_JSON_TOKEN = re.compile(r'"(?:[^"\\]|\\.)*"|[{}\[\],:]|[^\s{}\[\],:"]+')


def _json_offsets(text: str, wanted: set[Pointer]) -> dict[Pointer, list[int]]:
    """The offsets of the key (or, for an array's element or the document, the value) of each
    pointer in ``wanted``: a list, as an object may repeat a key.

    An object or array that holds nothing wanted is skipped by the standard library's JSON
    scanner (C): the walk in Python goes only down the paths of the problems.
    """
    found: dict[Pointer, list[int]] = {}
    skip = json.JSONDecoder().raw_decode
    search = _JSON_TOKEN.search
    # One frame per open object or array: [its pointer, the key or index of the value
    # being read, whether a key comes next (objects)].
    stack: list[list[Any]] = []
    here: Pointer = ()
    pos = 0
    while (m := search(text, pos)) is not None:
        tok = m.group()
        pos = m.end()
        c = tok[0]
        if c in ",:":
            if c == "," and stack:
                top = stack[-1]
                if type(top[1]) is int:
                    top[1] += 1
                else:
                    top[2] = True
            continue
        if c in "}]":
            stack.pop()
            continue
        if stack:
            top = stack[-1]
            if top[2]:  # a key
                top[2] = False
                key = tok[1:-1] if "\\" not in tok else json.loads(tok)
                top[1] = key
                here = (*top[0], key)
                if here in wanted:
                    found.setdefault(here, []).append(m.start())
                continue
            here = (*top[0], top[1])
            if here not in wanted:
                if c in "{[":
                    pos = skip(text, m.start())[1]
                continue
            if type(top[1]) is int:
                found.setdefault(here, []).append(m.start())
        else:
            found.setdefault((), []).append(m.start())
        if c == "{":
            stack.append([here, None, True])
        elif c == "[":
            stack.append([here, 0, False])
    return found


def _json_root_is_list(text: str) -> bool:
    return text.lstrip("\ufeff \t\r\n")[:1] == "["


# --- TOML -------------------------------------------------------------------------------------

_TOML_TOKEN = re.compile(r'''
    (?P<s>"""(?:\\[\s\S]|[^\\])*?"""(?:"{1,2}(?!"))?
        | \'\'\'[\s\S]*?\'\'\'(?:'{1,2}(?!'))?
        | "(?:[^"\\\n]|\\.)*"
        | '[^'\n]*')
    | (?P<c>\#[^\n]*)
    | (?P<n>\n)
    | (?P<p>[\[\]{}=,.])
    | (?P<b>[^\s\[\]{}=,."'\#]+)
    ''', re.VERBOSE)


class _TOML:
    """A walk of a TOML document that records the offset of each key (and of each array
    element, each table's header) whose path is in ``wanted``."""

    def __init__(self, text: str, wanted: set[Pointer]) -> None:
        self.tokens = [(m.lastgroup or "", m.group(), m.start())
                       for m in _TOML_TOKEN.finditer(text) if m.lastgroup != "c"]
        self.i = 0
        self.wanted = wanted
        self.found: dict[Pointer, list[int]] = {}

    def record(self, path: Pointer, offset: int) -> None:
        if path in self.wanted:
            self.found.setdefault(path, []).append(offset)

    def peek(self) -> tuple[str, str, int]:
        return self.tokens[self.i] if self.i < len(self.tokens) else ("", "", -1)

    def skip_newlines(self) -> None:
        while self.peek()[0] == "n":
            self.i += 1

    def key(self) -> tuple[list[str], int]:
        """A dotted key, up to (not including) ``=`` or ``]``; and its offset."""
        parts: list[str] = []
        start = self.peek()[2]
        while True:
            kind, tok, _ = self.peek()
            if kind == "s":
                parts.append(_toml_string(tok))
            elif kind == "b":
                parts.append(tok)
            elif tok != ".":
                return parts, start
            self.i += 1

    def walk(self) -> dict[Pointer, list[int]]:
        table: Pointer = ()
        counts: dict[Pointer, int] = {}
        latest: dict[tuple[str, ...], Pointer] = {}  # an array of tables' names: its last table
        while self.i < len(self.tokens):
            self.skip_newlines()
            kind, tok, offset = self.peek()
            if not kind:
                break
            if tok == "[":
                self.i += 1
                array = self.peek()[1] == "[" and self.peek()[2] == offset + 1
                self.i += array
                parts, _ = self.key()
                self.i += 1 + array  # "]" or "]]"
                table = ()
                for n, part in enumerate(parts):  # (a[1].b: the last table of an array a)
                    last = n == len(parts) - 1
                    table = (*table, part) if last else latest.get(tuple(parts[:n + 1]),
                                                                    (*table, part))
                if array:
                    counts[table] = counts.get(table, -1) + 1
                    table = (*table, counts[table])
                    latest[tuple(parts)] = table
                self.record(table, offset)
            else:
                parts, offset = self.key()
                self.i += 1  # "="
                path = (*table, *parts)
                self.record(path, offset)
                self.value(path)
            while self.peek()[0] not in ("n", ""):  # (the rest of the line: nothing)
                self.i += 1
        return self.found

    def value(self, path: Pointer) -> None:
        tok = self.peek()[1]
        if tok == "{":
            self.i += 1
            while self.peek()[1] not in ("}", ""):
                if self.peek()[1] == ",":
                    self.i += 1
                    continue
                parts, start = self.key()
                self.i += 1
                self.record((*path, *parts), start)
                self.value((*path, *parts))
            self.i += 1
        elif tok == "[":
            self.i += 1
            n = 0
            while True:
                self.skip_newlines()
                _, tok, offset = self.peek()
                if tok in ("]", ""):
                    break
                if tok == ",":
                    n += 1
                    self.i += 1
                    continue
                self.record((*path, n), offset)
                self.value((*path, n))
            self.i += 1
        else:  # a scalar: a string, or bare words (1.5 is "1", ".", "5"; a date may hold a space)
            self.i += 1
            while (t := self.peek()[1]) and t not in ("\n", ",", "]", "}"):
                self.i += 1


def _toml_string(tok: str) -> str:
    if tok.startswith("'"):
        return tok[1:-1]
    try:
        return str(json.loads(tok))
    except ValueError:  # (TOML's \e and \UXXXXXXXX, which JSON has not: rare in a key)
        return tok[1:-1]


# --- both -------------------------------------------------------------------------------------


def _targets(errors: Sequence[ErrorDetail], root_is_list: bool) -> Iterator[Pointer | None]:
    for e in errors:
        p = steps(e.path)
        if p is not None and root_is_list:
            p = p[1:] if p[0] == "stories" else None
        yield p


def located(errors: Iterable[ErrorDetail], text: str, fmt: str) -> list[ErrorDetail]:
    """``errors`` of a JSON or TOML (``fmt``) document ``text``, each given the line and column
    of its path where it has no line yet: the key of the field, or of the deepest part of
    the path that the document holds (the story, for a field it is missing). A key given twice
    is placed at its second occurrence; any other problem of a repeated key at its last, the
    value that was read."""
    errors = list(errors)
    todo = [e for e in errors if e.line is None and e.path]
    if not todo or len(text) > MAX_MAPPED:
        return errors
    try:
        root_is_list = fmt == "json" and _json_root_is_list(text)
        pointers = list(_targets(todo, root_is_list))
        wanted = {p[:n] for p in pointers if p is not None for n in range(len(p) + 1)}
        found = (_json_offsets(text, wanted) if fmt == "json"
                 else _TOML(text, wanted).walk())
    except (ValueError, IndexError, SyntaxError, RecursionError):  # pragma: no cover - a text
        # it cannot follow (nested deeper than the standard library reads): no positions
        return errors
    offsets: dict[int, int] = {}
    for e, pointer in zip(todo, pointers, strict=True):
        p = pointer
        while p is not None and p not in found:
            p = p[:-1] if p else None
        if p is not None:
            seen = found[p]
            repeat = "is given twice" in e.message and len(seen) > 1
            offsets[id(e)] = seen[1] if repeat else seen[-1]
    where = line_column(text, offsets.values())
    return [attrs.evolve(e, line=where[offsets[id(e)]][0], column=where[offsets[id(e)]][1])
            if id(e) in offsets else e for e in errors]
