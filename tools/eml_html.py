"""Write the HTML part of an .eml message to a file, to look at it in a browser.

    python tools/eml_html.py build/digest.eml build/digest.html
"""

from __future__ import annotations

import sys
from email import policy
from email.parser import BytesParser
from pathlib import Path


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print("usage: eml_html.py MESSAGE.eml OUT.html", file=sys.stderr)
        return 2
    msg = BytesParser(policy=policy.default).parsebytes(Path(argv[0]).read_bytes())
    part = msg.get_body(("html",))
    if part is None:
        print(f"eml_html: {argv[0]} has no text/html part", file=sys.stderr)
        return 1
    Path(argv[1]).write_text(part.get_content(), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
