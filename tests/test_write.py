"""Writers with a file or folder output: dump() moves their work into place atomically."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import storykit
from storykit.plugins import Registry, hookimpl, use_registry

COL = storykit.Collection(title="T", stories=[
    {"id": "a", "title": "A", "published": "2021-02-03", "summary": "S"},
    {"id": "b", "title": "B", "published": "2021-02-04", "summary": "S"}])


class FileWriter:
    """Writes the ids to a file by its path (as a database writer would)."""

    name = "idfile"
    media_type = "text/plain"
    suffix = ".ids"
    description = "The ids, one a line, written by path."
    output = "file"

    def write(self, collection: storykit.Collection, out: Any, **options: Any) -> None:
        raise AssertionError("write() of a file writer is not called")

    def write_path(self, collection: storykit.Collection, path: Path, **options: Any) -> int:
        assert not path.exists() and path.parent.is_dir()
        path.write_text("".join(f"{s.id}\n" for s in collection))
        return len(collection)


class FolderWriter:
    """One JSON file per story in a folder; fails on a story titled ``Boom``."""

    name = "idfolder"
    media_type = "inode/directory"
    suffix = ".d"
    description = "One file per story."
    output = "folder"

    def write(self, collection: storykit.Collection, out: Any, **options: Any) -> None:
        raise AssertionError("write() of a folder writer is not called")

    def write_path(self, collection: storykit.Collection, path: Path, **options: Any) -> int:
        assert path.is_dir() and not any(path.iterdir())
        for story in collection:
            (path / f"{story.id}.json").write_text(json.dumps({"title": story.title}))
            if story.title == "Boom":
                raise RuntimeError("half-way")
        return len(collection)


@pytest.fixture(autouse=True)
def registry() -> Iterator[Registry]:
    reg = Registry(autoload=False)

    class Plugin:
        @hookimpl
        def register_exporters(self) -> list[Any]:
            return [FileWriter(), FolderWriter()]

    reg.register(Plugin(), "path-writers", distribution="storykit-paths 1.0")
    with use_registry(reg):
        yield reg


def only(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


class TestFileOutput:
    def test_dump_writes_the_file_in_place(self, tmp_path: Path) -> None:
        """dump() gives write_path() a temporary path beside the target, then moves it."""
        target = tmp_path / "out" / "all.ids"
        assert storykit.dump(COL, target) == target
        assert target.read_text() == "a\nb\n"
        assert only(target.parent) == ["all.ids"]

    def test_the_count_is_returned_by_dump_with(self, tmp_path: Path) -> None:
        """What write_path() returns (a count) reaches the caller of dump_with()."""
        from storykit.write import dump_with

        assert dump_with(COL, tmp_path / "x.ids", None, {})[1] == 2

    def test_dumps_gives_the_bytes(self) -> None:
        """dumps() of a file writer is the bytes it wrote to a temporary file."""
        assert storykit.dumps(COL, "idfile") == b"a\nb\n"


class TestFolderOutput:
    def test_dump_writes_the_folder(self, tmp_path: Path) -> None:
        """The folder is built beside the target and renamed in."""
        target = tmp_path / "site"
        storykit.dump(COL, target, format="idfolder")
        assert only(target) == ["a.json", "b.json"]
        assert only(tmp_path) == ["site"]

    def test_a_folder_replaces_the_old_one_whole(self, tmp_path: Path) -> None:
        """The old folder's files do not survive into the new one."""
        target = tmp_path / "site"
        target.mkdir()
        (target / "stale.json").write_text("{}")
        storykit.dump(COL, f"{target}/", format="idfolder")
        assert only(target) == ["a.json", "b.json"]
        assert only(tmp_path) == ["site"]

    def test_a_failing_writer_leaves_the_previous_folder(self, tmp_path: Path) -> None:
        """A build that fails half-way leaves the previous folder as it was, and no temp."""
        target = tmp_path / "site"
        storykit.dump(COL, target, format="idfolder")
        bad = storykit.Collection(stories=[
            {"id": "c", "title": "C", "published": "2021-02-03", "summary": "S"},
            {"id": "d", "title": "Boom", "published": "2021-02-03", "summary": "S"}])
        with pytest.raises(storykit.PluginError) as info:
            storykit.dump(bad, target, format="idfolder")
        assert info.value.plugin == "path-writers"
        assert info.value.distribution == "storykit-paths 1.0"
        assert only(target) == ["a.json", "b.json"]
        assert only(tmp_path) == ["site"]

    def test_dumps_of_a_folder_writer_is_a_clear_error(self) -> None:
        """A folder cannot be bytes: ValueError saying to use dump()."""
        with pytest.raises(ValueError, match=r"writes a folder, not bytes: use storykit.dump"):
            storykit.dumps(COL, "idfolder")

    def test_a_file_where_the_folder_goes(self, tmp_path: Path) -> None:
        """A file at the target is not replaced by a folder."""
        target = tmp_path / "site"
        target.write_text("keep")
        with pytest.raises(NotADirectoryError):
            storykit.dump(COL, target, format="idfolder")
        assert target.read_text() == "keep"
