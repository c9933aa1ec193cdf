"""Subscribers: who gets a personalised digest, what to call them, what they follow.

A subscribers CSV has the columns ``email,name,greeting_name,topics,countries,language`` (only
``email`` is required; lists separated by ``;``). :func:`iter_subscribers` reads it a row at a
time; :func:`parse_subscribers` and :func:`load_subscribers` read it whole. Every bad row is
reported at once in one :class:`~storykit.ValidationError`.
"""

from __future__ import annotations

import array
import codecs
import contextlib
import csv
import hashlib
import io
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

import attrs

from storykit import _rules as rules
from storykit.errors import ErrorDetail, ValidationError

__all__ = [
    "SUBSCRIBER_COLUMNS",
    "Subscriber",
    "SubscribersFile",
    "iter_subscribers",
    "load_subscribers",
    "parse_subscribers",
]


@attrs.frozen(init=False)
class Subscriber:
    """One reader: where to write, what to call them, what they follow.

    The fields are checked and normalised by the rules a subscribers CSV row goes through
    (:func:`parse_subscribers` uses the same function): ``email`` a valid address (stripped),
    ``name`` stripped (blank: none), each topic plain text, each country an ISO 3166-1 alpha-2
    code (upper-cased: ``"tl"`` gives ``"TL"``), ``language`` a BCP 47 tag. Every problem is
    reported at once in one :class:`~storykit.ValidationError` (paths ``email``,
    ``topics[0]``, ...). ``topics`` and ``countries`` must be lists (any iterable): a bare
    string is refused, as :class:`~storykit.Story` refuses it, because ``"decent work"`` would
    otherwise follow one character at a time and ``"TL;ID"`` is not one code either; give
    ``("decent work",)``.
    """

    email: str
    name: str | None = None
    #: Topics followed (case-insensitive); none means every topic.
    topics: tuple[str, ...] = ()
    #: Countries followed (ISO 3166-1 alpha-2); none means every country.
    countries: tuple[str, ...] = ()
    #: Language of the message's labels and dates; none means the digest's.
    language: str | None = None
    #: What the greeting calls them ("Hello Amara,"); none means the first word of ``name``.
    greeting_name: str | None = None

    def __init__(  # noqa: PLR0917 - the fields in order, as attrs would make it
            self, email: str, name: str | None = None, topics: Iterable[str] = (),
            countries: Iterable[str] = (), language: str | None = None,
            greeting_name: str | None = None) -> None:
        errors: list[ErrorDetail] = []
        values = _check_subscriber(errors, "", None, email=email, name=name, topics=topics,
                                   countries=countries, language=language,
                                   greeting_name=greeting_name)
        if values is None:
            raise ValidationError(errors)
        for field, value in values.items():
            object.__setattr__(self, field, value)

    @property
    def greeting(self) -> str:
        """The name the greeting uses: ``greeting_name``, else the first word of ``name``."""
        if self.greeting_name:
            return self.greeting_name
        return self.name.split()[0] if self.name else ""


def _check_subscriber(errors: list[ErrorDetail], path: str, line: int | None, *, email: Any,
                      name: Any, topics: Any, countries: Any, language: Any,
                      greeting_name: Any = None) -> dict[str, Any] | None:
    """A subscriber's checked, normalised field values; or None, its problems in ``errors``.

    The one set of rules for :class:`Subscriber` and for each row of :func:`parse_subscribers`
    (``path`` is ``""`` for the first, ``subscribers[3]`` for a row, ``line`` its line).
    """
    n = len(errors)

    def at(field: str) -> str:
        return f"{path}.{field}" if path else field

    def rule(field: str, value: Any, check: Any) -> Any:
        try:
            return check(value)
        except rules.Invalid as e:
            errors.append(ErrorDetail(field, e.message, value, line))
            return None

    addr = rule(at("email"), email, rules.email)
    if name is not None:
        name = rule(at("name"), name, rules.must_be_str)
        name = (name.strip() or None) if name is not None else None
    if greeting_name is not None:
        greeting_name = rule(at("greeting_name"), greeting_name, rules.must_be_str)
        greeting_name = ((greeting_name.strip() or None) if greeting_name is not None
                         else None)
    items: dict[str, tuple[str, ...]] = {}
    for field, value, check in (("topics", topics, rules.text),
                                ("countries", countries, rules.country)):
        if value is None:
            items[field] = ()
        elif isinstance(value, (str, bytes, Mapping)) or not isinstance(value, Iterable):
            hint = f"; to give one, write ({value!r},)" if isinstance(value, str) else ""
            errors.append(ErrorDetail(at(field), f"must be a list of strings (got "
                                      f"{rules._got(value)}){hint}", value, line))
        else:
            items[field] = tuple(rule(f"{at(field)}[{i}]", v, check)
                                 for i, v in enumerate(value))
    lang = None
    if language is not None and language != "":
        lang = rule(at("language"), language, rules.language)
    if len(errors) > n:
        return None
    return {"email": addr, "name": name, "topics": items["topics"],
            "countries": items["countries"], "language": lang, "greeting_name": greeting_name}


