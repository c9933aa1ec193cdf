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
    sitemap.xml                         every page (over 50,000: an index of sitemap-1.xml, ...)

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
import io
import os
import re
import shutil
import tempfile
import warnings
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import date
from pathlib import Path
from typing import Any, BinaryIO
from xml.sax.saxutils import escape as xml_escape

import attrs

from storykit import _rules as rules
from storykit.collection import Collection, iso_week
from storykit.email.windows import window
from storykit.exporter import parse_options
from storykit.exporters.html import HTMLOptions, Links, page_filename, render
from storykit.model import Story
from storykit.plugins import Registry, hookimpl
from storykit.store import MemoryStore, Store, day_of

__all__ = ["SITEMAP_URLS", "SiteExporter", "SiteOptions", "SitePages", "SiteWarning",
           "render_site", "week_of", "write_files"]

#: The most URLs one sitemap lists (the sitemaps protocol's limit): a site with more has
#: ``sitemap.xml`` as a sitemap index of ``sitemap-1.xml``, ``sitemap-2.xml``, ... of at most
#: this many each.
SITEMAP_URLS = 50_000


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


def _positive(_: Any, attribute: attrs.Attribute[Any], value: int | None) -> None:
    if value is not None and value < 1:
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
    #: The stories each feed holds: the newest of its topic or country, newest first
    #: (empty, ``-O feed_items=``: every story of the group, for a small site).
    feed_items: int | None = attrs.field(default=50, validator=_positive)
    #: A page per ISO week with that week's email digest as a web page.
    digests: bool = True


#: The ISO week of a date, as the site names its digest pages: ``2021-W07``.
week_of = iso_week


def _week_window(week: str) -> tuple[date, date]:
    # (the last week of 9999 ends in year 10000, past date.max: the window ends on date.max)
    win = window(week=week)
    assert win.since is not None and win.until is not None
    return win.since, win.until


def _slug(value: str) -> str:
    """A file name for a topic, as story ids are made: ``COVID-19`` -> ``covid-19`` (a topic
    without Latin letters or digits gets a short stable hash)."""
    return rules.slugify(value)


@attrs.frozen
class _Group:
    label: str
    slug: str
    #: The store's filter for the group's stories: its topic's spellings, or its country code.
    values: tuple[str, ...]
    count: int


def _groups(store: Store, key: str, slug: Callable[[str], str]) -> dict[str, _Group]:
    """Stories by topic (or country), keyed by file name, by label; a topic's spellings with
    the same file name are one group, labelled by the spelling its first story has.

    A group of one spelling whose filter matches no other (the topic filter ignores case) has
    the store's tally of it as its count, and that spelling as its label (all of them come
    from one pass of ``counts()``); only a group of several spellings is asked for its first
    story and its count."""
    tallies = store.counts(key)
    spellings: dict[str, list[str]] = {}
    for value in tallies:
        spellings.setdefault(slug(value), []).append(value)
    # (a topic filter ignores case: spellings that fold alike match each other's stories)
    folded = Counter(v.casefold() for v in tallies) if key == "topic" else Counter[str]()
    groups = []
    for name, values in spellings.items():
        label = values[0]
        if len(values) == 1 and folded[label.casefold()] <= 1:
            groups.append(_Group(label, name, (label,), tallies[label]))
            continue
        of: dict[str, Any] = {key: values}
        if len(values) > 1 or key == "topic":
            first = store.collection(**of, limit=1).stories
            label = next((v for v in (first[0].topics if first else ()) if slug(v) == name),
                         label)
        _, count = store.query(**of, limit=0)
        groups.append(_Group(label, name, tuple(values), count))
    return {g.slug: g for g in sorted(groups, key=lambda g: g.label.casefold())}


