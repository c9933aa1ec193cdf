# ruff: noqa: E501 - the template keeps the markup lines of storykit's own templates
"""The HTML anchors: the markup of storykit's default page, by a bare jinja2 template and by
f-strings with ``html.escape`` (the floor).

Both produce the page ``storykit.dumps(col, "html")`` produces for an English collection with
the default options: the same elements, attributes and text (checked by
:func:`check_equivalent` before timing), written the way a user would write them by hand:
one template, English labels, ``strftime`` dates, a dict of country names.
"""

from __future__ import annotations

import html
import json
import re
from datetime import date, datetime
from functools import cache
from html.parser import HTMLParser
from typing import Any
from urllib.parse import urlencode, urlsplit

import jinja2
from markupsafe import Markup

from storykit import Collection, Story

CSS_FILE = "storykit.css"
#: Right-to-left languages (the page's own direction for the rest).
DIRECTIONS = {"ar": "rtl", "he": "rtl", "fa": "rtl", "ur": "rtl"}

_SCRIPT = (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026"), ("\u2028", "\\u2028"),
           ("\u2029", "\\u2029"))


@cache
def css() -> str:
    from storykit.templating import BUILTIN_TEMPLATES

    return (BUILTIN_TEMPLATES / CSS_FILE).read_text(encoding="utf-8")


@cache
def country_names() -> dict[str, str]:
    from babel import Locale

    return dict(Locale.parse("en").territories)


def iso(d: date) -> str:
    return d.isoformat(timespec="seconds") if isinstance(d, datetime) else d.isoformat()


@cache
def language_name(tag: str) -> str:
    from babel import Locale

    return str(Locale.parse(tag.replace("-", "_")).get_display_name() or tag)


def tag_link(key: str, value: str) -> str:
    return "?" + urlencode({key: value})


def human_date(d: date) -> str:
    return d.strftime("%d %B %Y")


def host(url: str) -> str:
    return (urlsplit(url).hostname or url).removeprefix("www.")


def phone(number: str) -> str:
    import phonenumbers

    return phonenumbers.format_number(phonenumbers.parse(number, None),
                                      phonenumbers.PhoneNumberFormat.INTERNATIONAL)


def paragraphs_html(text: str) -> str:
    parts = [p.strip() for p in re.split(r"\n\s*\n", text) if p.strip()]
    return "\n".join("<p>" + "<br>\n".join(html.escape(x, quote=False) for x in p.split("\n"))
                     + "</p>" for p in parts)


def article_ld(story: Story) -> dict[str, Any]:
    d: dict[str, Any] = {"@context": "https://schema.org", "@type": "NewsArticle",
                         "headline": story.title, "datePublished": iso(story.published)}
    if story.updated is not None:
        d["dateModified"] = iso(story.updated)
    d["description"] = story.summary
    if story.url is not None:
        d["url"] = story.url
        d["mainEntityOfPage"] = story.url
    d["inLanguage"] = story.language
    if story.image is not None:
        img: dict[str, Any] = {"@type": "ImageObject", "contentUrl": story.image.url,
                               "url": story.image.url, "description": story.image.alt}
        c = story.image.credit
        if c is not None:
            img["creditText"] = c.holder
            img["copyrightHolder"] = {"@type": "Organization", "name": c.holder}
            img["copyrightNotice"] = str(c)
            if c.year is not None:
                img["copyrightYear"] = c.year
        d["image"] = img
    if story.topics:
        d["keywords"] = list(story.topics)
    if story.countries:
        d["contentLocation"] = [{"@type": "Country", "identifier": c} for c in story.countries]
    if story.translations:
        d["workTranslation"] = [
            {"@type": "NewsArticle", "url": t.url, "inLanguage": t.language,
             **({"headline": t.title} if t.title else {})} for t in story.translations]
    if story.links:
        d["citation"] = [{"@type": "WebPage", "url": link.url, "name": link.title}
                         for link in story.links]
    if story.body is not None:
        d["articleBody"] = plain_text(story.body)
    return d