def _valid_email(raw: str | None) -> str:
    """The row's address if valid, else ``""`` (its problem is already reported)."""
    try:
        return rules.email((raw or "").strip())
    except rules.Invalid:
        return ""


def _subscriber(values: Mapping[str, Any]) -> Subscriber:
    """A Subscriber from values :func:`_check_subscriber` gave, without checking them again."""
    sub = Subscriber.__new__(Subscriber)
    for field, value in values.items():
        object.__setattr__(sub, field, value)
    return sub


SUBSCRIBER_COLUMNS = ("email", "name", "greeting_name", "topics", "countries", "language")


def _list(value: str | None) -> list[str]:
    if not value:
        return []
    return [v.strip() for v in re.split(r"[;|]", value) if v.strip()]


def _key(address: str) -> int:
    """64 bits of a hash of the mailbox (the address in any case): what a repeat is found by."""
    digest = hashlib.blake2b(address.lower().encode("utf-8", "surrogatepass"), digest_size=8)
    return int.from_bytes(digest.digest(), "big")


def _rows(lines: Iterable[str], source: str | None, errors: list[ErrorDetail],
          repeats: set[int], *, repeated: set[int] | None = None) -> Iterator[Subscriber]:
    """The valid subscribers of CSV lines, a row at a time; every problem goes to ``errors``.

    A bad header raises at once. A first pass (``repeated=None``) only notes the keys of
    addresses given twice in ``repeats`` (memory: one hash an address); a second pass given
    those as ``repeated`` reports each repeat with the line of its first row.
    """
    reader = csv.DictReader(lines, strict=True)
    header = reader.fieldnames or []
    columns = ", ".join(SUBSCRIBER_COLUMNS)
    bad: list[ErrorDetail] = []
    if "email" not in header:
        bad.append(ErrorDetail("", f"the header row needs an 'email' column (columns: "
                               f"{columns})", ",".join(header), 1))
    bad.extend(ErrorDetail("", f"unknown column {c!r} (columns: {columns})", c, 1)
               for c in header if c not in SUBSCRIBER_COLUMNS)
    if bad:
        raise ValidationError(bad, source)
    # The first pass keeps 8 bytes an address (a set would take ~90): a million subscribers
    # are checked in 8 MB.
    seen = array.array("Q")
    first: dict[int, int] = {}
    try:
        for i, row in enumerate(reader):
            line = reader.line_num
            path = f"subscribers[{i}]"
            n = len(errors)
            values = _check_subscriber(
                errors, path, line, email=(row.get("email") or "").strip(),
                name=row.get("name"), topics=_list(row.get("topics")),
                countries=_list(row.get("countries")),
                language=(row.get("language") or "").strip() or None,
                greeting_name=row.get("greeting_name"))
            addr = values["email"] if values is not None else _valid_email(row.get("email"))
            if addr:
                key = _key(addr)
                if repeated is None:
                    seen.append(key)
                elif key in repeated:
                    if key in first:
                        # The same mailbox: a domain is case-insensitive, and mail servers
                        # treat local parts so too (and outbox_name() gives both one file).
                        errors.append(ErrorDetail(f"{path}.email", f"{addr!r} is already on "
                                                  f"line {first[key]}", addr, line))
                    first.setdefault(key, line)
            if values is None or len(errors) > n:
                continue
            yield _subscriber(values)
    except csv.Error as e:
        errors.append(ErrorDetail("", f"is not valid CSV: {e}", None, reader.line_num))
    repeats.update(_repeated(seen))


#: Keys sorted at once by :func:`_repeated` (a list of them is ~5 MB).
_SORT_RUN = 1 << 16


