"""Collection: the unit that flows through every exporter, and its operations.

Operations are pure: each returns a new :class:`Collection` with the same metadata (title,
description, url, language, contacts) and never touches the one it was called on.
"""

from __future__ import annotations

import functools
import unicodedata
from collections.abc import Callable, Container, Iterable, Iterator, Mapping, Sequence
from datetime import date, datetime
from typing import Any, ClassVar, Literal, overload

import attrs

from storykit import _rules as rules
from storykit.errors import ErrorDetail, ValidationError
from storykit.model import (
    Errors,
    MediaContact,
    Story,
    _build,
    _field,
    _join,
    _many,
    _mapping,
    _setattr,
    _unknown_keys,
    check_contact,
    check_story_values,
    instant,
)

__all__ = ["Collection", "GroupKey"]

GroupKey = Literal["month", "week", "year", "topic", "country", "language"]
SortKey = Literal["published", "title", "id", "updated"]


@attrs.frozen(slots=True, init=False)
class Collection:
    """An ordered set of stories with the page's metadata.

    ``len()``, iteration and indexing work as on a sequence: ``col[0]`` is the first story,
    ``col["a-song-to-let-children-fly"]`` looks a story up by id, ``col[2:5]`` is a collection.
    """

    title: str = "Stories"
    description: str | None = None
    url: str | None = None
    language: str = "en"
    contacts: tuple[MediaContact, ...] = ()
    stories: tuple[Story, ...] = ()

    FIELDS: ClassVar[tuple[str, ...]] = (
        "title", "description", "url", "language", "contacts", "stories",
    )

    def __init__(
        self,
        *,
        title: str = "Stories",
        description: str | None = None,
        url: str | None = None,
        language: str = "en",
        contacts: Iterable[MediaContact | Mapping[str, Any]] = (),
        stories: Iterable[Story | Mapping[str, Any]] = (),
    ) -> None:
        errors: Errors = []
        values = check_collection_values(errors, "", {
            "title": title, "description": description, "url": url, "language": language,
            "contacts": contacts, "stories": stories,
        })
        if errors:
            raise ValidationError(errors)
        assert values is not None
        for name, value in values.items():
            _setattr(self, name, value)

    @functools.cached_property
    def _index(self) -> dict[str, int]:
        """Each story's position by id. Not a field (so not in ``attrs.asdict()``, equality or
        pickles): the constructors set it from the check of unique ids; an unpickled
        collection makes it again on first use."""
        return _unique_index(self.stories)

    # --- sequence protocol ----------------------------------------------------------------

    def __len__(self) -> int:
        return len(self.stories)

    def __iter__(self) -> Iterator[Story]:
        return iter(self.stories)

    def __contains__(self, item: object) -> bool:
        if isinstance(item, str):
            return item in self._index
        return item in self.stories

    @overload
    def __getitem__(self, key: int) -> Story: ...
    @overload
    def __getitem__(self, key: str) -> Story: ...
    @overload
    def __getitem__(self, key: slice) -> Collection: ...

    def __getitem__(self, key: int | str | slice) -> Story | Collection:
        if isinstance(key, str):
            try:
                return self.stories[self._index[key]]
            except KeyError:
                import difflib

                close = difflib.get_close_matches(key, list(self._index), n=1)
                hint = f"; did you mean {close[0]!r}?" if close else ""
                raise KeyError(f"no story with id {key!r}{hint}") from None
        if isinstance(key, slice):
            return self._with(self.stories[key])
        return self.stories[key]

    def get(self, id: str, default: Story | None = None) -> Story | None:
        """The story with this id, or ``default``."""
        i = self._index.get(id)
        return default if i is None else self.stories[i]

    @property
    def ids(self) -> tuple[str, ...]:
        return tuple(s.id for s in self.stories)

    # --- building ---------------------------------------------------------------------------

    def replace(self, stories: Iterable[Story]) -> Collection:
        """The same metadata with other stories (their ids must be unique).

        Anything but :class:`~storykit.Story` objects is a :class:`~storykit.ValidationError`
        naming each, as ``Collection(stories=...)`` gives (``stories[0]: must be a story object
        (got dict {...})``); a string or mapping (``group_by()``'s result) is a ``TypeError``.
        """
        got = _only_stories(stories, "replace", "stories")
        return self._with(got)

    def _with(self, stories: Iterable[Story]) -> Collection:
        """:meth:`replace` for stories known to be Story objects (taken from collections): the
        operations' path, with no check of each item."""
        stories = tuple(stories)
        index = _unique_index(stories)
        return _build(Collection, {
            "title": self.title, "description": self.description, "url": self.url,
            "language": self.language, "contacts": self.contacts, "stories": stories,
            "_index": index,
        })

    # --- operations ---------------------------------------------------------------------------

    def filter(
        self,
        *,
        topic: str | Iterable[str] | None = None,
        country: str | Iterable[str] | None = None,
        since: date | str | None = None,
        until: date | str | None = None,
        text: str | None = None,
        language: str | None = None,
        where: Callable[[Story], bool] | None = None,
    ) -> Collection:
        """The stories that match every criterion given.

        ``topic`` and ``country`` match any of the values given (topics case-insensitively;
        a country by its code or its name, in the collection's language or in English:
        ``country="Sri Lanka"`` is ``"LK"``);
        ``since`` and ``until`` are inclusive: a date compares with each story's own date, an
        aware datetime with its instant; ``text`` looks case-insensitively in title and summary;
        ``language`` matches the primary language (``"fr"`` matches ``fr-CH``). Topics and text
        are compared in Unicode NFC, as stories keep them: ``"Cafe\u0301"`` finds "Café".
        """
        match = matcher(topic=topic, country=country, since=since, until=until, text=text,
                        language=language, where=where, names_in=self.language)
        return self._with(s for s in self.stories if match(s))

    def sort(self, by: SortKey | Callable[[Story], Any] = "published", *,
             reverse: bool = False) -> Collection:
        """Stories in order of ``by`` (a field name or a key function); ties go by id."""
        key = _sort_key(by)
        by_id = sorted(self.stories, key=lambda s: s.id)
        return self._with(sorted(by_id, key=key, reverse=reverse))

    def latest(self, n: int) -> Collection:
        """The ``n`` most recently published stories, newest first."""
        n = rules.whole(n, "latest(n=...): must be an int")
        if n < 0:
            raise ValueError(f"latest() needs n >= 0 (got {n})")
        return self.sort("published", reverse=True)[:n]

    def group_by(self, key: GroupKey | Callable[[Story], Any]) -> dict[Any, Collection]:
        """An ordered mapping of key to Collection, in order of each key's first story.

        ``"month"`` keys are ``"2021-02"``, ``"week"`` keys the ISO week ``"2021-W07"``,
        ``"year"`` keys ``2021``; ``"topic"`` and
        ``"country"`` put a story in one group per value it has (and in none if it has none).
        """
        groups: dict[Any, list[Story]] = {}
        keys = _group_keys(key)
        for story in self.stories:
            for k in keys(story):
                groups.setdefault(k, []).append(story)
        return {k: self._with(v) for k, v in groups.items()}

    def paginate(self, size: int) -> list[Collection]:
        """The stories cut into pages of ``size``; an empty collection has one empty page."""
        size = rules.whole(size, "paginate(size=...): must be an int")
        if size < 1:
            raise ValueError(f"page size must be at least 1 (got {size})")
        stories = self.stories
        if not stories:
            return [self]
        return [self._with(stories[i:i + size]) for i in range(0, len(stories), size)]

    def page(self, n: int, size: int) -> Collection:
        """Page ``n`` (from 1) of ``size`` stories."""
        n = rules.whole(n, "page(n=...): must be an int")
        size = rules.whole(size, "page(size=...): must be an int")
        if n < 1:
            raise ValueError(f"pages are numbered from 1 (got {n})")
        if size < 1:
            raise ValueError(f"page size must be at least 1 (got {size})")
        return self[(n - 1) * size:n * size]

    def dedupe(self) -> Collection:
        """The first story of each id, then of each URL; order kept."""
        seen_ids: set[str] = set()
        seen_urls: set[str] = set()
        kept: list[Story] = []
        for s in self.stories:
            if s.id in seen_ids or (s.url is not None and s.url in seen_urls):
                continue
            seen_ids.add(s.id)
            if s.url is not None:
                seen_urls.add(s.url)
            kept.append(s)
        return self._with(kept)

    def merge(self, other: Collection | Iterable[Story]) -> Collection:
        """Every story of both, this collection's first; an id in both keeps the newer one.

        "Newer" is the later ``updated``. Two different stories with one id and no ``updated``
        to choose between them are a :class:`~storykit.ValidationError` naming the id. An item
        of ``other`` that is not a Story (a dict, or a collection in a list: merge one collection
        per call) is a ``ValidationError`` naming it (``other[0]: must be a story object``).
        """
        stories = list(self.stories)
        index = dict(self._index)
        errors: Errors = []
        extra = (other.stories if isinstance(other, Collection)
                 else _only_stories(other, "merge", "other"))
        for s in extra:
            i = index.get(s.id)
            if i is None:
                index[s.id] = len(stories)
                stories.append(s)
                continue
            mine = stories[i]
            if mine == s:
                continue
            if (mine.updated is None and s.updated is None) or (
                mine.updated is not None and s.updated is not None
                and instant(mine.updated) == instant(s.updated)
            ):
                errors.append(ErrorDetail(
                    f"stories[{i}].id",
                    f"{s.id!r} names two different stories and neither has a later 'updated'",
                    s.id,
                ))
                continue
            if mine.updated is None or (s.updated is not None
                                        and instant(s.updated) > instant(mine.updated)):
                stories[i] = s
        if errors:
            raise ValidationError(errors, "merge")
        return self._with(stories)


