"""HTTP done once for every route: validators (ETag, Last-Modified, 304), HEAD, gzip and
Brotli, caching and security headers, cached answers, and errors as JSON.

Each representation (:class:`Body`) is compressed once, when a client first accepts gzip or
``br`` (``br`` needs the ``brotli`` package), and its headers are made once: a repeated
request is a cache look-up and a validator compare. A representation of any size
(:class:`Stream`) is written while it is sent, compressed as it goes, in flat memory; its
validators come from the content's version and the URL, so a conditional request for it is
answered without writing it.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import functools
import gzip
import hashlib
import importlib
import re
import threading
import zlib
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import datetime
from email.utils import format_datetime, parsedate_to_datetime
from typing import Any, BinaryIO, cast

from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

__all__ = ["Body", "HTTPError", "Stream", "answer", "csp_for", "error_response", "send"]

#: Media types worth compressing.
_COMPRESSIBLE = re.compile(r"^(text/|application/(json|xml|atom\+xml|rss\+xml|feed\+json|"
                           r"ld\+json|javascript|vnd\.|x-ndjson)|image/svg)")
#: Bodies smaller than this go out as they are (as Starlette's GZipMiddleware would).
MIN_COMPRESS = 500
#: The headers a 304 carries: those a cache updates its stored response from.
_NOT_MODIFIED = frozenset({"ETag", "Last-Modified", "Cache-Control", "Vary"})
_STYLE = re.compile(rb"<style>(.*?)</style>", re.DOTALL)

#: The policy of every response; ``{style}`` is the hashes of the page's own ``<style>``.
CSP = ("default-src 'none'; img-src 'self' https: data:; style-src 'self'{style}; "
       "script-src 'self'; connect-src 'self'; base-uri 'none'; form-action 'none'; "
       "frame-ancestors {frames}")


def _brotli() -> Any:
    try:
        return importlib.import_module("brotli")
    except ImportError:
        return None


class HTTPError(Exception):
    """An error the client caused or asked about: answered as JSON with its status."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def csp_for(body: bytes, media_type: str, *, inline_styles: bool = False,
            framed: bool = False) -> str:
    """The Content-Security-Policy for ``body``: an HTML page's own ``<style>`` elements are
    allowed by their hashes; an email's ``style=""`` attributes need ``inline_styles``."""
    style = ""
    if inline_styles:
        style = " 'unsafe-inline'"
    elif media_type.startswith("text/html"):
        hashes = [base64.b64encode(hashlib.sha256(m.group(1)).digest()).decode()
                  for m in _STYLE.finditer(body)]
        style = "".join(f" 'sha256-{h}'" for h in hashes)
    return CSP.format(style=style, frames="'self'" if framed else "'none'")


