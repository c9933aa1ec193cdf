"""The jinja2 environment shared by the template-based exporters (HTML, email, ...).

One environment per (registry, template folder, locale) is built and cached, so templates are
compiled once per process. Autoescaping is on for every template. Search order for a template:
the exporter's ``template_dir`` option, then folders from ``register_template_dirs()`` plugins,
then the built-in templates.
"""

from __future__ import annotations

import functools
import re
import weakref
from collections.abc import Iterator
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import jinja2
from markupsafe import Markup, escape

from storykit.i18n import (
    DEFAULT_LOCALE,
    babel_locale,
    format_date,
    format_window,
    text_direction,
    translations,
)

if TYPE_CHECKING:
    from storykit.plugins import Registry

__all__ = [
    "BUILTIN_TEMPLATES",
    "DEFAULT_LOCALE",
    "country_name",
    "environment",
    "format_date",
    "format_phone",
    "format_window",
    "host",
    "iso",
    "json_script",
    "language_name",
    "render",
    "stream",
    "text_direction",
    "translation_dirs",
    "translations",
]

BUILTIN_TEMPLATES = Path(__file__).parent / "exporters" / "templates"


def iso(value: date) -> str:
    """The machine form of a story date, for ``<time datetime>``, JSON-LD and feeds.

    Datetimes keep whole seconds: HTML's ``datetime`` attribute allows at most three
    fractional digits, and no story needs them.
    """
    if isinstance(value, datetime):
        return value.isoformat(timespec="seconds")
    return value.isoformat()


@functools.lru_cache(maxsize=1024)
def country_name(code: str, locale: str = DEFAULT_LOCALE) -> str:
    """The name of an ISO 3166-1 alpha-2 country in ``locale`` (``TL`` -> ``Timor-Leste``)."""
    return str(babel_locale(locale).territories.get(code.upper(), code))


@functools.lru_cache(maxsize=256)
def language_name(tag: str) -> str:
    """A language's own name for itself (``fr`` -> ``français``), for language switchers."""
    from babel import Locale, UnknownLocaleError

    try:
        name = Locale.parse(tag.replace("-", "_")).get_display_name()
    except (UnknownLocaleError, ValueError):
        return tag
    return str(name) if name else tag


@functools.lru_cache(maxsize=256)
def format_phone(number: str) -> str:
    """An E.164 number (``+41227997912``) for people: ``+41 22 799 79 12``."""
    import phonenumbers

    try:
        parsed = phonenumbers.parse(number, None)
    except phonenumbers.NumberParseException:
        return number
    return str(phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.INTERNATIONAL))


def host(url: str) -> str:
    """The host of a URL, without ``www.``: ``https://www.ilo.org/x`` -> ``ilo.org``."""
    from urllib.parse import urlsplit

    name = urlsplit(url).hostname or url
    return name.removeprefix("www.")


_HREF_SCHEMES = ("http:", "https:", "mailto:", "tel:")


_STRAY_PERCENT = re.compile(r"%(?![0-9A-Fa-f]{2})")


def href(url: str) -> str:
    """``url`` as a valid ``href``: http, https, mailto or tel, else ValueError.

    The model only admits http(s) URLs; this is a second lock for objects built around it. A
    ``%`` not followed by two hex digits (which browsers tolerate but HTML forbids) is written
    ``%25``, which is what a browser would request anyway.
    """
    if not url.lower().startswith(_HREF_SCHEMES):
        raise ValueError(f"refusing to render a link to {url[:60]!r} (not http, https, "
                         "mailto or tel)")
    return _STRAY_PERCENT.sub("%25", url) if "%" in url else url


# Characters that would end or confuse a <script> element, or break a line in old JavaScript.
# (Pairs and str.replace, not str.translate: translate is slow on non-ASCII text.)
_SCRIPT_ESCAPES = (
    ("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026"), ("\u2028", "\\u2028"),
    ("\u2029", "\\u2029"),
)


def json_script(value: Any) -> Markup:
    """``value`` as JSON that is safe inside ``<script type="application/ld+json">``.

    ``<``, ``>``, ``&``, U+2028 and U+2029 are written as ``\\u003c``-style escapes, which
    every JSON parser reads back as the same characters, so no text can close the script
    element or open a comment in it. orjson renders the JSON (several times faster than the
    json module: this runs once per story of a page); values it cannot render (non-string keys,
    integers over 64 bits) go through the json module.
    """
    import orjson

    try:
        text = orjson.dumps(value).decode()
    except (TypeError, orjson.JSONEncodeError):
        import json

        text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    for char, escaped in _SCRIPT_ESCAPES:
        if char in text:
            text = text.replace(char, escaped)
    return Markup(text)


def bdi(value: Any) -> Markup:
    """``value`` escaped and isolated in ``<bdi>``: data of any direction inside a label."""
    return Markup(f"<bdi>{escape(value)}</bdi>")  # (an f-string: Markup.format is slow)


