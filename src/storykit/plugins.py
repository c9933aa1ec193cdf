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
)

hookimpl = pluggy.HookimplMarker(PROJECT)

_NAME = re.compile(r"[a-z0-9]+(?:[-_][a-z0-9]+)*")


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


class Registry:
    """One plugin manager and the formats its plugins register.

    Tests make their own (``Registry(autoload=False)``) instead of touching the default one.
    """

    def __init__(self, *, plugins_dirs: Iterable[str | os.PathLike[str]] = (),
                 autoload: bool | None = None, builtins: bool = True) -> None:
        self.pm = pluggy.PluginManager(PROJECT)
        self.pm.add_hookspecs(hookspecs)
        self.errors: list[PluginError] = []
        self._dists: dict[str, str | None] = {}
        self._exporters: dict[str, ExporterInfo] | None = None
        self._conflicts: dict[str, list[ExporterInfo]] = {}
        if autoload is None:
            autoload = not os.environ.get(DISABLE_AUTOLOAD_ENV)
        if builtins:
            for modname in BUILTIN_PLUGINS:
                self._load_module(modname, f"storykit {_version()}")
        if autoload:
            self._load_entry_points()
        for folder in plugins_dirs:
            self.add_plugins_dir(folder)

    # --- loading -----------------------------------------------------------------------------

    def register(self, plugin: object, name: str | None = None, *,
                 distribution: str | None = None) -> str | None:
        """Register a plugin object or module; on failure record a :class:`PluginError`."""
        name = name or getattr(plugin, "__name__", None) or repr(plugin)
        try:
            self.pm.register(plugin, name=name)
        except (pluggy.PluginValidationError, ValueError) as e:
            self.errors.append(PluginError(name, f"is invalid: {e}", distribution=distribution))
            return None
        try:
            self.pm.check_pending()
        except pluggy.PluginValidationError as e:
            self.pm.unregister(name=name)
            self.errors.append(PluginError(
                name, f"has a hook storykit does not know: {e}", distribution=distribution))
            return None
        self._dists[name] = distribution
        self._exporters = None
        return name

    def _load_module(self, modname: str, distribution: str | None) -> None:
        try:
            module = importlib.import_module(modname)
        except ImportError as e:
            if e.name == modname and modname.startswith("storykit.exporters."):
                return  # a built-in that this installation does not ship
            self.errors.append(PluginError(modname, f"failed to load: {type(e).__name__}: {e}",
                                           distribution=distribution))
            return
        except Exception as e:
            self.errors.append(PluginError(modname, f"failed to load: {type(e).__name__}: {e}",
                                           distribution=distribution))
            return
        self.register(module, modname, distribution=distribution)

    def _load_entry_points(self) -> None:
        from importlib.metadata import entry_points

        for ep in entry_points(group=ENTRY_POINT_GROUP):
            if self.pm.get_plugin(ep.name) is not None or self.pm.is_blocked(ep.name):
                continue
            dist = f"{ep.dist.name} {ep.dist.version}" if ep.dist is not None else None
            try:
                plugin = ep.load()
            except Exception as e:
                self.errors.append(PluginError(
                    ep.name, f"failed to load: {type(e).__name__}: {e}", distribution=dist))
                continue
            self.register(plugin, ep.name, distribution=dist)

    def add_plugins_dir(self, folder: str | os.PathLike[str]) -> None:
        """Register every ``*.py`` file in ``folder`` as a one-file plugin."""
        path = Path(folder)
        if not path.is_dir():
            raise NotADirectoryError(f"plugins folder {str(path)!r} is not a folder")
        for file in sorted(path.glob("*.py")):
            if file.name.startswith("_"):
                continue
            self._load_file(file)

    def _load_file(self, file: Path) -> None:
        name = f"{file.stem} ({file})"
        if self.pm.has_plugin(name):
            return
        modname = f"storykit_plugin_{abs(hash(str(file.resolve()))):x}_{file.stem}"
        try:
            spec = importlib.util.spec_from_file_location(modname, file)
            assert spec is not None and spec.loader is not None
            module = importlib.util.module_from_spec(spec)
            sys.modules[modname] = module
            spec.loader.exec_module(module)
        except Exception as e:
            sys.modules.pop(modname, None)
            self.errors.append(PluginError(name, f"failed to load: {type(e).__name__}: {e}"))
            return
        self.register(module, name)

    def unregister(self, name: str) -> None:
        """Remove a plugin and its formats."""
        self.pm.unregister(name=name)
        self._dists.pop(name, None)
        self._exporters = None

    # --- formats -----------------------------------------------------------------------------

    def _collect(self) -> dict[str, ExporterInfo]:
        found: dict[str, ExporterInfo] = {}
        conflicts: dict[str, list[ExporterInfo]] = {}
        for impl in reversed(self.pm.hook.register_exporters.get_hookimpls()):
            plugin = impl.plugin_name
            dist = self._dists.get(plugin)
            try:
                result: Any = impl.function()
                exporters: list[Any] = list(result or ())
            except Exception as e:
                self.errors.append(PluginError(
                    plugin, f"failed in register_exporters(): {type(e).__name__}: {e}",
                    distribution=dist))
                continue
            for exp in exporters:
                problem = _check_exporter_shape(exp)
                if problem:
                    self.errors.append(PluginError(plugin, problem, distribution=dist))
                    continue
                info = ExporterInfo(exp, plugin, dist)
                if exp.name in conflicts:
                    conflicts[exp.name].append(info)
                elif exp.name in found:
                    conflicts[exp.name] = [found.pop(exp.name), info]
                else:
                    found[exp.name] = info
        for name, infos in conflicts.items():
            who = " and ".join(_who(i) for i in infos)
            self.errors.append(PluginError(infos[-1].plugin,
                                           f"claims format {name!r}, as does another: {who}",
                                           distribution=infos[-1].distribution))
        self._conflicts = conflicts
        return dict(sorted(found.items()))

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
        """The exporter of format ``name``; unknown or contested names raise precisely."""
        info = self.exporters.get(name)
        if info is not None:
            return info.exporter
        if name in self._conflicts:
            who = " and ".join(_who(i) for i in self._conflicts[name])
            raise PluginError(self._conflicts[name][-1].plugin,
                              f"cannot be used: format {name!r} is claimed by {who}")
        raise UnknownFormatError(name, list(self.exporters))

    def for_path(self, path: str | os.PathLike[str]) -> Exporter:
        """The exporter whose suffix the file name ends with (the longest suffix wins)."""
        filename = Path(path).name.lower()
        best: Exporter | None = None
        for info in self.exporters.values():
            suffix = info.exporter.suffix.lower()
            if filename.endswith(suffix) and (best is None or len(suffix) > len(best.suffix)):
                best = info.exporter
        if best is None:
            suffixes = sorted({i.exporter.suffix for i in self.exporters.values()})
            raise UnknownFormatError(Path(path).suffix or Path(path).name, suffixes,
                                     kind="output file suffix")
        return best

    # --- themes and languages ------------------------------------------------------------------

    def template_dirs(self) -> list[Path]:
        """Template folders from plugins, the most recently registered first."""
        return [Path(p) for result in self.pm.hook.register_template_dirs() for p in result]

    def template_filters(self) -> dict[str, Callable[..., Any]]:
        return _merged(self.pm.hook.register_template_filters())

    def template_globals(self) -> dict[str, Any]:
        return _merged(self.pm.hook.register_template_globals())

    def translation_dirs(self) -> list[Path]:
        return [Path(p) for result in self.pm.hook.register_translations() for p in result]


