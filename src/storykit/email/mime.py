"""The bodies of a digest message: prepared fragments, quoted-printable, and the multipart.

Both parts are UTF-8, quoted-printable, so no line is longer than 76 octets. A body is rendered
once and cut at its per-message slots (:class:`Fragments`); each message then only fills the
slots in and joins the pieces, so a personalised run does constant work per message.
"""

from __future__ import annotations

import binascii
import re
from collections.abc import Iterable, Sequence
from typing import Any

import attrs

__all__ = [
    "GREETING",
    "PREHEADER",
    "RS",
    "UNSUBSCRIBE",
    "Fragments",
    "MarkerError",
    "Piece",
    "crlf",
    "encode",
    "multipart",
    "qp",
    "split_stories",
]

#: The record separator marks the plain-text template's slots: no story text can hold it.
RS = "\x1e"

# The per-message slots of a body, in the values passed to Fragments.encode.
GREETING, PREHEADER, UNSUBSCRIBE = 0, 1, 2


def crlf(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\r", "\n").replace("\n", "\r\n")


def qp(text: str) -> bytes:
    return binascii.b2a_qp(text.encode("utf-8"), istext=True)


@attrs.frozen
class Piece:
    """A constant fragment of a body, its complete lines quoted-printable encoded once.

    Quoted-printable works line by line, so the encoding of a text is the encodings of its
    lines joined; only the partial lines that touch a per-message slot are encoded per message.
    """

    lead: str  # up to and including the first line break (or the whole text, if none)
    middle: bytes  # the complete lines after that, encoded
    trail: str | None  # after the last line break; None when the text has no line break

    @classmethod
    def of(cls, text: str) -> Piece:
        first = text.find("\r\n")
        if first < 0:
            return cls(text, b"", None)
        last = text.rfind("\r\n")
        return cls(text[:first + 2], qp(text[first + 2:last + 2]), text[last + 2:])


def encode(pieces: Sequence[Piece | str]) -> bytes:
    """Quoted-printable of the pieces joined; ``str`` items are one-line per-message slots."""
    out: list[bytes] = []
    pending = ""
    for piece in pieces:
        if isinstance(piece, str):
            pending += piece
        elif piece.trail is None:
            pending += piece.lead
        else:
            out.append(qp(pending + piece.lead))
            out.append(piece.middle)
            pending = piece.trail
    if pending:
        out.append(qp(pending))
    return b"".join(out)



class MarkerError(ValueError):
    """A marker missing from a rendered template (made an :class:`EmailTemplateError`)."""


def _split_once(text: str, marker: str) -> tuple[str, str]:
    before, found, after = text.partition(marker)
    if not found:
        raise MarkerError(f"lacks the {marker.replace(RS, '<U+001E>')!r} marker")
    return before, after


def split_stories(text: str, start: str, story: str, end: str, n: int,
                  ) -> tuple[str, list[str], str, list[str] | None]:
    """``(head, blocks, tail, leads)``: the text cut at its story markers.

    A template gives one block per story, or two (the story as the lead, then as one of the
    others): then ``leads`` are the first of each pair, else None.
    """
    head, rest = _split_once(text, start)
    body, tail = _split_once(rest, end)
    blocks = body.split(story)
    lead, blocks = blocks[0], blocks[1:]
    if n and len(blocks) == 2 * n:
        return head + lead, blocks[1::2], tail, blocks[0::2]
    if len(blocks) != n:
        shown = story.replace(RS, "<U+001E>").strip()
        k = len(blocks)
        raise MarkerError(f"gives {k} {shown!r} marker{'' if k == 1 else 's'} for {n} "
                           f"{'story' if n == 1 else 'stories'} (put one at the start of "
                           "each story, inside the loop)")
    return head + lead, blocks, tail, None



class Fragments:
    """A body cut at its per-message slots: preheader, greeting, story blocks, unsubscribe URL.

    The slots are marked so that no data can forge them (HTML comments and a quoted attribute
    in the autoescaped HTML; U+001E, which the model refuses in text, in the plain text).
    ``markers`` maps each marker to its slot (``GREETING``, ...); the greeting is required,
    so is the unsubscribe slot when it is among the markers; the preheader's (there when
    each message has its own preview) is optional: a template need not show a preview.
    """

    def __init__(self, head: str, blocks: list[str], tail: str, *,
                 markers: dict[str, int], tag: str = "", leads: list[str] | None = None,
                 ) -> None:
        cut = re.compile("|".join(map(re.escape, markers)))
        if tag:  # markers not cut at (used twice, or not a slot here) lose their tag
            blocks = [block.replace(f"sk:{tag}:", "sk:") for block in blocks]
            leads = [block.replace(f"sk:{tag}:", "sk:") for block in leads or ()] or None
        self.head = self._cut(crlf(head), cut, markers, tag)
        self.blocks = [Piece.of(crlf(block)) for block in blocks]
        #: Each story's block when it leads the message (its first story), if the template
        #: gives one.
        self.leads = [Piece.of(crlf(block)) for block in leads] if leads else None
        self.tail = self._cut(crlf(tail), cut, markers, tag)
        found = {p for p in (*self.head, *self.tail) if isinstance(p, int)}
        for marker, slot in markers.items():
            if slot != PREHEADER and slot not in found:
                raise MarkerError(f"lacks the {marker.replace(RS, '<U+001E>')!r} marker")
        # Where the slots are, so that encode() only fills them in.
        self._head_slots = [(i, p) for i, p in enumerate(self.head) if isinstance(p, int)]
        self._tail_slots = [(i, p) for i, p in enumerate(self.tail) if isinstance(p, int)]

    @staticmethod
    def _cut(text: str, cut: re.Pattern[str], markers: dict[str, int], tag: str,
             ) -> tuple[Piece | int, ...]:
        texts: list[str] = []
        slots: list[int] = []
        pos = 0
        for m in cut.finditer(text):
            texts.append(text[pos:m.start()])
            slots.append(markers[m.group()])
            pos = m.end()
        texts.append(text[pos:])
        if tag:
            texts = [t.replace(f"sk:{tag}:", "sk:") for t in texts]
        parts: list[Piece | int] = [Piece.of(texts[0])]
        for slot, t in zip(slots, texts[1:], strict=True):
            parts += [slot, Piece.of(t)]
        return tuple(parts)

    def encode(self, picked: Iterable[int], values: Sequence[str]) -> bytes:
        """The body with the blocks at ``picked``; ``values`` fill the slots, by slot number."""
        head: list[Any] = list(self.head)
        for i, slot in self._head_slots:
            head[i] = values[slot]
        tail: list[Any] = list(self.tail)
        for i, slot in self._tail_slots:
            tail[i] = values[slot]
        stories = list(map(self.blocks.__getitem__, picked))
        if self.leads is not None and stories:
            stories[0] = self.leads[next(iter(picked))]
        return encode([*head, *stories, *tail])



def multipart(head: Sequence[bytes], boundary: bytes, text_body: bytes, html_body: bytes,
              ) -> bytes:
    """A ``multipart/alternative`` message: ``head`` (header lines), plain text, then HTML."""
    sep = b"--" + boundary
    return b"".join([
        *head,
        b'MIME-Version: 1.0\r\nContent-Type: multipart/alternative;\r\n boundary="',
        boundary, b'"\r\n\r\n',
        sep, b'\r\nContent-Type: text/plain; charset="utf-8"\r\n'
             b"Content-Transfer-Encoding: quoted-printable\r\n\r\n",
        text_body, b"\r\n" if not text_body.endswith(b"\r\n") else b"",
        sep, b'\r\nContent-Type: text/html; charset="utf-8"\r\n'
             b"Content-Transfer-Encoding: quoted-printable\r\n\r\n",
        html_body, b"\r\n" if not html_body.endswith(b"\r\n") else b"",
        sep, b"--\r\n",
    ])
