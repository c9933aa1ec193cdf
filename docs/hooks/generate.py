"""MkDocs hooks: the pages that are generated at build time, so they cannot drift.

- ``<!-- storykit:cli -->`` becomes the ``--help`` text of every ``storykit`` command, taken from
  the click commands themselves.
- ``<!-- storykit:formats -->`` becomes a section per installed writer and per installed reader:
  its description (for a reader, also what it reads and how ``load()`` picks it) and a table of
  its options (name, type, default and the ``#:`` description of the options class's field), as
  ``storykit formats FORMAT`` prints them.
- ``<!-- storykit:data-format -->`` becomes a table per model class: every field, its type, whether
  it is required (found by leaving it out of a valid document), its rule, and the error message
  storykit really gives for a bad value (found by loading a document with that value). A field of
  the model without an entry here, or an entry whose bad value no longer fails on that field,
  stops the build.
- ``<!-- storykit:screenshot NAME "caption" -->`` shows ``build/screenshots/NAME`` (made by
  ``make demo``) when it exists, and a note saying how to make it when it does not.
"""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from typing import Any

import attrs
from mkdocs.config.defaults import MkDocsConfig
from mkdocs.exceptions import PluginError
from mkdocs.structure.files import File, Files
from mkdocs.structure.pages import Page

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "build" / "screenshots"

# --- the CLI reference ---------------------------------------------------------------------------


def cli_reference() -> str:
    """Every command's ``--help``, as a user sees it in an 80-column terminal."""
    import click

    from storykit.cli import main

    def walk(cmd: click.Command, name: str, parent: click.Context | None,
             level: int) -> list[str]:
        settings = {} if parent is not None else {**main.context_settings, "terminal_width": 80}
        ctx = click.Context(cmd, info_name=name, parent=parent, **settings)
        path = ctx.command_path
        out = [f"{'#' * level} `{path}`", "", "```text", f"$ {path} --help",
               cmd.get_help(ctx).rstrip(), "```", ""]
        if isinstance(cmd, click.Group):
            for sub in cmd.list_commands(ctx):
                child = cmd.get_command(ctx, sub)
                if child is not None and not child.hidden:
                    out += walk(child, sub, ctx, min(level + 1, 4))
        return out

    return "\n".join(walk(main, "storykit", None, 2))


# --- the formats page ----------------------------------------------------------------------------


def formats_reference() -> str:
    """Every installed format's options, from the same code as ``storykit formats FORMAT``."""
    import storykit
    from storykit.cli.formats import option_docs
    from storykit.plugins import get_registry

    def cell(text: str) -> str:
        return text.replace("|", "\\|").replace("\n", " ")

    def section(kind: str, name: str, fmt: Any) -> list[str]:
        # (a reader's heading says so: the atom writer and the atom reader get anchors of their
        # own, #atom and #atom-reader)
        heading = f"### `{name}`" if kind == "writer" else f"### `{name}` reader"
        out = [heading, "", " ".join(str(getattr(fmt, "description", "")).split()), ""]
        if kind == "reader":
            out += [picked_by(name, fmt), ""]
        docs = option_docs(getattr(fmt, "options_type", None))
        if not docs:
            return [*out, "No options.", ""]
        flag = "storykit export ... -O" if kind == "writer" else "storykit import ... -O"
        out += [f"Options (`{flag} name=value`, or keyword arguments in Python):", "",
                "| Option | Type | Default | Description |", "|---|---|---|---|"]
        out += [f"| `{o.name}` | `{cell(o.type)}` | `{cell(o.default)}` | {cell(o.description)} |"
                for o in docs]
        return [*out, ""]

    def picked_by(name: str, reader: Any) -> str:
        """What a reader reads and how ``load()`` picks it when no ``format`` is given."""
        kind = getattr(reader, "input", "stream")
        what = {"folder": "a folder", "path": "a file (by its path)"}.get(
            kind, "a file or a stream of bytes")
        ways = []
        if kind == "folder":
            ways.append("for any folder")
        suffixes = tuple(getattr(reader, "suffixes", ()) or ())
        if suffixes:
            ways.append("by the suffix " + " or ".join(f"`{x}`" for x in suffixes))
        if callable(getattr(reader, "sniff", None)):
            ways.append("by its first bytes")
        out = f"Reads {what}. `format=\"{name}\"` (`--from {name}`) picks it"
        out += f"; without it, `load()` picks it {', else '.join(ways)}." if ways else "."
        media = tuple(getattr(reader, "media_types", ()) or ())
        if media:
            out += " Media type" + ("s " if len(media) > 1 else " ") + ", ".join(
                f"`{x}`" for x in media) + "."
        return out

    lines = ["## Writers", ""]
    for name, info in sorted(get_registry().exporters.items()):
        lines += section("writer", name, info.exporter)
    readers = getattr(storykit, "readers", None)
    if readers is not None:
        lines += ["## Readers", ""]
        for name, reader in sorted(readers().items()):
            lines += section("reader", name, reader)
    return "\n".join(lines)


