"""Digests: time windows, subscribers and personalised runs (the documented import path).

The code lives in :mod:`storykit.email`; this module keeps ``from storykit.digest import
window, select, PersonalisedRun, ...`` working, as the tutorial and how-tos write it.
"""

from __future__ import annotations

from storykit.email.personalised import (
    Message,
    PersonalisedRun,
    iter_outbox,
    outbox_name,
    write_outbox,
)
from storykit.email.subscribers import (
    SUBSCRIBER_COLUMNS,
    Subscriber,
    iter_subscribers,
    load_subscribers,
    parse_subscribers,
)
from storykit.email.windows import Window, select, window

__all__ = [
    "SUBSCRIBER_COLUMNS",
    "Message",
    "PersonalisedRun",
    "Subscriber",
    "Window",
    "iter_outbox",
    "iter_subscribers",
    "load_subscribers",
    "outbox_name",
    "parse_subscribers",
    "select",
    "window",
    "write_outbox",
]
