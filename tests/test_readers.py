"""Readers are plugins: the registry, and how load() and loads() pick one."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO, ClassVar

import attrs
import pytest

import storykit
from storykit.convert import collection_from_data
from storykit.plugins import Registry, hookimpl, use_registry

STORY = {"id": "a", "title": "A", "published": "2021-02-03", "summary": "S"}


@attrs.frozen
class LinesOptions:
    title: str = "Lines"


class LinesReader:
    """A toy format: one story title per line, a date on the first."""

    name = "lines"
    suffixes = (".lines",)
    media_types = ("text/x-lines",)
    description = "One story title per line."
    options_type = LinesOptions
    input = "stream"

    def read(self, source: BinaryIO, **options: Any) -> storykit.Collection:
        opts = LinesOptions(**options)
        date, *titles = source.read().decode().splitlines()
        return collection_from_data(
            {"title": opts.title, "stories": [
                {"title": t, "published": date, "summary": t} for t in titles]},
            source=getattr(source, "name", None))

    def sniff(self, head: bytes) -> bool:
        return head.startswith(b"LINES ")


class FolderReader:
    name = "toyfolder"
    suffixes = ()
    media_types = ()
    description = "Every *.json story file of a folder."
    options_type = None
    input = "folder"

    def read(self, source: Path, **options: Any) -> storykit.Collection:
        return collection_from_data([json.loads(p.read_text()) for p in sorted(
            source.glob("*.json"))], source=str(source))


class Wherever(LinesReader):
    name = "wherever"
    suffixes = (".where",)
    handles_where = True
    seen: ClassVar[list[Any]] = []

    def read(self, source: BinaryIO, **options: Any) -> storykit.Collection:
        where = options.pop("where", None)
        Wherever.seen.append(where)
        col = super().read(source, **options)
        return col if where is None else col.filter(where=where)


class Plugin:
    def __init__(self, *readers: Any) -> None:
        self.readers = list(readers)

    @hookimpl
    def register_readers(self) -> list[Any]:
        return self.readers


@pytest.fixture
def registry() -> Iterator[Registry]:
    """A registry with the built-ins, the ``lines`` reader and a folder reader."""
    reg = Registry(autoload=False)
    reg.register(Plugin(LinesReader(), FolderReader(), Wherever()), "toy-readers",
                 distribution="storykit-toys 1.0")
    with use_registry(reg):
        yield reg


class TestRegistry:
    def test_builtin_readers(self) -> None:
        """The built-in readers are registered through the hook, as plugins are."""
        reg = Registry(autoload=False)
        assert sorted(reg.readers()) == ["csv", "folder", "json", "jsonl", "sqlite", "toml",
                                         "tsv"]
        assert reg.reader_infos["json"].plugin == "storykit.read.json"
        assert reg.errors == []

    def test_storykit_readers_lists_them(self, registry: Registry) -> None:
        """``storykit.readers()`` gives ``{name: reader}`` of the process's registry."""
        found = storykit.readers()
        assert {"json", "lines", "toyfolder"} <= set(found)
        assert isinstance(found["lines"], LinesReader)

    def test_duplicate_name_is_reported_and_the_first_kept(self, registry: Registry) -> None:
        """A second reader of one name is left out with an error naming both plugins."""
        registry.register(Plugin(LinesReader()), "copycat", distribution="copycat 0.1")
        assert registry.reader_infos["lines"].plugin == "toy-readers"
        messages = [str(e) for e in registry.errors]
        assert any("copycat" in m and "claims reader 'lines'" in m and "toy-readers" in m
                   for m in messages), messages

    def test_broken_plugins_are_reported_and_others_work(self, registry: Registry) -> None:
        """A hook that raises, or returns junk, is reported naming plugin and distribution."""
        class Raising:
            @hookimpl
            def register_readers(self) -> list[Any]:
                raise RuntimeError("boom")

        class Junk:
            @hookimpl
            def register_readers(self) -> Any:
                return None

        registry.register(Raising(), "raising", distribution="raising 2.0")
        registry.register(Junk(), "junk")
        registry.register(Plugin(object()), "shapeless")
        errors = {e.plugin: str(e) for e in registry.errors}
        assert "failed in register_readers(): RuntimeError: boom" in errors["raising"]
        assert "raising 2.0" in errors["raising"]
        assert "return statement missing" in errors["junk"]
        assert "without name" in errors["shapeless"]
        assert "lines" in registry.readers()
        assert len(storykit.loads(json.dumps([STORY]), "json")) == 1


