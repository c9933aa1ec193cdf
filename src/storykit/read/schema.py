"""The JSON reader's first try: msgspec decodes the document against its schema, in compiled code.

The schema below says what msgspec can check itself: the shape of the document, each value's
JSON type, required fields, unknown fields (refused), and the rules that are patterns or sets:
an id is :data:`~storykit._rules.SLUG_PATTERN`, a URL of the common form is
:data:`~storykit._rules.COMMON_URL_PATTERN` (the very patterns the rules run), a country is one
of :data:`~storykit._countries.ISO_3166_1_ALPHA_2`. What compiled code cannot say (text that is
stripped, NFC and free of control characters, dates, credits, language tags in their canonical
case, derived and unique ids) is the rules of :mod:`storykit._rules`, called once per value.

This try only ever accepts: any problem at all (a type, a pattern, an unknown or a repeated
key, a rule) makes :func:`collection_from_json` return None, and the reader checks the document
the detailed way, which names every problem with its path, line and value. So no rule is
written here a second time: a value this schema lets through still meets the rule, and a value
it refuses (an id of ``""``, a URL with a port or spaces around it, a country in lower case) is
judged by the rule itself on the detailed path.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

import msgspec
from msgspec import UNSET, Meta, Struct, UnsetType

from storykit import _rules as rules
from storykit._countries import ISO_3166_1_ALPHA_2
from storykit.collection import Collection, _optional_summary, derive_ids
from storykit.model import (
    Credit,
    Errors,
    Image,
    Link,
    Story,
    Translation,
    _build,
    _summary,
    _title,
    check_contact,
)
from storykit.read.decode import no_key_lost

__all__ = ["collection_from_json"]

Slug = Annotated[str, Meta(pattern=rules.SLUG_PATTERN, max_length=rules.MAX_ID)]
Url = Annotated[str, Meta(pattern=rules.COMMON_URL_PATTERN, max_length=rules.MAX_URL)]
Country = Literal[tuple(sorted(ISO_3166_1_ALPHA_2))]  # type: ignore[valid-type]

# Fields that may be left out default to UNSET, which msgspec does not write back: the
# re-rendering of a document then holds exactly the keys the document holds (no_key_lost).
# Each class lists its fields in the order storykit's JSON export writes them, so that a
# document storykit wrote is its own re-rendering.


class _Credit(Struct, forbid_unknown_fields=True):
    holder: str
    year: int | UnsetType | None = UNSET


class _Image(Struct, forbid_unknown_fields=True):
    url: Url
    alt: str
    credit: str | _Credit | UnsetType | None = UNSET


class _Link(Struct, forbid_unknown_fields=True):
    url: Url
    title: str


class _Translation(Struct, forbid_unknown_fields=True):
    language: str
    url: Url
    title: str | UnsetType | None = UNSET


class _Story(Struct, forbid_unknown_fields=True, kw_only=True):
    id: Slug | UnsetType | None = UNSET
    title: str
    published: str
    summary: str
    url: Url | UnsetType | None = UNSET
    image: _Image | UnsetType | None = UNSET
    topics: list[str] | UnsetType | None = UNSET
    countries: list[Country] | UnsetType | None = UNSET  # type: ignore[valid-type]
    language: str | UnsetType | None = UNSET
    links: list[_Link] | UnsetType | None = UNSET
    translations: list[_Translation] | UnsetType | None = UNSET
    updated: str | UnsetType | None = UNSET
    body: str | UnsetType | None = UNSET


class _Collection(Struct, forbid_unknown_fields=True):
    title: str | UnsetType | None = UNSET
    description: str | UnsetType | None = UNSET
    url: Url | UnsetType | None = UNSET
    language: str | UnsetType | None = UNSET
    # (a few per document: the model's own checker takes them as plain data)
    contacts: list[dict[str, Any]] | UnsetType | None = UNSET
    stories: list[_Story] | UnsetType | None = UNSET


_decoder = msgspec.json.Decoder(_Collection | list[_Story])
_encoder = msgspec.json.Encoder()


class _Refused(Exception):  # noqa: N818 - an internal signal: the detailed path takes over
    pass


def collection_from_json(data: str | bytes) -> Collection | None:
    """The collection ``data`` holds, if msgspec and the rules accept all of it; else None (the
    caller then checks the document the detailed way, which names every problem)."""
    try:
        doc = _decoder.decode(data)
    except msgspec.DecodeError:  # (a msgspec.ValidationError too)
        return None
    if not no_key_lost(data, _encoder.encode(doc)):
        return None
    try:
        if isinstance(doc, list):
            return _collection(_META, doc)
        title, language = doc.title, doc.language
        return _collection({
            "title": "Stories" if title is None or title is UNSET else rules.text(title),
            "description": _optional_summary(doc.description) if doc.description else None,
            "url": doc.url or None,
            "language": ("en" if language is None or language is UNSET
                         else rules.language(language)),
            "contacts": _contacts(doc.contacts)}, doc.stories or [])
    except (rules.Invalid, _Refused):
        return None


def _contacts(raw: list[dict[str, Any]] | UnsetType | None) -> tuple[Any, ...]:
    if not raw:
        return ()
    errors: Errors = []
    contacts = tuple(check_contact(errors, "", c) for c in raw)
    if errors:
        raise _Refused
    return contacts


#: The metadata of a bare list of stories.
_META: dict[str, Any] = {"title": "Stories", "description": None, "url": None, "language": "en",
                         "contacts": ()}


def _collection(meta: dict[str, Any], raw: list[_Story]) -> Collection:
    """The collection of ``meta`` (checked) and the stories of ``raw``."""
    languages: dict[str, str] = {}
    stories = tuple([_story(s, meta["language"], languages) for s in raw])
    index: dict[str, int] = {}
    derived: list[int] = []
    for i, story in enumerate(stories):
        sid = story.id
        if sid is None:
            derived.append(i)
        elif sid in index:
            raise _Refused  # (a repeated id: the detailed path names both stories)
        else:
            index[sid] = i
    number = derive_ids(index)
    for i in derived:
        story = stories[i]
        _set(story, "id", sid := number(rules.slugify(story.title)))
        index[sid] = i
    return _build(Collection, {**meta, "stories": stories, "_index": index})


# Each object is made as _build makes it (no second check), one attribute at a time: this is
# the loop of every story, and a dict per object would cost a fifth of its time.
_new = object.__new__
_set = object.__setattr__


def _story(s: _Story, language: str, languages: dict[str, str]) -> Story:
    """The story of ``s``, its id None if it gives none (the collection derives it)."""
    text = rules.text
    story = _new(Story)
    _set(story, "id", s.id or None)
    _set(story, "title", _title(s.title))
    _set(story, "published", rules.published(s.published))
    _set(story, "summary", _summary(s.summary))
    _set(story, "url", s.url or None)
    _set(story, "image", _image(s.image) if s.image else None)
    _set(story, "topics", tuple([text(t) for t in s.topics]) if s.topics else ())
    _set(story, "countries", tuple(s.countries) if s.countries else ())
    raw = s.language
    _set(story, "language", language if raw is None or raw is UNSET
         else languages.get(raw) or languages.setdefault(raw, rules.language(raw)))
    _set(story, "links", tuple([_link(x) for x in s.links]) if s.links else ())
    _set(story, "translations", tuple([_translation(x, languages) for x in s.translations])
         if s.translations else ())
    raw = s.updated
    _set(story, "updated", None if raw is None or raw is UNSET else rules.published(raw))
    _set(story, "body", rules.body(s.body) if s.body else None)
    return story


def _link(x: _Link) -> Link:
    link = _new(Link)
    _set(link, "url", x.url)
    _set(link, "title", rules.text(x.title))
    return link


def _image(i: _Image) -> Image:
    c = i.credit
    credit: Credit | None = None
    if c is not None and c is not UNSET:  # (not "if c": "" is a credit, and a blank one)
        credit = _new(Credit)
        if isinstance(c, str):
            holder, year = rules.parse_credit(c)
        else:
            holder = rules.credit_holder(c.holder)
            year = None if c.year is None or c.year is UNSET else rules.credit_year(c.year)
        _set(credit, "holder", holder)
        _set(credit, "year", year)
    image = _new(Image)
    _set(image, "url", i.url)
    _set(image, "alt", rules.text(i.alt))
    _set(image, "credit", credit)
    return image


def _translation(t: _Translation, languages: dict[str, str]) -> Translation:
    lang = languages.get(t.language) or languages.setdefault(t.language,
                                                             rules.language(t.language))
    title = t.title
    return _build(Translation, {"language": lang, "url": t.url,
                                "title": None if title is None or title is UNSET
                                else rules.text(title)})
