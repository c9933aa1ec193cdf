"""The plugin system: built-ins, one-file plugins, entry points, broken plugins, options, dump()."""

from __future__ import annotations

import enum
import json
import os
import shutil
import stat
import subprocess
import sys
import textwrap
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any, BinaryIO, Literal

import attrs
import pytest

import storykit
from storykit.errors import OptionError, PluginError, UnknownFormatError
from storykit.exporter import parse_options
from storykit.plugins import Registry, use_registry

PLUGINS = Path(__file__).parent / "plugins"
ROOT = Path(__file__).resolve().parents[1]
PYTHON = sys.executable
#: The console script, installed beside the interpreter running the tests.
STORYKIT = str(Path(sys.executable).with_name("storykit"))
BUILTIN = {"csv", "json"}  # the formats this suite relies on; html and email join them


def plugin_dir(tmp_path: Path, *names: str) -> Path:
    """A folder holding copies of the named fixture plugins (``tests/plugins/<name>.py``)."""
    folder = tmp_path / "plugins"
    folder.mkdir(exist_ok=True)
    for name in names:
        shutil.copy(PLUGINS / f"{name}.py", folder / f"{name}.py")
    return folder


def registry_with(tmp_path: Path, *names: str) -> tuple[Registry, Path]:
    folder = plugin_dir(tmp_path, *names)
    return Registry(autoload=False, plugins_dirs=[folder]), folder


def small() -> storykit.Collection:
    return storykit.Collection(title="Small", stories=[
        {"title": "A song to let children fly", "published": "2021-02-03",
         "summary": "Sri Lankan music star Ridma Weerawardena talks about his song."},
        {"title": "=HYPERLINK(\"https://evil.example\")", "published": "2021-02-04",
         "summary": "-1 and +1 @home"},
    ])


def still_works(reg: Registry) -> None:
    """Every built-in format still renders the collection."""
    assert set(reg.formats()) >= BUILTIN
    for name in BUILTIN:
        with use_registry(reg):
            assert storykit.dumps(small(), name)


class TestBuiltins:
    def test_builtins_are_plugins(self) -> None:
        """The built-in formats are registered through register_exporters(), like any plugin."""
        reg = Registry(autoload=False)
        assert set(reg.formats()) >= BUILTIN
        for name in BUILTIN:
            info = reg.exporters[name]
            assert info.plugin == f"storykit.exporters.{name}"
            assert info.distribution is not None
            assert info.distribution.startswith("storykit ")
            impls = {i.plugin_name for i in reg.pm.hook.register_exporters.get_hookimpls()}
            assert info.plugin in impls
        assert reg.errors == []

    def test_no_builtins(self) -> None:
        """A registry without built-ins has only what its plugins bring."""
        reg = Registry(autoload=False, builtins=False)
        assert reg.formats() == {}

    def test_hooks_are_documented(self) -> None:
        """Every hook in hookspecs.py has a docstring that says what to return."""
        from storykit import hookspecs
        from storykit.plugins import HOOK_NAMES

        assert "register_exporters" in HOOK_NAMES
        for name in HOOK_NAMES:
            doc = getattr(hookspecs, name).__doc__
            assert doc is not None
            assert doc.strip().startswith("Return"), name
            assert len(doc.strip()) > 60, name


