"""The site read from a Store a page at a time: the static build is unchanged, and
``storykit serve archive.db`` serves every page without loading the archive.

``site_golden.json`` holds each file's SHA-256 of the static site as storykit built it before
its pages were read from a store (the example, and :func:`generated`); after a deliberate
change of the pages, write it again with ``python tests/test_site_store.py``.
"""

from __future__ import annotations

import hashlib
import json
import random
import xml.etree.ElementTree as ET
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from unittest.mock import patch

import attrs
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from starlette.testclient import TestClient

import storykit
from storykit import Collection, Image, MediaContact, Story
from storykit import sqlite as sk
from storykit.exporters import site as site_module
from storykit.exporters.site import SitePages, render_site
from storykit.sqlite import SqliteStore
from storykit.store import MemoryStore, day_of
from storykit.testing import collections
from storykit.web import create_app

GOLDEN = Path(__file__).with_name("site_golden.json")
EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "impact-and-people" / "stories.json"

#: Topics spelled several ways (one file each, or one for several), and a topic whose file
#: name is the topics' own index.
_TOPICS = ["Child labour", "child labour", "CHILD LABOUR", "Child-labour", "COVID-19",
           "covid 19", "Green jobs", "Égalité", "egalite", "Index", "Straße"]


def generated() -> Collection:
    """45 stories over some ISO weeks: dates and datetimes with offsets either side of
    midnight and of the weeks' edges, topics spelled several ways, bodies, images."""
    rng = random.Random(23)
    start = datetime(2020, 12, 27, 22, 0, tzinfo=timezone(timedelta(hours=-5)))
    stories = []
    for i in range(45):
        moment = start + timedelta(hours=17 * i)
        when: date | datetime = (moment.date() if i % 3 == 0 else moment.astimezone(
            timezone(timedelta(hours=rng.choice([-11, -5, 0, 5, 14])))))
        stories.append(Story(
            title=f"Story {i}: {rng.choice(['Miners', 'Nurses', 'Fishers'])} in the field",
            published=when, summary=f"Summary {i} of a story.",
            topics=tuple(rng.sample(_TOPICS, rng.randint(0, 3))),
            countries=tuple(rng.sample(["LK", "MD", "BR", "FR"], rng.randint(0, 2))),
            image=Image(url=f"https://img.example.org/{i}.jpg", alt=f"Picture {i}")
            if i % 4 == 0 else None,
            body=f"<p>Body of story {i}.</p>" if i % 5 == 0 else None,
            updated=moment + timedelta(days=1) if i % 7 == 0 else None))
    return Collection(title="Generated", description="Stories made for the site's tests.",
                      url="https://news.example.org/", language="en",
                      contacts=[MediaContact(name="Press desk", email="press@example.org")],
                      stories=stories)


def _cases() -> dict[str, tuple[Collection, dict[str, Any]]]:
    example = storykit.load(EXAMPLE)
    return {"example": (example, {}),
            "example-paged": (example, {"base_url": "https://news.example.org/site/",
                                        "page_size": 4}),
            "generated": (generated(), {"page_size": 3}),
            "generated-plain": (generated(), {"feeds": False, "digests": False})}


def _manifest(files: dict[str, bytes]) -> list[list[str]]:
    return [[path, hashlib.sha256(data).hexdigest()] for path, data in files.items()]


def test_the_static_site_is_unchanged() -> None:
    """Every file of the static site, in order, has the bytes it had when the site was
    rendered from the collection itself (before its pages were read from a store)."""
    golden = json.loads(GOLDEN.read_text())
    for name, (col, options) in _cases().items():
        assert _manifest(render_site(col, **options)) == golden[name], name


class _NothingWhole(SqliteStore):
    """An archive that refuses to be read whole: collection() without a limit or a filter
    raises. It records what each call gave."""

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self.calls: list[tuple[dict[str, Any], int | None, int]] = []

    def collection(self, *, offset: int = 0, limit: int | None = None,
                   **criteria: Any) -> Collection:
        if limit is None and not any(v is not None for v in criteria.values()):
            raise AssertionError("the whole archive was asked for")
        got = super().collection(offset=offset, limit=limit, **criteria)
        self.calls.append((criteria, limit, len(got)))
        return got


