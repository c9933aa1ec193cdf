"""The pages: the site (the ``site`` writer's bytes), every writer at ``/stories.{format}``,
the digest preview, and the live-reload script and banner of ``--watch``."""

from __future__ import annotations

import email
from collections.abc import Mapping
from datetime import date, datetime, timedelta
from email.message import EmailMessage
from email.policy import default as default_policy
from typing import Any, BinaryIO

from markupsafe import Markup, escape
from starlette.requests import Request

from storykit.web.content import Content
from storykit.web.http import Body, HTTPError, Stream, Writer, answer, csp_for
from storykit.web.query import FILTERS, criteria, number, params

__all__ = ["MAX_WHOLE", "digest", "digest_eml", "digest_html", "live_css", "live_js", "site",
           "stories_as"]

_SITE_TYPES = {".html": "text/html; charset=utf-8", ".atom": "application/atom+xml",
               ".xml": "application/xml"}

LIVE_JS = b"""// storykit serve --watch: reload this page when the source is saved.
(function () {
  var source = new EventSource(document.currentScript.getAttribute("data-events"));
  source.onmessage = function (event) {
    if (event.data === "reload") { source.close(); window.location.reload(); }
  };
})();
"""
LIVE_CSS = b"""/* storykit serve --watch: the banner shown while the source has errors. */
.sk-live-errors { position: sticky; top: 0; z-index: 100; margin: 0; padding: .75rem 1.25rem;
  background: #8a1c1c; color: #fff; font: .95rem/1.45 system-ui, sans-serif; }
.sk-live-errors h2 { margin: 0 0 .35rem; font-size: 1rem; }
.sk-live-errors ul { margin: 0; padding-left: 1.25rem; }
.sk-live-errors code { font-family: ui-monospace, monospace; overflow-wrap: anywhere; }
"""


def _live(request: Request, content: Content, page: bytes) -> bytes:
    """The page with the live-reload script and, while the source is broken, the banner."""
    if not request.app.state.watch:
        return page
    root = request.scope.get("root_path", "")
    head = (f'<link rel="stylesheet" href="{escape(root)}/_storykit/live.css">'
            f'<script src="{escape(root)}/_storykit/live.js" '
            f'data-events="{escape(root)}/_storykit/events" defer></script>\n</head>')
    page = page.replace(b"</head>", head.encode(), 1)
    if content.errors:
        items = "".join(Markup("<li><code>{}</code></li>").format(e) for e in content.errors)
        banner = Markup('<div class="sk-live-errors" role="alert"><h2>{}</h2><ul>{}</ul>'
                        "<p>{}</p></div>").format(
            f"{content.source}: {len(content.errors)} "
            f"{'problem' if len(content.errors) == 1 else 'problems'}",
            Markup(items), "The last valid version is shown until the file is fixed.")
        start = page.find(b"<body")
        end = page.find(b">", start) + 1 if start != -1 else -1
        if end > 0:
            page = page[:end] + b"\n" + str(banner).encode() + page[end:]
    return page


def _site_pages(content: Content) -> Mapping[str, bytes]:
    """The site of the current content, each page read from the store and rendered only when
    asked for (what the pages link to is found once per content version; each page's answer
    is cached by :func:`site`). The store is never asked for its whole collection."""
    import warnings

    from storykit.exporters.site import SitePages, SiteWarning

    def make() -> SitePages:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", SiteWarning)
            return SitePages(content.store)

    pages: Mapping[str, bytes] = content.cached("site", make)
    return pages


@answer
def site(request: Request) -> Body:
    """The static site, read from the store a page at a time: ``/`` is ``index.html``,
    ``/topics/`` is ``topics/index.html``. A path is only ever looked up among the site's
    pages (never a file name), and only the page asked for is rendered."""
    params(request, ())
    content: Content = request.app.state.content
    path = request.path_params["path"]
    key = path + "index.html" if path == "" or path.endswith("/") else path
    files = _site_pages(content)
    data = files.get(key)
    if data is None:
        if key + "/index.html" in files:
            raise HTTPError(404, f"no page /{path} (try /{path}/)")
        raise HTTPError(404, f"no page /{path}")
    suffix = key[key.rfind("."):]
    media_type = _SITE_TYPES.get(suffix, "application/octet-stream")
    digest_page = key.startswith("digests/") and key != "digests/index.html"
    if media_type.startswith("text/html"):
        data = _live(request, content, data)
    return Body(data, media_type, content.changed_at,
                csp=csp_for(data, media_type, inline_styles=digest_page))


#: The most stories one answer of ``/stories.FORMAT`` holds when it is written whole: a page
#: (``per_page``), or the whole selection in a format that does not stream (a feed, a page).
MAX_WHOLE = 1000


