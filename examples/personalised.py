#!/usr/bin/env python3
"""One digest per subscriber, with only the stories they follow, into an outbox of .eml files.

    python examples/personalised.py --since 2021-02-01 --until 2021-02-28 -o build/outbox

reads the content file and a subscribers CSV (``email,name,topics,countries,language``; lists
separated by ``;``; an empty list means "everything"), and writes ``<address>.eml`` for every
subscriber whose topics and countries match at least one story of the window. Those with none are
skipped and counted. Send the outbox with:

    storykit send build/outbox/*.eml --smtp localhost:25 --dry-run

Copy this script and change what you need: the window, the sender, the unsubscribe URL.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import storykit
from storykit.digest import PersonalisedRun, load_subscribers, select, window, write_outbox

HERE = Path(__file__).resolve().parent
DEFAULT_SOURCE = HERE / "impact-and-people" / "stories.json"
DEFAULT_SUBSCRIBERS = HERE / "impact-and-people" / "subscribers.csv"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Write one personalised digest per subscriber into an outbox folder.",
        epilog="example: %(prog)s --since 2021-02-01 --until 2021-02-28 -o build/outbox",
    )
    parser.add_argument("--source", type=Path, default=DEFAULT_SOURCE,
                        help="content file to read (default: the example stories)")
    parser.add_argument("--subscribers", type=Path, default=DEFAULT_SUBSCRIBERS,
                        help="subscribers CSV (default: the example subscribers)")
    parser.add_argument("--since", metavar="YYYY-MM-DD", help="first day of the window")
    parser.add_argument("--until", metavar="YYYY-MM-DD", help="last day of the window")
    parser.add_argument("-o", "--outbox", type=Path, default=Path("build/outbox"),
                        help="folder for the .eml files (default: build/outbox)")
    parser.add_argument("--sender", default="ILO Newsroom <newsroom@example.org>",
                        help="the From address")
    parser.add_argument("--unsubscribe",
                        default="https://news.example.org/unsubscribe?u={token}",
                        help="https unsubscribe URL; {token} is each subscriber's token")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        col = storykit.load(args.source)
        win = window(since=args.since, until=args.until)
        stories = select(col, win)
        subscribers = load_subscribers(args.subscribers)
        run = PersonalisedRun(stories, subscribers, {
            "sender": args.sender,
            "unsubscribe": args.unsubscribe,
            "since": win.since,
            "until": win.until,
        })
        written = write_outbox(run, args.outbox)
    except (storykit.ValidationError, ValueError, OSError) as e:
        print(f"personalised: error: {e}", file=sys.stderr)
        return 1
    print(f"{len(stories)} stories {win}; {len(subscribers)} subscribers")
    for path in written:
        print(f"  wrote {path}")
    for sub in run.skipped:
        print(f"  skipped {sub.email}: no story matches their topics and countries")
    print(f"{len(written)} messages in {args.outbox}, {len(run.skipped)} subscribers skipped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
