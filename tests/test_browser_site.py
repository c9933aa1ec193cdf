"""storykit serve in a real browser: headless Chromium (Debian's, through Playwright) against a
real uvicorn server on 127.0.0.1, port 0. axe-core (npm, installed by `make install` into
.venv/axe) checks every page type for accessibility violations, in light and dark mode.

Skips when Chromium, Playwright or axe-core is missing, except on CI (``CI`` set), where that is
a failure. Screenshots go to build/screenshots/site-*.png.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

pytest.importorskip("uvicorn")

from server_support import Server
from test_browser import screenshot

from storykit.web import create_app

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "impact-and-people" / "stories.json"
AXE = ROOT / ".venv" / "axe" / "node_modules" / "axe-core" / "axe.min.js"
SHOTS = ROOT / "build" / "screenshots"
#: Every page type of the site, and the digest preview.
PAGES = {
    "index": "/",
    "topic": "/topics/covid-19.html",
    "country": "/countries/lk.html",
    "story": "/stories/a-song-to-let-children-fly.html",
    "topics": "/topics/",
    "digests": "/digests/",
    "digest-preview": "/digest?since=2021-02-15&until=2021-02-23",
}


def _unavailable(reason: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"{reason}; CI must install it (see .ci/run and make install)")
    pytest.skip(reason)


@pytest.fixture(scope="module")
def chromium() -> Iterator[Any]:
    if not screenshot.chromium_available():
        _unavailable(f"no Chromium at {screenshot.CHROMIUM}")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("the playwright package is not installed")
    if not AXE.is_file():
        _unavailable(f"axe-core is not installed at {AXE} (make install)")
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=screenshot.CHROMIUM,
                                     args=screenshot.LAUNCH_ARGS, headless=True)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def source(tmp_path: Path) -> Path:
    path = tmp_path / "stories.json"
    shutil.copy(EXAMPLE, path)
    return path


@pytest.fixture
def served(source: Path) -> Iterator[str]:
    server = Server(create_app(source, watch=True))
    base = server.start()
    try:
        yield base
    finally:
        server.stop()


def _offline(page: Any, base: str) -> list[str]:
    """Serve story pictures as placeholders; block every request off the test server."""
    blocked: list[str] = []

    def route(r: Any) -> None:
        url = r.request.url
        host = urlsplit(url).hostname
        if url.startswith(base):
            r.continue_()
        elif host == screenshot.IMAGE_HOST:
            r.fulfill(status=200, content_type="image/svg+xml",
                      body=screenshot.placeholder_svg(url))
        else:
            blocked.append(url)
            r.abort("blockedbyclient")

    page.route("**/*", route)
    return blocked


def _axe(page: Any) -> list[str]:
    page.add_script_tag(content=AXE.read_text(encoding="utf-8"))
    result = page.evaluate("async () => await axe.run(document, {resultTypes: ['violations']})")
    return [f"{v['id']}: {v['help']} ({len(v['nodes'])}x: {v['nodes'][0]['target']})"
            for v in result["violations"]]


class TestPages:
    @pytest.mark.parametrize("scheme", ["light", "dark"])
    @pytest.mark.parametrize("kind", sorted(PAGES))
    def test_axe_finds_no_violations(self, chromium: Any, served: str, kind: str,
                                     scheme: str) -> None:
        """axe-core finds no violation on each page type, in light and in dark mode; the
        page asks for nothing outside the server but its pictures. Screenshots are saved."""
        # (the CSP is bypassed only so that axe can be injected as a script)
        context = chromium.new_context(viewport={"width": 1280, "height": 800},
                                       color_scheme=scheme, bypass_csp=True)
        try:
            page = context.new_page()
            blocked = _offline(page, served)
            page.goto(served + PAGES[kind], wait_until="load")
            page.screenshot(path=str(SHOTS / f"site-{kind}-{scheme}.png"), full_page=True)
            assert _axe(page) == []
            assert blocked == []
        finally:
            context.close()

    def test_index_reads_like_the_source_page(self, chromium: Any, served: str) -> None:
        """Stories numbered 1-10, titles visibly links, pictures all 3:2, a click on a topic
        tag opens its page, a click on a title the story's page."""
        context = chromium.new_context(viewport={"width": 1280, "height": 800})
        try:
            page = context.new_page()
            _offline(page, served)
            page.goto(served + "/", wait_until="load")
            numbers = page.locator(".sk-number").all_inner_texts()
            assert numbers == [str(n) for n in range(1, 11)]
            decoration = page.eval_on_selector(
                ".sk-title a", "a => getComputedStyle(a).textDecorationLine")
            assert "underline" in decoration
            ratios = page.eval_on_selector_all(
                ".sk-figure img", "imgs => imgs.map(i => i.getBoundingClientRect())"
                ".map(r => Math.round(r.width / r.height * 100) / 100)")
            assert ratios and set(ratios) == {1.5}
            page.get_by_role("link", name="COVID-19").first.click()
            page.wait_for_url("**/topics/covid-19.html")
            assert page.locator("h1").inner_text() == "COVID-19"
            page.locator(".sk-title a").first.click()
            page.wait_for_url("**/stories/*.html")
            assert page.locator("h1").inner_text() == page.title().split(" · ")[0]
        finally:
            context.close()

    def test_dark_mode(self, chromium: Any, served: str) -> None:
        """prefers-color-scheme: dark gives a dark page with light text."""
        colours = {}
        for scheme in ("light", "dark"):
            context = chromium.new_context(color_scheme=scheme)
            try:
                page = context.new_page()
                _offline(page, served)
                page.goto(served + "/", wait_until="load")
                colours[scheme] = page.evaluate(
                    "() => getComputedStyle(document.body).backgroundColor")
            finally:
                context.close()
        assert colours["light"] != colours["dark"]
        dark = [int(x) for x in colours["dark"].strip("rgb()").split(",")]
        assert sum(dark) < 150


class TestLiveReload:
    def test_an_edit_reloads_the_tab(self, chromium: Any, served: str, source: Path) -> None:
        """Saving the source reloads the open tab (server-sent events, under the strict CSP);
        a broken save shows the errors with their paths in a banner, the last valid content
        still shown; fixing it removes the banner."""
        context = chromium.new_context()
        try:
            page = context.new_page()
            _offline(page, served)
            csp_errors: list[str] = []
            page.on("console", lambda m: csp_errors.append(m.text)
                    if "Content Security Policy" in m.text else None)
            page.goto(served + "/", wait_until="load")
            page.wait_for_function("() => document.querySelector('script[data-events]')")
            doc = json.loads(source.read_text(encoding="utf-8"))

            def save_and_wait(data: dict[str, Any]) -> None:
                page.evaluate("() => { window.__before = true; }")
                source.write_text(json.dumps(data), encoding="utf-8")
                page.wait_for_function("() => window.__before === undefined", timeout=15_000)
                page.wait_for_load_state("load")

            save_and_wait({**doc, "title": "Impact and people, edited"})
            assert page.locator("h1").inner_text() == "Impact and people, edited"

            broken = json.loads(json.dumps(doc))
            broken["stories"][3]["published"] = "2021-02-30"
            save_and_wait(broken)
            banner = page.locator(".sk-live-errors")
            assert "stories[3].published" in banner.inner_text()
            assert page.locator("h1").inner_text() == "Impact and people, edited"

            save_and_wait(doc)
            assert page.locator(".sk-live-errors").count() == 0
            assert page.locator("h1").inner_text() == "Impact and people"
            assert csp_errors == []
        finally:
            context.close()
