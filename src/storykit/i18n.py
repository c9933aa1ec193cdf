"""Languages: localised dates (Babel, CLDR), gettext catalogues, text direction.

Everything here takes a BCP 47 tag (``"fr"``, ``"pt-BR"``, ``"zh-Hans"``) and never fails on an
unknown one: dates then use English, labels the English message ids. Babel is imported on first
use, so ``import storykit.i18n`` stays light.

Catalogues are gettext ``.po`` files, compiled in memory the first time a locale is used (no
build step): ``src/storykit/locale/<lang>/LC_MESSAGES/storykit.po`` for the built-in languages
(en, fr, es, ar, he), then the folders that plugins return from ``register_translations()``,
each laid out the same way (``<folder>/<lang>/LC_MESSAGES/storykit.po`` or ``storykit.mo``). A
later folder overrides an earlier one message by message; a message that no catalogue
translates stays English, never blank.
"""

from __future__ import annotations

import functools
import io
from collections.abc import Iterable
from datetime import date, datetime
from pathlib import Path
from typing import Any

__all__ = [
    "DATE_PATTERNS",
    "DEFAULT_LOCALE",
    "DOMAIN",
    "LOCALES",
    "LOCALE_DIR",
    "babel_locale",
    "catalogue_path",
    "date_pattern",
    "format_date",
    "format_window",
    "gettext",
    "primary",
    "text_direction",
    "translations",
]

#: Where the built-in catalogues live: ``<LOCALE_DIR>/<lang>/LC_MESSAGES/storykit.po``.
LOCALE_DIR = Path(__file__).parent / "locale"
#: The gettext domain: catalogue files are ``storykit.po`` / ``storykit.mo``.
DOMAIN = "storykit"
#: The language of the message ids, and of anything no catalogue translates.
DEFAULT_LOCALE = "en"
#: The languages whose catalogues ship with storykit (Arabic and Hebrew so that right-to-left
#: pages do not show English labels laid out right to left).
LOCALES = ("ar", "en", "es", "fr", "he")

#: A story date for people, per language (CLDR patterns). The seed page's style is
#: "03 February 2021"; languages that say the date with words in between get their own pattern.
#: Languages not listed use CLDR's long date format, which puts the parts where the language
#: wants them (``2021年2月3日``, ``3 февраля 2021 г.``).
DATE_PATTERNS: dict[str, str] = {
    "en": "dd MMMM y",
    "fr": "dd MMMM y",
    "it": "dd MMMM y",
    "nl": "dd MMMM y",
    "de": "dd. MMMM y",
    "es": "dd 'de' MMMM 'de' y",
    "pt": "dd 'de' MMMM 'de' y",
    "ca": "dd MMMM 'de' y",
}

# The window of a digest ("15–23 February 2021"): the patterns of its start when it shares the
# month, when it shares the year, and of a full date. Languages not listed use CLDR intervals.
_WINDOW_PATTERNS: dict[str, tuple[str, str, str]] = {
    "en": ("d", "d MMMM", "d MMMM y"),
    "fr": ("d", "d MMMM", "d MMMM y"),
    "it": ("d", "d MMMM", "d MMMM y"),
    "nl": ("d", "d MMMM", "d MMMM y"),
    "de": ("d.", "d. MMMM", "d. MMMM y"),
    "es": ("d", "d 'de' MMMM", "d 'de' MMMM 'de' y"),
    "pt": ("d", "d 'de' MMMM", "d 'de' MMMM 'de' y"),
}


def _subtags(locale: str) -> list[str]:
    """``"pt-BR"`` -> ``["pt_BR", "pt"]``: the tag, then each shorter prefix, Babel-style."""
    parts = locale.replace("_", "-").split("-")
    return ["_".join(parts[:n]) for n in range(len(parts), 0, -1) if parts[:n] != [""]]


def primary(locale: str) -> str:
    """The primary language subtag, lower case: ``"pt-BR"`` -> ``"pt"``."""
    return locale.replace("_", "-").split("-", 1)[0].lower()


@functools.lru_cache(maxsize=128)
def babel_locale(locale: str) -> Any:
    """The :class:`babel.Locale` for a BCP 47 tag: the longest prefix Babel knows, else English.

    ``"pt-BR"`` is Brazilian Portuguese, ``"fr-XX"`` French, ``"zz"`` English.
    """
    from babel import Locale, UnknownLocaleError

    for tag in _subtags(locale):
        try:
            return Locale.parse(tag)
        except (UnknownLocaleError, ValueError, TypeError):
            continue
    return Locale.parse(DEFAULT_LOCALE)


@functools.lru_cache(maxsize=4096)
def _format_day(day: date, locale: str, pattern: str) -> str:
    from babel.dates import format_date as babel_format_date

    return str(babel_format_date(day, pattern, locale=babel_locale(locale)))


@functools.lru_cache(maxsize=128)
def date_pattern(locale: str) -> str:
    """The CLDR pattern of :func:`format_date` for ``locale``."""
    known = DATE_PATTERNS.get(str(babel_locale(locale).language))  # "zz" is English
    if known is not None:
        return known
    return str(babel_locale(locale).date_formats["long"].pattern)


