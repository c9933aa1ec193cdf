"""The plugin manager: built-in exporters and readers, entry points, plugin folders.

Nothing here runs at ``import storykit``. The default :class:`Registry` is made on first use
(the first ``load``, ``dumps``, ``dump``, ``formats`` or ``readers``); it registers the
built-in exporters and readers exactly as third-party plugins are registered, then the entry
points of group ``storykit`` (unless ``STORYKIT_DISABLE_PLUGIN_AUTOLOAD`` is set), then any
plugin folders. A plugin that fails to
load is recorded in :attr:`Registry.errors` and left out; every other plugin keeps working.
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.util
import inspect
import os
import re
import sys
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

import attrs
import pluggy

from storykit import hookspecs
from storykit.errors import PluginError, UnknownFormatError
from storykit.exporter import Exporter

if TYPE_CHECKING:
    from storykit.read.protocol import Reader

__all__ = [
    "BUILTIN_PLUGINS",
    "DISABLE_AUTOLOAD_ENV",
    "ENTRY_POINT_GROUP",
    "ExporterInfo",
    "ReaderInfo",
    "Registry",
    "blamed_on",
    "exporter_for_path",
    "formats",
    "get_exporter",
    "get_registry",
    "hookimpl",
    "readers",
    "use_registry",
]

PROJECT = "storykit"
ENTRY_POINT_GROUP = "storykit"
DISABLE_AUTOLOAD_ENV = "STORYKIT_DISABLE_PLUGIN_AUTOLOAD"
#: The built-in formats and readers, registered through the same hooks as any plugin.
BUILTIN_PLUGINS: tuple[str, ...] = (
    "storykit.read.json",
    "storykit.read.jsonl",
    "storykit.read.toml",
    "storykit.read.csv",
    "storykit.exporters.json",
    "storykit.exporters.csv",
    "storykit.exporters.html",
    "storykit.exporters.email",
    "storykit.sqlite.plugin",
    "storykit.exporters.site",
)

hookimpl = pluggy.HookimplMarker(PROJECT)

_NAME = re.compile(r"[a-z0-9]+(?:[-_][a-z0-9]+)*")
#: The hooks storykit defines, by name.
HOOK_NAMES: tuple[str, ...] = tuple(
    name for name, fn in vars(hookspecs).items()
    if callable(fn) and hasattr(fn, f"{PROJECT}_spec")
)


@attrs.frozen
class ExporterInfo:
    """A registered format: the exporter and where it came from."""

    exporter: Exporter
    plugin: str
    distribution: str | None

    @property
    def name(self) -> str:
        return self.exporter.name


@attrs.frozen
class ReaderInfo:
    """A registered reader: the reader and where it came from."""

    reader: Reader
    plugin: str
    distribution: str | None

    @property
    def name(self) -> str:
        return self.reader.name


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("storykit")
    except PackageNotFoundError:  # pragma: no cover - running from a source tree
        return "0+unknown"


def _oneline(e: BaseException) -> str:
    """``TypeName: message`` on one line, whatever the exception's message holds."""
    text = " ".join(str(e).split())
    return f"{type(e).__name__}: {text}" if text else type(e).__name__