@answer
def stories_as(request: Request) -> Body | Stream:
    """The matching stories in any installed format, with the format's media type and
    ``X-Total-Count``. A format that streams (json, csv) writes any number of stories, read
    a page at a time while they are sent (the ETag is the content's version and the URL's);
    another format writes at most 1,000, and a bigger selection is a 400 that says how to ask
    for a page: ``per_page`` (1-1000) and ``page`` (from 1) ask for one page of the matches,
    in any format. A bad filter or search is a 400 before anything is sent."""
    import storykit
    from storykit.errors import OptionError
    from storykit.exporter import streams

    query = params(request, (*FILTERS, "page", "per_page"))
    found = criteria(query)
    name = request.path_params["format"]
    exporter = storykit.formats().get(name)
    if exporter is None:
        raise HTTPError(404, f"no format {name!r} (available: "
                               f"{', '.join(sorted(storykit.formats()))})")
    output = getattr(exporter, "output", "stream")
    if output != "stream":
        raise HTTPError(404, f"the {name} format writes a {output}, not one "
                               "response (the site is served at /)")
    content: Content = request.app.state.content
    store = content.store
    try:
        _, total = store.query(**found, limit=0)  # (checks the search, before anything)
        if "page" in query or "per_page" in query:
            per_page = number(query, "per_page", MAX_WHOLE, high=MAX_WHOLE)
            page = number(query, "page", 1)
            pages = max(1, -(-total // per_page))
            if page > pages:
                raise HTTPError(400, f"page {page} is past the last page ({pages}) of {total} "
                                     f"{'story' if total == 1 else 'stories'}")
            part = store.collection(**found, offset=(page - 1) * per_page, limit=per_page)
        elif streams(exporter):
            return _stream(request, content, exporter, found, total)
        elif total > MAX_WHOLE:
            raise HTTPError(400, f"{total} stories match, and the {name} format is written "
                                 f"whole, at most {MAX_WHOLE} at a time: ask for a page "
                                 f"(per_page={MAX_WHOLE}&page=1, 2, ...), narrow the "
                                 "selection (topic, country, since, until, language, q), or "
                                 "use a format that streams any number (/stories.json, "
                                 "/stories.csv)")
        else:
            part = store.collection(**found)
        data = storykit.dumps(part, name)
    except OptionError as e:
        raise HTTPError(400, str(e)) from None
    return Body(data, exporter.media_type, content.changed_at,
                extra={"X-Total-Count": str(total)})


def _stream(request: Request, content: Content, exporter: Any, found: dict[str, Any],
            total: int) -> Stream:
    """The selection written by ``exporter.write_stream`` while it is sent, read from the
    store a page at a time: the bytes of ``storykit.dumps(store.collection(**found))``. Its
    ETag is the content's version and the URL's."""
    from storykit.errors import OptionError
    from storykit.plugins import blamed_on

    store = content.store

    def start() -> Writer:
        try:  # (the store checks the criteria now: an error is a 400, not a cut-off body)
            stories = store.stream(**found)
        except OptionError as e:
            raise HTTPError(400, str(e)) from None
        meta = store.meta()

        def write(out: BinaryIO) -> None:
            try:
                with blamed_on(exporter):
                    exporter.write_stream(meta, stories, out)
            finally:  # (the store's reading ends with the writing: its connection closed)
                close = getattr(stories, "close", None)
                if close is not None:
                    close()

        return write

    scope = request.scope
    tag = "\n".join((content.version(), scope["path"], scope["query_string"].decode("latin-1"),
                     scope.get("root_path", "")))
    return Stream(start, tag, exporter.media_type, content.changed_at,
                  extra={"X-Total-Count": str(total)})


# --- the digest preview ---------------------------------------------------------------------


def _window(content: Content, query: dict[str, str]) -> dict[str, str]:
    """``since`` and ``until`` from the query, checked; default the week up to the newest
    story."""
    window = criteria({k: v for k, v in query.items() if k in ("since", "until")})
    if "since" not in window or "until" not in window:
        newest, _ = content.store.query(limit=1)
        end = newest[0].published if newest else date.today()
        end_day = end.date() if isinstance(end, datetime) else end  # (a datetime: its day)
        window.setdefault("until", end_day.isoformat())
        window.setdefault("since", (end_day - timedelta(days=6)).isoformat())
    return {k: str(v) for k, v in window.items()}


def _message(content: Content, window: dict[str, Any]) -> bytes:
    import storykit
    from storykit.errors import OptionError

    def make() -> bytes:
        col = content.store.collection(**window)
        try:
            return storykit.dumps(col, "email", **window)
        except (OptionError, ValueError) as e:
            raise HTTPError(400, f"cannot make the digest: {e}") from None

    data: bytes = content.cached(("digest", window["since"], window["until"]), make)
    return data


def _parts(data: bytes) -> tuple[str, str, EmailMessage]:
    message = email.message_from_bytes(data, policy=default_policy)
    assert isinstance(message, EmailMessage)
    html = message.get_body(("html",))
    text = message.get_body(("plain",))
    return (str(html.get_content()) if html is not None else "",
            str(text.get_content()) if text is not None else "", message)


def _lint(message: EmailMessage) -> list[Any]:
    from storykit.email.preflight import lint

    findings: list[Any] = lint(message)
    return findings


_PREVIEW = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Digest preview: {subject}</title>
<style>
body {{ margin: 0; font: 1rem/1.5 system-ui, sans-serif; background: #f4f6f8; color: #1a1d21; }}
header, section {{ padding: 1rem 1.25rem; }}
h1 {{ margin: 0 0 .25rem; font-size: 1.4rem; }}
h2 {{ margin: 0 0 .5rem; font-size: 1.1rem; }}
a {{ color: #0a58a8; }}
.parts {{ display: grid; gap: 1rem; grid-template-columns: repeat(auto-fit, minmax(22rem, 1fr)); }}
iframe {{ width: 100%; height: 80vh; border: 1px solid #c9d0d8; background: #fff; }}
pre {{ margin: 0; height: 80vh; overflow: auto; padding: .75rem; background: #fff;
  border: 1px solid #c9d0d8; white-space: pre-wrap; font-size: .9rem; }}
.ok {{ color: #1d6b2f; }}
</style>
</head>
<body>
<header>
<h1>Digest preview</h1>
<p>{subject} · {since} to {until} · <a href="{eml}">Download the .eml</a></p>
</header>
<main>
<section aria-labelledby="warnings">
<h2 id="warnings">Preflight</h2>
{findings}
</section>
<div class="parts">
<section aria-labelledby="html-part"><h2 id="html-part">HTML part</h2>
<iframe src="{html}" title="The HTML part of the digest"></iframe></section>
<section aria-labelledby="text-part"><h2 id="text-part">Text part</h2>
<pre tabindex="0">{text}</pre></section>
</div>
</main>
</body>
</html>
"""


@answer
def digest(request: Request) -> Body:
    """The digest's HTML and text parts side by side, with its preflight warnings."""
    from urllib.parse import urlencode

    content: Content = request.app.state.content
    window = _window(content, params(request, ("since", "until")))
    _, text, message = _parts(_message(content, window))
    findings = _lint(message)
    listing = (Markup("<ul>{}</ul>").format(Markup("").join(
        Markup("<li>{}</li>").format(str(f)) for f in findings))
        if findings else Markup('<p class="ok">No problems found.</p>'))
    query = urlencode(window)
    page = _PREVIEW.format(
        subject=escape(str(message.get("Subject", ""))), since=escape(window["since"]),
        until=escape(window["until"]), eml=escape(f"digest.eml?{query}"),
        html=escape(f"digest.html?{query}"), findings=listing, text=escape(text))
    data = _live(request, content, page.encode())
    return Body(data, "text/html; charset=utf-8", content.changed_at)


@answer
def digest_html(request: Request) -> Body:
    """The digest's HTML part alone, as the preview frames it."""
    content: Content = request.app.state.content
    window = _window(content, params(request, ("since", "until")))
    html, _, _ = _parts(_message(content, window))
    data = html.encode()
    return Body(data, "text/html; charset=utf-8", content.changed_at,
                csp=csp_for(data, "text/html", inline_styles=True, framed=True))


@answer
def digest_eml(request: Request) -> Body:
    """The digest as a message file (``message/rfc822``), to open in a mail client."""
    content: Content = request.app.state.content
    window = _window(content, params(request, ("since", "until")))
    name = f"digest-{window['since']}-{window['until']}.eml"
    return Body(_message(content, window), "message/rfc822", content.changed_at,
                extra={"Content-Disposition": f'attachment; filename="{name}"'})


@answer
def live_js(request: Request) -> Body:
    """The live-reload script of ``--watch``."""
    content: Content = request.app.state.content
    return Body(LIVE_JS, "text/javascript; charset=utf-8", content.changed_at)


@answer
def live_css(request: Request) -> Body:
    """The style of the ``--watch`` error banner."""
    content: Content = request.app.state.content
    return Body(LIVE_CSS, "text/css; charset=utf-8", content.changed_at)
