"""The ``vcard`` format, read back with vobject, an independent vCard parser."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import storykit_vcard
import vobject
from hypothesis import given, settings
from hypothesis import strategies as st

import storykit
from storykit.plugins import Registry
from storykit.testing import check_exporter, contacts, text

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "impact-and-people" / "stories.json"

AWKWARD_NAMES = [
    "Doe, Jane",
    "Desk; Night shift",
    "Back\\slash \\n not a newline",
    "Ærøskøbing Ñúñez-Ğüneş",
    "労働と幸福 ニュースデスク 🐝",
    "العمل اللائق للجميع",
    "A very long name " + "with many words " * 8 + "Lastname",
    "é" * 120,
    "🐝" * 40,
]

#: N as (family, given), written out: the last word of the name is the family name (README).
AWKWARD_N = {
    "Doe, Jane": ("Jane", "Doe,"),
    "Desk; Night shift": ("shift", "Desk; Night"),
    "Back\\slash \\n not a newline": ("newline", "Back\\slash \\n not a"),
    "Ærøskøbing Ñúñez-Ğüneş": ("Ñúñez-Ğüneş", "Ærøskøbing"),
    "労働と幸福 ニュースデスク 🐝": ("🐝", "労働と幸福 ニュースデスク"),
    "العمل اللائق للجميع": ("للجميع", "العمل اللائق"),
    "A very long name " + "with many words " * 8 + "Lastname":
        ("Lastname", "A very long name" + " with many words" * 8),
    "é" * 120: ("é" * 120, ""),
    "🐝" * 40: ("🐝" * 40, ""),
}

#: Plain names and their N, written out.
PLAIN_N = [
    ("Jane Doe", ("Doe", "Jane")),
    ("ILO Newsroom", ("Newsroom", "ILO")),
    ("Newsroom", ("Newsroom", "")),
    ("Mary Ann van der Berg", ("Berg", "Mary Ann van der")),
]


def _read(data: bytes) -> list[Any]:
    return list(vobject.readComponents(data.decode("utf-8")))


def _contact(name: str, **kw: Any) -> storykit.MediaContact:
    fields = {"role": "Head of news; comms, press \\ desk", "organization": "Org, Inc; Ltd \\",
              "email": "news@example.org", "phone": "+41 22 799 7912",
              "url": "https://example.org/press;a,b?x=1&y=2"}
    fields.update(kw)
    return storykit.MediaContact(name, **fields)


def _last_word_family(name: str) -> tuple[str, str]:
    """(family, given) as the README states it, independently of the code under test."""
    words = name.split(" ")
    return words[-1], " ".join(words[:-1]).strip()


def _assert_same(card: Any, contact: storykit.MediaContact, version: str,
                 n: tuple[str, str] | None = None) -> None:
    """Every field of ``contact`` as vobject reads it from ``card``; N is ``n`` if given."""
    family, given = n if n is not None else _last_word_family(contact.name)
    assert card.version.value == version
    assert card.fn.value == contact.name
    assert card.n.value.family == family
    assert card.n.value.given == given
    if contact.organization:
        assert card.org.value == [contact.organization]
    else:
        assert "org" not in card.contents
    if contact.role:
        assert card.title.value == contact.role
    else:
        assert "title" not in card.contents
    if contact.email:
        assert card.email.value == contact.email
        assert "WORK" in [t.upper() for t in card.email.params["TYPE"]]
    if contact.phone:
        expected = contact.phone if version == "3.0" else f"tel:{contact.phone}"
        assert card.tel.value == expected
        assert [t.upper() for t in card.tel.params["TYPE"]] == ["WORK", "VOICE"]
    else:
        assert "tel" not in card.contents
    if contact.url:
        assert card.url.value == contact.url
    else:
        assert "url" not in card.contents


def _assert_lines(data: bytes) -> None:
    """CRLF everywhere, every physical line at most 75 octets and whole UTF-8."""
    assert data.endswith(b"\r\n")
    assert b"\n" not in data.replace(b"\r\n", b"")
    for line in data.split(b"\r\n")[:-1]:
        assert len(line) <= 75, line
        line.decode("utf-8")  # a fold inside a character would leave invalid UTF-8 here


class TestVCardExample:
    """The example's media contact as a vCard."""

    def test_newsroom_card(self) -> None:
        """The ILO Newsroom's card has every field, E.164 phone, work types."""
        col = storykit.load(EXAMPLE)
        data = storykit.dumps(col, "vcard")
        (card,) = _read(data)
        _assert_same(card, col.contacts[0], "3.0", n=("Newsroom", "ILO"))
        assert card.n.value.family == "Newsroom"
        assert card.n.value.given == "ILO"
        assert card.tel.value == "+41227997912"
        assert card.org.value == ["International Labour Organization"]

    def test_version_4(self) -> None:
        """version=4.0 writes RFC 6350 cards that read back with every field."""
        col = storykit.load(EXAMPLE)
        (card,) = _read(storykit.dumps(col, "vcard", version="4.0"))
        _assert_same(card, col.contacts[0], "4.0", n=("Newsroom", "ILO"))

    def test_no_contacts_no_cards(self) -> None:
        """A collection without contacts writes an empty file."""
        assert storykit.dumps(storykit.Collection(title="T"), "vcard") == b""

    def test_bad_version(self) -> None:
        """An unknown version is an OptionError that lists the choices."""
        with pytest.raises(storykit.OptionError, match=r"'3\.0', '4\.0'"):
            storykit.dumps(storykit.Collection(title="T"), "vcard", version="2.1")