def paragraphs(value: str) -> Markup:
    """Plain text as HTML paragraphs: blank lines separate them, single newlines become <br>."""
    if "\n" not in value:  # one paragraph (most summaries): no regex, no Markup.format
        text = value.strip()
        return Markup(f"<p>{escape(text)}</p>") if text else Markup("")
    parts = [p.strip() for p in re.split(r"\n\s*\n", value) if p.strip()]
    return Markup("\n").join(
        Markup("<p>{}</p>").format(Markup("<br>\n").join(escape(line) for line in p.split("\n")))
        for p in parts
    )


def translation_dirs(registry: Registry | None = None) -> tuple[Path, ...]:
    """The catalogue folders of ``register_translations()`` plugins, in merge order.

    The earliest-registered plugin comes first, so a later one overrides its messages (as with
    template filters). The built-in catalogues are merged before all of them.
    """
    if registry is None:
        from storykit.plugins import get_registry

        registry = get_registry()
    return tuple(reversed(registry.translation_dirs()))


def _new_environment(search: tuple[Path, ...], registry: Registry | None) -> jinja2.Environment:
    env = jinja2.Environment(
        # "storykit/page.html" always names the built-in template, so a theme's page.html
        # can extend the one it replaces: {% extends "storykit/page.html" %}.
        loader=jinja2.ChoiceLoader([
            jinja2.FileSystemLoader([str(p) for p in search]),
            jinja2.PrefixLoader({"storykit": jinja2.FileSystemLoader(str(BUILTIN_TEMPLATES))}),
        ]),
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
    env.filters["direction"] = text_direction
    env.filters["iso"] = iso
    env.filters["country_name"] = country_name
    env.filters["language_name"] = language_name
    env.filters["phone"] = format_phone
    env.filters["host"] = host
    env.filters["href"] = href
    env.filters["json_script"] = json_script
    env.filters["paragraphs"] = paragraphs
    env.filters["bdi"] = bdi
    # gettext and ngettext look up the catalogue of the locale each render passes in:
    # jinja2's i18n extension calls them with the template context (newstyle: values as
    # keywords, escaped).
    env.install_gettext_callables(  # type: ignore[attr-defined]
        _gettext, _ngettext, newstyle=True)
    # The catalogue folders of this registry's plugins, read by render() and stream().
    env.extend(storykit_translation_dirs=(
        translation_dirs(registry) if registry is not None else ()))
    if registry is not None:
        env.filters.update(registry.template_filters())
        env.globals.update(registry.template_globals())
    return env


# One cache per registry (dropped with it), keyed by its plugins and the template folders, so a
# plugin registered later (a new filter, a new theme) gets a fresh environment.
_cache: weakref.WeakKeyDictionary[Registry, dict[tuple[Any, ...], jinja2.Environment]] = (
    weakref.WeakKeyDictionary())


def environment(registry: Registry | None = None, template_dir: Path | str | None = None,
                ) -> jinja2.Environment:
    """The cached environment for this registry and template folder.

    Templates are looked up in ``template_dir``, then the folders of ``register_template_dirs()``
    plugins, then the built-in templates; ``storykit/<name>`` always names a built-in one.
    """
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
    plugins = tuple(name for name, _ in registry.pm.list_name_plugin())
    key = (plugins, tuple(search))
    envs = _cache.setdefault(registry, {})
    env = envs.get(key)
    if env is None:
        env = _new_environment(tuple(search), registry)
        envs[key] = env
    return env


def _catalogue(context: jinja2.runtime.Context) -> Any:
    """The translations of the locale the template is rendered in."""
    env = context.environment
    return translations(context.resolve("locale"), getattr(env, "storykit_translation_dirs", ()))


@jinja2.pass_context
def _gettext(context: jinja2.runtime.Context, message: str) -> str:
    text: str = _catalogue(context).gettext(message)
    return text


@jinja2.pass_context
def _ngettext(context: jinja2.runtime.Context, singular: str, plural: str, n: int) -> str:
    text: str = _catalogue(context).ngettext(singular, plural, n)
    return text


def _context(locale: str, context: dict[str, Any]) -> dict[str, Any]:
    return dict(context, locale=locale)


def render(env: jinja2.Environment, template: str, locale: str, **context: Any) -> str:
    """Render ``template`` with gettext for ``locale`` (English when it has no catalogue).

    Templates call ``{{ _("Media contact") }}``; values go in as keywords and are escaped:
    ``{{ _("Photo: %(credit)s", credit=credit) }}``.
    """
    return env.get_template(template).render(_context(locale, context))


def stream(env: jinja2.Environment, template: str, locale: str, **context: Any,
           ) -> Iterator[str]:
    """Like :func:`render`, but yields the output in pieces, for large pages."""
    return env.get_template(template).generate(_context(locale, context))
