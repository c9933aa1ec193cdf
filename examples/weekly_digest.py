#!/usr/bin/env python3
"""The stories of the last seven days as a web page and an email digest.

    python examples/weekly_digest.py --today 2021-02-23 -o build/weekly

reads the content file, keeps the stories published in the seven days up to ``--today``
(default: today), and writes ``index.html`` (the page) and ``digest.eml`` (a multipart email with
a plain-text and an HTML part, ready for ``storykit send``) into the output folder. Copy this
script and change what you need: the window, the sender, the files.
"""

from __future__ import annotations

import argparse
import sys
from datetime import date
from pathlib import Path

import storykit
from storykit.digest import select, window

HERE = Path(__file__).resolve().parent
DEFAULT_SOURCE = HERE / "impact-and-people" / "stories.json"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Write the last seven days of stories as a web page and an email digest.",
        epilog="example: %(prog)s --today 2021-02-23 -o build/weekly",
    )
    parser.add_argument("--source", type=Path, default=DEFAULT_SOURCE,
                        help="content file to read (default: the example stories)")
    parser.add_argument("--today", type=date.fromisoformat, default=date.today(),
                        metavar="YYYY-MM-DD", help="last day of the week (default: today)")
    parser.add_argument("--days", type=int, default=7, help="length of the window (default: 7)")
    parser.add_argument("--topic", action="append",
                        help="only stories of this topic (may be repeated)")
    parser.add_argument("-o", "--out", type=Path, default=Path("build/weekly"),
                        help="output folder (default: build/weekly)")
    parser.add_argument("--sender", default="Newsroom <newsroom@example.org>",
                        help="the From address of the email")
    parser.add_argument("--to", default="Journalists <journalists@example.org>",
                        help="the To address of the email")
    parser.add_argument("--allow-empty", action="store_true",
                        help="write the files even when the week has no stories")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        col = storykit.load(args.source)
        win = window(last=f"{args.days}d", today=args.today)
        week = select(col, win, topic=args.topic)  # newest first
    except (storykit.ValidationError, ValueError, OSError) as e:
        print(f"weekly_digest: error: {e}", file=sys.stderr)
        return 1
    print(f"{len(week)} stories from {win.since} to {win.until}")
    if not len(week) and not args.allow_empty:
        print("nothing to send this week; no files written (use --allow-empty to write them)")
        return 0
    for story in week:
        print(f"  {story.published}  {story.title}")
    page = storykit.dump(week, args.out / "index.html")
    print(f"wrote {page}")
    # The window goes into the subject: "Impact and people — 17–23 February 2021".
    email = storykit.dump(week, args.out / "digest.eml", format="email", sender=args.sender,
                          to=args.to, since=win.since, until=win.until)
    print(f"wrote {email}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
