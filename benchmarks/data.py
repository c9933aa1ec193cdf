"""A synthetic story archive for the benchmarks: realistic, deterministic, any size.

Stories look like the seed page's: ~60-character titles, ~300-character summaries with
non-ASCII (accented names, typographic quotes and dashes), an image with alt text and a credit
in its display form (``"© Asitha Seneviratne 2021"``), topics, countries, sometimes a link to
another platform, sometimes an ``updated`` datetime with an offset. The same ``seed`` and ``n``
always give the same bytes.

    python benchmarks/data.py 100000 -o build/bench/archive.json
    python benchmarks/data.py 1000000 -o build/bench/big.jsonl
"""

from __future__ import annotations

import argparse
import random
import re
import sys
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import orjson

SEED = 20210203

_SUBJECTS = [
    "Rural communities", "Domestic workers", "Young women", "Fishers", "Garment workers",
    "Street vendors", "Migrant workers", "Cocoa farmers", "Platform workers", "Miners",
    "Teachers", "Nurses", "Apprentices", "Refugees", "Small enterprises", "Trade unions",
]
_VERBS = [
    "rebuild", "find a way to", "organise to", "learn to", "fight to", "work together to",
    "are helped to", "train to", "campaign to", "vote to",
]
_OBJECTS = [
    "decent jobs", "social protection", "safer workplaces", "fair wages", "their futures",
    "a living income", "new skills", "equal pay", "child-labour-free supply chains",
    "green jobs",
]
_PLACES = [
    ("Timor-Leste", "TL"), ("Sri Lanka", "LK"), ("Madagascar", "MG"), ("Myanmar", "MM"),
    ("the Philippines", "PH"), ("Mexico", "MX"), ("Côte d’Ivoire", "CI"), ("São Tomé", "ST"),
    ("Türkiye", "TR"), ("Bogotá", "CO"), ("Genève", "CH"), ("Kraków", "PL"), ("Malmö", "SE"),
    ("Zürich", "CH"), ("Ha Noi", "VN"), ("Jordan", "JO"), ("Peru", "PE"), ("Niger", "NE"),
    ("Bangladesh", "BD"), ("Ghana", "GH"),
]
_PEOPLE = [
    "Asitha Seneviratne", "Federico Taverni, Museo Egizio", "René Levita",
    "Seng Mai / Photo Doc", "Marcel Crozet", "Nguyễn Thị Hà", "José Luis Muñoz",
    "Zoë Ångström", "Ayşe Yılmaz", "Łukasz Wójcik", "Chiara Bellù", "Olúwadámilọ́lá Adé",
]
_NAMES = ["Mohalidin", "Sergio", "Ridma", "Aïcha", "Thandiwe", "Ngozi", "Matías", "Léa",
          "Bảo", "Søren", "Ñusta", "Ōta"]
_SENTENCES = [
    "{name} shares the experience of {obj} and the life-changing impact it can have on families "
    "in {place}.",
    "The project, supported by its social partners, reached {k:,} people in {place} last year.",
    "“We didn’t know where to start,” says {name}, who now trains others — and hopes to do more.",
    "Explore this InfoStory to find out how {subj_l} are affected, and why there is an urgent "
    "need for coherence.",
    "Thanks to vocational training, {name} has learned a trade and no longer depends on "
    "day labour.",
    "In {place}, {subj_l} say the change came quickly: wages rose by {p} % in two years.",
    "Read more on our new Voices multimedia platform, where {name} tells the story in "
    "{name_pron} own words.",
]
_TOPICS = ["child labour", "social protection", "employment", "gender equality", "skills",
           "covid-19", "migration", "green jobs", "informal economy", "rural development",
           "standards", "youth"]
_LANGS = ["en"] * 8 + ["fr", "es"]

_NON_SLUG = re.compile(r"[^a-z0-9]+")


def _slug(title: str, i: int) -> str:
    import unicodedata

    folded = unicodedata.normalize("NFKD", title).encode("ascii", "ignore").decode().lower()
    s = _NON_SLUG.sub("-", folded).strip("-")[:48].strip("-")
    return f"{s}-{i}"


def _title(rng: random.Random, place: str) -> str:
    t = f"{rng.choice(_SUBJECTS)} in {place} {rng.choice(_VERBS)} {rng.choice(_OBJECTS)}"
    while len(t) < 52:
        t += rng.choice([" this year", " after the pandemic", " again", " at last"])
    return t[:72]


