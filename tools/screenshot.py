"""Screenshots and layout checks of a local HTML page in headless Chromium, offline.

Uses the ``playwright`` package with the system's Chromium (Debian's ``/usr/bin/chromium``, or
``$CHROMIUM``); it never downloads a browser. Every request for ``https://images.example.org/*``
is answered with a placeholder picture drawn here (an SVG, one colour per URL); every other
request that is not a ``file:`` or ``data:`` URL is blocked, so a page cannot reach the network.

As a command::

    python tools/screenshot.py build/index.html build/screenshots/page-1280.png --width 1280

As a module::

    from screenshot import Browser
    with Browser() as browser:
        m = browser.shoot("build/index.html", "build/page.png", width=375)
        assert m.scroll_width <= m.client_width
"""

from __future__ import annotations

import argparse
import hashlib
import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import urlsplit

#: Where the system's Chromium is; ``$CHROMIUM`` overrides it.
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
#: axe-core, installed by ``make install`` (npm) for the accessibility checks.
AXE = Path(__file__).resolve().parents[1] / ".venv" / "axe" / "node_modules" / "axe-core" / \
    "axe.min.js"
#: Requests to this host get a placeholder image instead of going out.
IMAGE_HOST = "images.example.org"
LAUNCH_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]

__all__ = ["AXE", "CHROMIUM", "Browser", "Measurements", "chromium_available", "placeholder_svg"]


def chromium_available(path: str = CHROMIUM) -> bool:
    """Whether a Chromium executable is at ``path``."""
    return os.path.isfile(path) and os.access(path, os.X_OK)


def placeholder_svg(url: str, width: int = 600, height: int = 400) -> bytes:
    """A calm placeholder picture for ``url``: a two-tone gradient whose hue comes from the URL."""
    hue = int(hashlib.sha256(url.encode()).hexdigest()[:4], 16) % 360
    name = Path(urlsplit(url).path).stem.replace("-", " ")[:40] or "image"
    name = name.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return f"""<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" \
viewBox="0 0 {width} {height}">
<defs><linearGradient id="g" x1="0" y1="0" x2="1" y2="1">
<stop offset="0" stop-color="hsl({hue},45%,62%)"/>
<stop offset="1" stop-color="hsl({(hue + 40) % 360},50%,38%)"/></linearGradient></defs>
<rect width="100%" height="100%" fill="url(#g)"/>
<circle cx="{width * 0.72:.0f}" cy="{height * 0.34:.0f}" r="{height * 0.16:.0f}" \
fill="hsl({hue},60%,85%)" opacity=".55"/>
<path d="M0 {height * 0.78:.0f} L{width * 0.3:.0f} {height * 0.5:.0f} L{width * 0.55:.0f} \
{height * 0.72:.0f} L{width * 0.75:.0f} {height * 0.58:.0f} L{width} {height * 0.8:.0f} \
L{width} {height} L0 {height} Z" fill="hsl({hue},35%,25%)" opacity=".45"/>
<text x="50%" y="92%" text-anchor="middle" font-family="sans-serif" font-size="16" \
fill="#fff" opacity=".85">{name}</text>
</svg>""".encode()


@dataclass
class Measurements:
    """What a rendered page looked like to the browser."""

    width: int
    #: ``document.documentElement.scrollWidth`` and ``clientWidth``: the page scrolls
    #: sideways when the first is larger.
    scroll_width: int
    client_width: int
    scroll_height: int
    images: int
    #: The ``src`` of every ``<img>`` whose ``alt`` is missing or blank.
    images_without_alt: list[str] = field(default_factory=list)
    #: ``src`` of images that did not load (0 natural width).
    broken_images: list[str] = field(default_factory=list)
    #: Elements wider than the viewport (tag.class), to find what overflows.
    too_wide: list[str] = field(default_factory=list)
    #: URLs the page asked for that were blocked.
    blocked: list[str] = field(default_factory=list)

    @property
    def overflows(self) -> bool:
        """True when the page scrolls sideways."""
        return self.scroll_width > self.client_width


_MEASURE = """() => {
  const doc = document.documentElement;
  const imgs = Array.from(document.images);
  const vw = doc.clientWidth;
  const tooWide = [];
  for (const el of document.body.querySelectorAll('*')) {
    const r = el.getBoundingClientRect();
    if (r.right > vw + 0.5 || r.left < -0.5) {
      const cls = el.className ? '.' + String(el.className).split(' ').join('.') : '';
      tooWide.push(el.tagName.toLowerCase() + cls);
      if (tooWide.length >= 20) break;
    }
  }
  return {
    scroll_width: doc.scrollWidth, client_width: doc.clientWidth, scroll_height: doc.scrollHeight,
    images: imgs.length,
    images_without_alt: imgs.filter(i => !(i.getAttribute('alt') || '').trim()).map(i => i.src),
    broken_images: imgs.filter(i => i.complete && i.naturalWidth === 0).map(i => i.src),
    too_wide: tooWide,
  };
}"""


