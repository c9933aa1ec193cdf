"""Languages: localised dates and labels, catalogues, multilingual collections, right-to-left text.

Every output is read back with a real parser: html5lib for HTML, the email package (policy.default)
for digests, markdown-it-py for Markdown, feedparser for Atom and RSS, json for JSON.
"""

from __future__ import annotations

import csv
import io
import json
import re
import shutil
import unicodedata
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from datetime import date, datetime
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any

import attrs
import pytest
from html_support import parse_html, text
from hypothesis import given, settings
from hypothesis import strategies as st

import storykit
from storykit import i18n
from storykit.collection import Collection
from storykit.digest import PersonalisedRun, parse_subscribers
from storykit.model import Story
from storykit.plugins import Registry, use_registry
from storykit.templating import BUILTIN_TEMPLATES
from storykit.testing import collections

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src" / "storykit"
VNU_JAR = ROOT / ".venv" / "vnu" / "node_modules" / "vnu-jar" / "build" / "dist" / "vnu.jar"
SENDER = "ILO Newsroom <newsroom@ilo.org>"
UNSUBSCRIBE = "https://news.example.org/unsubscribe?u={token}"

#: The song story of the example page: published 3 February 2021, with a photo credit.
SONG = "a-song-to-let-children-fly"
#: Its date as the seed page prints it, in each shipped language.
SONG_DATES = {"en": "03 February 2021", "fr": "03 février 2021", "es": "03 de febrero de 2021",
              "ar": "3 فبراير 2021"}
#: The media contact block's heading, in each shipped language.
CONTACT_LABELS = {"en": "Media contact", "fr": "Contact presse", "es": "Contacto de prensa",
                  "ar": "للتواصل مع وسائل الإعلام"}

ARABIC_TITLE = "العمل اللائق للعمال المنزليين في لبنان"
ARABIC_SUMMARY = ("تتحدث عاملات المنازل عن حقوقهن وعن منظمة العمل الدولية (ILO) "
                  "وعن اتفاقية رقم 189، في تقرير من بيروت.")
HEBREW_TITLE = "עבודה הוגנת לעובדי משק בית"

# Unicode's explicit direction marks and embeddings: storykit must never add any to text.
BIDI_CONTROLS = set("\u200e\u200f\u061c\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")

#: About twenty Babel locales, right-to-left ones among them, as BCP 47 tags.
LOCALES = ["en", "fr", "es", "ar", "he", "fa", "ur", "ja", "zh-Hans", "zh-Hant", "ru", "de",
           "pt-BR", "pt", "it", "nl", "tr", "hi", "ko", "pl", "uk", "el", "sw", "th"]


# --- reading outputs back ---------------------------------------------------------------------


def by_class(root: ET.Element, tag: str, cls: str) -> list[ET.Element]:
    return [el for el in root.iter(tag) if cls in (el.get("class") or "").split()]


def article(root: ET.Element, story_id: str) -> ET.Element:
    found = root.find(f".//article[@id='story-{story_id}']")
    assert found is not None, f"no article for {story_id}"
    return found


def parse_email(data: bytes) -> EmailMessage:
    msg = BytesParser(policy=policy.default).parsebytes(data)
    assert isinstance(msg, EmailMessage)
    assert msg.defects == []
    return msg


def body(msg: EmailMessage, kind: str) -> str:
    part = msg.get_body((kind,))
    assert part is not None
    return str(part.get_content())


def html(col: Collection, **options: Any) -> ET.Element:
    return parse_html(storykit.dumps(col, "html", **options))


def digest(col: Collection, **options: Any) -> EmailMessage:
    return parse_email(storykit.dumps(col, "email", sender=SENDER, **options))


def with_language(col: Collection, language: str) -> Collection:
    """The same collection, its ``language`` set to ``language``."""
    return Collection(title=col.title, description=col.description, url=col.url,
                      language=language, contacts=col.contacts, stories=col.stories)


def mixed() -> Collection:
    """An English page with an Arabic, a Hebrew and a French story; one story has translations."""
    return Collection(
        title="Impact and people", language="en", url="https://news.example.org/en/",
        contacts=[storykit.MediaContact("ILO Newsroom", email="newsroom@ilo.org")],
        stories=[
            Story(id="song", title="A song to let children fly", published="2021-02-03",
                  summary="Sri Lankan music star Ridma Weerawardena.",
                  url="https://news.example.org/en/song", language="en",
                  countries=["LK"],
                  image={"url": "https://images.example.org/song.jpg", "alt": "A singer",
                         "credit": "© أسيثا سينيفيراتني 2021"},
                  translations=[
                      {"language": "fr", "url": "https://news.example.org/fr/chanson",
                       "title": "Une chanson pour laisser voler les enfants"},
                      {"language": "ar", "url": "https://news.example.org/ar/song"},
                  ]),
            Story(id="lebanon", title=ARABIC_TITLE, published="2021-02-10",
                  summary=ARABIC_SUMMARY, language="ar", countries=["LB"],
                  url="https://news.example.org/ar/lebanon",
                  image={"url": "https://images.example.org/lb.jpg", "alt": "عاملات",
                         "credit": "© ILO 2021"}),
            Story(id="hebrew", title=HEBREW_TITLE, published="2021-02-11",
                  summary="סיפור קצר על עבודה הוגנת.", language="he"),
            Story(id="travail", title="Le travail décent", published="2021-02-12",
                  summary="Résumé.", language="fr-CH"),
        ])