class TestOneFilePlugins:
    def test_good_plugin(self, tmp_path: Path) -> None:
        """A one-file plugin's format is listed, named by its file, and renders."""
        reg, folder = registry_with(tmp_path, "plaintext")
        assert reg.errors == []
        info = reg.exporters["plaintext"]
        assert info.plugin == str(folder / "plaintext.py")
        assert info.distribution is None
        with use_registry(reg):
            text = storykit.dumps(small(), "plaintext").decode()
        assert text.startswith("Small\n")
        assert "1. A song to let children fly (2021-02-03)" in text

    def test_plugins_dir_in_the_api(self, tmp_path: Path) -> None:
        """storykit.formats(plugins_dir=...) loads the folder; dumps() can then use the format."""
        folder = plugin_dir(tmp_path, "plaintext")
        with use_registry(Registry(autoload=False)):
            assert "plaintext" not in storykit.formats()
            assert "plaintext" in storykit.formats(plugins_dir=folder)
            assert "plaintext" in storykit.formats(plugins_dir=folder)  # loading twice is fine
            assert storykit.dumps(small(), "plaintext", numbered=False).startswith(b"Small")

    def test_plugins_dir_must_be_a_folder(self, tmp_path: Path) -> None:
        """A plugins folder that does not exist is an error naming it."""
        with pytest.raises(NotADirectoryError, match="nope"):
            Registry(autoload=False, plugins_dirs=[tmp_path / "nope"])

    @pytest.mark.parametrize(("fixture", "says"), [
        ("broken_import", "failed to load: ModuleNotFoundError: No module named "
                          "'storykit_no_such_dependency'"),
        ("wrong_signature", "has a wrong signature for hook register_exporters(): argument(s) "
                            "'config' are not in the hook"),
        ("misspelled_hook", "has a hook storykit does not know: register_exporter(); did you "
                            "mean register_exporters()?"),
        ("raising_hook", "failed in register_exporters(): RuntimeError: the licence server is "
                         "down"),
        ("missing_attributes", "registered an exporter Incomplete without media_type, write()"),
        ("undecorated_hook", "defines register_exporters() without @storykit.hookimpl"),
    ])
    def test_broken_plugin(self, tmp_path: Path, fixture: str, says: str) -> None:
        """A broken plugin is one precise error naming its file; every other format works."""
        reg, folder = registry_with(tmp_path, fixture, "plaintext")
        assert len(reg.errors) == 1, reg.errors
        err = reg.errors[0]
        assert isinstance(err, PluginError)
        assert err.plugin == str(folder / f"{fixture}.py")
        assert str(err).startswith(f"plugin {str(folder / f'{fixture}.py')!r} ")
        assert says in str(err)
        assert "\n" not in str(err)
        assert "plaintext" in reg.formats()
        still_works(reg)

    def test_plugin_that_exits(self, tmp_path: Path) -> None:
        """A plugin calling exit() at import is reported; it does not end the program."""
        folder = plugin_dir(tmp_path, "plaintext")
        (folder / "exits.py").write_text("raise SystemExit(3)\n")
        reg = Registry(autoload=False, plugins_dirs=[folder])
        [err] = reg.errors
        assert str(err) == f"plugin {str(folder / 'exits.py')!r} failed to load: SystemExit: 3"
        assert "plaintext" in reg.formats()

    def test_broken_plugin_leaves_no_hooks(self, tmp_path: Path) -> None:
        """A rejected plugin is not left half-registered in the plugin manager."""
        reg, folder = registry_with(tmp_path, "wrong_signature", "misspelled_hook")
        names = {name for name, _ in reg.pm.list_name_plugin()}
        assert str(folder / "wrong_signature.py") not in names
        assert str(folder / "misspelled_hook.py") not in names
        reg.pm.check_pending()  # nothing unknown left behind

    def test_errors_are_not_repeated(self, tmp_path: Path) -> None:
        """Collecting the formats again does not report a failing hook twice."""
        reg, _ = registry_with(tmp_path, "raising_hook")
        first = [str(e) for e in reg.errors]
        reg.add_plugins_dir(plugin_dir(tmp_path, "plaintext"))
        assert "plaintext" in reg.formats()
        assert [str(e) for e in reg.errors] == first

    def test_two_plugins_claim_one_name(self, tmp_path: Path) -> None:
        """Two plugins claiming one name: an error names both; the first keeps the name."""
        reg, folder = registry_with(tmp_path, "claim_a", "claim_b")
        a, b = str(folder / "claim_a.py"), str(folder / "claim_b.py")
        assert len(reg.errors) == 1
        message = str(reg.errors[0])
        assert reg.errors[0].plugin == b
        assert repr(a) in message
        assert repr(b) in message
        assert "'shared'" in message
        assert reg.exporters["shared"].plugin == a
        with use_registry(reg):
            assert storykit.dumps(small(), "shared") == b"A\n"
        still_works(reg)

    def test_a_plugin_cannot_take_a_builtin_name(self) -> None:
        """A plugin claiming 'json' is reported with its distribution; the built-in stays."""

        class FakeJSON:
            name = "json"
            media_type = "application/json"
            suffix = ".json"
            description = "An impostor."

            def write(self, collection: storykit.Collection, out: BinaryIO,
                      **options: Any) -> None:
                out.write(b"{}")

        class Plugin:
            @storykit.hookimpl
            def register_exporters(self) -> list[FakeJSON]:
                return [FakeJSON()]

        reg = Registry(autoload=False)
        reg.register(Plugin(), "impostor", distribution="storykit-impostor 6.6")
        assert reg.exporters["json"].plugin == "storykit.exporters.json"
        [err] = reg.errors
        assert str(err).startswith("plugin 'impostor' (storykit-impostor 6.6) claims format "
                                   "'json', which plugin 'storykit.exporters.json' (storykit ")
        still_works(reg)

    def test_the_whole_fixture_folder(self, tmp_path: Path) -> None:
        """Loading every fixture at once: one error per broken plugin, the good ones work."""
        reg = Registry(autoload=False, plugins_dirs=[PLUGINS])
        failing = {Path(e.plugin).stem for e in reg.errors}
        assert failing == {"broken_import", "wrong_signature", "misspelled_hook", "raising_hook",
                           "missing_attributes", "undecorated_hook", "claim_b"}
        assert {"plaintext", "shared"} <= set(reg.formats())
        still_works(reg)

    def test_same_plugin_name_twice(self) -> None:
        """A second plugin under a name already registered is refused, not swapped in."""
        import types

        reg = Registry(autoload=False)
        assert reg.register(types.ModuleType("x"), "storykit.exporters.json") is None
        assert "another plugin of the same name" in str(reg.errors[0])
        assert "json" in reg.formats()

    def test_non_list_result(self) -> None:
        """register_exporters() returning one exporter instead of a list is a clear error."""

        class Plugin:
            @storykit.hookimpl
            def register_exporters(self) -> object:
                return "markdown"

        reg = Registry(autoload=False)
        reg.register(Plugin(), "oops")
        assert "returned str from register_exporters(); it must return a list" in str(
            reg.errors[0])


