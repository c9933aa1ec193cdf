"""Hostile input: every loader refuses it precisely, or every format renders it inert.

The corpus lives in ``tests/hostile/`` (data files, plus the bombs made in ``corpus.py``). Output
checks are parametrised over every registered format, so a new format is covered as soon as it
is installed; a format whose media type has no checker in ``hostile/checks.py`` fails.
"""

from __future__ import annotations

import io
import json
import os
import re
import shutil
import unicodedata
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from hostile import checks, corpus
from hypothesis import given, settings
from hypothesis import strategies as st

import storykit
from storykit.cli import main
from storykit.files import check_output_path, safe_join
from storykit.plugins import Registry

ROOT = Path(__file__).resolve().parents[1]
VNU_JAR = ROOT / ".venv" / "vnu" / "node_modules" / "vnu-jar" / "build" / "dist" / "vnu.jar"

REGISTRY = Registry()
FORMATS = sorted(REGISTRY.exporters)
ACCEPTED = corpus.accepted()
REJECTED = corpus.rejected()


def pages(col: storykit.Collection, fmt: str) -> dict[str, bytes]:
    """The format's output: one document, or a folder writer's (the site's) HTML pages."""
    exporter = REGISTRY.get(fmt)
    if getattr(exporter, "output", "stream") == "folder":
        import tempfile

        with tempfile.TemporaryDirectory() as tmp:
            exporter.write_path(col, Path(tmp) / "out")
            out = Path(tmp) / "out"
            return {p.relative_to(out).as_posix(): p.read_bytes()
                    for p in sorted(out.rglob("*.html"))}
    buf = io.BytesIO()
    exporter.write(col, buf)
    return {"": buf.getvalue()}


def render(col: storykit.Collection, fmt: str) -> bytes:
    return b"".join(pages(col, fmt).values())


def load_case(case: corpus.Case, tmp: Path | None = None) -> storykit.Collection:
    """Load a corpus case the way a user would: from bytes, a file, or the Python API."""
    if case.size:
        assert tmp is not None
        path = tmp / "big.json"
        with path.open("wb") as f:
            f.truncate(case.size)  # sparse: no gigabyte is written
        return storykit.load(path)
    if case.format == "python":
        doc = json.loads(case.data.decode("utf-8", "surrogatepass"))
        return storykit.Collection(**doc)
    return storykit.loads(case.data, case.format)


@pytest.fixture(scope="module")
def loaded() -> dict[str, storykit.Collection]:
    """Every accepted case, loaded once."""
    return {case.name: load_case(case) for case in ACCEPTED}


def intended_headers(fmt: str) -> list[str] | None:
    """The header names a benign message of ``fmt`` has: a hostile one must have exactly these."""
    if checks.media_type(REGISTRY.get(fmt).media_type) != "message/rfc822":
        return None
    if fmt not in _HEADERS:
        benign = storykit.loads(json.dumps(corpus.everywhere("Plain text")))
        _HEADERS[fmt] = list(checks.parse_message(render(benign, fmt)).keys())
    return list(_HEADERS[fmt])


_HEADERS: dict[str, list[str]] = {}


def output_problems(fmt: str, data: bytes) -> list[str]:
    mtype = REGISTRY.get(fmt).media_type
    headers = intended_headers(fmt)
    if headers is not None:
        return checks.email_problems(data, headers)
    return checks.problems(mtype, data)


#: Pieces that break naive escaping, for Hypothesis to combine.
HOSTILE_PIECES = [*"<>\"'`=+-@&;{}%#/\\: ?!()[]\t", "\u202e", "\u200b", "\u00e9", "\U0001F389",
                  "script", "<script>", "</script>", " onload=", "javascript:", "=?utf-8?q?",
                  "?=", "]]>", "<![CDATA[", "{{", "}}", "{%", "%}", "&amp;", "&#0;", "\n", "a"]


def hostile_text() -> st.SearchStrategy[str]:
    """Strings glued from :data:`HOSTILE_PIECES` (one line: newlines become spaces)."""
    return st.lists(st.sampled_from(HOSTILE_PIECES), min_size=1, max_size=12).map(
        lambda parts: "".join(parts).replace("\n", " "))


# --- refused -----------------------------------------------------------------------------------


