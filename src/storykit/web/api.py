"""The JSON content API: ``/api/stories``, ``/api/stories/{id}``, ``/api/topics``,
``/api/countries``, ``/api/contacts``."""

from __future__ import annotations

import json
import math
from typing import Any
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import Response

from storykit.web.content import Content
from storykit.web.http import Body, HTTPError, send
from storykit.web.query import FILTERS, criteria, number, params

__all__ = ["contacts", "countries", "stories", "story", "topics"]

#: The most stories one page of ``/api/stories`` holds.
MAX_PER_PAGE = 100
JSON = "application/json"


def _json(content: Content, data: Any, extra: dict[str, str] | None = None) -> Body:
    raw = json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode()
    return Body(raw, JSON, content.changed_at, extra=extra)


def _answer(request: Request, make: Any) -> Response:
    content: Content = request.app.state.content
    key = ("api", request.url.path, str(request.query_params))
    body: Body = content.cached(key, lambda: make(content))
    return send(request, body)


async def stories(request: Request) -> Response:
    """The stories matching the filters, newest first, a page at a time; ``Link`` header
    (first, prev, next, last) and ``X-Total-Count``."""
    query = params(request, (*FILTERS, "page", "per_page"))
    found = criteria(query)
    page = number(query, "page", 1)
    per_page = number(query, "per_page", 20, high=MAX_PER_PAGE)

    def make(content: Content) -> Body:
        from storykit.convert import story_to_data

        items, total = content.store.query(**found, offset=(page - 1) * per_page,
                                           limit=per_page)
        pages = max(1, math.ceil(total / per_page))
        if page > pages:
            raise HTTPError(400, f"page {page} is past the last page ({pages}) of {total} "
                                   f"{'story' if total == 1 else 'stories'}")
        links = []
        for rel, n in (("first", 1), ("prev", page - 1), ("next", page + 1), ("last", pages)):
            if 1 <= n <= pages and (rel in ("first", "last") or n != page):
                target = urlencode({**query, "page": n, "per_page": per_page})
                links.append(f'<{request.url.path}?{target}>; rel="{rel}"')
        return _json(content, {"total": total, "page": page, "per_page": per_page,
                               "pages": pages, "stories": [story_to_data(s) for s in items]},
                     {"Link": ", ".join(links), "X-Total-Count": str(total)})

    return _answer(request, make)


async def story(request: Request) -> Response:
    """One story by id; 404 when there is none."""
    params(request, ())
    story_id = request.path_params["id"]

    def make(content: Content) -> Body:
        from storykit.convert import story_to_data

        found = content.store.get(story_id)
        if found is None:
            raise HTTPError(404, f"no story with id {story_id!r}")
        return _json(content, story_to_data(found))

    return _answer(request, make)


def _counts(request: Request, key: str) -> Response:
    params(request, ())

    def make(content: Content) -> Body:
        counts = content.store.counts(key)
        return _json(content, [{key: value, "count": n,
                                "stories": f"/api/stories?{urlencode({key: value})}"}
                               for value, n in counts.items()])

    return _answer(request, make)


async def topics(request: Request) -> Response:
    """Every topic with its number of stories, most first."""
    return _counts(request, "topic")


async def countries(request: Request) -> Response:
    """Every country (ISO 3166-1 code) with its number of stories, most first."""
    return _counts(request, "country")


async def contacts(request: Request) -> Response:
    """The collection's media contacts."""
    params(request, ())

    def make(content: Content) -> Body:
        from storykit.convert import contact_to_data

        return _json(content, [contact_to_data(c) for c in content.store.meta().contacts])

    return _answer(request, make)
