"""What a format keeps of a story: :class:`Keeps`."""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

import attrs

from storykit.collection import Collection
from storykit.model import Credit, Image, Link, MediaContact, Story, Translation

_TIMESPECS = ("microseconds", "milliseconds", "seconds")

# The noncharacters: U+FDD0..U+FDEF and the last two code points of every plane. HTML forbids
# them in text (the html exporter writes U+FFFD for each); the model refuses U+FFFE/U+FFFF.
_NONCHARACTERS = re.compile("[\ufdd0-\ufdef" + "".join(
    f"{chr(plane * 0x10000 + 0xfffe)}{chr(plane * 0x10000 + 0xffff)}" for plane in range(17))
    + "]")


@attrs.frozen(kw_only=True)
class Keeps:
    """What a format keeps of a story, for a test that reads its output back.

    ``stories()`` makes every value the model accepts, and not every format can hold each:
    RSS dates (RFC 822) and the HTML page keep whole seconds, HTML writes U+FFFD for a
    noncharacter, a CSV export has no body. Say so once, and compare what is read back
    with what was written *as the format keeps it*, rather than rounding in every test::

        RSS = Keeps(timespec="seconds", fields=("title", "published"))

        @given(collections(min_size=1))
        def test_rss_reads_back(col):
            back = storykit.loads(storykit.dumps(col, "rss"), "rss")
            RSS.assert_kept(col.stories, back.stories)

    Every datetime compares as the same moment, whatever offset a format writes it with
    (``datetime`` compares instants), so a format that writes UTC needs no word here.
    """

    fields: tuple[str, ...] = attrs.field(default=Story.FIELDS, converter=tuple)
    """The Story fields the format carries and a reader gives back (the others are not
    compared); all of them by default."""
    timespec: str = "microseconds"
    """The finest part of a datetime kept: ``"microseconds"`` (everything),
    ``"milliseconds"`` or ``"seconds"``; finer digits are dropped, as ``isoformat()``'s
    ``timespec`` drops them (not rounded)."""
    noncharacters: bool = True
    """``False`` when the format writes U+FFFD for each noncharacter (U+FDD0..U+FDEF,
    U+1FFFE, ...), as HTML must."""

    def __attrs_post_init__(self) -> None:
        unknown = [f for f in self.fields if f not in Story.FIELDS]
        if unknown:
            raise ValueError(f"Keeps: {', '.join(map(repr, unknown))} is not a Story field "
                             f"(fields: {', '.join(Story.FIELDS)})")
        if self.timespec not in _TIMESPECS:
            raise ValueError(f"Keeps: timespec must be one of {', '.join(_TIMESPECS)} "
                             f"(got {self.timespec!r})")

    def date(self, when: date) -> date:
        """``when`` as the format keeps it (a datetime cut to ``timespec``)."""
        if not isinstance(when, datetime) or self.timespec == "microseconds":
            return when
        keep = 1000 if self.timespec == "milliseconds" else 1_000_000
        return when.replace(microsecond=when.microsecond // keep * keep)

    def text(self, value: str) -> str:
        """``value`` as the format keeps it (noncharacters as U+FFFD unless kept)."""
        return value if self.noncharacters else _NONCHARACTERS.sub("\ufffd", value)

    def story(self, story: Story) -> Story:
        """``story`` with every date and every piece of text (titles, summaries, alt text,
        URLs, the body, ...) as the format keeps them."""
        return self._kept(story)  # type: ignore[no-any-return]

    def collection(self, collection: Collection) -> Collection:
        """``collection`` with its metadata, contacts and stories as the format keeps them."""
        return self._kept(collection)  # type: ignore[no-any-return]

    def _kept(self, value: Any) -> Any:
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, date):
            return self.date(value)
        if isinstance(value, tuple):
            return tuple(self._kept(v) for v in value)
        if isinstance(value, (Story, Collection, Image, Credit, Link, Translation,
                              MediaContact)):
            return type(value)(**{f: self._kept(getattr(value, f))
                                  for f in type(value).FIELDS})
        return value

    def differences(self, written: Story, read: Story) -> list[str]:
        """What differs, field by field, between ``written`` as the format keeps it and the
        story ``read`` back: one line per field of ``fields``, naming the field and both
        values; empty when they agree."""
        expected = self.story(written)
        return [f"{name}: wrote {getattr(expected, name)!r}, read back {getattr(read, name)!r}"
                for name in self.fields if getattr(expected, name) != getattr(read, name)]

    def assert_kept(self, written: Sequence[Story], read: Sequence[Story]) -> None:
        """Raise ``AssertionError`` unless ``read`` holds, in order, the stories ``written``
        as the format keeps them; the message names the story (its place and id), each
        field that differs, and both values."""
        written, read = list(written), list(read)
        assert len(read) == len(written), (
            f"read back {len(read)} stories of the {len(written)} written (ids written: "
            f"{[s.id for s in written]!r}; read: {[s.id for s in read]!r})")
        problems = [f"story {i} ({w.id!r}): {line}"
                    for i, (w, r) in enumerate(zip(written, read, strict=True))
                    for line in self.differences(w, r)]
        assert not problems, "what was read back differs from what was written:\n" + (
            "\n".join(problems))