class Registry:
    """One plugin manager and the formats its plugins register.

    Tests make their own (``Registry(autoload=False)``) instead of touching the default one.

    :param plugins_dirs: folders of one-file plugins to load (see :meth:`add_plugins_dir`).
    :param autoload: load the entry points of group ``storykit``; by default yes, unless the
        environment variable ``STORYKIT_DISABLE_PLUGIN_AUTOLOAD`` is set.
    :param builtins: register the built-in formats (json, csv, html, email) and readers (json,
        jsonl, toml, csv, tsv).
    """

    def __init__(self, *, plugins_dirs: Iterable[str | os.PathLike[str]] = (),
                 autoload: bool | None = None, builtins: bool = True) -> None:
        self.pm = pluggy.PluginManager(PROJECT)
        self.pm.add_hookspecs(hookspecs)
        self._load_errors: list[PluginError] = []
        self._collect_errors: list[PluginError] = []
        self._dists: dict[str, str | None] = {}
        self._order: dict[str, int] = {}
        self._exporters: dict[str, ExporterInfo] | None = None
        self._readers: dict[str, ReaderInfo] = {}
        self._reader_suffixes: dict[str, str] = {}
        self._theme: dict[str, list[Any]] = {}
        self._suffixes: dict[str, str] = {}
        if autoload is None:
            autoload = not os.environ.get(DISABLE_AUTOLOAD_ENV)
        if builtins:
            for modname in BUILTIN_PLUGINS:
                self._load_module(modname, f"storykit {_version()}")
        if autoload:
            self._load_entry_points()
        for folder in plugins_dirs:
            self.add_plugins_dir(folder)

    @property
    def errors(self) -> list[PluginError]:
        """Every plugin problem found so far, one :class:`~storykit.PluginError` each.

        Plugins that failed are left out; the formats of every other plugin work.
        """
        if self._exporters is None:
            self._exporters = self._collect()
        return [*self._load_errors, *self._collect_errors]

    # --- loading -----------------------------------------------------------------------------

    def register(self, plugin: object, name: str | None = None, *,
                 distribution: str | None = None) -> str | None:
        """Register a plugin object or module; on failure record a :class:`PluginError`.

        Returns the plugin's name, or ``None`` when it was rejected (see :attr:`errors`).
        """
        name = name or getattr(plugin, "__name__", None) or repr(plugin)
        if self.pm.has_plugin(name):
            other = self._dists.get(name)
            self._error(name, "was not loaded: another plugin of the same name is registered"
                        + (f" (from {other})" if other else ""), distribution)
            return None
        problem = self._hook_problem(plugin)
        if problem:
            self._error(name, problem, distribution)
            return None
        try:
            self.pm.register(plugin, name=name)
        except (pluggy.PluginValidationError, ValueError) as e:
            if self.pm.has_plugin(name):  # older pluggy can leave a half-registered plugin
                self.pm.unregister(name=name)
            self._error(name, f"is invalid: {_oneline(e)}", distribution)
            return None
        try:
            self.pm.check_pending()
        except pluggy.PluginValidationError as e:
            self.pm.unregister(name=name)
            self._error(name, f"is invalid: {_oneline(e)}", distribution)
            return None
        self._dists[name] = distribution
        self._order[name] = len(self._order)
        self._exporters = None
        return name

    def _error(self, plugin: str, message: str, distribution: str | None) -> None:
        self._load_errors.append(PluginError(plugin, message, distribution=distribution))

    def _hook_problem(self, plugin: object) -> str | None:
        """Why ``plugin``'s hooks cannot work: unknown names, extra arguments, no marker."""
        problems: list[str] = []
        for attr in dir(plugin):
            try:
                value = getattr(plugin, attr)
            except Exception:  # a property that raises is not a hook
                continue
            opts = self.pm.parse_hookimpl_opts(plugin, attr)
            if opts is None:
                if (attr in HOOK_NAMES and inspect.isfunction(value)
                        and value.__module__ == getattr(plugin, "__name__", None)):
                    problems.append(f"defines {attr}() without @storykit.hookimpl, so storykit "
                                    "would never call it")
                continue
            hook_name = opts.get("specname") or attr
            if hook_name not in HOOK_NAMES:
                if opts.get("optionalhook"):
                    continue
                import difflib  # only for a mistake: it costs import time

                close = difflib.get_close_matches(hook_name, HOOK_NAMES, n=1)
                hint = f"; did you mean {close[0]}()?" if close else ""
                problems.append(f"has a hook storykit does not know: {hook_name}(){hint} "
                                f"(hooks: {', '.join(HOOK_NAMES)})")
                continue
            spec = getattr(self.pm.hook, hook_name).spec
            extra = [a for a in _required_args(value) if a not in spec.argnames]
            if extra:
                takes = ", ".join(spec.argnames) or "no arguments"
                problems.append(
                    f"has a wrong signature for hook {hook_name}(): argument(s) "
                    f"{', '.join(map(repr, extra))} are not in the hook ({hook_name}() "
                    f"takes {takes})")
        return "; ".join(problems) or None

    def _load_module(self, modname: str, distribution: str | None) -> None:
        try:
            module = importlib.import_module(modname)
        except (Exception, SystemExit) as e:  # a plugin calling exit() too
            if (isinstance(e, ImportError) and e.name == modname
                    and modname.startswith("storykit.exporters.")):
                return  # a built-in that this installation does not ship (yet)
            self._error(modname, f"failed to load: {_oneline(e)}", distribution)
            return
        self.register(module, modname, distribution=distribution)

    def _load_entry_points(self) -> None:
        from importlib.metadata import entry_points

        # In the order of the distributions' names, then the entry points': the same on every
        # machine (importlib.metadata lists them in the order of the files on disk).
        for ep in sorted(entry_points(group=ENTRY_POINT_GROUP), key=lambda ep: (
                (ep.dist.name.lower() if ep.dist is not None else ""), ep.name)):
            dist = f"{ep.dist.name} {ep.dist.version}" if ep.dist is not None else None
            if self.pm.is_blocked(ep.name):
                continue
            if self.pm.has_plugin(ep.name):
                other = self._dists.get(ep.name)
                self._error(ep.name, "was not loaded: another plugin of the same name is "
                            "registered" + (f" (from {other})" if other else ""), dist)
                continue
            try:
                plugin = ep.load()
            except (Exception, SystemExit) as e:  # a plugin calling exit() too
                self._error(ep.name, f"failed to load: {_oneline(e)}", dist)
                continue
            self.register(plugin, ep.name, distribution=dist)

    def add_plugins_dir(self, folder: str | os.PathLike[str]) -> None:
        """Register every ``*.py`` file in ``folder`` as a one-file plugin.

        Files whose names start with ``_`` are skipped; a file already registered is not loaded
        again. Each plugin is named by its path, as given.
        """
        path = Path(folder)
        if not path.is_dir():
            raise NotADirectoryError(f"plugins folder {str(path)!r} is not a folder")
        for file in sorted(path.glob("*.py")):
            if file.name.startswith("_"):
                continue
            self._load_file(file)

    def _load_file(self, file: Path) -> None:
        name = str(file)
        if self.pm.has_plugin(name):
            return
        modname = f"storykit_plugins.{_identifier(file)}"
        try:
            spec = importlib.util.spec_from_file_location(modname, file)
            if spec is None or spec.loader is None:  # pragma: no cover - a .py file always has one
                raise ImportError(f"cannot import {file}")
            module = importlib.util.module_from_spec(spec)
            sys.modules[modname] = module
            spec.loader.exec_module(module)
        except (Exception, SystemExit) as e:  # a plugin calling exit() too
            sys.modules.pop(modname, None)
            self._error(name, f"failed to load: {_oneline(e)}", None)
            return
        self.register(module, name)

    def unregister(self, name: str) -> None:
        """Remove a plugin and its formats."""
        self.pm.unregister(name=name)
        self._dists.pop(name, None)
        self._order.pop(name, None)
        self._exporters = None

    # --- formats -----------------------------------------------------------------------------

    def _registered(self, hook: str, what: str, errors: list[PluginError],
                    ) -> Iterator[tuple[str, str | None, Iterable[Any]]]:
        """(plugin, distribution, what it returned) for each plugin's ``hook``, in registration
        order; a hook that raises or returns anything but a list is reported in ``errors``."""
        impls = [impl for impl in getattr(self.pm.hook, hook).get_hookimpls()
                 if not (impl.hookwrapper or impl.wrapper)]
        impls.sort(key=lambda impl: self._order.get(impl.plugin_name, len(self._order)))
        for impl in impls:
            plugin = impl.plugin_name
            dist = self._dists.get(plugin)
            try:
                result: Any = impl.function()
            except Exception as e:
                errors.append(PluginError(
                    plugin, f"failed in {hook}(): {_oneline(e)}", distribution=dist))
                continue
            if isinstance(result, (str, bytes, Mapping)) or not isinstance(result, Iterable):
                missing = " (is its return statement missing?)" if result is None else ""
                errors.append(PluginError(
                    plugin, f"returned {type(result).__name__} from {hook}(){missing}; "
                    f"it must return a list of {what} ([] for none)", distribution=dist))
                continue
            yield plugin, dist, result

    def _collect(self) -> dict[str, ExporterInfo]:
        """Call every ``register_exporters()``, in registration order; the first claim wins."""
        found: dict[str, ExporterInfo] = {}
        suffixes: dict[str, str] = {}  # each suffix's first format, as found[] keeps its first
        errors: list[PluginError] = []
        for plugin, dist, result in self._registered("register_exporters", "exporters", errors):
            for exp in result:
                problem = _check_exporter_shape(exp)
                if problem:
                    errors.append(PluginError(plugin, problem, distribution=dist))
                    continue
                info = ExporterInfo(exp, plugin, dist)
                first = found.get(exp.name)
                if first is not None:
                    errors.append(PluginError(
                        plugin, f"claims format {exp.name!r}, which {_who(first)} already "
                        f"provides; {_who(info)}'s {exp.name!r} is left out", distribution=dist))
                    continue
                found[exp.name] = info
                suffix = exp.suffix.lower()
                owner = suffixes.setdefault(suffix, exp.name)
                if owner != exp.name:
                    errors.append(PluginError(
                        plugin, f"gives format {exp.name!r} the suffix {exp.suffix!r}, which "
                        f"format {owner!r} ({_who(found[owner])}) already has: a file name "
                        f"ending in {exp.suffix!r} keeps getting {owner!r} (give the format "
                        f"{exp.name!r} by name)", distribution=dist))
        self._suffixes = suffixes
        self._readers, self._reader_suffixes = self._collect_readers(errors)
        self._theme = {hook: self._call_each(hook, errors) for hook in _THEME_HOOKS}
        self._collect_errors = errors
        return dict(sorted(found.items()))

    def _collect_readers(self, errors: list[PluginError],
                         ) -> tuple[dict[str, ReaderInfo], dict[str, str]]:
        """Call every ``register_readers()``, in registration order; the first claim of a name
        or a suffix wins, and a later one is reported."""
        found: dict[str, ReaderInfo] = {}
        suffixes: dict[str, str] = {}
        for plugin, dist, result in self._registered("register_readers", "readers", errors):
            for reader in result:
                problem = _check_reader_shape(reader)
                if problem:
                    errors.append(PluginError(plugin, problem, distribution=dist))
                    continue
                info = ReaderInfo(reader, plugin, dist)
                first = found.get(reader.name)
                if first is not None:
                    errors.append(PluginError(
                        plugin, f"claims reader {reader.name!r}, which {_who(first)} already "
                        f"provides; {_who(info)}'s {reader.name!r} is left out",
                        distribution=dist))
                    continue
                found[reader.name] = info
                for suffix in reader.suffixes:
                    owner = suffixes.setdefault(suffix.lower(), reader.name)
                    if owner != reader.name:
                        errors.append(PluginError(
                            plugin, f"gives reader {reader.name!r} the suffix {suffix!r}, which "
                            f"reader {owner!r} ({_who(found[owner])}) already has: a file name "
                            f"ending in {suffix!r} keeps getting {owner!r} (give the reader "
                            f"{reader.name!r} by name)", distribution=dist))
        return found, suffixes

    def _call_each(self, hook: str, errors: list[PluginError]) -> list[Any]:
        """Each plugin's result of ``hook`` (latest-registered first, as pluggy calls them);
        a plugin whose hook raises or returns the wrong kind of thing is reported and skipped."""
        want, what = _THEME_HOOKS[hook]
        results: list[Any] = []
        for impl in reversed(getattr(self.pm.hook, hook).get_hookimpls()):
            if impl.hookwrapper or impl.wrapper:
                continue
            dist = self._dists.get(impl.plugin_name)
            try:
                result = impl.function()
            except Exception as e:
                errors.append(PluginError(impl.plugin_name, f"failed in {hook}(): {_oneline(e)}",
                                          distribution=dist))
                continue
            if result is None:
                continue
            if not isinstance(result, want) or isinstance(result, (str, bytes)):
                errors.append(PluginError(
                    impl.plugin_name, f"returned {type(result).__name__} from {hook}(); it must "
                    f"return {what}", distribution=dist))
                continue
            results.append(result)
        return results

    @property
    def exporters(self) -> dict[str, ExporterInfo]:
        """Every usable format, by name, with its plugin and distribution."""
        if self._exporters is None:
            self._exporters = self._collect()
        return self._exporters

    def formats(self) -> dict[str, Exporter]:
        """``{name: exporter}`` for every usable format."""
        return {name: info.exporter for name, info in self.exporters.items()}

    def get(self, name: str) -> Exporter:
        """The exporter of format ``name``; an unknown name raises
        :class:`~storykit.UnknownFormatError` listing the available ones."""
        info = self.exporters.get(name) or self.exporters.get(name.lower())  # (-f HTML)
        if info is not None:
            return info.exporter
        raise UnknownFormatError(name, list(self.exporters), problems=self.errors)

    def for_path(self, path: str | os.PathLike[str]) -> Exporter:
        """The exporter whose suffix the file name ends with (the longest suffix wins; of two
        formats with one suffix, the first registered, as for a format's name)."""
        filename = Path(path).name.lower()
        exporters = self.exporters
        matches = [suffix for suffix in self._suffixes if filename.endswith(suffix)]
        if matches:
            return exporters[self._suffixes[max(matches, key=len)]].exporter
        suffixes = sorted({i.exporter.suffix for i in exporters.values()})
        raise UnknownFormatError(Path(path).suffix or Path(path).name, suffixes,
                                 kind="output file suffix", problems=self.errors)

    # --- readers -------------------------------------------------------------------------------

    @property
    def reader_infos(self) -> dict[str, ReaderInfo]:
        """Every usable reader, by name, with its plugin and distribution."""
        if self._exporters is None:
            self._exporters = self._collect()
        return dict(sorted(self._readers.items()))

    def readers(self) -> dict[str, Reader]:
        """``{name: reader}`` for every usable reader."""
        return {name: info.reader for name, info in self.reader_infos.items()}

    def reader(self, name: str, *, kind: str = "input format") -> Reader:
        """The reader named ``name`` (in any case: ``JSON``); an unknown name raises
        :class:`~storykit.UnknownFormatError` listing the available ones."""
        infos = self.reader_infos
        info = infos.get(name) or infos.get(name.lower())
        if info is not None:
            return info.reader
        raise UnknownFormatError(name, list(infos), kind=kind, problems=self.errors)

    def reader_for_path(self, path: str | os.PathLike[str]) -> Reader | None:
        """The reader whose suffix the file name ends with (the longest suffix wins), if any."""
        filename = Path(path).name.lower()
        infos = self.reader_infos
        matches = [suffix for suffix in self._reader_suffixes if filename.endswith(suffix)]
        if not matches:
            return None
        return infos[self._reader_suffixes[max(matches, key=len)]].reader

    def reader_for_head(self, head: bytes) -> Reader | None:
        """The first reader (in registration order) whose ``sniff()`` recognises ``head``, the
        first bytes of a file. A ``sniff()`` that raises is taken for a no."""
        for info in self.readers_in_order():
            sniff = getattr(info.reader, "sniff", None)
            if sniff is None:
                continue
            try:
                if sniff(head) is True:
                    return info.reader
            except Exception:  # (a plugin's bug must not stop the others from recognising)
                continue
        return None

    def folder_reader(self) -> Reader | None:
        """The first reader (in registration order) whose ``input`` is ``"folder"``, if any."""
        for info in self.readers_in_order():
            if getattr(info.reader, "input", "stream") == "folder":
                return info.reader
        return None

    def reader_suffixes(self) -> list[str]:
        """Every suffix a reader claims."""
        self.reader_infos  # (collects)  # noqa: B018
        return sorted(self._reader_suffixes)

    def reader_info(self, reader: object) -> tuple[str, str | None]:
        """The plugin that registered ``reader``, and its distribution."""
        for info in self.reader_infos.values():
            if info.reader is reader:
                return info.plugin, info.distribution
        return type(reader).__module__, None

    def readers_in_order(self) -> list[ReaderInfo]:
        """Every usable reader, in the order of registration (built-in ones first)."""
        self.reader_infos  # (collects)  # noqa: B018
        return list(self._readers.values())

    # --- themes and languages ------------------------------------------------------------------

    def _theme_results(self, hook: str) -> list[Any]:
        if self._exporters is None:
            self._exporters = self._collect()
        return self._theme[hook]

    def template_dirs(self) -> list[Path]:
        """Template folders from plugins, the most recently registered first."""
        return [Path(p) for result in self._theme_results("register_template_dirs")
                for p in result]

    def template_filters(self) -> dict[str, Callable[..., Any]]:
        """jinja2 filters from plugins, by name; a later-registered plugin wins a name."""
        return _merged(self._theme_results("register_template_filters"))

    def template_globals(self) -> dict[str, Any]:
        """jinja2 globals from plugins, by name; a later-registered plugin wins a name."""
        return _merged(self._theme_results("register_template_globals"))

    def translation_dirs(self) -> list[Path]:
        """gettext catalogue folders from plugins."""
        return [Path(p) for result in self._theme_results("register_translations")
                for p in result]


