"""Digests: the stories of a time window, for everyone or personalised per subscriber.

- :func:`window` turns ``--since/--until``, ``--last 7d``, ``--week 2021-W07`` or
  ``--month 2021-02`` into a :class:`Window` of two dates (both inclusive);
- :func:`select` keeps the stories of a window (and topic), newest first;
- :func:`load_subscribers` reads a subscribers CSV (``email,name,topics,countries,language``;
  lists separated by ``;``), reporting every bad row at once;
- :class:`PersonalisedRun` yields one message per subscriber with only their stories, skipping
  (and counting) those with none; :func:`write_outbox` writes them as ``.eml`` files.
"""

from __future__ import annotations

import calendar
import contextlib
import csv
import io
import os
import re
from collections.abc import Iterable, Iterator, Mapping
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs

from storykit import _rules as rules
from storykit.errors import ErrorDetail, ValidationError

if TYPE_CHECKING:
    from email.headerregistry import Address

    from storykit.collection import Collection
    from storykit.exporters.email import DigestRenderer, EmailOptions
    from storykit.plugins import Registry

__all__ = [
    "Message",
    "PersonalisedRun",
    "Subscriber",
    "Window",
    "load_subscribers",
    "outbox_name",
    "parse_subscribers",
    "select",
    "window",
    "write_outbox",
]


# --- windows ------------------------------------------------------------------------------------


@attrs.frozen
class Window:
    """A range of days, both ends inclusive; either end may be open (``None``)."""

    since: date | None = None
    until: date | None = None

    def __str__(self) -> str:
        if self.since and self.until:
            return f"from {self.since.isoformat()} to {self.until.isoformat()}"
        if self.since:
            return f"from {self.since.isoformat()} on"
        if self.until:
            return f"up to {self.until.isoformat()}"
        return "at any date"


_LAST = re.compile(r"\s*(\d{1,4})\s*([dw])\s*", re.IGNORECASE)
_WEEK = re.compile(r"\s*(\d{4})-?W(\d{2})\s*", re.IGNORECASE)
_MONTH = re.compile(r"\s*(\d{4})-(\d{2})\s*")


def _date(value: str | date, what: str) -> date:
    if isinstance(value, date):
        return value.date() if isinstance(value, datetime) else value
    try:
        got = rules.published(value)
    except rules.Invalid as e:
        raise ValueError(f"{what}: {e.message}") from None
    return got.date() if isinstance(got, datetime) else got


def window(*, since: str | date | None = None, until: str | date | None = None,
           last: str | int | None = None, week: str | date | None = None,
           month: str | date | None = None, today: date | None = None) -> Window:
    """The window that one of these ways of naming it gives.

    ``since``/``until`` are ISO dates or :class:`~datetime.date` objects (either may be left
    open). ``last="7d"`` is the seven days ending ``today`` (``"2w"``: fourteen; an ``int``
    is a number of days, ``last=7`` as ``"7d"``); ``week="2021-W07"`` is that ISO week, Monday
    to Sunday; ``month="2021-02"`` is that calendar month. A ``date`` for ``week`` or
    ``month`` means the week or month it falls in (``month=date(2021, 2, 1)``: February 2021),
    the one reading a date there can have. Only one way may be used at a time; a bad value
    raises :class:`ValueError` saying what is wrong, a value of another type (``bool``
    included) a :class:`TypeError` naming the argument.
    """
    _window_types(since=since, until=until, last=last, week=week, month=month, today=today)
    last_given = last
    if isinstance(last, int):
        last = f"{last}d"
    if isinstance(week, date):
        year, num, _ = week.isocalendar()
        week = f"{year:04d}-W{num:02d}"
    if isinstance(month, date):
        month = f"{month.year:04d}-{month.month:02d}"
    used = [name for name, v in (("--since/--until", since or until), ("--last", last),
                                 ("--week", week), ("--month", month)) if v]
    if len(used) > 1:
        raise ValueError(f"give only one of {' and '.join(used)}")
    if last:
        m = _LAST.fullmatch(last)
        if m is None or int(m.group(1)) < 1:
            raise ValueError(f"--last: {last_given!r} is not a number of days or weeks, like 7d "
                             "or 2w")
        days = int(m.group(1)) * (7 if m.group(2).lower() == "w" else 1)
        end = today or date.today()
        return Window(end - timedelta(days=days - 1), end)
    if week:
        m = _WEEK.fullmatch(week)
        try:
            if m is None:
                raise ValueError
            monday = date.fromisocalendar(int(m.group(1)), int(m.group(2)), 1)
        except ValueError:
            raise ValueError(f"--week: {week!r} is not an ISO week like 2021-W07") from None
        return Window(monday, monday + timedelta(days=6))
    if month:
        m = _MONTH.fullmatch(month)
        if m is None or not 1 <= int(m.group(2)) <= 12:
            raise ValueError(f"--month: {month!r} is not a month like 2021-02")
        year, mon = int(m.group(1)), int(m.group(2))
        return Window(date(year, mon, 1), date(year, mon, calendar.monthrange(year, mon)[1]))
    first = _date(since, "--since") if since else None
    last_day = _date(until, "--until") if until else None
    if first and last_day and first > last_day:
        raise ValueError(f"--since {first.isoformat()} is after --until "
                         f"{last_day.isoformat()}")
    return Window(first, last_day)


