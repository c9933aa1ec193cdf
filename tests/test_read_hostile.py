"""Hostile and real-world sources: every reader reads each document of the feed corpus or
raises one storykit.ValidationError, within a second; no body keeps script, on* attributes or
javascript:/data: URLs; and a short pass of the mutation fuzzer (``make fuzz`` runs it long)."""

from __future__ import annotations

import contextlib
import importlib.util
import io
import warnings
from pathlib import Path
from typing import Any

import html5lib
import pytest

import storykit
from storykit import Collection, ValidationError
from storykit.sources import read_bytes

pytest.importorskip("storykit_feeds")
pytest.importorskip("storykit_webpage")
pytest.importorskip("storykit_wordpress")

from storykit_feeds import FeedReader, JSONFeedReader
from storykit_webpage import WebPageReader
from storykit_wordpress import WXRReader

CORPUS = Path(__file__).parent / "corpus" / "feeds"
FEEDS = sorted(p for p in (CORPUS / "feedparser").rglob("*.xml"))
HOSTILE = sorted(p for p in (CORPUS / "hostile").iterdir())
READERS: dict[str, Any] = {"feed": FeedReader("feed"), "jsonfeed": JSONFeedReader(),
                           "html": WebPageReader(), "wxr": WXRReader()}
# Warm the parsers' imports, so that the per-case timeout counts only the reading.
for _reader in READERS.values():
    with contextlib.suppress(ValidationError):
        _reader.read(io.BytesIO(b"<html><rss></rss></html>"))


def read(reader: Any, path: Path) -> Collection | None:
    """Read ``path``; None for a ValidationError (which must be non-empty)."""
    stream = io.BytesIO(path.read_bytes())
    stream.name = path.name
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            got = reader.read(stream)
    except ValidationError as e:
        problems = e.errors
        assert problems, f"{path.name}: a ValidationError without problems"
        return None
    assert isinstance(got, Collection)
    _assert_safe(got)
    return got


def _assert_safe(col: Collection) -> None:
    for story in col.stories:
        if story.body is None:
            continue
        tree = html5lib.parseFragment(story.body, treebuilder="etree",
                                      namespaceHTMLElements=False)
        for element in tree.iter():
            assert element.tag not in ("script", "style", "iframe"), story.body
            for name, value in element.attrib.items():
                assert not name.lower().startswith("on"), story.body
                if name in ("href", "src", "action", "formaction", "xlink:href"):
                    scheme = value.strip().split(":", 1)[0].lower() if ":" in value else ""
                    assert scheme not in ("javascript", "data", "vbscript"), story.body


@pytest.mark.timeout(1, func_only=True)
@pytest.mark.parametrize("path", FEEDS, ids=lambda p: str(p.relative_to(CORPUS)))
def test_feedparser_corpus(path: Path) -> None:
    read(READERS["feed"], path)


@pytest.mark.timeout(1, func_only=True)
@pytest.mark.parametrize("name", sorted(READERS))
@pytest.mark.parametrize("path", HOSTILE, ids=lambda p: p.name)
def test_hostile_corpus(path: Path, name: str) -> None:
    read(READERS[name], path)


@pytest.mark.parametrize("path", [p for p in HOSTILE if "laugh" in p.name or "xxe" in p.name
                                  or "blowup" in p.name or "deep" in p.name])
def test_entities_and_depth_are_refused_by_name(path: Path) -> None:
    reader = READERS["wxr" if path.suffix == ".wxr" else "jsonfeed" if path.suffix == ".json"
                     else "html" if path.suffix == ".html" else "feed"]
    stream = io.BytesIO(path.read_bytes())
    with pytest.raises(ValidationError) as e:
        reader.read(stream)
    assert len(e.value.errors) == 1
    assert any(word in str(e.value) for word in ("refused", "limit of")), str(e.value)


def test_script_bodies_are_cleaned() -> None:
    col = read(READERS["feed"], CORPUS / "hostile" / "script_bodies.rss")
    assert col is not None
    # (the image without an alt gets alt="": HTML requires one)
    assert col.stories[0].body == '<p>Hi<img src="x" alt=""><a rel="noopener noreferrer">j</a><a ' \
        'rel="noopener noreferrer">d</a><a rel="noopener noreferrer">s</a></p>'
    assert col.stories[1].title == "<script>alert(1)</script>"  # plain text, escaped on output
    page = storykit.dumps(col, "html").decode()
    assert "<script>alert" not in page and "onerror" not in page


def test_size_limit_is_named() -> None:
    with pytest.raises(ValidationError, match="larger than the limit of 10 bytes"):
        read_bytes(io.BytesIO(b"x" * 11), 10, what="feed")


def _fuzzer() -> Any:
    spec = importlib.util.spec_from_file_location(
        "fuzz_readers", Path(__file__).parent.parent / "tools" / "fuzz_readers.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_fuzz_short_pass() -> None:
    """A few mutants per reader (``make fuzz`` runs for FUZZ_SECONDS, keeping a corpus)."""
    _fuzzer().fuzz(max_examples=15, report=lambda _: None)
