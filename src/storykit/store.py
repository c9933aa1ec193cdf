"""Where the web app reads its content: the :class:`Store` protocol and :class:`MemoryStore`.

``storykit serve`` and :func:`storykit.web.create_app` answer every request through a store:
``MemoryStore`` holds a loaded collection; ``storykit.sqlite.SqliteStore`` (when installed)
answers the same calls from SQL. Any object with these methods will do.
"""

from __future__ import annotations

import bisect
import hashlib
import threading
import unicodedata
from collections.abc import Iterator, Sequence
from datetime import date, datetime
from typing import Any, Protocol, runtime_checkable

from storykit.collection import Collection
from storykit.model import Story

__all__ = ["MemoryStore", "Store", "day_of"]


@runtime_checkable
class Store(Protocol):
    """The content behind the web app."""

    def meta(self) -> Collection:
        """The collection's title, description, url, language and contacts, without stories."""
        ...

    def query(self, *, topic: str | Sequence[str] | None = None,
              country: str | Sequence[str] | None = None,
              since: date | str | None = None, until: date | str | None = None,
              language: str | None = None, text: str | None = None, offset: int = 0,
              limit: int | None = None) -> tuple[list[Story], int]:
        """The matching stories, newest first, from ``offset`` (at most ``limit``), and how
        many match in all. A list of topics or countries matches any of them."""
        ...

    def get(self, id: str) -> Story | None:
        """The story with this id, or None."""
        ...

    def counts(self, key: str) -> dict[str, int]:
        """Stories per ``"topic"`` (each spelling), ``"country"`` (code) or ``"day"`` (the
        story's own date, ISO ``YYYY-MM-DD``), most first."""
        ...

    def lastmods(self, *, offset: int = 0,
                 limit: int | None = None) -> Iterator[tuple[str, date]]:
        """Each story's id and last change (its ``updated``, else ``published``), in id
        order, from ``offset`` (at most ``limit``): the sitemap's, read a few at a time."""
        ...

    def collection(self, *, offset: int = 0, limit: int | None = None,
                   **criteria: Any) -> Collection:
        """The whole collection, or the stories matching ``criteria`` (as :meth:`query`'s
        filters; ``topic`` and ``country`` may be lists, any of which matches), in the
        collection's own order, from ``offset`` (at most ``limit``): the site's pages."""
        ...

    def stream(self, **criteria: Any) -> Iterator[Story]:
        """The stories :meth:`collection` gives for ``criteria``, in its order, one at a time
        and read as they are asked for, so that a selection of any size is written in flat
        memory (``/stories.json``). A bad criterion raises at once, as :meth:`query` does,
        not when the first story is asked for."""
        ...

    def version(self) -> str:
        """A token that changes whenever the content changes (the web app's ETag)."""
        ...


#: How many selections a :class:`MemoryStore` remembers (each a list of its matching stories).
_SELECTIONS = 64


def _values(value: Any) -> list[Any]:
    """A filter's value as a list: one string, or several (any of which matches)."""
    return [value] if isinstance(value, str) else list(value)


def _hashable(value: Any) -> Any:
    """A filter's value as a key of remembered selections (a bad one as it is: the
    matcher says what is wrong with it)."""
    if value is None or isinstance(value, str):
        return value
    try:
        return tuple(value)
    except TypeError:
        return value


def day_of(story: Story) -> str:
    """The story's own date (a datetime's in its own offset), ISO: ``"2021-02-15"``."""
    when = story.published
    return (when.date() if isinstance(when, datetime) else when).isoformat()


def check_window(offset: int, limit: int | None) -> None:
    """Refuse a negative ``offset`` or ``limit`` of a store's page (``ValueError``)."""
    if offset < 0 or (limit is not None and limit < 0):
        raise ValueError(f"offset and limit must not be negative (got {offset}, {limit})")


