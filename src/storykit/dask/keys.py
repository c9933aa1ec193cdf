"""Repeats across blocks found from 8 bytes a key: the workers hash their blocks' keys (story
ids, mailboxes), the driver merges the hashes, and only a hash met twice sends the workers
back for the keys themselves (a hash can be shared by two keys: what is reported is decided
on the keys, never on a hash alone)."""

from __future__ import annotations

import array
import bisect
import hashlib
import heapq
from collections.abc import Iterable, Iterator, Sequence


def hash_key(key: str) -> int:
    """64 bits of a hash of ``key``: the same in every process (``hash()`` is not)."""
    digest = hashlib.blake2b(key.encode("utf-8", "surrogatepass"), digest_size=8).digest()
    return int.from_bytes(digest, "big")


def sorted_keys(hashes: Iterable[int]) -> bytes:
    """``hashes`` sorted, 8 bytes each: what a worker sends back for a block."""
    return array.array("Q", sorted(hashes)).tobytes()


def _merged(keys: Sequence[bytes]) -> Iterator[int]:
    def each(raw: bytes) -> array.array[int]:
        got = array.array("Q")
        got.frombytes(raw)
        return got

    return heapq.merge(*(each(k) for k in keys))


def repeats(keys: Sequence[bytes]) -> frozenset[int]:
    """The hashes found more than once in the blocks' sorted hashes (one merge pass)."""
    found: set[int] = set()
    last = None
    for key in _merged(keys):
        if key == last:
            found.add(key)
        last = key
    return frozenset(found)


def merged(keys: Sequence[bytes]) -> bytes:
    """Every block's sorted hashes as one sorted run (8 bytes a key), for :func:`holds`."""
    return array.array("Q", _merged(keys)).tobytes()


class Holds:
    """Whether a hash is in a sorted run of hashes (:func:`merged`), by bisection: the run
    stays 8 bytes a key."""

    def __init__(self, run: bytes) -> None:
        self._run = array.array("Q")
        self._run.frombytes(run)

    def __contains__(self, key: int) -> bool:
        i = bisect.bisect_left(self._run, key)
        return i < len(self._run) and self._run[i] == key