class _Site:
    """Everything one rendering needs: options, groups, and the links of each depth; every
    page is read from the store when it is rendered, so a site of any size is served in flat
    memory (the static build reads a :class:`MemoryStore` of its collection)."""

    def __init__(self, store: Store, opts: SiteOptions, registry: Registry | None,
                 sitemap_urls: int | None = None) -> None:
        self.store = store
        #: The most pages one sitemap lists (default :data:`SITEMAP_URLS`).
        self.sitemap_urls = SITEMAP_URLS if sitemap_urls is None else sitemap_urls
        if self.sitemap_urls < 1:
            raise ValueError(f"sitemap_urls must be 1 or more (got {self.sitemap_urls!r})")
        self.meta = store.meta()
        self.opts = opts
        self.registry = registry
        self.locale = opts.locale or self.meta.language
        self.html = HTMLOptions(template_dir=opts.template_dir, locale=opts.locale,
                                page_size=opts.page_size)
        self.total = store.query(limit=0)[1]
        self.pages = max(1, -(-self.total // opts.page_size))
        self.topics = _groups(store, "topic", _slug)
        self.countries = _groups(store, "country", str.lower)
        self.topic_slug = {t.casefold(): g.slug for g in self.topics.values()
                           for t in g.values}
        self.base = opts.base_url or (_base_url(self.meta.url) if self.meta.url else None)
        self.formats = _formats(registry)
        self.feeds = opts.feeds and "atom" in self.formats
        if opts.feeds and not self.feeds:
            warnings.warn("no 'atom' format installed (pip install storykit-feeds): the site "
                          "has no topic or country feeds", SiteWarning, stacklevel=4)
        #: Whether the site has weekly digests (and the nav links them).
        self.digests = opts.digests and _has_digests(self)

    @functools.cached_property
    def weeks(self) -> dict[str, int]:
        """How many stories each ISO week with a digest page has, newest week first (empty:
        the site has no digests); counted when a digest's page first needs it."""
        return _weeks(self.store) if self.digests else {}

    def links(self, root: str) -> Links:
        topic_slug = self.topic_slug
        return Links(
            story=lambda s: f"{root}stories/{s.id}.html",
            topic=lambda t: f"{root}topics/{topic_slug.get(t.casefold()) or _slug(t)}.html",
            country=lambda c: f"{root}countries/{c.lower()}.html",
        )

    def nav(self, root: str, digests: bool) -> dict[str, str | None]:
        return {
            "home": f"{root}index.html",
            "topics": f"{root}topics/index.html" if self.topics else None,
            "countries": f"{root}countries/index.html" if self.countries else None,
            "digests": f"{root}digests/index.html" if digests else None,
        }

    def render(self, path: str, collection: Collection, *, template: str = "page.html",
               number: int = 1, total: int | None = None, **context: Any) -> bytes:
        """The page at ``path``: ``collection`` holds its stories (with ``total``, page
        ``number`` of that many)."""
        root = "../" * path.count("/")
        opts = attrs.evolve(self.html, page=number) if template == "page.html" else attrs.evolve(
            self.html, page_size=None)
        return render(collection, opts, registry=self.registry, template=template,
                      links=self.links(root), site=self.nav(root, self.digests), total=total,
                      **context)

    # --- the pages, each read from the store when rendered ---------------------------------

    def index(self, number: int) -> bytes:
        size = self.opts.page_size
        page = self.store.collection(offset=(number - 1) * size, limit=size)
        return self.render(page_filename(number), page, number=number, total=self.total)

    def story(self, story: Story) -> bytes:
        return self.render(f"stories/{story.id}.html", self.meta.replace([story]),
                           template="story.html", heading=story.title, story=story,
                           body=getattr(story, "body", None))

    def group(self, folder: str, group: _Group) -> bytes:
        first = self.store.collection(**_of(folder, group), limit=self.opts.page_size)
        return self.render(f"{folder}/{group.slug}.html", first, heading=self.label(folder, group),
                           total=group.count,
                           feed_href=f"{group.slug}.atom" if self.feeds else None)

    def feed(self, folder: str, group: _Group) -> bytes:
        """The group's newest ``feed_items`` stories, newest first, as Atom."""
        newest, _ = self.store.query(**_of(folder, group), limit=self.opts.feed_items)
        return _atom(self, self.meta.replace(newest), self.label(folder, group),
                     f"{folder}/{group.slug}.atom")

    def label(self, folder: str, group: _Group) -> str:
        return group.label if folder == "topics" else _country_name(group.label, self.locale)

    def listing(self, folder: str) -> bytes:
        """``topics/index.html``, ``countries/index.html`` or ``digests/index.html``."""
        if folder == "digests":
            entries = [(week, f"{week}.html", n, None) for week, n in self.weeks.items()]
        else:
            groups = self.topics if folder == "topics" else self.countries
            entries = [(self.label(folder, g), f"{g.slug}.html", g.count, None)
                       for g in groups.values()]
        return self.render(f"{folder}/index.html", self.meta, template="links.html",
                           heading=_label(folder, self.locale), entries=entries)

    def resolve(self, path: str) -> Callable[[], bytes] | None:
        """How to render the page at ``path``, or None when the site has no such page."""
        if path == "sitemap.xml":
            return functools.partial(_sitemap, self)
        if path.startswith("sitemap-") and path.endswith(".xml"):
            part = _number(path[8:-4])
            if part is None or not 1 <= part <= self.sitemap_parts():
                return None
            return functools.partial(_sitemap_part, self, part)
        if path == "index.html" or (path.startswith("page-") and path.endswith(".html")):
            number = 1 if path == "index.html" else _number(path[5:-5])
            if number is None or not (path == "index.html" or 2 <= number <= self.pages):
                return None
            return functools.partial(self.index, number)
        folder, _, name = path.partition("/")
        if folder == "stories" and name.endswith(".html"):
            story = self.store.get(name[:-5])
            if story is None or f"{story.id}.html" != name:
                return None
            return functools.partial(self.story, story)
        if folder in ("topics", "countries"):
            groups = self.topics if folder == "topics" else self.countries
            if name == "index.html" and groups:
                return functools.partial(self.listing, folder)
            slug, _, suffix = name.rpartition(".")
            group = groups.get(slug)
            if group is None or not (suffix == "html" or (suffix == "atom" and self.feeds)):
                return None
            return functools.partial(self.group if suffix == "html" else self.feed, folder,
                                     group)
        if folder == "digests" and self.weeks:
            if name == "index.html":
                return functools.partial(self.listing, folder)
            if name.endswith(".html") and name[:-5] in self.weeks:
                return functools.partial(_digest, self, name[:-5])
        return None

    def others(self) -> list[str]:
        """The files of the topics, countries and digests (a few per group and per week)."""
        out = []
        for folder, groups in (("topics", self.topics), ("countries", self.countries)):
            for group in groups.values():
                out.append(f"{folder}/{group.slug}.html")
                if self.feeds:
                    out.append(f"{folder}/{group.slug}.atom")
            if groups and "index" not in groups:  # (a topic "index": the listing is its page)
                out.append(f"{folder}/index.html")
        if self.weeks:
            out += [f"digests/{week}.html" for week in self.weeks]
            out.append("digests/index.html")
        return out

    def paths(self) -> Iterator[str]:
        """Every file of the site, in order: the index pages, the story pages (in the
        store's order, read a page at a time), the topics, countries and digests, and the
        sitemap."""
        for number in range(1, self.pages + 1):
            yield page_filename(number)
        for story in self.store.stream():
            yield f"stories/{story.id}.html"
        yield from self.others()
        yield "sitemap.xml"
        for part in range(1, self.sitemap_parts() + 1):
            yield f"sitemap-{part}.xml"

    # --- the sitemap: every HTML page, in parts of at most sitemap_urls -------------------

    def sitemap_size(self) -> tuple[int, list[str]]:
        """How many HTML pages the site has, and those of its topics, countries and
        digests."""
        others = [path for path in self.others() if path.endswith(".html")]
        return self.pages + self.total + len(others), others

    def sitemap_parts(self) -> int:
        """How many parts the sitemap has: 0 when ``sitemap.xml`` lists every page itself."""
        size, _ = self.sitemap_size()
        return 0 if size <= self.sitemap_urls else -(-size // self.sitemap_urls)

    def sitemap_entries(self, start: int = 0,
                        stop: int | None = None) -> Iterator[tuple[str, date | None]]:
        """The HTML pages ``start:stop`` (with a story page's last change) in the sitemap's
        order: the index pages, the story pages by id (read from the store a few at a time),
        the rest."""
        size, others = self.sitemap_size()
        stop = size if stop is None else min(stop, size)
        pages, stories = self.pages, self.total
        for number in range(start + 1, min(stop, pages) + 1):
            yield page_filename(number), None
        if start < pages + stories and stop > pages:
            first = max(start - pages, 0)
            for sid, when in self.store.lastmods(offset=first,
                                                 limit=min(stop - pages, stories) - first):
                yield f"stories/{sid}.html", when
        for path in others[max(start - pages - stories, 0):max(stop - pages - stories, 0)]:
            yield path, None


def _of(folder: str, group: _Group) -> dict[str, Any]:
    """The store's filter for the stories of a group of ``folder``."""
    return {"topic" if folder == "topics" else "country": list(group.values)}


def _number(text: str) -> int | None:
    """A page number as the site writes it (``2``, never ``02``), else None."""
    if not text.isascii() or not text.isdigit() or str(int(text)) != text:
        return None
    return int(text)


def _formats(registry: Registry | None) -> dict[str, Any]:
    if registry is None:
        from storykit.plugins import get_registry

        registry = get_registry()
    return registry.formats()


class SitePages(Mapping[str, bytes]):
    """The site's files as a read-only mapping ``{relative path: bytes}`` whose pages are
    rendered when looked up, each on its own (nothing is kept: callers cache what they
    serve). ``source`` is a collection or a :class:`~storykit.store.Store`: every page reads
    only its own stories from the store, so ``storykit serve archive.db`` never loads the
    archive. ``path in pages`` renders nothing. :func:`render_site` renders every page
    through this; ``storykit serve`` renders only the page asked for, so that both give the
    same bytes. A site of more than ``sitemap_urls`` pages (default :data:`SITEMAP_URLS`)
    has ``sitemap.xml`` as a sitemap index of parts ``sitemap-1.xml``, ... each rendered on
    its own, its story pages read from the store a few at a time.
    """

    def __init__(self, source: Collection | Store, *, registry: Registry | None = None,
                 sitemap_urls: int | None = None, **options: Any) -> None:
        opts = parse_options(SiteExporter(), options, SiteOptions)
        store = MemoryStore(source) if isinstance(source, Collection) else source
        self._site = _Site(store, opts, registry, sitemap_urls)

    def __getitem__(self, path: str) -> bytes:
        make = self._site.resolve(path) if isinstance(path, str) else None
        if make is None:
            raise KeyError(path)
        return make()

    def __contains__(self, path: object) -> bool:
        return isinstance(path, str) and self._site.resolve(path) is not None

    def __iter__(self) -> Iterator[str]:
        return self._site.paths()

    def __len__(self) -> int:
        return sum(1 for _ in self._site.paths())


def render_site(collection: Collection, *, registry: Registry | None = None,
                sitemap_urls: int | None = None, **options: Any) -> dict[str, bytes]:
    """Every file of the site as ``{relative path: bytes}``, rendered in memory.

    ``options`` are the ``site`` format's (:class:`SiteOptions`); wrong ones raise
    :class:`~storykit.errors.OptionError`. Parts that need a format that is not installed
    (``atom``) are left out with a :class:`SiteWarning`. A site of more than
    ``sitemap_urls`` pages (default :data:`SITEMAP_URLS`) has a sitemap index and its
    parts. :class:`SitePages` renders one page at a time.
    """
    pages = SitePages(collection, registry=registry, sitemap_urls=sitemap_urls, **options)
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


def _has_digests(site: _Site) -> bool:
    """Whether the site can have digests: it has stories, and the ``email`` format is
    installed and makes a digest (checked with the store's first story alone, in its week: the
    options, the contacts and the templates are what can fail; no media contact to send from:
    no digests, with a :class:`SiteWarning`)."""
    from storykit.errors import OptionError

    if "email" not in site.formats or not site.total:
        return False
    first = site.store.collection(limit=1)
    try:
        _email(site, week_of(date.fromisoformat(day_of(first[0]))), first)
    except OptionError as e:
        warnings.warn(f"no weekly digests: {e}", SiteWarning, stacklevel=5)
        return False
    return True


def _weeks(store: Store) -> dict[str, int]:
    """How many stories each ISO week has, newest week first."""
    weeks: dict[str, int] = {}
    for day, count in store.counts("day").items():
        week = week_of(date.fromisoformat(day))
        weeks[week] = weeks.get(week, 0) + count
    return {week: weeks[week] for week in sorted(weeks, reverse=True)}


def _email(site: _Site, week: str, stories: Collection | None = None) -> bytes:
    """The digest of ``week``: its stories (or only ``stories``)."""
    import storykit

    since, until = (day.isoformat() for day in _week_window(week))
    if stories is None:
        stories = site.store.collection(since=since, until=until)
    return storykit.dumps(stories, "email", since=since, until=until)


def _digest(site: _Site, week: str) -> bytes:
    """A week's email digest, as its "view in browser" HTML."""
    import email
    from email.message import EmailMessage
    from email.policy import default

    message = email.message_from_bytes(_email(site, week), policy=default)
    assert isinstance(message, EmailMessage)
    part = message.get_body(("html",))
    if part is None:
        raise ValueError(f"the email digest of {week} has no HTML part")
    html = part.get_content()
    return html.encode() if isinstance(html, str) else html


_SITEMAP_HEAD = '<?xml version="1.0" encoding="UTF-8"?>\n<{} xmlns="{}">\n'
_SITEMAP_NS = "http://www.sitemaps.org/schemas/sitemap/0.9"


def _sitemap(site: _Site) -> bytes:
    """``sitemap.xml``: every HTML page of the site in path order (absolute with a base URL,
    else relative); for a site of more than ``sitemap_urls`` pages, the sitemap index of its
    parts."""
    parts = site.sitemap_parts()
    if not parts:
        return _urlset(site, sorted(site.sitemap_entries()))
    base = site.base or ""
    out = io.StringIO()
    out.write(_SITEMAP_HEAD.format("sitemapindex", _SITEMAP_NS))
    for part in range(1, parts + 1):
        out.write(f"<sitemap><loc>{xml_escape(f'{base}sitemap-{part}.xml')}</loc></sitemap>\n")
    out.write("</sitemapindex>\n")
    return out.getvalue().encode()


def _sitemap_part(site: _Site, part: int) -> bytes:
    """``sitemap-<part>.xml``: the part's ``sitemap_urls`` pages, read from the store as they
    are written (the index pages, the story pages by id, the rest)."""
    size = site.sitemap_urls
    return _urlset(site, site.sitemap_entries((part - 1) * size, part * size))


def _urlset(site: _Site, entries: Iterable[tuple[str, date | None]]) -> bytes:
    """A sitemap of ``entries`` (path, last change or None)."""
    from storykit.templating import iso

    base = site.base or ""
    out = io.StringIO()
    out.write(_SITEMAP_HEAD.format("urlset", _SITEMAP_NS))
    for path, when in entries:
        out.write(f"<url><loc>{xml_escape(base + path)}</loc>\n")
        if when is not None:
            out.write(f"<lastmod>{iso(when)}</lastmod>\n")
        out.write("</url>\n")
    out.write("</urlset>\n")
    return out.getvalue().encode()


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