# --- 1. dates and labels ------------------------------------------------------------------------


class TestDates:
    @pytest.mark.parametrize(("locale", "expected"), [
        ("en", "03 February 2021"), ("fr", "03 février 2021"), ("es", "03 de febrero de 2021"),
        ("de", "03. Februar 2021"), ("pt-BR", "03 de fevereiro de 2021"), ("ja", "2021年2月3日"),
        ("zz", "03 February 2021"),
    ])
    def test_format_date(self, locale: str, expected: str) -> None:
        """Story dates follow the seed page's style in each language (CLDR month names)."""
        assert i18n.format_date(date(2021, 2, 3), locale) == expected

    def test_datetime_shows_its_day(self) -> None:
        """A datetime is shown by its date."""
        when = datetime.fromisoformat("2021-02-03T18:30:00+01:00")
        assert i18n.format_date(when, "fr") == "03 février 2021"

    @pytest.mark.parametrize(("locale", "same_month", "across"), [
        ("en", "15–23 February 2021", "28 January – 3 February 2021"),
        ("fr", "15–23 février 2021", "28 janvier – 3 février 2021"),
        ("es", "15–23 de febrero de 2021", "28 de enero – 3 de febrero de 2021"),
    ])
    def test_format_window(self, locale: str, same_month: str, across: str) -> None:
        """A digest's window reads naturally in each shipped language."""
        assert i18n.format_window(date(2021, 2, 15), date(2021, 2, 23), locale) == same_month
        assert i18n.format_window(date(2021, 1, 28), date(2021, 2, 3), locale) == across

    @pytest.mark.parametrize("locale", ["en", "fr", "es", "ar"])
    def test_html_date_and_labels(self, example: Collection, locale: str) -> None:
        """The page's dates and labels are in the locale; <time datetime> stays ISO 8601."""
        root = html(example, locale=locale)
        assert root.get("lang") == locale
        time = article(root, SONG).find(".//time")
        assert time is not None and time.get("datetime") == "2021-02-03"
        heading = root.find(".//aside/h2")
        assert heading is not None
        assert text(time) == SONG_DATES[locale]
        assert text(heading) == CONTACT_LABELS[locale]

    def test_html_photo_label(self, example: Collection) -> None:
        """The photo credit's label is translated around the credit, which stays as given."""
        caption = article(html(example, locale="es"), SONG).find(".//figcaption")
        assert caption is not None
        assert text(caption) == "Foto: © Asitha Seneviratne 2021"
        bdi = caption.find("bdi")
        assert bdi is not None and text(bdi) == "© Asitha Seneviratne 2021"

    def test_collection_language_chooses(self, example: Collection) -> None:
        """Without a locale option the collection's language decides."""
        root = html(with_language(example, "fr"))
        assert root.get("lang") == "fr"
        time = article(root, SONG).find(".//time")
        assert time is not None and text(time) == SONG_DATES["fr"]

    def test_option_beats_collection_language(self, example: Collection) -> None:
        """The locale option wins over the collection's language."""
        root = html(with_language(example, "fr"), locale="es")
        time = article(root, SONG).find(".//time")
        assert root.get("lang") == "es" and time is not None
        assert text(time) == SONG_DATES["es"]
        header = root.find(".//header/div")
        assert header is not None and header.get("lang") == "fr"  # the title stays French

    def test_pagination_labels(self, example: Collection) -> None:
        """Page links and the page title are translated."""
        root = html(example, locale="fr", page_size=4, page=2)
        nav = root.find(".//nav")
        assert nav is not None and nav.get("aria-label") == "Pages"
        links = {a.get("rel"): text(a) for a in nav.iter("a")}
        assert links == {"prev": "Page précédente", "next": "Page suivante"}
        title = root.find(".//title")
        assert title is not None and text(title) == "Impact and people (page 2 sur 3)"

    @pytest.mark.parametrize("locale", ["en", "fr", "es"])
    def test_email(self, example: Collection, locale: str) -> None:
        """The digest's subject, dates, labels and greeting are in the locale."""
        msg = digest(example.filter(since="2021-02-15", until="2021-02-23"), locale=locale,
                     since="2021-02-15", until="2021-02-23", unsubscribe=UNSUBSCRIBE)
        subjects = {"en": "Impact and people — 15–23 February 2021",
                    "fr": "Impact and people — 15–23 février 2021",
                    "es": "Impact and people — 15–23 de febrero de 2021"}
        assert msg["Subject"] == subjects[locale]
        plain = body(msg, "plain")
        words = {"en": ("Hello,", "23 February 2021", "Unsubscribe:"),
                 "fr": ("Bonjour,", "23 février 2021", "Se désabonner\u00a0:"),
                 "es": ("Hola:", "23 de febrero de 2021", "Darse de baja:")}
        for word in (*words[locale], CONTACT_LABELS[locale]):
            assert word in plain
        root = parse_html(body(msg, "html").encode())
        assert root.get("lang") == locale
        links = [text(a) for a in root.iter("a") if a.get("href", "").startswith(
            "https://news.example.org/unsubscribe")]
        assert links == [{"en": "Unsubscribe", "fr": "Se désabonner",
                          "es": "Darse de baja"}[locale]]

    def test_subscriber_language(self, example: Collection) -> None:
        """In a personalised run each subscriber gets their language; others the digest's."""
        subscribers = parse_subscribers("email,name,topics,countries,language\n"
                                        "ana@example.org,Ana,,,es\n"
                                        "bo@example.org,Bo,,,\n"
                                        "dee@example.org,Dée,,,fr-CA\n")
        col = example.filter(since="2021-02-15", until="2021-02-23")
        run = PersonalisedRun(col, subscribers, {"sender": SENDER, "since": "2021-02-15",
                                                 "until": "2021-02-23"})
        got = {m.subscriber.email: parse_email(m.data) for m in run}
        assert got["ana@example.org"]["Subject"].endswith("15–23 de febrero de 2021")
        assert "Hola, Ana:" in body(got["ana@example.org"], "plain")
        assert got["bo@example.org"]["Subject"].endswith("15–23 February 2021")
        assert "Hello Bo," in body(got["bo@example.org"], "plain")
        assert got["dee@example.org"]["Subject"].endswith("15–23 février 2021")
        assert "Bonjour Dée," in body(got["dee@example.org"], "plain")

    @pytest.mark.parametrize(("locale", "expected"), [
        (None, "03 February 2021"), ("fr", "03 février 2021"), ("es", "03 de febrero de 2021"),
    ])
    def test_markdown(self, example: Collection, locale: str | None, expected: str) -> None:
        """Markdown dates are localised (the locale option, else the collection's language)."""
        pytest.importorskip("storykit_markdown")
        from markdown_it import MarkdownIt

        options = {} if locale is None else {"locale": locale}
        tokens = MarkdownIt("commonmark").parse(
            storykit.dumps(example.replace([example[SONG]]), "markdown", **options).decode())
        emphasis = [tokens[i].children for i, t in enumerate(tokens) if t.type == "inline"
                    and t.children and t.children[0].type == "em_open"]
        assert emphasis, "no emphasised line"
        first = emphasis[0]
        assert first is not None
        assert "".join(c.content for c in first if c.type == "text") == expected
        if locale is None:
            french = with_language(example.replace([example[SONG]]), "fr")
            assert "03 février 2021" in storykit.dumps(french, "markdown").decode()


