"""The digest's HTML part in a real browser (headless Chromium, offline) at 375 and 600 px."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from test_browser import SHOTS
from test_browser import browser as browser  # noqa: PLC0414 - the shared module fixture
from test_email import parse, parts, render

import storykit

pytestmark = pytest.mark.browser


@pytest.mark.parametrize("width", [375, 600])
def test_the_digest_fits_the_screen(browser: Any, tmp_path: Path,
                                    example: storykit.Collection, width: int) -> None:
    """At 375 and 600 px the digest does not scroll sideways, and every image has alt text
    and loads; the screenshots are saved under build/screenshots/."""
    col = example.filter(since="2021-02-01", until="2021-02-23").sort("published", reverse=True)
    data = render(col, to="a@example.org", web_url="https://news.example.org/d.html")
    page = tmp_path / "digest.html"
    page.write_text(parts(parse(data))[1], encoding="utf-8")
    m = browser.shoot(page, SHOTS / f"test-digest-{width}.png", width=width)
    assert m.scroll_width <= m.client_width, (
        f"overflow at {width}px: {m.scroll_width} > {m.client_width}; {m.too_wide}")
    assert m.images_without_alt == []
    assert m.broken_images == []
