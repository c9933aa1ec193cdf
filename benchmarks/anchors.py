"""The anchors: what a user would write instead of storykit, each in its own library's idiom.

Every anchor enforces the rules storykit enforces on the same data, as far as its library can
say them: the slug pattern, http(s) URLs, real dates and aware datetimes, stripped NFC text
without control characters, ISO country codes, BCP 47 language tags, photo credits parsed from
``"© Holder 2021"``, unknown fields rejected, unique ids in a collection.
"""

# No `from __future__ import annotations`: msgspec and pydantic read these annotations at
# class creation.
import re
import unicodedata
from datetime import date
from typing import Any
from urllib.parse import urlsplit

SLUG = r"^[a-z0-9]+(?:-[a-z0-9]+)*$"
URL = r"^[hH][tT][tT][pP][sS]?://[^\s/?#:@\\<>\"`{}|^]+(?::[0-9]{1,5})?(?:[/?#][^\s\\<>\"`{}|^]*)?$"
BCP47 = (
    r"^(?:(?:[a-zA-Z]{2,3}(?:-[a-zA-Z]{3}){0,3}|[a-zA-Z]{4,8})(?:-[a-zA-Z]{4})?"
    r"(?:-(?:[a-zA-Z]{2}|[0-9]{3}))?(?:-(?:[a-zA-Z0-9]{5,8}|[0-9][a-zA-Z0-9]{3}))*"
    r"(?:-[0-9a-wyzA-WYZ](?:-[a-zA-Z0-9]{2,8})+)*(?:-[xX](?:-[a-zA-Z0-9]{1,8})+)?"
    r"|[xX](?:-[a-zA-Z0-9]{1,8})+)$"
)
EMAIL = (r"^[a-zA-Z0-9.!#$%&'*+/=?^_`{|}~-]+@[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?"
         r"(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?)+$")

_BAD = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff]")
_BAD_ML = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff]")
_CREDIT = re.compile(r"(?:©|\(c\)|copyright)\s*(.*?)(?:[\s,]+(\d{4}))?", re.IGNORECASE)
_URL_BAD = re.compile(r"[\s\x00-\x1f\x7f-\x9f\\<>\"`{}|^\ud800-\udfff\ufffe\uffff]")


def clean(s: str, multiline: bool = False) -> str:
    """The text rule: no control characters, stripped, NFC, not blank."""
    if (_BAD_ML if multiline else _BAD).search(s):
        raise ValueError("contains a control character")
    s = s.strip()
    if not s.isascii():
        s = unicodedata.normalize("NFC", s).strip()
    if not s:
        raise ValueError("is blank")
    return s


def optional_clean(s: str | None, multiline: bool = False) -> str | None:
    """The text rule for an optional field: None and "" are none."""
    return None if s is None or s == "" else clean(s, multiline)


def check_url(s: str) -> str:
    s = s.strip()
    if _URL_BAD.search(s):
        raise ValueError("not a valid URL")
    parts = urlsplit(s)
    parts.port  # noqa: B018
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise ValueError("not an absolute http(s) URL")
    return s


def parse_credit(s: str) -> dict[str, Any]:
    m = _CREDIT.fullmatch(clean(s))
    if m is None or not m.group(1).strip():
        raise ValueError("not a photo credit")
    year = int(m.group(2)) if m.group(2) else None
    if year is not None and not 1800 <= year <= date.today().year + 1:
        raise ValueError("not a plausible year")
    return {"holder": m.group(1).strip(), "year": year}


# --- CSV: the floor ---------------------------------------------------------------------------

#: The CSV exporter's columns (storykit.convert.CSV_COLUMNS), spelled out for the floor.
CSV_HEADER = (
    "id", "title", "published", "updated", "summary", "url",
    "image.url", "image.alt", "image.credit",
    "topics", "countries", "language", "links", "translations",
)

def flat_rows(docs: list[dict[str, Any]]) -> list[tuple[str, ...]]:
    """The stories as the CSV exporter's 14 columns, flattened ahead of time (not timed), with
    the text rules storykit applied when it loaded them, so that the bytes are the same."""
    rows = []
    for d in docs:
        img = d.get("image") or {}
        rows.append((
            d["id"], clean(d["title"]), d["published"], d.get("updated", ""),
            clean(d["summary"], multiline=True), d.get("url", ""), img.get("url", ""),
            clean(img["alt"]) if img else "", img.get("credit", ""),
            ";".join(clean(t) for t in d.get("topics", ())), ";".join(d.get("countries", ())),
            d.get("language", "en"),
            "\n".join(f"{x['url']} {clean(x['title'])}" for x in d.get("links", ())), "",
        ))
    return rows


def csv_floor(header: tuple[str, ...], rows: list[tuple[str, ...]]) -> bytes:
    import csv
    import io

    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\r\n")
    w.writerow(header)
    w.writerows(rows)
    return buf.getvalue().encode()


# --- JSON Lines: the streaming floor ---------------------------------------------------------


def story_line(d: dict[str, Any]) -> dict[str, Any]:
    """A story (its JSON data) as storykit's JSON Lines export writes it, with the text rules
    storykit applies when it loads it: every field, by name in order, an absent one ``null`` or
    ``[]``, a credit's display string parsed into holder and year. Nothing else is checked
    (ids, URLs, dates, countries, languages and unknown fields are taken as they are: the
    floor's input is valid), and a body would be written unsanitised (the archive has none)."""
    img = d.get("image")
    if img is not None:
        credit = img.get("credit")
        if isinstance(credit, str):
            credit = parse_credit(credit)
        elif credit is not None:
            credit = {"holder": clean(credit["holder"]), "year": credit.get("year")}
        img = {"alt": clean(img["alt"]), "credit": credit, "url": img["url"]}
    return {
        "body": d.get("body"),
        "countries": d.get("countries", []),
        "id": d["id"],
        "image": img,
        "language": d.get("language", "en"),
        "links": [{"title": clean(x["title"]), "url": x["url"]} for x in d.get("links", ())],
        "published": d["published"],
        "summary": clean(d["summary"], multiline=True),
        "title": clean(d["title"]),
        "topics": [clean(t) for t in d.get("topics", ())],
        "translations": [{"language": t["language"], "title": optional_clean(t.get("title")),
                          "url": t["url"]} for t in d.get("translations", ())],
        "updated": d.get("updated"),
        "url": d.get("url"),
    }
