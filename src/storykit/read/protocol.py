"""The shape of a reader: what ``register_readers()`` returns (see :mod:`storykit.hookspecs`)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, Protocol

if TYPE_CHECKING:
    from storykit.collection import Collection

__all__ = ["Reader"]


class Reader(Protocol):
    """What ``register_readers()`` returns: a source format that becomes a collection.

    Besides these, a reader may have ``sniff(head: bytes) -> bool`` (do these first bytes,
    at most 4096, look like this format?) and ``handles_where = True`` (``read()`` takes
    ``where=``, a predicate on stories, and keeps only the stories it is true for). The
    built-in readers also have ``read_data(data, source)``, for a document already in memory
    (what :func:`storykit.loads` is given, or a file :func:`storykit.load` read whole within
    its ``max_bytes``).
    """

    name: str
    suffixes: tuple[str, ...]
    media_types: tuple[str, ...]
    description: str
    options_type: type | None
    #: ``"stream"``: ``read()`` gets a binary file object; ``"folder"``: the pathlib.Path of
    #: a folder; ``"path"``: the pathlib.Path of a file the reader opens itself (a database),
    #: or, from :func:`storykit.loads`, a binary file object of the bytes.
    input: str

    def read(self, source: BinaryIO | Path, **options: Any) -> Collection:
        """The collection ``source`` holds; :class:`~storykit.ValidationError` if it is bad."""
        ...
