"""The jinja2 environment shared by the template-based exporters (HTML, email, ...).

One environment per (registry, template folder, locale) is built and cached, so templates are
compiled once per process. Autoescaping is on for every template. Search order for a template:
the exporter's ``template_dir`` option, then folders from ``register_template_dirs()`` plugins,
then the built-in templates.
"""

from __future__ import annotations

import functools
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import jinja2

if TYPE_CHECKING:
    from storykit.plugins import Registry

__all__ = ["BUILTIN_TEMPLATES", "DEFAULT_LOCALE", "environment", "format_date", "translations"]

BUILTIN_TEMPLATES = Path(__file__).parent / "exporters" / "templates"
LOCALE_DIR = Path(__file__).parent / "locale"
DEFAULT_LOCALE = "en"
#: The seed page's date style: "03 February 2021"; localised through CLDR month names.
DATE_PATTERN = "dd MMMM yyyy"


@functools.lru_cache(maxsize=64)
def _babel_locale(locale: str) -> Any:
    from babel import Locale, UnknownLocaleError

    try:
        return Locale.parse(locale.replace("-", "_"))
    except (UnknownLocaleError, ValueError):
        return Locale.parse(DEFAULT_LOCALE)


@functools.lru_cache(maxsize=4096)
def _format_day(day: date, locale: str, pattern: str) -> str:
    from babel.dates import format_date as babel_format_date

    return babel_format_date(day, pattern, locale=_babel_locale(locale))


def format_date(value: date, locale: str = DEFAULT_LOCALE, pattern: str | None = None) -> str:
    """A story date for people: ``03 February 2021`` (en), ``03 février 2021`` (fr), ...

    The pattern is CLDR's; by default the seed page's day-month-year style, or the locale's
    long format for locales whose word order differs (``03 de febrero de 2021`` in Spanish).
    """
    day = value.date() if isinstance(value, datetime) else value
    return _format_day(day, locale, pattern or _date_pattern(locale))


@functools.lru_cache(maxsize=64)
def _date_pattern(locale: str) -> str:
    lang = locale.split("-", maxsplit=1)[0].split("_", maxsplit=1)[0].lower()
    if lang in ("en", "fr", "de", "it", "nl", "pt"):
        return DATE_PATTERN
    # Other languages: CLDR's long date, which puts the words where the language wants them.
    return str(_babel_locale(locale).date_formats["long"].pattern)


def iso(value: date) -> str:
    """The machine form of a story date, for ``<time datetime>`` and feeds."""
    return value.isoformat()


@functools.lru_cache(maxsize=64)
def translations(locale: str, extra_dirs: tuple[Path, ...] = ()) -> Any:
    """gettext translations for ``locale``: built-in catalogues plus plugin folders.

    A missing catalogue or message falls back to English (the message ids).
    """
    from babel.support import NullTranslations, Translations

    lang = locale.replace("-", "_")
    result: Any = NullTranslations()
    for folder in (LOCALE_DIR, *extra_dirs):
        found = Translations.load(str(folder), [lang, lang.split("_")[0]], domain="storykit")
        if isinstance(found, Translations):
            if isinstance(result, Translations):
                result.merge(found)
            else:
                result = found
    return result


def _new_environment(search: tuple[Path, ...], registry: Registry | None) -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader([str(p) for p in search]),
        autoescape=True,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        undefined=jinja2.StrictUndefined,
        extensions=["jinja2.ext.i18n"],
        auto_reload=False,
        cache_size=400,
    )
    env.filters["date"] = format_date
    env.filters["iso"] = iso
    env.install_null_translations(newstyle=True)  # type: ignore[attr-defined]
    if registry is not None:
        env.filters.update(registry.template_filters())
        env.globals.update(registry.template_globals())
    return env


_cache: dict[tuple[int, tuple[Path, ...]], jinja2.Environment] = {}


def environment(registry: Registry | None = None, template_dir: Path | str | None = None,
                ) -> jinja2.Environment:
    """The cached environment for this registry and template folder."""
    if registry is None:
        from storykit.plugins import get_registry

        registry = get_registry()
    search: list[Path] = []
    if template_dir is not None:
        folder = Path(template_dir)
        if not folder.is_dir():
            raise NotADirectoryError(f"template folder {str(folder)!r} is not a folder")
        search.append(folder)
    search.extend(registry.template_dirs())
    search.append(BUILTIN_TEMPLATES)
    key = (id(registry), tuple(search))
    env = _cache.get(key)
    if env is None:
        env = _new_environment(tuple(search), registry)
        _cache[key] = env
    return env


def render(env: jinja2.Environment, template: str, locale: str, **context: Any) -> str:
    """Render ``template`` with gettext for ``locale`` (English when it has no catalogue)."""
    tr = translations(locale)
    tmpl = env.get_template(template)
    ctx = dict(context, _=tr.gettext, gettext=tr.gettext, ngettext=tr.ngettext, locale=locale)
    return tmpl.render(ctx)
