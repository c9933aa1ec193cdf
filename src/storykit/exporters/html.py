"""HTML: a press-office page of the collection, or a fragment of it to embed in a site.

The page is rendered by jinja2 (autoescape on) from ``templates/page.html`` and its partials
(``_contact.html``, ``_stories.html``, ``_story.html``, ``_pagination.html``, ``storykit.css``).
``_stories.html`` writes each story with ``render_story(story)``, which renders ``_story.html``
as an include would, without the per-story cost of one.
A theme replaces any of them through the ``template_dir`` option or the
``register_template_dirs()`` hook; ``{% extends "storykit/page.html" %}`` reaches the built-in
one. Each story carries schema.org ``NewsArticle`` JSON-LD.

Pagination: :meth:`HTMLExporter.write` writes one page (``page_size`` and ``page``);
:func:`write_pages` writes them all into a folder: ``index.html``, ``page-2.html``, ...
linked by ``rel="prev"`` and ``rel="next"``.
"""

from __future__ import annotations

import functools
import itertools
import math
import os
import re
from collections.abc import Callable, Iterable, Iterator
from html.parser import HTMLParser
from pathlib import Path
from typing import Any, BinaryIO
from urllib.parse import quote_plus

import attrs

from storykit import _rules as rules
from storykit.collection import Collection
from storykit.errors import OptionError
from storykit.exporter import parse_options
from storykit.model import MediaContact, Story
from storykit.plugins import Registry, hookimpl

__all__ = ["HTMLExporter", "HTMLOptions", "Links", "Pagination", "alternate_links",
           "page_filename", "render", "write_pages"]

#: Text pieces encoded and written per ``out.write()`` call. A story is one piece (with its
#: ``<li>`` two more), so a write carries some 85 stories, about 200 kB: small enough to stay
#: in the CPU cache while it is encoded and checked.
CHUNK_PIECES = 256


def _positive(_: Any, attribute: attrs.Attribute[Any], value: int | None) -> None:
    if value is not None and value < 1:
        raise ValueError(f"must be 1 or more (got {value!r})")


def _locale(value: str | None) -> str | None:
    if value is None:
        return None
    try:
        return rules.language(value)
    except rules.Invalid as e:
        raise ValueError(e.message) from None


def _alternates(value: tuple[str, ...] | list[str] | str) -> tuple[str, ...]:
    """``("fr=https://example.org/fr/", ...)`` checked: a BCP 47 tag, ``=``, an http(s) URL."""
    if isinstance(value, str):
        value = tuple(v.strip() for v in value.split(",") if v.strip())
    out = []
    for item in value:
        language, sep, url = str(item).partition("=")
        try:
            if not sep:
                raise rules.Invalid(f"{item!r} is not LANGUAGE=URL (e.g. 'fr=https://example.org"
                                    "/fr/')")
            out.append(f"{rules.language(language)}={rules.url(url.strip())}")
        except rules.Invalid as e:
            raise ValueError(e.message) from None
    return tuple(out)


def _stylesheet(value: str | None) -> str | None:
    if value is not None and ":" in value.split("/", 1)[0] and not re.match(
            r"(?i)https?://", value):
        raise ValueError(f"must be an http(s) URL or a relative path (got {value!r})")
    return value


@attrs.frozen
class HTMLOptions:
    """Options of the ``html`` format."""

    #: Only the story list (and its page links), to embed in a site's own page.
    fragment: bool = False
    #: A folder of templates searched before the built-in ones, to re-theme the page.
    template_dir: Path | None = None
    #: Stories per page; ``None`` puts every story on one page.
    page_size: int | None = attrs.field(default=None, validator=_positive)
    #: Which page :meth:`HTMLExporter.write` renders (1 is ``index.html``).
    page: int = attrs.field(default=1, validator=_positive)
    #: The language of the page's labels and dates (BCP 47); default the collection's.
    locale: str | None = attrs.field(default=None, converter=_locale)
    #: The same collection page in other languages, as ``LANGUAGE=URL`` items (``-O
    #: alternates=fr=https://example.org/fr/,es=https://example.org/es/``): the first page's
    #: ``<head>`` links them with ``rel="alternate" hreflang`` (and the page itself, when the
    #: collection has a URL), and the header shows a language switcher.
    alternates: tuple[str, ...] = attrs.field(default=(), converter=_alternates)
    #: Inline the default stylesheet in a ``<style>`` element.
    css: bool = True
    #: URL of an extra stylesheet, linked after the default one.
    stylesheet: str | None = attrs.field(default=None, converter=_stylesheet)
    #: The ``width`` and ``height`` given to every story image (they reserve its space while it
    #: loads; the stylesheet crops images to this shape).
    image_width: int = attrs.field(default=600, validator=_positive)
    image_height: int = attrs.field(default=400, validator=_positive)