class TestAwkwardNames:
    """Names and values that need escaping and folding."""

    @pytest.mark.parametrize("version", ["3.0", "4.0"])
    @pytest.mark.parametrize("name", AWKWARD_NAMES)
    def test_awkward_name_round_trips(self, name: str, version: str) -> None:
        """Commas, semicolons, backslashes, non-ASCII and long lines survive a reader."""
        contact = _contact(name)
        data = storykit_vcard.render([contact], version)
        _assert_lines(data)
        (card,) = _read(data)
        _assert_same(card, contact, version, n=AWKWARD_N[name])

    @pytest.mark.parametrize("version", ["3.0", "4.0"])
    @pytest.mark.parametrize(("name", "n"), PLAIN_N)
    def test_n_is_last_word_then_the_rest(self, name: str, n: tuple[str, str],
                                          version: str) -> None:
        """N reads back as the family name (the last word), then the given names."""
        (card,) = _read(storykit_vcard.render([_contact(name)], version))
        assert (card.n.value.family, card.n.value.given) == n
        _assert_same(card, _contact(name), version, n=n)

    def test_escaping(self) -> None:
        """``\\``, ``,``, ``;`` and line breaks are escaped as RFC 6350 3.4 says."""
        assert storykit_vcard.escape("a\\b,c;d\ne") == "a\\\\b\\,c\\;d\\ne"

    def test_fold_never_splits_a_character(self) -> None:
        """Folding counts octets and moves a whole multi-byte character to the next line."""
        line = "FN:" + "a" + "€" * 40
        folded = storykit_vcard.fold(line)
        first = folded.split(b"\r\n")[0]
        assert len(first) == 73  # 3 + 1 + 23 * 3: a 24th euro sign would make 76
        assert folded.replace(b"\r\n ", b"") == line.encode() + b"\r\n"


class TestVCardProperties:
    """Any valid contacts."""

    @settings(max_examples=60, deadline=None)
    @given(st.lists(contacts(), min_size=1, max_size=3), st.sampled_from(["3.0", "4.0"]))
    def test_any_contacts_round_trip(self, people: list[storykit.MediaContact],
                                     version: str) -> None:
        """Every generated contact reads back field for field, in order."""
        data = storykit_vcard.render(people, version)
        _assert_lines(data)
        cards = _read(data)
        assert len(cards) == len(people)
        for card, contact in zip(cards, people, strict=True):
            _assert_same(card, contact, version)

    @settings(max_examples=30, deadline=None)
    @given(text(max_size=200))
    def test_any_name_round_trips(self, name: str) -> None:
        """Any valid one-line text as a name survives escaping and folding."""
        contact = storykit.MediaContact(name, email="a@b.org")
        (card,) = _read(storykit_vcard.render([contact]))
        _assert_same(card, contact, "3.0")


class TestVCardPlugin:
    """Registration and the exporter contract."""

    def test_entry_point(self) -> None:
        """Installed, ``vcard`` comes from the storykit-vcard distribution."""
        info = Registry().exporters["vcard"]
        assert info.plugin == "vcard"
        assert info.distribution is not None
        assert info.distribution.startswith("storykit-vcard ")
        assert Registry().for_path("contacts.vcf").name == "vcard"

    @pytest.mark.parametrize("version", ["3.0", "4.0"])
    def test_check_exporter(self, version: str) -> None:
        """check_exporter passes in both versions (a collection may have no contacts: empty)."""
        check_exporter(storykit_vcard.VCardExporter(), max_examples=20,
                       options={"version": version}, allow_empty=True)
