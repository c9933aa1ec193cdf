"""storykit.web over HTTP (httpx through Starlette's TestClient): the site, every format, the
API, the digest preview, and HTTP done properly."""

from __future__ import annotations

import email
import gzip
import json
import re
import shutil
from collections.abc import Iterator
from email.policy import default
from pathlib import Path

import brotli
import pytest
from hypothesis import given
from hypothesis import strategies as st

pytest.importorskip("starlette")

from html_support import parse_html, text
from starlette.testclient import TestClient

import storykit
from storykit import Collection
from storykit.exporters.site import render_site
from storykit.store import MemoryStore, Store
from storykit.testing import collections
from storykit.web import create_app

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "impact-and-people" / "stories.json"


@pytest.fixture(scope="module")
def client() -> Iterator[TestClient]:
    with TestClient(create_app(EXAMPLE)) as c:
        yield c


class TestSite:
    def test_same_bytes_as_the_site_writer(self, client: TestClient,
                                           example: Collection) -> None:
        """Every page of the site writer is served with the same bytes."""
        files = render_site(storykit.load(EXAMPLE))
        for path in ("index.html", "topics/covid-19.html", "sitemap.xml", "countries/lk.atom"):
            r = client.get("/" + path)
            assert r.status_code == 200, path
            assert r.content == files[path], path
        assert client.get("/").content == files["index.html"]
        assert client.get("/topics/").content == files["topics/index.html"]

    def test_media_types(self, client: TestClient) -> None:
        """Pages are HTML, feeds Atom, the sitemap XML."""
        assert client.get("/").headers["content-type"] == "text/html; charset=utf-8"
        assert client.get("/topics/covid-19.atom").headers["content-type"].startswith(
            "application/atom+xml")
        assert client.get("/sitemap.xml").headers["content-type"].startswith("application/xml")

    @pytest.mark.parametrize("path", [
        "/../etc/passwd", "/%2e%2e/%2e%2e/etc/passwd", "/..%2f..%2fetc/passwd",
        "/stories/../../pyproject.toml", "/%00", "/stories/%2e%2e%2fstories.json",
        "//etc/passwd", "/C:%5Cwindows%5Cwin.ini", "/pyproject.toml", "/src/storykit/web/app.py",
    ])
    def test_path_traversal_is_a_404(self, client: TestClient, path: str) -> None:
        """No URL reaches the file system: every attempt is a JSON 404."""
        r = client.get(path)
        assert r.status_code == 404
        assert r.json()["status"] == 404
        assert b"root:" not in r.content and b"[build-system]" not in r.content

    def test_unknown_page(self, client: TestClient) -> None:
        """An unknown page is a 404 with a message, as JSON."""
        r = client.get("/no/such/page.html")
        assert r.status_code == 404
        assert r.json() == {"status": 404, "message": "no page /no/such/page.html"}


class TestFormats:
    def test_every_stream_writer(self, client: TestClient) -> None:
        """/stories.FORMAT answers with each writer's bytes and media type."""
        col = storykit.load(EXAMPLE)
        for name, exporter in storykit.formats().items():
            if getattr(exporter, "output", "stream") != "stream":
                continue
            r = client.get(f"/stories.{name}")
            assert r.status_code == 200, name
            # (Starlette adds "; charset=utf-8" to a text/* type that has none)
            assert r.headers["content-type"].split(";")[0] == exporter.media_type.split(";")[0]
            assert r.content == storykit.dumps(col, name), name

    def test_filters(self, client: TestClient) -> None:
        """The query narrows the collection: json read back holds only the matching stories."""
        r = client.get("/stories.json", params={"topic": "COVID-19", "since": "2021-02-20"})
        got = storykit.loads(r.content, format="json")
        want = storykit.load(EXAMPLE).filter(topic="COVID-19", since="2021-02-20")
        assert [s.id for s in got] == [s.id for s in want] and len(got) > 0

    def test_folder_writer_and_unknown_format(self, client: TestClient) -> None:
        """The site format and a format that does not exist are 404s that say why."""
        assert "folder" in client.get("/stories.site").json()["message"]
        r = client.get("/stories.nope")
        assert r.status_code == 404 and "available" in r.json()["message"]