def _required_args(fn: Callable[..., Any]) -> list[str]:
    """The arguments pluggy would pass to ``fn``: positional ones without a default."""
    try:
        params = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):  # pragma: no cover - builtins without a signature
        return []
    kinds = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    return [p.name for p in params if p.kind in kinds and p.default is p.empty]


#: The hooks other than register_exporters(): what each must return.
_THEME_HOOKS: dict[str, tuple[type | tuple[type, ...], str]] = {
    "register_template_dirs": (Iterable, "a list of folders"),
    "register_template_filters": (Mapping, "a dict of filters by name"),
    "register_template_globals": (Mapping, "a dict of values by name"),
    "register_translations": (Iterable, "a list of folders"),
}


def _check_reader_shape(reader: object) -> str | None:
    missing = [a for a in ("name", "description") if not isinstance(getattr(reader, a, None), str)]
    for a in ("suffixes", "media_types"):
        value = getattr(reader, a, None)
        if not (isinstance(value, tuple) and all(isinstance(x, str) for x in value)):
            missing.append(f"{a} (a tuple of strings)")
    if not callable(getattr(reader, "read", None)):
        missing.append("read()")
    if missing:
        return (f"registered a reader {type(reader).__name__} without {', '.join(missing)}; a "
                "reader needs name, description (strings), suffixes, media_types (tuples of "
                "strings) and read()")
    name: str = reader.name  # type: ignore[attr-defined]
    if isinstance(reader, type):
        return (f"registered the class {reader.__name__}, not a reader: return an instance, "
                f"{reader.__name__}(), from register_readers()")
    if not _NAME.fullmatch(name):
        return (f"registered a reader with an invalid name {name!r} "
                "(use lowercase letters, digits, - and _)")
    bad = [s for s in reader.suffixes if not s.startswith(".")]  # type: ignore[attr-defined]
    if bad:
        return f"registered reader {name!r} with suffix {bad[0]!r} (it must start with '.')"
    kind = getattr(reader, "input", "stream")
    if kind not in ("stream", "folder", "path"):
        return (f"registered reader {name!r} with input {kind!r} (it must be 'stream', "
                "'folder' or 'path')")
    options_type = getattr(reader, "options_type", None)
    if options_type is not None and not attrs.has(options_type):
        return (f"registered reader {name!r} whose options_type {options_type!r} is not an "
                "attrs class")
    return None