def format_date(value: date, locale: str = DEFAULT_LOCALE, pattern: str | None = None) -> str:
    """A story date for people: ``03 February 2021`` (en), ``03 février 2021`` (fr),
    ``03 de febrero de 2021`` (es), ``03 فبراير 2021`` (ar), ``2021年2月3日`` (ja).

    ``pattern`` is a CLDR date pattern; by default the one :data:`DATE_PATTERNS` gives for the
    language, else the locale's long format. Datetimes are shown by their (local) date.
    """
    day = value.date() if isinstance(value, datetime) else value
    return _format_day(day, locale, pattern or date_pattern(locale))


def format_window(start: date, end: date, locale: str = DEFAULT_LOCALE) -> str:
    """The days a digest covers: ``15–23 February 2021``, ``28 January – 3 February 2021``,
    ``23 February 2021``; ``15–23 de febrero de 2021`` (es), ``2021年2月15日～23日`` (ja)."""
    start = start.date() if isinstance(start, datetime) else start
    end = end.date() if isinstance(end, datetime) else end
    patterns = _WINDOW_PATTERNS.get(str(babel_locale(locale).language))
    if patterns is None:
        if start == end:
            return format_date(start, locale, str(babel_locale(locale).date_formats["long"]
                                                  .pattern))
        from babel.dates import format_interval

        return str(format_interval(start, end, "yMMMMd", locale=babel_locale(locale)))
    day, day_month, full = patterns
    if start == end:
        return format_date(start, locale, full)
    if (start.year, start.month) == (end.year, end.month):
        return f"{format_date(start, locale, day)}–{format_date(end, locale, full)}"
    if start.year == end.year:
        return f"{format_date(start, locale, day_month)} – {format_date(end, locale, full)}"
    return f"{format_date(start, locale, full)} – {format_date(end, locale, full)}"


@functools.lru_cache(maxsize=128)
def text_direction(locale: str) -> str:
    """``"rtl"`` for right-to-left languages (Arabic, Hebrew, Persian, Urdu, ...), else ``"ltr"``.

    The script decides: ``"az-Arab"`` is right-to-left, ``"az"`` is not.
    """
    return "rtl" if str(babel_locale(locale).text_direction) == "rtl" else "ltr"


# --- catalogues -----------------------------------------------------------------------------------


def catalogue_path(folder: Path, language: str) -> Path | None:
    """The catalogue for ``language`` (Babel-style, ``pt_BR``) in ``folder``, if any.

    A compiled ``storykit.mo`` wins over a ``storykit.po`` beside it.
    """
    base = folder / language / "LC_MESSAGES"
    for suffix in (".mo", ".po"):
        path = base / (DOMAIN + suffix)
        if path.is_file():
            return path
    return None


@functools.lru_cache(maxsize=64)
def _compiled(path: Path, mtime_ns: int) -> bytes:
    """The ``.mo`` bytes of a catalogue (a ``.po`` is compiled in memory; fuzzy entries and
    empty translations are left out, so they fall back to English)."""
    if path.suffix == ".mo":
        return path.read_bytes()
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po

    with path.open("rb") as f:
        catalog = read_po(f, domain=DOMAIN)
    out = io.BytesIO()
    write_mo(out, catalog, use_fuzzy=False)
    return out.getvalue()


def _load(path: Path) -> Any:
    from babel.support import Translations

    try:
        data = _compiled(path, path.stat().st_mtime_ns)
        return Translations(io.BytesIO(data), domain=DOMAIN)
    except Exception as e:  # a broken catalogue must say which file it is
        raise ValueError(f"gettext catalogue {str(path)!r} cannot be read: "
                         f"{type(e).__name__}: {e}") from None


@functools.lru_cache(maxsize=128)
def translations(locale: str, extra_dirs: tuple[Path, ...] = ()) -> Any:
    """gettext translations for ``locale`` (``gettext``, ``ngettext``, ...).

    The built-in catalogue, then each folder of ``extra_dirs`` in order (a later one overrides
    an earlier one, message by message); in each folder the language's catalogue (``pt``) and
    then the region's (``pt_BR``). A locale without any catalogue, or a message missing from
    them, gives the English message id: never a blank.
    """
    from babel.support import NullTranslations

    languages = list(reversed(_subtags(locale)))  # "pt", then "pt_BR": specific wins
    result: Any = None
    for folder in (LOCALE_DIR, *extra_dirs):
        for language in languages:
            path = catalogue_path(Path(folder), language)
            if path is None:
                continue
            found = _load(path)
            if result is None:
                result = found
            else:
                result.merge(found)
    return result if result is not None else NullTranslations()


def gettext(message: str, locale: str, extra_dirs: Iterable[Path] = ()) -> str:
    """``message`` translated into ``locale`` (English when no catalogue has it)."""
    return str(translations(locale, tuple(extra_dirs)).gettext(message))
