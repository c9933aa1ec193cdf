"""A Hypothesis mutation fuzzer over every reader: `make fuzz` (FUZZ_SECONDS, default 60).

Seeds are the feed corpus (tests/corpus/feeds), what storykit's own exporters write of the
example collection, and the example's own files; Hypothesis mutates them (bytes flipped,
inserted, deleted, duplicated, spliced, truncated) and every reader reads each mutant: it must
return a collection or raise storykit.ValidationError, nothing else. Failing examples and the
examples Hypothesis keeps live in the corpus folder (FUZZ_CORPUS, default build/fuzz-corpus),
so a later run starts from them.

    python tools/fuzz_readers.py --seconds 60 --corpus build/fuzz-corpus
"""

from __future__ import annotations

import argparse
import io
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from hypothesis.database import DirectoryBasedExampleDatabase

import storykit

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "tests" / "corpus" / "feeds"
EXAMPLE = ROOT / "examples" / "impact-and-people"


def readers() -> dict[str, Any]:
    """Every reader: the registry's once it exists, else the first-party ones directly."""
    registry = getattr(storykit, "readers", None)
    if registry is not None:
        return dict(registry())
    from storykit_feeds import FeedReader, JSONFeedReader
    from storykit_webpage import WebPageReader
    from storykit_wordpress import WXRReader

    from storykit.read.folder import FolderReader

    found: dict[str, Any] = {r.name: r for r in (FeedReader("atom"), FeedReader("rss"),
                                                  FeedReader("feed"), JSONFeedReader(),
                                                  WebPageReader(), WXRReader(),
                                                  FolderReader())}
    for name in ("json", "jsonl", "toml", "csv"):  # the built-in formats, through loads()
        found[name] = _Loads(name)
    return found


class _Loads:
    """A built-in format read through storykit.loads (until the registry lists it)."""

    input = "stream"

    def __init__(self, name: str) -> None:
        self.name = name

    def read(self, source: Any, **options: Any) -> storykit.Collection:
        return storykit.loads(source.read(), format=self.name)


def seeds() -> list[bytes]:
    found = [p.read_bytes()[:20_000] for p in sorted(CORPUS.rglob("*")) if p.is_file()
             and p.name not in ("LICENSE", "README.md")]
    example = storykit.load(EXAMPLE / "stories.json")
    for fmt in ("json", "csv", "atom", "rss", "jsonfeed", "html"):
        try:
            found.append(storykit.dumps(example.latest(2), fmt))
        except Exception:
            continue
    found += [(EXAMPLE / name).read_bytes() for name in ("stories.json", "stories.toml")]
    found += [p.read_bytes() for p in sorted((EXAMPLE / "content").rglob("*.md"))][:3]
    return found


@st.composite
def mutants(draw: st.DrawFn, pool: list[bytes]) -> bytes:
    data = bytearray(draw(st.sampled_from(pool)))
    for _ in range(draw(st.integers(1, 6))):
        op = draw(st.sampled_from(["flip", "insert", "delete", "dup", "splice", "cut",
                                   "token"]))
        at = draw(st.integers(0, len(data))) if data else 0
        if op == "flip" and data:
            i = min(at, len(data) - 1)
            data[i] ^= 1 << draw(st.integers(0, 7))
        elif op == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=8))
        elif op == "delete":
            del data[at:at + draw(st.integers(1, 64))]
        elif op == "dup":
            size = draw(st.integers(1, 256))
            data[at:at] = data[at:at + size] * draw(st.integers(1, 50))
        elif op == "splice":
            other = draw(st.sampled_from(pool))
            start = draw(st.integers(0, len(other)))
            data[at:at] = other[start:start + draw(st.integers(1, 512))]
        elif op == "cut":
            del data[at:]
        else:
            data[at:at] = draw(st.sampled_from([
                b"<", b">", b"&", b"&amp;", b"&#0;", b"&#xD800;", b"]]>", b"<![CDATA[", b'"',
                b"{", b"}", b"[", b"]", b"null", b"\\u0000", b"\xff", b"\xef\xbb\xbf",
                b"<!ENTITY x 'y'>", b"---\n", b"+++\n", b"\n", b"\r", b"\x00", b"0000-00-00",
                b"javascript:", b"<script>", b"9999999999999999999999"]))
    return bytes(data)


def check(reader: Any, data: bytes) -> None:
    """Read ``data``; anything but a collection or ValidationError is a failure."""
    try:
        if getattr(reader, "input", "stream") == "folder":
            with tempfile.TemporaryDirectory() as tmp:
                Path(tmp, "story.md").write_bytes(data)
                Path(tmp, "other.json").write_bytes(data)
                got = reader.read(Path(tmp))
        else:
            stream = io.BytesIO(data)
            stream.name = "fuzz"
            got = reader.read(stream)
    except storykit.ValidationError:
        return
    assert isinstance(got, storykit.Collection), f"{reader.name} returned {type(got)}"


def fuzz(*, seconds: float | None = None, max_examples: int = 50,
         corpus: Path | None = None, only: str | None = None,
         report: Callable[[str], None] = print) -> None:
    """Fuzz every reader (or ``only``): ``seconds`` shared among them, or ``max_examples``
    mutants each. Raises the first failure (Hypothesis shows the shrunk input)."""
    pool = seeds()
    chosen = {k: v for k, v in readers().items() if only is None or k == only}
    database = DirectoryBasedExampleDatabase(str(corpus)) if corpus is not None else None
    per_reader = seconds / len(chosen) if seconds else None
    for name, reader in sorted(chosen.items()):
        deadline = time.monotonic() + per_reader if per_reader else None
        runs = _fuzz_one(reader, pool, deadline, max_examples, database)
        report(f"fuzz: {name}: {runs} inputs, no failure")


def _fuzz_one(reader: Any, pool: list[bytes], deadline: float | None, max_examples: int,
              database: Any) -> int:
    import warnings

    runs = 0

    @settings(max_examples=200 if deadline else max_examples, deadline=None,
              database=database, phases=[Phase.reuse, Phase.generate, Phase.shrink],
              suppress_health_check=list(HealthCheck))
    @given(data=mutants(pool))
    def run(data: bytes) -> None:
        nonlocal runs
        runs += 1
        if deadline is not None and time.monotonic() > deadline:
            return
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            check(reader, data)

    if deadline is not None:
        # Hypothesis stops at max_examples; here the clock stops it, a batch at a time.
        while time.monotonic() < deadline:
            run()
    else:
        run()
    return runs


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--corpus", type=Path, default=ROOT / "build" / "fuzz-corpus")
    parser.add_argument("--reader", default=None, help="fuzz only this reader")
    args = parser.parse_args(argv)
    args.corpus.mkdir(parents=True, exist_ok=True)
    fuzz(seconds=args.seconds, corpus=args.corpus, only=args.reader)
    return 0


if __name__ == "__main__":
    sys.exit(main())
