"""Fast paths for the model's checks: the common case in few calls, the rest to the full rules.

A story as content files hold it is nearly always valid and plain: ASCII or already-NFC text
without stray spaces, URLs of the usual shape, ISO dates. :func:`story` checks such a story
with inline tests that accept only values the full rules (``_rules.py``) would return
unchanged, and calls those rules for everything else. It never reports a problem: on anything
it cannot vouch for it returns ``None``, and the detailed checker in ``model.py`` runs instead
and gives the complete report. Values that repeat across an archive (dates, languages,
countries, topics, photo credits) are memoised, in small bounded caches. So the fast path
changes speed, never a verdict or a message; ``tests/test_fastpath.py`` checks that it agrees
with the detailed path. (The caches take only plain ``str`` keys. A ``str`` subclass is looked
up by its own ``__eq__`` and ``__hash__``, so one whose equality disagrees with its characters,
such as a case-insensitive string, may get the result of an equal plain string: checking each
item's type would cost every story of every archive for a case that only such a class has.)
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Hashable
from typing import Any, TypeVar

from storykit import _rules as rules

__all__ = ["builder", "plain_text", "plain_url", "story"]

T = TypeVar("T")
K = TypeVar("K", bound=Hashable)

_ZERO_WIDTH = frozenset(rules._ZERO_WIDTH)
_BAD_LINE = rules._BAD_CHAR_LINE.search
_BAD_MULTILINE = rules._BAD_CHAR.search
_is_normalized = unicodedata.is_normalized

# An absolute http(s) URL whose host is plain ASCII letters, digits, dots and hyphens, with no
# port, user or brackets, and whose rest holds only printable ASCII that rules.url() accepts
# (no space, no \ < > " ` { } | ^): urlsplit() finds scheme and host, and url() returns it as is.
# (Possessive quantifiers: no class overlaps what follows it, so they change no verdict, and
# they spare the regex engine its backtracking records.)
_PLAIN_URL = re.compile(
    r"[hH][tT][tT][pP][sS]?://[A-Za-z0-9][A-Za-z0-9.-]*+(?:[/?#][!#-;=?-\[\]_a-z~]*+)?+"
)


def plain_text(s: str, multiline: bool = False) -> bool:
    """``s`` is text that :func:`rules.text` returns unchanged (stripped, NFC, no controls)."""
    if s.isprintable():
        # No "Other" or "Separator" characters but the ASCII space: so no control, format,
        # surrogate, noncharacter, line break or zero-width character, and no space but " ".
        # (str.isprintable() is several times faster than the regex on non-ASCII text.)
        return (s != "" and s[0] != " " and s[-1] != " "
                and (s.isascii() or _is_normalized("NFC", s)))
    return bool(
        s
        and not s[0].isspace() and not s[-1].isspace()
        and s[0] not in _ZERO_WIDTH and s[-1] not in _ZERO_WIDTH
        and (_BAD_MULTILINE if multiline else _BAD_LINE)(s) is None
        and (s.isascii() or _is_normalized("NFC", s))
    )


def plain_url(s: str) -> bool:
    """``s`` is a URL that :func:`rules.url` returns unchanged."""
    return len(s) <= rules.MAX_URL and _PLAIN_URL.fullmatch(s) is not None


def _text(value: Any, max_length: int | None = None) -> str:
    if type(value) is str and (max_length is None or len(value) <= max_length) and plain_text(
            value):
        return value
    return rules.text(value, max_length=max_length)


def _summary(value: Any) -> str:
    if type(value) is str and plain_text(value, multiline=True):
        return value
    return rules.text(value, multiline=True)


def _url(value: Any) -> str:
    if type(value) is str and plain_url(value):
        return value
    return rules.url(value)


class _Cache(dict[K, T]):
    """A small memo of rule results for values that repeat (languages, credits, countries)."""

    def __init__(self, rule: Callable[[Any], T], limit: int = 4096) -> None:
        super().__init__()
        self.rule = rule
        self.limit = limit

    def __missing__(self, key: K) -> T:
        value = self.rule(key)  # raises rules.Invalid: nothing is kept
        if len(self) >= self.limit:
            self.clear()
        self[key] = value
        return value


def _plain(rule: Callable[[Any], T]) -> Callable[[Any], T]:
    """``rule`` for plain ``str`` keys only: anything else (a ``str`` subclass such as a
    ``StrEnum`` member) raises TypeError, so the fast path declines and the detailed path
    checks it. A cache then never holds a key whose own ``__eq__`` and ``__hash__`` could
    answer for a plain string that is not equal to it."""
    def checked(key: Any) -> T:
        if type(key) is not str:
            raise TypeError(key)
        return rule(key)

    return checked


def builder(cls: type[T], fields: tuple[str, ...]) -> Callable[..., T]:
    """A function ``build(v0, v1, ...)`` making a ``cls`` (attrs, slots) without checks.

    It sets each slot through its descriptor: about twice as fast as ``object.__setattr__`` by
    name in a loop.
    """
    names = [f"s{i}" for i in range(len(fields))]
    params = [f"v{i}" for i in range(len(fields))]
    body = "".join(f"    {s}(o, {v})\n" for s, v in zip(names, params, strict=True))
    src = f"def build({', '.join(params)}):\n    o = new(cls)\n{body}    return o\n"
    namespace: dict[str, Any] = {"new": object.__new__, "cls": cls}
    for s, field in zip(names, fields, strict=True):
        namespace[s] = cls.__dict__[field].__set__
    exec(src, namespace)  # generated from the class's own field names only
    return namespace["build"]  # type: ignore[no-any-return]


class _Fast:
    """The model's classes and their builders, bound once model.py has made them."""

    def __init__(self) -> None:
        from storykit.model import Credit, Image, Link, Story

        # A story with a body takes the detailed path (its body is cleaned there).
        self.story_keys = frozenset(Story.FIELDS) - {"body"}
        self.image_keys = frozenset(Image.FIELDS)
        self.story = builder(Story, Story.FIELDS)
        self.image = builder(Image, ("url", "alt", "credit"))
        self.link = builder(Link, ("url", "title"))
        self.credit_keys = frozenset(Credit.FIELDS)
        credit = builder(Credit, ("holder", "year"))
        self.credits: _Cache[str, Any] = _Cache(lambda s: credit(*rules.parse_credit(s)))
        self.credit_pairs: _Cache[tuple[str, int | None], Any] = _Cache(
            lambda pair: credit(rules.credit_holder(pair[0]),
                                None if pair[1] is None else rules.credit_year(pair[1])))
        self.languages: _Cache[str, str] = _Cache(_plain(rules.language))
        self.countries: _Cache[str, str] = _Cache(_plain(rules.country), limit=1024)
        self.dates: _Cache[str, Any] = _Cache(rules.published)
        self.topics: _Cache[str, str] = _Cache(_plain(rules.text))
        self.topic_lists: _Cache[tuple[Any, ...], tuple[str, ...]] = _Cache(
            lambda items: tuple([self.topics[t] for t in items]))
        self.country_lists: _Cache[tuple[Any, ...], tuple[str, ...]] = _Cache(
            lambda items: tuple([self.countries[c] for c in items]))


