"""The web API reference (``docs/reference/web-api.md``), made from :data:`ROUTES`:
``python -m storykit.web.reference > docs/reference/web-api.md``."""

from __future__ import annotations

import inspect

__all__ = ["markdown"]


def markdown() -> str:
    """Every route of the app, with what it takes and its endpoint's docstring."""
    from storykit.web.app import ROUTES

    lines = [
        "# Web API reference",
        "",
        "<!-- Made by `python -m storykit.web.reference`; a test checks it matches the routes."
        " -->",
        "",
        "Every route answers `GET` and `HEAD`, with `ETag` and `Last-Modified` (a conditional",
        "request gets `304`), gzip or Brotli when accepted, `Cache-Control: no-cache`, a strict",
        "`Content-Security-Policy` and `X-Content-Type-Options: nosniff`. Errors are JSON:",
        '`{"status": 400, "message": "..."}`; an unknown query parameter is a `400`.',
        "",
        "| Path | Query | What it answers |",
        "| --- | --- | --- |",
    ]
    for path, endpoint, takes in ROUTES:
        doc = " ".join((inspect.getdoc(endpoint) or "").split())
        lines.append(f"| `{path}` | {takes or '-'} | {doc.replace('|', '&#124;')} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(markdown(), end="")