def _window_types(**given: Any) -> None:
    """A TypeError for an argument of :func:`window` of a type it does not take."""
    takes: dict[str, tuple[type, ...]] = {
        "since": (str, date), "until": (str, date), "last": (str, int),
        "week": (str, date), "month": (str, date), "today": (date,)}
    for name, value in given.items():
        if value is not None and (isinstance(value, bool)
                                  or not isinstance(value, takes[name])):
            kinds = " or ".join(t.__name__ for t in takes[name])
            raise TypeError(f"window({name}=...): must be a {kinds} "
                            f"(got {rules._got(value)})")


def select(collection: Collection, win: Window, topic: str | Iterable[str] | None = None,
           ) -> Collection:
    """The stories of ``collection`` inside ``win`` (and of ``topic``), newest first."""
    col = collection.filter(since=win.since, until=win.until, topic=topic or None)
    return col.sort("published", reverse=True)


# --- subscribers --------------------------------------------------------------------------------


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

    def __init__(self, email: str, name: str | None = None, topics: Iterable[str] = (),
                 countries: Iterable[str] = (), language: str | None = None) -> None:
        errors: list[ErrorDetail] = []
        values = _check_subscriber(errors, "", None, email=email, name=name, topics=topics,
                                   countries=countries, language=language)
        if values is None:
            raise ValidationError(errors)
        for field, value in values.items():
            object.__setattr__(self, field, value)


def _check_subscriber(errors: list[ErrorDetail], path: str, line: int | None, *, email: Any,
                      name: Any, topics: Any, countries: Any, language: Any,
                      ) -> dict[str, Any] | None:
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
            "countries": items["countries"], "language": lang}


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


SUBSCRIBER_COLUMNS = ("email", "name", "topics", "countries", "language")


def _list(value: str | None) -> list[str]:
    if not value:
        return []
    return [v.strip() for v in re.split(r"[;|]", value) if v.strip()]


def parse_subscribers(data: str, source: str | None = None) -> list[Subscriber]:
    """Subscribers from CSV text with a header row; every bad row reported at once."""
    reader = csv.DictReader(io.StringIO(data.removeprefix("\ufeff"), newline=""), strict=True)
    errors: list[ErrorDetail] = []
    header = reader.fieldnames or []
    columns = ", ".join(SUBSCRIBER_COLUMNS)
    if "email" not in header:
        errors.append(ErrorDetail("", f"the header row needs an 'email' column (columns: "
                                  f"{columns})", ",".join(header), 1))
    errors.extend(ErrorDetail("", f"unknown column {c!r} (columns: {columns})", c, 1)
                  for c in header if c not in SUBSCRIBER_COLUMNS)
    if errors:
        raise ValidationError(errors, source)
    out: list[Subscriber] = []
    seen: dict[str, int] = {}
    try:
        for i, row in enumerate(reader):
            line = reader.line_num
            path = f"subscribers[{i}]"
            n = len(errors)
            values = _check_subscriber(
                errors, path, line, email=(row.get("email") or "").strip(),
                name=row.get("name"), topics=_list(row.get("topics")),
                countries=_list(row.get("countries")),
                language=(row.get("language") or "").strip() or None)
            addr = values["email"] if values is not None else _valid_email(row.get("email"))
            key = addr.lower()
            if addr and key in seen:
                # The same mailbox: a domain is case-insensitive, and mail servers treat local
                # parts so too (and outbox_name() gives both one file).
                errors.append(ErrorDetail(f"{path}.email", f"{addr!r} is already on line "
                                          f"{seen[key]}", addr, line))
            seen.setdefault(key, line)
            if values is None or len(errors) > n:
                continue
            out.append(_subscriber(values))
    except csv.Error as e:
        errors.append(ErrorDetail("", f"is not valid CSV: {e}", None, reader.line_num))
    if errors:
        raise ValidationError(errors, source)
    return out


