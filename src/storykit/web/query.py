"""Query strings, checked: unknown or repeated parameters and bad values are a 400 that says
what was wrong."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request

from storykit.web.http import HTTPError

__all__ = ["FILTERS", "criteria", "number", "params"]

#: The story filters every listing takes, and the store's name for each.
FILTERS = {"topic": "topic", "country": "country", "since": "since", "until": "until",
           "language": "language", "q": "text"}


def params(request: Request, allowed: tuple[str, ...]) -> dict[str, str]:
    """The query parameters, each once and each one of ``allowed``; else 400."""
    out: dict[str, str] = {}
    for key, value in request.query_params.multi_items():
        if key not in allowed:
            takes = ", ".join(allowed) if allowed else "no parameters"
            raise HTTPError(400, f"unknown query parameter {key!r} (this URL takes: {takes})")
        if key in out:
            raise HTTPError(400, f"query parameter {key!r} given more than once")
        out[key] = value
    return out


def criteria(query: dict[str, str]) -> dict[str, Any]:
    """The store's filter arguments from the query, each checked (400 with the reason)."""
    from storykit.collection import matcher

    found = {FILTERS[k]: v for k, v in query.items() if k in FILTERS}
    for key, value in found.items():
        if not value.strip():
            raise HTTPError(400, f"query parameter {_param(key)!r} is empty")
    try:
        matcher(topic=found.get("topic"), country=found.get("country"),
                since=found.get("since"), until=found.get("until"),
                language=found.get("language"), text=found.get("text"))
    except ValueError as e:
        raise HTTPError(400, f"bad query: {e}") from None
    return found


def _param(key: str) -> str:
    return next(k for k, v in FILTERS.items() if v == key)


def number(query: dict[str, str], key: str, default: int, *, low: int = 1,
           high: int | None = None) -> int:
    """An integer parameter between ``low`` and ``high``; else 400."""
    raw = query.get(key)
    if raw is None:
        return default
    if not raw.isascii() or not raw.isdigit() or len(raw) > 9:
        raise HTTPError(400, f"query parameter {key!r} must be a whole number (got {raw!r})")
    value = int(raw)
    if value < low or (high is not None and value > high):
        bound = f"from {low} to {high}" if high is not None else f"{low} or more"
        raise HTTPError(400, f"query parameter {key!r} must be {bound} (got {value})")
    return value
