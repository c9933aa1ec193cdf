"""The example data reproduces the seed page "Impact and people" exactly."""

from __future__ import annotations

import importlib.util
import re
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pytest

import storykit
from storykit import Collection, Credit
from storykit._rules import slugify

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE_DIR = ROOT / "examples" / "impact-and-people"
#: The page the example reproduces; CI puts ../shared beside the checkout.
SEED = ROOT.parent / "shared" / "seeds" / "000_82e13145ab30afdf.txt"

#: Country names the seed's text may mention, and their ISO 3166-1 codes.
COUNTRY_NAMES = {
    "Timor-Leste": "TL", "Philippines": "PH", "Sri Lanka": "LK", "Mexico": "MX",
    "Madagascar": "MG", "Myanmar": "MM", "Brazil": "BR", "Moldova": "MD", "Argentina": "AR",
    "Egypt": "EG", "Italy": "IT",
}


def parse_seed(text: str) -> dict[str, Any]:
    """The seed page as data: its title and its numbered stories.

    Each story is ``N. [© credit] title / date / summary``, blocks separated by blank lines.
    """
    head, *blocks = re.split(r"^\s*\d+\.\s+", text, flags=re.MULTILINE)
    heading = [line.strip() for line in head.splitlines() if line.strip()]
    stories = []
    for block in blocks:
        parts = [line.strip() for line in block.splitlines() if line.strip()]
        credit = parts.pop(0) if parts[0].startswith("©") else None
        title, when, summary = parts
        stories.append({
            "credit": credit, "title": title,
            "published": datetime.strptime(when, "%d %B %Y").date(), "summary": summary,
        })
    return {"heading": heading, "stories": stories}


@pytest.fixture(scope="module")
def seed() -> dict[str, Any]:
    """The seed page, parsed (CI puts ../shared beside the checkout)."""
    if not SEED.exists():
        pytest.skip(f"the seed page is not at {SEED} (it lives in ../shared beside the clone)")
    return parse_seed(SEED.read_text(encoding="utf-8"))


class TestSeedParser:
    """The test's own reading of the seed page is right."""

    def test_seed_path(self) -> None:
        """The seed lives in ../shared/seeds beside the checkout (CI copies it there)."""
        assert SEED.parts[-3:] == ("shared", "seeds", "000_82e13145ab30afdf.txt")

    def test_ten_stories(self, seed: dict[str, Any]) -> None:
        """The page has a heading block and ten stories, six with photo credits."""
        assert seed["heading"] == ["Media contact", "Impact and people"]
        assert len(seed["stories"]) == 10
        assert sum(s["credit"] is not None for s in seed["stories"]) == 6
        assert seed["stories"][4]["credit"] == "© Asitha Seneviratne 2021"
        assert seed["stories"][4]["published"] == date(2021, 2, 3)


class TestExample:
    """``examples/impact-and-people`` holds the seed page as data."""

    def test_json_and_toml_equal(self, example: Collection) -> None:
        """The JSON and TOML files hold the same collection."""
        assert storykit.load(EXAMPLE_DIR / "stories.toml") == example

    def test_toml_is_generated_from_json(self) -> None:
        """stories.toml is what make_data.py makes from stories.json today."""
        spec = importlib.util.spec_from_file_location("make_data", EXAMPLE_DIR / "make_data.py")
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        import json

        doc = json.loads((EXAMPLE_DIR / "stories.json").read_text(encoding="utf-8"))
        assert module.to_toml(doc) == (EXAMPLE_DIR / "stories.toml").read_text(encoding="utf-8")

    def test_title(self, example: Collection, seed: dict[str, Any]) -> None:
        """The collection is titled as the page is."""
        assert example.title == seed["heading"][1] == "Impact and people"
        assert example.language == "en"

    def test_stories_as_the_page_gives_them(self, example: Collection,
                                             seed: dict[str, Any]) -> None:
        """Ten stories, in page order, with titles, dates, summaries and credits verbatim."""
        assert len(example) == 10
        for story, page in zip(example, seed["stories"], strict=True):
            assert story.title == page["title"]
            assert story.published == page["published"]
            assert story.summary == page["summary"]
            if page["credit"] is None:
                assert story.image is None, story.id
            else:
                assert story.image is not None, story.id
                assert str(story.credit) == page["credit"]
                assert story.credit == Credit.parse(page["credit"])

    def test_credit_holders(self, example: Collection) -> None:
        """Credits with commas and slashes keep the whole holder."""
        holders = [s.credit.holder for s in example if s.credit is not None]
        assert holders == ["Asitha Seneviratne", "Federico Taverni, Museo Egizio",
                           "René Levita", "Seng Mai / Photo Doc", "Juliano Bacelar", "Ion Buga"]
        assert {s.credit.year for s in example if s.credit is not None} == {2021}

    def test_images_have_alt_text(self, example: Collection) -> None:
        """Every image says what it shows."""
        for s in example:
            if s.image is not None:
                assert len(s.image.alt) > 10

    def test_ids_are_derived_from_titles(self, example: Collection) -> None:
        """Each id is the one its title would give."""
        assert [s.id for s in example] == [slugify(s.title) for s in example]

    def test_voices_links(self, example: Collection) -> None:
        """Each story that points to Voices has a link titled with the page's own sentence."""
        with_voices = [s for s in example if "Voices" in s.summary]
        assert [s.id for s in with_voices] == [
            "a-song-to-let-children-fly", "from-prison-to-a-better-life",
            "child-labour-in-myanmars-jade-mines-is-a-deadly-gamble"]
        for s in with_voices:
            assert len(s.links) == 1
            link = s.links[0]
            assert "voices" in link.url
            assert link.title + "." in s.summary
            assert re.fullmatch(r"Read (more|his story) on our new .*Voices.* platform",
                                link.title)
        assert all(not s.links for s in example if s not in with_voices)

    def test_countries_named_in_the_text(self, example: Collection) -> None:
        """A story's countries are exactly those its title and summary name."""
        for s in example:
            named = {code for name, code in COUNTRY_NAMES.items()
                     if name in s.title or name in s.summary}
            assert set(s.countries) == named, s.id

    def test_media_contact(self, example: Collection) -> None:
        """The "Media contact" block: a newsroom with a way to reach it."""
        assert len(example.contacts) >= 1
        c = example.contacts[0]
        assert c.name
        assert c.email is not None and c.email.endswith("@ilo.org")
        assert c.phone is not None and re.fullmatch(r"\+[1-9]\d{6,14}", c.phone)
        assert c.url is not None and c.url.startswith("https://")

    def test_newest_first_as_on_the_page(self, example: Collection) -> None:
        """The page lists stories newest first; so does the data."""
        assert example.latest(10).stories == example.stories
