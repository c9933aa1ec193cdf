"""The model: Story, Image, Credit, Link, Translation and MediaContact.

Every class is an attrs class, frozen, with slots. Each is validated as it is made, whether by a
Python call (``Story(title=..., ...)``) or by a loader: both go through the same checker, which
reports every problem of the object at once in one :class:`~storykit.ValidationError`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, date, datetime, time
from typing import Any, ClassVar, TypeVar

import attrs

from storykit import _rules as rules
from storykit.errors import ErrorDetail, ValidationError

__all__ = [
    "Credit",
    "Image",
    "Link",
    "MediaContact",
    "Story",
    "Translation",
    "instant",
]

T = TypeVar("T")
Errors = list[ErrorDetail]


def instant(when: date) -> datetime:
    """A story date as an aware datetime, for ordering dates and datetimes together.

    A plain date counts as midnight UTC of that day.
    """
    if isinstance(when, datetime):
        return when
    return datetime.combine(when, time.min, tzinfo=UTC)


# --- the checking machinery -------------------------------------------------------------------


def _join(path: str, name: str) -> str:
    """The path of ``name`` inside ``path``: ``stories[0].title``.

    A name that is not a plain ASCII identifier (a key of the input such as ``"a\\nb"`` or
    ``"Published date"``) is written as its ``repr()`` in brackets, ``stories[0]['a\\nb']``:
    so every path stays on one line and reads unambiguously, whatever the input's keys hold.
    """
    if name.isascii() and name.isidentifier():
        return f"{path}.{name}" if path else name
    return f"{path}[{str.__str__(name)!r}]"


def _unknown_keys(data: Mapping[str, Any], fields: tuple[str, ...], kind: str, path: str,
                  errors: Errors) -> None:
    for key in data:
        if key not in fields:
            if not isinstance(key, str):
                errors.append(ErrorDetail(path, f"{rules._describe(key)} is not a field of "
                                                f"{kind}", key))
                continue
            import difflib  # only for a mistake: it costs import time

            name = str.__str__(key)
            close = difflib.get_close_matches(name, fields, n=1, cutoff=0.6)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            errors.append(ErrorDetail(_join(path, name), f"{name!r} is not a field of {kind}{hint}",
                                      data[key]))


def _field(errors: Errors, path: str, name: str, value: Any, rule: Callable[[Any], T]) -> T | None:
    try:
        return rule(value)
    except rules.Invalid as e:
        errors.append(ErrorDetail(_join(path, name), e.message, value))
        return None


def _missing(errors: Errors, path: str, name: str) -> Any:
    """Record a missing required field; returns None, to stand in for the value."""
    errors.append(ErrorDetail(_join(path, name), "required field missing"))
    return None


def _many(errors: Errors, path: str, name: str, value: Any,
          item: Callable[[Errors, str, Any], T | None]) -> tuple[T, ...]:
    """A list field: each item checked by ``item(errors, item_path, raw)``."""
    if value is None:
        return ()
    if type(value) is not list and (  # (a list, as JSON gives, skips the costly ABC checks)
            isinstance(value, (str, bytes, Mapping)) or not isinstance(value, Iterable)):
        errors.append(ErrorDetail(_join(path, name), f"must be a list (got {rules._got(value)})",
                                  value))
        return ()
    out: list[T] = []
    base = _join(path, name)
    for i, raw in enumerate(value):
        got = item(errors, f"{base}[{i}]", raw)
        if got is not None:
            out.append(got)
    return tuple(out)


def _leaf(rule: Callable[[Any], T]) -> Callable[[Errors, str, Any], T | None]:
    def item(errors: Errors, path: str, raw: Any) -> T | None:
        try:
            return rule(raw)
        except rules.Invalid as e:
            errors.append(ErrorDetail(path, e.message, raw))
            return None

    return item


_empty = rules.empty


def _mapping(errors: Errors, path: str, value: Any, kind: str) -> bool:
    if type(value) is dict or isinstance(value, Mapping):
        return True
    article = "an" if kind[0] in "aeiou" else "a"
    errors.append(ErrorDetail(path, f"must be {article} {kind} object "
                                    f"(got {rules._got(value)})", value))
    return False


_setattr = object.__setattr__


def _build(cls: type[T], values: Mapping[str, Any]) -> T:
    """Make an instance from checked values without checking them again."""
    obj = cls.__new__(cls)
    for name, value in values.items():
        _setattr(obj, name, value)
    return obj


def _raise(errors: Errors) -> None:
    if errors:
        raise ValidationError(errors)


# --- Credit -----------------------------------------------------------------------------------


@attrs.frozen(slots=True, init=False)
class Credit:
    """A photo credit: who holds the rights, and since which year.

    It reads and renders as the display string ``"© Holder 2021"``.
    """

    holder: str
    year: int | None = None

    FIELDS: ClassVar[tuple[str, ...]] = ("holder", "year")

    def __init__(self, holder: str, year: int | None = None) -> None:
        errors: Errors = []
        got = check_credit(errors, "", {"holder": holder, "year": year})
        _raise(errors)
        assert got is not None
        _setattr(self, "holder", got.holder)
        _setattr(self, "year", got.year)

    @classmethod
    def parse(cls, display: str) -> Credit:
        """Read ``"© Holder 2021"`` or ``"(c) Holder 2021"``."""
        errors: Errors = []
        got = check_credit(errors, "", display)
        _raise(errors)
        assert got is not None
        return got

    def __str__(self) -> str:
        return f"© {self.holder} {self.year}" if self.year else f"© {self.holder}"


def check_credit(errors: Errors, path: str, value: Any) -> Credit | None:
    if isinstance(value, Credit):
        return value
    holder: str | None
    if isinstance(value, str):
        try:
            holder, year = rules.parse_credit(value)
        except rules.Invalid as e:
            errors.append(ErrorDetail(path, e.message, value))
            return None
        return _build(Credit, {"holder": holder, "year": year})
    if not _mapping(errors, path, value, "credit"):
        return None
    n = len(errors)
    _unknown_keys(value, Credit.FIELDS, "Credit", path, errors)
    if "holder" in value:
        holder = _field(errors, path, "holder", value["holder"], CREDIT_RULES["holder"])
    else:
        holder = None
        _missing(errors, path, "holder")
    raw_year = value.get("year")
    year = (None if raw_year is None
            else _field(errors, path, "year", raw_year, CREDIT_RULES["year"]))
    if len(errors) > n:
        return None
    return _build(Credit, {"holder": holder, "year": year})


# --- Image ------------------------------------------------------------------------------------


@attrs.frozen(slots=True, init=False)
class Image:
    """A story's picture: where it is, what it shows (``alt``), and whose it is."""

    url: str
    alt: str
    credit: Credit | None = None

    FIELDS: ClassVar[tuple[str, ...]] = ("url", "alt", "credit")

    def __init__(self, url: str, alt: str, credit: Credit | str | None = None) -> None:
        errors: Errors = []
        got = check_image(errors, "", {"url": url, "alt": alt, "credit": credit})
        _raise(errors)
        assert got is not None
        for name in self.FIELDS:
            _setattr(self, name, getattr(got, name))


