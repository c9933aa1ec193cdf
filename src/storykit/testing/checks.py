"""The exporter and reader contracts: :func:`check_exporter` and :func:`check_reader`."""

from __future__ import annotations

import io
import re
from datetime import date
from typing import Any

import attrs
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from storykit.collection import Collection
from storykit.errors import OptionError
from storykit.exporter import Exporter
from storykit.model import Story
from storykit.testing.keeps import Keeps
from storykit.testing.strategies import collections

_MEDIA_TYPE = re.compile(r"[a-z]+/[a-z0-9.+-]+(?:;\s*[a-z-]+=[A-Za-z0-9-]+)*")


class _Sink(io.RawIOBase):
    """A write-only, non-seekable binary stream (like a pipe) that keeps what it is given."""

    def __init__(self) -> None:
        super().__init__()
        self.chunks: list[bytes] = []

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        if self.closed:
            raise ValueError("write to a closed stream")
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise AssertionError(f"the exporter wrote {type(data).__name__}, not bytes, to the "
                            "binary stream")
        self.chunks.append(bytes(data))
        return len(data)

    def seek(self, offset: int, whence: int = 0) -> int:
        raise AssertionError("write() called seek() or tell() on its stream: an exporter writes "
                             "straight through, as to a pipe or standard output, which cannot "
                             "seek (keep what you need to go back to in memory)")

    def tell(self) -> int:
        return self.seek(0, 1)


