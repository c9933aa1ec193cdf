"""``storykit serve archive.db``: the web app answers from SQL, reading only the rows asked for.

The archive has one story that cannot be loaded (its date is not a date): an answer that read
every row would fail on it.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlite_support import broken_archive
from starlette.testclient import TestClient

import storykit
from storykit.web import create_app


@pytest.fixture
def client(tmp_path: Path, example: storykit.Collection) -> Iterator[TestClient]:
    path = broken_archive(tmp_path / "archive.db", example)
    with pytest.raises(storykit.ValidationError):
        storykit.load(path)
    with TestClient(create_app(path)) as c:
        yield c


def test_api_pages_of_stories(client: TestClient) -> None:
    data = client.get("/api/stories", params={"country": "LK"}).json()
    assert [s["id"] for s in data["stories"]] == ["a-song-to-let-children-fly"]
    page = client.get("/api/stories", params={"per_page": 2, "page": 2}).json()
    assert [s["id"] for s in page["stories"]] == [
        "a-fight-for-survival-amid-the-pandemic",
        "paving-the-way-to-gender-equality-in-the-stem-industry"]
    assert client.get("/api/stories/a-song-to-let-children-fly").json()["countries"] == ["LK"]
    countries = {c["country"]: c["count"] for c in client.get("/api/countries").json()}
    assert countries["MD"] == 1


def test_filtered_downloads_and_digest(client: TestClient) -> None:
    r = client.get("/stories.json", params={"topic": "child labour"})
    assert r.status_code == 200
    assert len(json.loads(r.content)["stories"]) == 2
    r = client.get("/digest", params={"since": "2021-02-15", "until": "2021-02-21"})
    assert r.status_code == 200
    assert "A fight for survival amid the pandemic" in r.text


def test_a_row_whose_date_does_not_parse_is_an_error_not_a_story(client: TestClient) -> None:
    """The store rebuilds rows without checking them again, but a date it cannot read is
    still an error (a JSON 500), never a story with a wrong date."""
    from sqlite_support import BROKEN

    r = client.get(f"/api/stories/{BROKEN}")
    assert r.status_code == 500
    assert r.json() == {"status": 500, "message": "internal error"}
    assert client.get(f"/stories/{BROKEN}.html").status_code == 500
