"""Reading HTML back for the tests: html5lib, strictly (every parse error fails the test)."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import html5lib


def parse_html(data: bytes | str, *, fragment: bool = False) -> ET.Element:
    """The document (or fragment) tree; fails listing the parse errors html5lib reports."""
    parser = html5lib.HTMLParser(tree=html5lib.getTreeBuilder("etree"),
                                 namespaceHTMLElements=False)
    source = data.decode("utf-8") if isinstance(data, bytes) else data
    root = parser.parseFragment(source) if fragment else parser.parse(source)
    assert parser.errors == [], f"parse errors: {parser.errors[:5]}"
    return root


def text(el: ET.Element) -> str:
    """All the text inside ``el``, as written."""
    return "".join(el.itertext())