class TestAPI:
    def test_stories_paginated(self, client: TestClient) -> None:
        """page/per_page with totals and a Link header, newest first."""
        r = client.get("/api/stories", params={"per_page": 3, "page": 2})
        data = r.json()
        assert (data["total"], data["page"], data["per_page"], data["pages"]) == (10, 2, 3, 4)
        assert r.headers["x-total-count"] == "10"
        links = {rel: url for url, rel in re.findall(r'<([^>]+)>; rel="(\w+)"',
                                                     r.headers["link"])}
        assert set(links) == {"first", "prev", "next", "last"}
        assert "page=4" in links["last"]
        newest = sorted(storykit.load(EXAMPLE), key=lambda s: s.published, reverse=True)
        assert [s["id"] for s in data["stories"]] == [s.id for s in newest[3:6]]

    def test_filtered_by_topic(self, client: TestClient) -> None:
        """?topic= narrows the list and the total."""
        data = client.get("/api/stories", params={"topic": "child labour"}).json()
        assert data["total"] == len(data["stories"]) > 0
        assert all("child labour" in s["topics"] for s in data["stories"])

    def test_one_story_and_missing(self, client: TestClient) -> None:
        """/api/stories/{id} gives the story; an unknown id a JSON 404."""
        first = storykit.load(EXAMPLE)[0]
        assert client.get(f"/api/stories/{first.id}").json()["title"] == first.title
        r = client.get("/api/stories/nope")
        assert r.status_code == 404 and r.json()["message"] == "no story with id 'nope'"

    def test_topics_countries_contacts(self, client: TestClient) -> None:
        """Counts per topic and country, and the contacts."""
        topics = client.get("/api/topics").json()
        assert {"topic": "COVID-19", "count": 2,
                "stories": "/api/stories?topic=COVID-19"} in topics
        countries = client.get("/api/countries").json()
        assert any(c["country"] == "LK" for c in countries)
        assert client.get("/api/contacts").json()[0]["name"] == "ILO Newsroom"

    @pytest.mark.parametrize(("query", "message"), [
        ("since=2021-02-30", "since: '2021-02-30' is not a valid date"),
        ("page=x", "'page' must be a whole number (got 'x')"),
        ("page=0", "'page' must be 1 or more (got 0)"),
        ("per_page=1000", "'per_page' must be from 1 to 100 (got 1000)"),
        ("page=99", "page 99 is past the last page (1)"),
        ("country=XX", "country"),
        ("language=%20", "'language' is empty"),
        ("topic=a&topic=b", "'topic' given more than once"),
        ("sort=title", "unknown query parameter 'sort'"),
    ])
    def test_bad_query_is_a_400(self, client: TestClient, query: str, message: str) -> None:
        """A bad value is a 400 that says what was wrong."""
        r = client.get(f"/api/stories?{query}")
        assert r.status_code == 400
        assert r.json()["status"] == 400
        assert message in r.json()["message"]


class TestDigest:
    def test_preview(self, client: TestClient) -> None:
        """/digest shows the text part and frames the HTML part, with preflight findings."""
        r = client.get("/digest", params={"since": "2021-02-15", "until": "2021-02-23"})
        assert r.status_code == 200
        root = parse_html(r.content)
        assert "Preflight" in [text(h) for h in root.iter("h2")]
        [frame] = list(root.iter("iframe"))
        assert frame.get("src") == "digest.html?since=2021-02-15&until=2021-02-23"
        pre = text(next(root.iter("pre")))
        assert "A fight for survival amid the pandemic" in pre
        html = client.get("/" + frame.get("src", ""))
        assert b"A fight for survival amid the pandemic" in html.content
        assert "frame-ancestors 'self'" in html.headers["content-security-policy"]

    def test_eml_download(self, client: TestClient) -> None:
        """/digest.eml is a message the email package reads, with that window's stories."""
        r = client.get("/digest.eml", params={"since": "2021-02-15", "until": "2021-02-23"})
        assert r.headers["content-type"] == "message/rfc822"
        assert "attachment" in r.headers["content-disposition"]
        message = email.message_from_bytes(r.content, policy=default)
        body = message.get_body(("plain",))
        assert body is not None
        content = body.get_content()
        assert "A fight for survival" in content and "Bees" not in content

    def test_bad_window(self, client: TestClient) -> None:
        """A bad date is a 400."""
        assert client.get("/digest?since=yesterday").status_code == 400