def check_image(errors: Errors, path: str, value: Any) -> Image | None:
    if isinstance(value, Image):
        return value
    if not _mapping(errors, path, value, "image"):
        return None
    n = len(errors)
    _unknown_keys(value, Image.FIELDS, "Image", path, errors)
    get = value.get
    raw = get("url")
    url = (_field(errors, path, "url", raw, IMAGE_RULES["url"]) if raw is not None
           else _missing(errors, path, "url"))
    raw = get("alt")
    if raw is None:
        errors.append(ErrorDetail(_join(path, "alt"),
                                  "required with an image (describe what the picture shows)"))
        alt = None
    else:
        alt = _field(errors, path, "alt", raw, IMAGE_RULES["alt"])
    raw = get("credit")
    credit = None if raw is None else check_credit(errors, _join(path, "credit"), raw)
    if len(errors) > n:
        return None
    return _build(Image, {"url": url, "alt": alt, "credit": credit})


# --- Link and Translation ---------------------------------------------------------------------


@attrs.frozen(slots=True, init=False)
class Link:
    """A pointer to more, such as "Read more on our new Voices multimedia platform"."""

    url: str
    title: str

    FIELDS: ClassVar[tuple[str, ...]] = ("url", "title")

    def __init__(self, url: str, title: str) -> None:
        errors: Errors = []
        got = check_link(errors, "", {"url": url, "title": title})
        _raise(errors)
        assert got is not None
        _setattr(self, "url", got.url)
        _setattr(self, "title", got.title)


