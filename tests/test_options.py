"""Exporter options through the options converter: Python values as given, command-line text
converted, and ``None`` only from an empty ``-O key=``."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import attrs
import pytest
from click.testing import CliRunner

import storykit
from storykit.cli import main
from storykit.cli.common import parse_options as cli_options
from storykit.errors import OptionError
from storykit.exporter import parse_options, prepare_options


@attrs.frozen
class Options:
    title: str | None = None
    size: int | None = None
    mode: Literal["a", "b", 2] = "a"
    where: Path = Path(".")
    names: tuple[str, ...] = ()


class _Echo:
    name = "echo"
    options_type = Options


class TestNone:
    @pytest.mark.parametrize("value", ["None", "null", "", "none"])
    def test_python_strings_stay_strings(self, value: str) -> None:
        """From Python, "None", "null" and "" are strings for a ``str | None`` option."""
        assert parse_options(_Echo(), {"title": value}).title == value

    def test_none_is_none(self) -> None:
        """None from Python is None."""
        assert parse_options(_Echo(), {"title": None, "size": None}) == Options()

    def test_empty_value_on_the_command_line_is_none(self) -> None:
        """``-O key=`` gives None; ``-O key=None`` the string "None"."""
        options = cli_options(["title=", "size=", "mode=None"])
        assert options == {"title": None, "size": None, "mode": "None"}
        assert prepare_options(_Echo(), {"title": None}) == {"title": None}

    def test_empty_value_for_a_required_type_says_so(self) -> None:
        """An empty value where the option cannot be None is an error saying it is empty."""
        with pytest.raises(OptionError, match="must be one of 'a', 'b', 2 \\(got an empty"):
            parse_options(_Echo(), {"mode": None})

    def test_the_cli_unsets_an_option(self, tmp_path: Path,
                                      example: storykit.Collection) -> None:
        """``storykit export -O indent=`` is refused with a message naming the option, not a
        traceback (indent cannot be None)."""
        source = tmp_path / "in.json"
        source.write_bytes(storykit.dumps(example, "json"))
        result = CliRunner().invoke(main, ["export", str(source), "--format", "json",
                                           "-O", "indent="])
        assert result.exit_code != 0
        assert "'indent'" in result.output and "an empty value" in result.output


class TestText:
    def test_types_from_text(self) -> None:
        """Text from the command line is converted to each declared type."""
        got = parse_options(_Echo(), {"size": "3", "mode": "2", "where": "out",
                                      "names": "a, b,,c"})
        assert got == Options(size=3, mode=2, where=Path("out"), names=("a", "b", "c"))

    @pytest.mark.parametrize(("options", "option", "says"), [
        ({"size": "3.5"}, "size", "must be a whole number (got '3.5')"),
        ({"size": True}, "size", "must be a whole number (got True)"),
        ({"where": 3}, "where", "must be a path (got 3)"),
        ({"title": 3}, "title", "must be a string (got 3)"),
        ({"mode": "c"}, "mode", "must be one of 'a', 'b', 2 (got 'c')"),
        ({"names": 3}, "names", "must be a list (got 3)"),
        ({"siez": 3}, "siez", "does not exist (did you mean 'size'?"),
    ])
    def test_bad_values_name_the_option(self, options: dict[str, object], option: str,
                                        says: str) -> None:
        """A bad value is an OptionError naming the option, the value and the type."""
        with pytest.raises(OptionError) as e:
            parse_options(_Echo(), options)
        assert (e.value.exporter, e.value.option) == ("echo", option)
        assert says in str(e.value)

    def test_the_options_converter_is_storykits_own(self) -> None:
        """Options go through storykit's configured converter, not cattrs' global one."""
        import cattrs

        from storykit.convert import converter, options_converter

        assert options_converter is not cattrs.global_converter
        assert options_converter is not converter
        assert options_converter.structure("yes", bool) is True
