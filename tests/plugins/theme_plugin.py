"""A fixture theme plugin: re-themes page.html and adds a jinja2 filter (tests/test_html.py).

Its page extends the built-in one, so the page stays complete and valid: it only adds a
banner to the footer, using its own ``shout`` filter and global.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import storykit

TEMPLATES = Path(__file__).with_name("theme_templates")


@storykit.hookimpl
def register_template_dirs() -> list[Path]:
    return [TEMPLATES]


@storykit.hookimpl
def register_template_filters() -> dict[str, Callable[..., Any]]:
    return {"shout": lambda s: f"{str(s).upper()}!"}


@storykit.hookimpl
def register_template_globals() -> dict[str, Any]:
    return {"theme_name": "Fixture theme"}