def check_link(errors: Errors, path: str, value: Any) -> Link | None:
    if isinstance(value, Link):
        return value
    if not _mapping(errors, path, value, "link"):
        return None
    n = len(errors)
    _unknown_keys(value, Link.FIELDS, "Link", path, errors)
    raw = value.get("url")
    url = (_field(errors, path, "url", raw, LINK_RULES["url"]) if raw is not None
           else _missing(errors, path, "url"))
    raw = value.get("title")
    title = (_field(errors, path, "title", raw, LINK_RULES["title"]) if raw is not None
             else _missing(errors, path, "title"))
    if len(errors) > n:
        return None
    return _build(Link, {"url": url, "title": title})


@attrs.frozen(slots=True, init=False)
class Translation:
    """The same story in another language, at another URL."""

    language: str
    url: str
    title: str | None = None

    FIELDS: ClassVar[tuple[str, ...]] = ("language", "url", "title")

    def __init__(self, language: str, url: str, title: str | None = None) -> None:
        errors: Errors = []
        got = check_translation(errors, "", {"language": language, "url": url, "title": title})
        _raise(errors)
        assert got is not None
        for name in self.FIELDS:
            _setattr(self, name, getattr(got, name))


def check_translation(errors: Errors, path: str, value: Any) -> Translation | None:
    if isinstance(value, Translation):
        return value
    if not _mapping(errors, path, value, "translation"):
        return None
    n = len(errors)
    _unknown_keys(value, Translation.FIELDS, "Translation", path, errors)
    raw = value.get("language")
    lang = (_field(errors, path, "language", raw, TRANSLATION_RULES["language"])
            if raw is not None else _missing(errors, path, "language"))
    raw = value.get("url")
    url = (_field(errors, path, "url", raw, TRANSLATION_RULES["url"]) if raw is not None
           else _missing(errors, path, "url"))
    raw = value.get("title")
    title = (None if raw is None
             else _field(errors, path, "title", raw, TRANSLATION_RULES["title"]))
    if len(errors) > n:
        return None
    return _build(Translation, {"language": lang, "url": url, "title": title})


# --- Story ------------------------------------------------------------------------------------

def _title(value: Any) -> str:
    return rules.text(value, max_length=rules.MAX_TITLE)


def _summary(value: Any) -> str:
    return rules.text(value, multiline=True)


# Each field's rule: a function of one value that gives its normal form or raises
# rules.Invalid (for a list field, the rule of each item). The one mapping from fields to
# rules: the checkers here and the JSON reader's fast path (storykit.read.schema) take theirs
# from these tables.
Rules = dict[str, Callable[[Any], Any]]
CREDIT_RULES: Rules = {"holder": rules.credit_holder, "year": rules.credit_year}
IMAGE_RULES: Rules = {"url": rules.url, "alt": rules.text}
LINK_RULES: Rules = {"url": rules.url, "title": rules.text}
TRANSLATION_RULES: Rules = {"language": rules.language, "url": rules.url, "title": rules.text}
STORY_RULES: Rules = {
    "id": rules.slug, "title": _title, "published": rules.published, "summary": _summary,
    "url": rules.url, "topics": rules.text, "countries": rules.country,
    "language": rules.language, "updated": rules.published, "body": rules.body,
}