def alternate_links(opts: HTMLOptions) -> list[tuple[str, str]]:
    """The ``alternates`` option as ``(language, url)`` pairs."""
    return [(item.partition("=")[0], item.partition("=")[2]) for item in opts.alternates]


def page_filename(number: int) -> str:
    """The file of page ``number``: ``index.html`` for the first, then ``page-2.html``, ..."""
    return "index.html" if number == 1 else f"page-{number}.html"


@attrs.frozen
class Pagination:
    """Where a page sits among the pages of a collection."""

    number: int
    count: int
    #: The 1-based position of the page's first story in the whole collection.
    start: int

    @property
    def prev_href(self) -> str | None:
        """The previous page's file name, or None on the first page."""
        return page_filename(self.number - 1) if self.number > 1 else None

    @property
    def next_href(self) -> str | None:
        """The next page's file name, or None on the last page."""
        return page_filename(self.number + 1) if self.number < self.count else None


def _story_url(story: Story) -> str | None:
    from storykit.templating import href

    return href(story.url) if story.url is not None else None


def _query_link(key: str) -> Callable[[str], str]:
    # (What urlencode({key: value}) gives; remembered, as the same tags come back story
    # after story: quoting is a tenth of a page's time otherwise.)
    @functools.lru_cache(maxsize=4096)
    def link(value: str) -> str:
        return f"?{key}={quote_plus(value)}"

    return link


@attrs.frozen
class Links:
    """Where a page's links go: a story's title, a topic tag, a country tag.

    The html writer links a title to the story's URL and a tag to ``?topic=...`` or
    ``?country=...`` of the page itself (a site that serves the page can answer them); the
    site writer links them to its own story, topic and country pages.
    """

    story: Callable[[Story], str | None] = _story_url
    topic: Callable[[str], str] = attrs.field(factory=lambda: _query_link("topic"))
    country: Callable[[str], str] = attrs.field(factory=lambda: _query_link("country"))


def _pages(collection: Collection, page_size: int | None) -> int:
    if page_size is None:
        return 1
    return max(1, math.ceil(len(collection) / page_size))


def article_ld(story: Story) -> dict[str, Any]:
    """schema.org ``NewsArticle`` data for one story (serialise with ``json_script``)."""
    from storykit.templating import iso

    data: dict[str, Any] = {
        "@context": "https://schema.org",
        "@type": "NewsArticle",
        "headline": story.title,
        "datePublished": iso(story.published),
    }
    if story.updated is not None:
        data["dateModified"] = iso(story.updated)
    data["description"] = story.summary
    if story.url is not None:
        data["url"] = story.url
        data["mainEntityOfPage"] = story.url
    data["inLanguage"] = story.language
    if story.image is not None:
        image: dict[str, Any] = {
            "@type": "ImageObject",
            "contentUrl": story.image.url,
            "url": story.image.url,
            "description": story.image.alt,
        }
        credit = story.image.credit
        if credit is not None:
            image["creditText"] = credit.holder
            image["copyrightHolder"] = {"@type": "Organization", "name": credit.holder}
            image["copyrightNotice"] = str(credit)
            if credit.year is not None:
                image["copyrightYear"] = credit.year
        data["image"] = image
    if story.topics:
        data["keywords"] = list(story.topics)
    if story.countries:
        data["contentLocation"] = [{"@type": "Country", "identifier": c}
                                   for c in story.countries]
    if story.translations:
        data["workTranslation"] = [
            {"@type": "NewsArticle", "url": t.url, "inLanguage": t.language,
             **({"headline": t.title} if t.title else {})}
            for t in story.translations]
    if story.links:  # (schema.org's relatedLink is a bare URL: a citation keeps the title)
        data["citation"] = [{"@type": "WebPage", "url": link.url, "name": link.title}
                            for link in story.links]
    if story.body is not None:
        data["articleBody"] = _plain_text(story.body)
    return data


def contacts_ld(contacts: Iterable[MediaContact]) -> list[dict[str, Any]]:
    """schema.org ``Person`` data for the media contacts (serialise with ``json_script``)."""
    out = []
    for contact in contacts:
        person: dict[str, Any] = {"@context": "https://schema.org", "@type": "Person",
                                  "name": contact.name}
        if contact.role is not None:
            person["jobTitle"] = contact.role
        if contact.organization is not None:
            person["worksFor"] = {"@type": "Organization", "name": contact.organization}
        for key, value in (("email", contact.email), ("telephone", contact.phone),
                           ("url", contact.url)):
            if value is not None:
                person[key] = value
        out.append(person)
    return out


def _plain_text(body: str) -> str:
    """A body's text, its paragraphs and other blocks apart by a blank line (``articleBody``
    is text: the HTML is the page's ``sk-article``)."""
    parser = _Text()
    parser.feed(body)
    parser.close()
    return re.sub(r"[ \t]*\n\s*\n\s*", "\n\n", "".join(parser.pieces)).strip()


