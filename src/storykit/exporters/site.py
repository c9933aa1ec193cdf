"""Site: a complete static site of the collection, written into a folder.

Pages (every link relative, so the folder works from any base URL)::

    index.html, page-2.html, ...        the press-office page, paginated (page_size)
    stories/<id>.html                   a page per story: body, image and credit, links, JSON-LD
    topics/index.html                   every topic, with its page and Atom feed
    topics/<slug>.html, <slug>.atom
    countries/index.html                every country, with its page and Atom feed
    countries/<code>.html, <code>.atom
    digests/index.html                  every ISO week, with its digest's "view in browser" page
    digests/<YYYY>-W<ww>.html
    sitemap.xml

Every page is rendered from the html writer's templates (``page.html``, ``story.html`` and
``links.html`` extend it), so a theme (``template_dir`` or ``register_template_dirs()``)
re-styles the whole site, and each page carries the media contact. The Atom feeds come from the
``atom`` format when one is installed (the storykit-feeds plugin), the digests from the
``email`` format; a site without them says so in a :class:`SiteWarning`.

:func:`render_site` returns the pages as ``{relative path: bytes}``; the ``site`` writer
(``output = "folder"``) writes them, and ``storykit serve`` answers from the same bytes.
"""

from __future__ import annotations

import functools
import os
import re
import shutil
import tempfile
import warnings
from collections.abc import Callable, Iterator, Mapping
from datetime import date, timedelta
from pathlib import Path
from typing import Any, BinaryIO
from xml.sax.saxutils import escape as xml_escape

import attrs

from storykit import _rules as rules
from storykit.collection import Collection
from storykit.exporter import parse_options
from storykit.exporters.html import HTMLOptions, Links, page_filename, render
from storykit.model import Story
from storykit.plugins import Registry, hookimpl

__all__ = ["SiteExporter", "SiteOptions", "SitePages", "SiteWarning", "render_site",
           "week_of", "write_files"]


class SiteWarning(UserWarning):
    """A part of the site that could not be made (no ``atom`` format installed, say)."""


def _base_url(value: str | None) -> str | None:
    if value is None:
        return None
    try:
        url = rules.url(value)
    except rules.Invalid as e:
        raise ValueError(e.message) from None
    return url if url.endswith("/") else url + "/"


def _positive(_: Any, attribute: attrs.Attribute[Any], value: int) -> None:
    if value < 1:
        raise ValueError(f"must be 1 or more (got {value!r})")


@attrs.frozen
class SiteOptions:
    """Options of the ``site`` format."""

    #: Stories per page of the index (``index.html``, ``page-2.html``, ...).
    page_size: int = attrs.field(default=10, validator=_positive)
    #: The URL the site is served from, for the absolute URLs of its feeds and sitemap
    #: (default: the collection's ``url``). Pages themselves link relatively.
    base_url: str | None = attrs.field(default=None, converter=_base_url)
    #: A folder of templates searched before the built-in ones, to re-theme every page.
    template_dir: Path | None = None
    #: The language of the pages' labels and dates (BCP 47); default the collection's.
    locale: str | None = None
    #: An Atom feed per topic and per country (needs the ``atom`` format).
    feeds: bool = True
    #: A page per ISO week with that week's email digest as a web page.
    digests: bool = True


def week_of(when: date) -> str:
    """The ISO week of a date, as the site names its digest pages: ``2021-W07``."""
    year, week, _ = when.isocalendar()
    return f"{year}-W{week:02d}"


def _week_window(week: str) -> tuple[date, date]:
    monday = date.fromisocalendar(int(week[:4]), int(week[6:]), 1)
    # (the last week of 9999 ends in year 10000, past date.max: it ends on date.max)
    return monday, monday + timedelta(days=min(6, (date.max - monday).days))


def _slug(value: str) -> str:
    """A file name for a topic, as story ids are made: ``COVID-19`` -> ``covid-19`` (a topic
    without Latin letters or digits gets a short stable hash)."""
    return rules.slugify(value)


@attrs.frozen
class _Group:
    label: str
    slug: str
    stories: tuple[Story, ...]