def _repeated(keys: array.array[int]) -> set[int]:
    """The keys found more than once: runs sorted in place, then merged (no set of all)."""
    import heapq

    for at in range(0, len(keys), _SORT_RUN):
        keys[at:at + _SORT_RUN] = array.array("Q", sorted(keys[at:at + _SORT_RUN]))
    view = memoryview(keys)
    repeats: set[int] = set()
    last = None
    for key in heapq.merge(*(view[at:at + _SORT_RUN] for at in range(0, len(keys), _SORT_RUN))):
        if key == last:
            repeats.add(key)
        last = key
    return repeats


def _checked(lines: Callable[[], AbstractContextManager[Iterable[str]]],
             source: str | None, keep: bool) -> list[Subscriber]:
    """Every row of ``lines()`` checked (the subscribers kept if ``keep``); or one
    ValidationError with every problem. Repeated addresses take a second reading."""
    errors: list[ErrorDetail] = []
    repeats: set[int] = set()
    out: list[Subscriber] = []
    with lines() as rows:
        for sub in _rows(rows, source, errors, repeats):
            if keep:
                out.append(sub)
    if repeats:
        errors = []
        with lines() as rows:
            for _ in _rows(rows, source, errors, set(), repeated=repeats):
                pass
    if errors:
        raise ValidationError(errors, source)
    return out


def parse_subscribers(data: str, source: str | None = None) -> list[Subscriber]:
    """Subscribers from CSV text with a header row; every bad row reported at once."""
    text = data.removeprefix("\ufeff")
    return _checked(lambda: contextlib.nullcontext(io.StringIO(text, newline="")), source,
                    keep=True)


def load_subscribers(path: str | Path) -> list[Subscriber]:
    """Read a subscribers CSV file (UTF-8) whole."""
    return list(iter_subscribers(path))


def iter_subscribers(path: str | Path) -> SubscribersFile:
    """The subscribers of a CSV file (UTF-8), checked whole, then read a row at a time."""
    return SubscribersFile(path)


class SubscribersFile(Iterable[Subscriber]):
    """The subscribers of a CSV file (UTF-8), read a row at a time, checked first.

    Made, it reads the file to check every row (one :class:`~storykit.ValidationError` with
    every problem, nothing yielded); each iteration then reads it again a row at a time, so
    memory does not grow with the number of subscribers (but for a hash an address while
    it is checked). A file changed since it was checked is a
    :class:`~storykit.ValidationError` when it is read again.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        _checked(self._open, str(path), keep=False)
        self._stamp = self._stat()

    def _stat(self) -> tuple[int, int]:
        st = self.path.stat()
        return st.st_size, st.st_mtime_ns

    @contextlib.contextmanager
    def _open(self) -> Iterator[Iterable[str]]:
        try:
            with self.path.open(encoding="utf-8-sig", newline="") as f:
                yield f
        except FileNotFoundError:
            raise FileNotFoundError(f"no such file: {self.path}") from None
        except UnicodeDecodeError:
            raise ValidationError([_utf8_problem(self.path)], str(self.path)) from None

    def __iter__(self) -> Iterator[Subscriber]:
        errors: list[ErrorDetail] = []
        with self._open() as rows:
            if self._stat() != self._stamp:  # its rows (and repeats) are not those checked
                raise ValidationError([ErrorDetail("", "changed since it was checked; "
                                                   "read it again")], str(self.path))
            # (checked already: no repeats to look for, nothing to remember)
            yield from _rows(rows, str(self.path), errors, set(), repeated=set())
        if errors:  # the file changed since it was checked
            raise ValidationError(errors, str(self.path))


def _utf8_problem(path: Path) -> ErrorDetail:
    """Where a file stops being UTF-8, as the whole-file decoder would say it."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    offset = 0
    with path.open("rb") as f:
        while chunk := f.read(1 << 16):
            pending = len(decoder.getstate()[0])
            try:
                decoder.decode(chunk)
            except UnicodeDecodeError as e:
                start = offset - pending + e.start
                return ErrorDetail("", f"is not UTF-8: {e.reason} at byte {start}")
            offset += len(chunk)
        try:
            decoder.decode(b"", final=True)
        except UnicodeDecodeError as e:
            start = offset - len(e.object) + e.start
            return ErrorDetail("", f"is not UTF-8: {e.reason} at byte {start}")
    return ErrorDetail("", "is not UTF-8")