# --- machine formats keep machine dates ---------------------------------------------------------


RFC3339 = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})")


class TestMachineFormats:
    @pytest.mark.parametrize("language", ["fr", "es", "ar", "ja"])
    def test_json_and_csv(self, example: Collection, language: str) -> None:
        """JSON and CSV keep ISO 8601 dates whatever the collection's language."""
        col = with_language(example, language)
        data = json.loads(storykit.dumps(col, "json"))
        assert data["language"] == language
        assert [s["published"] for s in data["stories"]] == [
            s.published.isoformat() for s in example]
        rows = list(csv.DictReader(io.StringIO(storykit.dumps(col, "csv").decode("utf-8-sig"))))
        assert [r["published"] for r in rows] == [s.published.isoformat() for s in example]

    @pytest.mark.parametrize("language", ["fr", "es", "ar"])
    def test_html_machine_dates(self, example: Collection, language: str) -> None:
        """The page's <time datetime> and JSON-LD stay ISO 8601 in any language."""
        root = html(example, locale=language)
        times = [t.get("datetime") for t in root.iter("time")]
        assert times == [s.published.isoformat() for s in example]
        ld = [json.loads(s.text or "") for s in root.iter("script")
              if s.get("type") == "application/ld+json"]
        ld = [d for d in ld if isinstance(d, dict)]  # (the contacts' JSON-LD is a list)
        assert [d["datePublished"] for d in ld] == [s.published.isoformat() for s in example]

    @pytest.mark.parametrize("language", ["fr", "es", "ar"])
    def test_feeds(self, example: Collection, language: str) -> None:
        """Atom and JSON Feed keep RFC 3339, RSS RFC 822, in any collection language."""
        pytest.importorskip("storykit_feeds")
        import feedparser

        col = with_language(example, language)
        atom = storykit.dumps(col, "atom")
        tree = ET.fromstring(atom)
        ns = {"a": "http://www.w3.org/2005/Atom"}
        published = [el.text or "" for el in tree.iterfind("a:entry/a:published", ns)]
        assert len(published) == len(example)
        assert all(RFC3339.fullmatch(p) for p in published)
        feed = feedparser.parse(atom)
        assert not feed.bozo
        assert [e.published_parsed[:3] for e in feed.entries] == [
            (s.published.year, s.published.month, s.published.day) for s in example]
        rss = feedparser.parse(storykit.dumps(col, "rss"))
        assert not rss.bozo
        dates = [parsedate_to_datetime(e.published).date() for e in rss.entries]
        assert dates == [s.published for s in example]
        items = json.loads(storykit.dumps(col, "jsonfeed"))["items"]
        assert all(RFC3339.fullmatch(i["date_published"]) for i in items)