class TestUnknownFormat:
    def test_lists_and_suggests(self) -> None:
        """An unknown format lists the available ones and suggests the closest."""
        with use_registry(Registry(autoload=False)), pytest.raises(UnknownFormatError) as e:
            storykit.dumps(small(), "jsno")
        assert e.value.name == "jsno"
        assert set(e.value.available) >= BUILTIN
        assert "did you mean 'json'?" in str(e.value)
        assert str(e.value).startswith("unknown format 'jsno' (available: ")

    def test_html_suggestion(self) -> None:
        """'htm' suggests 'html' when the html format is installed."""
        reg = Registry(autoload=False)
        if "html" not in reg.formats():
            pytest.skip("the html exporter is not installed yet")
        with pytest.raises(UnknownFormatError, match="did you mean 'html'"):
            reg.get("htm")

    def test_unknown_suffix(self, tmp_path: Path) -> None:
        """dump() to a file whose suffix no format has names the suffix."""
        with use_registry(Registry(autoload=False)), pytest.raises(UnknownFormatError,
                                                                   match=r"'\.xyz'"):
            storykit.dump(small(), tmp_path / "out.xyz")
        assert not (tmp_path / "out.xyz").exists()


@attrs.frozen
class _Opts:
    size: int = 1
    flag: bool = False
    mode: Literal["a", "b"] = "a"
    ratio: float = 1.0
    names: tuple[str, ...] = ()


class Colour(enum.Enum):
    BLUE = "blue"
    RED = "red"


@attrs.frozen
class Typed:
    topics: list[str] = attrs.Factory(list)
    since: date | None = None
    at: datetime | None = None
    colour: Colour = Colour.RED
    weights: dict[str, int] = attrs.Factory(dict)


class _Echo:
    """Writes its options back as JSON, to see what storykit passed it."""

    name = "echo"
    media_type = "application/json"
    suffix = ".echo"
    description = "Its own options, as JSON."
    options_type = _Opts

    def write(self, collection: storykit.Collection, out: BinaryIO, **options: Any) -> None:
        out.write(json.dumps(options, sort_keys=True).encode())


class _NoOptions:
    name = "bare"
    media_type = "text/plain"
    suffix = ".bare"
    description = "Takes no options."

    def write(self, collection: storykit.Collection, out: BinaryIO, **options: Any) -> None:
        out.write(b"bare")


class _Plugin:
    def __init__(self, *exporters: object) -> None:
        self.exporters = exporters

    @storykit.hookimpl
    def register_exporters(self) -> list[object]:
        return list(self.exporters)


def echo_registry() -> Registry:
    reg = Registry(autoload=False)
    assert reg.register(_Plugin(_Echo(), _NoOptions()), "echo-plugin")
    return reg