def _identifier(file: Path) -> str:
    """A module name for a one-file plugin, unique per path."""
    import hashlib

    digest = hashlib.sha1(str(file.resolve()).encode(), usedforsecurity=False).hexdigest()[:10]
    stem = re.sub(r"\W", "_", file.stem)
    return f"{stem}_{digest}"


def _merged(results: list[Mapping[str, Any]]) -> dict[str, Any]:
    merged: dict[str, Any] = {}
    for result in reversed(results):  # later-registered plugins win
        merged.update(result)
    return merged


def _who(info: ExporterInfo | ReaderInfo) -> str:
    return f"plugin {info.plugin!r}" + (f" ({info.distribution})" if info.distribution else "")


def _check_exporter_shape(exp: object) -> str | None:
    missing = [a for a in ("name", "media_type", "suffix", "description")
               if not isinstance(getattr(exp, a, None), str)]
    if not callable(getattr(exp, "write", None)):
        missing.append("write()")
    if missing:
        return (f"registered an exporter {type(exp).__name__} without "
                f"{', '.join(missing)}; an exporter needs name, media_type, suffix, "
                "description (strings) and write()")
    name: str = exp.name  # type: ignore[attr-defined]
    suffix: str = exp.suffix  # type: ignore[attr-defined]
    if isinstance(exp, type):
        return (f"registered the class {exp.__name__}, not an exporter: return an instance, "
                f"{exp.__name__}(), from register_exporters()")
    if not _NAME.fullmatch(name):
        return (f"registered a format with an invalid name {name!r} "
                "(use lowercase letters, digits, - and _)")
    if not suffix.startswith("."):
        return f"registered format {name!r} with suffix {suffix!r} (it must start with '.')"
    options_type = getattr(exp, "options_type", None)
    if options_type is not None and not attrs.has(options_type):
        return (f"registered format {name!r} whose options_type {options_type!r} is not an "
                "attrs class")
    return None