# --- 2. catalogues ------------------------------------------------------------------------------


def template_messages() -> set[str | tuple[str, str]]:
    """Every message the templates and the email code mark for translation (Babel extraction)."""
    from babel.messages.extract import extract_from_dir, extract_from_file

    found: set[str | tuple[str, str]] = set()
    jinja = "jinja2.ext:babel_extract"
    for _, _, message, _, _ in extract_from_dir(
            str(BUILTIN_TEMPLATES), method_map=[("**.html", jinja), ("**.txt", jinja)]):
        found.add(message if isinstance(message, str) else tuple(message[:2]))
    for module in ("email/render.py",):
        for _, message, _, _ in extract_from_file("python", str(SRC / module),
                                                  keywords={"_gettext": None}):
            found.add(message if isinstance(message, str) else tuple(message[:2]))
    return found


def catalogue(language: str) -> Any:
    from babel.messages.pofile import read_po

    path = i18n.LOCALE_DIR / language / "LC_MESSAGES" / "storykit.po"
    with path.open("rb") as f:
        return read_po(f, domain="storykit")


PLACEHOLDER = re.compile(r"%\((\w+)\)s")


def po_file(folder: Path, language: str, entries: str, plural: str = "(n != 1)") -> Path:
    """A catalogue ``<folder>/<language>/LC_MESSAGES/storykit.po`` with these entries."""
    path = folder / language / "LC_MESSAGES" / "storykit.po"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f'''msgid ""
msgstr ""
"Language: {language}\\n"
"Content-Type: text/plain; charset=UTF-8\\n"
"Plural-Forms: nplurals=2; plural={plural};\\n"

{entries}''', encoding="utf-8")
    return path


@attrs.define
class TranslationsPlugin:
    """A plugin whose ``register_translations()`` returns one folder."""

    folder: Path

    @storykit.hookimpl
    def register_translations(self) -> list[Path]:
        return [self.folder]


@pytest.fixture
def registry() -> Iterator[Registry]:
    """A fresh registry with the built-in formats, made the default for the test."""
    reg = Registry(autoload=False)
    with use_registry(reg):
        yield reg


