"""The hostile corpus: documents storykit must load and render inert, and documents it must refuse.

Shared by ``tests/test_hostile.py`` and ``benchmarks/security.py``. The values live in data files
beside this module (``strings.json``, ``rejected.json``, ``accept/``, ``reject/``); the bombs (deep
nesting, huge numbers, huge cells, a 1 GB file) are made here, so the repository stays small.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import attrs

HERE = Path(__file__).resolve().parent
_UNSET: Any = object()
LOAD_SUFFIXES = {".json": "json", ".jsonl": "jsonl", ".toml": "toml", ".csv": "csv"}


@attrs.frozen
class Case:
    """One hostile input: what it is, how to load it, and what storykit must do with it.

    ``reject`` cases must raise :class:`storykit.ValidationError` with an error whose path is
    ``path`` (when given), whose message contains ``message``, and whose value is ``value``
    (when given). ``size`` makes a sparse file of that many bytes instead of using ``data``.
    """

    name: str
    kind: str
    format: str
    data: bytes = b""
    reject: bool = False
    path: str | None = None
    message: str = ""
    value: Any = _UNSET
    size: int = 0

    @property
    def id(self) -> str:
        return self.name


def _json(doc: Any) -> bytes:
    return json.dumps(doc, ensure_ascii=False).encode("utf-8", "surrogatepass")


def everywhere(one_line: str, multi_line: str | None = None) -> dict[str, Any]:
    """A collection document with ``one_line`` in every one-line text field and ``multi_line``
    (default: the same) in the summary and description."""
    multi = one_line if multi_line is None else multi_line
    return {
        "title": one_line,
        "description": multi,
        "url": "https://example.org/",
        "language": "en",
        "contacts": [{
            "name": one_line, "role": one_line, "organization": one_line,
            "email": "press@example.org", "phone": "+41 22 799 7912",
            "url": "https://example.org/press?a=1&b=2",
        }],
        "stories": [
            {
                "title": one_line,
                "published": "2021-02-03T09:30:00+01:00",
                "summary": multi,
                "url": "https://example.org/stories/1?a=1&b=2",
                "image": {"url": "https://example.org/i.jpg?a=1&b=2", "alt": one_line,
                          "credit": {"holder": one_line, "year": 2021}},
                "topics": [one_line],
                "countries": ["CH"],
                "links": [{"url": "https://example.org/more", "title": one_line}],
                "translations": [{"language": "fr", "url": "https://example.org/fr/1",
                                  "title": one_line}],
            },
            {"id": "second", "title": "Second story", "published": "2021-02-04",
             "summary": "Plain."},
        ],
    }


# --- accepted ----------------------------------------------------------------------------------


def accepted() -> list[Case]:
    """Hostile but valid documents: they load, and every format renders them inert."""
    strings = json.loads((HERE / "strings.json").read_text("utf-8"))
    cases: list[Case] = []
    for kind, values in strings.items():
        if kind.startswith("_") or kind in ("long", "multiline"):
            continue
        for i, s in enumerate(values):
            cases.append(Case(f"{kind}-{i}", kind, "json", _json(everywhere(s))))
    for i, s in enumerate(strings["multiline"]):
        cases.append(Case(f"multiline-{i}", "multiline", "json",
                          _json(everywhere("Multi-line text", s))))
    # 100,000-character fields: the summary and description; titles stop at their limit, 1,000.
    for i, unit in enumerate(strings["long"]):
        long_text = (unit * (100_000 // len(unit) + 1))[:100_000]
        doc = everywhere((unit * 1000)[:1000].strip(), long_text)
        cases.append(Case(f"long-{i}", "long", "json", _json(doc)))
    nfd, nfc = "Cafe\u0301", "Caf\u00e9"
    doc = everywhere(nfd)
    doc["stories"][1] = {"title": nfc, "published": "2021-02-04", "summary": nfc,
                         "topics": [nfd, nfc]}
    cases.append(Case("nfd-nfc-duplicates", "unicode", "json", _json(doc)))
    # A cell over the csv module's default limit (131,072) but under storykit's (1 MiB).
    big = "x" * 200_000
    cases.append(Case("csv-cell-200k", "bomb", "csv",
                      f"title,published,summary\r\nBig,2021-02-03,{big}\r\n".encode()))
    for file in sorted((HERE / "accept").iterdir()):
        if file.suffix in LOAD_SUFFIXES:
            cases.append(Case(f"file-{file.name}", "file", LOAD_SUFFIXES[file.suffix],
                              file.read_bytes()))
    return cases


# --- rejected ----------------------------------------------------------------------------------

URL_FIELDS = (
    "url", "contacts[0].url", "stories[0].url", "stories[0].image.url",
    "stories[0].links[0].url", "stories[0].translations[0].url",
)
ONE_LINE_FIELDS = (
    "title", "contacts[0].name", "contacts[0].role", "contacts[0].organization",
    "stories[0].title", "stories[0].image.alt", "stories[0].image.credit.holder",
    "stories[0].topics[0]", "stories[0].links[0].title", "stories[0].translations[0].title",
)
#: Optional fields where a blank value means "absent" rather than an error.
BLANK_MEANS_ABSENT = ("contacts[0].role", "contacts[0].organization", "description")
MULTI_LINE_FIELDS = ("description", "stories[0].summary")
TYPED_FIELDS = (
    "stories[0].title", "stories[0].summary", "stories[0].published", "contacts[0].name",
    "stories[0].image.alt",
)

_STEP = re.compile(r"([^.\[\]]+)|\[(\d+)\]")


def set_path(doc: Any, path: str, value: Any) -> Any:
    """A copy of ``doc`` with ``value`` at ``path`` (``stories[0].image.url``)."""
    doc = copy.deepcopy(doc)
    steps: list[str | int] = [m.group(1) if m.group(1) else int(m.group(2))
                              for m in _STEP.finditer(path)]
    node = doc
    for step in steps[:-1]:
        node = node[step]
    node[steps[-1]] = value
    return doc


#: What each file in ``reject/`` must produce: (error path or None for any, message fragment).
REJECT_FILES: dict[str, tuple[str | None, str]] = {
    "bad-quote.csv": ("", "not valid CSV"),
    "bad-utf8.json": ("", "is not UTF-8: byte 0xe9"),
    "duplicate-column.csv": ("", "appears twice in the header"),
    "duplicate-keys-nested.json": ("stories[0].image.url", "given twice"),
    "duplicate-keys-top.json": ("title", "given twice"),
    "duplicate-keys.json": ("stories[0].title", "given twice"),
    "duplicate-keys.jsonl": ("stories[1].summary", "given twice"),
    "duplicate-keys.toml": ("", "not valid TOML"),
    "encoded-word-email.toml": ("contacts[0].email", "encoded word"),
    "header-injection.toml": ("contacts[0].name", "U+000D"),
    "infinity.json": ("", "'Infinity', which is not a JSON number"),
    "javascript-url.csv": ("stories[0].url", "scheme 'javascript'"),
    "javascript.toml": ("stories[0].url", "'\\t'"),
    "lone-surrogate.json": ("", "surrogate"),
    "lone-surrogate.jsonl": ("", "surrogate"),
    "nan.json": ("", "'NaN', which is not a JSON number"),
    "nan.toml": ("stories[0].title", "must be a string"),
    "negative-infinity.jsonl": ("", "'-Infinity', which is not a JSON number"),
    "not-utf8.toml": ("", "not UTF-8"),
    "nul.csv": ("stories[0].title", "U+0000"),
    "null-title.json": ("stories[0].title", ""),
    "null-topic.json": ("stories[0].topics[0]", ""),
    "number-contact.json": ("contacts[0].name", "must be a string"),
    "number-published.json": ("stories[0].published", "must be an ISO 8601 date"),
    "number-title.json": ("stories[0].title", "must be a string"),
    "ragged-long.csv": ("stories[0]", "more cells than the header"),
    "ragged-short.csv": ("stories[0].summary", "fewer cells than the header"),
    "string-topics.json": ("stories[0].topics", "must be a list"),
    "unknown-column.csv": ("", "is not a story column"),
}


def rejected() -> list[Case]:
    """Documents storykit must refuse, each with the error it must give."""
    values = json.loads((HERE / "rejected.json").read_text("utf-8"))
    base = everywhere("Plain text")
    cases: list[Case] = []

    def add(kind: str, field: str, value: Any, message: str = "") -> None:
        name = f"{kind}-{field}-{len(cases)}"
        cases.append(Case(name, kind, "json", _json(set_path(base, field, value)), reject=True,
                          path=field, message=message, value=value))

    for v in values["url"]:
        for field in URL_FIELDS:
            add("url", field, v)
    for v in values["one_line"]:
        for field in ONE_LINE_FIELDS:
            if not v.strip() and field in BLANK_MEANS_ABSENT:
                continue
            add("one-line", field, v)
    for v in values["multi_line"]:
        for field in MULTI_LINE_FIELDS:
            if not v.strip() and field in BLANK_MEANS_ABSENT:
                continue
            add("multi-line", field, v)
    for v in values["email"]:
        add("email", "contacts[0].email", v)
    for v in values["wrong_type"]:
        for field in TYPED_FIELDS:
            add("wrong-type", field, v)
    # Lone surrogates given to the Python API (JSON text cannot carry them: see reject/).
    for field in ("stories[0].title", "stories[0].summary", "contacts[0].name"):
        cases.append(Case(f"surrogate-{field}", "xml", "python",
                          _json(set_path(base, field, "a\ud800b")), reject=True, path=field,
                          message="U+D800", value="a\ud800b"))
    cases.append(Case("title-100k", "long", "json",
                      _json(set_path(base, "stories[0].title", "x" * 100_000)), reject=True,
                      path="stories[0].title", message="the limit is 1,000"))
    for file in sorted((HERE / "reject").iterdir()):
        if file.name in REJECT_FILES:
            path, message = REJECT_FILES[file.name]
            cases.append(Case(f"file-{file.name}", "file", LOAD_SUFFIXES[file.suffix],
                              file.read_bytes(), reject=True, path=path, message=message))
    cases.extend(bombs())
    return cases


def bombs() -> list[Case]:
    """Inputs made to exhaust a parser: each must be refused, quickly, naming its limit."""
    deep = 100_000
    story = '{"title": "A", "published": "2021-02-03", "summary": "s"}'
    return [
        Case("deep-json-arrays", "bomb", "json", b"[" * deep + b"]" * deep, reject=True,
             message="nested too deeply"),
        Case("deep-json-objects", "bomb", "json", b'{"a":' * deep + b"1" + b"}" * deep,
             reject=True, message="nested too deeply"),
        Case("deep-json-in-story", "bomb", "json",
             ('{"stories": [{"title": ' + "[" * deep + "]" * deep + "}]}").encode(),
             reject=True, message="nested too deeply"),
        Case("deep-jsonl", "bomb", "jsonl", story.encode() + b"\n" + b"[" * deep + b"]" * deep,
             reject=True, message="nested too deeply"),
        Case("deep-toml", "bomb", "toml", b"title = " + b"[" * deep + b"]" * deep, reject=True,
             message="nested too deeply"),
        Case("deep-toml-tables", "bomb", "toml", b"title = " + b"{a = " * deep + b"1" +
             b"}" * deep, reject=True, message="nested too deeply"),
        Case("integer-5000-digits-json", "bomb", "json",
             ('{"stories": [{"title": ' + "9" * 5000 + "}]}").encode(), reject=True,
             message="too large for JSON's 64-bit float"),
        Case("integer-5000-digits-toml", "bomb", "toml", b"title = " + b"9" * 5000, reject=True,
             message="int_max_str_digits"),
        Case("float-1e400-json", "bomb", "json",
             b'{"stories": [{"title": 1e400}]}', reject=True,
             message="too large for JSON's 64-bit float"),
        Case("csv-cell-over-limit", "bomb", "csv",
             b"title,published,summary\r\nA,2021-02-03," + b"x" * (1024 * 1024 + 1) + b"\r\n",
             reject=True, message="the CSV cell limit"),
        Case("csv-many-columns", "bomb", "csv", b",".join([b"title"] * 100_000) + b"\r\n",
             reject=True, message="appears twice in the header"),
        Case("file-1-gib", "bomb", "json", reject=True, message="the limit is",
             size=1024 ** 3),
    ]


def all_cases() -> Iterator[Case]:
    yield from accepted()
    yield from rejected()