class TestOptions:
    def test_typed_options_reach_the_exporter(self) -> None:
        """Options given as strings (as on the command line) arrive converted to their types."""
        with use_registry(echo_registry()):
            got = json.loads(storykit.dumps(small(), "echo", size="3", flag="yes", mode="b",
                                            ratio="0.5", names="x, y"))
        assert got == {"size": 3, "flag": True, "mode": "b", "ratio": 0.5, "names": ["x", "y"]}

    @pytest.mark.parametrize(("options", "option", "says"), [
        ({"sise": 3}, "sise", "does not exist (did you mean 'size'?"),
        ({"size": "three"}, "size", "must be a whole number (got 'three')"),
        ({"flag": "maybe"}, "flag", "must be true or false (got 'maybe')"),
        ({"mode": "c"}, "mode", "must be one of 'a', 'b' (got 'c')"),
        ({"size": True}, "size", "must be a whole number (got True)"),
    ])
    def test_bad_options(self, options: dict[str, Any], option: str, says: str) -> None:
        """An unknown or ill-typed option is an OptionError naming the exporter and option."""
        with use_registry(echo_registry()), pytest.raises(OptionError) as e:
            storykit.dumps(small(), "echo", **options)
        assert e.value.exporter == "echo"
        assert e.value.option == option
        assert str(e.value).startswith(f"echo exporter: option {option!r} ")
        assert says in str(e.value)

    def test_no_options_type_takes_no_options(self) -> None:
        """An exporter that declares no options rejects any option, by name."""
        with use_registry(echo_registry()), pytest.raises(OptionError, match="'width'"):
            storykit.dumps(small(), "bare", width=3)

    @pytest.mark.parametrize(("fmt", "options", "option"), [
        ("json", {"indnet": 2}, "indnet"),
        ("json", {"indent": 3}, "indent"),
        ("json", {"shape": "table"}, "shape"),
        ("json", {"ensure_ascii": "perhaps"}, "ensure_ascii"),
        ("csv", {"columns": ("id", "headline")}, "columns"),
        ("csv", {"delimiter": ",,"}, "delimiter"),
        ("csv", {"bom": "sometimes"}, "bom"),
        ("csv", {"header": True, "lineterminator": "\r"}, "lineterminator"),
    ])
    def test_builtin_bad_options(self, fmt: str, options: dict[str, Any], option: str) -> None:
        """The built-in exporters name the bad option, even when others are given with it."""
        with use_registry(Registry(autoload=False)), pytest.raises(OptionError) as e:
            storykit.dumps(small(), fmt, **options)
        assert (e.value.exporter, e.value.option) == (fmt, option)
        assert str(e.value).startswith(f"{fmt} exporter: option {option!r} ")

    def test_builtin_string_options(self) -> None:
        """The built-ins take command-line strings: indent='2', bom='true', delimiter='tab'."""
        with use_registry(Registry(autoload=False)):
            assert storykit.dumps(small(), "json", indent="2") == storykit.dumps(small(), "json",
                                                                                  indent=2)
            data = storykit.dumps(small(), "csv", delimiter="tab", bom="true", columns="id,title")
        assert data.startswith(b"\xef\xbb\xbfid\ttitle\r\n")

    def test_option_types_from_the_command_line(self) -> None:
        """Lists, dates, datetimes and enums are converted from the strings a command line
        gives; a type that text cannot give is an OptionError, not a raw string."""
        exporter = _Echo()
        got = parse_options(exporter, {"topics": "jobs, health", "since": "2021-02-01",
                                       "at": "2021-02-01T10:00:00+01:00", "colour": "blue"},
                            Typed)
        assert got.topics == ["jobs", "health"]
        assert got.since == date(2021, 2, 1)
        assert got.at == datetime(2021, 2, 1, 10, tzinfo=timezone(timedelta(hours=1)))
        assert got.colour is Colour.BLUE
        assert parse_options(exporter, {"colour": "BLUE"}, Typed).colour is Colour.BLUE
        assert parse_options(exporter, {"weights": {"a": 1}}, Typed).weights == {"a": 1}
        for options, says in [({"since": "last week"}, "must be an ISO 8601 date"),
                              ({"colour": "green"}, "must be one of 'blue', 'red'"),
                              ({"weights": "a=1"}, "cannot be given as text")]:
            with pytest.raises(OptionError, match=says):
                parse_options(exporter, options, Typed)

    def test_private_and_aliased_options_go_by_their_init_name(self) -> None:
        """An option stored as ``_width`` (or with an attrs alias) is set by the name the
        class takes, ``width``, and a typo suggests that name."""
        @attrs.frozen
        class Private:
            _width: int = 80
            height: int = attrs.field(default=1, alias="rows")

        got = parse_options(_Echo(), {"width": "60", "rows": "3"}, Private)
        assert (got._width, got.height) == (60, 3)
        with pytest.raises(OptionError, match="did you mean 'width'"):
            parse_options(_Echo(), {"widht": 60}, Private)

    def test_a_converter_runs_once(self) -> None:
        """A converter that does not accept its own output still works through dumps() and
        the command line: the exporter gets the options as given, converted to the type the
        converter takes, and its parse_options() runs the converter once."""
        def words(value: str) -> tuple[str, ...]:
            return tuple(value.split(","))

        @attrs.frozen
        class Tagged:
            tags: tuple[str, ...] = attrs.field(default="", converter=words)

        class TagExporter(_Echo):
            name = "tagged"
            options_type = Tagged

            def write(self, collection: storykit.Collection, out: BinaryIO,
                      **options: Any) -> None:
                out.write(",".join(parse_options(self, options).tags).encode())

        reg = Registry(autoload=False)
        assert reg.register(_Plugin(TagExporter()), "tag-plugin")
        with use_registry(reg):
            assert storykit.dumps(small(), "tagged", tags="jobs,health") == b"jobs,health"
            with pytest.raises(OptionError, match="'tags'"):
                storykit.dumps(small(), "tagged", tags=3)