def contacts_ld(col: Collection) -> list[dict[str, Any]]:
    out = []
    for c in col.contacts:
        p: dict[str, Any] = {"@context": "https://schema.org", "@type": "Person", "name": c.name}
        if c.role is not None:
            p["jobTitle"] = c.role
        if c.organization is not None:
            p["worksFor"] = {"@type": "Organization", "name": c.organization}
        for key, value in (("email", c.email), ("telephone", c.phone), ("url", c.url)):
            if value is not None:
                p[key] = value
        out.append(p)
    return out


BLOCKS = frozenset({"p", "div", "h1", "h2", "h3", "h4", "h5", "h6", "ul", "ol", "li",
                    "blockquote", "pre", "table", "tr", "figure", "figcaption", "hr"})


class _PlainText(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.pieces: list[str] = []

    def handle_starttag(self, tag: str, attrs: Any) -> None:
        if tag in BLOCKS:
            self.pieces.append("\n\n")
        elif tag == "br":
            self.pieces.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in BLOCKS:
            self.pieces.append("\n\n")

    def handle_data(self, data: str) -> None:
        self.pieces.append(data)


def plain_text(body: str) -> str:
    """The body's text, blocks apart by a blank line (schema.org's articleBody is text)."""
    p = _PlainText()
    p.feed(body)
    p.close()
    return re.sub(r"[ \t]*\n\s*\n\s*", "\n\n", "".join(p.pieces)).strip()


def script_json(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    for char, escaped in _SCRIPT:  # str.replace: str.translate is slow on non-ASCII text
        if char in text:
            text = text.replace(char, escaped)
    return text


def json_ld(story: Story) -> str:
    return script_json(article_ld(story))


# --- bare jinja2 -------------------------------------------------------------------------------

PAGE = """\
<!DOCTYPE html>
<html lang="{{ col.language }}" dir="ltr">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{ col.title }}</title>
{% if col.description %}
<meta name="description" content="{{ col.description }}">
{% endif %}
{% if col.url %}
<link rel="canonical" href="{{ col.url }}">
{% endif %}
<style>
{{ css }}
</style>
</head>
<body>
<a class="sk-skip" href="#stories">Skip to the stories</a>
<header class="sk-header">
<div class="sk-wrap">
<h1 dir="auto">{{ col.title }}</h1>
{% if col.description %}
<div class="sk-lede" dir="auto">{{ col.description|paragraphs }}</div>
{% endif %}
</div>
</header>
<div class="sk-wrap sk-layout{% if not col.contacts %} sk-layout--single{% endif %}">
{% if col.contacts %}
<aside class="sk-contact" aria-labelledby="sk-contact-title">
<h2 id="sk-contact-title">Media contact{% if col.contacts|length > 1 %}s{% endif %}</h2>
{% for contact in col.contacts %}
<address class="sk-card">
<p class="sk-name" dir="auto">{{ contact.name }}</p>
{% if contact.role %}
<p class="sk-role" dir="auto">{{ contact.role }}</p>
{% endif %}
{% if contact.organization %}
<p class="sk-org" dir="auto">{{ contact.organization }}</p>
{% endif %}
<ul class="sk-reach">
{% if contact.email %}
<li><span class="sk-label">Email:</span> <a href="mailto:{{ contact.email }}">{{ contact.email }}</a></li>
{% endif %}
{% if contact.phone %}
<li><span class="sk-label">Phone:</span> <a href="tel:{{ contact.phone }}" dir="ltr">{{ contact.phone|phone }}</a></li>
{% endif %}
{% if contact.url %}
<li><span class="sk-label">Web:</span> <a href="{{ contact.url }}">{{ contact.url|host }}</a></li>
{% endif %}
</ul>
</address>
{% endfor %}
<script type="application/ld+json">{{ col|contacts_json_ld }}</script>
</aside>
{% endif %}
<main class="sk-main" id="stories" tabindex="-1">
{% if col.stories %}
<ol class="sk-stories">
{% for story in col.stories %}
{% set text_lang = story.language if story.language != col.language else none %}
{% set text_dir = "" if text_lang else ' dir="auto"' %}
{% set label_attrs = (' lang="' ~ col.language ~ '" dir="ltr"') if text_lang else "" %}
<li><span class="sk-number" aria-hidden="true">{{ loop.index }}</span>
<article class="sk-story{% if story.image %} sk-story--image{% endif %}" id="story-{{ story.id }}"{% if text_lang %} lang="{{ text_lang }}" dir="{{ directions.get(text_lang, 'ltr') }}"{% endif %}>
{% if story.image %}
<figure class="sk-figure">
<img src="{{ story.image.url }}" alt="{{ story.image.alt }}" width="600" height="400" loading="lazy" decoding="async">
{% if story.image.credit %}
<figcaption{{ label_attrs|safe }}>Photo: <bdi>{{ story.image.credit }}</bdi></figcaption>
{% endif %}
</figure>
{% endif %}
<div class="sk-body">
<h2 class="sk-title"{{ text_dir|safe }}>
{%- if story.url %}<a href="{{ story.url }}">{{ story.title }}</a>{% else %}{{ story.title }}{% endif -%}
</h2>
<p class="sk-date"{{ label_attrs|safe }}><time datetime="{{ story.published|iso }}">{{ story.published|human_date }}</time></p>
<div class="sk-summary"{{ text_dir|safe }}>
{{ story.summary|paragraphs }}
</div>
{% if story.body %}
<div class="sk-article"{{ text_dir|safe }}>{{ story.body|safe }}</div>
{% endif %}
{% if story.links %}
<ul class="sk-links">
{% for link in story.links %}
<li dir="auto"><a href="{{ link.url }}">{{ link.title }}</a></li>
{% endfor %}
</ul>
{% endif %}
{% if story.url %}
<p class="sk-more"{{ label_attrs|safe }}><a href="{{ story.url }}">Read more<span class="sk-vh">: <bdi>{{ story.title }}</bdi></span></a></p>
{% endif %}
{% if story.translations %}
<p class="sk-translations"{{ label_attrs|safe }}>Also in:
{% for tr in story.translations %}
<a href="{{ tr.url }}" hreflang="{{ tr.language }}" lang="{{ tr.language }}" dir="{{ directions.get(tr.language, 'ltr') }}"{% if tr.title %} title="{{ tr.title }}"{% endif %}>{{ tr.language|language_name }}</a>{% if not loop.last %}, {% endif %}
{% endfor %}
</p>
{% endif %}
{% if story.topics or story.countries %}
<ul class="sk-tags">
{% for topic in story.topics %}
<li dir="auto"><a href="{{ tag_link('topic', topic) }}" rel="tag">{{ topic }}</a></li>
{% endfor %}
{% for code in story.countries %}
<li class="sk-country"{{ label_attrs|safe }}><a href="{{ tag_link('country', code) }}" rel="tag">{{ countries[code] }}</a></li>
{% endfor %}
</ul>
{% endif %}
</div>
<script type="application/ld+json">{{ story|json_ld }}</script>
</article>
</li>
{% endfor %}
</ol>
{% else %}
<p class="sk-empty">No stories yet.</p>
{% endif %}
</main>
</div>
<footer class="sk-footer">
<div class="sk-wrap">
<p dir="auto">{{ col.title }}{% if col.url %} · <a href="{{ col.url }}">{{ col.url|host }}</a>{% endif %}</p>
</div>
</footer>
</body>
</html>
"""


@cache
def template() -> jinja2.Template:
    env = jinja2.Environment(autoescape=True, trim_blocks=True, lstrip_blocks=True,
                             keep_trailing_newline=True)
    env.filters.update(
        iso=iso, human_date=human_date, host=host, phone=phone, language_name=language_name,
        paragraphs=lambda s: Markup(paragraphs_html(s)),
        json_ld=lambda s: Markup(json_ld(s)),
        contacts_json_ld=lambda c: Markup(script_json(contacts_ld(c))),
    )
    return env.from_string(PAGE)


def jinja2_page(col: Collection) -> bytes:
    return template().render(col=col, css=Markup(css().rstrip("\n")),
                             countries=country_names(), directions=DIRECTIONS,
                             tag_link=tag_link).encode()


# --- f-strings + html.escape: the floor ------------------------------------------------------

def fstring_page(col: Collection) -> bytes:
    e = html.escape
    names = country_names()
    out: list[str] = []
    add = out.append
    add(f'<!DOCTYPE html>\n<html lang="{e(col.language)}" dir="ltr">\n<head>\n'
        '<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{e(col.title)}</title>\n")
    if col.description:
        add(f'<meta name="description" content="{e(col.description)}">\n')
    if col.url:
        add(f'<link rel="canonical" href="{e(col.url)}">\n')
    add(f"<style>\n{css().rstrip(chr(10))}\n</style>\n</head>\n<body>\n"
        '<a class="sk-skip" href="#stories">Skip to the stories</a>\n'
        '<header class="sk-header">\n<div class="sk-wrap">\n'
        f'<h1 dir="auto">{e(col.title)}</h1>\n')
    if col.description:
        add(f'<div class="sk-lede" dir="auto">{paragraphs_html(col.description)}</div>\n')
    add("</div>\n</header>\n")
    add(f'<div class="sk-wrap sk-layout{"" if col.contacts else " sk-layout--single"}">\n')
    if col.contacts:
        add('<aside class="sk-contact" aria-labelledby="sk-contact-title">\n'
            f'<h2 id="sk-contact-title">Media contact{"s" if len(col.contacts) > 1 else ""}'
            "</h2>\n")
        for c in col.contacts:
            add(f'<address class="sk-card">\n<p class="sk-name" dir="auto">{e(c.name)}</p>\n')
            if c.role:
                add(f'<p class="sk-role" dir="auto">{e(c.role)}</p>\n')
            if c.organization:
                add(f'<p class="sk-org" dir="auto">{e(c.organization)}</p>\n')
            add('<ul class="sk-reach">\n')
            if c.email:
                add(f'<li><span class="sk-label">Email:</span> <a href="mailto:{e(c.email)}">'
                    f"{e(c.email)}</a></li>\n")
            if c.phone:
                add(f'<li><span class="sk-label">Phone:</span> <a href="tel:{e(c.phone)}" '
                    f'dir="ltr">{e(phone(c.phone))}</a></li>\n')
            if c.url:
                add(f'<li><span class="sk-label">Web:</span> <a href="{e(c.url)}">'
                    f"{e(host(c.url))}</a></li>\n")
            add("</ul>\n</address>\n")
        add(f'<script type="application/ld+json">{script_json(contacts_ld(col))}</script>\n'
            "</aside>\n")
    add('<main class="sk-main" id="stories" tabindex="-1">\n')
    add('<ol class="sk-stories">\n' if col.stories else '<p class="sk-empty">No stories yet.</p>\n')
    for number, s in enumerate(col.stories, 1):
        other = s.language if s.language != col.language else None
        text_dir = "" if other else ' dir="auto"'
        label = f' lang="{e(col.language)}" dir="ltr"' if other else ""
        img = s.image
        add(f'<li><span class="sk-number" aria-hidden="true">{number}</span>\n'
            f'<article class="sk-story{" sk-story--image" if img else ""}" '
            f'id="story-{e(s.id)}"'
            + (f' lang="{e(other)}" dir="{DIRECTIONS.get(other, "ltr")}"' if other else "")
            + ">\n")
        if img is not None:
            add(f'<figure class="sk-figure">\n<img src="{e(img.url)}" alt="{e(img.alt)}" '
                'width="600" height="400" loading="lazy" decoding="async">\n')
            if img.credit is not None:
                add(f"<figcaption{label}>Photo: <bdi>{e(str(img.credit))}</bdi></figcaption>\n")
            add("</figure>\n")
        title = (f'<a href="{e(s.url)}">{e(s.title)}</a>' if s.url else e(s.title))
        add(f'<div class="sk-body">\n<h2 class="sk-title"{text_dir}>{title}</h2>\n'
            f'<p class="sk-date"{label}><time datetime="{iso(s.published)}">'
            f"{human_date(s.published)}</time></p>\n"
            f'<div class="sk-summary"{text_dir}>\n{paragraphs_html(s.summary)}\n</div>\n')
        if s.body:
            add(f'<div class="sk-article"{text_dir}>{s.body}</div>\n')
        if s.links:
            add('<ul class="sk-links">\n')
            for link in s.links:
                add(f'<li dir="auto"><a href="{e(link.url)}">{e(link.title)}</a></li>\n')
            add("</ul>\n")
        if s.url:
            add(f'<p class="sk-more"{label}><a href="{e(s.url)}">Read more<span class="sk-vh">: '
                f"<bdi>{e(s.title)}</bdi></span></a></p>\n")
        if s.translations:
            add(f'<p class="sk-translations"{label}>Also in:\n' + ", \n".join(
                f'<a href="{e(t.url)}" hreflang="{t.language}" lang="{t.language}" '
                f'dir="{DIRECTIONS.get(t.language, "ltr")}"'
                + (f' title="{e(t.title)}"' if t.title else "")
                + f">{e(language_name(t.language))}</a>" for t in s.translations) + "\n</p>\n")
        if s.topics or s.countries:
            add('<ul class="sk-tags">\n')
            for t in s.topics:
                add(f'<li dir="auto"><a href="{e(tag_link("topic", t))}" rel="tag">{e(t)}</a></li>\n')
            for code in s.countries:
                add(f'<li class="sk-country"{label}><a href="{e(tag_link("country", code))}" '
                    f'rel="tag">{e(names[code])}</a></li>\n')
            add("</ul>\n")
        add(f'</div>\n<script type="application/ld+json">{json_ld(s)}</script>\n'
            "</article>\n</li>\n")
    add(("</ol>\n" if col.stories else "") + "</main>\n</div>\n"
        '<footer class="sk-footer">\n<div class="sk-wrap">\n'
        f'<p dir="auto">{e(col.title)}')
    if col.url:
        add(f' · <a href="{e(col.url)}">{e(host(col.url))}</a>')
    add("</p>\n</div>\n</footer>\n</body>\n</html>\n")
    return "".join(out).encode()


# --- equivalence -------------------------------------------------------------------------------

class _Events(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.events: list[tuple[Any, ...]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.events.append(("start", tag, tuple(sorted(attrs))))

    def handle_endtag(self, tag: str) -> None:
        self.events.append(("end", tag))

    def handle_data(self, data: str) -> None:
        text = " ".join(data.split())
        if text:
            self.events.append(("text", text))


def events(page: bytes) -> list[tuple[Any, ...]]:
    p = _Events()
    p.feed(page.decode())
    p.close()
    return p.events


def check_equivalent(col: Collection) -> str:
    """'' when all three pages parse to the same elements, attributes and text; else a note."""
    import storykit

    sample = col[:200]
    ours = events(storykit.dumps(sample, "html"))
    for name, page in (("jinja2", jinja2_page(sample)), ("f-string", fstring_page(sample))):
        theirs = events(page)
        if ours != theirs:
            for i, (a, b) in enumerate(zip(ours, theirs, strict=False)):
                if a != b:
                    return f"markup differs from {name} at event {i}: {a!r} vs {b!r}"
            return f"markup differs from {name} in length ({len(ours)} vs {len(theirs)} events)"
    return ""
