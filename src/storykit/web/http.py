"""HTTP done once for every route: validators (ETag, Last-Modified, 304), HEAD, Brotli,
caching and security headers, and errors as JSON.

Gzip is Starlette's ``GZipMiddleware`` (see :mod:`storykit.web.app`); Brotli is done here,
once per body, when the client accepts it and the ``brotli`` package is installed.
"""

from __future__ import annotations

import base64
import hashlib
import importlib
import re
from datetime import datetime
from email.utils import format_datetime, parsedate_to_datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

__all__ = ["Body", "HTTPError", "csp_for", "error_response", "send"]

#: Media types worth compressing.
_COMPRESSIBLE = re.compile(r"^(text/|application/(json|xml|atom\+xml|rss\+xml|feed\+json|"
                           r"ld\+json|javascript|vnd\.|x-ndjson)|image/svg)")
#: Bodies smaller than this go out as they are (as GZipMiddleware's default minimum).
MIN_COMPRESS = 500
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


class Body:
    """One representation, made once: its bytes, validators and compressed forms."""

    def __init__(self, data: bytes, media_type: str, modified: datetime, *,
                 csp: str | None = None, cache: str = "no-cache",
                 extra: dict[str, str] | None = None) -> None:
        self.data = data
        self.media_type = media_type
        self.etag = '"' + hashlib.blake2b(data, digest_size=12).hexdigest() + '"'
        self.modified = modified.replace(microsecond=0)
        self.last_modified = format_datetime(self.modified, usegmt=True)
        self.csp = csp if csp is not None else csp_for(data, media_type)
        self.cache = cache
        self.extra = extra or {}
        self._br: bytes | None = None

    def brotli(self) -> bytes | None:
        """The body compressed with Brotli (once), or None without the brotli package."""
        if self._br is None:
            module = _brotli()
            if module is None:
                return None
            self._br = module.compress(self.data, quality=5)
        return self._br

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


def _not_modified(request: Request, body: Body) -> bool:
    match = request.headers.get("if-none-match")
    if match is not None:
        tags = {t.strip().removeprefix("W/") for t in match.split(",")}
        return "*" in tags or body.etag in tags
    since = request.headers.get("if-modified-since")
    if since is not None:
        try:
            when = parsedate_to_datetime(since)
        except (TypeError, ValueError):
            return False
        return when.tzinfo is not None and body.modified <= when
    return False


def _accepts_br(request: Request) -> bool:
    for item in request.headers.get("accept-encoding", "").split(","):
        name, _, params = item.strip().partition(";")
        if name.strip().lower() == "br":
            return params.replace(" ", "") not in ("q=0", "q=0.0", "q=0.00", "q=0.000")
    return False


def send(request: Request, body: Body, status: int = 200) -> Response:
    """``body`` as the answer to ``request``: 304 when the client has it, no body for HEAD,
    Brotli when accepted."""
    headers = body.headers()
    if status == 200 and _not_modified(request, body):
        return Response(status_code=304, headers=headers)
    data = body.data
    if (len(data) >= MIN_COMPRESS and _COMPRESSIBLE.match(body.media_type)
            and _accepts_br(request)):
        compressed = body.brotli()
        if compressed is not None:
            data = compressed
            headers["Content-Encoding"] = "br"
    if request.method == "HEAD":
        headers["Content-Length"] = str(len(data))
        return Response(status_code=status, headers=headers, media_type=body.media_type)
    return Response(data, status_code=status, headers=headers, media_type=body.media_type)


def error_response(status: int, message: str) -> Response:
    """``{"status": 404, "message": "..."}`` with the usual security headers."""
    import json

    data = json.dumps({"status": status, "message": message}, ensure_ascii=False).encode()
    return Response(data, status_code=status, media_type="application/json", headers={
        "Cache-Control": "no-store",
        "Content-Security-Policy": CSP.format(style="", frames="'none'"),
        "X-Content-Type-Options": "nosniff",
    })