def _groups(collection: Collection, key: Callable[[Story], tuple[str, ...]],
            slug: Callable[[str], str]) -> dict[str, _Group]:
    """Stories by topic (or country), keyed by file name; the first spelling seen labels it."""
    found: dict[str, tuple[str, list[Story]]] = {}
    for story in collection:
        for value in key(story):
            stories = found.setdefault(slug(value), (value, []))[1]
            if not stories or stories[-1] is not story:
                stories.append(story)
    return {s: _Group(label, s, tuple(stories)) for s, (label, stories) in sorted(
        found.items(), key=lambda item: item[1][0].casefold())}


class _Site:
    """Everything one rendering needs: options, groups, and the links of each depth."""

    def __init__(self, collection: Collection, opts: SiteOptions,
                 registry: Registry | None) -> None:
        self.collection = collection
        self.opts = opts
        self.registry = registry
        self.locale = opts.locale or collection.language
        self.html = HTMLOptions(template_dir=opts.template_dir, locale=opts.locale,
                                page_size=opts.page_size)
        self.topics = _groups(collection, lambda s: s.topics, _slug)
        self.countries = _groups(collection, lambda s: s.countries, str.lower)
        self.topic_slug = {t.casefold(): g.slug for g in self.topics.values()
                           for s in g.stories for t in s.topics if _slug(t) == g.slug}
        self.base = opts.base_url or (_base_url(collection.url) if collection.url else None)
        self.formats = _formats(registry)
        #: The stories of each ISO week with a digest page, newest week first (empty: the
        #: site has no digests, and the nav does not link them).
        self.weeks: dict[str, tuple[Story, ...]] = _weeks(self) if opts.digests else {}
        self.digests = bool(self.weeks)

    def links(self, root: str) -> Links:
        topic_slug = self.topic_slug
        return Links(
            story=lambda s: f"{root}stories/{s.id}.html",
            topic=lambda t: f"{root}topics/{topic_slug.get(t.casefold(), _slug(t))}.html",
            country=lambda c: f"{root}countries/{c.lower()}.html",
        )

    def nav(self, root: str, digests: bool) -> dict[str, str | None]:
        return {
            "home": f"{root}index.html",
            "topics": f"{root}topics/index.html" if self.topics else None,
            "countries": f"{root}countries/index.html" if self.countries else None,
            "digests": f"{root}digests/index.html" if digests else None,
        }

    def page(self, path: str, collection: Collection, *, template: str = "page.html",
             number: int = 1, **context: Any) -> Callable[[], bytes]:
        """How to render the page at ``path`` (rendered when called)."""
        root = "../" * path.count("/")
        opts = attrs.evolve(self.html, page=number) if template == "page.html" else attrs.evolve(
            self.html, page_size=None)

        def make() -> bytes:
            return render(collection, opts, registry=self.registry, template=template,
                          links=self.links(root), site=self.nav(root, self.digests), **context)

        return make

    def plan(self) -> dict[str, Callable[[], bytes]]:
        """Every file of the site, each with how to render it, nothing rendered yet."""
        collection, opts = self.collection, self.opts
        plan: dict[str, Callable[[], bytes]] = {}
        count = max(1, -(-len(collection) // opts.page_size))
        for number in range(1, count + 1):
            plan[page_filename(number)] = self.page(page_filename(number), collection,
                                                    number=number)
        for story in collection:
            body = getattr(story, "body", None)
            path = f"stories/{story.id}.html"
            plan[path] = self.page(path, collection.replace([story]), template="story.html",
                                   heading=story.title, story=story, body=body)
        feeds = opts.feeds and "atom" in self.formats
        if opts.feeds and not feeds:
            warnings.warn("no 'atom' format installed (pip install storykit-feeds): the site "
                          "has no topic or country feeds", SiteWarning, stacklevel=3)
        for folder, groups, name in (("topics", self.topics, None),
                                     ("countries", self.countries, "country")):
            entries = []
            for group in groups.values():
                label = (group.label if name is None
                         else _country_name(group.label, self.locale))
                sub = collection.replace(group.stories)
                feed = f"{folder}/{group.slug}.atom"
                plan[f"{folder}/{group.slug}.html"] = self.page(
                    f"{folder}/{group.slug}.html", sub, heading=label,
                    feed_href=f"{group.slug}.atom" if feeds else None)
                if feeds:
                    plan[feed] = functools.partial(_atom, self, sub, label, feed)
                entries.append((label, f"{group.slug}.html", len(group.stories), None))
            if groups:
                plan[f"{folder}/index.html"] = self.page(
                    f"{folder}/index.html", collection, template="links.html",
                    heading=_label(folder, self.locale), entries=entries)
        if self.weeks:
            entries = []
            for week, stories in self.weeks.items():
                plan[f"digests/{week}.html"] = functools.partial(_digest, self, week)
                entries.append((week, f"{week}.html", len(stories), None))
            plan["digests/index.html"] = self.page(
                "digests/index.html", collection, template="links.html",
                heading=_label("digests", self.locale), entries=entries)
        plan["sitemap.xml"] = functools.partial(_sitemap, self, list(plan))
        return plan


def _formats(registry: Registry | None) -> dict[str, Any]:
    if registry is None:
        from storykit.plugins import get_registry

        registry = get_registry()
    return registry.formats()


class SitePages(Mapping[str, bytes]):
    """The site's files as a read-only mapping ``{relative path: bytes}`` whose pages are
    rendered when looked up, each on its own (nothing is kept: callers cache what they
    serve). The paths are known at once, so ``path in pages`` renders nothing.
    :func:`render_site` renders every page through this; ``storykit serve`` renders only the
    page asked for, so that both give the same bytes.
    """

    def __init__(self, collection: Collection, *, registry: Registry | None = None,
                 **options: Any) -> None:
        opts = parse_options(SiteExporter(), options, SiteOptions)
        self._plan = _Site(collection, opts, registry).plan()

    def __getitem__(self, path: str) -> bytes:
        return self._plan[path]()

    def __contains__(self, path: object) -> bool:
        return path in self._plan

    def __iter__(self) -> Iterator[str]:
        return iter(self._plan)

    def __len__(self) -> int:
        return len(self._plan)


def render_site(collection: Collection, *, registry: Registry | None = None,
                **options: Any) -> dict[str, bytes]:
    """Every file of the site as ``{relative path: bytes}``, rendered in memory.

    ``options`` are the ``site`` format's (:class:`SiteOptions`); wrong ones raise
    :class:`~storykit.errors.OptionError`. Parts that need a format that is not installed
    (``atom``) are left out with a :class:`SiteWarning`. :class:`SitePages` renders one page
    at a time.
    """
    pages = SitePages(collection, registry=registry, **options)
    return {path: pages[path] for path in pages}


def _label(key: str, locale: str) -> str:
    from storykit import i18n

    labels = {"topics": "Topics", "countries": "Countries", "digests": "Weekly digests"}
    return i18n.gettext(labels[key], locale)


def _country_name(code: str, locale: str) -> str:
    from storykit.templating import country_name

    return country_name(code, locale)


def _atom(site: _Site, sub: Collection, label: str, path: str) -> bytes:
    import storykit

    options: dict[str, Any] = {}
    if site.base is not None:
        options["self_url"] = site.base + path
    titled = Collection(title=f"{sub.title}: {label}", description=sub.description,
                        url=sub.url, language=sub.language, contacts=sub.contacts,
                        stories=sub.stories)
    return storykit.dumps(titled, "atom", **options)


def _weeks(site: _Site) -> dict[str, tuple[Story, ...]]:
    """The stories of each ISO week, newest week first, when the site can have digests: the
    ``email`` format is installed and makes the newest week's (no media contact to send from:
    no digests, with a :class:`SiteWarning`)."""
    from storykit.errors import OptionError

    if "email" not in site.formats:
        return {}
    weeks: dict[str, list[Story]] = {}
    for story in site.collection:
        weeks.setdefault(week_of(story.published), []).append(story)
    out = {week: tuple(weeks[week]) for week in sorted(weeks, reverse=True)}
    if out:
        try:
            _email(site, next(iter(out)), out[next(iter(out))])
        except OptionError as e:
            warnings.warn(f"no weekly digests: {e}", SiteWarning, stacklevel=4)
            return {}
    return out


def _email(site: _Site, week: str, stories: tuple[Story, ...]) -> bytes:
    import storykit

    since, until = _week_window(week)
    return storykit.dumps(site.collection.replace(stories), "email",
                          since=since.isoformat(), until=until.isoformat())


def _digest(site: _Site, week: str) -> bytes:
    """A week's email digest, as its "view in browser" HTML."""
    import email
    from email.message import EmailMessage
    from email.policy import default

    message = email.message_from_bytes(_email(site, week, site.weeks[week]), policy=default)
    assert isinstance(message, EmailMessage)
    part = message.get_body(("html",))
    if part is None:
        raise ValueError(f"the email digest of {week} has no HTML part")
    html = part.get_content()
    return html.encode() if isinstance(html, str) else html


def _sitemap(site: _Site, paths: list[str]) -> bytes:
    """``sitemap.xml``: every HTML page of ``paths``; absolute with a base URL, else
    relative."""
    base = site.base or ""
    lines = ['<?xml version="1.0" encoding="UTF-8"?>',
             '<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">']
    lastmod = {f"stories/{s.id}.html": (s.updated or s.published) for s in site.collection}
    for path in sorted(p for p in paths if p.endswith(".html")):
        lines.append(f"<url><loc>{xml_escape(base + path)}</loc>")
        when = lastmod.get(path)
        if when is not None:
            from storykit.templating import iso

            lines.append(f"<lastmod>{iso(when)}</lastmod>")
        lines.append("</url>")
    lines.append("</urlset>\n")
    return "\n".join(lines).encode()


_SAFE_PATH = re.compile(r"[a-z0-9][a-z0-9._-]*(?:/[a-z0-9][a-z0-9._-]*)*", re.IGNORECASE)


def write_files(files: dict[str, bytes], folder: Path) -> None:
    """Write ``files`` (relative paths, as :func:`render_site` gives them) into ``folder``."""
    for rel, data in files.items():
        if not _SAFE_PATH.fullmatch(rel) or ".." in rel.split("/"):
            raise ValueError(f"refusing to write {rel!r} (not a plain relative path)")
        target = folder / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)


class SiteExporter:
    """The ``site`` format: a folder (``output = "folder"``), written by :meth:`write_path`."""

    name = "site"
    media_type = "text/html; charset=utf-8"
    suffix = ".site"
    description = ("A static site: paginated index, a page per story, topic and country pages "
                   "and feeds, weekly digests, sitemap.")
    options_type = SiteOptions
    output = "folder"

    def write(self, collection: Collection, out: BinaryIO, **options: Any) -> None:
        """A site is a folder, not a stream: always a ValueError."""
        raise ValueError("the site format writes a folder: use storykit.dump(collection, "
                         "'public/', format='site') or export -o FOLDER/")

    def write_path(self, collection: Collection, path: Path, **options: Any) -> int:
        """Render every page first, then write them into ``path`` (made if missing); returns
        the number of stories. A rendering error writes nothing."""
        files = render_site(collection, **options)
        path.mkdir(parents=True, exist_ok=True)
        write_files(files, path)
        return len(collection)

    def write_pages(self, collection: Collection, folder: str | os.PathLike[str],
                    **options: Any) -> list[Path]:
        """The whole site into ``folder``, replacing it only once every page is written.

        It is built in a temporary folder beside ``folder``; then the old folder is moved
        aside, the new one renamed in and the old one removed, so a failed build leaves the
        previous site in place. (``export -o FOLDER/`` calls this until ``storykit.dump``
        swaps folders for every folder writer.)
        """
        target = Path(folder)
        target.parent.mkdir(parents=True, exist_ok=True)
        files = render_site(collection, **options)
        build = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
        old = target.parent / f"{build.name}.old"
        try:
            write_files(files, build)
            if target.exists():
                os.replace(target, old)
            os.replace(build, target)
        finally:
            shutil.rmtree(build, ignore_errors=True)
            shutil.rmtree(old, ignore_errors=True)
        return [target / rel for rel in files]


@hookimpl
def register_exporters() -> list[SiteExporter]:
    """The built-in ``site`` format."""
    return [SiteExporter()]

