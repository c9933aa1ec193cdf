"""The streaming floor: JSON Lines to CSV or JSON Lines with orjson and csv, no validation.

    python benchmarks/floor_stream.py big.jsonl csv out.csv
    python benchmarks/floor_stream.py big.jsonl jsonl out.jsonl

What a user would write for a one-off conversion: parse each line, flatten it to the same
columns (or re-serialise it), write in chunks. It checks nothing, so storykit's ratio to it is
the price of validation and of formula neutralisation.
"""

from __future__ import annotations

import csv
import sys
from pathlib import Path

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent))

from anchors import CSV_HEADER, flat_rows

CHUNK = 4096


def main(src: str, fmt: str, dst: str) -> int:
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
        else:
            with open(dst, "wb") as out:
                batch_b: list[bytes] = []
                for line in f:
                    batch_b.append(dumps(loads(line)))
                    if len(batch_b) == CHUNK:
                        out.write(b"\n".join(batch_b) + b"\n")
                        batch_b = []
                if batch_b:
                    out.write(b"\n".join(batch_b) + b"\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:4]))