class _Failing:
    """Writes half a document, then fails."""

    name = "failing"
    media_type = "text/plain"
    suffix = ".fail"
    description = "Fails half-way."

    def write(self, collection: storykit.Collection, out: BinaryIO, **options: Any) -> None:
        out.write(b"half a docu")
        raise RuntimeError("disk on fire")


class TestDump:
    def test_creates_parent_folders(self, tmp_path: Path) -> None:
        """dump() creates missing parent folders and picks the format from the suffix."""
        target = tmp_path / "a" / "b" / "stories.json"
        with use_registry(Registry(autoload=False)):
            assert storykit.dump(small(), target) == target
        assert storykit.load(target) == small()
        assert os.listdir(target.parent) == ["stories.json"]

    @pytest.mark.parametrize(("name", "fmt", "options"), [
        ("s.jsonl", "json", {"shape": "lines"}), ("s.ndjson", "json", {"shape": "lines"}),
        ("s.tsv", "csv", {"delimiter": "tab"})])
    def test_the_names_load_reads(self, tmp_path: Path, name: str, fmt: str,
                                  options: dict[str, str]) -> None:
        """dump() writes the names load() reads: .jsonl and .ndjson as JSON Lines, .tsv with
        tabs; a plugin that claims such a suffix keeps it."""
        col = storykit.Collection(stories=small().stories)
        with use_registry(Registry(autoload=False)) as reg:
            target = storykit.dump(col, tmp_path / name)
            assert target.read_bytes() == storykit.dumps(col, fmt, **options)
            assert storykit.load(target) == col
            reg.register(_Plugin(_Named("lines", Path(name).suffix)), "claims-it")
            assert storykit.dump(col, tmp_path / name).read_bytes() == b"bare"

    def test_failure_keeps_the_old_file(self, tmp_path: Path) -> None:
        """An exporter failing mid-write leaves the old file byte-identical and no temp file."""
        target = tmp_path / "out.txt"
        target.write_bytes(b"the previous version\n")
        reg = Registry(autoload=False)
        reg.register(_Plugin(_Failing()), "failing-plugin")
        with use_registry(reg), pytest.raises(RuntimeError, match="disk on fire"):
            storykit.dump(small(), target, format="failing")
        assert target.read_bytes() == b"the previous version\n"
        assert os.listdir(tmp_path) == ["out.txt"]

    def test_failure_leaves_no_new_file(self, tmp_path: Path) -> None:
        """A failed first write leaves no file at all, not even a partial or temporary one."""
        reg = Registry(autoload=False)
        reg.register(_Plugin(_Failing()), "failing-plugin")
        with use_registry(reg), pytest.raises(RuntimeError):
            storykit.dump(small(), tmp_path / "new" / "out.fail")
        assert os.listdir(tmp_path / "new") == []

    def test_bad_option_writes_nothing(self, tmp_path: Path) -> None:
        """A bad option is found before anything is written."""
        target = tmp_path / "out.json"
        target.write_bytes(b"old")
        with use_registry(Registry(autoload=False)), pytest.raises(OptionError):
            storykit.dump(small(), target, indent=7)
        assert target.read_bytes() == b"old"
        assert os.listdir(tmp_path) == ["out.json"]

    @pytest.mark.parametrize("umask", [0o022, 0o027, 0o002])
    def test_new_file_follows_umask(self, tmp_path: Path, umask: int) -> None:
        """A new file gets 0666 less the umask, as open() would give it (not mkstemp's 0600)."""
        old = os.umask(umask)
        try:
            with use_registry(Registry(autoload=False)):
                storykit.dump(small(), tmp_path / "out.csv")
        finally:
            os.umask(old)
        assert stat.S_IMODE((tmp_path / "out.csv").stat().st_mode) == 0o666 & ~umask

    def test_existing_file_keeps_its_mode(self, tmp_path: Path) -> None:
        """Replacing a private (0600) file keeps it private."""
        target = tmp_path / "out.csv"
        target.write_bytes(b"old")
        target.chmod(0o600)
        with use_registry(Registry(autoload=False)):
            storykit.dump(small(), target)
        assert stat.S_IMODE(target.stat().st_mode) == 0o600
        assert target.read_bytes() != b"old"