# --- the default registry -------------------------------------------------------------------------

_default: Registry | None = None


def get_registry() -> Registry:
    """The process's registry, made on first use (this is when plugins are discovered)."""
    global _default
    if _default is None:
        _default = Registry()
    return _default


@contextlib.contextmanager
def use_registry(registry: Registry) -> Iterator[Registry]:
    """Make ``registry`` the default inside a ``with`` block (for tests and embedding)."""
    global _default
    saved, _default = _default, registry
    try:
        yield registry
    finally:
        _default = saved


def get_exporter(name: str) -> Exporter:
    """The exporter of format ``name`` in the default registry."""
    if not isinstance(name, str):  # (dumps(col, None): the format was left out)
        raise TypeError(f"format must be a str, the name of a format such as 'html' (got "
                        f"{type(name).__name__} {name!r}); storykit.formats() lists them")
    return get_registry().get(name)


def exporter_for_path(path: str | os.PathLike[str]) -> Exporter:
    """The exporter for a file name's suffix in the default registry."""
    return get_registry().for_path(path)


def formats(*, plugins_dir: str | os.PathLike[str] | None = None) -> dict[str, Exporter]:
    """Every usable format, ``{name: exporter}``.

    ``plugins_dir`` first loads a folder of one-file plugins into the process's registry, so
    their formats are then usable by :func:`storykit.dumps` and :func:`storykit.dump` too.
    Plugins that fail to load are left out; see ``storykit.plugins.get_registry().errors``.
    """
    registry = get_registry()
    if plugins_dir is not None:
        registry.add_plugins_dir(plugins_dir)
    return registry.formats()


