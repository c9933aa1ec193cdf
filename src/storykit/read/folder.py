"""The ``folder`` reader: a content folder as Hugo, Jekyll and Pelican keep one.

One file per story: Markdown with YAML (``---``) or TOML (``+++``) front matter, whose body is
rendered with cmark (CommonMark's reference implementation, through cmarkgfm) and sanitised
into ``Story.body``; or a ``.json`` or ``.toml`` file holding one story. ``_index.md`` or
``collection.toml`` at the top holds the collection's title, description, url, language and
contacts. Problems name the file and the line of the front-matter key:
``2021/bees.md:3: published: ...``.
"""

from __future__ import annotations

import os
import re
import tomllib
from pathlib import Path
from typing import Any

import storykit
from storykit._rules import is_slug
from storykit.errors import ErrorDetail, ValidationError
from storykit.sources import depth_of, refuse, with_paths

__all__ = ["MAX_FILES", "MAX_FILE_BYTES", "FolderReader"]

#: The most story files a folder may hold.
MAX_FILES = 200_000
#: The largest story file.
MAX_FILE_BYTES = 16 * 1024 * 1024

# The usual names of site generators for storykit's fields.
ALIASES = {
    "date": "published", "lastmod": "updated", "modified": "updated", "tags": "topics",
    "categories": "topics", "description": "summary", "slug": "id", "lang": "language",
}
# Keys that site generators use and storykit has no field for: left alone.
IGNORED = frozenset({
    "draft", "layout", "weight", "type", "aliases", "author", "authors", "template", "status",
    "menu", "toc", "permalink", "keywords", "series", "save_as", "url_path", "expirydate",
    "publishdate",
})
_JEKYLL_NAME = re.compile(r"(\d{4}-\d{2}-\d{2})-(.+)")
_KEY_LINE = re.compile(r"^([A-Za-z_][\w-]*)\s*[:=]", re.MULTILINE)
_STORY_SUFFIXES = (".md", ".markdown", ".json", ".toml")
_META_NAMES = ("_index.md", "collection.toml")


class FolderReader:
    """The ``folder`` reader."""

    name = "folder"
    suffixes: tuple[str, ...] = ()
    media_types: tuple[str, ...] = ()
    description = ("Content folder (Hugo, Jekyll, Pelican): Markdown with YAML/TOML front "
                   "matter, .json/.toml stories.")
    options_type = None
    input = "folder"

    def read(self, source: Path, **options: Any) -> storykit.Collection:
        from storykit.convert import collection_from_data
        from storykit.exporter import parse_options

        parse_options(self, options)
        root = Path(source)
        shown = str(source)
        if not root.is_dir():
            raise refuse("is not a folder", shown)
        files = _story_files(root, shown)
        if not files and not any((root / name).is_file() for name in _META_NAMES):
            # (an empty folder, or a folder of something else, is no content folder)
            raise refuse("is a folder with no story files (.md, .markdown, .json or .toml) "
                         "and no collection file", shown)
        errors: list[ErrorDetail] = []
        meta: dict[str, Any] = {}
        for meta_name in _META_NAMES:
            path = root / meta_name
            if path.is_file():
                got = _read_file(str(path), meta_name, errors)
                if got is not None:
                    meta = _collection_meta(got[0])
                break
        stories: list[dict[str, Any]] = []
        names: list[str] = []
        heads: list[tuple[str, int]] = []
        base = os.path.join(root, "")  # (plain strings: a Path per file is a cost of its own)
        for rel in files:
            got = _read_file(base + rel, rel, errors)
            if got is None:
                continue
            data, head = got
            if data.get("draft") is True:
                continue
            stories.append(_story(data, rel))
            names.append(rel)
            heads.append(head)
        data = {**meta, "stories": stories}
        try:
            collection = collection_from_data(data, shown)
        except ValidationError as e:
            # The lines of the front-matter keys, found only for the files with a problem.
            lines: dict[int, dict[str, int]] = {}

            def line_of(i: int, field: str) -> int | None:
                if i not in lines:
                    lines[i] = _key_lines(*heads[i])
                return lines[i].get(field)

            errors.extend(with_paths(e, names.__getitem__, line_of).errors)
            raise ValidationError(errors, shown) from None
        if errors:
            raise ValidationError(errors, shown)
        # Newest first, as a site lists them (the files' order breaks ties: sort is stable).
        return collection.sort("published", reverse=True)


def _story_files(root: Path, shown: str) -> list[str]:
    """Every story file under ``root``, as sorted POSIX paths relative to it.

    Hidden entries, ``_`` files (``_index.md`` of sections, Jekyll's ``_config``) and symbolic
    links are skipped: a folder cannot point the reader outside itself.
    """
    found: list[str] = []
    pending = [""]  # folders to list, relative to root ("" is root itself)
    while pending:
        rel_dir = pending.pop()
        with os.scandir(root / rel_dir if rel_dir else root) as entries:
            for entry in entries:
                name = entry.name
                if name.startswith((".", "_")) or entry.is_symlink():
                    continue
                rel = f"{rel_dir}/{name}" if rel_dir else name
                if entry.is_dir(follow_symlinks=False):
                    pending.append(rel)
                elif (name.endswith(_STORY_SUFFIXES) and entry.is_file(follow_symlinks=False)
                      and not (not rel_dir and name in _META_NAMES)):
                    found.append(rel)
                    if len(found) > MAX_FILES:
                        raise refuse(f"holds more than the limit of {MAX_FILES:,} story "
                                     "files", shown)
    found.sort()
    return found


