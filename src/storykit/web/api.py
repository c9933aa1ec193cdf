"""The JSON content API: ``/api/stories``, ``/api/stories/{id}``, ``/api/topics``,
``/api/countries``, ``/api/contacts``."""

from __future__ import annotations

import json
import math
from typing import Any
from urllib.parse import urlencode

from starlette.requests import Request

from storykit.convert import to_json
from storykit.web.content import Content
from storykit.web.http import Body, HTTPError, answer
from storykit.web.query import FILTERS, criteria, number, params

__all__ = ["contacts", "countries", "stories", "story", "topics"]

#: The most stories one page of ``/api/stories`` holds.
MAX_PER_PAGE = 100
JSON = "application/json"


def _json(content: Content, data: Any, extra: dict[str, str] | None = None) -> Body:
    raw = json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode()
    return Body(raw, JSON, content.changed_at, extra=extra)


@answer
def stories(request: Request) -> Body:
    """The stories matching the filters, newest first, a page at a time; ``Link`` header
    (first, prev, next, last) and ``X-Total-Count``."""
    query = params(request, (*FILTERS, "page", "per_page"))
    found = criteria(query)
    page = number(query, "page", 1)
    per_page = number(query, "per_page", 20, high=MAX_PER_PAGE)
    content: Content = request.app.state.content
    items, total = content.store.query(**found, offset=(page - 1) * per_page, limit=per_page)
    pages = max(1, math.ceil(total / per_page))
    if page > pages:
        raise HTTPError(400, f"page {page} is past the last page ({pages}) of {total} "
                               f"{'story' if total == 1 else 'stories'}")
    # (each parameter quoted once, for the four links: as urlencode({**query, "page": n,
    # "per_page": per_page}) gives them)
    pairs = {k: urlencode({k: v}) for k, v in {**query, "page": 0, "per_page": per_page}.items()
             if k != "page"}
    links = []
    for rel, n in (("first", 1), ("prev", page - 1), ("next", page + 1), ("last", pages)):
        if 1 <= n <= pages and (rel in ("first", "last") or n != page):
            target = "&".join(f"page={n}" if k == "page" else pairs[k]
                              for k in {**query, "page": n, "per_page": per_page})
            links.append(f'<{request.url.path}?{target}>; rel="{rel}"')
    # (the stories as the json format encodes them, straight into the page's JSON)
    raw = to_json({"total": total, "page": page, "per_page": per_page, "pages": pages,
                   "stories": items})
    return Body(raw, JSON, content.changed_at, quick=True,
                extra={"Link": ", ".join(links), "X-Total-Count": str(total)})


@answer
def story(request: Request) -> Body:
    """One story by id; 404 when there is none."""
    from storykit.convert import story_to_data

    params(request, ())
    story_id = request.path_params["id"]
    content: Content = request.app.state.content
    found = content.store.get(story_id)
    if found is None:
        raise HTTPError(404, f"no story with id {story_id!r}")
    return _json(content, story_to_data(found))


def _counts(request: Request, key: str) -> Body:
    params(request, ())
    content: Content = request.app.state.content
    counts = content.store.counts(key)
    return _json(content, [{key: value, "count": n,
                            "stories": f"/api/stories?{urlencode({key: value})}"}
                           for value, n in counts.items()])


@answer
def topics(request: Request) -> Body:
    """Every topic with its number of stories, most first."""
    return _counts(request, "topic")


@answer
def countries(request: Request) -> Body:
    """Every country (ISO 3166-1 code) with its number of stories, most first."""
    return _counts(request, "country")


@answer
def contacts(request: Request) -> Body:
    """The collection's media contacts."""
    from storykit.convert import contact_to_data

    params(request, ())
    content: Content = request.app.state.content
    return _json(content, [contact_to_data(c) for c in content.store.meta().contacts])