def readers(*, plugins_dir: str | os.PathLike[str] | None = None) -> dict[str, Reader]:
    """Every usable reader, ``{name: reader}`` (``plugins_dir``: as for :func:`formats`)."""
    registry = get_registry()
    if plugins_dir is not None:
        registry.add_plugins_dir(plugins_dir)
    return registry.readers()


@contextlib.contextmanager
def blamed_on(plugin_object: Any) -> Iterator[None]:
    """Turn an unexpected exception in the block into a :class:`PluginError` naming the plugin
    that registered ``plugin_object`` (an exporter or a reader) and its distribution (the
    exception is its ``__cause__``).

    storykit's own errors (options, validation, formats, plugins), ``OSError`` (a full disk is
    not the plugin's fault) and a broken worker pool pass through unchanged.
    """
    from storykit.errors import OptionError, ValidationError

    try:
        yield
    except (ValidationError, OptionError, UnknownFormatError, PluginError, OSError):
        raise
    except Exception as e:
        from concurrent.futures import BrokenExecutor

        if isinstance(e, BrokenExecutor):
            raise
        registry = get_registry()
        name = getattr(plugin_object, "name", type(plugin_object).__name__)
        info = registry.exporters.get(name)
        reader = registry.reader_infos.get(name)
        what = "writing format"
        if info is not None and info.exporter is plugin_object:
            plugin, dist = info.plugin, info.distribution
        elif reader is not None and reader.reader is plugin_object:
            plugin, dist, what = reader.plugin, reader.distribution, "reading with"
        else:
            plugin, dist = type(plugin_object).__module__, None
            if not callable(getattr(plugin_object, "write", None)):
                what = "reading with"
        # (a worker's exception that could not travel back as itself names its type:
        # storykit.stream.workers.RemoteError)
        kind = getattr(e, "type_name", None) or type(e).__name__
        raise PluginError(plugin, f"failed {what} {name!r}: {kind}: {e}",
                          distribution=dist) from e


def load_module_plugin(module: ModuleType, registry: Registry | None = None) -> str | None:
    """Register an imported module as a plugin of ``registry`` (default: the process's)."""
    return (registry or get_registry()).register(module, module.__name__)
