"""The ASGI application behind ``storykit serve``: :func:`create_app`.

Every route answers from memory (the store, the rendered site, cached per content version);
no part of a URL is ever used as a file name. Routes and what they take are listed by
:data:`ROUTES` (``docs/reference/web-api.md`` is generated from it).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from storykit.store import Store
from storykit.web import api, pages
from storykit.web.content import Content, open_store
from storykit.web.http import HTTPError, error_response

__all__ = ["ROUTES", "create_app"]


async def events(request: Request) -> Response:
    """Server-sent events for ``--watch``: ``data: reload`` when the source changed."""
    content: Content = request.app.state.content
    queue = content.listen()

    async def stream() -> AsyncIterator[bytes]:
        try:
            yield b"retry: 500\n: connected\n\n"
            while True:
                try:
                    event = await asyncio.wait_for(queue.get(), 15)
                except TimeoutError:
                    yield b": keep-alive\n\n"
                    continue
                if event == "close":
                    return
                yield f"data: {event}\n\n".encode()
        finally:
            content.unlisten(queue)

    return StreamingResponse(stream(), media_type="text/event-stream",
                             headers={"Cache-Control": "no-store",
                                      "X-Content-Type-Options": "nosniff"})


#: Every route: (path, endpoint, what it takes). The API reference is generated from this.
ROUTES: list[tuple[str, Any, str]] = [
    ("/api/stories", api.stories,
     "topic, country, since, until, language, q; page (from 1), per_page (1-100, default 20)"),
    ("/api/stories/{id}", api.story, ""),
    ("/api/topics", api.topics, ""),
    ("/api/countries", api.countries, ""),
    ("/api/contacts", api.contacts, ""),
    ("/stories.{format}", pages.stories_as,
     "topic, country, since, until, language, q; page (from 1), "
     f"per_page (1-{pages.MAX_WHOLE})"),
    ("/digest", pages.digest, "since, until (ISO dates; default the newest story's week)"),
    ("/digest.html", pages.digest_html, "since, until"),
    ("/digest.eml", pages.digest_eml, "since, until"),
    ("/_storykit/events", events, ""),
    ("/_storykit/live.js", pages.live_js, ""),
    ("/_storykit/live.css", pages.live_css, ""),
    ("/{path:path}", pages.site, ""),
]


async def _problem(request: Request, exc: Exception) -> Response:
    if isinstance(exc, HTTPError):
        return error_response(exc.status, exc.message)
    if isinstance(exc, HTTPException):
        return error_response(exc.status_code, str(exc.detail))
    return error_response(500, "internal error")


class _Errors:
    """The outermost layer: anything unexpected is a JSON 500, never a traceback."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = False

        async def tracked(message: Any) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, tracked)
        except Exception:
            if scope["type"] != "http" or started:
                raise
            await error_response(500, "internal error")(scope, receive, send)


def create_app(source: str | os.PathLike[str] | Store, *, watch: bool = False,
               cors_origins: tuple[str, ...] = ("*",)) -> Starlette:
    """The storykit web app for ``source``: a file (loaded now; a ``.db`` answers from
    ``storykit.sqlite.SqliteStore`` when installed) or a :class:`~storykit.store.Store`.

    With ``watch=True`` (a file source only) saving the file reloads it, open pages reload
    themselves, and a broken edit keeps the last valid content served with its errors in a
    banner. ``cors_origins`` are the origins allowed to read ``/api`` from a browser.
    Raises :class:`~storykit.ValidationError` when the source is invalid.
    """
    path: Path | None = None
    if isinstance(source, (str, os.PathLike)):
        path = Path(source)
        store = open_store(path)
    else:
        store = source
        if watch:
            raise ValueError("watch=True needs a file to watch (got a store)")
    content = Content(store, path)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        stop = asyncio.Event()
        task = asyncio.create_task(content.watch(stop)) if watch else None
        try:
            yield
        finally:
            stop.set()
            content.notify("close")
            if task is not None:
                await task

    app = Starlette(
        routes=[Route(p, endpoint, methods=["GET", "HEAD"]) for p, endpoint, _ in ROUTES],
        middleware=[
            Middleware(_Errors),
            Middleware(_ApiCORS, allow_origins=list(cors_origins)),
            # (no GZipMiddleware: storykit.web.http.send compresses each body once, not per
            # request)
        ],
        exception_handlers={HTTPException: _problem, HTTPError: _problem,
                            Exception: _problem},
        lifespan=lifespan,
    )
    app.state.content = content
    app.state.watch = watch
    return app


class _ApiCORS:
    """Starlette's CORSMiddleware, for ``/api`` only: the pages need no other origin."""

    def __init__(self, app: ASGIApp, allow_origins: list[str]) -> None:
        self.app = app
        self.cors = CORSMiddleware(app, allow_origins=allow_origins,
                                   allow_methods=["GET", "HEAD"],
                                   expose_headers=["Link", "ETag", "X-Total-Count"])

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and (scope["path"] + "/").startswith("/api/"):
            await self.cors(scope, receive, send)
        else:
            await self.app(scope, receive, send)
