"""The streaming floor: JSON Lines to CSV or JSON Lines with orjson and csv, in one process.

    python benchmarks/floor_stream.py big.jsonl csv out.csv
    python benchmarks/floor_stream.py big.jsonl jsonl out.jsonl

What a user would write for a one-off conversion that gives storykit's output: parse each line,
apply storykit's text rules (strip, NFC, no control characters, not blank) to the fields
storykit applies them to and parse the credit (``anchors.flat_rows``, ``anchors.story_line``),
and write the same bytes storykit writes (the bench checks them equal), in chunks. It checks
nothing else (ids, URLs, dates, countries, languages, unknown fields, unique ids): storykit's
ratio to it is the price of that validation, of the model's objects and of the CLI.

With ``--raw`` the JSON Lines floor is the one of rounds 1-5: ``dumps(loads(line))``, no rule
and not storykit's bytes (its input written back), for the figures measured against it.
"""

from __future__ import annotations

import csv
import sys
from pathlib import Path

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent))

from anchors import CSV_HEADER, flat_rows, story_line

CHUNK = 4096
#: U+2028 and U+2029, which storykit's JSON Lines writes escaped (line splitters break at them).
_LS, _PS = "\u2028".encode(), "\u2029".encode()


def main(src: str, fmt: str, dst: str, *flags: str) -> int:
    loads, dumps = orjson.loads, orjson.dumps
    with open(src, "rb") as f:
        if fmt == "csv":
            with open(dst, "w", encoding="utf-8", newline="") as out:
                w = csv.writer(out, lineterminator="\r\n")
                w.writerow(CSV_HEADER)
                batch = []
                for line in f:
                    batch.append(loads(line))
                    if len(batch) == CHUNK:
                        w.writerows(flat_rows(batch))
                        batch = []
                w.writerows(flat_rows(batch))
            return 0
        raw = "--raw" in flags
        with open(dst, "wb") as out:
            lines: list[bytes] = []
            for line in f:
                lines.append(dumps(loads(line)) if raw else dumps(story_line(loads(line))))
                if len(lines) == CHUNK:
                    out.write(_joined(lines, raw))
                    lines = []
            if lines:
                out.write(_joined(lines, raw))
    return 0


def _joined(lines: list[bytes], raw: bool) -> bytes:
    data = b"\n".join(lines) + b"\n"
    return data if raw else data.replace(_LS, b"\\u2028").replace(_PS, b"\\u2029")


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