_topic_item = _leaf(STORY_RULES["topics"])
_country_item = _leaf(STORY_RULES["countries"])


@attrs.frozen(slots=True, init=False)
class Story:
    """One news or feature story.

    Only ``title``, ``published`` and ``summary`` are required; ``id`` is derived from the title
    when not given. Every other field is optional. Text may be given as any ``str``, a
    ``StrEnum`` member or markupsafe's ``Markup`` included: the story keeps its characters as a
    plain ``str`` (so ``Markup`` is plain text, escaped on output like any other).

    ``body`` is the story's text as an HTML fragment, sanitised by an allow-list (no script, no
    ``on*`` attribute, no ``javascript:`` or ``data:`` URL); cleaning is idempotent, so a body
    read back from any output is unchanged.
    """

    id: str
    title: str
    published: date
    summary: str
    url: str | None = None
    image: Image | None = None
    topics: tuple[str, ...] = ()
    countries: tuple[str, ...] = ()
    language: str = "en"
    links: tuple[Link, ...] = ()
    translations: tuple[Translation, ...] = ()
    updated: date | None = None
    body: str | None = None

    FIELDS: ClassVar[tuple[str, ...]] = (
        "id", "title", "published", "summary", "url", "image", "topics", "countries",
        "language", "links", "translations", "updated", "body",
    )

    def __init__(
        self,
        *,
        title: str,
        published: date | str,
        summary: str,
        id: str | None = None,
        url: str | None = None,
        image: Image | Mapping[str, Any] | None = None,
        topics: Iterable[str] = (),
        countries: Iterable[str] = (),
        language: str = "en",
        links: Iterable[Link | Mapping[str, Any]] = (),
        translations: Iterable[Translation | Mapping[str, Any]] = (),
        updated: date | str | None = None,
        body: str | None = None,
    ) -> None:
        errors: Errors = []
        values = check_story_values(errors, "", {
            "id": id, "title": title, "published": published, "summary": summary, "url": url,
            "image": image, "topics": topics, "countries": countries, "language": language,
            "links": links, "translations": translations, "updated": updated, "body": body,
        })
        _raise(errors)
        assert values is not None
        for name, value in values.items():
            _setattr(self, name, value)

    @property
    def credit(self) -> Credit | None:
        """The photo credit, if the story has an image with one."""
        return self.image.credit if self.image is not None else None