class _Text(HTMLParser):
    """The text of an HTML fragment, a blank line at each block's edges."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.pieces: list[str] = []

    def handle_starttag(self, tag: str, attrs: Any) -> None:
        if tag in _BLOCKS:
            self.pieces.append("\n\n")
        elif tag == "br":
            self.pieces.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in _BLOCKS:
            self.pieces.append("\n\n")

    def handle_data(self, data: str) -> None:
        self.pieces.append(data)


_BLOCKS = frozenset({"p", "div", "h1", "h2", "h3", "h4", "h5", "h6", "ul", "ol", "li",
                     "blockquote", "pre", "table", "tr", "figure", "figcaption", "hr"})


# Code points that HTML parsers report as errors even when escaped as text: noncharacters.
_NONCHAR = re.compile("[\ufdd0-\ufdef\ufffe\uffff\U0001fffe\U0001ffff\U0002fffe\U0002ffff"
                      "\U0003fffe\U0003ffff\U0004fffe\U0004ffff\U0005fffe\U0005ffff"
                      "\U0006fffe\U0006ffff\U0007fffe\U0007ffff\U0008fffe\U0008ffff"
                      "\U0009fffe\U0009ffff\U000afffe\U000affff\U000bfffe\U000bffff"
                      "\U000cfffe\U000cffff\U000dfffe\U000dffff\U000efffe\U000effff"
                      "\U000ffffe\U000fffff\U0010fffe\U0010ffff]")


def _pieces(collection: Collection, opts: HTMLOptions, registry: Registry | None,
            *, template: str | None = None, links: Links | None = None,
            total: int | None = None, **extra: Any) -> Iterator[str]:
    from storykit import templating

    # (with ``total``, the collection holds page ``opts.page`` alone, of ``total`` stories)
    paged = total is not None and opts.page_size is not None
    count = (max(1, math.ceil((total or 0) / (opts.page_size or 1))) if paged
             else _pages(collection, opts.page_size))
    if opts.page > count:
        per_page = ("(without page_size the whole collection is one page)"
                    if opts.page_size is None else f"of {opts.page_size} stories")
        raise OptionError("html", "page", f"is {opts.page} but the collection has only "
                                          f"{count} page{'s' if count != 1 else ''} {per_page}")
    if opts.page_size is None:
        stories, start = collection.stories, 1
    else:
        start = (opts.page - 1) * opts.page_size + 1
        stories = (collection.stories if paged
                   else collection.stories[start - 1:start - 1 + opts.page_size])
    locale = opts.locale or collection.language
    env = templating.environment(registry, opts.template_dir)
    links = links or Links()
    context: dict[str, Any] = {"heading": None, "site": None, "feed_href": None, **extra}
    return templating.stream(
        env, template or ("fragment.html" if opts.fragment else "page.html"), locale,
        collection=collection,
        stories=stories,
        pagination=Pagination(opts.page, count, start),
        options=opts,
        lang=locale,
        dir=templating.text_direction(locale),
        alternates=alternate_links(opts),
        article_ld=article_ld,
        contacts_ld=contacts_ld,
        render_story=_story_renderer(env),
        story_href=links.story,
        topic_href=links.topic,
        country_href=links.country,
        **context,
    )


def _story_renderer(env: Any) -> Any:
    """``render_story(story)`` for the templates: ``_story.html`` rendered into one piece.

    It renders the template named ``_story.html`` (a theme's, if it has one) as ``{% include
    "_story.html" %}`` would: with the variables of the calling template and ``story``, in a
    context of its own for each story. It is faster than including it in the loop: the
    template is looked up and the variables gathered once per page rather than once per story,
    and the story's pieces are joined here instead of each passing up through every template
    around it (page, block, list) on its way out.
    """
    import jinja2
    from markupsafe import Markup

    template: jinja2.Template | None = None
    caller: jinja2.runtime.Context | None = None
    caller_vars: dict[str, Any] = {}
    parent: dict[str, Any] = {}
    globals_keys: set[str] = set()

    @jinja2.pass_context
    def render_story(context: jinja2.runtime.Context, story: Story) -> Markup:
        nonlocal template, caller, caller_vars, parent, globals_keys
        if context is not caller or not _same_vars(context.vars, caller_vars):
            template = env.get_template("_story.html", context.name)
            caller, caller_vars, parent = context, dict(context.vars), context.get_all()
            globals_keys = set(template.globals)  # a ChainMap: slow to list for each story
        assert template is not None
        story_context = env.context_class(env, parent, template.name, template.blocks)
        story_context.globals_keys = globals_keys
        story_context.vars["story"] = story
        return Markup("".join(template.root_render_func(story_context)))

    return render_story


def _same_vars(a: dict[str, Any], b: dict[str, Any]) -> bool:
    """Whether the calling template set no variable since the last story (same names, same
    objects): usually both are empty."""
    return a.keys() == b.keys() and (not a or all(a[k] is b[k] for k in a))


def _encode(text: str) -> bytes:
    """UTF-8, noncharacters replaced by U+FFFD.

    Every noncharacter's UTF-8 holds ``EF B7`` (U+FDD0..U+FDEF) or ends ``BF BE``/``BF BF``;
    text without those bytes (nearly all) skips the regex, which is slow on non-ASCII text.
    Looking for one byte is a ``memchr``, some thirty times faster than looking for two, so
    the two-byte searches run only when ``EF`` or ``BF`` is there at all.
    """
    data = text.encode()
    if (b"\xef" in data or b"\xbf" in data) and (
            b"\xef\xb7" in data or b"\xbf\xbe" in data or b"\xbf\xbf" in data):
        data = _NONCHAR.sub("\ufffd", text).encode()
    return data


def _write(collection: Collection, out: BinaryIO, opts: HTMLOptions,
           registry: Registry | None = None) -> None:
    pieces = _pieces(collection, opts, registry)
    while batch := list(itertools.islice(pieces, CHUNK_PIECES)):  # batched in C, not per piece
        out.write(_encode("".join(batch)))


def render(collection: Collection, opts: HTMLOptions, *, registry: Registry | None = None,
           template: str | None = None, links: Links | None = None,
           total: int | None = None, **context: Any) -> bytes:
    """One page as bytes: ``template`` (default ``page.html``) with the page's usual variables,
    ``links`` for its titles and tags, and ``context`` (``heading``, ``site``, ``feed_href``,
    a story page's ``story`` and ``body``...) on top. The site writer renders every page so.

    With ``total``, ``collection`` holds the stories of page ``opts.page`` alone, of ``total``
    in all (a page read from a store, which is never loaded whole)."""
    return _encode("".join(_pieces(collection, opts, registry, template=template, links=links,
                                   total=total, **context)))


class HTMLExporter:
    """The ``html`` format: a complete HTML5 page, or with ``fragment=True`` the story list."""

    name = "html"
    media_type = "text/html; charset=utf-8"
    suffix = ".html"
    description = "A press-office page: media contact, numbered stories, photo credits, JSON-LD."
    options_type = HTMLOptions

    def write(self, collection: Collection, out: BinaryIO, **options: Any) -> None:
        """Write one page (page ``page`` of ``page_size`` stories, or all) to ``out``."""
        _write(collection, out, parse_options(self, options, HTMLOptions))

    def write_pages(self, collection: Collection, folder: str | os.PathLike[str],
                    **options: Any) -> list[Path]:
        """Every page into ``folder`` (see :func:`write_pages`); ``page_size`` is required."""
        page_size = options.pop("page_size", None)
        if page_size is None:
            raise OptionError("html", "page_size",
                              "is needed to write pages into a folder (e.g. page_size=10)")
        return write_pages(collection, folder, page_size=page_size, **options)


_PAGE_FILE = re.compile(r"page-([0-9]+)\.html")


def write_pages(collection: Collection, folder: str | os.PathLike[str], *,
                page_size: int, **options: Any) -> list[Path]:
    """Write every page of ``collection`` into ``folder``; return the files written.

    Pages hold ``page_size`` stories each: ``index.html``, ``page-2.html``, ``page-3.html``,
    ..., linked by ``rel="prev"``/``rel="next"``, the list numbered on from page to page. Each
    file is written atomically. Pages left from an earlier, longer run (``page-N.html`` beyond
    the last page) are removed so that no stale page stays reachable. ``options`` are the
    other ``html`` options (``fragment``, ``template_dir``, ``locale``, ...).

    .. code-block:: python

        from storykit.exporters.html import write_pages
        write_pages(col, "build/site", page_size=10)
    """
    from storykit.files import atomic_writer

    exporter = HTMLExporter()
    if "page" in options:
        raise OptionError("html", "page", "is chosen by write_pages() (it writes every page)")
    base = parse_options(exporter, dict(options, page_size=page_size), HTMLOptions)
    assert base.page_size is not None
    count = _pages(collection, base.page_size)
    target = Path(folder)
    written: list[Path] = []
    for number in range(1, count + 1):
        path = target / page_filename(number)
        with atomic_writer(path) as out:
            _write(collection, out, attrs.evolve(base, page=number))
        written.append(path)
    if target.is_dir():
        for stale in target.iterdir():
            m = _PAGE_FILE.fullmatch(stale.name)
            if m and int(m.group(1)) > count and stale.is_file():
                stale.unlink()
    return written


@hookimpl
def register_exporters() -> list[HTMLExporter]:
    """The built-in ``html`` format."""
    return [HTMLExporter()]