class TestCatalogues:
    def test_extraction_finds_the_labels(self) -> None:
        """Extraction sees the page, email and subject labels (so the next test means something)."""
        found = template_messages()
        for message in ("Photo: %(credit)s", "Previous page", "Unsubscribe",
                        ("Media contact", "Media contacts"), "%(title)s — %(window)s",
                        "Hello %(name)s,"):
            assert message in found

    @pytest.mark.parametrize("language", i18n.LOCALES)
    def test_every_message_is_translated(self, language: str) -> None:
        """Every label the templates and the email code use is translated in each catalogue."""
        cat = catalogue(language)
        missing = []
        for message in sorted(template_messages(), key=str):
            key = message if isinstance(message, str) else message[0]
            entry = cat.get(key)
            if entry is None or entry.fuzzy:
                missing.append(message)
                continue
            strings = entry.string if isinstance(entry.string, tuple) else (entry.string,)
            if not all(strings) or isinstance(message, tuple) != entry.pluralizable:
                missing.append(message)
                continue
            wanted = set(PLACEHOLDER.findall(key))
            for s in strings:
                assert set(PLACEHOLDER.findall(s)) == wanted, (language, key, s)
        assert missing == [], f"{language}: untranslated {missing}"

    def test_catalogues_hold_nothing_stale(self) -> None:
        """The catalogues hold no message the code no longer uses."""
        used = {m if isinstance(m, str) else m[0] for m in template_messages()}
        for language in i18n.LOCALES:
            ids = {m.id if isinstance(m.id, str) else m.id[0] for m in catalogue(language)
                   if m.id}
            assert ids - used == set(), language

    @pytest.mark.parametrize(("locale", "expected"), [
        ("fr", "Se désabonner"), ("fr-CA", "Se désabonner"), ("es-MX", "Darse de baja"),
        ("en", "Unsubscribe"), ("de", "Unsubscribe"), ("zz", "Unsubscribe"),
    ])
    def test_gettext(self, locale: str, expected: str) -> None:
        """A region falls back to its language, an unknown language to English."""
        assert i18n.gettext("Unsubscribe", locale) == expected

    def test_plural(self) -> None:
        """Plural labels follow the language's plural rule."""
        fr = i18n.translations("fr")
        assert fr.ngettext("Media contact", "Media contacts", 1) == "Contact presse"
        assert fr.ngettext("Media contact", "Media contacts", 2) == "Contacts presse"

    @pytest.mark.parametrize(("locale", "date_text"), [
        ("de", "03. Februar 2021"), ("zz", "03 February 2021")])
    def test_unknown_locale_falls_back_to_english(self, example: Collection, locale: str,
                                                  date_text: str) -> None:
        """A language without a catalogue gets English labels (its CLDR dates if Babel knows it)."""
        root = html(example, locale=locale)
        assert root.get("lang") == locale
        heading = root.find(".//aside/h2")
        assert heading is not None and text(heading) == "Media contact"
        skip = root.find(".//a[@class='sk-skip']")
        assert skip is not None and text(skip) == "Skip to the stories"
        time = article(root, SONG).find(".//time")
        assert time is not None and text(time) == date_text
        msg = digest(example, locale=locale)
        assert "Hello," in body(msg, "plain")

    def test_plugin_adds_a_language(self, registry: Registry, tmp_path: Path,
                                    example: Collection) -> None:
        """A register_translations() plugin adds German; what it lacks stays English."""
        po_file(tmp_path, "de", '''msgid "Media contact"
msgid_plural "Media contacts"
msgstr[0] "Pressekontakt"
msgstr[1] "Pressekontakte"

msgid "Hello,"
msgstr "Guten Tag,"

msgid "Previous page"
msgstr ""

#, fuzzy
msgid "Next page"
msgstr "Nächste"
''')
        registry.register(TranslationsPlugin(tmp_path), "german")
        root = html(example, locale="de", page_size=4, page=2)
        heading = root.find(".//aside/h2")
        assert heading is not None and text(heading) == "Pressekontakt"
        nav = root.find(".//nav")
        assert nav is not None
        # Empty and fuzzy entries fall back to English, never to a blank.
        assert {a.get("rel"): text(a) for a in nav.iter("a")} == {
            "prev": "Previous page", "next": "Next page"}
        assert "Guten Tag," in body(digest(example, locale="de"), "plain")

    def test_plugin_overrides_one_message(self, registry: Registry, tmp_path: Path,
                                          example: Collection) -> None:
        """A plugin's catalogue overrides a built-in message; the others stay translated."""
        po_file(tmp_path, "fr", '''msgid "Media contact"
msgid_plural "Media contacts"
msgstr[0] "Relations presse"
msgstr[1] "Relations presse"
''', plural="(n > 1)")
        registry.register(TranslationsPlugin(tmp_path), "french-house-style")
        root = html(example, locale="fr")
        heading = root.find(".//aside/h2")
        assert heading is not None and text(heading) == "Relations presse"
        skip = root.find(".//a[@class='sk-skip']")
        assert skip is not None and text(skip) == "Aller aux articles"

    def test_later_plugin_wins(self, registry: Registry, tmp_path: Path) -> None:
        """Of two plugins translating a message, the one registered last wins."""
        for name in ("first", "second"):
            po_file(tmp_path / name, "fr", f'msgid "Unsubscribe"\nmsgstr "{name}"\n',
                    plural="(n > 1)")
            registry.register(TranslationsPlugin(tmp_path / name), name)
        from storykit.templating import translation_dirs

        tr = i18n.translations("fr", translation_dirs(registry))
        assert tr.gettext("Unsubscribe") == "second"

    def test_compiled_catalogue(self, registry: Registry, tmp_path: Path) -> None:
        """A plugin may ship a compiled storykit.mo instead of a .po."""
        from babel.messages.catalog import Catalog
        from babel.messages.mofile import write_mo

        cat = Catalog(locale="nl", domain="storykit")
        cat.add("Unsubscribe", "Afmelden")
        path = tmp_path / "nl" / "LC_MESSAGES" / "storykit.mo"
        path.parent.mkdir(parents=True)
        with path.open("wb") as f:
            write_mo(f, cat)
        registry.register(TranslationsPlugin(tmp_path), "dutch")
        from storykit.templating import translation_dirs

        assert i18n.translations("nl", translation_dirs(registry)).gettext(
            "Unsubscribe") == "Afmelden"

    def test_broken_catalogue_names_its_file(self, tmp_path: Path) -> None:
        """A catalogue that cannot be read gives an error naming the file."""
        path = tmp_path / "xx" / "LC_MESSAGES" / "storykit.mo"
        path.parent.mkdir(parents=True)
        path.write_bytes(b"not a catalogue")
        with pytest.raises(ValueError, match=re.escape(str(path))):
            i18n.translations("xx", (tmp_path,))


