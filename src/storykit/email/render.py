"""Rendering a digest: its templates rendered and CSS-inlined once, then one message per reader.

The HTML is rendered and its CSS inlined by css-inline once per locale; the per-story blocks are
cut out of that render and reused (:class:`DigestRenderer`), so a personalised run of thousands
of messages does constant work per message.

Determinism: equal input gives equal bytes. Without a ``date`` option the ``Date`` is the newest
date of the message's own stories (a plain date counts as midnight UTC), else the window's end,
else the Unix epoch; never the clock (``storykit send`` sets it when the message is sent). The
inbox preview line (preheader) is the ``preheader`` option, else the collection's description,
else the first three titles of the message's own stories. Without ``message_id`` the
``Message-ID`` is a SHA-256 of the collection, the recipients, the stories chosen and the
subject, at the sender's domain.
"""

from __future__ import annotations

import hashlib
import html
import os
import textwrap
from collections.abc import Sequence
from datetime import UTC, date, datetime, time
from typing import TYPE_CHECKING, Any

from storykit.email.headers import (
    MSGID,
    address_header,
    ascii_address,
    balance_bidi,
    date_line,
    header_text,
    parse_addresses,
    subject_header,
)
from storykit.email.mime import (
    GREETING,
    PREHEADER,
    RS,
    UNSUBSCRIBE,
    Fragments,
    MarkerError,
    multipart,
    split_stories,
)
from storykit.email.options import (
    TOKEN_KEY_ENV,
    EmailOptions,
    as_day,
    check_mailto,
    check_unsubscribe,
    check_web_url,
    day,
    parse_date,
    unsubscribe_token,
)
from storykit.errors import OptionError

if TYPE_CHECKING:
    from email.headerregistry import Address

    from storykit.collection import Collection
    from storykit.plugins import Registry

__all__ = ["IMAGE_WIDTH", "TEMPLATE_DOCS", "TEXT_WIDTH", "DigestRenderer", "EmailTemplateError"]

#: Width of the plain-text part's prose.
TEXT_WIDTH = 72
#: Width of story images in the 600px layout (600 less 2 x 24px padding).
IMAGE_WIDTH = 552
_RTL = {"ar", "he", "fa", "ur", "ps", "yi", "dv", "ckb"}
# --- small helpers --------------------------------------------------------------------------------


def _wrap(value: str, width: int = TEXT_WIDTH) -> str:
    lines: list[str] = []
    for para in value.splitlines() or [""]:
        lines.extend(textwrap.wrap(para, width, break_long_words=False,
                                   break_on_hyphens=False) or [""])
    return "\n".join(lines)


def _window_text(start: date, end: date, locale: str) -> str:
    """``15–23 February 2021``, ``28 January – 3 February 2021``, ``23 February 2021``;
    ``15–23 de febrero de 2021`` in Spanish (see :func:`storykit.i18n.format_window`)."""
    from storykit.i18n import format_window

    return format_window(start, end, locale)


#: Where the email templates and their markers are documented (for error messages).
TEMPLATE_DOCS = "'Email templates' in docs/howto/retheme.md"


class EmailTemplateError(OptionError):
    """An ``email.html`` or ``email.txt`` without a marker the exporter cuts messages at.

    The exporter renders its templates once and cuts the result at markers
    (``<!--sk:stories-->``, ``<!--sk:greeting-->``, ...) to put each reader's greeting, stories
    and unsubscribe link in. A template that replaces a built-in one must keep them. This is an
    :class:`~storykit.OptionError` (a ``ValueError``) of the ``template_dir`` option: the
    command line reports it in one line, and no plugin is blamed for a template.
    ``template`` is the template's name, ``path`` its file (``None`` when not from a file).
    """

    def __init__(self, template: str, path: str | None, problem: str) -> None:
        self.exporter = "email"
        self.option = "template_dir"
        self.template = template
        self.path = path
        self.problem = problem
        where = f" in {os.path.dirname(path) or '.'}" if path else ""
        self.message = f"template {template!r}{where} {problem} (see {TEMPLATE_DOCS})"
        ValueError.__init__(self, self.message)

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.template, self.path, self.problem), self.__dict__)


