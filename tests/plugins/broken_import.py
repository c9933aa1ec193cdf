"""A plugin that fails to import: it needs a package that is not installed."""

import storykit_no_such_dependency  # noqa: F401

import storykit


@storykit.hookimpl
def register_exporters() -> list[object]:
    return []