def _only_stories(stories: Any, method: str, arg: str) -> tuple[Story, ...]:
    """``stories`` as a tuple, every item a Story: else the error names the argument and each
    item that is not one (checked once per call, outside the operations' own loops)."""
    if isinstance(stories, (str, bytes, Mapping)) or not isinstance(stories, Iterable):
        hint = (" (group_by() gives a dict of collections: pass one of its values)"
                if isinstance(stories, Mapping) else
                " (for one story, give a list: [story])" if isinstance(stories, Story) else "")
        raise TypeError(f"{method}({arg}=...): must be an iterable of stories "
                        f"(got {rules._got(stories)}){hint}")
    got = tuple(stories)
    errors: Errors = [
        ErrorDetail(f"{arg}[{i}]", f"must be a story object (got {rules._got(s)})"
                    + ("; merge one collection per call" if isinstance(s, Collection) else ""),
                    s)
        for i, s in enumerate(got) if not isinstance(s, Story)]
    if errors:
        raise ValidationError(errors, method)
    return got


def _strings(value: Any, name: str) -> list[str]:
    """A ``topic``/``country`` criterion: one string or an iterable of strings. Bytes and
    other non-strings are refused here, naming the criterion (iterating ``b"TL"`` would give
    the ints 84 and 76)."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, (bytes, bytearray, memoryview, Mapping)) or not isinstance(
            value, Iterable):
        raise ValueError(f"filter({name}=...): must be a string or a list of strings "
                         f"(got {rules._got(value)})")
    return list(value)


def _query(value: Any, name: str) -> str:
    """A text criterion of :meth:`Collection.filter` as stories hold text: a plain ``str``
    in NFC, so that a query typed or pasted in decomposed form (``"Cafe\u0301"``) still
    matches."""
    try:
        s = rules.must_be_str(value)
    except rules.Invalid as e:
        raise ValueError(f"filter({name}=...): {e.message}") from None
    return s if s.isascii() else unicodedata.normalize("NFC", s)


def matcher(
    *,
    topic: str | Iterable[str] | None = None,
    country: str | Iterable[str] | None = None,
    since: date | str | None = None,
    until: date | str | None = None,
    text: str | None = None,
    language: str | None = None,
    where: Callable[[Story], bool] | None = None,
    names_in: str = "en",
) -> Callable[[Story], bool]:
    """The test of :meth:`Collection.filter` for one story: true when it matches every
    criterion given (a bad criterion: ``ValueError``, raised here; ``where`` must be callable).
    A ``country`` may be a name in the language ``names_in`` or in English (:func:`country_code`).
    """
    if where is not None and not callable(where):
        raise ValueError(f"filter(where=...): must be a function of a story returning true or "
                         f"false (got {rules._got(where)}); to find text, use text=...")
    preds: list[Callable[[Story], bool]] = []
    if topic is not None:
        wanted = {_query(t, "topic").casefold() for t in _strings(topic, "topic")}
        preds.append(lambda s: any(t.casefold() in wanted for t in s.topics))
    if country is not None:
        codes = {country_code(c, names_in) for c in _strings(country, "country")}
        preds.append(lambda s: any(c in codes for c in s.countries))
    if since is not None:
        preds.append(_bound(since, "since", lambda a, b: a >= b))
    if until is not None:
        preds.append(_bound(until, "until", lambda a, b: a <= b))
    if text is not None:
        needle = _query(text, "text").casefold()
        preds.append(lambda s: needle in s.title.casefold() or needle in s.summary.casefold())
    if language is not None:
        try:
            lang = rules.language(language).lower()
        except rules.Invalid as e:
            raise ValueError(f"filter(language=...): {e.message}") from None
        preds.append(lambda s: s.language.lower() == lang
                     or s.language.lower().startswith(lang + "-"))
    if where is not None:
        preds.append(where)
    return lambda s: all(p(s) for p in preds)


def iso_week(when: date) -> str:
    """The ISO week of a date (or a datetime's own date), as ``"2021-W07"``."""
    year, week, _ = when.isocalendar()
    return f"{year:04d}-W{week:02d}"


def country_code(value: Any, language: str = "en") -> str:
    """The ISO 3166-1 code of ``value``: a code (any case), or a country's name in ``language``
    or in English, as CLDR (Babel) spells it, compared case-insensitively (``"Sri Lanka"``,
    ``"sri lanka"`` and ``"LK"`` all give ``"LK"``; ``"Côte d’Ivoire"`` in French ``"CI"``).
    Anything else: ``ValueError`` saying so."""
    try:
        return rules.country(value)
    except rules.Invalid as e:
        if not isinstance(value, str):
            raise ValueError(f"filter(country=...): {e.message}") from None
    code = _country_names(language).get(_name_key(value))
    if code is None:
        english = language.split("-", maxsplit=1)[0] == "en"
        where = "English" if english else f"{language!r} or English"
        raise ValueError(f"filter(country=...): {rules.one_line(repr(value))} is not an ISO "
                         f"3166-1 alpha-2 country code, nor a country's name in {where} "
                         "(e.g. 'LK' or 'Sri Lanka')")
    return code


def _name_key(name: str) -> str:
    """A country name as looked up: NFC, case-folded, curly apostrophes straight, one space."""
    folded = unicodedata.normalize("NFC", name).casefold().replace("\u2019", "'")
    return " ".join(folded.split())


@functools.lru_cache(maxsize=32)
def _country_names(language: str) -> dict[str, str]:
    """``{name key: code}`` of CLDR's territory names in ``language`` (its primary language
    when CLDR has no data for the whole tag), English names first so a local name wins."""
    from babel import Locale, UnknownLocaleError

    from storykit._countries import ISO_3166_1_ALPHA_2

    names: dict[str, str] = {}
    for tag in dict.fromkeys(["en", language.split("-", maxsplit=1)[0], language]):
        try:
            locale = Locale.parse(tag.replace("-", "_"))
        except (UnknownLocaleError, ValueError):
            continue
        for code, name in locale.territories.items():
            if code in ISO_3166_1_ALPHA_2:
                names[_name_key(name)] = code
    return names


def _bound(when: date | str, name: str,
           cmp: Callable[[Any, Any], bool]) -> Callable[[Story], bool]:
    try:
        bound = rules.published(when)
    except rules.Invalid as e:
        raise ValueError(f"{name}: {e.message}") from None
    if isinstance(bound, datetime):
        return lambda s: cmp(instant(s.published), bound)
    return lambda s: cmp(
        s.published.date() if isinstance(s.published, datetime) else s.published, bound)


def _sort_key(by: SortKey | Callable[[Story], Any]) -> Callable[[Story], Any]:
    if callable(by):
        return by
    if by == "published":
        return lambda s: instant(s.published)
    if by == "updated":
        return lambda s: instant(s.updated or s.published)
    if by == "title":
        return lambda s: s.title.casefold()
    if by == "id":
        return lambda s: s.id
    raise ValueError(f"cannot sort by {by!r} (choose published, updated, title or id, "
                     "or give a function)")


def _group_keys(key: GroupKey | Callable[[Story], Any]) -> Callable[[Story], Sequence[Any]]:
    if callable(key):
        return lambda s: (key(s),)
    if key == "month":
        return lambda s: (f"{s.published.year:04d}-{s.published.month:02d}",)
    if key == "week":
        return lambda s: (iso_week(s.published),)
    if key == "year":
        return lambda s: (s.published.year,)
    if key == "topic":
        return lambda s: s.topics
    if key == "country":
        return lambda s: s.countries
    if key == "language":
        return lambda s: (s.language,)
    raise ValueError(f"cannot group by {key!r} (choose month, week, year, topic, country or "
                     "language, or give a function)")


def _unique_index(stories: Sequence[Story]) -> dict[str, int]:
    index: dict[str, int] = {}
    errors: Errors = []
    for i, s in enumerate(stories):
        if s.id in index:
            errors.append(ErrorDetail(f"stories[{i}].id",
                                      f"{s.id!r} is already the id of stories[{index[s.id]}]",
                                      s.id))
        else:
            index[s.id] = i
    if errors:
        raise ValidationError(errors)
    return index


def check_collection_values(errors: Errors, path: str, data: Any,
                            line_of: Callable[[int], int | None] | None = None,
                            ) -> dict[str, Any] | None:
    """Check a collection document; return its field values, or None if anything failed."""
    if not _mapping(errors, path, data, "collection"):
        return None
    n = len(errors)
    _unknown_keys(data, Collection.FIELDS, "Collection", path, errors)
    get = data.get
    raw = get("title")
    title = "Stories" if raw is None else _field(errors, path, "title", raw, rules.text)
    description = _field(errors, path, "description", get("description"), _optional_summary)
    url = _field(errors, path, "url", get("url"), rules.optional_url)
    raw = get("language")
    lang = "en" if raw is None else _field(errors, path, "language", raw, rules.language)
    contacts = _many(errors, path, "contacts", get("contacts"), check_contact)
    stories, index = check_stories(errors, _join(path, "stories"), get("stories"), line_of,
                                   language=lang or "en")
    if len(errors) > n:
        return None
    return {"title": title, "description": description, "url": url, "language": lang,
            "contacts": contacts, "stories": stories, "_index": index}


def _optional_summary(value: Any) -> str | None:
    if value is None or value == "":
        return None
    return rules.text(value, multiline=True)


def check_stories(errors: Errors, path: str, raw: Any,
                  line_of: Callable[[int], int | None] | None = None, *, language: str = "en",
                  ) -> tuple[tuple[Story, ...], dict[str, int]]:
    """Check a list of stories: each story, unique ids, derived ids made unique. A story given
    as data without a language gets ``language``, its collection's."""
    if raw is None:
        return (), {}
    if isinstance(raw, (str, bytes, Mapping)) or not isinstance(raw, Iterable):
        errors.append(ErrorDetail(path, "must be a list of stories "
                                        f"(got {rules.one_line(type(raw).__name__)})", raw))
        return (), {}
    start = len(errors)
    checked: list[dict[str, Any] | Story | None] = []
    failed: list[tuple[int, int, int, str | None]] = []  # story, its errors [a:b], its given id
    keep = checked.append
    for i, item in enumerate(raw):
        if isinstance(item, Story):
            keep(item)
            continue
        before = len(errors)
        values = check_story_values(errors, f"{path}[{i}]", item, derive_id=False,
                                    language=language)
        keep(values)
        if values is None or len(errors) > before:
            if line_of is not None:
                line = line_of(i)
                errors[before:] = [attrs.evolve(e, line=line) for e in errors[before:]]
            failed.append((i, before, len(errors), _given_id(item)))
    # Repeated ids, in a second pass (a dict filled while the stories are made is slower). A
    # story that failed on another field still counts with the valid id it gives: that id is
    # what it will have once fixed. Each repeat is reported after its story's own problems.
    given = {i: sid for i, _, _, sid in failed}
    index: dict[str, int] = {}
    derived: list[int] = []  # the stories without an id: theirs are made once all are known
    repeats: list[tuple[int, ErrorDetail]] = []
    for i, c in enumerate(checked):
        sid = (c.id if isinstance(c, Story) else given[i] if i in given
               else c["id"])  # type: ignore[index]  # (None only for a story in given)
        if sid is None:
            if c is not None:
                derived.append(i)
        elif sid in index:
            repeats.append((i, ErrorDetail(
                f"{path}[{i}].id", f"{sid!r} is already the id of {path}[{index[sid]}]", sid,
                line_of(i) if line_of is not None else None)))
        else:
            index[sid] = i
    if repeats:
        # In story order: each story's own problems, then its repeated id.
        runs = [(i, 0, errors[a:b]) for i, a, b, _ in failed]
        runs += [(i, 1, [e]) for i, e in repeats]
        errors[start:] = [e for *_, run in sorted(runs, key=lambda r: r[:2]) for e in run]
    if len(errors) > start:
        return (), {}
    number = derive_ids(index)
    for i in derived:
        c = checked[i]
        assert isinstance(c, dict)
        c["id"] = sid = number(rules.slugify(c["title"]))
        index[sid] = i
    stories = tuple(c if isinstance(c, Story) else _build(Story, c)  # type: ignore[arg-type]
                    for c in checked)
    return stories, index


def derive_ids(taken: Container[str]) -> Callable[[str], str]:
    """A function giving each slug the first of ``slug``, ``slug-2``, ``slug-3``... not in
    ``taken``: the ids of a collection, to which the caller adds each id given.

    Each slug remembers the last number it tried: ``n`` stories of one title cost ``n`` tries
    in all, not ``n * n / 2``.
    """
    last: dict[str, int] = {}

    def number(slug: str) -> str:
        k = last.get(slug, 1)
        sid = slug if k == 1 else f"{slug}-{k}"
        while sid in taken:
            k += 1
            sid = f"{slug}-{k}"
        last[slug] = k
        return sid

    return number


def _given_id(item: Any) -> str | None:
    """The valid id that a story's data gives, or None (no id, or an invalid one).

    For a story that failed on another field: its id still counts towards repeated ids.
    """
    raw = item.get("id") if isinstance(item, Mapping) else None
    if raw is None or raw == "":
        return None
    try:
        return rules.slug(raw)
    except rules.Invalid:
        return None