def check_exporter(exporter: Exporter, *, max_examples: int = 40,
                   options: dict[str, Any] | None = None, allow_empty: bool = False) -> None:
    """Check that ``exporter`` keeps the exporter contract, over Hypothesis-made collections.

    - ``name`` is a lowercase format name, ``media_type`` a MIME type, ``suffix`` starts
      with ``.``, ``description`` is one line;
    - ``options_type``, when given, is an attrs class whose every option has a default, and
      ``options`` are valid for it;
    - ``write()`` writes bytes to a write-only, non-seekable binary stream (a pipe, stdout),
      for an empty collection too, and leaves the stream open;
    - equal input gives byte-identical output (no clocks, no random ids);
    - awkward text (markup, formulas, right-to-left, emoji) raises nothing;
    - an exporter that streams (``streams = True``) writes with ``write_stream()`` what
      ``write()`` writes, and one with ``continuation_options()`` writes parts that
      concatenate to the whole (what ``storykit export --jobs`` relies on).

    - ``write()`` returns ``None`` or the number of stories it wrote (an ``int``, at most the
      collection's).

    Raises ``AssertionError`` saying which rule failed (and Hypothesis shows the example),
    whatever went wrong: an exception from ``write()`` is reported as one, with its cause.

    :param options: options to pass to every ``write()`` (check each option set you support).
    :param max_examples: how many collections Hypothesis makes.
    :param allow_empty: accept no output for a collection with stories (for formats of other
        parts of a collection, such as the media contacts as vCards, which may be none).
    """
    import copy

    from storykit.exporter import prepare_options

    name = _format_name(exporter, "check_exporter() takes an exporter", "markdown")
    media_type = getattr(exporter, "media_type", None)
    assert isinstance(media_type, str) and _MEDIA_TYPE.fullmatch(media_type), (
        f"{name}: media_type must be a MIME type like 'text/html' (got {media_type!r})")
    suffix = getattr(exporter, "suffix", None)
    assert isinstance(suffix, str) and re.fullmatch(r"\.[a-z0-9][a-z0-9.]*", suffix), (
        f"{name}: suffix must look like '.html' (got {suffix!r})")
    description = getattr(exporter, "description", None)
    assert isinstance(description, str) and description.strip(), (
        f"{name}: description must be a non-empty string (got {description!r})")
    assert "\n" not in description.strip(), f"{name}: description must be one line"
    assert callable(getattr(exporter, "write", None)), f"{name}: write() is missing"
    options_type = getattr(exporter, "options_type", None)
    if options_type is not None:
        assert attrs.has(options_type), (
            f"{name}: options_type must be an attrs class (got {options_type!r})")
        no_default = [f.name for f in attrs.fields(options_type) if f.default is attrs.NOTHING]
        assert not no_default, (
            f"{name}: every option needs a default; {', '.join(no_default)} has none")
    try:
        opts = prepare_options(exporter, dict(options or {}))
    except OptionError as e:
        raise AssertionError(f"{name}: the options given are invalid: {e}") from e
    except Exception as e:
        raise AssertionError(f"{name}: preparing the options raised {type(e).__name__}: "
                             f"{e}") from e

    def write(col: Collection) -> bytes:
        sink = _Sink()
        exporter.write(col, sink, **opts)  # type: ignore[arg-type]
        return b"".join(sink.chunks)

    def render(col: Collection) -> bytes:
        sink = _Sink()
        try:
            count = exporter.write(col, sink, **opts)  # type: ignore[arg-type]
        except AssertionError:
            raise
        except Exception as e:
            raise AssertionError(f"{name}: write() raised {type(e).__name__}: {e}\n"
                                 + _culprit(write, col)) from e
        assert count is None or (type(count) is int and 0 <= count <= len(col)), (
            f"{name}: write() returned {count!r}; it may return None or the number of stories "
            f"it wrote (an int from 0 to {len(col)})")
        assert not sink.closed, f"{name}: write() closed the stream it was given"
        return b"".join(sink.chunks)

    empty = Collection(title="Empty")
    render(empty)

    # No explain phase: it reruns the (slow-to-draw) collections many times to annotate a
    # failure whose cause the assertion message already names.
    @settings(max_examples=max_examples, deadline=None,
              phases=[Phase.explicit, Phase.reuse, Phase.generate, Phase.shrink],
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
    @given(collections(min_size=1, max_size=5))
    def check(col: Collection) -> None:
        first = render(col)
        assert first or allow_empty, (
            f"{name}: wrote no bytes for a collection of {len(col)} stories")
        twin = copy.deepcopy(col)
        assert twin == col
        again = render(twin)
        assert first == again, (
            f"{name}: equal input gave different output (no clocks, no random ids): "
            f"{_first_difference(first, again)}")
        if streams:
            _check_stream(exporter, col, first, opts, later)

    streams = bool(getattr(exporter, "streams", False))
    later = None
    if streams:
        assert callable(getattr(exporter, "write_stream", None)), (
            f"{name}: streams = True, but write_stream() is missing")
        continuation = getattr(exporter, "continuation_options", None)
        try:
            later = continuation(dict(opts)) if continuation is not None else None
        except Exception as e:
            raise AssertionError(f"{name}: continuation_options() raised "
                                 f"{type(e).__name__}: {e}") from e
    _as_assertion(name, check)


#: Plain values that any exporter writes, to find the field of a story that makes one fail.
_PLAIN_STORY: dict[str, Any] = {
    "id": "story", "title": "Title", "published": date(2021, 2, 3), "summary": "Summary.",
    "url": None, "image": None, "topics": (), "countries": (), "language": "en", "links": (),
    "translations": (), "updated": None, "body": None}
_PLAIN_COLLECTION: dict[str, Any] = {
    "title": "Stories", "description": None, "url": None, "language": "en", "contacts": ()}


def _culprit(write: Any, col: Collection) -> str:
    """Which story of ``col``, and which of its fields, make ``write(collection)`` raise:
    each story is written alone, then with one field at a time set to a plain value; the
    fields whose plain value makes it write are named, with the value that failed."""

    def fails(candidate: Collection) -> bool:
        try:
            write(candidate)
        except Exception:
            return True
        return False

    meta = {f: getattr(col, f) for f in _PLAIN_COLLECTION}
    for i, story in enumerate(col.stories):
        values = {f: getattr(story, f) for f in Story.FIELDS}
        if not fails(Collection(**meta, stories=[story])):
            continue
        fields = [f for f, plain in _PLAIN_STORY.items() if values[f] != plain
                  and not fails(Collection(**meta, stories=[Story(**{**values, f: plain})]))]
        where = f"story {i} ({story.id!r}) of {len(col)}"
        if not fields:
            return f"{where} fails alone, whichever one field is made plain: {story!r}"
        return f"{where}, for " + "; ".join(f"{f}={values[f]!r}" for f in fields) + (
            f" (it writes with {', '.join(f'{f}={_PLAIN_STORY[f]!r}' for f in fields)})")
    fields = [f for f, plain in _PLAIN_COLLECTION.items() if meta[f] != plain
              and not fails(Collection(**{**meta, f: plain}, stories=col.stories))]
    if fields:
        return "the collection's " + "; ".join(f"{f}={meta[f]!r}" for f in fields)
    return f"a collection of {len(col)} stories, no one story or field alone: {col!r}"


def _first_difference(a: bytes, b: bytes) -> str:
    """Where two outputs first differ, with a little of each around it."""
    at = next((i for i, (x, y) in enumerate(zip(a, b, strict=False)) if x != y),
              min(len(a), len(b)))
    start = max(0, at - 30)
    return (f"they differ at byte {at:,} (of {len(a):,} and {len(b):,}): "
            f"{a[start:at + 30]!r} against {b[start:at + 30]!r}")


def _check_stream(exporter: Any, col: Collection, whole: bytes, opts: dict[str, Any],
                  later: dict[str, Any] | None) -> None:
    """``write_stream()`` writes ``whole`` (what ``write()`` wrote), and parts rendered with
    the continuation options concatenate to it."""
    name = exporter.name

    def stream(stories: Any, options: dict[str, Any]) -> bytes:
        sink = _Sink()
        try:
            exporter.write_stream(col, iter(stories), sink, **options)
        except AssertionError:
            raise
        except Exception as e:
            raise AssertionError(f"{name}: write_stream() raised {type(e).__name__}: {e} "
                                 f"(for {len(stories)} stories of a collection of "
                                 f"{len(col)})") from e
        return b"".join(sink.chunks)

    streamed = stream(col.stories, opts)
    assert streamed == whole, (
        f"{name}: write_stream() wrote other bytes than write() for the same collection: "
        f"{_first_difference(whole, streamed)}")
    if later is not None:
        stories = list(col.stories)
        for cut in range(len(stories) + 1):
            parts = stream(stories[:cut], opts) + stream(stories[cut:], later)
            assert parts == whole, (
                f"{name}: the first {cut} stories and the rest, the rest written with "
                "continuation_options(), do not concatenate to the whole output: "
                f"{_first_difference(whole, parts)}")


_GARBAGE: tuple[bytes, ...] = (
    b"", b"\x00", b"\xff\xfe\x00<", b"{", b"[", b"<", b"<?xml version='1.0'?>", b"null",
    b"---\n", b"+++\n", b"<html><body>", b"\xef\xbb\xbf", b"a,b\n1,2\n" * 3,
    b"<rss><channel><item>", b'{"version": "https://jsonfeed.org/version/1.1"}',
)


def check_reader(reader: Any, *, sample: bytes | dict[str, bytes] | None = None,
                 writer: str | None = None, writer_options: dict[str, Any] | None = None,
                 keeps: Keeps | None = None, max_examples: int = 20) -> None:
    """Check that ``reader`` keeps the reader contract.

    - ``name`` is a lowercase name, ``suffixes`` a tuple of ``.x`` suffixes, ``media_types`` a
      tuple of MIME types, ``description`` one line, ``options_type`` ``None`` or an attrs
      class, ``input`` ``"stream"`` or ``"folder"``, ``read`` callable;
    - ``sample`` (the bytes of a document it reads, or for a folder reader ``{relative path:
      bytes}``) reads to a :class:`~storykit.Collection`, the same one twice (stable ids), and
      ``sniff()`` (if the reader has it) recognises its first 4,096 bytes;
    - what the exporter ``writer`` writes of Hypothesis-made collections reads back: as many
      stories, and with ``keeps`` (a :class:`Keeps` naming the fields the two formats carry
      and how finely) the same stories in every one of those fields;
    - garbage (empty, binary, truncated documents of every kind, random bytes) either reads
      or raises :class:`~storykit.ValidationError`: never another exception; ``sniff()``
      returns a bool for each.

    Raises ``AssertionError`` saying which rule failed.
    """
    import tempfile
    from pathlib import Path

    from storykit.errors import ValidationError

    name = _format_name(reader, "check_reader() takes a reader", "wxr")
    suffixes = getattr(reader, "suffixes", None)
    assert isinstance(suffixes, tuple) and all(
        isinstance(s, str) and re.fullmatch(r"\.[a-z0-9][a-z0-9.]*", s) for s in suffixes), (
        f"{name}: suffixes must be a tuple like ('.atom',) or () (got {suffixes!r})")
    media_types = getattr(reader, "media_types", None)
    assert isinstance(media_types, tuple) and all(
        isinstance(m, str) and _MEDIA_TYPE.fullmatch(m) for m in media_types), (
        f"{name}: media_types must be a tuple of MIME types like ('application/atom+xml',) "
        f"(got {media_types!r})")
    description = getattr(reader, "description", None)
    assert isinstance(description, str) and description.strip(), (
        f"{name}: description must be a non-empty string (got {description!r})")
    assert "\n" not in description.strip(), f"{name}: description must be one line"
    options_type = getattr(reader, "options_type", None)
    assert options_type is None or attrs.has(options_type), (
        f"{name}: options_type must be None or an attrs class (got {options_type!r})")
    kind = getattr(reader, "input", "stream")
    assert kind in ("stream", "folder"), (
        f"{name}: input must be 'stream' or 'folder' (got {kind!r})")
    assert callable(getattr(reader, "read", None)), f"{name}: read() is missing"
    sniff = getattr(reader, "sniff", None)

    def read(data: bytes | dict[str, bytes], what: str) -> Collection | None:
        try:
            if kind == "folder":
                with tempfile.TemporaryDirectory() as tmp:
                    files = data if isinstance(data, dict) else {"story.md": data}
                    for rel, content in files.items():
                        path = Path(tmp, rel)
                        path.parent.mkdir(parents=True, exist_ok=True)
                        path.write_bytes(content)
                    got = reader.read(Path(tmp))
            else:
                assert isinstance(data, bytes)
                stream = io.BytesIO(data)
                stream.name = f"{what}{suffixes[0] if suffixes else ''}"
                got = reader.read(stream)
        except ValidationError as e:
            message = str(e).strip()
            assert message, f"{name}: a ValidationError without a message for {what}"
            return None
        except Exception as e:
            raise AssertionError(
                f"{name}: reading {what} raised {type(e).__name__}: {e} (a reader raises "
                "storykit.ValidationError for a document it cannot read)") from e
        assert isinstance(got, Collection), (
            f"{name}: read() returned {type(got).__name__}, not a storykit.Collection")
        return got

    def sniffs(head: bytes) -> bool:
        assert sniff is not None
        try:
            got = sniff(head[:4096])
        except Exception as e:
            raise AssertionError(f"{name}: sniff() raised {type(e).__name__}: {e} for "
                                 f"{head[:30]!r} (it returns False for what it cannot "
                                 "read)") from e
        assert isinstance(got, bool), f"{name}: sniff() returned {got!r}, not a bool"
        return got

    if sample is not None:
        first = read(sample, "the sample")
        assert first is not None, f"{name}: the sample did not read (ValidationError)"
        again = read(sample, "the sample")
        assert first == again, f"{name}: the same sample read twice gave different collections"
        if sniff is not None and isinstance(sample, bytes):
            assert sniffs(sample), f"{name}: sniff() does not recognise the sample"
    for garbage in _GARBAGE:
        read(garbage, f"garbage {garbage[:30]!r}")
        if sniff is not None:
            sniffs(garbage)

    @settings(max_examples=max_examples, deadline=None, database=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
    @given(st.binary(max_size=300))
    def random_bytes(data: bytes) -> None:
        read(data, f"random bytes {data[:30]!r}")
        if sniff is not None:
            sniffs(data)

    _as_assertion(name, random_bytes)
    if writer is not None:
        import storykit

        @settings(max_examples=max_examples, deadline=None,
                  suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
        @given(collections(min_size=1, max_size=4))
        def written(col: Collection) -> None:
            data = storykit.dumps(col, writer, **(writer_options or {}))
            got = read(data, f"what {writer!r} wrote")
            assert got is not None, f"{name}: what the {writer!r} exporter wrote did not read"
            assert len(got) == len(col), (
                f"{name}: read {len(got)} stories of the {len(col)} that {writer!r} wrote")
            if keeps is not None:
                try:
                    keeps.assert_kept(col.stories, got.stories)
                except AssertionError as e:
                    raise AssertionError(f"{name}: read back what {writer!r} wrote, but {e}"
                                         ) from None

        _as_assertion(name, written)


def _as_assertion(name: str, check: Any) -> None:
    """Run a Hypothesis ``check``; anything it raises but an AssertionError (a flaky failure,
    a failed health check) becomes one."""
    try:
        check()
    except AssertionError:
        raise
    except Exception as e:
        raise AssertionError(f"{name}: {type(e).__name__}: {e}") from e


def _format_name(plugin: object, takes: str, example: str) -> str:
    """The plugin's format name, checked: an instance (not its class) with a lowercase name."""
    assert not isinstance(plugin, type), (
        f"{takes}, not the class {plugin.__name__}: pass {plugin.__name__}()")
    name = getattr(plugin, "name", None)
    assert isinstance(name, str) and re.fullmatch(r"[a-z0-9]+(?:[-_][a-z0-9]+)*", name), (
        f"name must be a lowercase format name like {example!r} (got {name!r})")
    return name
