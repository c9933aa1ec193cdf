"""Email digests: windows, rendering, personalised runs, preflight and SMTP sending.

One module per responsibility, each importable on its own:

- :mod:`~storykit.email.windows` — digest date windows and the stories inside one;
- :mod:`~storykit.email.render` — a digest's HTML and text from templates
  (:class:`DigestRenderer`), with :mod:`~storykit.email.headers` and
  :mod:`~storykit.email.mime` building the message;
- :mod:`~storykit.email.options` — the ``email`` format's options;
- :mod:`~storykit.email.subscribers` and :mod:`~storykit.email.personalised` — subscribers,
  :class:`PersonalisedRun` and the outbox;
- :mod:`~storykit.email.preflight` — :func:`lint`;
- :mod:`~storykit.email.smtp` — :func:`send`, the lock and the record that make a rerun resume.

The names below are re-exported here and imported on first use.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from storykit.email.headers import balance_bidi, header_text, parse_addresses
    from storykit.email.options import EmailOptions, unsubscribe_token
    from storykit.email.personalised import (
        Message,
        PersonalisedRun,
        iter_outbox,
        outbox_name,
        write_outbox,
    )
    from storykit.email.preflight import GMAIL_CLIP_BYTES, Finding, lint
    from storykit.email.render import DigestRenderer, EmailTemplateError
    from storykit.email.smtp import (
        SEND_LOCK,
        SENT_RECORD,
        OutboxBusyError,
        Result,
        SendError,
        SendReport,
        send,
    )
    from storykit.email.subscribers import (
        Subscriber,
        iter_subscribers,
        load_subscribers,
        parse_subscribers,
    )
    from storykit.email.windows import Window, select, window

__all__ = [
    "GMAIL_CLIP_BYTES",
    "SEND_LOCK",
    "SENT_RECORD",
    "DigestRenderer",
    "EmailOptions",
    "EmailTemplateError",
    "Finding",
    "Message",
    "OutboxBusyError",
    "PersonalisedRun",
    "Result",
    "SendError",
    "SendReport",
    "Subscriber",
    "Window",
    "balance_bidi",
    "header_text",
    "iter_outbox",
    "iter_subscribers",
    "lint",
    "load_subscribers",
    "outbox_name",
    "parse_addresses",
    "parse_subscribers",
    "select",
    "send",
    "unsubscribe_token",
    "window",
    "write_outbox",
]

_WHERE = {
    "balance_bidi": "headers", "header_text": "headers", "parse_addresses": "headers",
    "EmailOptions": "options", "unsubscribe_token": "options",
    "iter_outbox": "personalised", "Message": "personalised", "PersonalisedRun": "personalised",
    "outbox_name": "personalised", "write_outbox": "personalised",
    "GMAIL_CLIP_BYTES": "preflight", "Finding": "preflight", "lint": "preflight",
    "DigestRenderer": "render", "EmailTemplateError": "render",
    "SEND_LOCK": "smtp", "SENT_RECORD": "smtp", "OutboxBusyError": "smtp", "Result": "smtp",
    "SendError": "smtp", "SendReport": "smtp", "send": "smtp",
    "Subscriber": "subscribers", "iter_subscribers": "subscribers",
    "load_subscribers": "subscribers", "parse_subscribers": "subscribers",
    "Window": "windows", "select": "windows", "window": "windows",
}


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'storykit.email' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"storykit.email.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
