"""The exporter contract, and typed exporter options.

An exporter is any object with ``name``, ``media_type``, ``suffix``, ``description`` and
``write(collection, out, **options)``. Options are declared as an attrs class in
``options_type``; :func:`parse_options` turns keyword arguments (or command-line strings)
into an instance of it, and rejects unknown or ill-typed options with
:class:`~storykit.errors.OptionError`.
"""

from __future__ import annotations

import types
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, Protocol, TypeVar, runtime_checkable

import attrs

from storykit.errors import OptionError

if TYPE_CHECKING:
    from storykit.collection import Collection

__all__ = ["Exporter", "parse_options", "prepare_options"]

O = TypeVar("O")  # noqa: E741


@runtime_checkable
class Exporter(Protocol):
    """What ``register_exporters()`` returns: one output format."""

    name: str
    media_type: str
    suffix: str
    description: str

    def write(self, collection: Collection, out: BinaryIO, **options: Any) -> None:
        """Write ``collection`` to the binary stream ``out``."""


_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


def _coerce(value: Any, tp: Any) -> Any:
    """``value`` as type ``tp``; strings (from ``-O key=value``) are converted."""
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if tp is Any:
        return value
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        if isinstance(value, str) and value.lower() in ("", "none", "null") and (
                type(None) in args):
            return None
        errors = []
        for arg in args:
            if arg is type(None):
                continue
            try:
                return _coerce(value, arg)
            except (TypeError, ValueError) as e:
                errors.append(str(e))
        raise TypeError("; ".join(errors))
    if origin is typing.Literal:
        for arg in args:
            # True == 1 and 1.0 == 1: match the type too, so a bool is not taken for a 1.
            if type(value) is type(arg) and value == arg:
                return arg
            if isinstance(value, str) and not isinstance(arg, str) and value == _literal_str(arg):
                return arg  # from the command line: "2" for 2, "true" for True
        raise ValueError(f"must be one of {', '.join(map(repr, args))} (got {value!r})")
    if tp is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in _TRUE | _FALSE:
            return value.lower() in _TRUE
        raise TypeError(f"must be true or false (got {value!r})")
    if tp is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, str):
            try:
                return int(value)
            except ValueError:
                pass
        raise TypeError(f"must be a whole number (got {value!r})")
    if tp is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        if isinstance(value, str):
            try:
                return float(value)
            except ValueError:
                pass
        raise TypeError(f"must be a number (got {value!r})")
    if tp is str:
        if isinstance(value, str):
            return value
        raise TypeError(f"must be a string (got {value!r})")
    if tp is Path:
        if isinstance(value, (str, Path)):
            return Path(value)
        raise TypeError(f"must be a path (got {value!r})")
    if origin is tuple:
        if isinstance(value, str):
            value = [v.strip() for v in value.split(",") if v.strip()]
        if not isinstance(value, (list, tuple)):
            raise TypeError(f"must be a list (got {value!r})")
        item = args[0] if args else Any
        return tuple(_coerce(v, item) for v in value)
    if isinstance(tp, type):
        if isinstance(value, tp):
            return value
        raise TypeError(f"must be a {tp.__name__} (got {value!r})")
    return value


def _literal_str(arg: Any) -> str:
    if isinstance(arg, bool):
        return str(arg).lower()
    return "none" if arg is None else str(arg)


_hints_cache: dict[type, dict[str, Any]] = {}


def _hints(cls: type) -> dict[str, Any]:
    hints = _hints_cache.get(cls)
    if hints is None:
        try:
            hints = typing.get_type_hints(cls)
        except Exception:  # unresolvable annotations: take values as given
            hints = {}
        _hints_cache[cls] = hints
    return hints


def parse_options(exporter: Any, options: Mapping[str, Any], options_type: type[O] | None = None,
                  ) -> O:
    """Check ``options`` against ``exporter.options_type``; return an instance of it.

    Unknown options and values of the wrong type raise :class:`~storykit.errors.OptionError`
    naming the exporter and the option. Strings are converted to the declared type, so the
    command line's ``-O page_size=10`` works.
    """
    cls = options_type or getattr(exporter, "options_type", None)
    name = getattr(exporter, "name", type(exporter).__name__)
    if cls is None:
        if options:
            key = next(iter(options))
            raise OptionError(name, key, "does not exist (this format takes no options)")
        return None  # type: ignore[return-value]
    fields = {f.name: f for f in attrs.fields(cls)}  # type: ignore[arg-type]
    hints = _hints(cls)
    kwargs: dict[str, Any] = {}
    for key, value in options.items():
        if key not in fields:
            import difflib  # only for a mistake: it costs import time

            close = difflib.get_close_matches(key, fields, n=1)
            hint = f"did you mean {close[0]!r}? " if close else ""
            raise OptionError(name, key, f"does not exist ({hint}options: "
                                         f"{', '.join(sorted(fields)) or 'none'})")
        try:
            kwargs[key] = _coerce(value, hints.get(key, Any))
        except (TypeError, ValueError) as e:
            raise OptionError(name, key, str(e)) from None
    try:
        return cls(**kwargs)
    except (TypeError, ValueError) as e:
        # Name the option at fault: the first that fails on its own (the others at default).
        for key, value in kwargs.items():
            try:
                cls(**{key: value})
            except (TypeError, ValueError) as alone:
                raise OptionError(name, key, _reason(alone)) from None
        keys = ", ".join(kwargs) or "?"
        raise OptionError(name, keys, _reason(e)) from None


def _reason(e: Exception) -> str:
    """An attrs or converter error as the rest of "option 'x' ..."."""
    text = " ".join(str(e).split())
    return text if text.startswith(("must", "is ", "cannot", "has ", "names ")) else (
        f"is invalid: {text}")


def prepare_options(exporter: Any, options: Mapping[str, Any]) -> dict[str, Any]:
    """The options to pass to ``exporter.write()``: checked, converted to their types, and
    through the options class's own converters and validators.

    Only the options given are returned (the exporter's defaults stay its own). An exporter
    without ``options_type`` takes no options. Raises :class:`~storykit.errors.OptionError`.
    """
    if not options:
        return {}
    parsed: Any = parse_options(exporter, options)
    # The values as the options class holds them: typed, converted and validated.
    attribute = {getattr(f, "alias", None) or f.name.lstrip("_"): f.name
                 for f in attrs.fields(type(parsed))}
    return {key: getattr(parsed, attribute.get(key, key)) for key in options}