class MemoryStore:
    """A :class:`Store` over a collection held in memory."""

    def __init__(self, collection: Collection) -> None:
        self._collection = collection
        self._meta = collection.replace([])
        #: Newest first, ties by id (as Collection.sort(reverse=True) and an archive order them).
        self._newest = list(collection.sort("published", reverse=True).stories)
        #: Each story's place newest first (sorts a selection's matches newest first).
        self._rank = {id(s): i for i, s in enumerate(self._newest)}
        #: Each story's place in the collection.
        self._place = {id(s): i for i, s in enumerate(collection)}
        #: The stories of each topic (casefolded) and country code, in the collection's
        #: order: a query for one looks at its stories only.
        self._index: dict[str, dict[str, list[Story]]] = {"topic": {}, "country": {}}
        #: The stories of each date (their own, ISO), in the collection's order, and the
        #: dates in order: a query for a week looks at its days only.
        self._days: dict[str, list[Story]] = {}
        for story in collection:
            for key, values in (("topic", {t.casefold() for t in story.topics}),
                                ("country", set(story.countries))):
                for value in values:
                    self._index[key].setdefault(value, []).append(story)
            self._days.setdefault(day_of(story), []).append(story)
        self._day_keys = sorted(self._days)
        #: The stories of the last selections asked for (criteria -> matches, newest first),
        #: so that the next page of a selection costs a slice, not a pass over the stories.
        self._selections: dict[tuple[Any, ...], list[Story]] = {}
        self._lock = threading.Lock()
        self._version: str | None = None
        self._by_id: list[Story] | None = None

    def meta(self) -> Collection:
        return self._meta

    def query(self, *, topic: str | Sequence[str] | None = None,
              country: str | Sequence[str] | None = None,
              since: date | str | None = None, until: date | str | None = None,
              language: str | None = None, text: str | None = None, offset: int = 0,
              limit: int | None = None) -> tuple[list[Story], int]:
        criteria = (_hashable(topic), _hashable(country), since, until, language, text)
        if any(v is not None for v in criteria):
            found = self._selections.get(criteria)
            if found is None:
                rank = self._rank
                found = sorted(self._matches(topic=topic, country=country, since=since,
                                             until=until, language=language, text=text),
                               key=lambda s: rank[id(s)])
                with self._lock:  # (the oldest goes: memory stays flat)
                    while len(self._selections) >= _SELECTIONS:
                        self._selections.pop(next(iter(self._selections)))
                    self._selections[criteria] = found
        else:
            found = self._newest
        end = None if limit is None else offset + limit
        return list(found[offset:end]), len(found)

    def _matches(self, **criteria: Any) -> list[Story]:
        """The stories matching ``criteria``, in the collection's order (a bad filter raises
        ``ValueError``)."""
        from storykit.collection import matcher

        match = matcher(**criteria)
        return [s for s in self._candidates(**criteria) if match(s)]

    def _candidates(self, *, topic: Any = None, country: Any = None, since: Any = None,
                    until: Any = None, **_: Any) -> list[Story] | tuple[Story, ...]:
        """The stories that can match, in the collection's order: those of the topics,
        countries or dates asked for (the fewest), else all. The matcher still tests each, so
        this only narrows."""
        from storykit.collection import country_code

        lists: list[list[Story] | tuple[Story, ...]] = [self._collection.stories]
        if topic is not None:
            lists.append(self._union("topic", {unicodedata.normalize("NFC", t).casefold()
                                               for t in _values(topic)}))
        if country is not None:
            lists.append(self._union("country", {country_code(c) for c in _values(country)}))
        days = self._between(since, until)
        if days is not None:
            lists.append(days)
        return min(lists, key=len)

    def _between(self, since: Any, until: Any) -> list[Story] | None:
        """The stories whose own date is from ``since`` to ``until`` (dates, not instants),
        in the collection's order; None when neither is a date."""
        from storykit import _rules as rules

        bounds = [None if v is None else rules.published(v) for v in (since, until)]
        if all(b is None or isinstance(b, datetime) for b in bounds):
            return None
        low, high = (b.isoformat() if b is not None and not isinstance(b, datetime) else None
                     for b in bounds)
        keys = self._day_keys
        first = 0 if low is None else bisect.bisect_left(keys, low)
        last = len(keys) if high is None else bisect.bisect_right(keys, high)
        if last - first == 1:
            return self._days[keys[first]]
        place = self._place
        return sorted((s for k in keys[first:last] for s in self._days[k]),
                      key=lambda s: place[id(s)])

    def _union(self, key: str, values: set[str]) -> list[Story]:
        lists = [self._index[key].get(value, []) for value in values]
        if len(lists) == 1:
            return lists[0]
        place = self._place
        return sorted({id(s): s for stories in lists for s in stories}.values(),
                      key=lambda s: place[id(s)])

    def get(self, id: str) -> Story | None:
        return self._collection.get(id)

    def lastmods(self, *, offset: int = 0,
                 limit: int | None = None) -> Iterator[tuple[str, date]]:
        check_window(offset, limit)
        if self._by_id is None:  # (made when first asked: only a sitemap asks)
            self._by_id = sorted(self._collection, key=lambda s: s.id)
        end = None if limit is None else offset + limit
        return ((s.id, s.updated or s.published) for s in self._by_id[offset:end])

    def counts(self, key: str) -> dict[str, int]:
        if key not in ("topic", "country", "day"):
            raise ValueError(f"counts() takes 'topic', 'country' or 'day' (got {key!r})")
        out: dict[str, int] = {}
        for story in self._collection:
            # (stories, not mentions: a topic a story names twice counts once, as in SQL)
            values = (dict.fromkeys(story.topics) if key == "topic"
                      else dict.fromkeys(story.countries) if key == "country"
                      else (day_of(story),))
            for value in values:
                out[value] = out.get(value, 0) + 1
        return dict(sorted(out.items(), key=lambda item: (-item[1], item[0].casefold())))

    def collection(self, *, offset: int = 0, limit: int | None = None,
                   **criteria: Any) -> Collection:
        check_window(offset, limit)
        end = None if limit is None else offset + limit
        if not any(v is not None for v in criteria.values()):
            if offset == 0 and end is None:
                return self._collection
            return self._collection.replace(self._collection.stories[offset:end])
        return self._collection.replace(self._matches(**criteria)[offset:end])

    def stream(self, **criteria: Any) -> Iterator[Story]:
        return iter(self.collection(**criteria).stories)

    def version(self) -> str:
        if self._version is None:  # (made when first asked: a site build never asks)
            digest = hashlib.sha256()
            for story in self._collection:
                digest.update(repr(story).encode())
            digest.update(repr(self._meta).encode())
            self._version = digest.hexdigest()[:20]
        return self._version