# --- entry points, in a subprocess with a fake installed distribution ----------------------------


def fake_site(tmp_path: Path) -> Path:
    """A folder that looks like site-packages with two storykit plugin distributions."""
    site = tmp_path / "site"
    good = site / "storykit_fake-1.2.3.dist-info"
    good.mkdir(parents=True)
    (good / "METADATA").write_text("Metadata-Version: 2.1\nName: storykit-fake\nVersion: 1.2.3\n")
    (good / "entry_points.txt").write_text("[storykit]\nfake = storykit_fake_plugin\n")
    (site / "storykit_fake_plugin.py").write_text(textwrap.dedent('''
        import storykit

        class Fake:
            name = "fake"
            media_type = "text/plain"
            suffix = ".fake"
            description = "A format from an installed distribution."

            def write(self, collection, out, **options):
                out.write(b"fake " + str(len(collection)).encode())

        @storykit.hookimpl
        def register_exporters():
            return [Fake()]
    '''))
    bad = site / "storykit_broken-0.1.dist-info"
    bad.mkdir()
    (bad / "METADATA").write_text("Metadata-Version: 2.1\nName: storykit-broken\nVersion: 0.1\n")
    (bad / "entry_points.txt").write_text("[storykit]\nbroken = storykit_broken_plugin\n")
    (site / "storykit_broken_plugin.py").write_text("import storykit_missing_dependency\n")
    return site


def run(args: list[str], site: Path, **env: str) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if k != "STORYKIT_DISABLE_PLUGIN_AUTOLOAD"}
    environ["PYTHONPATH"] = os.pathsep.join([str(site), *filter(None, [
        os.environ.get("PYTHONPATH")])])
    environ.update(env)
    return subprocess.run(args, capture_output=True, text=True, env=environ, timeout=120,
                          check=False)


class TestNotACollection:
    @pytest.mark.parametrize("value", [(), [], None, "stories"])
    def test_dumps_says_what_it_needs(self, value: object) -> None:
        """dumps() of something other than a Collection is a TypeError saying so, not a
        failure blamed on the exporter's plugin."""
        with pytest.raises(TypeError, match=r"expected a storykit\.Collection, got "):
            storykit.dumps(value, "json")  # type: ignore[arg-type]