def _served_as_built(col: Collection, tmp_path: Path, **options: Any) -> _NothingWhole:
    """Serve ``col`` from an SQLite archive; every page of its static site (newest first, the
    archive's order) is served with the same bytes."""
    path = tmp_path / "archive.db"
    path.unlink(missing_ok=True)
    sk.write(col, path, datasette=False)
    newest = storykit.load(path).sort(by="published", reverse=True)
    store = _NothingWhole(path)
    with TestClient(create_app(store)) as client:
        for page, data in render_site(newest, **options).items():
            r = client.get("/" + page, headers={"accept-encoding": "identity"})
            assert r.status_code == 200, page
            assert r.content == data, page
        assert client.get("/stories/no-such-story.html").status_code == 404
        assert client.get("/page-0.html").status_code == 404
        assert client.get("/topics/no-such-topic.html").status_code == 404
    store.close()
    return store


def test_served_pages_read_the_archive_a_page_at_a_time(tmp_path: Path) -> None:
    """The example and the generated collection, served from their archives: every page as
    the static site's, and no page asks for the whole archive (an index page for no more
    stories than it shows)."""
    for col in (storykit.load(EXAMPLE), generated()):
        store = _served_as_built(col, tmp_path)
        assert store.calls
        for criteria, limit, got in store.calls:
            assert limit is not None or criteria
            if not criteria:
                assert limit is not None and got <= limit


@settings(max_examples=12, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                 HealthCheck.function_scoped_fixture])
@given(col=collections(max_size=10))
def test_any_collection_is_served_from_its_archive_as_built(col: Collection,
                                                            tmp_path: Path) -> None:
    """Any collection: the site served from its SQLite archive is its static site."""
    _served_as_built(col, tmp_path)


@settings(max_examples=25, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                 HealthCheck.function_scoped_fixture])
@given(col=collections(min_size=1), offset=st.integers(0, 4),
       limit=st.none() | st.integers(0, 4), data=st.data())
