"""The command line: validate, export, formats; exit codes, one-line errors, --help examples."""

from __future__ import annotations

import csv
import io
import json
import os
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import click
import pytest
from click.testing import CliRunner, Result
from pipe_support import draining

import storykit
from storykit.cli import main
from storykit.plugins import Registry, use_registry

PLUGINS = Path(__file__).parent / "plugins"
STORYKIT = str(Path(sys.executable).with_name("storykit"))


@pytest.fixture(autouse=True)
def fresh_registry() -> Iterator[Registry]:
    """Each command runs against a fresh registry without entry points."""
    with use_registry(Registry(autoload=False)) as reg:
        yield reg


def invoke(*args: str | Path) -> Result:
    return CliRunner().invoke(main, [str(a) for a in args], prog_name="storykit",
                              catch_exceptions=False)


def error_lines(result: Result) -> list[str]:
    return [line for line in result.stderr.splitlines() if line.strip()]


@pytest.fixture
def bad_file(tmp_path: Path) -> Path:
    path = tmp_path / "bad.json"
    path.write_text(json.dumps({"title": "Bad", "stories": [
        {"title": "", "published": "2021-02-30", "summary": "x"}]}))
    return path


class TestValidate:
    def test_valid(self, example_json: Path) -> None:
        """A valid file: exit 0 and a line saying how many stories and contacts it holds."""
        result = invoke("validate", example_json)
        assert result.exit_code == 0, result.stderr
        assert result.stdout == f"{example_json}: ok (10 stories, 1 contact)\n"

    def test_invalid(self, example_json: Path, bad_file: Path) -> None:
        """An invalid file: exit 1, every problem on its own line, the valid file still ok."""
        result = invoke("validate", bad_file, example_json)
        assert result.exit_code == 1
        lines = error_lines(result)
        assert lines[0] == f"storykit: error: 2 problems in {bad_file}"
        assert any("stories[0].published" in line and "2021-02-30" in line for line in lines)
        assert any("stories[0].title" in line for line in lines)
        assert "Traceback" not in result.stderr
        assert f"{example_json}: ok" in result.stdout

    def test_missing_file(self, tmp_path: Path) -> None:
        """A missing file is a one-line error and exit 1."""
        result = invoke("validate", tmp_path / "nope.json")
        assert result.exit_code == 1
        assert error_lines(result) == [f"storykit: error: no such file: {tmp_path / 'nope.json'}"]

    def test_line_files_are_checked_story_by_story(self, tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
        """JSON Lines and CSV are checked a story at a time, whatever their size (the file is
        never loaded whole): load()'s count when valid, load()'s problems when not, a
        repeated id among them."""
        good, bad = tmp_path / "good.jsonl", tmp_path / "bad.csv"
        good.write_text("".join(json.dumps({"title": f"Story {i}", "published": "2021-02-03",
                                            "summary": "x"}) + "\n" for i in range(3)))
        bad.write_text("id,title,published,summary\na,One,2021-02-30,x\nb,Two,2021-02-03,x\n"
                       "a,Three,2021-02-03,x\n", encoding="utf-8")
        with pytest.raises(storykit.ValidationError) as loaded:
            storykit.load(bad)
        monkeypatch.setattr("storykit.read.load", lambda *a, **k: pytest.fail("loaded whole"))
        result = invoke("validate", good, bad)
        assert result.exit_code == 1
        assert result.stdout == f"{good}: ok (3 stories, 0 contacts)\n"
        assert error_lines(result) == [f"storykit: error: {loaded.value}".splitlines()[0],
                                       *str(loaded.value).splitlines()[1:]]
        assert "stories[2].id: 'a' is already the id of stories[0]" in result.stderr

    def test_no_arguments(self) -> None:
        """No file at all is a usage error: exit 2, one storykit: error: line."""
        result = invoke("validate")
        assert result.exit_code == 2
        [line] = error_lines(result)
        assert line.startswith("storykit: error: Missing argument 'SOURCES...'")
        assert "storykit validate --help" in line


class TestExport:
    @pytest.mark.parametrize(("name", "advice"), [
        ("archive.jsonl", "JSON Lines and CSV are streamed at any size to the csv and json"),
        ("archive.json", "save the archive as JSON Lines or CSV to stream it")])
    def test_a_file_too_big_to_read_whole_says_what_works(
            self, example: storykit.Collection, tmp_path: Path, name: str, advice: str,
            monkeypatch: pytest.MonkeyPatch) -> None:
        """A format that needs the whole collection (html) and a file over the size read
        whole: exit 1, one line naming the size, the limit and what works instead (not
        load()'s `max_bytes=`, which the command line cannot give); nothing written."""
        source = storykit.dump(example, tmp_path / name)
        monkeypatch.setattr("storykit.read.MAX_BYTES", 100)
        out = tmp_path / "page.html"
        result = invoke("export", source, "-o", out)
        assert result.exit_code == 1
        [line] = error_lines(result)
        size = source.stat().st_size
        assert line.startswith(f"storykit: error: {source} is {size:,} bytes, more than the "
                               "100 of a file read whole, which the html format needs; ")
        assert advice in line and "max_bytes" not in line
        assert not out.exists()
        # A streamed format is not limited.
        if name.endswith(".jsonl"):
            assert invoke("export", source, "-o", tmp_path / "all.csv").exit_code == 0

    def test_to_stdout(self, example_json: Path, example: storykit.Collection) -> None:
        """-o - writes the bytes to standard output; they load back equal."""
        result = invoke("export", example_json, "--format", "json", "-o", "-")
        assert result.exit_code == 0, result.stderr
        assert storykit.loads(result.stdout_bytes, "json") == example

    def test_to_a_file(self, example_json: Path, example: storykit.Collection,
                       tmp_path: Path) -> None:
        """-o FILE picks the format from the suffix, creates folders, and says what it wrote."""
        out = tmp_path / "partners" / "stories.csv"
        result = invoke("export", example_json, "-o", out)
        assert result.exit_code == 0, result.stderr
        assert result.stderr == f"wrote {out} (csv, 10 stories)\n"
        assert storykit.load(out).stories == example.stories

    def test_options_are_converted(self, example_json: Path) -> None:
        """-O key=value strings become typed options: a TSV with a BOM and two columns."""
        result = invoke("export", example_json, "-f", "csv", "-O", "delimiter=tab",
                        "-O", "bom=true", "-O", "columns=id,title", "-O", "header=no")
        assert result.exit_code == 0, result.stderr
        assert result.stdout_bytes.startswith(b"\xef\xbb\xbf")
        records = list(csv.reader(io.StringIO(result.stdout_bytes.decode("utf-8-sig"),
                                              newline=""), delimiter="\t"))
        assert len(records) == 10
        assert records[0][0].startswith("can-digital-labour-platforms-create-fair-competition")
        assert len(records[0]) == 2

    def test_json_options(self, example_json: Path) -> None:
        """-O indent=2 -O shape=stories gives an indented array."""
        result = invoke("export", example_json, "-f", "json", "-O", "indent=2",
                        "-O", "shape=stories")
        assert result.exit_code == 0, result.stderr
        assert result.stdout.startswith("[\n  {\n")
        assert len(json.loads(result.stdout)) == 10

    def test_unknown_format(self, example_json: Path, tmp_path: Path) -> None:
        """An unknown format: exit 2, one line listing the formats and suggesting one."""
        result = invoke("export", example_json, "--format", "jsno", "-o", tmp_path / "x.json")
        assert result.exit_code == 2
        [line] = error_lines(result)
        assert line.startswith("storykit: error: unknown format 'jsno' (available: ")
        assert "csv" in line
        assert line.endswith("did you mean 'json'?")
        assert os.listdir(tmp_path) == []

    @pytest.mark.parametrize(("option", "says"), [
        ("indnet=2", "json exporter: option 'indnet' does not exist (did you mean 'indent'?"),
        ("indent=two", "json exporter: option 'indent' must be one of 0, 2 (got 'two')"),
        ("ensure_ascii=perhaps", "json exporter: option 'ensure_ascii' must be true or false"),
    ])
    def test_bad_option(self, example_json: Path, option: str, says: str) -> None:
        """A bad -O names the exporter and the option: exit 2, one line."""
        result = invoke("export", example_json, "-f", "json", "-O", option)
        assert result.exit_code == 2
        [line] = error_lines(result)
        assert line.startswith(f"storykit: error: {says}")

    def test_option_without_equals(self, example_json: Path) -> None:
        """-O without '=' is a usage error."""
        result = invoke("export", example_json, "-f", "json", "-O", "indent")
        assert result.exit_code == 2
        [line] = error_lines(result)
        assert line.startswith("storykit: error: Invalid value for '-O': 'indent' is not key=value")

    def test_stdout_needs_a_format(self, example_json: Path) -> None:
        """Writing to stdout without --format is a usage error."""
        result = invoke("export", example_json)
        assert result.exit_code == 2
        assert error_lines(result) == [
            "storykit: error: give --format when writing to standard output "
            "(see 'storykit export --help')"]

    def test_invalid_input(self, bad_file: Path, tmp_path: Path) -> None:
        """Invalid content: exit 1, the problems listed, no output file."""
        result = invoke("export", bad_file, "-o", tmp_path / "out.json")
        assert result.exit_code == 1
        assert error_lines(result)[0] == f"storykit: error: 2 problems in {bad_file}"
        assert "Traceback" not in result.stderr
        assert not (tmp_path / "out.json").exists()

    def test_plugins_dir(self, example_json: Path) -> None:
        """--plugins-dir (before or after the command) makes a one-file plugin's format usable."""
        for args in (["--plugins-dir", PLUGINS, "export", example_json, "-f", "plaintext"],
                     ["export", example_json, "-f", "plaintext", "--plugins-dir", PLUGINS]):
            with use_registry(Registry(autoload=False)):
                result = invoke(*args, "-O", "width=5", "-O", "numbered=false")
            assert result.exit_code == 0, result.stderr
            assert result.stdout.startswith("Impact and people\n=====\n\nCan digital labour")
            # Each broken fixture plugin is one warning line naming it; the export still works.
            warnings = [ln for ln in error_lines(result) if ln.startswith("storykit: warning:")]
            assert any("wrong_signature.py" in ln for ln in warnings)
            assert all(ln.startswith("storykit: warning: plugin ") for ln in error_lines(result))

    def test_exporter_crash_is_one_line(self, example_json: Path, tmp_path: Path) -> None:
        """An exporter that crashes: one line naming the plugin and exception, exit 1, no file."""
        folder = tmp_path / "plugins"
        folder.mkdir()
        (folder / "crash.py").write_text(
            "import storykit\n"
            "class Crash:\n"
            "    name, media_type, suffix, description = 'crash', 'text/plain', '.crash', 'Boom.'\n"
            "    def write(self, collection, out, **options):\n"
            "        out.write(b'partial')\n"
            "        raise KeyError('summary')\n"
            "@storykit.hookimpl\n"
            "def register_exporters():\n"
            "    return [Crash()]\n")
        result = invoke("--plugins-dir", folder, "export", example_json, "-o",
                        tmp_path / "out.crash")
        assert result.exit_code == 1
        assert error_lines(result) == [
            f"storykit: error: plugin {str(folder / 'crash.py')!r} failed writing format "
            "'crash': KeyError: 'summary'"]
        assert sorted(os.listdir(tmp_path)) == ["plugins"]

    def test_a_writers_count_is_printed(self, example_json: Path, tmp_path: Path) -> None:
        """A writer that returns how many stories it wrote (leaving out those without a URL)
        is believed: the line says so, and how many were left out."""
        folder = tmp_path / "plugins"
        folder.mkdir()
        (folder / "urls.py").write_text(
            "import storykit\n"
            "class Urls:\n"
            "    name, media_type, suffix, description = 'urls', 'text/plain', '.urls', 'URLs.'\n"
            "    def write(self, collection, out, **options):\n"
            "        kept = [s for s in collection if s.url and 'song' not in s.url]\n"
            "        out.write(''.join(s.url + '\\n' for s in kept).encode())\n"
            "        return len(kept)\n"
            "@storykit.hookimpl\n"
            "def register_exporters():\n"
            "    return [Urls()]\n")
        out = tmp_path / "out.urls"
        result = invoke("--plugins-dir", folder, "export", example_json, "-o", out)
        assert result.exit_code == 0, result.stderr
        n = len(out.read_text().splitlines())
        assert error_lines(result) == [
            f"wrote {out} (urls, {n} stories, {10 - n} left out)"]
        assert n < 10

    def test_missing_plugins_dir(self, example_json: Path, tmp_path: Path) -> None:
        """A --plugins-dir that does not exist is a usage error."""
        result = invoke("--plugins-dir", tmp_path / "nope", "formats")
        assert result.exit_code == 2
        [line] = error_lines(result)
        assert line.startswith("storykit: error: Invalid value for '--plugins-dir'")


class TestFormats:
    def test_table(self) -> None:
        """The table has a header and one row per format: name, suffix, media type, plugin,
        distribution, description."""
        result = invoke("formats")
        assert result.exit_code == 0, result.stderr
        lines = result.stdout.splitlines()
        assert lines[0].split() == ["NAME", "SUFFIX", "MEDIA", "TYPE", "PLUGIN",
                                    "DISTRIBUTION", "DESCRIPTION"]
        writers = lines[1:lines.index("")]  # (the readers' table follows a blank line)
        rows = {line.split()[0]: line for line in writers}
        assert {"csv", "json"} <= set(rows)
        assert rows["json"].split()[1:6] == [".json", "application/json",
                                             "storykit.exporters.json", "storykit",
                                             storykit.__version__]
        assert rows["json"].endswith(Registry(autoload=False).get("json").description)
        # Columns line up: every row's media type starts where the header's does.
        start = lines[0].index("MEDIA TYPE")
        assert all(line[start - 2:start] == "  " and line[start] != " " for line in writers)
        # Then every reader, with its suffixes and what it reads.
        readers = lines[lines.index("") + 1:]
        assert readers[0].split() == ["READER", "SUFFIXES", "INPUT", "DESCRIPTION"]
        by_name = {line.split()[0]: line.split() for line in readers[1:]}
        assert set(by_name) == set(storykit.readers())
        assert by_name["json"][1:3] == [".json", "stream"]
        assert by_name["folder"][1:3] == ["-", "folder"]

    def test_json(self) -> None:
        """--json gives the same table as a list of objects."""
        result = invoke("formats", "--json")
        assert result.exit_code == 0, result.stderr
        rows = {r["name"]: r for r in json.loads(result.stdout)}
        assert rows["csv"] == {
            "name": "csv", "suffix": ".csv", "media_type": "text/csv",
            "plugin": "storykit.exporters.csv",
            "distribution": f"storykit {storykit.__version__}",
            "description": Registry(autoload=False).get("csv").description}

    def test_plugins_dir(self) -> None:
        """A one-file plugin is listed with its file as plugin and no distribution."""
        result = invoke("formats", "--json", "--plugins-dir", PLUGINS)
        assert result.exit_code == 0
        rows = {r["name"]: r for r in json.loads(result.stdout)}
        assert rows["plaintext"]["plugin"] == str(PLUGINS / "plaintext.py")
        assert rows["plaintext"]["distribution"] is None
        assert "shared" in rows
        assert "incomplete" not in rows


class TestHelp:
    @pytest.mark.parametrize("command", [None, *sorted(main.commands)])
    def test_every_help_has_an_example(self, command: str | None) -> None:
        """Every command's --help shows at least one example command line."""
        result = invoke(*([command] if command else []), "--help")
        assert result.exit_code == 0
        assert "Example" in result.stdout
        assert "  storykit " in result.stdout

    def test_commands(self) -> None:
        """validate, export and formats are there."""
        assert {"validate", "export", "formats"} <= set(main.commands)

    def test_unknown_command(self) -> None:
        """A misspelled command is a usage error with a one-line message."""
        result = invoke("exprot")
        assert result.exit_code == 2
        [line] = error_lines(result)
        assert line.startswith("storykit: error: No such command 'exprot'.")

    def test_version(self) -> None:
        """--version prints the version."""
        result = invoke("--version")
        assert result.exit_code == 0
        assert storykit.__version__ in result.stdout


def run(*args: str | Path) -> subprocess.CompletedProcess[bytes]:
    env = dict(os.environ, STORYKIT_DISABLE_PLUGIN_AUTOLOAD="1")
    return subprocess.run([STORYKIT, *map(str, args)], capture_output=True, env=env,
                          timeout=120, check=False)


class TestRealProcess:
    def test_export_to_stdout(self, example_json: Path, example: storykit.Collection) -> None:
        """The installed command writes JSON Lines to a pipe."""
        done = run("export", example_json, "-f", "json", "-O", "shape=lines", "-o", "-")
        assert done.returncode == 0, done.stderr
        assert storykit.loads(done.stdout, "jsonl").stories == example.stories

    def test_error_then_debug(self, example_json: Path) -> None:
        """Without --debug an error is one line; with it, a traceback."""
        done = run("export", example_json, "--format", "htm")
        assert done.returncode == 2
        [line] = done.stderr.decode().splitlines()
        assert line.startswith("storykit: error: unknown format 'htm' (available: ")
        debug = run("--debug", "export", example_json, "--format", "htm")
        assert debug.returncode == 1
        assert b"Traceback (most recent call last)" in debug.stderr
        assert b"UnknownFormatError" in debug.stderr

    @pytest.mark.concurrency
    def test_sigterm_stops_the_workers_and_writes_nothing(self, tmp_path: Path) -> None:
        """SIGTERM to a big export in worker processes: one line ``storykit: error:
        terminated``, exit 143, no output file and no worker left running (it used to die
        where it stood, leaving its workers behind)."""
        import signal
        import time

        big = tmp_path / "big.jsonl"
        storykit.dump(storykit.Collection(stories=[
            {"title": f"Story {i}", "published": "2021-02-03", "summary": "word " * 60}
            for i in range(30_000)]), big, shape="lines", format="json")
        out = tmp_path / "out.csv"
        proc = subprocess.Popen([STORYKIT, "export", str(big), "-o", str(out), "--jobs", "2"],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                env=dict(os.environ, STORYKIT_DISABLE_PLUGIN_AUTOLOAD="1"))
        children = Path(f"/proc/{proc.pid}/task/{proc.pid}/children")
        workers: list[int] = []
        try:
            deadline = time.monotonic() + 60
            while len(workers) < 3 and proc.poll() is None and time.monotonic() < deadline:
                workers = [int(p) for p in children.read_text().split()]  # (and the tracker)
                time.sleep(0.02)
            proc.send_signal(signal.SIGTERM)
            _, err = proc.communicate(timeout=60)
        finally:  # (a failed wait leaves no process behind)
            if proc.poll() is None:
                proc.kill()
                proc.communicate()
        assert len(workers) >= 3, "the export ended before its workers started"
        assert (proc.returncode, err.decode()) == (143, "storykit: error: terminated\n")
        assert not out.exists() and sorted(p.name for p in tmp_path.iterdir()) == ["big.jsonl"]

        def running(pid: int) -> bool:  # (a zombie nobody reaps has ended too)
            try:
                return "\nState:\tZ" not in Path(f"/proc/{pid}/status").read_text()
            except OSError:
                return False

        # A worker stopped while it still starts up ends once it sees its parent gone.
        deadline = time.monotonic() + 15
        while any(map(running, workers)) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not [pid for pid in workers if running(pid)]

    def test_an_ignored_sigterm_stays_ignored(self) -> None:
        """A parent that starts the command with SIGTERM ignored is obeyed: the command does
        not take SIGTERM over (as Python keeps an ignored SIGINT ignored)."""
        import signal

        from storykit.cli import _stop_on_sigterm

        previous = signal.signal(signal.SIGTERM, signal.SIG_IGN)
        try:
            assert _stop_on_sigterm() is None
            assert signal.getsignal(signal.SIGTERM) is signal.SIG_IGN
        finally:
            signal.signal(signal.SIGTERM, previous)

    def test_closed_stdout(self, tmp_path: Path, example_json: Path) -> None:
        """Standard output closed (``>&-``) and no -o: one line saying so, exit 1, for an
        export, a streamed export and a digest (it was an AttributeError on None); and
        ``-o /dev/stdout`` too (its temporary file took descriptor 1 and was copied into
        itself until the disk was full)."""
        jsonl = tmp_path / "in.jsonl"
        storykit.dump(storykit.load(example_json), jsonl, format="json", shape="lines")
        for args in (["export", str(example_json), "-f", "csv"],
                     ["export", str(jsonl), "-f", "csv"],
                     ["digest", str(example_json), "--week", "2021-W07", "-o", "-"],
                     ["export", str(jsonl), "-f", "csv", "-o", "/dev/stdout"]):
            done = subprocess.run([STORYKIT, *args], stdout=subprocess.DEVNULL,
                                  stderr=subprocess.PIPE, preexec_fn=lambda: os.close(1),
                                  env=dict(os.environ, STORYKIT_DISABLE_PLUGIN_AUTOLOAD="1"),
                                  check=False)
            said = ("-o /dev/stdout: descriptor 1 is closed" if "/dev/stdout" in args
                    else "standard output is closed: give -o FILE")
            assert (done.returncode, done.stderr.decode()) == (
                1, f"storykit: error: {said}\n"), args

    @pytest.mark.concurrency
    def test_closed_pipe(self, tmp_path: Path) -> None:
        """A reader that stops early (| head -c 10) is not an error and prints no traceback."""
        big = tmp_path / "big.jsonl"  # more than a pipe's buffer, so the writer meets EPIPE
        storykit.dump(storykit.Collection(stories=[
            {"title": f"Story {i}", "published": "2021-02-03", "summary": "word " * 50}
            for i in range(2000)]), big, shape="lines", format="json")
        proc = subprocess.Popen([STORYKIT, "export", str(big), "-f", "csv"],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                env=dict(os.environ, STORYKIT_DISABLE_PLUGIN_AUTOLOAD="1"))
        assert proc.stdout is not None and proc.stderr is not None
        try:
            proc.stdout.read(10)
            proc.stdout.close()
            err = proc.stderr.read()
            proc.wait(timeout=120)
        finally:  # (a failed wait leaves no process behind)
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        assert b"Traceback" not in err
        assert proc.returncode == 0  # a reader that stops early is not an error

    @pytest.mark.parametrize("module", ["storykit", "storykit.cli"])
    def test_run_as_a_module(self, module: str, example_json: Path,
                             example: storykit.Collection) -> None:
        """``python -m storykit`` (and ``-m storykit.cli``) is the same command as the script,
        for a venv whose scripts are not on PATH: its commands, its errors, its exit codes."""
        env = dict(os.environ, STORYKIT_DISABLE_PLUGIN_AUTOLOAD="1")

        def python_m(*args: str | Path) -> subprocess.CompletedProcess[bytes]:
            return subprocess.run([sys.executable, "-m", module, *map(str, args)],
                                  capture_output=True, env=env, timeout=120, check=False)

        done = python_m("export", example_json, "-f", "json", "-O", "shape=lines", "-o", "-")
        assert done.returncode == 0, done.stderr
        assert storykit.loads(done.stdout, "jsonl").stories == example.stories
        digest = python_m("digest", "--help")  # a command registered from another module
        assert digest.returncode == 0, digest.stderr
        assert b"--week" in digest.stdout
        bad = python_m("export", example_json, "--format", "htm")
        assert bad.returncode == 2
        assert bad.stderr == run("export", example_json, "--format", "htm").stderr


class TestSuffixes:
    """Output names that load() reads are names export writes: .jsonl, .ndjson, .tsv."""

    @pytest.mark.parametrize(("suffix", "fmt", "options"), [
        (".jsonl", "json", ["-O", "shape=lines"]), (".ndjson", "json", ["-O", "shape=lines"]),
        (".tsv", "csv", ["-O", "delimiter=tab"])])
    def test_the_suffix_picks_format_and_shape(self, tmp_path: Path, example_json: Path,
                                               example: storykit.Collection, suffix: str,
                                               fmt: str, options: list[str]) -> None:
        """-o out.jsonl writes JSON Lines (as -f json -O shape=lines does), -o out.tsv
        tab-separated CSV; each loads back equal, streamed from JSON Lines too."""
        out = tmp_path / f"out{suffix}"
        result = invoke("export", example_json, "-o", out)
        assert result.exit_code == 0, result.stderr
        explicit = invoke("export", example_json, "-f", fmt, *options, "-o", "-")
        assert out.read_bytes() == explicit.stdout_bytes
        assert storykit.load(out).stories == example.stories
        again = tmp_path / f"again{suffix}"  # streamed: JSON Lines in
        assert invoke("export", tmp_path / "out.jsonl" if suffix == ".jsonl" else out,
                      "-o", again).exit_code == 0
        assert storykit.load(again).stories == example.stories

    def test_options_given_win(self, tmp_path: Path, example_json: Path) -> None:
        """-O overrides what the suffix implies."""
        out = tmp_path / "out.tsv"
        assert invoke("export", example_json, "-o", out, "-O", "delimiter=;").exit_code == 0
        assert out.read_text(encoding="utf-8").startswith("id;title;")

    def test_an_unknown_suffix_lists_them(self, tmp_path: Path, example_json: Path) -> None:
        """An output name no format takes is a usage error listing the suffixes, these too."""
        result = invoke("export", example_json, "-o", tmp_path / "out.txt")
        assert result.exit_code == 2
        [line] = error_lines(result)
        assert all(f"{s}," in line or f"{s})" in line for s in (".jsonl", ".ndjson", ".tsv"))


class TestStreamedToStdout:
    def test_stdout_gets_what_a_file_gets(self, tmp_path: Path) -> None:
        """A JSON Lines archive exported to standard output (streamed through a temporary
        file) gives the bytes a file gets; with a problem, nothing reaches standard output."""
        src = tmp_path / "in.jsonl"
        storykit.dump(storykit.Collection(stories=[
            {"title": f"Story {i}", "published": "2021-02-03", "summary": "=1+1 and more"}
            for i in range(300)]), src)
        to_file = invoke("export", src, "-o", tmp_path / "out.csv")
        assert to_file.exit_code == 0, to_file.stderr
        done = run("export", src, "-f", "csv", "-o", "-")
        assert done.returncode == 0, done.stderr
        assert done.stdout == (tmp_path / "out.csv").read_bytes()
        with src.open("a", encoding="utf-8") as f:
            f.write('{"title": "Bad", "published": "2021-02-30", "summary": "s"}\n')
        bad = run("export", src, "-f", "csv", "-o", "-")
        assert bad.returncode == 1
        assert bad.stdout == b""
        assert b"line 301: stories[300].published" in bad.stderr


class TestExitStatus:
    """0 success, 1 invalid input, 2 a usage error (whatever the command), 130 Ctrl-C."""

    @pytest.mark.parametrize("args", [
        ["export", "{bad}", "-o", "{tmp}/x.csv", "-O", "bogus=1"],
        ["export", "{bad}", "-f", "nope", "-o", "-"],
        ["export", "{bad}", "-o", "{tmp}/x.txt"],
        ["digest", "{good}", "-f", "nope"],
        ["digest", "{good}", "--month", "2021-02", "-o", "{tmp}/x.txt"],
        ["digest", "{good}", "--month", "2021-02", "-O", "bogus=1", "--check"],
        ["export", "{good}", "-f", "email", "-O", "to=notanaddress", "-o", "-"],
        ["send", "{tmp}", "--smtp", "127.0.0.1:1", "--timeout", "0"],
        ["send", "{tmp}", "--smtp", "127.0.0.1:1", "--timeout", "nan"],
    ])
    def test_usage_errors_exit_2_before_reading(self, args: list[str], tmp_path: Path,
                                                example_json: Path, bad_file: Path) -> None:
        """A format, option or value that is wrong is a usage error (exit 2) on one line,
        reported before the input is read: a bad input file does not hide it."""
        filled = [a.format(bad=bad_file, good=example_json, tmp=tmp_path) for a in args]
        result = CliRunner().invoke(main, filled, prog_name="storykit")
        assert result.exit_code == 2, result.stderr
        [line] = error_lines(result)
        assert line.startswith("storykit: error: ")
        assert "2021-02-30" not in line  # the bad file was not read

    def test_validate_reports_a_folder_and_goes_on(self, tmp_path: Path,
                                                    example_json: Path) -> None:
        """A folder with no stories among the files is one problem (exit 1); the other files
        are checked. (A content folder is read by the folder reader.)"""
        folder = tmp_path / "folder.json"
        folder.mkdir()
        result = invoke("validate", example_json, folder, example_json)
        assert result.exit_code == 1
        assert result.stdout.count(": ok (10 stories, 1 contact)") == 2
        assert error_lines(result) == [
            f"storykit: error: 1 problem in {folder}",
            "  (document): is a folder with no story files (.md, .markdown, .json or .toml) "
            "and no collection file"]

    def test_a_bad_template_folder_is_named(self, tmp_path: Path, example_json: Path) -> None:
        """A template folder that does not exist is named in the error, not the output file."""
        result = invoke("export", example_json, "-o", tmp_path / "x.html",
                        "-O", "template_dir=nonexistent")
        assert result.exit_code == 1
        [line] = error_lines(result)
        assert "'nonexistent'" in line and "x.html" not in line and "Errno" not in line
        assert not (tmp_path / "x.html").exists()


class TestNotAFile:
    """-o onto a device, a pipe or /dev/stdout writes into it; it is never replaced."""

    @pytest.mark.concurrency
    def test_fifo(self, tmp_path: Path, example_json: Path) -> None:
        """A named pipe gets the bytes, and stays a pipe."""
        fifo = tmp_path / "pipe"
        with draining(fifo) as got:  # (a reader that is ended even if the export fails)
            result = invoke("export", example_json, "-f", "csv", "-o", fifo)
            assert result.exit_code == 0, result.stderr
            assert stat.S_ISFIFO(fifo.lstat().st_mode)
        assert got == [storykit.dumps(storykit.load(example_json), "csv")]

    def test_device(self, tmp_path: Path, example_json: Path) -> None:
        """A character device (a copy of /dev/null where the system lets us make one) is
        written into, never replaced by a file; so is a large streamed export."""
        node = tmp_path / "null"
        try:
            os.mknod(node, 0o666 | stat.S_IFCHR, os.makedev(1, 3))
        except PermissionError:
            pytest.skip("making a device node needs privileges")
        big = tmp_path / "big.jsonl"
        storykit.dump(storykit.load(example_json), big, format="json", shape="lines")
        for source in (example_json, big):
            result = invoke("export", source, "-f", "csv", "-o", node)
            assert result.exit_code == 0, result.stderr
            assert stat.S_ISCHR(node.lstat().st_mode)
        assert sorted(p.name for p in tmp_path.iterdir()) == ["big.jsonl", "null"]

    def test_dev_stdout(self, example_json: Path, tmp_path: Path) -> None:
        """-o /dev/stdout writes to standard output, as ``-o -`` does: into a pipe, and after
        what a file that standard output goes to already holds (``>>``, ``{ echo; ...; } >``),
        never emptying it."""
        csv_bytes = storykit.dumps(storykit.load(example_json), "csv")
        done = run("export", example_json, "-f", "csv", "-o", "/dev/stdout")
        assert done.returncode == 0, done.stderr
        assert done.stdout == csv_bytes
        log = tmp_path / "log.txt"
        log.write_bytes(b"KEEP ME\n")
        with log.open("ab") as out:
            subprocess.run([STORYKIT, "export", str(example_json), "-f", "csv", "-o",
                            "/dev/stdout"], stdout=out, check=True, timeout=120,
                           env=dict(os.environ, STORYKIT_DISABLE_PLUGIN_AUTOLOAD="1"))
        assert log.read_bytes() == b"KEEP ME\n" + csv_bytes

    def test_a_file_in_dev_shm_is_still_replaced_atomically(self, example_json: Path) -> None:
        """A regular file under /dev (a tmpfs such as /dev/shm) is a file: a failed export
        leaves it as it was."""
        shm = Path("/dev/shm")
        if not (shm.is_dir() and os.access(shm, os.W_OK)):
            pytest.skip("no writable /dev/shm")
        target = shm / f"storykit-test-{os.getpid()}.html"
        target.write_bytes(b"OLD PAGE")
        try:
            result = invoke("export", example_json, "-O", "page=5", "-o", target)
            assert result.exit_code == 2
            assert target.read_bytes() == b"OLD PAGE"
            assert invoke("export", example_json, "-o", target).exit_code == 0
            assert target.read_bytes().startswith(b"<!DOCTYPE html>")
        finally:
            target.unlink()


def test_click_is_the_toolkit() -> None:
    """The CLI is a click group (as Datasette and sqlite-utils)."""
    assert isinstance(main, click.Group)


class TestExportPages:
    def test_a_folder_output_gets_every_html_page(self, tmp_path: Path) -> None:
        """-o DIR/ with the html format and page_size writes index.html, page-2.html, ... there."""
        import html5lib

        example = Path(__file__).resolve().parents[1] / "examples/impact-and-people/stories.json"
        folder = tmp_path / "site"
        result = CliRunner().invoke(main, ["export", str(example), "--format", "html",
                                           "-O", "page_size=4", "-o", f"{folder}/"])
        assert result.exit_code == 0, result.output
        assert sorted(p.name for p in folder.iterdir()) == [
            "index.html", "page-2.html", "page-3.html"]
        titles = []
        for name in ("index.html", "page-2.html", "page-3.html"):
            tree = html5lib.parse((folder / name).read_text(encoding="utf-8"),
                                  namespaceHTMLElements=False)
            titles += [" ".join("".join(h.itertext()).split())
                       for h in tree.iter("h2") if "sk-title" in (h.get("class") or "")]
        assert len(titles) == 10
        assert len(set(titles)) == 10

    @pytest.mark.parametrize(("output", "says"), [
        ("site/", "is a folder: give --format (the html format writes its pages there"),
        ("README", "has no suffix to tell the format: give --format"),
    ])
    def test_without_format_a_folder_or_a_bare_name_says_to_give_one(
            self, tmp_path: Path, example_json: Path, output: str, says: str) -> None:
        """-o a folder, or a name without a suffix, and no --format: the error says what -o is
        and that --format is needed (not "unknown suffix 'site'"), and writes nothing."""
        result = CliRunner().invoke(main, ["export", str(example_json),
                                           "-o", f"{tmp_path}/{output}"])
        assert result.exit_code == 2
        assert result.stderr.startswith(f"storykit: error: -o {tmp_path}/{output} {says}")
        assert result.stderr.count("\n") == 1 and "unknown" not in result.stderr
        assert sorted(p.name for p in tmp_path.iterdir()) == []

    def test_a_dot_file_name_is_still_a_suffix(self, tmp_path: Path, example_json: Path) -> None:
        """-o .html (a name that is all suffix) is the html format, as before."""
        import html5lib

        result = CliRunner().invoke(main, ["export", str(example_json), "-o",
                                           str(tmp_path / ".html")])
        assert result.exit_code == 0, result.output
        tree = html5lib.parse((tmp_path / ".html").read_text(encoding="utf-8"),
                              namespaceHTMLElements=False)
        assert tree.find(".//body") is not None

    @pytest.mark.parametrize(("fmt", "says"), [
        ("html", "page_size"),  # without page_size there is nothing to page
        ("csv", "is a folder"),  # a format that writes one file says so
    ])
    def test_a_folder_output_it_cannot_fill_is_a_usage_error(
            self, tmp_path: Path, example_json: Path, fmt: str, says: str) -> None:
        """-o a folder with a format that cannot write pages there: a usage error saying why
        (html without page_size names the option; csv says it writes one file)."""
        result = CliRunner().invoke(main, ["export", str(example_json), "--format", fmt,
                                           "-o", f"{tmp_path}/"])
        assert result.exit_code == 2
        assert says in result.stderr
