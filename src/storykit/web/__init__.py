"""The web app behind ``storykit serve``: ``create_app(source, *, watch=False)``.

Needs the ``web`` extra (``pip install 'storykit[web]'``: starlette, uvicorn, watchfiles,
brotli). Mount it in another ASGI app as any Starlette app (see docs/howto/mount.md).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__all__ = ["create_app"]

if TYPE_CHECKING:
    from storykit.web.app import create_app


def __getattr__(name: str) -> Any:
    if name == "create_app":
        from storykit.web.app import create_app

        return create_app
    raise AttributeError(f"module 'storykit.web' has no attribute {name!r}")