_fast: _Fast | None = None


def _bound() -> _Fast:
    global _fast  # bound on first use, when model.py has made the classes
    if _fast is None:
        _fast = _Fast()
    return _fast


def _image(f: _Fast, raw: Any) -> Any:
    if type(raw) is not dict:
        raise rules.Invalid("")
    get = raw.get
    url, alt, credit = get("url"), get("alt"), get("credit")
    # Each key found is a field: so when there are no more keys than that, none is unknown.
    if len(raw) != (2 if credit is None else 3) and not raw.keys() <= f.image_keys:
        raise rules.Invalid("")
    if url is None or alt is None:
        raise rules.Invalid("")
    if credit is not None:
        credit = f.credits[credit] if type(credit) is str else _credit(f, credit)
    if not (type(url) is str and len(url) <= _MAX_URL and _plain_url(url) is not None):
        url = rules.url(url)
    if not (type(alt) is str and alt.isprintable() and alt and alt[0] != " " and alt[-1] != " "
            and (alt.isascii() or _is_normalized("NFC", alt))):
        alt = rules.text(alt)
    return f.image(url, alt, credit)


def _credit(f: _Fast, raw: Any) -> Any:
    """A credit given as ``{"holder": ..., "year": ...}`` (as the JSON export writes it)."""
    if type(raw) is not dict:
        raise rules.Invalid("")
    holder, year = raw.get("holder"), raw.get("year")
    if len(raw) != (1 if year is None else 2) and not raw.keys() <= f.credit_keys:
        raise rules.Invalid("")
    if type(holder) is not str or (year is not None and type(year) is not int):
        raise rules.Invalid("")
    return f.credit_pairs[holder, year]


