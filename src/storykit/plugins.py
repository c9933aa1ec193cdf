"""The plugin manager: built-in exporters, entry points, plugin folders.

Nothing here runs at ``import storykit``. The default :class:`Registry` is made on first use
(the first ``dumps``, ``dump`` or ``formats``); it registers the built-in exporters exactly as
third-party plugins are registered, then the entry points of group ``storykit`` (unless
``STORYKIT_DISABLE_PLUGIN_AUTOLOAD`` is set), then any plugin folders. A plugin that fails to
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
from typing import Any

import attrs
import pluggy

from storykit import hookspecs
from storykit.errors import PluginError, UnknownFormatError
from storykit.exporter import Exporter

__all__ = [
    "BUILTIN_PLUGINS",
    "DISABLE_AUTOLOAD_ENV",
    "ENTRY_POINT_GROUP",
    "ExporterInfo",
    "Registry",
    "exporter_for_path",
    "formats",
    "get_exporter",
    "get_registry",
    "hookimpl",
    "use_registry",
]

PROJECT = "storykit"
ENTRY_POINT_GROUP = "storykit"
DISABLE_AUTOLOAD_ENV = "STORYKIT_DISABLE_PLUGIN_AUTOLOAD"
#: The built-in formats, registered through the same hook as any plugin.
BUILTIN_PLUGINS: tuple[str, ...] = (
    "storykit.exporters.json",
    "storykit.exporters.csv",
    "storykit.exporters.html",
    "storykit.exporters.email",
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
    :param builtins: register the built-in formats (json, csv, html, email).
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

    def _collect(self) -> dict[str, ExporterInfo]:
        """Call every ``register_exporters()``, in registration order; the first claim wins."""
        found: dict[str, ExporterInfo] = {}
        suffixes: dict[str, str] = {}  # each suffix's first format, as found[] keeps its first
        errors: list[PluginError] = []
        impls = [impl for impl in self.pm.hook.register_exporters.get_hookimpls()
                 if not (impl.hookwrapper or impl.wrapper)]
        impls.sort(key=lambda impl: self._order.get(impl.plugin_name, len(self._order)))
        for impl in impls:
            plugin = impl.plugin_name
            dist = self._dists.get(plugin)
            try:
                result: Any = impl.function()
            except Exception as e:
                errors.append(PluginError(
                    plugin, f"failed in register_exporters(): {_oneline(e)}", distribution=dist))
                continue
            if isinstance(result, (str, bytes, Mapping)) or not isinstance(result, Iterable):
                missing = " (is its return statement missing?)" if result is None else ""
                errors.append(PluginError(
                    plugin, f"returned {type(result).__name__} from register_exporters(){missing}; "
                    "it must return a list of exporters ([] for none)", distribution=dist))
                continue
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
        self._theme = {hook: self._call_each(hook, errors) for hook in _THEME_HOOKS}
        self._collect_errors = errors
        return dict(sorted(found.items()))

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


def _who(info: ExporterInfo) -> str:
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


def load_module_plugin(module: ModuleType, registry: Registry | None = None) -> str | None:
    """Register an imported module as a plugin of ``registry`` (default: the process's)."""
    return (registry or get_registry()).register(module, module.__name__)
