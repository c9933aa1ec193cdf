"""Bytes to text for the readers: the byte order mark, and errors naming bytes that are not
UTF-8."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from storykit.errors import ErrorDetail, ValidationError

__all__ = ["BOM", "decode", "fail", "file_not_utf8", "first_bad_byte", "no_key_lost", "not_utf8"]

#: The UTF-8 byte order mark, which Notepad and Excel put at the start of a file: skipped there.
BOM = b"\xef\xbb\xbf"


def fail(message: str, source: str | None, value: Any = None, line: int | None = None,
         path: str = "", *, column: int | None = None) -> ValidationError:
    """A :class:`~storykit.ValidationError` of one problem."""
    return ValidationError([ErrorDetail(path, message, value, line, column)], source)


def decode(data: str | bytes, source: str | None) -> str:
    """``data`` as text, without a byte order mark at its start; bytes must be UTF-8."""
    if isinstance(data, str):
        return data[1:] if data.startswith("\ufeff") else data
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        start = first_bad_byte(data)
        assert start is not None
        raise not_utf8(data[start], start, source, data.count(b"\n", 0, start) + 1) from None


def no_key_lost(data: str | bytes, compact: bytes) -> bool:
    """Whether ``compact``, the compact re-rendering of what a JSON parser made of ``data``,
    surely holds every key ``data`` holds: then ``data`` repeats no key (a parser keeps one
    value of a repeated key, silently, and the re-rendering has one key less).

    Every ``:`` of a JSON text separates a key from its value or sits inside a string, and no
    encoder escapes it; so the two hold as many as each other unless a key was lost, or
    ``data`` hides a colon as ``\\u003a`` (then the answer is no: the caller looks closer).
    Text that is the re-rendering itself (as JSON written by orjson, msgspec or storykit is)
    is recognised first.
    """
    if isinstance(data, bytes):
        if data.startswith(compact) and not data[len(compact):].strip():
            return True  # (what follows the JSON can only be whitespace: it was parsed)
        # (a backslash first: one byte is found far faster than six)
        return data.count(b":") == compact.count(b":") and (
            b"\\" not in data or (b"\\u003a" not in data and b"\\u003A" not in data))
    return data.count(":") == compact.count(b":") and (
        "\\" not in data or ("\\u003a" not in data and "\\u003A" not in data))


def first_bad_byte(data: bytes) -> int | None:
    """The offset of the first byte of ``data`` that is not UTF-8 (a BOM is UTF-8), if any."""
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as e:
        return e.start
    return None


def not_utf8(byte: int, offset: int, source: str | None, line: int,
             in_line: bool = False) -> ValidationError:
    """The error for a byte that is not UTF-8, at ``offset`` in the document, or in the line
    when ``in_line`` (a line of JSON Lines: the workers of a parallel export see only their
    lines, and must name a problem as :func:`storykit.load` does)."""
    return fail(f"is not UTF-8: byte {byte:#04x} at offset {offset}"
                f"{' of the line' if in_line else ''}", source, line=line)


def file_not_utf8(path: Path, source: str) -> ValidationError:
    """The error for a file that is not UTF-8, as :func:`decode` gives it for the whole file,
    found line by line (in constant memory: this is for files that are streamed)."""
    offset = 0
    with path.open("rb") as f:
        for n, line in enumerate(f, 1):
            start = first_bad_byte(line)
            if start is not None:
                return not_utf8(line[start], offset + start, source, n)
            offset += len(line)
    return fail("is not UTF-8 (the file changed while it was read)", source)  # pragma: no cover