# --- the data format page ------------------------------------------------------------------------

MISSING = object()

_STORY: dict[str, Any] = {
    "id": "a-song-to-let-children-fly",
    "title": "A song to let children fly",
    "published": "2021-02-03",
    "summary": "A song against child labour, written with children in Sri Lanka.",
    "url": "https://news.example.org/impact-and-people/a-song-to-let-children-fly",
    "image": {"url": "https://news.example.org/img/song.jpg", "alt": "Children singing",
              "credit": {"holder": "Asitha Seneviratne", "year": 2021}},
    "topics": ["child labour"],
    "countries": ["LK"],
    "language": "en",
    "links": [{"url": "https://voices.example.org/", "title": "Voices"}],
    "translations": [{"language": "fr", "url": "https://news.example.org/fr/chanson",
                      "title": "Une chanson"}],
    "updated": "2021-02-04",
}
_DOC: dict[str, Any] = {
    "title": "Impact and people",
    "description": "Stories of the people behind the work.",
    "url": "https://news.example.org/impact-and-people/",
    "language": "en",
    "contacts": [{"name": "Newsroom", "role": "Media relations", "organization": "ILO",
                  "email": "newsroom@example.org", "phone": "+41 22 799 7912",
                  "url": "https://news.example.org/contact"}],
    "stories": [_STORY],
}

#: Where each class sits in a document: a path of keys and indexes into _DOC.
_WHERE: dict[str, tuple[tuple[str | int, ...], str]] = {
    "Collection": ((), ""),
    "Story": (("stories", 0), "stories[0]"),
    "Image": (("stories", 0, "image"), "stories[0].image"),
    "Credit": (("stories", 0, "image", "credit"), "stories[0].image.credit"),
    "Link": (("stories", 0, "links", 0), "stories[0].links[0]"),
    "Translation": (("stories", 0, "translations", 0), "stories[0].translations[0]"),
    "MediaContact": (("contacts", 0), "contacts[0]"),
}