def _template_error(env: Any, name: str, error: MarkerError, tag: str) -> EmailTemplateError:
    """``error`` in the template ``name`` of ``env``, naming the file it came from.

    ``tag`` is the random tag the markers were given (see :class:`DigestRenderer`): the
    message shows them as the template writes them.
    """
    path: str | None = None
    try:
        path = env.get_template(name).filename
    except Exception:  # only for the message: the template did render, so this is rare
        path = None
    problem = str(error).replace(f"sk:{tag}:", "sk:") if tag else str(error)
    return EmailTemplateError(name, path, problem)




# --- the renderer ---------------------------------------------------------------------------------


class DigestRenderer:
    """Everything about a digest that does not depend on the recipient, prepared once.

    Rendering a message then only joins prepared fragments, folds the ``To`` header, and
    quoted-printable encodes the two bodies (in C). Use :meth:`message` for each recipient.
    """

    def __init__(self, collection: Collection, options: EmailOptions,
                 registry: Registry | None = None, *, locale: str | None = None) -> None:
        from markupsafe import Markup

        from storykit.templating import environment, render, translation_dirs, translations

        opts = options
        self.collection = collection
        self.options = opts
        self.locale = locale or opts.locale or collection.language
        tr = translations(self.locale, translation_dirs(registry))
        self._gettext = tr.gettext

        # Addresses.
        if opts.sender is not None:
            senders = self._addresses(opts.sender, "sender")
            if len(senders) != 1:
                raise OptionError("email", "sender", f"must be one address (got {opts.sender!r})")
            self.sender = senders[0]
        else:
            self.sender = _default_sender(collection)
        self.default_to = (self._addresses(opts.to, "to") if opts.to is not None
                           else [self.sender])
        reply_to = (self._addresses(opts.reply_to, "reply_to") if opts.reply_to is not None
                    else [])

        # The window and the subject.
        days = [day(s.published) for s in collection.stories]
        since, until = as_day(opts.since, "since"), as_day(opts.until, "until")
        start = since or (min(days) if days else until)
        end = until or (max(days) if days else since)
        self.window: tuple[date, date] | None = (start, end) if start and end else None
        window_text = _window_text(start, end, self.locale) if start and end else ""
        title = header_text(collection.title)
        # The subject pattern is translatable ("%(title)s — %(window)s"), for languages that
        # put the parts the other way round or use other punctuation.
        subject = opts.subject if opts.subject is not None else (
            str(self._gettext("%(title)s — %(window)s")) % {"title": title,
                                                            "window": window_text}
            if window_text else title)
        self.subject = header_text(subject)

        # Date: from the content, never the clock; each message's from its own stories (see
        # date_line), the window's end or the epoch for a message without any.
        from storykit.model import instant

        instants = [instant(s.published) for s in collection.stories]
        self._instants = sorted(set(instants))
        # Each story's place among the distinct dates: the newest of a message's stories is
        # then the largest of a few ints, and its Date line is folded once (see date_line).
        place = {when: i for i, when in enumerate(self._instants)}
        self._rank = [place[when] for when in instants]
        self._date_lines: dict[int, bytes] = {}
        self._date_fixed = (date_line(parse_date(opts.date)) if opts.date is not None
                            else None)
        self._date_none = date_line(datetime.combine(end, time.min, tzinfo=UTC)
                                     if end is not None else datetime(1970, 1, 1, tzinfo=UTC))

        if opts.message_id is not None and not MSGID.fullmatch(opts.message_id.strip()):
            raise OptionError("email", "message_id",
                              f"must look like <id@domain> (got {opts.message_id!r})")

        # Unsubscribe.
        self.unsubscribe = check_unsubscribe(opts.unsubscribe)
        self.unsubscribe_mailto = check_mailto(opts.unsubscribe_mailto)
        key = os.environ.get(TOKEN_KEY_ENV)
        self._token_key = key.encode() if key else None

        # Constant headers, folded once.
        self._head_from = address_header("From", [self.sender])
        self._head_subject = subject_header(self.subject)
        self._head_reply = address_header("Reply-To", reply_to) if reply_to else b""
        self._content_hash = _collection_hash(collection)

        # Bodies: render once with every story, inline the CSS once, cut into fragments.
        env = environment(registry, opts.template_dir)
        # The preview line: the option, else the description, else the first titles of each
        # message's own stories, put in at a slot per message (see preheader()).
        preheader = opts.preheader if opts.preheader is not None else (
            collection.description or None)
        self._preheader = balance_bidi(" ".join(preheader.split())) if preheader else ""
        self._titles = ([balance_bidi(" ".join(s.title.split())) for s in collection.stories]
                        if preheader is None else None)
        ctx: dict[str, Any] = {
            "title": collection.title,
            "description": collection.description,
            "url": collection.url,
            "web_url": check_web_url(opts.web_url),
            "contacts": collection.contacts,
            "stories": collection.stories,
            "subject": self.subject,
            "window_text": window_text,
            "preheader": (Markup("<!--sk:preheader-->") if preheader is None
                          else self._preheader),
            "unsubscribe": bool(self.unsubscribe or self.unsubscribe_mailto),
            "lang": self.locale,
            "dir": "rtl" if self.locale.split("-")[0].lower() in _RTL else "ltr",
            "wrap": _wrap,
        }
        n = len(collection.stories)
        self._previews: dict[tuple[int, ...], tuple[str, str]] = {}
        # In the autoescaped render data cannot write a marker, but the CSS inliner writes
        # attribute values back with their < > unescaped and text with its " unescaped: an
        # image's alt text could then forge one. So the markers get a tag first that no data
        # can know (a hash of the document the data is in), and the inlined document is cut
        # at the tagged markers only; any tag left over (a marker used twice) is taken out.
        html_doc = render(env, "email.html", self.locale, **ctx)
        tag = hashlib.sha256(html_doc.encode("utf-8", "surrogatepass")).hexdigest()[:32]
        html_doc = _inline(html_doc.replace("<!--sk:", f"<!--sk:{tag}:").replace(
            'href="sk:unsubscribe"', f'href="sk:{tag}:unsubscribe"'))
        markers = {f"<!--sk:{tag}:greeting-->": GREETING}
        if preheader is None:
            markers[f"<!--sk:{tag}:preheader-->"] = PREHEADER
        if ctx["unsubscribe"]:
            markers[f'href="sk:{tag}:unsubscribe"'] = UNSUBSCRIBE
        try:
            head, blocks, tail, leads = split_stories(
                html_doc, f"<!--sk:{tag}:stories-->", f"<!--sk:{tag}:story-->",
                f"<!--sk:{tag}:end-->", n)
            self._html = Fragments(head, blocks, tail, markers=markers, tag=tag, leads=leads)
        except MarkerError as e:
            raise _template_error(env, "email.html", e, tag) from None
        markers = {f"{RS}sk:greeting{RS}": GREETING}
        if preheader is None:
            ctx["preheader"] = f"{RS}sk:preheader{RS}"
            markers[f"{RS}sk:preheader{RS}"] = PREHEADER
        if ctx["unsubscribe"]:
            markers[f"{RS}sk:unsubscribe{RS}"] = UNSUBSCRIBE
        text_doc = render(env, "email.txt", self.locale, RS=RS, **ctx).lstrip("\n")
        try:
            head, blocks, tail, leads = split_stories(
                text_doc, f"{RS}sk:stories{RS}\n", f"{RS}sk:story{RS}\n", f"{RS}sk:end{RS}\n",
                n)
            self._text = Fragments(head, blocks, tail, markers=markers, leads=leads)
        except MarkerError as e:
            raise _template_error(env, "email.txt", e, "") from None

    @staticmethod
    def _addresses(value: str, option: str) -> list[Address]:
        try:
            return parse_addresses(value, option)
        except ValueError as e:
            raise OptionError("email", option, str(e)) from None

    def greeting(self, name: str | None) -> str:
        """``Hello Ana,`` (or ``Hello,`` without a name), in the renderer's locale."""
        name = header_text(name) if name else ""
        if name:
            return str(self._gettext("Hello %(name)s,")) % {"name": name}
        return str(self._gettext("Hello,"))

    def unsubscribe_url(self, address: str) -> str | None:
        """The recipient's unsubscribe URL (``{token}`` filled in), or the mailto form."""
        if self.unsubscribe:
            return self.unsubscribe.replace("{token}", unsubscribe_token(address,
                                                                         self._token_key))
        if self.unsubscribe_mailto:
            return self.unsubscribe_mailto
        return None

    def preheader(self, stories: Sequence[int]) -> str:
        """The preview line of a message with the stories at indices ``stories``.

        The ``preheader`` option or the collection's description when there is one (the same
        for every message), else the first three titles of these stories.
        """
        return self._preview(stories)[0]

    def _preview(self, stories: Sequence[int]) -> tuple[str, str]:
        """The preheader of these stories, as text and as HTML (made once per first three)."""
        titles = self._titles
        if titles is None:
            # The same for every message, rendered into the prepared fragments already.
            return self._preheader, ""
        key = tuple(stories[:3])
        got = self._previews.get(key)
        if got is None:
            text = " · ".join(titles[i] for i in key)
            got = self._previews[key] = (text, html.escape(text))
        return got

    def _date_header(self, stories: Sequence[int] | None) -> bytes:
        """``Date: ...``: the ``date`` option, else the newest of these stories."""
        if self._date_fixed is not None:
            return self._date_fixed
        if stories is None:
            if not self._instants:
                return self._date_none
            newest = len(self._instants) - 1
        elif not stories:
            return self._date_none
        else:
            newest = max(map(self._rank.__getitem__, stories))
        got = self._date_lines.get(newest)
        if got is None:
            got = self._date_lines[newest] = date_line(self._instants[newest])
        return got

    def message(self, to: Sequence[Address] | None = None, *,
                stories: Sequence[int] | None = None, name: str | None = None) -> bytes:
        """The whole message for ``to`` with the stories at indices ``stories`` (default all).

        Its greeting, unsubscribe link, preview line and ``Date`` are its own: the preview
        lists the first titles of these stories (unless a preheader or description is set),
        the ``Date`` is the newest of them (unless the ``date`` option is set).
        """
        recipients = list(to) if to is not None else self.default_to
        first = recipients[0].addr_spec if recipients else self.sender.addr_spec
        picked = range(len(self._html.blocks)) if stories is None else stories
        greeting = self.greeting(name if name is not None else self.options.name)
        url = self.unsubscribe_url(first)
        preheader, preheader_html = self._preview(picked)

        # Bodies: prepared fragments around the per-message slots.
        text_body = self._text.encode(picked, (greeting, preheader, url or ""))
        html_body = self._html.encode(picked, (
            html.escape(greeting, quote=False), preheader_html,
            f'href="{html.escape(url or "")}"'))

        # Per-message headers.
        to_addrs = ",".join(a.addr_spec for a in recipients)
        digest = hashlib.sha256(b"\0".join([
            self._content_hash, to_addrs.encode(), ",".join(map(str, picked)).encode(),
            self.subject.encode(),
        ])).hexdigest()
        if self.options.message_id is not None:
            msgid = self.options.message_id.strip()
        else:
            msgid = f"<{digest[:32]}@{self.sender.domain}>"
        boundary = f"=_sk_{digest[32:56]}".encode("ascii")
        head = [self._head_from, address_header("To", recipients), self._head_subject,
                self._date_header(stories), b"Message-ID: " + msgid.encode("ascii") + b"\r\n",
                self._head_reply]
        if url is not None:
            forms = []
            if self.unsubscribe:
                forms.append(f"<{url}>")
            if self.unsubscribe_mailto:
                forms.append(f"<{self.unsubscribe_mailto}>")
            # The forms are checked ASCII URLs without spaces: one per line folds them.
            head.append(b"List-Unsubscribe: " + ",\r\n ".join(forms).encode("ascii")
                        + b"\r\n")
            if self.unsubscribe:
                head.append(b"List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n")
        return multipart(head, boundary, text_body, html_body)


def _default_sender(collection: Collection) -> Address:
    """The first media contact whose address a message header can hold (an internationalised
    domain in IDNA form; not an address with a non-ASCII local part, see ascii_address)."""
    from email.headerregistry import Address

    for c in collection.contacts:
        if c.email:
            local, _, domain = c.email.rpartition("@")
            try:
                return ascii_address(Address(display_name=header_text(c.organization or c.name),
                                             username=local, domain=domain))
            except ValueError:
                continue
    return Address(display_name=header_text(collection.title), username="digest",
                   domain="storykit.invalid")


def _collection_hash(collection: Collection) -> bytes:
    import orjson

    from storykit.convert import collection_to_data

    return hashlib.sha256(orjson.dumps(collection_to_data(collection))).digest()


_inliner: Any = None


def _inline(document: str) -> str:
    """Inline the document's CSS (css-inline); ``@media`` rules stay in a ``<style>``."""
    global _inliner
    if _inliner is None:
        import css_inline

        _inliner = css_inline.CSSInliner(keep_at_rules=True, load_remote_stylesheets=False)
    result: str = _inliner.inline(document)
    return result