def _summary(rng: random.Random, place: str) -> str:
    parts: list[str] = []
    while sum(map(len, parts)) < 280:
        parts.append(rng.choice(_SENTENCES).format(
            name=rng.choice(_NAMES), obj=rng.choice(_OBJECTS), place=place,
            subj_l=rng.choice(_SUBJECTS).lower(), k=rng.randrange(1_000, 90_000),
            p=rng.randrange(5, 40), name_pron=rng.choice(["her", "his", "their"]),
        ))
    return " ".join(parts)


def story(i: int, rng: random.Random) -> dict[str, Any]:
    """Story number ``i`` as JSON-ready data (the shape a content file holds)."""
    place, code = rng.choice(_PLACES)
    title = _title(rng, place)
    day = date(2021, 2, 23) - timedelta(days=(i * 7) % 3650)
    d: dict[str, Any] = {
        "id": _slug(title, i),
        "title": title,
        "published": day.isoformat(),
        "summary": _summary(rng, place),
        "url": f"https://www.example.org/newsroom/stories/{day.year}/{_slug(title, i)}",
    }
    if rng.random() < 0.8:
        d["image"] = {
            "url": f"https://www.example.org/media/{day.year}/{i:07d}.jpg",
            "alt": f"{rng.choice(_SUBJECTS)} at work in {place}",
            "credit": f"© {rng.choice(_PEOPLE)} {day.year}",
        }
    d["topics"] = rng.sample(_TOPICS, rng.randint(1, 3))
    codes = {code}
    while rng.random() < 0.3 and len(codes) < 4:
        codes.add(rng.choice(_PLACES)[1])
    d["countries"] = sorted(codes)
    d["language"] = rng.choice(_LANGS)
    if rng.random() < 0.25:
        d["links"] = [{"url": f"https://voices.example.org/stories/{i}",
                       "title": "Read more on our new Voices multimedia platform"}]
    if rng.random() < 0.15:
        d["updated"] = f"{(day + timedelta(days=2)).isoformat()}T09:30:00+01:00"
    return d


def iter_stories(n: int, seed: int = SEED) -> Iterator[dict[str, Any]]:
    """``n`` stories, generated one at a time (constant memory)."""
    rng = random.Random(seed)
    for i in range(n):
        yield story(i, rng)


def stories(n: int, seed: int = SEED) -> list[dict[str, Any]]:
    return list(iter_stories(n, seed))


def document(n: int, seed: int = SEED) -> dict[str, Any]:
    """A collection document of DESIGN: metadata, one media contact, ``n`` stories."""
    return {
        "title": "Impact and people",
        "description": "Stories of people whose working lives changed — in their own words.",
        "url": "https://www.example.org/global/about/newsroom/stories",
        "language": "en",
        "contacts": [{"name": "Newsroom", "role": "Media relations",
                      "organization": "Example Labour Office", "email": "newsroom@example.org",
                      "phone": "+41 22 799 7912"}],
        "stories": stories(n, seed),
    }


def json_bytes(n: int, seed: int = SEED) -> bytes:
    return orjson.dumps(document(n, seed))


def write_jsonl(path: Path, n: int, seed: int = SEED) -> Path:
    """Write ``n`` stories as JSON Lines, in chunks (never all in memory)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    dumps = orjson.dumps
    with path.open("wb") as f:
        chunk: list[bytes] = []
        for s in iter_stories(n, seed):
            chunk.append(dumps(s))
            if len(chunk) == 4096:
                f.write(b"\n".join(chunk) + b"\n")
                chunk = []
        if chunk:
            f.write(b"\n".join(chunk) + b"\n")
    return path


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("n", type=int)
    ap.add_argument("-o", "--output", type=Path, required=True, help=".json or .jsonl")
    ap.add_argument("--seed", type=int, default=SEED)
    args = ap.parse_args(argv)
    if args.output.suffix == ".jsonl":
        write_jsonl(args.output, args.n, args.seed)
    else:
        args.output.parent.mkdir(parents=True, exist_ok=True)
        args.output.write_bytes(json_bytes(args.n, args.seed))
    print(f"wrote {args.output} ({args.output.stat().st_size:,} bytes)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