# --- 3. multilingual collections ----------------------------------------------------------------


class TestMultilingual:
    def test_story_links_its_translations(self) -> None:
        """A story's article links each translation with hreflang and lang, named in itself."""
        song = article(html(mixed()), "song")
        block = by_class(song, "p", "sk-translations")
        assert len(block) == 1
        links = [(a.get("hreflang"), a.get("lang"), a.get("dir"), a.get("href"), text(a))
                 for a in block[0].iter("a")]
        assert links == [
            ("fr", "fr", "ltr", "https://news.example.org/fr/chanson", "français"),
            ("ar", "ar", "rtl", "https://news.example.org/ar/song", "العربية"),
        ]
        ld = json.loads(song.find(".//script").text or "")  # type: ignore[union-attr]
        assert ld["workTranslation"] == [
            {"@type": "NewsArticle", "url": "https://news.example.org/fr/chanson",
             "inLanguage": "fr", "headline": "Une chanson pour laisser voler les enfants"},
            {"@type": "NewsArticle", "url": "https://news.example.org/ar/song",
             "inLanguage": "ar"}]

    def test_translations_label_is_translated(self) -> None:
        """The "Also in:" label is in the page's language."""
        block = by_class(article(html(mixed(), locale="es"), "song"), "p", "sk-translations")
        assert text(block[0]).startswith("También en:")

    def test_page_alternates(self) -> None:
        """The alternates option links the collection page in other languages from <head>."""
        data = storykit.dumps(mixed(), "html", page_size=2,
                              alternates="fr=https://news.example.org/fr/,"
                                         "ar=https://news.example.org/ar/")
        root = parse_html(data)
        head = root.find("head")
        assert head is not None
        alternates = [(link.get("hreflang"), link.get("href")) for link in head.iter("link")
                      if link.get("rel") == "alternate"]
        assert alternates == [("en", "https://news.example.org/en/"),
                              ("fr", "https://news.example.org/fr/"),
                              ("ar", "https://news.example.org/ar/")]
        nav = by_class(root, "nav", "sk-languages")
        assert [(a.get("hreflang"), text(a)) for a in nav[0].iter("a")] == [
            ("fr", "français"), ("ar", "العربية")]
        page2 = parse_html(storykit.dumps(mixed(), "html", page_size=2, page=2,
                                          alternates=("fr=https://news.example.org/fr/",)))
        head2 = page2.find("head")
        assert head2 is not None
        assert [lk for lk in head2.iter("link") if lk.get("rel") == "alternate"] == []

    @pytest.mark.parametrize("bad", ["fr", "fr=javascript:alert(1)", "not a tag=https://x.org/"])
    def test_bad_alternates(self, bad: str) -> None:
        """An alternates item that is not LANGUAGE=URL is refused, naming the option."""
        with pytest.raises(storykit.OptionError, match="alternates"):
            storykit.dumps(mixed(), "html", alternates=bad)

    def test_no_translations_no_block(self, example: Collection) -> None:
        """Stories without translations have no "Also in" block and no alternates."""
        root = html(example)
        assert by_class(root, "p", "sk-translations") == []
        assert [lk for lk in root.iter("link") if lk.get("rel") == "alternate"] == []

    def test_atom_hreflang(self) -> None:
        """Atom entries link the story and each translation with rel="alternate" hreflang."""
        pytest.importorskip("storykit_feeds")
        import feedparser

        data = storykit.dumps(mixed(), "atom")
        feed = feedparser.parse(data)
        assert not feed.bozo
        song = feed.entries[0]
        alternates = [(lk.get("hreflang"), lk["href"]) for lk in song.links
                      if lk["rel"] == "alternate"]
        assert alternates == [("en", "https://news.example.org/en/song"),
                              ("fr", "https://news.example.org/fr/chanson"),
                              ("ar", "https://news.example.org/ar/song")]
        titled = [lk.get("title") for lk in song.links if lk.get("hreflang") == "fr"]
        assert titled == ["Une chanson pour laisser voler les enfants"]

    def test_atom_one_alternate_per_language(self) -> None:
        """RFC 4287: at most one alternate link per (type, hreflang), even with duplicates."""
        pytest.importorskip("storykit_feeds")
        story = Story(title="T", published="2021-01-01", summary="S", language="en",
                      url="https://x.org/en", translations=[
                          {"language": "fr", "url": "https://x.org/fr"},
                          {"language": "fr", "url": "https://x.org/fr2"},
                          {"language": "en", "url": "https://x.org/en2"}])
        tree = ET.fromstring(storykit.dumps(Collection(title="C", stories=[story]), "atom"))
        ns = "{http://www.w3.org/2005/Atom}"
        links = [(lk.get("type"), lk.get("hreflang")) for lk in tree.iter(f"{ns}link")
                 if lk.get("rel") == "alternate" and lk.get("hreflang")]
        assert links == [("text/html", "en"), ("text/html", "fr")]

    def test_filter_by_language(self) -> None:
        """filter(language=) keeps a language and its regional variants, and the metadata."""
        col = mixed()
        assert col.filter(language="fr").ids == ("travail",)
        assert col.filter(language="FR-ch").ids == ("travail",)
        assert col.filter(language="ar").ids == ("lebanon",)
        assert col.filter(language="de").ids == ()
        french = col.filter(language="fr")
        assert (french.title, french.url, french.language) == (col.title, col.url, "en")
        with pytest.raises(ValueError, match="BCP 47"):
            col.filter(language="not a tag")

    def test_translations_round_trip_through_json(self) -> None:
        """Translations survive the JSON export and load back equal."""
        col = mixed()
        assert storykit.loads(storykit.dumps(col, "json"), format="json") == col