def _read_file(path: str, rel: str, errors: list[ErrorDetail]
               ) -> tuple[dict[str, Any], tuple[str, int]] | None:
    """One file's data and its front matter with the number of its first line (where
    :func:`_key_lines` finds each key's line, when a key has a problem); or None, the file's
    problem recorded."""
    try:
        with open(path, "rb") as f:  # one open; at most the limit and one byte more
            raw = f.read(MAX_FILE_BYTES + 1)
        if len(raw) > MAX_FILE_BYTES:
            errors.append(ErrorDetail(rel, f"is larger than the limit of {MAX_FILE_BYTES:,} "
                                           "bytes"))
            return None
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        errors.append(ErrorDetail(rel, f"is not UTF-8 text (byte {e.start})"))
        return None
    except OSError as e:
        errors.append(ErrorDetail(rel, f"cannot be read ({e.strerror or e})"))
        return None
    suffix = os.path.splitext(path)[1].lower()
    try:
        if suffix == ".json":
            import orjson

            data = orjson.loads(raw)
            head = ("", 1)  # (no lines: JSON's keys are not found by line)
        elif suffix == ".toml":
            data = tomllib.loads(text)
            head = (text, 1)
        else:
            data, head = _markdown(text)
    except _ProblemError as e:
        errors.append(ErrorDetail(f"{rel}:{e.line}" if e.line else rel, e.message))
        return None
    except (ValueError, tomllib.TOMLDecodeError) as e:  # orjson's error is a ValueError
        errors.append(ErrorDetail(rel, f"is not valid {suffix[1:].upper()}: "
                                       f"{str(e).splitlines()[0] if str(e) else e!r}"))
        return None
    if not isinstance(data, dict):
        errors.append(ErrorDetail(rel, f"must hold one story object (got "
                                       f"{type(data).__name__})"))
        return None
    if depth_of(data) > 50:
        errors.append(ErrorDetail(rel, "nests deeper than the limit of 50 levels"))
        return None
    return data, head


class _ProblemError(Exception):
    def __init__(self, message: str, line: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.line = line


def _key_lines(text: str, first_line: int) -> dict[str, int]:
    """The line of each top-level ``key:`` or ``key =`` of a front matter."""
    lines: dict[str, int] = {}
    for m in _KEY_LINE.finditer(text):
        key = m.group(1)
        key = ALIASES.get(key, key)
        lines.setdefault(key, first_line + text.count("\n", 0, m.start()))
    return lines


def _markdown(text: str) -> tuple[dict[str, Any], tuple[str, int]]:
    """Front matter (YAML or TOML) and the rendered body of a Markdown file."""
    fence = text[:3]
    if fence not in ("---", "+++") or text[3:4] not in ("\n", "\r"):
        raise _ProblemError("has no front matter (a first line of '---' for YAML or '+++' for "
                       "TOML)", 1)
    end = re.search(rf"^{re.escape(fence)}[ \t]*\r?$", text[4:], re.MULTILINE)
    if end is None:
        raise _ProblemError(f"front matter is not closed (no line '{fence}' after the first)", 1)
    head = text[4:4 + end.start()]
    rest = text[4 + end.end():]
    if fence == "---":
        data = _yaml(head)
    else:
        try:
            data = tomllib.loads(head)
        except tomllib.TOMLDecodeError as e:
            raise _ProblemError(f"front matter is not valid TOML: {e}") from None
    if not isinstance(data, dict):
        raise _ProblemError("front matter must be a mapping of field names to values", 2)
    body = rest.strip()
    if body and "body" not in data:  # an empty body is not rendered
        data["body"] = _render(body).strip()
    return data, (head, 2)


def _yaml(head: str) -> Any:
    import yaml

    loader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    try:
        return yaml.load(head, Loader=loader)
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark
        line = mark.line + 2 if mark is not None else None
        raise _ProblemError(f"front matter is not valid YAML: {e.problem}", line) from None
    except yaml.YAMLError as e:
        raise _ProblemError(f"front matter is not valid YAML: {e}") from None


def _render(markdown: str) -> str:
    """CommonMark to HTML with cmark, CommonMark's reference implementation (about 30 times
    faster than markdown-it-py, the same output on the spec's examples). Raw HTML is kept here
    (cmark's UNSAFE option) and sanitised by the model's ``body`` rule."""
    import cmarkgfm
    from cmarkgfm.cmark import Options

    html: str = cmarkgfm.markdown_to_html(markdown, options=Options.CMARK_OPT_UNSAFE)
    return html


def _story(data: dict[str, Any], rel: str) -> dict[str, Any]:
    """Front matter in storykit's field names; the file name gives a missing id or date."""
    story: dict[str, Any] = {}
    for key, value in data.items():
        if key in IGNORED:
            continue
        field = ALIASES.get(key, key)
        if field == "topics" and "topics" in story and isinstance(value, list):
            existing = story["topics"] if isinstance(story["topics"], list) else []
            story["topics"] = existing + [v for v in value if v not in existing]
        elif field not in story or field == key:
            story[field] = value
    stem = rel.rsplit("/", 1)[-1].rsplit(".", 1)[0]
    m = _JEKYLL_NAME.fullmatch(stem)
    if m is not None:
        story.setdefault("published", m.group(1))
        stem = m.group(2)
    if "id" not in story and is_slug(stem):
        story["id"] = stem
    return story


def _collection_meta(data: dict[str, Any]) -> dict[str, Any]:
    meta = {k: v for k, v in data.items() if k not in IGNORED and k != "body"}
    if "summary" in meta and "description" not in meta:
        meta["description"] = meta.pop("summary")
    if "lang" in meta and "language" not in meta:
        meta["language"] = meta.pop("lang")
    return meta


@storykit.hookimpl
def register_readers() -> list[Any]:
    """The ``folder`` reader."""
    return [FolderReader()]
