"""A plugin whose dependency is not installed."""

from __future__ import annotations

import storykit_dependency_that_is_not_installed  # noqa: F401