#: Per class, per field: the rule in words, and a bad value to show its error.
RULES: dict[str, dict[str, tuple[str, Any]]] = {
    "Collection": {
        "title": ("Plain text: stripped, NFC-normalised, not blank; no control characters. "
                  "Default `Stories`.", "   "),
        "description": ("Optional plain text; may span lines.", 42),
        "url": ("Optional absolute `http`/`https` URL of the page.", "news.example.org"),
        "language": ("BCP 47 language tag of the page (`en`, `fr-CH`); default `en`.", "en_GB"),
        "contacts": ("A list of media contacts.", {"name": "Newsroom"}),
        "stories": ("A list of stories; ids unique in the collection.", "none"),
    },
    "Story": {
        "id": ("Slug `[a-z0-9]+(-[a-z0-9]+)*`, at most 200 characters, unique in the "
               "collection. Derived from the title when not given (`-2`, `-3` when taken).",
               "A Song!"),
        "title": ("Plain text: stripped, NFC-normalised, not blank, one line, at most 1,000 "
                  "characters.", "   "),
        "published": ("An ISO 8601 date (`2021-02-23`, years 1 to 9999) or a datetime with "
                      "a timezone (`2021-02-23T09:30:00+01:00`): an offset of whole minutes "
                      "from -14:00 to +14:00, its instant within years 1 to 9999 in UTC; a "
                      "Python datetime in a named `zoneinfo` zone is kept as the same moment "
                      "with its fixed offset on that day.",
                      "2021-02-30"),
        "summary": ("Plain text, not blank; may span lines.", ""),
        "url": ("Optional absolute `http`/`https` URL of the full story.",
                "news.example.org/a-song"),
        "image": ("Optional [Image](#image); `alt` is required when an image is given.",
                  {"url": "https://news.example.org/img/song.jpg"}),
        "topics": ("A list of plain-text topics.", "child labour"),
        "countries": ("A list of ISO 3166-1 alpha-2 country codes (upper-cased).", ["XX"]),
        "language": ("BCP 47 language tag (its case made canonical: `EN-us` is `en-US`); "
                     "default: `en` for a Story built in Python; in a file or a dict, the "
                     "collection's language (so `en` if that has none).",
                     "en_GB"),
        "links": ("A list of [Link](#link)s: pointers to more, such as another platform.",
                  [{"url": "https://voices.example.org/"}]),
        "translations": ("A list of [Translation](#translation)s of this story.",
                         [{"language": "fr"}]),
        "updated": ("Optional date or aware datetime of the last change; `merge` keeps the "
                    "newer story.", "2021-02-23T09:30:00"),
        "body": ("Optional text of the story as an HTML fragment, cleaned by an allow-list "
                 "(nh3): no script, no `on*` attribute, no `javascript:`/`data:` URL; a clean "
                 "body stays as it is.", 42),
    },
    "Image": {
        "url": ("Absolute `http`/`https` URL of the picture.", "/img/song.jpg"),
        "alt": ("Plain text saying what the picture shows; required.", MISSING),
        "credit": ("Optional [Credit](#credit), or its display string "
                   "`\"© Asitha Seneviratne 2021\"`.", "Asitha Seneviratne, 2021"),
    },
    "Credit": {
        "holder": ("Plain text: who holds the rights.", MISSING),
        "year": ("Optional year, from 1800 to next year.", 1700),
    },
    "Link": {
        "url": ("Absolute `http`/`https` URL.", "ftp://voices.example.org/"),
        "title": ("Plain text: the link's words, e.g. \"Read more on our new Voices "
                  "multimedia platform\".", MISSING),
    },
    "Translation": {
        "language": ("BCP 47 language tag of the translation.", "fr_FR"),
        "url": ("Absolute `http`/`https` URL of the translation.", "fr/chanson"),
        "title": ("Optional plain text: the title in that language.", ""),
    },
    "MediaContact": {
        "name": ("Plain text: a person or a desk.", MISSING),
        "role": ("Optional plain text.", 42),
        "organization": ("Optional plain text.", ["ILO"]),
        "email": ("Optional email address (the WHATWG form grammar).", "newsroom at ilo.org"),
        "phone": ("Optional phone number in international form, stored as E.164 "
                  "(`+41227997912`).", "022 799 7912"),
        "url": ("Optional absolute `http`/`https` URL.", "www.ilo.org"),
    },
}

#: Rules about a whole object rather than one field: (words, how to break a valid document).
WHOLE: list[tuple[str, str, Any]] = [
    ("A media contact needs at least one of `email`, `phone` or `url`.",
     "contacts", [{"name": "Newsroom"}]),
    ("Story ids are unique in a collection.", "stories", [_STORY, _STORY]),
    ("Unknown fields are errors (a likely misspelling is named).", "stories",
     [{**_STORY, "titel": "A song"}]),
]


def _classes() -> dict[str, type]:
    import storykit

    return {name: getattr(storykit, name) for name in RULES}


def _place(doc: dict[str, Any], where: tuple[str | int, ...], field: str, value: Any) -> None:
    target: Any = doc
    for key in where:
        target = target[key]
    if value is MISSING:
        target.pop(field, None)
    else:
        target[field] = value


def _errors(doc: dict[str, Any]) -> list[Any]:
    import storykit

    try:
        storykit.loads(json.dumps(doc), "json")
    except storykit.ValidationError as e:
        return list(e.errors)
    return []


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _type(t: Any) -> str:
    """A field's annotation as a reader writes it: ``str | None``, ``tuple[Link, ...]``."""
    text = t.__name__ if isinstance(t, type) else str(t)
    return re.sub(r"\b(?:storykit\.model|datetime)\.", "", text)


def _code(text: str) -> str:
    """Inline code, even of text with backticks (a pipe in a code span does not split a cell)."""
    ticks = "``" if "`" in text else "`"
    pad = " " if "`" in text else ""
    return f"{ticks}{pad}{text}{pad}{ticks}"


