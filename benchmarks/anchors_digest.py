"""The digest anchor: personalised emails the straightforward way, one full pipeline per reader.

For each subscriber: render the HTML and text templates with jinja2 (storykit's own digest
templates, so the content is the same), inline the CSS with css_inline, build an
``email.message.EmailMessage`` with both parts, and ``as_bytes()`` it. storykit's
:class:`~storykit.digest.PersonalisedRun` does the work that is the same for every reader once.
"""

from __future__ import annotations

from dataclasses import dataclass
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from typing import Any

import data

import storykit

STORIES = 20
NAMES = ["Ana", "Zoë Ångström", "Nguyễn Thị Hà", "Łukasz", "O'Brien, Pat", None]


@dataclass
class Setup:
    collection: Any
    subscribers: list[Any]

    @classmethod
    def make(cls, n: int) -> Setup:
        from storykit.digest import Subscriber

        col = storykit.loads(data.orjson.dumps(data.document(STORIES)))
        subs = [Subscriber(f"reader{i}@example.org", NAMES[i % len(NAMES)]) for i in range(n)]
        setup = cls(col, subs)
        for message in (setup.storykit_messages(subs[:3]) + setup.naive_messages(subs[:3])):
            _check(message)
        return setup

    def storykit_messages(self, subscribers: list[Any]) -> list[bytes]:
        from storykit.digest import PersonalisedRun

        return [m.data for m in PersonalisedRun(self.collection, subscribers)]

    def naive_messages(self, subscribers: list[Any]) -> list[bytes]:
        from email.headerregistry import Address
        from email.utils import format_datetime, make_msgid

        import css_inline

        from storykit.templating import environment, render

        col = self.collection
        env = environment()
        when = max(s.published for s in col.stories)
        out = []
        for sub in subscribers:
            ctx: dict[str, Any] = {
                "title": col.title, "description": col.description, "url": col.url, "web_url": None,
                "contacts": col.contacts, "stories": col.stories, "subject": col.title,
                "window_text": "", "preheader": col.description or "", "unsubscribe": False,
                "lang": "en", "dir": "ltr", "wrap": lambda s: s,
            }
            greeting = f"Hello {sub.name}," if sub.name else "Hello,"
            html = render(env, "email.html", "en", **ctx).replace("<!--sk:greeting-->",
                                                                   greeting)
            html = css_inline.inline(html)
            text = render(env, "email.txt", "en", RS="", **ctx).replace("sk:greeting", greeting)
            msg = EmailMessage()
            msg["From"] = Address("Newsroom", "newsroom", "example.org")
            local, _, domain = sub.email.partition("@")
            msg["To"] = Address(sub.name or "", local, domain)
            msg["Subject"] = col.title
            msg["Date"] = format_datetime(_aware(when))
            msg["Message-ID"] = make_msgid(domain="example.org")
            msg.set_content(text)
            msg.add_alternative(html, subtype="html")
            out.append(msg.as_bytes())
        return out

    def storykit(self) -> list[bytes]:
        return self.storykit_messages(self.subscribers)

    def naive(self) -> list[bytes]:
        return self.naive_messages(self.subscribers)


def _aware(day: Any) -> Any:
    from datetime import UTC, datetime, time

    return day if isinstance(day, datetime) else datetime.combine(day, time(9), tzinfo=UTC)


def _check(message: bytes) -> None:
    """Each message parses strictly, with a text and an HTML part holding every story."""
    msg = BytesParser(policy=policy.default).parsebytes(message)
    if msg.defects or any(part.defects for part in msg.walk()):
        raise SystemExit(f"bench: a digest has defects: {msg.defects}")
    html = msg.get_body(("html",))
    text = msg.get_body(("plain",))
    if html is None or text is None:
        raise SystemExit("bench: a digest lacks its HTML or text part")
    if html.get_content().count("<h2") < STORIES:
        raise SystemExit("bench: a digest lacks stories")