# --- 4. right-to-left and mixed text ------------------------------------------------------------


class TestRightToLeft:
    @pytest.mark.parametrize("language", ["ar", "he", "fa"])
    def test_rtl_collection(self, example: Collection, language: str) -> None:
        """A collection in a right-to-left language makes the whole page right to left."""
        root = html(with_language(example, language))
        assert (root.get("lang"), root.get("dir")) == (language, "rtl")

    def test_rtl_story_on_ltr_page(self) -> None:
        """An Arabic story on an English page is an rtl article; the page's labels stay ltr."""
        root = html(mixed())
        assert (root.get("lang"), root.get("dir")) == ("en", "ltr")
        lebanon = article(root, "lebanon")
        assert (lebanon.get("lang"), lebanon.get("dir")) == ("ar", "rtl")
        title = lebanon.find(".//h2")
        assert title is not None and text(title) == ARABIC_TITLE
        assert title.get("dir") is None  # inherits rtl from the article
        date_p = by_class(lebanon, "p", "sk-date")[0]
        assert (date_p.get("lang"), date_p.get("dir")) == ("en", "ltr")
        assert text(date_p) == "10 February 2021"
        caption = lebanon.find(".//figcaption")
        assert caption is not None and (caption.get("lang"), caption.get("dir")) == ("en", "ltr")
        country = by_class(lebanon, "li", "sk-country")[0]
        assert (country.get("lang"), text(country)) == ("en", "Lebanon")
        hebrew = article(root, "hebrew")
        assert (hebrew.get("lang"), hebrew.get("dir")) == ("he", "rtl")
        swiss = article(root, "travail")
        assert (swiss.get("lang"), swiss.get("dir")) == ("fr-CH", "ltr")

    def test_mixed_text_is_isolated(self) -> None:
        """Text of unknown direction gets dir="auto"; data inside a label is in <bdi>."""
        root = html(mixed())
        song = article(root, "song")
        assert song.get("lang") is None and song.get("dir") is None
        title = song.find(".//h2")
        assert title is not None and title.get("dir") == "auto"
        caption = song.find(".//figcaption")
        assert caption is not None
        bdi = caption.find("bdi")
        assert bdi is not None and text(bdi) == "© أسيثا سينيفيراتني 2021"
        assert text(caption) == "Photo: © أسيثا سينيفيراتني 2021"

    def test_arabic_page_labels(self) -> None:
        """On an Arabic page an English story is an ltr article in a rtl page."""
        root = html(mixed(), locale="ar")
        assert (root.get("lang"), root.get("dir")) == ("ar", "rtl")
        song = article(root, "song")
        assert (song.get("lang"), song.get("dir")) == ("en", "ltr")
        lebanon = article(root, "lebanon")
        assert lebanon.get("lang") is None  # same language as the page
        assert text(by_class(lebanon, "p", "sk-date")[0]) == "10 فبراير 2021"
        also = by_class(song, "p", "sk-translations")[0]
        assert (also.get("lang"), also.get("dir")) == ("ar", "rtl")
        assert text(also).startswith("بلغات أخرى:")

    def test_text_is_intact_in_html(self) -> None:
        """Arabic and Hebrew text reach the page exactly, with no direction marks added."""
        root = html(mixed())
        titles = [text(h) for h in by_class(root, "h2", "sk-title")]
        assert titles == [s.title for s in mixed()]
        summary = by_class(article(root, "lebanon"), "div", "sk-summary")[0]
        assert text(summary).strip() == ARABIC_SUMMARY
        assert not BIDI_CONTROLS & set(text(root))

    @pytest.mark.slow
    def test_nu_html_checker(self, tmp_path: Path) -> None:
        """Right-to-left and mixed pages pass the W3C Nu HTML checker (errors only)."""
        if not VNU_JAR.exists() or shutil.which("java") is None:
            pytest.skip("vnu.jar or java is missing (make install puts vnu.jar in .venv/vnu)")
        from hostile import checks

        files = []
        for locale in ("en", "ar", "he", "fr"):
            path = tmp_path / f"mixed-{locale}.html"
            path.write_bytes(storykit.dumps(
                mixed(), "html", locale=locale,
                alternates="fr=https://news.example.org/fr/,ar=https://news.example.org/ar/"))
            files.append(str(path))
        broken = tmp_path / "known-broken.html"
        broken.write_text("<!DOCTYPE html><html lang=en><title>x</title><p><div></span>")
        report = checks.vnu_problems([*files, str(broken)], str(VNU_JAR))
        assert report[str(broken)], "the Nu checker found nothing in a broken page"
        assert {Path(f).name: report[f][:3] for f in files if report.get(f)} == {}

    def test_email_keeps_arabic_intact(self) -> None:
        """An Arabic digest is rtl, and its plain text, subject and HTML carry the text exactly."""
        col = Collection(title="قصص العمل اللائق", language="ar", stories=[
            Story(id="lebanon", title=ARABIC_TITLE, published="2021-02-10",
                  summary=ARABIC_SUMMARY, language="ar"),
            Story(id="song", title="A song to let children fly", published="2021-02-03",
                  summary="Sri Lankan music star.", language="en")])
        msg = digest(col)
        assert msg["Subject"] == "قصص العمل اللائق — 3–10 فبراير 2021"
        plain = body(msg, "plain")
        assert ARABIC_TITLE in plain.splitlines()
        # Prose is wrapped at 72 columns: joined back, the summary is exactly the original.
        lines = plain.splitlines()
        start = next(i for i, line in enumerate(lines)
                     if line and ARABIC_SUMMARY.startswith(line))
        joined = ""
        for line in lines[start:]:
            if not line:
                break
            joined = f"{joined} {line}" if joined else line
        assert joined == ARABIC_SUMMARY
        assert not BIDI_CONTROLS & set(plain)
        assert unicodedata.is_normalized("NFC", plain)
        root = parse_html(body(msg, "html").encode())
        assert (root.get("lang"), root.get("dir")) == ("ar", "rtl")
        headings = {text(h): (h.get("lang"), h.get("dir")) for h in root.iter("h2")}
        assert headings[ARABIC_TITLE] == (None, "auto")
        assert headings["A song to let children fly"] == ("en", "ltr")


