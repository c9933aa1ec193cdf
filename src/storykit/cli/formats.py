"""``storykit formats [FORMAT]``: the writers (and readers) there are, and a format's options."""

from __future__ import annotations

import ast
import contextlib
import inspect
import re
import textwrap
from pathlib import Path
from typing import Any

import attrs
import click

from storykit.cli.common import Context, echo_out, handle_errors, plugins_dir_option

__all__ = ["OptionDoc", "formats", "option_docs"]


@attrs.frozen
class OptionDoc:
    """One option of a format, as ``storykit formats FORMAT`` and the reference page show it."""

    name: str
    type: str
    default: str  # (as Python would write it; "(required)" when there is none)
    description: str


def _comments(cls: type) -> dict[str, str]:
    """``{field: text}`` of the ``#:`` comments above each field of ``cls``'s source (the
    Sphinx convention attrs classes use); {} when the source cannot be had."""
    try:
        source = textwrap.dedent(inspect.getsource(cls))
    except (OSError, TypeError):
        return {}
    lines = source.splitlines()
    tree = ast.parse(source)
    body = tree.body[0].body if tree.body and isinstance(tree.body[0], ast.ClassDef) else []
    found: dict[str, str] = {}
    for node in body:
        if not (isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name)):
            continue
        above: list[str] = []
        i = node.lineno - 2
        while i >= 0 and lines[i].strip().startswith("#:"):
            above.insert(0, lines[i].strip()[2:].strip())
            i -= 1
        if above:
            found[node.target.id] = " ".join(above)
    return found


def _plain(text: str) -> str:
    """A ``#:`` comment as one line of plain text with Markdown code: ````x```` and
    ``:data:`X``` become ```x``` and ```X```; the comment's escaped backslashes become one."""
    text = re.sub(r":[a-z]+:`~?([^`]+)`", r"`\1`", text)
    return " ".join(text.replace("``", "`").replace("\\\\", "\\").split())


def _default(field: attrs.Attribute[Any]) -> str:
    default: Any = field.default
    if default is attrs.NOTHING:
        return "(required)"
    if isinstance(default, attrs.Factory):  # type: ignore[arg-type]
        if default.takes_self:
            return "(computed)"
        default = default.factory()
    if isinstance(default, tuple) and default:
        return ",".join(str(v) for v in default)
    return repr(default) if isinstance(default, str) else str(default)


def option_docs(options_type: type | None) -> list[OptionDoc]:
    """The options of a format's ``options_type`` (an attrs class): name, type, default and
    the field's description (its ``description`` metadata, else its ``#:`` comment)."""
    if options_type is None or not attrs.has(options_type):
        return []
    comments = _comments(options_type)
    docs = []
    for field in attrs.fields(options_type):
        if field.name.startswith("_"):
            continue
        kind = field.type if isinstance(field.type, str) else getattr(
            field.type, "__name__", str(field.type))
        description = field.metadata.get("description") or comments.get(field.name, "")
        docs.append(OptionDoc(field.name, str(kind), _default(field), _plain(str(description))))
    return docs


def _readers() -> dict[str, Any]:
    """``storykit.readers()`` when storykit has reader plugins, else {}."""
    import storykit

    readers = getattr(storykit, "readers", None)
    return dict(readers()) if readers is not None else {}


@click.command()
@click.argument("name", required=False, metavar="[FORMAT]")
@click.option("--json", "as_json", is_flag=True, help="Print the table as JSON.")
@plugins_dir_option
@click.pass_obj
@handle_errors
def formats(obj: Context, name: str | None, as_json: bool,
            command_plugins_dirs: tuple[Path, ...]) -> None:
    """List the formats, or show the options of one.

    Without FORMAT: every output format (and reader) with its file suffix, media type, plugin
    and distribution. With FORMAT: that format's options (-O NAME=VALUE), with their types,
    defaults and descriptions.

    Plugins that failed to load are reported on stderr, one line each.

    \b
    Examples:
      storykit formats
      storykit formats csv
      storykit formats --json
      storykit formats --plugins-dir my-plugins/
    """
    import json

    obj.add_plugins_dirs(command_plugins_dirs)
    reg = obj.registry()
    if name is not None:
        _show_options(reg, name, as_json)
        return
    rows = [(name, info.exporter.suffix, info.exporter.media_type, info.plugin,
             info.distribution or "-",
             " ".join(info.exporter.description.split()))  # one line, whatever a plugin says
            for name, info in reg.exporters.items()]
    if as_json:
        keys = ("name", "suffix", "media_type", "plugin", "distribution", "description")
        table = [dict(zip(keys, r, strict=True)) for r in rows]
        for row in table:
            row["distribution"] = None if row["distribution"] == "-" else row["distribution"]
        echo_out(json.dumps(table, indent=2))
        return
    header = ("NAME", "SUFFIX", "MEDIA TYPE", "PLUGIN", "DISTRIBUTION", "DESCRIPTION")
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(5)]
    lines = ["  ".join(str(c).ljust(w) for c, w in zip(r[:5], widths, strict=True))
             + "  " + r[5] for r in [header, *rows]]
    readers = _readers()
    if readers:  # a second table, after a blank line: what storykit reads
        rrows = [("READER", "SUFFIXES", "INPUT", "DESCRIPTION")] + [
            (n, " ".join(getattr(r, "suffixes", ())) or "-", getattr(r, "input", "stream"),
             " ".join(str(getattr(r, "description", "")).split()))
            for n, r in sorted(readers.items())]
        rw = [max(len(r[i]) for r in rrows) for i in range(3)]
        lines += ["", *("  ".join(c.ljust(w) for c, w in zip(r[:3], rw, strict=True))
                        + "  " + r[3] for r in rrows)]
    echo_out("\n".join(lines))


def _show_options(reg: Any, name: str, as_json: bool) -> None:
    """Print the options of the writer (and the reader) called ``name``."""
    import json

    from storykit.errors import UnknownFormatError

    found: list[tuple[str, Any]] = []
    with contextlib.suppress(UnknownFormatError):
        found.append(("writer", reg.get(name)))
    reader = _readers().get(name)
    if reader is not None:
        found.append(("reader", reader))
    if not found:
        reg.get(name)  # (the error lists the formats there are: a usage error)
    if as_json:
        echo_out(json.dumps({kind: [attrs.asdict(o) for o in option_docs(
            getattr(fmt, "options_type", None))] for kind, fmt in found}, indent=2))
        return
    lines: list[str] = []
    for kind, fmt in found:
        docs = option_docs(getattr(fmt, "options_type", None))
        description = " ".join(str(getattr(fmt, "description", "")).split())
        lines += [f"{name} ({kind}): {description}", ""]
        if not docs:
            lines += ["  no options", ""]
            continue
        use = "storykit export ... -O" if kind == "writer" else "storykit import ... -O"
        lines += [f"  options ({use} NAME=VALUE):"]
        for o in docs:
            lines.append(f"  {o.name}  ({o.type}, default: {o.default})")
            if o.description:
                lines += [f"      {line}" for line in textwrap.wrap(o.description, 84)]
        lines.append("")
    echo_out("\n".join(lines).rstrip())