def test_a_page_of_a_selection_in_the_stores_order(col: Collection, offset: int,
                                                   limit: int | None, data: st.DataObject,
                                                   tmp_path: Path) -> None:
    """collection(offset=, limit=, **criteria) is the slice of Collection.filter's stories in
    the store's own order (a MemoryStore's: the collection's; an archive's: newest first),
    for lists of topics or countries and date windows (the site's pages)."""
    days = sorted(day_of(s) for s in col)
    criteria = data.draw(st.sampled_from([
        {}, {"topic": sorted({t for s in col for t in s.topics})[:2] or ["none"]},
        {"country": sorted({c for s in col for c in s.countries})[:2] or ["FR"]},
        {"since": days[len(days) // 2], "until": days[-1]}, {"until": days[0]},
        {"since": days[0] + "T14:00:00+14:00"}]))
    path = tmp_path / "a.db"
    path.unlink(missing_ok=True)
    sk.write(col, path, datasette=False)
    end = None if limit is None else offset + limit
    with SqliteStore(path) as archive:
        for store, order in ((MemoryStore(col), col),
                             (archive, col.sort("published", reverse=True))):
            got = store.collection(offset=offset, limit=limit, **criteria)
            assert list(got) == list(order.filter(**criteria))[offset:end]
            assert got.title == col.title and got.contacts == col.contacts
            assert store.counts("day") == {d: days.count(d) for d in days}


def test_pages_of_a_store_only_when_asked(tmp_path: Path) -> None:
    """SitePages of a store knows its paths without rendering; a story page looks the story
    up (a path that is not a page is a KeyError)."""
    path = tmp_path / "archive.db"
    col = generated()
    sk.write(col, path, datasette=False)
    with _NothingWhole(path) as store:
        pages = SitePages(store, page_size=3)
        assert "page-15.html" in pages and "page-16.html" not in pages
        assert "page-02.html" not in pages and "page-1.html" not in pages
        assert f"stories/{col[4].id}.html" in pages
        assert "stories/nothing.html" not in pages and "../etc/passwd" not in pages
        with pytest.raises(KeyError):
            pages["topics/nothing.atom"]
        assert len(pages) == len(list(pages))


_NS = {"s": "http://www.sitemaps.org/schemas/sitemap/0.9"}
_INDEX = "{http://www.sitemaps.org/schemas/sitemap/0.9}sitemapindex"
_URLSET = "{http://www.sitemaps.org/schemas/sitemap/0.9}urlset"


def _sitemap_urls(files: dict[str, bytes], base: str) -> list[tuple[str, str | None]]:
    """Every (URL, lastmod) the site's sitemap lists, through its index when it has one,
    checking that the index names only the parts the site has, each within the limit."""
    root = ET.fromstring(files["sitemap.xml"])
    if root.tag != _INDEX:
        parts = [root]
    else:
        names = [loc.text or "" for loc in root.findall("s:sitemap/s:loc", _NS)]
        assert names == [f"{base}sitemap-{i}.xml" for i in range(1, len(names) + 1)]
        assert sorted(p for p in files if p.startswith("sitemap-")) == sorted(
            n.removeprefix(base) for n in names)
        parts = [ET.fromstring(files[n.removeprefix(base)]) for n in names]
    urls = []
    for part in parts:
        assert part.tag == _URLSET
        found = part.findall("s:url", _NS)
        assert found
        urls += [(u.findtext("s:loc", namespaces=_NS) or "",
                  u.findtext("s:lastmod", namespaces=_NS)) for u in found]
    return urls


@pytest.mark.parametrize("limit", [1, 2, 7, 10, 1000])
@pytest.mark.parametrize("base_url", [None, "https://news.example.org/site/"])
@pytest.mark.parametrize("url", [None, "https://news.example.org/"])
def test_a_big_sitemap_is_an_index_of_parts(limit: int, base_url: str | None,
                                            url: str | None) -> None:
    """A site of more pages than one sitemap may list has sitemap.xml as a sitemap index of
    parts of at most that many: every HTML page of the site is listed exactly once across
    them, a story page with its last change; a site within the limit keeps one sitemap."""
    from storykit.templating import iso

    col = attrs.evolve(generated(), url=url)
    options: dict[str, Any] = {"page_size": 4}
    if base_url is not None:
        options["base_url"] = base_url
    files = render_site(col, sitemap_urls=limit, **options)
    base = base_url or url or ""  # (absolute under the site's URL, else relative)
    urls = _sitemap_urls(files, base)
    html = sorted(p for p in files if p.endswith(".html"))
    assert sorted(u for u, _ in urls) == [base + p for p in html]  # (each exactly once)
    changed = {f"{base}stories/{s.id}.html": iso(s.updated or s.published) for s in col}
    assert dict(urls) == {base + p: changed.get(base + p) for p in html}
    index = ET.fromstring(files["sitemap.xml"]).tag == _INDEX
    assert index == (len(html) > limit)
    if index:
        for name in (p for p in files if p.startswith("sitemap-")):
            assert len(ET.fromstring(files[name]).findall("s:url", _NS)) <= limit
    else:
        assert files == render_site(col, **options)  # (the one sitemap of today)


def test_served_sitemap_parts_are_the_static_ones(tmp_path: Path) -> None:
    """``storykit serve archive.db`` serves the sitemap index and each part as the static
    site has them, each part read from the archive on its own."""
    col = generated()
    path = tmp_path / "archive.db"
    sk.write(col, path, datasette=False)
    newest = storykit.load(path).sort(by="published", reverse=True)
    with patch.object(site_module, "SITEMAP_URLS", 9):
        built = render_site(newest)
        assert "sitemap-2.xml" in built
        with _NothingWhole(path) as store, TestClient(create_app(store)) as client:
            for name in [p for p in built if p.startswith("sitemap")]:
                assert client.get("/" + name).content == built[name], name
            parts = sum(p.startswith("sitemap-") for p in built)
            assert client.get(f"/sitemap-{parts + 1}.xml").status_code == 404
            assert client.get("/sitemap-0.xml").status_code == 404
            assert client.get("/sitemap-01.xml").status_code == 404


def _write_golden() -> None:
    lines = ",\n".join(f"{json.dumps(name)}: [\n" + ",\n".join(
        json.dumps(entry) for entry in _manifest(render_site(col, **options))) + "\n]"
        for name, (col, options) in _cases().items())
    GOLDEN.write_text("{\n" + lines + "\n}\n")


if __name__ == "__main__":
    _write_golden()
