"""The html page in a real browser: headless Chromium (Debian's), offline, at 375 and 1280 px.

These tests skip when Chromium is not installed, except on CI (``CI`` set), where a missing
browser is a failure: ``.ci/run`` installs it. Screenshots are saved under build/screenshots/.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import storykit
from storykit import Collection, Image, Link, MediaContact, Story

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[1]
SHOTS = ROOT / "build" / "screenshots"
WIDTHS = (375, 1280)


def _load_tool() -> Any:
    spec = importlib.util.spec_from_file_location("storykit_tools_screenshot",
                                                  ROOT / "tools" / "screenshot.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up by name
    spec.loader.exec_module(module)
    return module


screenshot = _load_tool()


def _unavailable(reason: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"{reason}; CI must install it (see .ci/run)")
    pytest.skip(reason)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """One headless Chromium for the module; skips (or, on CI, fails) without one."""
    if not screenshot.chromium_available():
        _unavailable(f"no Chromium at {screenshot.CHROMIUM}")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        _unavailable("the playwright package is not installed")
    with screenshot.Browser() as b:
        yield b


@pytest.fixture(scope="module")
def axe(browser: Any) -> Any:
    """``axe(page, width=..., color_scheme=...)`` -> axe-core's violations on a local page;
    skips (or, on CI, fails) when axe-core is not installed (``make install`` puts it in .venv)."""
    if not screenshot.AXE.is_file():
        _unavailable(f"axe-core is not installed at {screenshot.AXE} (make install)")
    return browser.axe


@pytest.fixture(scope="module")
def example_page(tmp_path_factory: pytest.TempPathFactory, example: Collection) -> Path:
    """The example collection rendered to an HTML file."""
    path = tmp_path_factory.mktemp("page") / "index.html"
    path.write_bytes(storykit.dumps(example, "html"))
    return path


def awkward() -> Collection:
    """Long unbroken words and URLs, right-to-left text, many tags: what breaks layouts."""
    long_word = "Donaudampfschifffahrtsgesellschaftskapitän" * 4
    long_url = "https://news.example.org/" + "very-long-path-segment-" * 12
    return Collection(
        title="العمل اللائق " + long_word,
        description=long_url,
        language="ar",
        contacts=[MediaContact("مكتب الصحافة " + long_word, email="a" * 60 + "@example.org",
                               url=long_url)],
        stories=[
            Story(title=long_word, published="2021-02-03", summary=long_url + " " + long_word,
                  url=long_url, topics=[long_word, "x" * 80],
                  image=Image("https://images.example.org/" + "x" * 200 + ".jpg",
                              "A very long description " * 5, "© " + long_word + " 2021"),
                  links=[Link(long_url, long_word)]),
            Story(title="עבודה הוגנת " * 8, published="2021-02-02", summary="نص " * 200,
                  language="he"),
        ],
    )


class TestExamplePage:
    @pytest.mark.parametrize("width", WIDTHS)
    def test_no_horizontal_overflow(self, browser: Any, example_page: Path,
                                    width: int) -> None:
        """At 375 and 1280 px the page does not scroll sideways; the screenshot is saved."""
        out = SHOTS / f"test-page-{width}.png"
        m = browser.shoot(example_page, out, width=width)
        assert m.scroll_width <= m.client_width, (
            f"overflow at {width}px: {m.scroll_width} > {m.client_width}; {m.too_wide}")
        assert out.is_file() and out.stat().st_size > 10_000

    @pytest.mark.parametrize("width", WIDTHS)
    def test_every_image_has_alt(self, browser: Any, example_page: Path, width: int) -> None:
        """Every image the browser sees has non-empty alt text, and it loaded."""
        m = browser.shoot(example_page, width=width)
        assert m.images == 6
        assert m.images_without_alt == []
        assert m.broken_images == []

    @pytest.mark.parametrize("scheme", ["light", "dark"])
    def test_axe_finds_no_violations(self, browser: Any, axe: Any, example_page: Path,
                                     scheme: str) -> None:
        """axe-core, injected into the one-page export, finds no accessibility violation in
        light or dark mode (contrast included); the dark screenshot is saved."""
        browser.shoot(example_page, SHOTS / f"test-page-1280-{scheme}.png", width=1280,
                      color_scheme=scheme)
        assert axe(example_page, width=1280, color_scheme=scheme) == []

    def test_offline(self, browser: Any, example_page: Path) -> None:
        """The page asks for nothing but its images (served locally by the tool)."""
        m = browser.shoot(example_page, width=1280)
        assert m.blocked == []


class TestAwkwardPage:
    @pytest.mark.parametrize("width", WIDTHS)
    def test_long_words_and_rtl_do_not_overflow(self, browser: Any, tmp_path: Path,
                                                width: int) -> None:
        """Unbroken words, long URLs and right-to-left text wrap inside the viewport."""
        page = tmp_path / "awkward.html"
        page.write_bytes(storykit.dumps(awkward(), "html"))
        m = browser.shoot(page, SHOTS / f"test-awkward-{width}.png", width=width)
        assert m.scroll_width <= m.client_width, (
            f"overflow at {width}px: {m.scroll_width} > {m.client_width}; {m.too_wide}")
        assert m.images_without_alt == []

    def test_paginated_fragment_in_a_host_page(self, browser: Any, tmp_path: Path,
                                               example: Collection) -> None:
        """The fragment, pasted into a bare host page at 375 px, does not overflow."""
        fragment = storykit.dumps(example, "html", fragment=True, page_size=5).decode()
        page = tmp_path / "host.html"
        page.write_text("<!DOCTYPE html><html lang=en><head><meta charset=utf-8>"
                        '<meta name="viewport" content="width=device-width, initial-scale=1">'
                        "<title>Host</title><style>img{max-width:100%;height:auto}</style>"
                        f"</head><body>{fragment}</body></html>", encoding="utf-8")
        m = browser.shoot(page, width=375)
        assert m.scroll_width <= m.client_width
        assert m.images_without_alt == []


class TestTool:
    def test_placeholder_is_svg(self) -> None:
        """The placeholder image is an SVG drawn locally, one colour per URL."""
        a = screenshot.placeholder_svg("https://images.example.org/a.jpg")
        b = screenshot.placeholder_svg("https://images.example.org/b.jpg")
        assert a.startswith(b"<svg") and a != b

    def test_command_line(self, browser: Any, example_page: Path, tmp_path: Path) -> None:
        """python tools/screenshot.py PAGE OUT --width 375 writes a PNG and exits 0."""
        out = tmp_path / "shot.png"
        done = subprocess.run([sys.executable, str(ROOT / "tools" / "screenshot.py"),
                               str(example_page), str(out), "--width", "375"],
                              capture_output=True, text=True, timeout=120, check=False)
        assert done.returncode == 0, done.stderr
        assert "375px wide" in done.stdout and "no problems" in done.stdout
        assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
