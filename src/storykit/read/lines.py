"""Reading a file of one story per line or row (JSON Lines, CSV, TSV) a story at a time.

The verdict is :func:`storykit.load`'s (every problem of the file in one
:class:`~storykit.ValidationError`, ids unique, ids derived from titles numbered ``-2``,
``-3``), in memory that grows by a hash of each id (8 bytes a story), not with the file.
Each format gives a :class:`LineFile` (``storykit.read.jsonl``, ``storykit.read.csv``); the
stream functions (``storykit.stream``) and ``load(path, where=...)`` use them.
"""

from __future__ import annotations

import array
import bisect
import collections
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Protocol

import attrs

from storykit.collection import Collection, _given_id, derive_ids
from storykit.convert import collection_from_data
from storykit.errors import ErrorDetail, ValidationError
from storykit.model import Errors, Story, _build, check_story_values

__all__ = ["IdHashes", "LineFile", "check_story", "collection_of_lines", "load_where",
           "one_story", "renamed", "verdict"]


def collection_of_lines(items: list[Any], lines: list[int], errors: Errors,
                        broken: set[str], source: str | None) -> Collection:
    """The collection of a whole file of one story per line or row: ``items`` its stories'
    data, ``lines[i]`` the line of the ``i``-th, ``errors`` the problems found reading them, and
    ``broken`` the paths (``stories[3]``) of the stories that could not be read at all.

    The stories that were read are checked even when there are problems already, so that one
    :class:`~storykit.ValidationError` names every problem, in the order of the lines.
    """
    if errors:
        try:
            collection_from_data(items, source, line_of=lines.__getitem__)
        except ValidationError as e:
            errors.extend(x for x in e.errors if x.path.split(".", 1)[0] not in broken)
        errors.sort(key=lambda x: x.line or 0)
        raise ValidationError(errors, source)
    return collection_from_data(items, source, line_of=lines.__getitem__)


class LineFile(Protocol):
    """A format of one story per line or row."""

    def checked(self, path: Path, source: str, errors: Errors,
                ids: array.array[int]) -> Iterator[Story]:
        """The stories of the file, each checked; problems go to ``errors``.

        After the first problem nothing more is yielded (the output is void), but the file is
        read to the end so that every problem is reported, as :func:`storykit.load` reports
        them. The hash of the id of each story that is valid goes to ``ids`` (after a problem
        too), and the hash of the valid id a story that failed gives, for the check of unique
        ids at the end.
        """
        ...

    def items(self, path: Path, source: str) -> Iterator[tuple[int, int, Any]]:
        """(story, line, its data) for each story: a reading that parses and checks nothing
        more (data that does not parse is ``None``)."""
        ...


def check_story(item: Any, i: int, n: int, errors: Errors,
                  count: Callable[[str], object] | None = None) -> Story | None:
    """The detailed check of the story at index ``i``, line ``n``; problems go to ``errors``.

    Returns None when this story had a problem, and gives ``count`` the valid id the story
    gives, if any: after any problem the output is void, but every story's id still counts
    for the check of unique ids, as in :func:`load`.
    """
    before = len(errors)
    values = check_story_values(errors, f"stories[{i}]", item)
    if len(errors) > before or values is None:
        errors[before:] = [ErrorDetail(e.path, e.message, e.value, n) for e in errors[before:]]
        if count is not None and (sid := _given_id(item)) is not None:
            count(sid)
        return None
    return _build(Story, values)


def one_story(item: Any, source: str, line: int, path: str = "") -> Story:
    errors: Errors = []
    values = check_story_values(errors, path, item)
    if errors:
        raise ValidationError([ErrorDetail(e.path, e.message, e.value, line) for e in errors],
                              source)
    assert values is not None
    return _build(Story, values)


#: About ``2 ** _BUCKET_BITS`` id hashes go to each bucket of :class:`IdHashes`.
_BUCKET_BITS = 16


class IdHashes:
    """The hashes of a file's ids (``ids``, 8 bytes a story), for the check of unique ids.

    They are shared among buckets by their low bits, about ``2 ** 16`` to a bucket: a hash
    that repeats is twice in one bucket, so each bucket is checked alone, by a set, at C
    speed, and never more than one bucket's set is in memory (sorting every hash and merging
    the runs took three times as long). With ``2 ** 16`` hashes or fewer, ``ids`` is the one
    bucket (and is sorted in place by a lookup).
    """

    def __init__(self, ids: array.array[int]) -> None:
        bits = min(max(len(ids).bit_length() - _BUCKET_BITS, 0), 10)
        self._mask = (1 << bits) - 1
        if not bits:
            self._buckets = [ids]
        else:
            self._buckets = [array.array("q") for _ in range(self._mask + 1)]
            mask = self._mask
            put = [bucket.append for bucket in self._buckets]
            for h in ids:
                put[h & mask](h)
        self._sorted = False

    def repeats(self) -> set[int]:
        """The hashes held twice or more."""
        found: set[int] = set()
        for bucket in self._buckets:
            if len(set(bucket)) != len(bucket):  # (rare: the file repeats an id's hash)
                found.update(h for h, n in collections.Counter(bucket).items() if n > 1)
        return found

    def __contains__(self, value: int) -> bool:
        """Whether ``value`` is held (each bucket is sorted once, on the first lookup)."""
        if not self._sorted:
            for bucket in self._buckets:
                bucket[:] = array.array("q", sorted(bucket))
            self._sorted = True
        bucket = self._buckets[value & self._mask]
        i = bisect.bisect_left(bucket, value)
        return i < len(bucket) and bucket[i] == value


