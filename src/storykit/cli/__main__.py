"""``python -m storykit.cli``: the same command as the ``storykit`` script."""

from __future__ import annotations

from storykit.cli import main

main(prog_name="storykit")
