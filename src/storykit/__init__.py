"""storykit: typed news stories, validated on the way in, exported by plugins on the way out."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

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
    "Reader",
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
    "readers",
]

from storykit.collection import Collection
from storykit.errors import (
    ErrorDetail,
    OptionError,
    PluginError,
    UnknownFormatError,
    ValidationError,
)
from storykit.model import Credit, Image, Link, MediaContact, Story, Translation

if TYPE_CHECKING:
    __version__: str  # (read from the installed distribution on first use)

    from storykit.exporter import Exporter
    from storykit.plugins import formats, hookimpl, readers
    from storykit.read import load, loads
    from storykit.read.protocol import Reader
    from storykit.stream import iter_stories
    from storykit.write import dump, dumps

# Reading, writing and plugins load on first use (PEP 562), so that `import storykit` stays
# light: no orjson, csv, pathlib or pluggy until they are needed.
_LAZY = {
    "Exporter": "storykit.exporter",
    "Reader": "storykit.read.protocol",
    "dump": "storykit.write",
    "dumps": "storykit.write",
    "formats": "storykit.plugins",
    "hookimpl": "storykit.plugins",
    "iter_stories": "storykit.stream",
    "load": "storykit.read",
    "loads": "storykit.read",
    "readers": "storykit.plugins",
}


def __getattr__(name: str) -> Any:
    import importlib

    module = _LAZY.get(name)
    if module is not None:
        value = getattr(importlib.import_module(module), name)
        globals()[name] = value
        return value
    if name == "__version__":
        from importlib.metadata import version

        return version("storykit")
    if not name.startswith("_"):
        # `import storykit; storykit.plugins.Registry()`: submodules load on first use too.
        import importlib.util

        if importlib.util.find_spec(f"storykit.{name}") is not None:
            return importlib.import_module(f"storykit.{name}")
    raise AttributeError(f"module 'storykit' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