def load_subscribers(path: str | Path) -> list[Subscriber]:
    """Read a subscribers CSV file (UTF-8)."""
    p = Path(path)
    try:
        data = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise FileNotFoundError(f"no such file: {path}") from None
    except UnicodeDecodeError as e:
        raise ValidationError([ErrorDetail("", f"is not UTF-8: {e.reason} at byte {e.start}")],
                              str(path)) from None
    return parse_subscribers(data, str(path))


# --- personalised runs ------------------------------------------------------------------------


@attrs.frozen
class Message:
    """One personalised message: who it is for, how many stories, and its bytes."""

    subscriber: Subscriber
    stories: int
    data: bytes


class PersonalisedRun:
    """One message per subscriber with only their stories; iterate to get them.

    Everything that does not depend on the subscriber is prepared once per locale (templates
    rendered, CSS inlined, headers folded: see :class:`~storykit.exporters.email.DigestRenderer`);
    each message then only picks its story blocks and folds its own ``To``; its ``Date`` and
    inbox preview come from its own stories (the newest of them; their first titles, unless
    a description or ``preheader`` option gives every message one). Subscribers whose
    topics and countries match no story are skipped and listed in :attr:`skipped`.

    Each iteration is a fresh run: :attr:`sent` and :attr:`skipped` count that run only (a
    second ``for`` or ``list()`` does not add to the first's). Two subscribers with one address
    in different case (``ana@example.org``, ``Ana@Example.org``) are one mailbox, as
    :func:`parse_subscribers` and :func:`outbox_name` hold: a :class:`~storykit.ValidationError`
    names the second, rather than mail one reader twice.
    """

    def __init__(self, collection: Collection, subscribers: Iterable[Subscriber],
                 options: Mapping[str, Any] | None = None,
                 registry: Registry | None = None) -> None:
        from storykit.exporter import parse_options
        from storykit.exporters.email import EmailExporter, EmailOptions

        self.collection = collection
        self.subscribers = list(subscribers)
        _refuse_repeated(self.subscribers)
        self.options: EmailOptions = parse_options(EmailExporter(), dict(options or {}),
                                                   EmailOptions)
        self.registry = registry
        self.skipped: list[Subscriber] = []
        self.sent = 0
        self._renderers: dict[str, DigestRenderer] = {}
        self._keys = [({t.casefold() for t in s.topics}, set(s.countries))
                      for s in collection.stories]
        self._picks: dict[tuple[frozenset[str], frozenset[str]], list[int]] = {}
        # Prepare the default locale now, so option errors surface before the first message.
        self.renderer(None)

    def renderer(self, language: str | None) -> DigestRenderer:
        """The prepared renderer for ``language`` (made once per language)."""
        from storykit.exporters.email import DigestRenderer

        locale = language or self.options.locale or self.collection.language
        got = self._renderers.get(locale)
        if got is None:
            got = DigestRenderer(self.collection, self.options, self.registry, locale=locale)
            self._renderers[locale] = got
        return got

    def stories_for(self, subscriber: Subscriber) -> list[int]:
        """Indices of the stories that match the subscriber's topics and countries."""
        key = (frozenset(t.casefold() for t in subscriber.topics),
               frozenset(subscriber.countries))
        got = self._picks.get(key)
        if got is None:
            topics, countries = key
            got = [i for i, (t, c) in enumerate(self._keys)
                   if (not topics or t & topics) and (not countries or c & countries)]
            self._picks[key] = got
        return got

    def __iter__(self) -> Iterator[Message]:
        # Reset here, when the run is started, not when its first message is asked for.
        self.skipped = []
        self.sent = 0
        return self._messages()

    def _messages(self) -> Iterator[Message]:
        from email.headerregistry import Address

        from storykit.exporters.email import header_text

        for sub in self.subscribers:
            picked = self.stories_for(sub)
            if not picked:
                self.skipped.append(sub)
                continue
            local, _, domain = sub.email.rpartition("@")
            to: list[Address] = [Address(display_name=header_text(sub.name or ""),
                                         username=local, domain=domain)]
            data = self.renderer(sub.language).message(to, stories=picked, name=sub.name or "")
            self.sent += 1
            yield Message(sub, len(picked), data)