class Browser:
    """One headless Chromium, offline, for many pages: ``with Browser() as b: b.shoot(...)``."""

    def __init__(self, executable: str = CHROMIUM) -> None:
        if not chromium_available(executable):
            raise FileNotFoundError(f"no Chromium at {executable} (install Debian's 'chromium' "
                                    "or set $CHROMIUM)")
        self.executable = executable
        self._pw: Any = None
        self._browser: Any = None

    def __enter__(self) -> Browser:
        from playwright.sync_api import sync_playwright

        self._pw = sync_playwright().start()
        try:
            self._browser = self._pw.chromium.launch(executable_path=self.executable,
                                                     args=LAUNCH_ARGS, headless=True)
        except Exception:
            self._pw.stop()
            raise
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        try:
            if self._browser is not None:
                self._browser.close()
        finally:
            if self._pw is not None:
                self._pw.stop()

    def shoot(self, page_path: str | os.PathLike[str], out: str | os.PathLike[str] | None = None,
              *, width: int = 1280, height: int = 800, full_page: bool = True,
              color_scheme: str = "light") -> Measurements:
        """Load ``page_path`` at ``width`` px; save a screenshot to ``out``; return measurements.

        ``color_scheme`` (``"light"`` or ``"dark"``) is what ``prefers-color-scheme`` reports.
        """
        blocked: list[str] = []
        context = self._browser.new_context(viewport={"width": width, "height": height},
                                            device_scale_factor=1, java_script_enabled=True,
                                            offline=False, color_scheme=color_scheme)
        try:
            page = context.new_page()
            page.route("**/*", lambda route: _route(route, blocked))
            page.goto(Path(page_path).resolve().as_uri(), wait_until="load")
            # Lazy images below the fold load as they come into view: scroll them all in.
            page.evaluate("""async () => {
              for (const img of document.images) { img.loading = 'eager'; }
              await Promise.all(Array.from(document.images).map(i => i.decode().catch(() => {})));
            }""")
            data = page.evaluate(_MEASURE)
            if out is not None:
                Path(out).parent.mkdir(parents=True, exist_ok=True)
                page.screenshot(path=str(out), full_page=full_page)
        finally:
            context.close()
        return Measurements(width=width, blocked=blocked, **data)

    def axe(self, page_path: str | os.PathLike[str], *, width: int = 1280,
            color_scheme: str = "light", axe_js: str | os.PathLike[str] = AXE) -> list[str]:
        """Run axe-core (``axe_js``, injected into the page) on ``page_path``; one line per
        violation (rule id, help text, how many elements and the first one), ``[]`` if none."""
        context = self._browser.new_context(viewport={"width": width, "height": 800},
                                            color_scheme=color_scheme, bypass_csp=True)
        try:
            page = context.new_page()
            page.route("**/*", lambda route: _route(route, []))
            page.goto(Path(page_path).resolve().as_uri(), wait_until="load")
            page.add_script_tag(content=Path(axe_js).read_text(encoding="utf-8"))
            result = page.evaluate(
                "async () => await axe.run(document, {resultTypes: ['violations']})")
        finally:
            context.close()
        return [f"{v['id']}: {v['help']} ({len(v['nodes'])}x: {v['nodes'][0]['target']})"
                for v in result["violations"]]


def _route(route: Any, blocked: list[str]) -> None:
    url = route.request.url
    parts = urlsplit(url)
    if parts.scheme in ("file", "data"):
        route.continue_()
    elif parts.scheme in ("http", "https") and parts.hostname == IMAGE_HOST:
        route.fulfill(status=200, content_type="image/svg+xml", body=placeholder_svg(url))
    else:
        blocked.append(url)
        route.abort("blockedbyclient")


def _main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="screenshot.py",
        description="Screenshot a local HTML page in headless Chromium, offline, and report "
                    "horizontal overflow and images without alt text.",
        epilog="example: python tools/screenshot.py build/index.html "
               "build/screenshots/page-375.png --width 375")
    parser.add_argument("page", help="the HTML file to render")
    parser.add_argument("out", help="the PNG file to write")
    parser.add_argument("--width", type=int, default=1280, help="viewport width in px (1280)")
    parser.add_argument("--height", type=int, default=800, help="viewport height in px (800)")
    parser.add_argument("--color-scheme", choices=("light", "dark"), default="light",
                        help="what the page's prefers-color-scheme media query sees (light)")
    parser.add_argument("--viewport-only", action="store_true",
                        help="capture the viewport, not the full page")
    parser.add_argument("--skip-missing-browser", action="store_true",
                        help="exit 0 with a note when Chromium is not installed")
    args = parser.parse_args(argv)
    if not Path(args.page).is_file():
        print(f"screenshot: error: no such file: {args.page}", file=sys.stderr)
        return 1
    if not chromium_available():
        if args.skip_missing_browser:
            print(f"screenshot: skipped {args.out}: no Chromium at {CHROMIUM}", file=sys.stderr)
            return 0
        print(f"screenshot: error: no Chromium at {CHROMIUM} (apt-get install chromium, or "
              "set CHROMIUM)", file=sys.stderr)
        return 1
    with Browser() as browser:
        m = browser.shoot(args.page, args.out, width=args.width, height=args.height,
                          full_page=not args.viewport_only, color_scheme=args.color_scheme)
    problems = list(_problems(m))
    print(f"screenshot: {args.out}: {m.width}px wide, {args.color_scheme}, "
          f"page {m.scroll_width}x{m.scroll_height}, {m.images} images"
          + ("" if problems else ", no problems"))
    for problem in problems:
        print(f"screenshot: warning: {problem}", file=sys.stderr)
    return 0


def _problems(m: Measurements) -> Iterator[str]:
    if m.overflows:
        yield (f"horizontal overflow: scrollWidth {m.scroll_width} > clientWidth "
               f"{m.client_width} (too wide: {', '.join(m.too_wide) or '?'})")
    for src in m.images_without_alt:
        yield f"image without alt text: {src}"
    for src in m.broken_images:
        yield f"image did not load: {src}"
    for url in m.blocked:
        yield f"blocked a network request: {url}"


if __name__ == "__main__":
    sys.exit(_main())
