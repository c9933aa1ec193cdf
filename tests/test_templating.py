"""The shared jinja2 environment: every value a template writes is escaped as markupsafe does."""

from __future__ import annotations

from typing import Any

import jinja2
from hypothesis import given, settings
from hypothesis import strategies as st
from markupsafe import Markup

from storykit import templating
from storykit.plugins import Registry

#: Markup-significant characters, quotes, non-ASCII and astral text, mixed.
HOSTILE = st.text(alphabet=st.sampled_from(list("<>&\"'=/ aé€\U0001f600\u2028{}%#;"))
                  | st.characters(), max_size=40)


class _HTML:
    """An object that renders itself as markup (as a Markup subclass or a widget would)."""

    def __init__(self, markup: str) -> None:
        self.markup = markup

    def __html__(self) -> str:
        return self.markup


class _Text:
    """An object with a ``str()`` and no ``__html__``."""

    def __init__(self, text: str) -> None:
        self.text = text

    def __str__(self) -> str:
        return self.text


VALUES = st.one_of(
    HOSTILE,
    HOSTILE.map(Markup),
    HOSTILE.map(_HTML),
    HOSTILE.map(_Text),
    st.integers(),
    st.floats(allow_nan=False),
    st.none(),
    st.booleans(),
)

#: Every place a template writes a value: output, attribute, {% set %} block, macro, filter
#: result, loop, concatenation.
SOURCE = """\
<p title="{{ v }}">{{ v }}</p>
{% set block %}<b>{{ v }}</b>{% endset %}{{ block }}
{% macro m(x) %}<i>{{ x }}</i>{% endmacro %}{{ m(v) }}
{{ v|string }}{% for x in [v, v] %}[{{ x }}]{% endfor %}{{ "<" ~ v ~ ">" }}
{% autoescape false %}{{ "<raw>" }}{% endautoescape %}
"""


def builtin_env() -> jinja2.Environment:
    return templating.environment(Registry(autoload=False))


class TestEscaping:
    @settings(max_examples=150)
    @given(VALUES)
    def test_same_output_as_plain_jinja2(self, value: Any) -> None:
        """Any value renders to the bytes a plain autoescaping jinja2 environment gives."""
        plain = jinja2.Environment(autoescape=True, trim_blocks=True, lstrip_blocks=True,
                                   keep_trailing_newline=True)
        ours = builtin_env().from_string(SOURCE).render(v=value)
        assert ours == plain.from_string(SOURCE).render(v=value)

    def test_markup_is_written_as_is(self) -> None:
        """Markup (from a filter, a {% set %} block or the page) is not escaped twice."""
        env = builtin_env()
        out = env.from_string('{{ m }}{{ "a & b"|paragraphs }}{{ c|bdi }}').render(
            m=Markup("<br>"), c="<x> & y")
        assert out == "<br><p>a &amp; b</p><bdi>&lt;x&gt; &amp; y</bdi>"