class TestHTTP:
    def test_conditional_get(self, client: TestClient) -> None:
        """A matching If-None-Match or a later If-Modified-Since is a 304 with no body."""
        r = client.get("/stories.json")
        etag, modified = r.headers["etag"], r.headers["last-modified"]
        again = client.get("/stories.json", headers={"if-none-match": etag})
        assert again.status_code == 304 and again.content == b""
        assert again.headers["etag"] == etag
        assert client.get("/stories.json", headers={"if-modified-since": modified}
                          ).status_code == 304
        assert client.get("/stories.json", headers={"if-none-match": '"other"'}
                          ).status_code == 200
        assert client.get("/api/stories", headers={"if-none-match": etag}).status_code == 200

    def test_head(self, client: TestClient) -> None:
        """HEAD gives GET's headers and no body."""
        get = client.get("/", headers={"accept-encoding": "identity"})
        head = client.head("/", headers={"accept-encoding": "identity"})
        assert head.status_code == 200 and head.content == b""
        assert head.headers["etag"] == get.headers["etag"]
        assert head.headers["content-length"] == str(len(get.content))

    def test_gzip_and_brotli(self, client: TestClient) -> None:
        """gzip or br when the client accepts them; the bytes decode to the same page."""
        plain = client.get("/", headers={"accept-encoding": "identity"})
        assert "content-encoding" not in plain.headers
        for encoding, decode in (("gzip", gzip.decompress), ("br", brotli.decompress)):
            with client.stream("GET", "/", headers={"accept-encoding": encoding}) as r:
                assert r.headers["content-encoding"] == encoding
                raw = b"".join(r.iter_raw())
            assert decode(raw) == plain.content

    def test_security_headers(self, client: TestClient) -> None:
        """A strict CSP (no inline script; the page's own style by hash) and nosniff."""
        r = client.get("/")
        csp = r.headers["content-security-policy"]
        assert "default-src 'none'" in csp and "script-src 'self'" in csp
        assert "'unsafe-inline'" not in csp and "'sha256-" in csp
        assert r.headers["x-content-type-options"] == "nosniff"
        assert r.headers["cache-control"] == "no-cache"
        error = client.get("/api/stories/nope")
        assert error.headers["x-content-type-options"] == "nosniff"

    def test_cors_for_the_api_only(self, client: TestClient) -> None:
        """The API answers other origins (and preflights); the pages do not."""
        origin = {"origin": "https://partner.example"}
        assert client.get("/api/topics", headers=origin).headers[
            "access-control-allow-origin"] == "*"
        pre = client.options("/api/stories", headers={
            **origin, "access-control-request-method": "GET"})
        assert pre.status_code == 200
        assert "access-control-allow-origin" not in client.get("/", headers=origin).headers

    def test_cors_configurable(self) -> None:
        """cors_origins limits the origins."""
        app = create_app(EXAMPLE, cors_origins=("https://ok.example",))
        with TestClient(app) as c:
            ok = c.get("/api/topics", headers={"origin": "https://ok.example"})
            other = c.get("/api/topics", headers={"origin": "https://other.example"})
        assert ok.headers["access-control-allow-origin"] == "https://ok.example"
        assert "access-control-allow-origin" not in other.headers

    def test_no_traceback_on_a_failing_store(self) -> None:
        """A store that raises gives a JSON 500, not a traceback."""

        class Broken(MemoryStore):
            def query(self, **kwargs: object) -> tuple[list[storykit.Story], int]:
                raise RuntimeError("secret detail")

        with TestClient(create_app(Broken(storykit.load(EXAMPLE))),
                        raise_server_exceptions=False) as c:
            r = c.get("/api/stories")
        assert r.status_code == 500
        assert r.json() == {"status": 500, "message": "internal error"}


class TestStore:
    def test_memory_store_is_a_store(self) -> None:
        """MemoryStore keeps the Store protocol."""
        assert isinstance(MemoryStore(storykit.load(EXAMPLE)), Store)

    def test_query_newest_first_with_total(self) -> None:
        """query() gives a page of the matches newest first, and the total."""
        col = storykit.load(EXAMPLE)
        store = MemoryStore(col)
        got, total = store.query(topic="covid-19", offset=1, limit=1)
        matching = sorted(col.filter(topic="COVID-19"), key=lambda s: s.published,
                          reverse=True)
        assert total == len(matching) and [s.id for s in got] == [matching[1].id]

    @given(col=collections(max_size=12), data=st.data())
    def test_query_by_topic_and_country_as_filter(self, col: Collection,
                                                  data: st.DataObject) -> None:
        """A query by topic and/or country (any case, any spelling the filter takes) gives
        exactly the stories Collection.filter gives, newest first."""
        topics = [*sorted({t for s in col for t in s.topics}), "no such topic"]
        countries = [*sorted({c for s in col for c in s.countries}), "FR"]
        case = data.draw(st.sampled_from([str, str.upper, str.lower]))
        topic = data.draw(st.none() | st.sampled_from(topics).map(case))
        country = data.draw(st.none() | st.sampled_from(countries).map(case))
        criteria = {k: v for k, v in (("topic", topic), ("country", country)) if v is not None}
        # (newest first, ties by id: as Collection.sort(reverse=True) and an archive)
        expected = (col.filter(**criteria) if criteria else col).sort("published",
                                                                      reverse=True)
        store = MemoryStore(col)
        got, total = store.query(topic=topic, country=country)
        assert [s.id for s in got] == [s.id for s in expected] and total == len(expected)
        # The selection is remembered: its pages, asked for one by one, are the same stories.
        pages = [store.query(topic=topic, country=country, offset=i, limit=2)
                 for i in range(0, max(total, 1), 2)]
        assert [s.id for page, _ in pages for s in page] == [s.id for s in expected]
        assert {n for _, n in pages} == {total}

    def test_version_follows_content(self) -> None:
        """The version changes with the content and only with it."""
        col = storykit.load(EXAMPLE)
        assert MemoryStore(col).version() == MemoryStore(storykit.load(EXAMPLE)).version()
        assert MemoryStore(col).version() != MemoryStore(col[:3]).version()