# --- 5. any locale, any exporter ------------------------------------------------------------------


def _locale_option(exporter: Any) -> bool:
    options = getattr(exporter, "options_type", None)
    return options is not None and "locale" in {a.name for a in attrs.fields(options)}


class TestAnyLocale:
    @settings(max_examples=30)
    @given(collections(max_size=4), st.sampled_from(LOCALES))
    def test_every_exporter_renders(self, col: Collection, locale: str) -> None:
        """Any supported locale renders every registered format without error."""
        col = with_language(col, locale)
        formats = storykit.formats()
        assert {"html", "email", "json", "csv"} <= set(formats)
        for name, exporter in formats.items():
            if getattr(exporter, "output", "stream") != "stream":
                continue  # (a folder writer, the site: tests/test_site.py renders it)
            options: dict[str, Any] = {"locale": locale} if _locale_option(exporter) else {}
            if name == "email":
                options["sender"] = SENDER
            data = storykit.dumps(col, name, **options)  # (vcard of no contacts is empty)
            if name == "html":
                root = parse_html(data)
                assert (root.get("lang"), root.get("dir")) == (locale,
                                                                i18n.text_direction(locale))
                assert [t.get("datetime") for t in root.iter("time")] == [
                    s.published.isoformat() if not isinstance(s.published, datetime)
                    else s.published.isoformat(timespec="seconds") for s in col]
            elif name == "email":
                msg = parse_email(data)
                assert body(msg, "plain")

    @given(st.sampled_from(LOCALES), st.dates(min_value=date(1900, 1, 1)))
    def test_dates_are_never_blank(self, locale: str, day: date) -> None:
        """Every locale formats every date as text that names its year."""
        shown = i18n.format_date(day, locale)
        assert shown.strip()
        assert str(day.year) in shown or locale in ("fa",)  # Persian uses its own digits