def _links(f: _Fast, raw: Any) -> tuple[Any, ...]:
    if type(raw) is not list:
        raise rules.Invalid("")
    out = []
    link = f.link
    for item in raw:
        # Two keys, and both found (else KeyError): so no unknown key.
        if type(item) is not dict or len(item) != 2:
            raise rules.Invalid("")
        url, title = item["url"], item["title"]
        if not (type(url) is str and len(url) <= _MAX_URL and _plain_url(url) is not None):
            url = rules.url(url)
        if not (type(title) is str and title.isprintable() and title and title[0] != " "
                and title[-1] != " " and (title.isascii() or _is_normalized("NFC", title))):
            title = rules.text(title)
        out.append(link(url, title))
    return tuple(out)


def _nothing(raw: Any) -> tuple[()]:
    """``()`` for a list field left out; a falsy value of the wrong type (``0``, ``false``)
    raises, leaving it to the detailed path to report."""
    if rules.empty(raw):
        return ()
    raise TypeError(raw)


def story(data: Any, derive_id: bool = False, language: str = "en") -> Any:
    """A plain, valid story's :class:`~storykit.Story`, equal to what the detailed checker
    makes of ``data``; or ``None``. ``language`` is the one a story without its own gets (its
    collection's).

    ``None`` means "not vouched for": the caller runs the detailed checker, which reports.
    Without an ``id`` in ``data`` the story is left to the caller unless ``derive_id``.
    The checks of :func:`plain_text` and :func:`plain_url` are written out inline for the
    title, summary and URL: this function runs once per story of every archive.
    """
    f = _fast or _bound()
    if type(data) is not dict or not data.keys() <= f.story_keys:
        return None
    get = data.get
    try:
        title = get("title")
        if not (type(title) is str and title.isprintable() and title and title[0] != " "
                and title[-1] != " " and len(title) <= _MAX_TITLE
                and (title.isascii() or _is_normalized("NFC", title))):
            if title is None:
                return None
            title = rules.text(title, max_length=_MAX_TITLE)
        sid = get("id")
        if sid is None or sid == "":
            if not derive_id:
                return None
            sid = rules.slugify(title)
        elif (type(sid) is not str or len(sid) > _MAX_ID or _slug_chars(sid) is None
              or sid[0] == "-" or sid[-1] == "-" or "--" in sid):  # rules.is_slug, inline
            return None
        pub = get("published")
        if type(pub) is not str:
            return None
        pub = f.dates[pub]
        summary = get("summary")
        if not (type(summary) is str and summary.isprintable() and summary
                and summary[0] != " " and summary[-1] != " "
                and (summary.isascii() or _is_normalized("NFC", summary))):
            if summary is None:
                return None
            summary = _summary(summary)
        url = get("url")
        if url is not None and not (type(url) is str and len(url) <= _MAX_URL
                                    and _plain_url(url) is not None):
            url = None if url == "" else rules.url(url)
        image = get("image")
        if image is not None:
            image = _image(f, image)
        # Lists of topics and countries repeat across an archive: each list is checked once,
        # and the stories that give it share one tuple. (An unhashable item: TypeError.)
        topics = get("topics")
        topics = f.topic_lists[tuple(topics)] if type(topics) is list and topics else _nothing(
            topics)
        countries = get("countries")
        countries = (f.country_lists[tuple(countries)] if type(countries) is list and countries
                     else _nothing(countries))
        lang = get("language")
        lang = language if lang is None else f.languages[lang]
        links = get("links")
        if links is not None:
            links = _links(f, links) if type(links) is list and links else _nothing(links)
        else:
            links = ()
        translations = get("translations")
        if translations is not None and not _empty(translations):
            return None  # rare: the detailed path
        updated = get("updated")
        if updated is not None:
            updated = rules.published(updated)
    except (rules.Invalid, TypeError, KeyError):
        return None
    return f.story(sid, title, pub, summary, url, image, topics, countries, lang, links, (),
                   updated, None)


_MAX_TITLE = rules.MAX_TITLE
_MAX_ID = rules.MAX_ID
_MAX_URL = rules.MAX_URL
_slug_chars = rules._SLUG_CHARS
_empty = rules.empty
_plain_url = _PLAIN_URL.fullmatch