class TestEntryPoints:
    def test_formats_lists_the_distribution(self, tmp_path: Path) -> None:
        """`storykit formats` lists an entry-point plugin with its distribution and version."""
        site = fake_site(tmp_path)
        done = run([STORYKIT, "formats", "--json"], site)
        assert done.returncode == 0, done.stderr
        rows = {r["name"]: r for r in json.loads(done.stdout)}
        assert rows["fake"]["plugin"] == "fake"
        assert rows["fake"]["distribution"] == "storykit-fake 1.2.3"
        assert rows["fake"]["media_type"] == "text/plain"
        assert set(rows) >= BUILTIN
        # The broken distribution is named, with its version, on one warning line.
        [warning] = [line for line in done.stderr.splitlines() if "broken" in line]
        assert warning.startswith("storykit: warning: plugin 'broken' (storykit-broken 0.1) "
                                  "failed to load: ModuleNotFoundError: ")

    def test_table_shows_the_distribution(self, tmp_path: Path) -> None:
        """The human table has the plugin and 'storykit-fake 1.2.3' on the fake format's row."""
        done = run([STORYKIT, "formats"], fake_site(tmp_path))
        assert done.returncode == 0, done.stderr
        [row] = [line for line in done.stdout.splitlines() if line.startswith("fake ")]
        assert row.split()[:6] == ["fake", ".fake", "text/plain", "fake", "storykit-fake", "1.2.3"]

    def test_autoload_can_be_switched_off(self, tmp_path: Path) -> None:
        """STORYKIT_DISABLE_PLUGIN_AUTOLOAD=1: no entry point is loaded; built-ins still are."""
        code = ("import sys, storykit; f = storykit.formats(); "
                "print(sorted(f)); print('storykit_fake_plugin' in sys.modules)")
        done = run([PYTHON, "-c", code], fake_site(tmp_path),
                   STORYKIT_DISABLE_PLUGIN_AUTOLOAD="1")
        assert done.returncode == 0, done.stderr
        names, loaded = done.stdout.splitlines()
        assert "'fake'" not in names
        assert "'json'" in names
        assert loaded == "False"

    def test_discovery_is_lazy(self, tmp_path: Path) -> None:
        """`import storykit` loads no plugin; the first formats() or dumps() does."""
        code = textwrap.dedent("""
            import sys
            import storykit
            import storykit.plugins
            assert storykit.plugins._default is None
            assert "storykit_fake_plugin" not in sys.modules
            assert "storykit.exporters.json" not in sys.modules
            col = storykit.Collection(title="T")
            assert "storykit_fake_plugin" not in sys.modules
            print(storykit.dumps(col, "fake").decode())
            assert "storykit_fake_plugin" in sys.modules
        """)
        done = run([PYTHON, "-c", code], fake_site(tmp_path))
        assert done.returncode == 0, done.stderr
        assert done.stdout.strip() == "fake 0"


class TestThemeHooks:
    def test_theme_plugin(self, tmp_path: Path) -> None:
        """A theme plugin's template folder, filters and globals reach the registry."""
        reg, _ = registry_with(tmp_path, "theme_plugin")
        shutil.copytree(PLUGINS / "theme_templates", tmp_path / "plugins" / "theme_templates")
        assert reg.errors == []
        assert [p.name for p in reg.template_dirs()] == ["theme_templates"]
        assert reg.template_filters()["shout"]("hi") == "HI!"
        assert reg.template_globals() == {"theme_name": "Fixture theme"}

    def test_later_plugin_wins_a_filter(self) -> None:
        """Two plugins giving one filter name: the later-registered one's is used."""

        class First:
            @storykit.hookimpl
            def register_template_filters(self) -> dict[str, Any]:
                return {"x": "first", "only_first": 1}

        class Second:
            @storykit.hookimpl
            def register_template_filters(self) -> dict[str, Any]:
                return {"x": "second"}

        reg = Registry(autoload=False, builtins=False)
        reg.register(First(), "first")
        reg.register(Second(), "second")
        assert reg.template_filters() == {"x": "second", "only_first": 1}

    def test_broken_theme_hooks(self) -> None:
        """A theme hook that raises or returns the wrong type is reported; the others work."""

        class Raises:
            @storykit.hookimpl
            def register_template_filters(self) -> dict[str, Any]:
                raise KeyError("boom")

        class Wrong:
            @storykit.hookimpl
            def register_template_dirs(self) -> str:
                return "templates"  # a string, not a list of folders

        class Good:
            @storykit.hookimpl
            def register_template_globals(self) -> dict[str, Any]:
                return {"site": "ok"}

        reg = Registry(autoload=False)
        for plugin, name in ((Raises(), "raises"), (Wrong(), "wrong"), (Good(), "good")):
            reg.register(plugin, name, distribution=f"storykit-{name} 1.0")
        assert reg.template_filters() == {}
        assert reg.template_dirs() == []
        assert reg.template_globals() == {"site": "ok"}
        messages = sorted(str(e) for e in reg.errors)
        assert messages == [
            "plugin 'raises' (storykit-raises 1.0) failed in register_template_filters(): "
            "KeyError: 'boom'",
            "plugin 'wrong' (storykit-wrong 1.0) returned str from register_template_dirs(); "
            "it must return a list of folders",
        ]
        still_works(reg)