class TestLoadPicksAReader:
    def test_by_format(self, registry: Registry, tmp_path: Path) -> None:
        """``format=`` names the reader, whatever the file's name; options go to it."""
        path = tmp_path / "x.txt"
        path.write_text("2021-02-03\nOne\nTwo\n")
        col = storykit.load(path, format="lines", title="Mine")
        assert col.title == "Mine"
        assert [s.title for s in col] == ["One", "Two"]

    def test_by_suffix(self, registry: Registry, tmp_path: Path) -> None:
        """The suffix picks the reader."""
        path = tmp_path / "x.lines"
        path.write_text("2021-02-03\nOne\n")
        assert storykit.load(path).title == "Lines"

    def test_by_sniffing(self, registry: Registry, tmp_path: Path) -> None:
        """A file whose suffix no reader claims is recognised by its first bytes."""
        path = tmp_path / "x.dat"
        path.write_bytes(b"LINES 2021-02-03\nOne\n")
        with pytest.raises(storykit.ValidationError, match="published"):
            storykit.load(path)  # (the lines reader read it: its date is bad)
        path.write_text(json.dumps({"stories": [STORY]}))
        assert storykit.load(path).ids == ("a",)

    def test_json_and_json_lines_are_told_apart(self, tmp_path: Path) -> None:
        """Without a suffix, a JSON document and JSON Lines each go to their own reader."""
        doc, lines = tmp_path / "doc", tmp_path / "lines"
        doc.write_text(json.dumps({"stories": [STORY]}, indent=2))
        lines.write_text(json.dumps(STORY) + "\n" + json.dumps({**STORY, "id": "b"}) + "\n")
        assert storykit.load(doc).ids == ("a",)
        assert storykit.load(lines).ids == ("a", "b")

    def test_unknown_lists_what_is_read(self, registry: Registry, tmp_path: Path) -> None:
        """Nothing fits: UnknownFormatError naming the suffixes read."""
        path = tmp_path / "x.dat"
        path.write_bytes(b"nothing known")
        with pytest.raises(storykit.UnknownFormatError) as info:
            storykit.load(path)
        assert ".lines" in info.value.available and ".json" in info.value.available

    def test_options_are_checked(self, registry: Registry, tmp_path: Path) -> None:
        """Options a reader does not take are refused before it reads."""
        path = tmp_path / "x.lines"
        path.write_text("2021-02-03\nOne\n")
        with pytest.raises(storykit.OptionError):
            storykit.load(path, colour="red")
        with pytest.raises(storykit.OptionError):
            storykit.load(tmp_path / "x.lines", format="json", title="no options")

    def test_a_folder_goes_to_the_folder_reader(self, registry: Registry,
                                                tmp_path: Path) -> None:
        """A folder is read by the reader whose ``input`` is ``folder``."""
        (tmp_path / "a.json").write_text(json.dumps(STORY))
        assert storykit.load(tmp_path).ids == ("a",)

    def test_a_folder_without_a_folder_reader(self, tmp_path: Path) -> None:
        """Without a folder reader, a folder is the clear error it always was."""
        registry = Registry(autoload=False)
        registry.pm.unregister(name="storykit.read.folder")
        with use_registry(registry), pytest.raises(IsADirectoryError):
            storykit.load(tmp_path)

    def test_loads_by_format_with_options(self, registry: Registry) -> None:
        """``loads`` takes a reader's name and options; a folder reader cannot read bytes."""
        col = storykit.loads(b"2021-02-03\nOne\n", format="lines", title="T")
        assert (col.title, len(col)) == ("T", 1)
        with pytest.raises(ValueError, match="reads a folder"):
            storykit.loads(b"", format="toyfolder")

    def test_where_is_passed_to_a_reader_that_handles_it(self, registry: Registry,
                                                         tmp_path: Path) -> None:
        """A reader with ``handles_where`` gets ``where``; another's result is filtered."""
        path = tmp_path / "x.where"
        path.write_text("2021-02-03\nOne\nTwo\n")
        Wherever.seen.clear()

        def where(s: storykit.Story) -> bool:
            return s.title == "Two"

        assert [s.title for s in storykit.load(path, where=where)] == ["Two"]
        assert len(Wherever.seen) == 1 and callable(Wherever.seen[0])
        other = tmp_path / "x.lines"
        other.write_text("2021-02-03\nOne\nTwo\n")
        assert [s.title for s in storykit.load(other, where=where)] == ["Two"]

    def test_a_reader_that_raises_is_blamed(self, registry: Registry, tmp_path: Path) -> None:
        """An unexpected exception in a reader is a PluginError naming its plugin."""
        path = tmp_path / "x.lines"
        path.write_text("")  # (no first line: the toy reader fails to unpack)
        with pytest.raises(storykit.PluginError) as info:
            storykit.load(path)
        assert info.value.plugin == "toy-readers"
        assert info.value.distribution == "storykit-toys 1.0"