def _refuse_repeated(subscribers: list[Subscriber]) -> None:
    """A ValidationError naming each subscriber whose address (in any case) came before."""
    seen: dict[str, int] = {}
    errors: list[ErrorDetail] = []
    for i, sub in enumerate(subscribers):
        key = sub.email.lower()
        first = seen.setdefault(key, i)
        if first != i:
            errors.append(ErrorDetail(
                f"subscribers[{i}].email", f"{sub.email!r} is the address of subscribers[{first}] "
                f"({subscribers[first].email!r}); one mailbox gets one message", sub.email))
    if errors:
        raise ValidationError(errors)


_UNSAFE_IN_NAME = re.compile(r"[^a-z0-9._@+-]")
#: Longest readable part of an outbox file name, in characters (ASCII): with the hash, ``.eml``
#: and the temporary name's dot and ``.tmp``, a name stays well under 255 bytes.
_MAX_NAME = 180


def outbox_name(address: str) -> str:
    """The outbox file name for an address: ``ana@example.org.eml``.

    The name is the address in lower case when that is a plain, short file name. Otherwise
    (characters such as ``/``, ``!`` or ``#``, a leading dot, or an address longer than 180
    characters) the unsafe characters become ``_``, the name is shortened, and ``~`` and 12 hex
    digits of the address's SHA-256 are added, so that two subscribers never share a file:
    ``a/b@example.org`` gives ``a_b@example.org~bb02eab6974b.eml``, a name that
    ``a_b@example.org`` (``a_b@example.org.eml``) cannot give. Addresses differing only in
    case (one mailbox, to :func:`parse_subscribers`) give one name.
    """
    lowered = address.lower()
    safe = _UNSAFE_IN_NAME.sub("_", lowered)
    if safe == lowered and len(safe) <= _MAX_NAME and not safe.startswith("."):
        return safe + ".eml"
    import hashlib

    if safe.startswith("."):
        safe = "_" + safe[1:]  # not a hidden file
    digest = hashlib.sha256(lowered.encode("utf-8")).hexdigest()[:12]
    return f"{safe[:_MAX_NAME]}~{digest}.eml"


def write_outbox(messages: Iterable[Message], outbox: str | Path, *,
                 durable: bool = False) -> list[Path]:
    """Write each message to ``outbox/<address>.eml`` atomically; return the paths.

    Each file is written to a temporary name beside it and renamed into place, so a reader
    (or ``storykit send``) never sees half a message. With ``durable=True`` each file goes
    through :class:`storykit.files.atomic_writer`, which also fsyncs it: safe across a power cut
    but about 100 files a second on an ordinary disk. The default flushes the whole outbox to
    disk once at the end (``os.sync()``), which is as safe once the run has finished.

    Two messages for one address (in any case: one mailbox, one file) are a ``ValueError``
    raised before the second is written, rather than one overwriting the other.
    """
    folder = Path(outbox)
    folder.mkdir(parents=True, exist_ok=True)
    paths: list[Path] = []
    written: dict[str, str] = {}

    def path_of(msg: Message) -> Path:
        name = outbox_name(msg.subscriber.email)
        if name in written:
            raise ValueError(f"two messages for one mailbox: {msg.subscriber.email!r} and "
                             f"{written[name]!r} (one file, {name}); {len(paths)} written "
                             "before it")
        written[name] = msg.subscriber.email
        return folder / name

    if durable:
        from storykit.files import atomic_writer

        for msg in messages:
            path = path_of(msg)
            with atomic_writer(path) as f:
                f.write(msg.data)
            paths.append(path)
        return paths
    for msg in messages:
        path = path_of(msg)
        tmp = path.with_name(f".{path.name}.tmp")
        try:
            # A stale temporary file (a killed run) or a symlink planted at its name is removed,
            # and O_EXCL refuses one planted again meanwhile: never write through a link. Mode
            # 0666: the kernel takes the umask off.
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_TRUNC, 0o666)
            with os.fdopen(fd, "wb") as f:
                f.write(msg.data)
            os.replace(tmp, path)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
            raise
        paths.append(path)
    if hasattr(os, "sync"):
        os.sync()
    return paths