def _merged(results: list[Mapping[str, Any]]) -> dict[str, Any]:
    merged: dict[str, Any] = {}
    for result in reversed(results):  # later-registered plugins win
        merged.update(result)
    return merged


def _who(info: ExporterInfo) -> str:
    return f"{info.plugin!r}" + (f" ({info.distribution})" if info.distribution else "")


def _check_exporter_shape(exp: object) -> str | None:
    missing = [a for a in ("name", "media_type", "suffix", "description")
               if not isinstance(getattr(exp, a, None), str)]
    if missing or not callable(getattr(exp, "write", None)):
        what = ", ".join(missing + ([] if callable(getattr(exp, "write", None)) else ["write()"]))
        return f"registered an exporter {exp!r} without {what}"
    name = exp.name  # type: ignore[attr-defined]
    if not _NAME.fullmatch(name):
        return f"registered a format with an invalid name {name!r} (use lowercase, digits, -)"
    if not exp.suffix.startswith("."):  # type: ignore[attr-defined]
        return f"registered format {name!r} with suffix {exp.suffix!r} (it must start with '.')"  # type: ignore[attr-defined]
    return None


# --- the default registry -------------------------------------------------------------------------

_default: Registry | None = None


def get_registry() -> Registry:
    """The process's registry, made on first use."""
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
    return get_registry().get(name)


def exporter_for_path(path: str | os.PathLike[str]) -> Exporter:
    return get_registry().for_path(path)


def formats(*, plugins_dir: str | os.PathLike[str] | None = None) -> dict[str, Exporter]:
    """Every usable format, ``{name: exporter}``; ``plugins_dir`` adds a folder of plugins."""
    registry = get_registry()
    if plugins_dir is not None:
        registry.add_plugins_dir(plugins_dir)
    return registry.formats()


def load_module_plugin(module: ModuleType, registry: Registry | None = None) -> str | None:
    """Register an imported module as a plugin of ``registry`` (default: the process's)."""
    return (registry or get_registry()).register(module, module.__name__)
