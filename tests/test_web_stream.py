"""``/stories.FORMAT`` of any size: ``json`` and ``csv`` are written while they are sent, read
from the store a page at a time, with the bytes of the writer's whole output; their validators
come from the content's version and the URL; errors come before the first byte; the formats
written whole answer a page at a time. The site's feeds hold their group's newest stories."""

from __future__ import annotations

import gzip
import http.client
import itertools
import threading
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import brotli
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from starlette.testclient import TestClient

import storykit
from storykit import Collection, Story
from storykit import sqlite as sk
from storykit.exporters.site import render_site
from storykit.sqlite import SqliteStore
from storykit.store import MemoryStore, day_of
from storykit.testing import collections
from storykit.web import create_app
from storykit.web.pages import MAX_WHOLE

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "impact-and-people" / "stories.json"
ATOM = "{http://www.w3.org/2005/Atom}"
DECODE = {"identity": bytes, "gzip": gzip.decompress, "br": brotli.decompress}


def _many(n: int, title: str = "Many") -> Collection:
    """``n`` stories over the days before 2024-01-01, some on the same day (ties by id)."""
    start = date(2024, 1, 1)
    return Collection(title=title, language="en", stories=[
        Story(title=f"Story {i} of {n}", published=start - timedelta(days=i // 3),
              summary=f"Summary {i}.", topics=("even" if i % 2 == 0 else "odd",),
              countries=("FR",) if i % 5 == 0 else ())
        for i in range(n)])


def _get(client: TestClient, url: str, coding: str = "identity",
         **params: str) -> tuple[int, bytes, dict[str, str]]:
    """Status, body (decoded from ``coding``) and headers of a GET."""
    with client.stream("GET", url, params=params, headers={"accept-encoding": coding}) as r:
        raw = b"".join(r.iter_raw())
        if r.status_code == 200:
            assert r.headers.get("content-encoding", "identity") == coding
            raw = DECODE[coding](raw)
        return r.status_code, raw, dict(r.headers)


@settings(max_examples=15, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                 HealthCheck.function_scoped_fixture])
@given(col=collections(max_size=8), data=st.data())
def test_a_streamed_selection_is_the_writers_bytes(col: Collection, data: st.DataObject,
                                                  tmp_path: Path) -> None:
    """/stories.json and /stories.csv, from a collection and from its archive, in every
    coding: the bytes of storykit.dumps() of the store's collection of the same selection."""
    days = sorted(day_of(s) for s in col) or ["2021-01-01"]
    query = data.draw(st.sampled_from([
        {}, {"topic": sorted({t for s in col for t in s.topics} or {"none"})[0]},
        {"country": sorted({c for s in col for c in s.countries} or {"FR"})[0]},
        {"since": days[len(days) // 2]}]))
    path = tmp_path / "a.db"
    path.unlink(missing_ok=True)
    sk.write(col, path, datasette=False)
    with SqliteStore(path) as archive:
        for store in (MemoryStore(col), archive):
            with TestClient(create_app(store)) as client:
                for name in ("json", "csv"):
                    want = storykit.dumps(store.collection(**query), name)
                    coding = data.draw(st.sampled_from(sorted(DECODE)))
                    status, got, headers = _get(client, f"/stories.{name}", coding, **query)
                    assert status == 200
                    assert got == want, (name, coding, query)
                    assert headers["x-total-count"] == str(store.query(**query)[1])


class _Paged(SqliteStore):
    """An archive that refuses to be read whole: query() and collection() answer at most a
    page (the site's, the API's); it counts the selections read by stream()."""

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self.streams = 0

    def query(self, **kwargs: Any) -> tuple[list[Story], int]:
        assert kwargs.get("limit") is not None and kwargs["limit"] <= 100, kwargs
        return super().query(**kwargs)

    def collection(self, **kwargs: Any) -> Collection:
        assert kwargs.get("limit") is not None and kwargs["limit"] <= MAX_WHOLE, kwargs
        return super().collection(**kwargs)

    def stream(self, **criteria: Any) -> Iterator[Story]:
        self.streams += 1
        return super().stream(**criteria)


@pytest.fixture(scope="module")
def big(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Collection]:
    """An archive of 2,500 stories (more than two of the store's pages), and its stories
    newest first."""
    path = tmp_path_factory.mktemp("big") / "archive.db"
    col = _many(2500)
    sk.write(col, path, datasette=False)
    return path, col.sort("published", reverse=True)


def test_a_big_archive_is_streamed_through_uvicorn(big: tuple[Path, Collection]) -> None:
    """Through a real server, all 2,500 stories of an archive as json and csv (and a topic's),
    though the store never gives more than a page at once: the writers' bytes."""
    from server_support import Server

    path, newest = big
    store = _Paged(path)
    server = Server(create_app(store))
    base = server.start()
    try:
        for name, query, want in (
                ("json", "", storykit.dumps(newest, "json")),
                ("csv", "", storykit.dumps(newest, "csv")),
                ("csv", "?topic=odd", storykit.dumps(newest.filter(topic="odd"), "csv"))):
            conn = http.client.HTTPConnection(urlsplit(base).netloc, timeout=60)
            conn.request("GET", f"/stories.{name}{query}", headers={"accept-encoding": "gzip"})
            r = conn.getresponse()
            assert r.status == 200 and r.getheader("transfer-encoding") == "chunked"
            assert gzip.decompress(r.read()) == want, (name, query)
            conn.close()
        assert store.streams == 3
    finally:
        server.stop()
        store.close()


class _Endless(MemoryStore):
    """A store whose every selection never ends (a story after another, for ever)."""

    def stream(self, **criteria: Any) -> Iterator[Story]:
        super().stream(**criteria)  # (the criteria checked, as the store checks them)
        return (Story(title=f"Story {i}", published=date(2021, 1, 1), summary="Again.")
                for i in itertools.count())


def _writers() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "storykit-stream"]


def test_the_writer_stops_when_the_client_goes() -> None:
    """A client that leaves in the middle of an endless answer: the server stops writing it
    (its writer thread ends) and goes on answering."""
    from server_support import Server

    server = Server(create_app(_Endless(storykit.load(EXAMPLE))))
    base = server.start()
    try:
        conn = http.client.HTTPConnection(urlsplit(base).netloc, timeout=60)
        conn.request("GET", "/stories.json")
        r = conn.getresponse()
        assert r.status == 200 and r.read(100_000).startswith(b'{"contacts":')
        assert _writers()
        conn.close()
        deadline = time.monotonic() + 60
        while _writers() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not _writers(), "the writer goes on writing for a client that has gone"
        conn = http.client.HTTPConnection(urlsplit(base).netloc, timeout=60)
        conn.request("GET", "/api/topics")
        assert conn.getresponse().status == 200
        conn.close()
    finally:
        server.stop()


class _Watched(_Endless):
    """Endless selections that count how many are being read at once."""

    def __init__(self, collection: Collection) -> None:
        super().__init__(collection)
        self.lock = threading.Lock()
        self.reading = self.most = 0

    def stream(self, **criteria: Any) -> Iterator[Story]:
        endless = super().stream(**criteria)

        def watched() -> Iterator[Story]:
            with self.lock:
                self.reading += 1
                self.most = max(self.most, self.reading)
            try:
                yield from endless
            finally:
                with self.lock:
                    self.reading -= 1

        return watched()


def test_at_most_writers_bodies_are_written_at_once() -> None:
    """More clients than WRITERS at once: WRITERS bodies are written, the others wait their
    turn (so memory stays flat), and one starts when a client leaves."""
    from server_support import Server

    from storykit.web.http import WRITERS

    store = _Watched(storykit.load(EXAMPLE))
    server = Server(create_app(store))
    netloc = urlsplit(server.start()).netloc
    conns = []
    try:
        for _ in range(WRITERS + 2):
            conn = http.client.HTTPConnection(netloc, timeout=60)
            conn.request("GET", "/stories.json")
            conns.append((conn, conn.getresponse()))
        for _, r in conns[:WRITERS]:
            assert r.status == 200 and r.read(100_000)
        assert store.most == WRITERS
        conns[0][0].close()
        _, waiting = conns[WRITERS]
        assert waiting.status == 200 and waiting.read(100_000)  # (its turn has come)
        assert store.most == WRITERS
    finally:
        for conn, _ in conns:
            conn.close()
        deadline = time.monotonic() + 60
        while _writers() and time.monotonic() < deadline:
            time.sleep(0.05)
        server.stop()
    assert not _writers()


class _Counted(MemoryStore):
    def __init__(self, collection: Collection) -> None:
        super().__init__(collection)
        self.streams = 0

    def stream(self, **criteria: Any) -> Iterator[Story]:
        self.streams += 1
        return super().stream(**criteria)


def test_validators_of_a_stream_come_without_writing_it() -> None:
    """A streamed answer's ETag is the content's version and the URL's: a conditional GET is a
    304 and a HEAD has the GET's headers, and neither reads a story; another query has
    another ETag."""
    store = _Counted(storykit.load(EXAMPLE))
    with TestClient(create_app(store)) as client:
        r = client.get("/stories.json")
        assert store.streams == 1
        etag = r.headers["etag"]
        again = client.get("/stories.json", headers={"if-none-match": etag})
        assert again.status_code == 304 and again.content == b""
        assert again.headers["etag"] == etag
        head = client.head("/stories.json")
        assert head.status_code == 200 and head.content == b""
        assert head.headers["etag"] == etag and head.headers["x-total-count"] == "10"
        assert store.streams == 1
        other = client.get("/stories.json", params={"topic": "COVID-19"})
        assert other.headers["etag"] != etag
        assert client.get("/stories.csv").headers["etag"] not in (etag, other.headers["etag"])


def test_the_etag_changes_with_the_archive(tmp_path: Path) -> None:
    """An archive replaced by another: a new ETag and the new stories."""
    path = tmp_path / "archive.db"
    sk.write(_many(3, "First"), path, datasette=False)
    with SqliteStore(path) as store, TestClient(create_app(store)) as client:
        first = client.get("/stories.json")
        sk.write(_many(4, "Second"), path, datasette=False)
        second = client.get("/stories.json", headers={"if-none-match": first.headers["etag"]})
        assert second.status_code == 200 and second.headers["etag"] != first.headers["etag"]
        assert len(storykit.loads(second.content, format="json")) == 4


def test_errors_come_before_the_first_byte(tmp_path: Path) -> None:
    """An invalid search of an archive or a bad filter: a JSON 400 saying what is wrong,
    never a 200 cut short."""
    path = tmp_path / "archive.db"
    sk.write(storykit.load(EXAMPLE), path, datasette=False)
    with SqliteStore(path) as store, TestClient(create_app(store)) as client:
        for name in ("json", "csv"):
            r = client.get(f"/stories.{name}", params={"q": '"unbalanced'})
            assert r.status_code == 400
            assert "not a valid full-text query" in r.json()["message"]
            r = client.get(f"/stories.{name}", params={"since": "yesterday"})
            assert r.status_code == 400 and r.json()["message"].startswith("bad query")
        assert client.get("/stories.json", params={"q": "children"}).status_code == 200


def test_formats_written_whole_answer_a_page_at_a_time() -> None:
    """A feed of more than MAX_WHOLE stories is a 400 that says how to ask for a page; a page
    (per_page, page) in any format is the writer's bytes of that page of the selection."""
    col = _many(MAX_WHOLE + 1)
    store = MemoryStore(col)
    with TestClient(create_app(store)) as client:
        r = client.get("/stories.atom")
        assert r.status_code == 400
        message = r.json()["message"]
        assert f"{MAX_WHOLE + 1} stories match" in message and "per_page=" in message
        assert client.get("/stories.atom", params={"topic": "odd"}).status_code == 200
        for name in ("atom", "json", "html"):
            r = client.get(f"/stories.{name}", params={"per_page": "2", "page": "3"})
            assert r.status_code == 200
            assert r.content == storykit.dumps(store.collection(offset=4, limit=2), name)
            assert r.headers["x-total-count"] == str(MAX_WHOLE + 1)
        r = client.get("/stories.atom", params={"page": "2"})
        assert r.content == storykit.dumps(store.collection(offset=MAX_WHOLE, limit=MAX_WHOLE),
                                           "atom")
        assert client.get("/stories.atom", params={"page": "3"}).status_code == 400
        assert client.get("/stories.atom", params={"per_page": "1001"}).status_code == 400
        r = client.get("/stories.json")
        assert r.status_code == 200 and len(storykit.loads(r.content, format="json")) == len(col)


def _entries(feed: bytes) -> list[str]:
    return [e.findtext(f"{ATOM}title") or "" for e in ET.fromstring(feed).iter(f"{ATOM}entry")]


def test_a_feed_holds_the_newest_stories_of_its_group(tmp_path: Path) -> None:
    """Each topic's feed holds its newest feed_items stories, newest first, whatever the
    collection's order; served from the archive, the feed is the same."""
    col = Collection(title="Oldest first", language="en",
                     stories=list(reversed(_many(30).stories)))
    newest = col.filter(topic="odd").sort("published", reverse=True)
    files = render_site(col, feed_items=4)
    assert _entries(files["topics/odd.atom"]) == [s.title for s in newest[:4]]
    every = render_site(col, feed_items=None)
    assert _entries(every["topics/odd.atom"]) == [s.title for s in newest]
    assert _entries(render_site(col)["topics/odd.atom"]) == [s.title for s in newest]
    path = tmp_path / "archive.db"
    sk.write(col, path, datasette=False)
    with SqliteStore(path) as store, TestClient(create_app(store)) as client:
        assert client.get("/topics/odd.atom").content == render_site(
            col.sort("published", reverse=True))["topics/odd.atom"]


def test_feed_items_on_the_command_line(tmp_path: Path) -> None:
    """-O feed_items=N caps every feed; -O feed_items= (empty) is every story; 0 is refused."""
    from click.testing import CliRunner

    from storykit.cli import main

    source = tmp_path / "stories.json"
    storykit.dump(_many(12), source)
    runner = CliRunner()
    for value, entries in (("2", 2), ("", 6)):
        out = tmp_path / f"site-{value or 'all'}"
        result = runner.invoke(main, ["export", str(source), "--format", "site", "-O",
                                      f"feed_items={value}", "-o", f"{out}/"])
        assert result.exit_code == 0, result.output
        assert len(_entries((out / "topics" / "even.atom").read_bytes())) == entries
    result = runner.invoke(main, ["export", str(source), "--format", "site", "-O",
                                  "feed_items=0", "-o", f"{tmp_path}/zero/"])
    assert result.exit_code != 0 and "feed_items" in result.output
