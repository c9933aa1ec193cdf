"""The first try of the JSON reader and of streamed JSON Lines: msgspec decodes the document (or
each line, :func:`stories_of_lines`) against its schema, in compiled code.

The schema below says what msgspec can check itself: the shape of the document, each value's
JSON type, required fields, unknown fields (refused), and the rules that are patterns or sets:
an id is :data:`~storykit._rules.SLUG_PATTERN`, a URL of the common form is
:data:`~storykit._rules.COMMON_URL_PATTERN` (the very patterns the rules run), a country is one
of :data:`~storykit._countries.ISO_3166_1_ALPHA_2`. What compiled code cannot say (text that is
stripped, NFC and free of control characters, dates, credits, language tags in their canonical
case, derived and unique ids) is the rules of :mod:`storykit._rules`, called once per value.

This try only ever accepts: any problem at all (a type, a pattern, an unknown or a repeated
key, a rule) makes :func:`collection_from_json` (:func:`stories_of_lines`) return None, and the
reader checks the document (each line) the detailed way, which names every problem with its
path, line and value. So no rule is written here a second time: a value this schema lets
through still meets the rule, and a value it refuses (an id of ``""``, a URL with a port or
spaces around it, a country in lower case) is judged by the rule itself on the detailed path.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, Literal, TypeVar

import attrs
import msgspec
from msgspec import UNSET, Meta, Struct, UnsetType

from storykit import _rules as rules
from storykit._countries import ISO_3166_1_ALPHA_2
from storykit.collection import Collection, check_collection_values, derive_ids
from storykit.model import (
    CREDIT_RULES,
    IMAGE_RULES,
    LINK_RULES,
    STORY_RULES,
    TRANSLATION_RULES,
    Credit,
    Errors,
    Image,
    Link,
    Story,
    Translation,
    _build,
    check_credit,
)
from storykit.read.decode import no_key_lost

__all__ = ["collection_from_json", "stories_of_lines"]

T = TypeVar("T")

Slug = Annotated[str, Meta(pattern=rules.SLUG_PATTERN, max_length=rules.MAX_ID)]
Url = Annotated[str, Meta(pattern=rules.COMMON_URL_PATTERN, max_length=rules.MAX_URL)]
Country = Literal[tuple(sorted(ISO_3166_1_ALPHA_2))]  # type: ignore[valid-type]

# (gc=False: these objects live only while a document is read, and hold no cycle.)
# Fields that may be left out default to UNSET, which msgspec does not write back: the
# re-rendering of a document then holds exactly the keys the document holds (no_key_lost).
# Each class lists its fields in the order storykit's JSON export writes them, so that a
# document storykit wrote is its own re-rendering.


class _Credit(Struct, forbid_unknown_fields=True, gc=False):
    holder: str
    year: int | UnsetType | None = UNSET


class _Image(Struct, forbid_unknown_fields=True, gc=False):
    url: Url
    alt: str
    credit: str | _Credit | UnsetType | None = UNSET


class _Link(Struct, forbid_unknown_fields=True, gc=False):
    url: Url
    title: str


class _Translation(Struct, forbid_unknown_fields=True, gc=False):
    language: str
    url: Url
    title: str | UnsetType | None = UNSET


class _Story(Struct, forbid_unknown_fields=True, gc=False, kw_only=True):
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


class _Collection(Struct, forbid_unknown_fields=True, gc=False):
    title: str | UnsetType | None = UNSET
    description: str | UnsetType | None = UNSET
    url: Url | UnsetType | None = UNSET
    language: str | UnsetType | None = UNSET
    # (a few per document: the model's own checker takes them as plain data)
    contacts: list[dict[str, Any]] | UnsetType | None = UNSET
    stories: list[_Story] | UnsetType | None = UNSET


_decoder = msgspec.json.Decoder(_Collection | list[_Story])
_story_decoder = msgspec.json.Decoder(_Story)
_encoder = msgspec.json.Encoder()


class _Refused(Exception):  # noqa: N818 - an internal signal: the detailed path takes over
    pass


def collection_from_json(data: str | bytes) -> Collection | None:
    """The collection ``data`` holds, if msgspec and the rules accept all of it; else None (the
    caller then checks the document the detailed way, which names every problem)."""
    try:
        doc = _decoder.decode(data)
    except (msgspec.DecodeError, UnicodeError, RecursionError):
        # (a msgspec.ValidationError too; a str with a lone surrogate cannot be UTF-8; a deep
        # value where the schema takes any (a contact's): the detailed path names each)
        return None
    if not no_key_lost(data, _encoder.encode(doc)):
        return None
    try:
        if isinstance(doc, list):
            return _collection(_meta({}), doc)
        return _collection(_meta({name: value for name in _META_FIELDS
                                  if (value := getattr(doc, name)) is not UNSET}),
                           doc.stories or [])
    except (rules.Invalid, _Refused):
        return None


def stories_of_lines(data: bytes) -> list[Story] | None:
    """The stories on the lines of JSON Lines ``data`` (whole lines; blank ones hold none), if
    msgspec and the rules accept every one; else None (the caller then checks the lines one by
    one, the detailed way, which names every problem).

    A story without an id gets the one its title gives, as
    :func:`storykit.model.check_story_values` derives it, and without a language the model's
    default. Each line is decoded on its own, so a line holding two values, or a value cut
    over two lines, is refused as :func:`storykit.load` refuses it.
    """
    decode = _story_decoder.decode
    try:
        raw = [decode(line) for line in data.split(b"\n") if line and not line.isspace()]
    except (msgspec.DecodeError, UnicodeError, RecursionError):
        return None
    # (Over all the lines at once: no line re-renders with more colons than it holds, so the
    # counts agree for the whole only if they agree for each line.)
    if not no_key_lost(data, _encoder.encode_lines(raw)):
        return None
    one = _Document(_LANGUAGE)
    try:
        stories = [one.story(s) for s in raw]
    except (rules.Invalid, _Refused):
        return None
    slugify = rules.slugify
    for story in stories:
        if story.id is None:
            _set(story, "id", slugify(story.title))
    return stories


_META_FIELDS = ("title", "description", "url", "language", "contacts")
#: A story's language when it gives none (outside a collection): the model's default.
_LANGUAGE = str(attrs.fields(Story).language.default)


def _meta(data: dict[str, Any]) -> dict[str, Any]:
    """The collection's metadata (all but its stories), checked by the model's checker."""
    errors: Errors = []
    values = check_collection_values(errors, "", data)
    if values is None:
        raise _Refused
    return {name: values[name] for name in _META_FIELDS}


def _collection(meta: dict[str, Any], raw: list[_Story]) -> Collection:
    """The collection of ``meta`` (checked) and the stories of ``raw``."""
    one = _Document(meta["language"])
    stories = tuple([one.story(s) for s in raw])
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


class _Remembered(dict[Any, T]):
    """A rule that remembers its answer for each value it accepted (the answers are immutable:
    a str, a date, a Credit). ``known.get(value) or known(value)`` skips the call for a value
    seen before."""

    def __init__(self, rule: Callable[[Any], T]) -> None:
        super().__init__()
        self.rule = rule

    def __call__(self, value: Any) -> T:
        got = self[value] = self.rule(value)
        return got


# The rules of the model's checkers (storykit.model's tables: the one mapping of fields to rules).
_title, _summary, _body = STORY_RULES["title"], STORY_RULES["summary"], STORY_RULES["body"]
_holder, _year = CREDIT_RULES["holder"], CREDIT_RULES["year"]
_alt, _translation_title = IMAGE_RULES["alt"], TRANSLATION_RULES["title"]


def _credit_text(value: str) -> Credit:
    """A credit's display string as a Credit, by the model's checker."""
    errors: Errors = []
    credit = check_credit(errors, "", value)
    if credit is None:
        raise _Refused
    return credit


class _Document:
    """The rules as one document runs them. Values that come from a small set (dates, topics,
    language tags, photo credits, the title of a link such as "Read more on our Voices
    platform") repeat from story to story: each such rule runs once per distinct value of the
    document. Titles, summaries and alt texts, which seldom repeat, are checked every time."""

    def __init__(self, language: str) -> None:
        self.language = language
        self.tag = _Remembered(STORY_RULES["language"])
        self.translation_tag = _Remembered(TRANSLATION_RULES["language"])
        self.date = _Remembered(STORY_RULES["published"])
        self.updated = _Remembered(STORY_RULES["updated"])
        self.topic = _Remembered(STORY_RULES["topics"])
        self.link_title = _Remembered(LINK_RULES["title"])
        self.credit = _Remembered(_credit_text)

    def story(self, s: _Story) -> Story:
        """The story of ``s``, its id None if it gives none (the collection derives it)."""
        topic, date, known_topic, known_date = self.topic, self.date, self.topic.get, self.date.get
        story = _new(Story)
        _set(story, "id", s.id or None)
        _set(story, "title", _title(s.title))
        _set(story, "published", known_date(s.published) or date(s.published))
        _set(story, "summary", _summary(s.summary))
        _set(story, "url", s.url or None)
        _set(story, "image", self.image(s.image) if s.image else None)
        _set(story, "topics",
             tuple([known_topic(t) or topic(t) for t in s.topics]) if s.topics else ())
        _set(story, "countries", tuple(s.countries) if s.countries else ())
        raw = s.language
        _set(story, "language", self.language if raw is None or raw is UNSET
             else self.tag.get(raw) or self.tag(raw))
        _set(story, "links", tuple([self.link(x) for x in s.links]) if s.links else ())
        _set(story, "translations", tuple([self.translation(x) for x in s.translations])
             if s.translations else ())
        raw = s.updated
        _set(story, "updated", None if raw is None or raw is UNSET
             else self.updated.get(raw) or self.updated(raw))
        _set(story, "body", _body(s.body) if s.body else None)
        return story

    def link(self, x: _Link) -> Link:
        link = _new(Link)
        _set(link, "url", x.url)
        _set(link, "title", self.link_title.get(x.title) or self.link_title(x.title))
        return link

    def image(self, i: _Image) -> Image:
        c = i.credit
        credit: Credit | None = None
        if isinstance(c, str):  # (not "if c": "" is a credit, and a blank one)
            credit = self.credit.get(c) or self.credit(c)
        elif isinstance(c, _Credit):
            credit = _new(Credit)
            _set(credit, "holder", _holder(c.holder))
            _set(credit, "year", None if c.year is None or c.year is UNSET else _year(c.year))
        image = _new(Image)
        _set(image, "url", i.url)
        _set(image, "alt", _alt(i.alt))
        _set(image, "credit", credit)
        return image

    def translation(self, t: _Translation) -> Translation:
        title = t.title
        translation = _new(Translation)
        _set(translation, "language",
             self.translation_tag.get(t.language) or self.translation_tag(t.language))
        _set(translation, "url", t.url)
        _set(translation, "title",
             None if title is None or title is UNSET else _translation_title(title))
        return translation