class TestRefused:
    @pytest.mark.parametrize("case", [c for c in REJECTED if not c.size], ids=lambda c: c.id)
    def test_refused_with_path_and_value(self, case: corpus.Case) -> None:
        """A hostile value is refused with a ValidationError naming its field and the value."""
        with pytest.raises(storykit.ValidationError) as info:
            load_case(case)
        errors = info.value.errors
        assert errors, "a ValidationError must list its problems"
        matching = [
            e for e in errors
            if (case.path is None or e.path == case.path) and case.message in e.message
            and (case.value is corpus._UNSET or e.value == case.value)
        ]
        assert matching, (f"expected an error at {case.path!r} containing {case.message!r} "
                          f"with value {case.value!r}; got:\n{info.value}")

    def test_gigabyte_file_refused_from_its_size(self, tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
        """A 1 GiB file is refused from stat() alone, naming the limit; it is never opened."""
        path = tmp_path / "big.json"
        with path.open("wb") as f:
            f.truncate(1024 ** 3)

        def no_open(*args: Any, **kwargs: Any) -> Any:
            raise AssertionError("load() opened a file it should have refused from its size")

        monkeypatch.setattr(Path, "open", no_open)
        with pytest.raises(storykit.ValidationError,
                           match=r"1,073,741,824 bytes; the limit is 536,870,912 bytes"):
            storykit.load(path)

    def test_limit_is_adjustable(self, tmp_path: Path) -> None:
        """max_bytes= lowers the size limit, and the error names the new limit."""
        path = tmp_path / "small.json"
        path.write_text('{"stories": []}')
        with pytest.raises(storykit.ValidationError, match=r"the limit is 10 bytes"):
            storykit.load(path, max_bytes=10)

    def test_cli_prints_one_line_per_problem(self, tmp_path: Path) -> None:
        """The CLI exits 1 and prints every problem on its own line, with no traceback."""
        doc = corpus.everywhere("Plain text")
        doc = corpus.set_path(doc, "stories[0].url", "javascript:alert(1)")
        doc = corpus.set_path(doc, "contacts[0].name", "Desk\r\nBcc: victim@example.com")
        doc = corpus.set_path(doc, "stories[0].image.url", "data:text/html,x")
        src = tmp_path / "bad.json"
        src.write_text(json.dumps(doc))
        result = CliRunner().invoke(main, ["validate", str(src)])
        assert result.exit_code == 1
        lines = result.stderr.strip().splitlines()
        assert lines[0] == f"storykit: error: 3 problems in {src}"
        assert sorted(re.sub(r"^line \d+, column \d+: ", "", line.strip()).split(":")[0]
                      for line in lines[1:]) == [
            "contacts[0].name", "stories[0].image.url", "stories[0].url"]
        assert "Traceback" not in result.output

    @pytest.mark.parametrize("case", [c for c in REJECTED if c.kind == "bomb" and not c.size],
                             ids=lambda c: c.id)
    def test_cli_refuses_bombs_in_one_line(self, case: corpus.Case, tmp_path: Path) -> None:
        """Bombs given to the CLI end in exit 1 and a one-line error naming the limit."""
        src = tmp_path / f"bomb.{case.format}"
        src.write_bytes(case.data)
        result = CliRunner().invoke(main, ["validate", str(src)])
        assert result.exit_code == 1
        assert case.message in result.stderr
        assert "Traceback" not in result.output

    @settings(max_examples=50)
    @given(st.text(min_size=1, max_size=20), st.integers(0, 20),
           st.sampled_from("\x00\x01\x08\x0b\x0c\x0d\x1b\x7f\x85\x9f\u2028\u2029\ufffe\uffff"),
           st.sampled_from(corpus.ONE_LINE_FIELDS))
    def test_control_characters_anywhere_are_refused(self, text: str, at: int, bad: str,
                                                     field: str) -> None:
        """A control or line-separator character inside one-line text is refused there.

        (At the very start or end, the ones Python counts as whitespace are stripped instead.)
        """
        value = "a" + text[:at] + bad + text[at:] + "x"
        doc = corpus.set_path(corpus.everywhere("Plain text"), field, value)
        with pytest.raises(storykit.ValidationError) as info:
            storykit.Collection(**doc)
        assert any(e.path == field for e in info.value.errors), str(info.value)


# --- accepted and rendered inert -----------------------------------------------------------------


class TestAccepted:
    @pytest.mark.parametrize("case", ACCEPTED, ids=lambda c: c.id)
    def test_loads_and_round_trips_through_json(self, case: corpus.Case) -> None:
        """Hostile but valid text loads, and the JSON export loads back to an equal collection."""
        col = load_case(case)
        again = storykit.loads(render(col, "json"), "json")
        assert again == col

    def test_text_is_kept_as_given_but_nfc(self, loaded: dict[str, storykit.Collection]) -> None:
        """Markup, templates and formulas are kept verbatim; only NFC normalisation applies."""
        strings = json.loads((corpus.HERE / "strings.json").read_text("utf-8"))
        for kind in ("markup", "template", "attribute", "formula", "header", "xml"):
            for i, s in enumerate(strings[kind]):
                col = loaded[f"{kind}-{i}"]
                want = unicodedata.normalize("NFC", s).strip()
                assert col.title == want
                assert col[0].title == want
                assert col[0].summary == want
                assert col.contacts[0].name == want

    def test_nfd_and_nfc_titles_are_one_text_two_stories(
            self, loaded: dict[str, storykit.Collection]) -> None:
        """NFD and NFC spellings load as the same NFC string; their stories get distinct ids."""
        col = loaded["nfd-nfc-duplicates"]
        assert col[0].title == col[1].title == "Caf\u00e9"
        assert col[1].topics == ("Caf\u00e9", "Caf\u00e9")
        col = loaded["file-hostile.toml"]
        assert [s.id for s in col] == ["cafe-nfd", "cafe-nfd-2"]

    def test_emoji_and_cjk_only_titles_get_a_stable_id(self) -> None:
        """A title of emoji only gets the id story-<hash>, a CJK title a transliterated id;
        each the same every time."""
        for title, form in (("\U0001F389\U0001F525", r"story-[0-9a-f]{10}"),
                            ("\u52b4\u50cd\u3068\u5e78\u798f", r"[a-z]+(-[a-z]+)+")):
            doc = {"stories": [{"title": title, "published": "2021-02-03", "summary": "s"}]}
            first = storykit.loads(json.dumps(doc))[0].id
            assert re.fullmatch(form, first)
            assert storykit.loads(json.dumps(doc))[0].id == first

    def test_right_to_left_override_is_kept_as_text(self,
                                                    loaded: dict[str, storykit.Collection]
                                                    ) -> None:
        """U+202E is legitimate in right-to-left text: kept, and left out of the derived id."""
        col = loaded["unicode-0"]
        assert col[0].title == "\u202eevil\u202c.exe"
        assert col[0].id == "evil-exe"


class TestInert:
    @pytest.mark.parametrize("fmt", FORMATS)
    def test_every_accepted_case_is_inert(self, fmt: str,
                                          loaded: dict[str, storykit.Collection]) -> None:
        """Every hostile case renders to output that parses back cleanly and runs nothing."""
        found: dict[str, list[str]] = {}
        for name, col in loaded.items():
            problems = output_problems(fmt, render(col, fmt))
            if problems:
                found[name] = problems[:3]
        assert not found, f"{fmt}: unsafe output for {len(found)} cases: {found}"

    @pytest.mark.parametrize("fmt", [f for f in FORMATS if checks.media_type(
        REGISTRY.get(f).media_type) == "text/html"])
    def test_html_shows_hostile_text_literally(self, fmt: str,
                                               loaded: dict[str, storykit.Collection]) -> None:
        """A reader sees the hostile title as text: not run, not evaluated as a template."""
        for name, col in loaded.items():
            if name.startswith(("long", "file-")):
                continue
            text = " ".join(checks.html_text(render(col, fmt)).split())
            assert " ".join(col[0].title.split()) in text, name
        page = render(loaded["template-0"], fmt)
        assert "{{ 7*7 }}" in checks.html_text(page)

    def test_csv_cells_read_back_as_the_stories(self,
                                                loaded: dict[str, storykit.Collection]) -> None:
        """The neutralised CSV loads back to the same stories (the ' prefix is undone)."""
        for name, col in loaded.items():
            again = storykit.loads(render(col, "csv"), "csv")
            assert again.stories == col.stories, name

    @settings(max_examples=25)
    @given(hostile_text())
    def test_generated_hostile_text_is_inert_everywhere(self, s: str) -> None:
        """Hypothesis-made punctuation soups in every text field render inert in every format."""
        try:
            col = storykit.Collection(**corpus.everywhere(s))
        except storykit.ValidationError:
            return  # blank after stripping: refused, which is also fine
        for fmt in FORMATS:
            assert output_problems(fmt, render(col, fmt)) == [], (fmt, s)

    def test_checkers_catch_unsafe_output(self) -> None:
        """The checkers are not vacuous: each flags a known-unsafe sample."""
        assert checks.html_problems(b"<p onclick=x>a</p>")
        assert checks.html_problems(b"<script>alert(1)</script>")
        assert checks.html_problems(b'<a href=" JaVa\tScRiPt:x">a</a>')
        assert checks.html_problems(b'<img src="//evil.example/x">')
        assert checks.html_problems(b'<script type="application/ld+json">{"a":"</p>"}</script>')
        assert not checks.html_problems(b'<a href="https://example.org/">a</a>')
        assert checks.csv_problems(b"title\r\n=1+2\r\n")
        assert checks.csv_problems(b'title\r\n"\t=1"\r\n')
        assert not checks.csv_problems(b"title\r\n'=1+2\r\n")
        injected = b"Subject: a\r\nBcc: x@example.org\r\n\r\nbody\r\n"
        assert checks.email_problems(injected, ["Subject"])
        assert checks.email_problems(b"Subject: " + b"a" * 1000 + b"\r\n\r\nb\r\n", ["Subject"])
        assert checks.feed_problems(b"<rss><channel><title>&bad;</title></channel></rss>")
        assert checks.problems("application/x-unknown", b"x")


EMAIL_FORMATS = [f for f in FORMATS
                 if checks.media_type(REGISTRY.get(f).media_type) == "message/rfc822"]
#: Options that reach a message's headers, with header breakers in them.
HOSTILE_EMAIL_OPTIONS = [
    {"subject": "x\r\nBcc: victim@example.org"},
    {"subject": "=?utf-8?q?Bcc:_victim@example.org?="},
    {"subject": "a\u2028b\x85c\x00d"},
    {"subject": "s" * 2000},
    {"to": "a@example.org\r\nBcc: victim@example.org"},
    {"to": "=?utf-8?q?victim?=@example.org"},
    {"to": '"Evil\r\n" <a@example.org>'},
    {"sender": "X <a@example.org>\nBcc: victim@example.org"},
    {"reply_to": 'a@example.org, "=?utf-8?q?Bcc:_x?=" <b@example.org>'},
    {"message_id": "<a@example.org>\r\nBcc: victim@example.org"},
    {"unsubscribe": "javascript:alert(1)"},
    {"preheader": "<script>alert(1)</script>"},
]


class TestEmailOptions:
    @pytest.mark.parametrize("fmt", EMAIL_FORMATS)
    @pytest.mark.parametrize("options", HOSTILE_EMAIL_OPTIONS, ids=lambda o: repr(o)[:40])
    def test_options_cannot_add_a_header(self, fmt: str, options: dict[str, str],
                                         loaded: dict[str, storykit.Collection]) -> None:
        """A hostile option is refused (OptionError) or neutralised: no header is added."""
        try:
            data = storykit.dumps(loaded["header-0"], fmt, **options)
        except storykit.OptionError as e:
            refused_option = e.option
        else:
            refused_option = None
        if refused_option is not None:
            assert refused_option == next(iter(options))
            return
        want = intended_headers(fmt)
        assert want is not None
        if "reply_to" in options:
            want.append("Reply-To")
        assert checks.email_problems(data, want) == []


@pytest.mark.slow
class TestNuHTMLChecker:
    def test_pages_pass_the_w3c_checker(self, tmp_path: Path,
                                        loaded: dict[str, storykit.Collection]) -> None:
        """Every HTML page made from the corpus passes the W3C Nu HTML checker (errors only)."""
        if not VNU_JAR.exists() or shutil.which("java") is None:
            pytest.skip("vnu.jar or java is missing (make install puts vnu.jar in .venv/vnu)")
        html_formats = [f for f in FORMATS
                        if checks.media_type(REGISTRY.get(f).media_type) == "text/html"]
        files = []
        for fmt in html_formats:
            for name, col in loaded.items():
                for i, (rel, page) in enumerate(pages(col, fmt).items()):
                    if re.fullmatch(r"digests/.*-W.*", rel):
                        continue  # (an email's HTML part, checked with the email format)
                    path = tmp_path / f"{fmt}-{name}-{i}.html"
                    path.write_bytes(page)
                    files.append(str(path))
        # A broken page in the same run proves the checker ran and its report was read.
        broken = tmp_path / "known-broken.html"
        broken.write_text("<!DOCTYPE html><html lang=en><title>x</title><p><div></span>")
        report = checks.vnu_problems([*files, str(broken)], str(VNU_JAR))
        assert report[str(broken)], "the Nu checker found nothing in a broken page"
        failed = {Path(f).name: report[f][:3] for f in files if report.get(f)}
        assert not failed, failed


# --- output paths ------------------------------------------------------------------------------


@pytest.fixture
def col() -> storykit.Collection:
    return storykit.Collection(title="Paths", stories=[
        {"title": "A", "published": "2021-02-03", "summary": "s"}])


class TestOutputPaths:
    @pytest.mark.parametrize("name", ["../escape.html", "/etc/passwd", "a/b.html", "..", ".",
                                      "", "a\\b.html"])
    def test_names_from_data_cannot_leave_the_folder(self, tmp_path: Path, name: str) -> None:
        """safe_join refuses a name that would leave its folder, naming the value."""
        if name == "a\\b.html" and os.sep == "/" and os.altsep is None:
            # A backslash is an ordinary character on POSIX: the name stays in the folder.
            assert safe_join(tmp_path, name).parent == tmp_path
            return
        with pytest.raises(storykit.ValidationError) as info:
            safe_join(tmp_path, name)
        assert info.value.errors[0].value == name

    @pytest.mark.parametrize("story_id", ["../../etc/passwd", "a/b", "..", "CON", "a b", "x" * 300])
    def test_story_ids_cannot_hold_a_path(self, story_id: str) -> None:
        """An id is a slug, so it can never name a path outside a folder."""
        with pytest.raises(storykit.ValidationError) as info:
            storykit.Story(id=story_id, title="A", published="2021-02-03", summary="s")
        assert info.value.errors[0].path == "id"

    @pytest.mark.parametrize("name", ["CON.html", "nul.json", "Com1.csv", "lpt9", "aux.tar.gz",
                                      "x" * 252 + ".json", "\u00e9" * 126 + ".json", "out/",
                                      "a\nb.json", "a\x00b.json"])
    def test_unportable_names_are_refused(self, tmp_path: Path, col: storykit.Collection,
                                          name: str) -> None:
        """Reserved device names, names over 255 bytes, folders and control characters."""
        with pytest.raises(storykit.ValidationError) as info:
            storykit.dump(col, str(tmp_path) + "/" + name, format="json")
        assert info.value.errors[0].path == "output"
        assert info.value.errors[0].value == str(tmp_path) + "/" + name
        assert [p.name for p in tmp_path.iterdir()] == []

    def test_a_255_byte_name_is_fine(self, tmp_path: Path, col: storykit.Collection) -> None:
        """The limit is 255 bytes, multibyte characters counted as bytes."""
        name = "\u00e9" * 125 + ".json"  # 250 + 5 bytes
        assert len(name.encode()) == 255
        storykit.dump(col, tmp_path / name)
        assert [p.name for p in tmp_path.iterdir()] == [name]
        check_output_path(tmp_path / name)

    def test_a_planted_symlink_is_replaced_not_followed(self, tmp_path: Path,
                                                        col: storykit.Collection) -> None:
        """dump() replaces a symlink at the target; the file it pointed to is untouched."""
        victim = tmp_path / "victim.txt"
        victim.write_bytes(b"precious")
        link = tmp_path / "out.json"
        link.symlink_to(victim)
        storykit.dump(col, link)
        assert not link.is_symlink()
        assert victim.read_bytes() == b"precious"
        assert storykit.load(link) == col

    def test_a_folder_at_the_target_is_refused(self, tmp_path: Path,
                                               col: storykit.Collection) -> None:
        """A folder where the file should go gives IsADirectoryError, and it stays a folder."""
        (tmp_path / "out.json").mkdir()
        with pytest.raises(IsADirectoryError):
            storykit.dump(col, tmp_path / "out.json")
        assert (tmp_path / "out.json").is_dir()

    def test_cli_refuses_a_reserved_output_name(self, tmp_path: Path,
                                                col: storykit.Collection) -> None:
        """storykit export -o NUL.html exits 1 with one line naming the path."""
        src = tmp_path / "in.json"
        storykit.dump(col, src)
        result = CliRunner().invoke(main, ["export", str(src), "-o", str(tmp_path / "NUL.html")])
        assert result.exit_code == 1
        assert "NUL.html" in result.stderr and "reserves" in result.stderr
        assert "Traceback" not in result.output

    def test_cli_writes_where_o_says(self, tmp_path: Path, col: storykit.Collection,
                                     monkeypatch: pytest.MonkeyPatch) -> None:
        """-o is the caller's own path: '../out.json' is written there, like cp would."""
        src = tmp_path / "in.json"
        storykit.dump(col, src)
        work = tmp_path / "work"
        work.mkdir()
        monkeypatch.chdir(work)
        result = CliRunner().invoke(main, ["export", str(src), "-o", "../out.json"])
        assert result.exit_code == 0, result.output
        assert storykit.load(tmp_path / "out.json") == col
