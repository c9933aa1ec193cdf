"""Where the web app reads its content: the :class:`Store` protocol and :class:`MemoryStore`.

``storykit serve`` and :func:`storykit.web.create_app` answer every request through a store:
``MemoryStore`` holds a loaded collection; ``storykit.sqlite.SqliteStore`` (when installed)
answers the same calls from SQL. Any object with these methods will do.
"""

from __future__ import annotations

import hashlib
import threading
import unicodedata
from datetime import date
from typing import Any, Protocol, runtime_checkable

from storykit.collection import Collection
from storykit.model import Story, instant

__all__ = ["MemoryStore", "Store"]


@runtime_checkable
class Store(Protocol):
    """The content behind the web app."""

    def meta(self) -> Collection:
        """The collection's title, description, url, language and contacts, without stories."""
        ...

    def query(self, *, topic: str | None = None, country: str | None = None,
              since: date | str | None = None, until: date | str | None = None,
              language: str | None = None, text: str | None = None, offset: int = 0,
              limit: int | None = None) -> tuple[list[Story], int]:
        """The matching stories, newest first, from ``offset`` (at most ``limit``), and how
        many match in all."""
        ...

    def get(self, id: str) -> Story | None:
        """The story with this id, or None."""
        ...

    def counts(self, key: str) -> dict[str, int]:
        """Stories per ``"topic"`` or ``"country"``."""
        ...

    def collection(self, **criteria: Any) -> Collection:
        """The whole collection, or the stories matching ``criteria`` (as :meth:`query`'s
        filters), in the collection's own order."""
        ...

    def version(self) -> str:
        """A token that changes whenever the content changes (the web app's ETag)."""
        ...


#: How many selections a :class:`MemoryStore` remembers (each a list of its matching stories).
_SELECTIONS = 64


class MemoryStore:
    """A :class:`Store` over a collection held in memory."""

    def __init__(self, collection: Collection) -> None:
        self._collection = collection
        self._meta = collection.replace([])
        self._newest = sorted(collection, key=lambda s: (instant(s.published), s.id),
                              reverse=True)
        #: The stories of each topic (casefolded) and country code, newest first: a query
        #: for one looks at its stories only.
        self._index: dict[str, dict[str, list[Story]]] = {"topic": {}, "country": {}}
        for story in self._newest:
            for key, values in (("topic", {t.casefold() for t in story.topics}),
                                ("country", set(story.countries))):
                for value in values:
                    self._index[key].setdefault(value, []).append(story)
        #: The stories of the last selections asked for (criteria -> matches, newest first),
        #: so that the next page of a selection costs a slice, not a pass over the stories.
        self._selections: dict[tuple[Any, ...], list[Story]] = {}
        self._lock = threading.Lock()
        digest = hashlib.sha256()
        for story in collection:
            digest.update(repr(story).encode())
        digest.update(repr(self._meta).encode())
        self._version = digest.hexdigest()[:20]

    def meta(self) -> Collection:
        return self._meta

    def query(self, *, topic: str | None = None, country: str | None = None,
              since: date | str | None = None, until: date | str | None = None,
              language: str | None = None, text: str | None = None, offset: int = 0,
              limit: int | None = None) -> tuple[list[Story], int]:
        from storykit.collection import matcher

        criteria = (topic, country, since, until, language, text)
        if any(v is not None for v in criteria):
            found = self._selections.get(criteria)
            if found is None:
                match = matcher(topic=topic, country=country, since=since, until=until,
                                language=language, text=text)  # (a bad filter raises here)
                found = [s for s in self._candidates(topic, country) if match(s)]
                with self._lock:  # (the oldest goes: memory stays flat)
                    while len(self._selections) >= _SELECTIONS:
                        self._selections.pop(next(iter(self._selections)))
                    self._selections[criteria] = found
        else:
            found = self._newest
        end = None if limit is None else offset + limit
        return list(found[offset:end]), len(found)

    def _candidates(self, topic: str | None, country: str | None) -> list[Story]:
        """The stories that can match: those of the topic or country asked for (the fewer),
        else all, newest first. The matcher still tests each, so this only narrows."""
        from storykit.collection import country_code

        lists = [self._newest]
        if topic is not None:
            lists.append(self._index["topic"].get(
                unicodedata.normalize("NFC", topic).casefold(), []))
        if country is not None:
            lists.append(self._index["country"].get(country_code(country), []))
        return min(lists, key=len)

    def get(self, id: str) -> Story | None:
        return self._collection.get(id)

    def counts(self, key: str) -> dict[str, int]:
        if key not in ("topic", "country"):
            raise ValueError(f"counts() takes 'topic' or 'country' (got {key!r})")
        out: dict[str, int] = {}
        for story in self._collection:
            for value in (story.topics if key == "topic" else story.countries):
                out[value] = out.get(value, 0) + 1
        return dict(sorted(out.items(), key=lambda item: (-item[1], item[0].casefold())))

    def collection(self, **criteria: Any) -> Collection:
        if not any(v is not None for v in criteria.values()):
            return self._collection
        return self._collection.filter(**criteria)

    def version(self) -> str:
        return self._version