def verdict(path: Path, fmt: LineFile, source: str, errors: Errors, ids: array.array[int], *,
             number: bool = True) -> dict[int, str]:
    """Raise the problems :func:`load` finds in the file, given those of its stories
    (``errors``) and the hashes of their ids (``ids``).

    Else return the ids :func:`load` gives the stories without one where the id derived from
    their title is taken (``{story: id}``, empty when none is; only when ``number``). A file
    whose ids repeat a hash is read once more, parsing and checking little, to tell a given id
    repeated (a problem) from a derived one (numbered).
    """
    known = IdHashes(ids)
    hashes = known.repeats()
    if errors:
        if hashes:  # two stories give one id: load() reports that too, with the rest
            errors.extend(survey(path, fmt, source, hashes, known, number=False)[0])
            errors.sort(key=lambda e: e.line or 0)  # (stable: a story's own problems first)
        raise ValidationError(errors, source)
    if not hashes:
        return {}
    problems, numbered = survey(path, fmt, source, hashes, known, number=number)
    if problems:
        raise ValidationError(problems, source)
    return numbered


_NUMBERED = re.compile(r"(.+)-[0-9]+")


def survey(path: Path, fmt: LineFile, source: str, hashes: set[int], known: IdHashes, *,
            number: bool) -> tuple[Errors, dict[int, str]]:
    """One more reading of the file, for its ids: the problems of ids given twice, as
    :func:`load` reports them (for the ids whose hash is in ``hashes``), and, when ``number``,
    the ids :func:`load` gives the stories without one whose derived id is taken.

    :func:`load`'s rule: the given ids are claimed first; then each story without one, in
    order, takes the first free of ``slug``, ``slug-2``, ``slug-3``... A given id can only be
    one of those names if it is a slug (then its hash repeats) or a slug and ``-N`` (then the
    slug's hash is in ``known``): only those are kept, and then only those whose slug is
    one. Memory grows with the stories without an id (a few hundred bytes each), not with
    the file.
    """
    first: dict[str, int] = {}
    problems: Errors = []
    at: array.array[int] = array.array("q")  # the stories without an id, and their slugs
    slugs: list[str] = []
    maybe: list[str] = []  # given ids that may be a slug or a slug and -N
    for i, n, item in fmt.items(path, source):
        sid = _given_id(item)
        if sid is None:
            if number and item is not None:  # (a valid file: no id, or an empty one)
                values = check_story_values([], "", item)
                assert values is not None
                slugs.append(values["id"])
                at.append(i)
            continue
        repeated = hash(sid) in hashes
        if repeated:
            if sid in first:
                problems.append(ErrorDetail(f"stories[{i}].id", f"{sid!r} is already the id of "
                                            f"stories[{first[sid]}]", sid, n))
            else:
                first[sid] = i
        if number and (repeated or ((m := _NUMBERED.fullmatch(sid)) is not None
                                    and hash(m[1]) in known)):
            maybe.append(sid)
    if problems or not number:
        return problems, {}
    derived = set(slugs)
    taken = {sid for sid in maybe if sid in derived or (
        (m := _NUMBERED.fullmatch(sid)) is not None and m[1] in derived)}
    del derived, maybe
    numbered: dict[int, str] = {}
    give = derive_ids(taken)
    for i, slug in zip(at, slugs, strict=True):
        sid = give(slug)
        taken.add(sid)
        if sid != slug:
            numbered[i] = sid
    return problems, numbered


def load_where(path: Path, fmt: LineFile, source: str,
               where: Callable[[Story], bool]) -> Collection:
    """:func:`load` with ``where`` for a JSON Lines or CSV file, read a story at a time."""
    errors: Errors = []
    ids: array.array[int] = array.array("q")
    kept: list[Story] = []
    failed: Exception | None = None  # where's own error: raised after the file's problems
    try:
        for story in fmt.checked(path, source, errors, ids):
            if failed is None:
                try:
                    if where(story):
                        kept.append(story)
                except Exception as e:  # (re-raised below, unless the file has problems)
                    failed, kept = e, []
    except ValidationError as e:  # a problem that stops the reading (a broken header)
        raise ValidationError([*errors, *e.errors], source) from None
    numbered = verdict(path, fmt, source, errors, ids)
    if failed is not None:
        raise failed
    if numbered:  # an id derived from a title is taken: where sees each story as load() has it
        stories = renamed(fmt.checked(path, source, [], array.array("q")), numbered)
        kept = [s for s in stories if where(s)]
    return Collection(stories=kept)


def renamed(stories: Iterator[Story], ids: dict[int, str]) -> Iterator[Story]:
    """``stories``, the ``i``-th with the id ``ids[i]`` where there is one."""
    for i, story in enumerate(stories):
        new = ids.get(i)
        yield story if new is None else attrs.evolve(story, id=new)

