"""A griffe extension: show storykit's reStructuredText-flavoured docstrings as Markdown.

storykit's docstrings follow pytest and attrs (``:class:`~storykit.X```, ``.. code-block::``,
``:param x:``). mkdocstrings renders Markdown, so this turns the roles into inline code and the
code-block directives into fenced blocks before the docstrings are rendered. ``:param:`` fields are
left to mkdocstrings' sphinx parser.
"""

from __future__ import annotations

import re
import textwrap
from typing import Any

import griffe

_ROLE = re.compile(r":(?:class|func|meth|attr|data|exc|mod|obj):`~?([^`]+)`")
_DIRECTIVE = re.compile(r"^(?P<indent>[ \t]*)\.\. code-block::[ \t]*(?P<lang>\S*)[ \t]*\n"
                        r"(?:[ \t]*\n)+(?P<body>(?:(?P=indent)[ \t]+\S.*\n|[ \t]*\n)+)",
                        re.MULTILINE)
_DOUBLE = re.compile(r"(?<!`)``([^`]+)``(?!`)")
_FENCED = re.compile(r"(^[ \t]*```.*?^[ \t]*```[ \t]*$)", re.MULTILINE | re.DOTALL)


def _role(m: re.Match[str]) -> str:
    target = m.group(1)
    return f"`{target.rsplit('.', 1)[-1]}`" if m.group(0).count("~") else f"`{target}`"


def _block(m: re.Match[str]) -> str:
    indent, lang = m.group("indent"), m.group("lang") or "python"
    body = textwrap.dedent(m.group("body")).strip("\n")
    fenced = f"```{lang}\n{body}\n```\n"
    return textwrap.indent(fenced, indent) + "\n"


def rst_to_markdown(text: str) -> str:
    """Roles to inline code, code-block directives to fences, ``x`` to `x`."""
    text = _DIRECTIVE.sub(_block, text + "\n").rstrip("\n")
    pieces = _FENCED.split(text)  # odd pieces are fenced blocks: leave them as they are
    for i in range(0, len(pieces), 2):
        pieces[i] = _DOUBLE.sub(r"`\1`", _ROLE.sub(_role, pieces[i]))
    return "".join(pieces)


class RstDocstrings(griffe.Extension):
    """Rewrite each docstring once, when griffe loads its object."""

    def on_instance(self, *, obj: griffe.Object, **kwargs: Any) -> None:
        if obj.docstring is not None:
            obj.docstring.value = rst_to_markdown(obj.docstring.value)