class TestWatch:
    def test_broken_edit_keeps_content_and_shows_errors(self, tmp_path: Path) -> None:
        """A broken save keeps the last valid collection served, with every error and its path
        in a banner on every page, until it is fixed."""
        source = tmp_path / "stories.json"
        shutil.copy(EXAMPLE, source)
        app = create_app(source, watch=True)
        content = app.state.content
        with TestClient(app) as c:
            before = c.get("/")
            assert b"/_storykit/live.js" in before.content
            doc = json.loads(source.read_text())
            doc["stories"][2]["published"] = "2021-02-30"
            del doc["stories"][4]["title"]
            source.write_text(json.dumps(doc))
            assert content.reload()
            for path in ("/", "/topics/covid-19.html", "/digest"):
                page = c.get(path)
                root = parse_html(page.content)
                [banner] = [d for d in root.iter("div") if d.get("class") == "sk-live-errors"]
                lines = [text(li) for li in banner.iter("li")]
                assert any(line.startswith("line 1, column ") and ": stories[2].published:" in line
                           for line in lines), lines
                assert any(": stories[4].title:" in line for line in lines), lines
            assert c.get("/api/stories").json()["total"] == 10
            assert c.get("/", headers={"if-none-match": before.headers["etag"]}
                         ).status_code == 200
            source.write_text(json.dumps({**doc, "stories": doc["stories"][:2]}))
            assert content.reload()
            assert b"sk-live-errors" not in c.get("/").content
            assert c.get("/api/stories").json()["total"] == 2

    def test_watch_needs_a_file(self) -> None:
        """watch=True with a store is refused."""
        with pytest.raises(ValueError, match="file"):
            create_app(MemoryStore(storykit.load(EXAMPLE)), watch=True)


def test_api_reference_matches_the_routes() -> None:
    """docs/reference/web-api.md is what storykit.web.reference makes from the routes."""
    from storykit.web.reference import markdown

    assert (ROOT / "docs" / "reference" / "web-api.md").read_text(encoding="utf-8") == markdown()


def test_serve_refuses_an_invalid_source(tmp_path: Path) -> None:
    """storykit serve on an invalid file exits 1 with the problems, before listening."""
    from click.testing import CliRunner

    from storykit.cli import main

    bad = tmp_path / "stories.json"
    bad.write_text('{"title": 1}', encoding="utf-8")
    result = CliRunner().invoke(main, ["serve", str(bad), "--port", "0"])
    assert result.exit_code == 1
    assert "title: must be a string (got int 1)" in result.output


def test_the_answer_cache_holds_a_bounded_number_of_bytes(monkeypatch: pytest.MonkeyPatch,
                                                          example: Collection) -> None:
    """Answers are kept up to a byte budget, the least recently used going first, and one
    bigger than the budget is made each time it is asked for (a crawler fetching every part
    of a big sitemap must not fill the server's memory)."""
    from storykit.web import content as web_content

    monkeypatch.setattr(web_content, "_CACHED_BYTES", 100)
    kept = web_content.Content(MemoryStore(example))
    made: list[str] = []

    def answer(key: str, size: int) -> bytes:
        def make() -> bytes:
            made.append(key)
            return b"x" * size
        data: bytes = kept.cached(key, make)
        return data

    answer("a", 40), answer("b", 40), answer("a", 40)  # (a is now the most recently used)
    answer("c", 40)  # 120 bytes would be over: b, the least recently used, goes
    answer("a", 40), answer("c", 40)
    assert made == ["a", "b", "c"]
    answer("b", 40)
    assert made == ["a", "b", "c", "b"]
    answer("big", 101), answer("big", 101)
    assert made[-2:] == ["big", "big"]