def data_format() -> str:
    """The tables of every model class, checked against the model while they are made."""
    if _errors(copy.deepcopy(_DOC)):
        raise PluginError(f"data-format: the sample document is invalid: {_errors(_DOC)}")
    out: list[str] = []
    for name, cls in _classes().items():
        fields = [f.name for f in attrs.fields(cls) if not f.name.startswith("_")]
        rules = RULES[name]
        if set(fields) != set(rules):
            raise PluginError(
                f"data-format: {name} has fields {sorted(fields)} but the page documents "
                f"{sorted(rules)}; update RULES in docs/hooks/generate.py")
        where, prefix = _WHERE[name]
        doc = (cls.__doc__ or "").strip().split("\n\n")[0].replace("\n", " ").replace("``", "`")
        out += [f"## {name}", "", doc, "",
                "| Field | Rule | A bad value, and storykit's error |",
                "|---|---|---|"]
        for field in fields:
            a = attrs.fields_dict(cls)[field]
            rule, bad = rules[field]
            path = f"{prefix}.{field}" if prefix else field
            gone = copy.deepcopy(_DOC)
            _place(gone, where, field, MISSING)
            required = any(e.path.startswith(path) for e in _errors(gone))
            if required:
                need = "required"
            elif a.default is attrs.NOTHING:
                need = "optional (derived)"
            elif a.default in (None, ()):
                need = "optional"
            else:
                need = f"optional (default `{a.default!r}`)"
            broken = copy.deepcopy(_DOC)
            _place(broken, where, field, bad)
            hits = [e for e in _errors(broken) if e.path.startswith(path)]
            if not hits:
                raise PluginError(
                    f"data-format: {name}.{field}: the bad value {bad!r} gave no error at "
                    f"{path}; update RULES in docs/hooks/generate.py")
            shown = "(left out)" if bad is MISSING else json.dumps(bad, ensure_ascii=False)
            message = _code(str(hits[0]))
            out.append(f"| **`{field}`**<br>{_code(_type(a.type))}<br>{need} | {_cell(rule)} | "
                       f"{_code(shown)} →<br>{message} |")
        out.append("")
    out += ["## Rules about a whole document", "",
            "| Rule | Error |", "|---|---|"]
    for words, key, value in WHOLE:
        broken = copy.deepcopy(_DOC)
        broken[key] = value
        hits = _errors(broken)
        if not hits:
            raise PluginError(f"data-format: {words!r} gave no error")
        out.append(f"| {_cell(words)} | {_code(str(hits[0]))} |")
    out.append("")
    return "\n".join(out)


# --- screenshots ----------------------------------------------------------------------------

_SHOT = re.compile(r"<!-- storykit:screenshot (?P<name>\S+) \"(?P<caption>[^\"]*)\" -->")


def on_files(files: Files, config: MkDocsConfig) -> Files:
    """Add the screenshots the pages show (from ``make demo``) to the site, as ``img/<name>``."""
    docs = Path(config.docs_dir)
    wanted = {m.group("name") for md in docs.rglob("*.md")
              for m in _SHOT.finditer(md.read_text(encoding="utf-8"))}
    for name in sorted(wanted):
        png = SCREENSHOTS / name
        if png.is_file():
            uri = f"img/{name}"
            if files.get_file_from_path(uri) is None:
                files.append(File.generated(config, uri, abs_src_path=str(png)))
    return files


def _screenshot(m: re.Match[str], page: Page) -> str:
    name, caption = m.group("name"), m.group("caption")
    depth = page.file.src_uri.count("/")
    if (SCREENSHOTS / name).is_file() or (ROOT / "docs" / "img" / name).is_file():
        return f"![{caption}]({'../' * depth}img/{name})\n\n*{caption}.*"
    return (f'!!! note "Picture not built"\n\n    {caption}: run `make demo` (which takes it '
            f"with headless Chromium into `build/screenshots/{name}`), then `make docs`.")


# --- the hook ----------------------------------------------------------------------------


def on_page_markdown(markdown: str, page: Page, config: MkDocsConfig, files: Files) -> str:
    """Fill the generated sections of a page."""
    if "<!-- storykit:cli -->" in markdown:
        markdown = markdown.replace("<!-- storykit:cli -->", cli_reference())
    if "<!-- storykit:formats -->" in markdown:
        markdown = markdown.replace("<!-- storykit:formats -->", formats_reference())
    if "<!-- storykit:data-format -->" in markdown:
        markdown = markdown.replace("<!-- storykit:data-format -->", data_format())
    return _SHOT.sub(lambda m: _screenshot(m, page), markdown)