class _Named(_NoOptions):
    def __init__(self, name: str, suffix: str) -> None:
        self.name, self.suffix = name, suffix


class TestPluginMistakes:
    def test_a_missing_return_is_reported(self) -> None:
        """A register_exporters() that returns None (a forgotten return) is reported by name
        with what to do, not silently left without formats."""
        class Forgetful:
            @storykit.hookimpl
            def register_exporters(self) -> None:
                [_NoOptions()]  # (the return forgotten: the mistake under test)

        reg = Registry(autoload=False)
        reg.register(Forgetful(), "forgetful")
        [error] = [e for e in reg.errors if e.plugin == "forgetful"]
        assert "returned NoneType from register_exporters() (is its return statement " \
               "missing?)" in str(error)
        assert "bare" not in reg.formats()

    def test_a_class_instead_of_an_instance_is_reported(self) -> None:
        """Returning the exporter class, not an instance, is refused at registration with the
        fix, instead of failing later inside write()."""
        reg = Registry(autoload=False)
        reg.register(_Plugin(_NoOptions), "classy")
        [error] = [e for e in reg.errors if e.plugin == "classy"]
        assert "registered the class _NoOptions, not an exporter: return an instance, " \
               "_NoOptions(), from register_exporters()" in str(error)
        assert "bare" not in reg.formats()

    def test_a_second_format_with_a_taken_suffix_is_reported(self) -> None:
        """Two formats with one suffix: the first registered keeps it for file names, the
        second is reported and still usable by name."""
        reg = Registry(autoload=False)
        reg.register(_Plugin(_Named("markdown", ".md")), "first")
        reg.register(_Plugin(_Named("gfm", ".md")), "second")
        assert reg.for_path("notes.MD").name == "markdown"
        assert reg.get("gfm").name == "gfm"
        [error] = [e for e in reg.errors if e.plugin == "second"]
        assert ("gives format 'gfm' the suffix '.md', which format 'markdown' (plugin "
                "'first') already has") in str(error)

    def test_an_unknown_format_mentions_broken_plugins(self, tmp_path: Path) -> None:
        """From Python, asking for a format that a broken plugin would have given says that a
        plugin failed, and where to see every problem."""
        folder = tmp_path / "plugins"
        folder.mkdir()
        (folder / "titles.py").write_text("import storykit\n\n@storykit.hookimpl\n"
                                          "def register_exporter():\n    return []\n")
        with use_registry(Registry(autoload=False, plugins_dirs=[folder])), \
                pytest.raises(UnknownFormatError) as e:
            storykit.dumps(small(), "titles")
        assert "1 plugin problem, first: plugin " in str(e.value)
        assert "register_exporter" in str(e.value)
        assert "storykit.plugins.get_registry().errors" in str(e.value)

    def test_entry_points_load_in_the_order_of_their_distributions(
            self, tmp_path: Path) -> None:
        """Two installed distributions claiming one format: the one first by name keeps it,
        on every machine, whatever order the files are listed in."""
        site = tmp_path / "site"
        for dist in ("storykit-zed", "storykit-alpha"):  # made in reverse order
            module = dist.replace("-", "_") + "_plugin"
            info = site / f"{dist.replace('-', '_')}-1.0.dist-info"
            info.mkdir(parents=True)
            (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\n"
                                           "Version: 1.0\n")
            (info / "entry_points.txt").write_text(f"[storykit]\n{dist}= {module}\n")
            (site / f"{module}.py").write_text(textwrap.dedent(f'''
                import storykit

                class Same:
                    name, media_type, suffix = "same", "text/plain", ".same"
                    description = "From {dist}."

                    def write(self, collection, out, **options):
                        out.write(b"{dist}")

                @storykit.hookimpl
                def register_exporters():
                    return [Same()]
            '''))
        done = run([STORYKIT, "formats", "--json"], site)
        assert done.returncode == 0, done.stderr
        [row] = [r for r in json.loads(done.stdout) if r["name"] == "same"]
        assert row["distribution"] == "storykit-alpha 1.0"
        assert "storykit-zed" in done.stderr  # the one left out is named