def check_story_values(errors: Errors, path: str, data: Any, *, derive_id: bool = True,
                       language: str = "en") -> dict[str, Any] | None:
    """Check one story's raw data; return its normalised field values, or None if it failed.

    With ``derive_id=False`` a missing id stays ``None`` so that a collection can derive ids
    with its clash rule (``-2``, ``-3``). A story without a language gets ``language`` (in a
    collection, the collection's, as an HTML element takes its page's).
    """
    if not _mapping(errors, path, data, "story"):
        return None
    n = len(errors)
    get = data.get
    if len(data) > len(Story.FIELDS) or not data.keys() <= _STORY_KEYS:
        _unknown_keys(data, Story.FIELDS, "Story", path, errors)

    raw = get("title")
    title = (_field(errors, path, "title", raw, STORY_RULES["title"]) if raw is not None
             else _missing(errors, path, "title"))
    raw = get("id")
    if raw is not None and raw != "":
        sid: str | None = _field(errors, path, "id", raw, STORY_RULES["id"])
    else:
        sid = rules.slugify(title) if (derive_id and title is not None) else None
    raw = get("published")
    pub = (_field(errors, path, "published", raw, STORY_RULES["published"]) if raw is not None
           else _missing(errors, path, "published"))
    raw = get("summary")
    summary = (_field(errors, path, "summary", raw, STORY_RULES["summary"]) if raw is not None
               else _missing(errors, path, "summary"))
    raw = get("url")
    url = (None if raw is None or raw == ""
           else _field(errors, path, "url", raw, STORY_RULES["url"]))
    raw = get("image")
    image = None if raw is None else check_image(errors, _join(path, "image"), raw)
    raw = get("topics")
    topics = () if _empty(raw) else _many(errors, path, "topics", raw, _topic_item)
    raw = get("countries")
    countries = () if _empty(raw) else _many(errors, path, "countries", raw, _country_item)
    raw = get("language")
    lang = (language if raw is None
            else _field(errors, path, "language", raw, STORY_RULES["language"]))
    raw = get("links")
    links = () if _empty(raw) else _many(errors, path, "links", raw, check_link)
    raw = get("translations")
    translations = (() if _empty(raw)
                    else _many(errors, path, "translations", raw, check_translation))
    raw = get("updated")
    updated = (None if raw is None
               else _field(errors, path, "updated", raw, STORY_RULES["updated"]))
    raw = get("body")
    body = None if _empty(raw) else _field(errors, path, "body", raw, STORY_RULES["body"])

    if len(errors) > n:
        return None
    return {
        "id": sid, "title": title, "published": pub, "summary": summary, "url": url,
        "image": image, "topics": topics, "countries": countries, "language": lang,
        "links": links, "translations": translations, "updated": updated, "body": body,
    }


_STORY_KEYS = frozenset(Story.FIELDS)


def check_story(errors: Errors, path: str, data: Any) -> Story | None:
    if isinstance(data, Story):
        return data
    values = check_story_values(errors, path, data)
    return None if values is None else _build(Story, values)


# --- MediaContact -----------------------------------------------------------------------------


@attrs.frozen(slots=True, init=False)
class MediaContact:
    """Who journalists call: a person or a desk, and at least one way to reach them."""

    name: str
    role: str | None = None
    organization: str | None = None
    email: str | None = None
    phone: str | None = None
    url: str | None = None

    FIELDS: ClassVar[tuple[str, ...]] = ("name", "role", "organization", "email", "phone", "url")

    def __init__(
        self,
        name: str,
        *,
        role: str | None = None,
        organization: str | None = None,
        email: str | None = None,
        phone: str | None = None,
        url: str | None = None,
    ) -> None:
        errors: Errors = []
        got = check_contact(errors, "", {"name": name, "role": role,
                                         "organization": organization, "email": email,
                                         "phone": phone, "url": url})
        _raise(errors)
        assert got is not None
        for field in self.FIELDS:
            _setattr(self, field, getattr(got, field))


def check_contact(errors: Errors, path: str, value: Any) -> MediaContact | None:
    if isinstance(value, MediaContact):
        return value
    if not _mapping(errors, path, value, "contact"):
        return None
    n = len(errors)
    _unknown_keys(value, MediaContact.FIELDS, "MediaContact", path, errors)
    get = value.get
    raw = get("name")
    name = (_field(errors, path, "name", raw, rules.text) if raw is not None
            else _missing(errors, path, "name"))
    role = _field(errors, path, "role", get("role"), rules.optional_text)
    org = _field(errors, path, "organization", get("organization"), rules.optional_text)
    raw = get("email")
    email = None if _empty(raw) else _field(errors, path, "email", raw, rules.email)
    raw = get("phone")
    phone = None if _empty(raw) else _field(errors, path, "phone", raw, rules.phone)
    raw = get("url")
    url = None if _empty(raw) else _field(errors, path, "url", raw, rules.url)
    if all(_empty(get(key)) for key in ("email", "phone", "url")):
        errors.append(ErrorDetail(path or "contact",
                                  "a media contact needs at least one of email, phone or url"))
    if len(errors) > n:
        return None
    return _build(MediaContact, {"name": name, "role": role, "organization": org,
                                 "email": email, "phone": phone, "url": url})