class _Representation:
    """What every answer has: its validators, media type and headers."""

    def __init__(self, etag: str, media_type: str, modified: datetime, *, csp: str,
                 cache: str, extra: dict[str, str] | None) -> None:
        self.etag = etag
        self.media_type = media_type
        self.modified = modified.replace(microsecond=0)
        self.last_modified = format_datetime(self.modified, usegmt=True)
        self.csp = csp
        self.cache = cache
        self.extra = extra or {}
        self.compressible = bool(_COMPRESSIBLE.match(media_type))
        self._raw: dict[tuple[int, str], list[tuple[bytes, bytes]]] = {}

    def headers(self) -> dict[str, str]:
        return {
            "ETag": self.etag,
            "Last-Modified": self.last_modified,
            "Cache-Control": self.cache,
            "Content-Security-Policy": self.csp,
            "X-Content-Type-Options": "nosniff",
            "Referrer-Policy": "no-referrer",
            "Vary": "Accept-Encoding",
            **self.extra,
        }

    def can(self, coding: str) -> bool:
        """Whether the body can be sent in ``coding`` (``br`` needs the brotli package)."""
        return coding != "br" or _brotli() is not None

    def length(self, coding: str) -> int | None:
        """The length of the body in ``coding``, or None when it is not known beforehand."""
        return None

    def raw_headers(self, status: int, coding: str) -> list[tuple[bytes, bytes]]:
        """The response's headers as ASGI wants them, made once per status and coding (a
        fresh list each time: middleware may add to it)."""
        raw = self._raw.get((status, coding))
        if raw is None:
            headers = self.headers()
            if status == 304:  # (only what a cache updates from, as RFC 9110 15.4.5 asks)
                headers = {k: v for k, v in headers.items() if k in _NOT_MODIFIED}
            else:
                headers["Content-Type"] = self.media_type
                length = self.length(coding)
                if length is not None:
                    headers["Content-Length"] = str(length)
                if coding != "identity":
                    headers["Content-Encoding"] = coding
            raw = self._raw[(status, coding)] = [
                (k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers.items()]
        return list(raw)


class Body(_Representation):
    """One representation, made once: its bytes, validators, compressed forms and headers."""

    def __init__(self, data: bytes, media_type: str, modified: datetime, *,
                 csp: str | None = None, cache: str = "no-cache",
                 extra: dict[str, str] | None = None, quick: bool = False) -> None:
        super().__init__('"' + hashlib.blake2b(data, digest_size=12).hexdigest() + '"',
                         media_type, modified,
                         csp=csp if csp is not None else csp_for(data, media_type),
                         cache=cache, extra=extra)
        self.data = data
        #: Compress with the least effort (Brotli quality 1, gzip level 1): an answer to one
        #: of countless queries is likely asked for once, and compressing it well would cost
        #: more than making it (some 5x).
        self.quick = quick
        self.compressible = self.compressible and len(data) >= MIN_COMPRESS
        self._encoded: dict[str, bytes | None] = {"identity": data}

    def brotli(self) -> bytes | None:
        """The body compressed with Brotli (once), or None without the brotli package."""
        return self.encoded("br")

    def encoded(self, coding: str) -> bytes | None:
        """The body in ``coding`` (``identity``, ``gzip`` or ``br``), compressed once; None
        when it cannot be (``br`` without the brotli package)."""
        if coding not in self._encoded:
            if coding == "gzip":
                self._encoded[coding] = gzip.compress(self.data, mtime=0,
                                                      compresslevel=1 if self.quick else 6)
            else:
                module = _brotli()
                self._encoded[coding] = (None if module is None
                                         else module.compress(self.data,
                                                              quality=1 if self.quick else 5))
        return self._encoded[coding]

    def can(self, coding: str) -> bool:
        return self.encoded(coding) is not None

    def length(self, coding: str) -> int | None:
        data = self._encoded[coding]
        assert data is not None
        return len(data)


#: What a :class:`Stream` writes its body with: a binary file to write to.
Writer = Callable[[BinaryIO], object]


class Stream(_Representation):
    """A representation written while it is sent (a selection of any size), in flat memory.

    ``start()`` is called for each GET that is answered with a body, before anything is sent:
    it checks what it will write (raising :class:`HTTPError`, a clean error, not a cut-off
    body) and returns the function that writes the body to a binary file. That function runs
    in a thread of its own; its output is sent in pieces of :data:`PIECE` bytes, at most
    :data:`AHEAD` of them ahead of the client, compressed as they go when the client accepts
    ``br`` or gzip. The validators come from ``tag`` (the content's version and the URL), not
    from the bytes: a conditional request or a HEAD is answered without writing anything.
    """

    def __init__(self, start: Callable[[], Writer], tag: str, media_type: str,
                 modified: datetime, *, cache: str = "no-cache",
                 extra: dict[str, str] | None = None) -> None:
        super().__init__('"' + hashlib.blake2b(tag.encode(), digest_size=12).hexdigest() + '"',
                         media_type, modified, csp=csp_for(b"", media_type), cache=cache,
                         extra=extra)
        self.start = start


#: Bytes a :class:`Stream` gathers before it sends them (fewer, bigger writes).
PIECE = 64 * 1024
#: Pieces a :class:`Stream`'s writer may be ahead of the client; then it waits, so that a
#: slow client does not make the server hold the body.
AHEAD = 4
#: :class:`Stream` bodies written at once; more wait their turn (each holds a page of stories,
#: a database connection's cache and a compressor), so that memory stays flat however many
#: clients ask at once. Two cores are kept busy by fewer.
WRITERS = 4
_writers = threading.BoundedSemaphore(WRITERS)


class _StoppedError(Exception):
    """The client went away: the writer stops."""


class _Pieces:
    """The binary file a :class:`Stream`'s writer writes to (in its own thread): what is
    written is gathered into pieces, compressed in ``coding``, and handed to ``put``."""

    def __init__(self, coding: str, put: Callable[[bytes], None]) -> None:
        self._put = put
        self._parts: list[bytes] = []
        self._size = 0
        self._compress: Callable[[bytes], bytes] | None = None
        self._finish: Callable[[], bytes] | None = None
        if coding == "gzip":  # (a gzip member, level 1: a big body costs little more to send)
            gz = zlib.compressobj(1, zlib.DEFLATED, 31)
            self._compress, self._finish = gz.compress, gz.flush
        elif coding == "br":
            br = _brotli().Compressor(quality=1)
            self._compress, self._finish = br.process, br.finish

    def writable(self) -> bool:
        return True

    def flush(self) -> None:
        pass

    def write(self, data: bytes | bytearray | memoryview) -> int:
        piece = bytes(data)  # (a copy of a view: the writer may reuse its buffer)
        self._parts.append(piece)
        self._size += len(piece)
        if self._size >= PIECE:
            self._send(b"".join(self._parts))
        return len(piece)

    def _send(self, data: bytes) -> None:
        self._parts.clear()
        self._size = 0
        if self._compress is not None:
            data = self._compress(data)
        if data:
            self._put(data)

    def close(self) -> None:
        """Send what is left, and the end of the compressed stream."""
        self._send(b"".join(self._parts))
        if self._finish is not None:
            self._put(self._finish())


_END = object()


async def _streamed(write: Writer, coding: str) -> AsyncIterator[bytes]:
    """The body ``write`` writes, run in a thread of its own: each piece as it is made. An
    error after the first byte ends the response short (the client sees a cut-off body)."""
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[Any] = asyncio.Queue()
    room = threading.Semaphore(AHEAD)
    stop = threading.Event()

    def put(item: Any) -> None:
        while not room.acquire(timeout=1):
            if stop.is_set():
                raise _StoppedError
        if stop.is_set():
            raise _StoppedError
        loop.call_soon_threadsafe(queue.put_nowait, item)

    def run() -> None:
        try:
            while not _writers.acquire(timeout=1):  # (its turn, unless the client has gone)
                if stop.is_set():
                    return
            try:
                out = _Pieces(coding, put)
                write(cast(BinaryIO, out))
                out.close()
            finally:
                _writers.release()
            put(_END)
        except _StoppedError:
            pass
        except BaseException as e:  # (sent to the response, which ends short with it)
            if not stop.is_set():
                with contextlib.suppress(RuntimeError):  # (the loop is closed: nobody waits)
                    loop.call_soon_threadsafe(queue.put_nowait, e)

    threading.Thread(target=run, name="storykit-stream", daemon=True).start()
    try:
        while True:
            item = await queue.get()
            room.release()
            if item is _END:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        room.release()


class _Prepared(Response):
    """A response whose status, headers and bytes are all made already (by :class:`Body`)."""

    def __init__(self, status: int, raw_headers: list[tuple[bytes, bytes]],
                 data: bytes) -> None:
        # (Response.__init__ would build the same headers again, per request)
        self.status_code = status
        self.raw_headers = raw_headers
        self.body = data
        self.background = None


def _not_modified(request: Request, body: _Representation) -> bool:
    headers = request.headers
    match = headers.get("if-none-match")
    if match is not None:
        if match == body.etag:
            return True
        tags = {t.strip().removeprefix("W/") for t in match.split(",")}
        return "*" in tags or body.etag in tags
    since = headers.get("if-modified-since")
    if since is not None:
        try:
            when = parsedate_to_datetime(since)
        except (TypeError, ValueError):
            return False
        return when.tzinfo is not None and body.modified <= when
    return False


@functools.lru_cache(maxsize=256)
def _codings(accept_encoding: str) -> tuple[str, ...]:
    """The codings of an ``Accept-Encoding`` header that storykit sends, best first (``br``,
    ``gzip``); those with ``q=0`` are refused."""
    accepted = set()
    for item in accept_encoding.split(","):
        name, _, params = item.strip().partition(";")
        if params.replace(" ", "") not in ("q=0", "q=0.0", "q=0.00", "q=0.000"):
            accepted.add(name.strip().lower())
    return tuple(c for c in ("br", "gzip") if c in accepted)


def send(request: Request, body: Body | Stream, status: int = 200) -> Response:
    """``body`` as the answer to ``request``: 304 when the client has it, no body for HEAD,
    Brotli or gzip when accepted. Each is made once per body: a repeated request only
    compares its validators. A :class:`Stream` is written as it is sent."""
    if status == 200 and _not_modified(request, body):
        return _Prepared(304, body.raw_headers(304, "identity"), b"")
    coding = "identity"
    if body.compressible:
        for candidate in _codings(request.headers.get("accept-encoding", "")):
            if body.can(candidate):
                coding = candidate
                break
    raw = body.raw_headers(status, coding)
    if isinstance(body, Stream):
        if request.method == "HEAD":
            return _Prepared(status, raw, b"")
        write = body.start()  # (its errors are answered before the first byte)
        response = StreamingResponse(_streamed(write, coding), status_code=status)
        response.raw_headers = raw
        return response
    data = body.encoded(coding)
    assert data is not None
    return _Prepared(status, raw, b"" if request.method == "HEAD" else data)


Make = Callable[[Request], Body | Stream]


def answer(make: Make) -> Callable[[Request], Awaitable[Response]]:
    """An endpoint that answers from the app's cache when it can: the answer to a URL (path,
    query string, root path) is made by ``make`` once per content version, so a repeated
    request costs a dictionary look-up and a validator compare, and its query is checked only
    the first time (``make`` raises :class:`HTTPError` for a bad one: errors are not kept)."""

    async def endpoint(request: Request) -> Response:
        scope = request.scope
        key = (scope["path"], scope["query_string"], scope.get("root_path", ""))
        body: Body | Stream = request.app.state.content.cached(key, lambda: make(request))
        return send(request, body)

    endpoint.__name__ = make.__name__
    endpoint.__qualname__ = make.__qualname__
    endpoint.__doc__ = make.__doc__
    return endpoint


def error_response(status: int, message: str) -> Response:
    """``{"status": 404, "message": "..."}`` with the usual security headers."""
    import json

    data = json.dumps({"status": status, "message": message}, ensure_ascii=False).encode()
    return Response(data, status_code=status, media_type="application/json", headers={
        "Cache-Control": "no-store",
        "Content-Security-Policy": CSP.format(style="", frames="'none'"),
        "X-Content-Type-Options": "nosniff",
    })
