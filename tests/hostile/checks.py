"""What "inert" means for each media type, checked by parsing the output back.

Each checker takes the bytes an exporter wrote and returns a list of problems (empty: safe). They
are shared by ``tests/test_hostile.py`` and ``benchmarks/security.py``. A format whose media type
has no checker is itself a problem: a new format must say how its output is proven inert.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Callable, Iterable
from email import policy
from email.message import EmailMessage
from typing import Any
from xml.etree import ElementTree

#: URL schemes an output may link to. Anything else (javascript:, data:, vbscript:, file:) is
#: refused; so is a protocol-relative ``//host``.
SAFE_SCHEMES = frozenset({"http", "https", "mailto", "tel"})
#: Attributes whose value a browser follows or loads.
URL_ATTRIBUTES = frozenset({
    "href", "src", "action", "formaction", "poster", "cite", "data", "background", "srcset",
    "xlink:href", "manifest", "ping", "longdesc", "lowsrc", "dynsrc", "codebase", "icon",
})
#: Elements that run or embed something: never in a storykit output.
ACTIVE_ELEMENTS = frozenset({
    "iframe", "frame", "frameset", "object", "embed", "applet", "form", "base", "portal",
})
#: Cells a spreadsheet would run (OWASP CSV injection).
FORMULA_TRIGGERS = frozenset("=+-@\t\r")
#: The longest line RFC 5322 allows, in octets, without the CRLF.
MAX_LINE_OCTETS = 998

_SCHEME = re.compile(r"([a-zA-Z][a-zA-Z0-9+.-]*):")
_STRIP_C0 = "".join(chr(c) for c in range(0x21))
_TAB_NL = re.compile("[\t\n\r]")


def url_problem(value: str) -> str | None:
    """Why a browser would treat ``value`` as a dangerous link, or None.

    Parses the way the URL standard does: leading and trailing C0 controls and spaces are
    dropped, tabs and newlines anywhere are removed, then the scheme is read case-insensitively.
    Fragment-only (``#id``) and relative references (storykit's own page links) are allowed;
    ``//host`` is not.
    """
    s = _TAB_NL.sub("", value.strip(_STRIP_C0))
    m = _SCHEME.match(s)
    if m is not None:
        if m.group(1).lower() not in SAFE_SCHEMES:
            return f"link with scheme {m.group(1)!r}: {value[:80]!r}"
        return None
    if s.startswith(("//", "\\\\", "/\\", "\\/")):
        return f"protocol-relative link {value[:80]!r}"
    return None


# --- HTML -------------------------------------------------------------------------------------


def _local(tag: Any) -> str:
    return tag.rsplit("}", 1)[-1].lower() if isinstance(tag, str) else ""


def html_problems(data: bytes | str, *, fragment: bool = False) -> list[str]:
    """Problems of an HTML page (or fragment): scripts, handlers, dangerous links."""
    import html5lib

    parser = html5lib.HTMLParser(namespaceHTMLElements=False)
    tree = parser.parseFragment(data) if fragment else parser.parse(data)
    problems: list[str] = []
    for el in tree.iter():
        tag = _local(el.tag)
        if tag in ACTIVE_ELEMENTS:
            problems.append(f"<{tag}> element")
        for name, value in el.attrib.items():
            attr = _local(name) if "}" in name else name.lower()
            if attr.startswith("on"):
                problems.append(f"<{tag} {attr}=...> event handler attribute")
            elif attr in URL_ATTRIBUTES:
                values = [v.strip().split(" ")[0] for v in value.split(",")] if (
                    attr == "srcset") else [value]
                problems.extend(f"<{tag} {attr}>: {p}" for v in values
                                if (p := url_problem(v)))
            elif attr == "style" and _bad_css(value):
                problems.append(f"<{tag} style> runs code: {value[:80]!r}")
            elif tag == "meta" and attr == "http-equiv" and value.lower() == "refresh":
                problems.append("<meta http-equiv=refresh>")
        if tag == "script":
            kind = el.get("type", "").strip().lower()
            body = el.text or ""
            if kind != "application/ld+json":
                problems.append(f"<script type={kind!r}> element")
            elif "</" in body:
                problems.append("'</' inside a JSON-LD script")
            else:
                try:
                    json.loads(body)
                except ValueError as e:
                    problems.append(f"JSON-LD that does not parse: {e}")
        elif tag == "style" and _bad_css(el.text or ""):
            problems.append("<style> runs code")
    return problems


def _bad_css(css: str) -> bool:
    low = re.sub(r"\s|\\", "", css.lower())
    return any(x in low for x in ("javascript:", "expression(", "vbscript:", "-moz-binding",
                                  "behavior:"))


def html_text(data: bytes | str) -> str:
    """The text a reader sees (element text, not markup), for "shown literally" checks."""
    import html5lib

    tree = html5lib.parse(data, namespaceHTMLElements=False)
    parts: list[str] = []

    def walk(el: Any) -> None:
        if _local(el.tag) not in ("script", "style") and el.text:
            parts.append(el.text)
        for child in el:
            walk(child)
            if child.tail:
                parts.append(child.tail)

    walk(tree)
    return " ".join(parts)


# --- CSV ----------------------------------------------------------------------------------------


def csv_problems(data: bytes, *, delimiter: str = ",") -> list[str]:
    """Cells a spreadsheet would run as a formula, and NUL characters."""
    text = data.decode("utf-8-sig")
    problems = []
    if "\x00" in text:
        problems.append("NUL character in CSV")
    for r, row in enumerate(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)):
        for c, cell in enumerate(row):
            if cell and cell[0] in FORMULA_TRIGGERS:
                problems.append(f"row {r + 1}, cell {c + 1} starts with {cell[0]!r}: "
                                f"{cell[:60]!r}")
    return problems


# --- email --------------------------------------------------------------------------------------

#: Headers a MIME part (not the message itself) may carry.
PART_HEADERS = frozenset({
    "content-type", "content-transfer-encoding", "content-disposition", "content-id",
    "content-language", "mime-version", "content-description", "content-location",
})


def parse_message(data: bytes) -> EmailMessage:
    """The message, parsed strictly: any defect raises."""
    from email import message_from_bytes

    strict = policy.default.clone(raise_on_defect=True)
    msg = message_from_bytes(data, policy=strict)
    assert isinstance(msg, EmailMessage)
    return msg


def email_problems(data: bytes, intended_headers: Iterable[str] | None = None) -> list[str]:
    """Defects, injected headers, over-long lines, and unsafe HTML parts of a message."""
    problems: list[str] = []
    for n, line in enumerate(data.split(b"\n"), 1):
        octets = len(line.rstrip(b"\r"))
        if octets > MAX_LINE_OCTETS:
            problems.append(f"line {n} is {octets} octets (limit {MAX_LINE_OCTETS})")
    if b"\r" in data.replace(b"\r\n", b""):
        problems.append("bare CR in the message")
    try:
        msg = parse_message(data)
    except Exception as e:
        return [*problems, f"does not re-parse strictly: {type(e).__name__}: {e}"]
    names = [k.lower() for k in msg]
    if intended_headers is not None:
        want = sorted(h.lower() for h in intended_headers)
        if sorted(names) != want:
            problems.append(f"header names {sorted(names)} are not the intended {want}")
    for name in set(names):
        for value in msg.get_all(name, []):
            if any(ch in str(value) for ch in "\r\n\x00\u2028\u2029\x85"):
                problems.append(f"header {name} holds a line break: {str(value)[:80]!r}")
    for part in msg.walk():
        if part.defects:
            problems.append(f"part {part.get_content_type()} has defects {part.defects}")
        if part is not msg:
            extra = {k.lower() for k in part} - PART_HEADERS
            if extra:
                problems.append(f"part {part.get_content_type()} has headers {sorted(extra)}")
        if part.get_content_type() == "text/html":
            body = part.get_content()
            problems.extend(f"html part: {p}" for p in html_problems(body))
    return problems


# --- feeds, JSON, vCard, Markdown --------------------------------------------------------------


def _xml_problems(data: bytes) -> list[str]:
    if b"<!DOCTYPE" in data or b"<!ENTITY" in data:
        return ["XML with a DOCTYPE or entity declaration"]
    try:
        ElementTree.fromstring(data)
    except ElementTree.ParseError as e:
        return [f"XML that does not parse: {e}"]
    return []


def feed_problems(data: bytes) -> list[str]:
    """An Atom or RSS feed: feedparser must read it cleanly (bozo 0), its HTML must be inert."""
    import feedparser

    problems = _xml_problems(data)
    parsed = feedparser.parse(data, sanitize_html=False, resolve_relative_uris=False)
    if parsed.bozo:
        problems.append(f"feedparser bozo: {parsed.get('bozo_exception')!r}")
    root = ElementTree.fromstring(data) if not problems else None
    if root is not None:
        for el in root.iter():
            tag = _local(el.tag)
            kind = el.get("type", "")
            # Atom: type="html" content is markup to render; RSS's own <description> and
            # <content:encoded> are HTML by custom (Media RSS's description is plain by default).
            html_bearing = kind in ("html", "text/html") or el.tag in (
                "description", "{http://purl.org/rss/1.0/modules/content/}encoded")
            if html_bearing and el.text:
                problems.extend(f"<{tag}> html: {p}"
                                for p in html_problems(el.text, fragment=True))
            if kind == "xhtml":
                inner = "".join(ElementTree.tostring(c, encoding="unicode") for c in el)
                problems.extend(f"<{tag}> xhtml: {p}"
                                for p in html_problems(inner, fragment=True))
            for attr in ("href", "src", "url"):
                if el.get(attr) is not None and (p := url_problem(el.get(attr, ""))):
                    problems.append(f"<{tag} {attr}>: {p}")
            if tag in ("link", "comments", "docs") and el.text and (
                    p := url_problem(el.text.strip())):
                problems.append(f"<{tag}>: {p}")
    return problems


def json_problems(data: bytes) -> list[str]:
    """JSON that parses (strictly: no NaN); JSON Lines parse line by line."""
    import orjson

    try:
        orjson.loads(data)
    except orjson.JSONDecodeError:
        try:
            for line in data.splitlines():
                if line.strip():
                    orjson.loads(line)
        except orjson.JSONDecodeError as e:
            return [f"JSON that does not parse: {e}"]
    return []


def jsonfeed_problems(data: bytes) -> list[str]:
    """A JSON Feed: parses, its ``content_html`` is inert, its URLs are http(s)."""
    problems = json_problems(data)
    if problems:
        return problems
    doc = json.loads(data)

    def walk(node: Any, path: str) -> None:
        if isinstance(node, dict):
            for k, v in node.items():
                walk(v, f"{path}.{k}")
        elif isinstance(node, list):
            for i, v in enumerate(node):
                walk(v, f"{path}[{i}]")
        elif isinstance(node, str):
            key = path.rsplit(".", 1)[-1]
            if key == "content_html":
                problems.extend(f"{path}: {p}" for p in html_problems(node, fragment=True))
            elif key in ("url", "home_page_url", "feed_url", "external_url", "image",
                         "banner_image", "icon", "favicon", "avatar") and (
                    p := url_problem(node)):
                problems.append(f"{path}: {p}")

    walk(doc, "$")
    return problems


def vcard_problems(data: bytes) -> list[str]:
    """vCards that vobject reads, with http(s) URLs and no property smuggled in by a value."""
    import vobject

    problems: list[str] = []
    try:
        cards = list(vobject.readComponents(data.decode("utf-8")))
    except Exception as e:
        return [f"vCard that does not parse: {type(e).__name__}: {e}"]
    for card in cards:
        for child in card.getChildren():
            value = child.value if isinstance(child.value, str) else ""
            if child.name.upper() in ("URL", "PHOTO", "SOURCE") and (p := url_problem(value)):
                problems.append(f"{child.name}: {p}")
            if any(ch in value for ch in "\r\n"):
                problems.append(f"{child.name} holds a line break")
    return problems


def markdown_problems(data: bytes) -> list[str]:
    """Markdown that, rendered by a CommonMark renderer with raw HTML on, is inert HTML."""
    from markdown_it import MarkdownIt

    rendered = MarkdownIt("commonmark").render(data.decode("utf-8"))
    return [f"rendered: {p}" for p in html_problems(rendered, fragment=True)]


def sqlite_problems(data: bytes) -> list[str]:
    """An SQLite archive that sqlite3 finds sound, holding exactly storykit's schema (no table,
    view or trigger brought in by a value) and http(s) URLs."""
    import sqlite3
    import tempfile
    from pathlib import Path

    from storykit.sqlite.schema import statements

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "archive.db"
        path.write_bytes(data)
        conn = sqlite3.connect(path)
        try:
            problems = [f"integrity: {r[0]}" for r in conn.execute("PRAGMA integrity_check")
                        if r[0] != "ok"]
            problems += [f"foreign key: {r}" for r in conn.execute("PRAGMA foreign_key_check")]
            held = {r[0] for r in conn.execute(
                "SELECT sql FROM sqlite_schema WHERE sql IS NOT NULL "
                "AND name NOT LIKE 'stories_fts_%'")}
            problems += [f"schema object not storykit's: {sql[:80]}"
                         for sql in held - set(statements())]
            for table in ("stories", "images", "links", "translations", "contacts"):
                for (url,) in conn.execute(f"SELECT url FROM {table} WHERE url IS NOT NULL"):
                    if p := url_problem(url):
                        problems.append(f"{table}.url: {p}")
        finally:
            conn.close()
    return problems


#: The checker for each media type (parameters such as ``; charset=utf-8`` are ignored).
CHECKERS: dict[str, Callable[[bytes], list[str]]] = {
    "text/html": html_problems,
    "application/xhtml+xml": html_problems,
    "text/csv": csv_problems,
    "text/tab-separated-values": lambda d: csv_problems(d, delimiter="\t"),
    "message/rfc822": email_problems,
    "application/atom+xml": feed_problems,
    "application/rss+xml": feed_problems,
    "application/feed+json": jsonfeed_problems,
    "application/json": json_problems,
    "application/x-ndjson": json_problems,
    "text/vcard": vcard_problems,
    "text/x-vcard": vcard_problems,
    "text/markdown": markdown_problems,
    "application/vnd.sqlite3": sqlite_problems,
}


def media_type(value: str) -> str:
    return value.split(";", 1)[0].strip().lower()


def problems(mtype: str, data: bytes, **kwargs: Any) -> list[str]:
    """The problems of ``data`` as output of media type ``mtype``."""
    checker = CHECKERS.get(media_type(mtype))
    if checker is None:
        return [f"no inertness checker for media type {mtype!r}: add one to "
                "tests/hostile/checks.py"]
    try:
        return checker(data, **kwargs)
    except Exception as e:  # a checker crashing on an output is a finding too
        return [f"checker failed: {type(e).__name__}: {e}"]


def vnu_problems(files: Iterable[str], jar: str) -> dict[str, list[str]]:
    """Errors of the W3C Nu HTML checker, by file, in one JVM run."""
    import subprocess
    from urllib.parse import unquote, urlsplit

    files = list(files)
    out: dict[str, list[str]] = {f: [] for f in files}
    if not files:
        return out
    # C1 compilation only and the serial collector halve the time of a short run; the checker
    # needs a deep stack for its schema (it says so and exits without a report otherwise).
    command = ["java", "-Xss8m", "-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC", "-jar", jar,
               "--errors-only", "--format", "json", *files]
    run = subprocess.run(command, capture_output=True, text=True, timeout=600, check=False)
    try:
        report = json.loads(run.stderr)
    except ValueError:
        raise RuntimeError(f"the Nu checker gave no report (exit {run.returncode}): "
                           f"{(run.stderr or run.stdout)[:500]}") from None
    for m in report.get("messages", []):
        name = unquote(urlsplit(m.get("url", "")).path)
        out.setdefault(name, []).append(
            f"vnu {m.get('type')}: line {m.get('lastLine')}: {m.get('message')}")
    return out
