"""storykit: typed news stories, validated on the way in, exported by plugins on the way out."""

from __future__ import annotations

__all__ = [
    "Collection",
    "Credit",
    "ErrorDetail",
    "Exporter",
    "Image",
    "Link",
    "MediaContact",
    "OptionError",
    "PluginError",
    "Story",
    "Translation",
    "UnknownFormatError",
    "ValidationError",
    "__version__",
    "dump",
    "dumps",
    "formats",
    "hookimpl",
    "iter_stories",
    "load",
    "loads",
]

from storykit.collection import Collection
from storykit.errors import (
    ErrorDetail,
    OptionError,
    PluginError,
    UnknownFormatError,
    ValidationError,
)
from storykit.exporter import Exporter
from storykit.io import dump, dumps, iter_stories, load, loads
from storykit.model import Credit, Image, Link, MediaContact, Story, Translation
from storykit.plugins import formats, hookimpl


def __getattr__(name: str) -> str:
    if name == "__version__":
        from importlib.metadata import version

        return version("storykit")
    raise AttributeError(f"module 'storykit' has no attribute {name!r}")
