#!/usr/bin/env python3
"""Export the stories about a partner's countries as JSON and CSV, for the partner to reuse.

    python examples/partner_export.py --partner asia-desk --countries LK,MM,PH,TL -o build/partners

writes ``build/partners/asia-desk.json`` (the collection document: it loads back with
``storykit.load``) and ``build/partners/asia-desk.csv`` (one row per story, with a byte order mark
so Excel reads it as UTF-8). Copy this script and change what you need.
"""

from __future__ import annotations

import argparse
import sys
from datetime import date
from pathlib import Path

import storykit

HERE = Path(__file__).resolve().parent
DEFAULT_SOURCE = HERE / "impact-and-people" / "stories.json"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Export the stories about a partner's countries as JSON and CSV.",
        epilog="example: %(prog)s --partner asia-desk --countries LK,MM,PH,TL -o build/partners",
    )
    parser.add_argument("--source", type=Path, default=DEFAULT_SOURCE,
                        help="content file to read (default: the example stories)")
    parser.add_argument("--partner", required=True,
                        help="the partner's short name, used for the file names")
    parser.add_argument("--countries", required=True,
                        help="comma-separated ISO 3166-1 alpha-2 codes, e.g. LK,MM")
    parser.add_argument("--since", type=date.fromisoformat, metavar="YYYY-MM-DD",
                        help="only stories published on or after this date")
    parser.add_argument("-o", "--out", type=Path, default=Path("build/partners"),
                        help="output folder (default: build/partners)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    countries = [c.strip() for c in args.countries.split(",") if c.strip()]
    try:
        col = storykit.load(args.source)
        mine = col.filter(country=countries, since=args.since).sort("published", reverse=True)
    except (storykit.ValidationError, ValueError, OSError) as e:
        print(f"partner_export: error: {e}", file=sys.stderr)
        return 1
    json_path = storykit.dump(mine, args.out / f"{args.partner}.json", indent=2)
    csv_path = storykit.dump(mine, args.out / f"{args.partner}.csv", bom=True)
    print(f"{len(mine)} of {len(col)} stories for {args.partner} ({', '.join(countries)}):")
    for story in mine:
        print(f"  {story.published}  {'/'.join(story.countries)}  {story.title}")
    print(f"wrote {json_path} and {csv_path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
