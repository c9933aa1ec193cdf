"""The folder reader: Hugo/Jekyll/Pelican content folders become collections; every problem
names its file and line."""

from __future__ import annotations

import json
from pathlib import Path

import attrs
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import storykit
from storykit import Collection, ValidationError
from storykit.convert import story_to_data
from storykit.read.folder import FolderReader
from storykit.testing import bodies, check_reader, collections

EXAMPLE = Path(__file__).parent.parent / "examples" / "impact-and-people"
READER = FolderReader()


def write(root: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root


def test_example_content_folder_is_the_example() -> None:
    assert READER.read(EXAMPLE / "content") == storykit.load(EXAMPLE / "stories.json")


def test_example_content_folder_is_what_make_data_makes() -> None:
    import importlib.util

    spec = importlib.util.spec_from_file_location("make_data", EXAMPLE / "make_data.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    doc = json.loads((EXAMPLE / "stories.json").read_text(encoding="utf-8"))
    for rel, text in module.content_files(doc).items():
        assert (EXAMPLE / "content" / rel).read_text(encoding="utf-8") == text


def test_hugo_jekyll_pelican_shapes(tmp_path: Path) -> None:
    root = write(tmp_path, {
        "_index.md": "---\ntitle: Newsroom\ndescription: All the news\nlang: fr\n"
                     "contacts:\n  - name: Desk\n    email: desk@example.org\n---\nIgnored.\n",
        "2021/bees.md": "---\ntitle: Bees\ndate: 2021-02-23\ndescription: Honey.\n"
                        "tags: [bees, rural]\ncategories: [rural, jobs]\nlayout: post\n---\n"
                        "# Heading\n\nSome *text* <script>alert(1)</script>"
                        "[x](javascript:alert(1)) <a href='https://e.org' onclick='x'>y</a>\n",
        "2021/toml.md": "+++\ntitle = \"In TOML\"\ndate = 2021-02-24\nsummary = \"S\"\n"
                        "slug = \"custom-id\"\nlastmod = 2021-03-01\n+++\nBody\n",
        "posts/2021-02-25-jekyll-post.markdown": "---\ntitle: Jekyll\nsummary: S\n---\n",
        "data/one.json": json.dumps({"title": "J", "published": "2021-02-26", "summary": "S"}),
        "data/two.toml": 'title = "T"\npublished = 2021-02-27\nsummary = "S"\n',
        "drafts/wip.md": "---\ntitle: WIP\ndraft: true\n---\n",
        ".hidden/x.md": "not even front matter",
        "_drafts/y.md": "not even front matter",
        "notes.txt": "ignored",
    })
    col = READER.read(root)
    assert (col.title, col.description, col.language) == ("Newsroom", "All the news", "fr")
    assert col.contacts[0].email == "desk@example.org"
    by_id = {s.id: s for s in col}
    assert set(by_id) == {"bees", "custom-id", "jekyll-post", "one", "two"}
    bees = by_id["bees"]
    assert bees.topics == ("bees", "rural", "jobs")
    assert bees.summary == "Honey."
    assert bees.language == "fr"
    assert bees.body is not None
    assert "<h1>Heading</h1>" in bees.body and "<em>text</em>" in bees.body
    for bad in ("<script", 'href="javascript', "onclick"):
        assert bad not in bees.body
    assert str(by_id["custom-id"].updated) == "2021-03-01"
    assert by_id["custom-id"].body == "<p>Body</p>"
    assert str(by_id["jekyll-post"].published) == "2021-02-25"
    assert col.stories[0].id == "two"  # newest first


def test_every_problem_names_file_and_line(tmp_path: Path) -> None:
    root = write(tmp_path, {
        "2021/bees.md": "---\ntitle: Bees\nsummary: S\npublished: someday\n---\n",
        "2021/broken.md": "---\ntitle: [unclosed\n---\n",
        "2021/nofront.md": "Just text\n",
        "2021/typo.md": "---\ntitle: T\nsumary: S\npublished: 2021-01-01\n---\n",
        "bad.json": "{not json",
    })
    with pytest.raises(ValidationError) as e:
        READER.read(root)
    text = str(e.value)
    assert "2021/bees.md:4: published: 'someday' is not a valid date" in text
    assert "2021/broken.md:" in text and "not valid YAML" in text
    assert "2021/nofront.md:1: has no front matter" in text
    assert "2021/typo.md:3: sumary" in text and "did you mean 'summary'" in text
    assert "bad.json: is not valid JSON" in text
    assert len(e.value.errors) >= 6


def test_not_a_folder(tmp_path: Path) -> None:
    with pytest.raises(ValidationError) as e:
        READER.read(tmp_path / "missing")
    assert len(e.value.errors) == 1 and "is not a folder" in str(e.value)


def test_symlinks_are_not_followed(tmp_path: Path) -> None:
    outside = write(tmp_path / "outside", {"secret.md": "---\ntitle: S\nsummary: S\n"
                                                        "published: 2021-01-01\n---\n"})
    root = tmp_path / "content"
    root.mkdir()
    (root / "link.md").symlink_to(outside / "secret.md")
    (root / "dir").symlink_to(outside, target_is_directory=True)
    with pytest.raises(ValidationError, match="no story files"):  # (the links are not read)
        READER.read(root)
    write(root, {"own.md": "---\ntitle: O\nsummary: O\npublished: 2021-01-02\n---\n"})
    assert [s.title for s in READER.read(root)] == ["O"]


def test_a_folder_with_no_story_file_is_one_problem(tmp_path: Path) -> None:
    """An empty folder (or one of other files) is no content folder: one problem saying so."""
    (tmp_path / "notes.txt").write_text("x", encoding="utf-8")
    with pytest.raises(ValidationError, match="is a folder with no story files"):
        READER.read(tmp_path)


def _as_folder(col: Collection) -> dict[str, str]:
    files = {"collection.toml": f"title = {json.dumps(col.title, ensure_ascii=False)}\n"
                                f"language = {json.dumps(col.language)}\n"}
    for story in col.stories:
        data = story_to_data(story)
        # A body given in front matter is kept as it is (not rendered as Markdown).
        lines = ["---", *(f"{k}: {json.dumps(v, ensure_ascii=False)}" for k, v in data.items()),
                 "---"]
        files[f"{story.id}.md"] = "\n".join(lines) + "\n"
    return files


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(col=collections(max_size=4), body=st.none() | bodies())
def test_folder_round_trip(col: Collection, body: str | None) -> None:
    import tempfile

    col = attrs.evolve(col, contacts=(), description=None, url=None,
                       stories=[attrs.evolve(s, body=body) for s in col.stories])
    with tempfile.TemporaryDirectory() as tmp:
        root = write(Path(tmp), _as_folder(col))
        assert READER.read(root) == col.sort("published", reverse=True)


def test_conformance() -> None:
    check_reader(READER, sample={
        "a.md": b"---\ntitle: A\nsummary: S\ndate: 2021-01-01\n---\nBody *text*\n",
        "b.json": b'{"title": "B", "published": "2021-01-02", "summary": "S"}',
    }, max_examples=10)


def test_load_a_folder() -> None:
    assert storykit.load(EXAMPLE / "content") == storykit.load(EXAMPLE / "stories.json")
