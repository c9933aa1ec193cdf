"""The digest's HTML part in a real browser (headless Chromium, offline) at 375 and 600 px."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from test_browser import SHOTS
from test_browser import axe as axe  # noqa: PLC0414 - the shared module fixtures
from test_browser import browser as browser  # noqa: PLC0414
from test_email import parse, parts, render

import storykit

pytestmark = pytest.mark.browser


def _digest_page(example: storykit.Collection, folder: Path) -> Path:
    """The digest's HTML part, as a mail client would show it, in a file."""
    col = example.filter(since="2021-02-01", until="2021-02-23").sort("published", reverse=True)
    data = render(col, to="a@example.org", web_url="https://news.example.org/d.html")
    page = folder / "digest.html"
    page.write_text(parts(parse(data))[1], encoding="utf-8")
    return page


@pytest.mark.parametrize("scheme", ["light", "dark"])
@pytest.mark.parametrize("width", [375, 600])
def test_the_digest_fits_the_screen(browser: Any, tmp_path: Path,
                                    example: storykit.Collection, width: int,
                                    scheme: str) -> None:
    """At 375 and 600 px, light and dark, the digest does not scroll sideways, and every image
    has alt text and loads; the screenshots are saved under build/screenshots/."""
    page = _digest_page(example, tmp_path)
    suffix = "" if scheme == "light" else "-dark"
    m = browser.shoot(page, SHOTS / f"test-digest-{width}{suffix}.png", width=width,
                      color_scheme=scheme)
    assert m.scroll_width <= m.client_width, (
        f"overflow at {width}px: {m.scroll_width} > {m.client_width}; {m.too_wide}")
    assert m.images_without_alt == []
    assert m.broken_images == []


@pytest.mark.parametrize("scheme", ["light", "dark"])
@pytest.mark.parametrize("width", [375, 600])
def test_axe_finds_no_violations(axe: Any, tmp_path: Path, example: storykit.Collection,
                                 width: int, scheme: str) -> None:
    """axe-core, injected into the digest's HTML part, finds no accessibility violation at 375
    and 600 px in light or dark mode (contrast included)."""
    assert axe(_digest_page(example, tmp_path), width=width, color_scheme=scheme) == []
