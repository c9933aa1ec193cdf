"""The exporter contract, and typed exporter options.

An exporter is any object with ``name``, ``media_type``, ``suffix``, ``description`` and
``write(collection, out, **options)``. Options are declared as an attrs class in
``options_type``; :func:`parse_options` turns keyword arguments (or command-line strings)
into an instance of it, and rejects unknown or ill-typed options with
:class:`~storykit.errors.OptionError`.
"""

from __future__ import annotations

import enum
import inspect
import types
import typing
from collections.abc import Mapping
from datetime import date, datetime
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
    if origin in (tuple, list) or tp in (tuple, list):
        if isinstance(value, str):  # from the command line: "a,b,c"
            value = [v.strip() for v in value.split(",") if v.strip()]
        if not isinstance(value, (list, tuple)):
            raise TypeError(f"must be a list (got {value!r})")
        item = args[0] if args else Any
        items = [_coerce(v, item) for v in value]
        return items if (origin or tp) is list else tuple(items)
    if tp is date or tp is datetime:
        if type(value) is tp:
            return value
        if isinstance(value, str):
            try:
                return tp.fromisoformat(value)
            except ValueError:
                pass
        raise TypeError(f"must be an ISO 8601 {tp.__name__} (got {value!r})")
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        if isinstance(value, tp):
            return value
        for member in tp:  # by value ("blue") or by name ("BLUE"), as a user would type it
            if value in (member.value, member.name) or (
                    isinstance(value, str) and value == str(member.value)):
                return member
        raise ValueError(f"must be one of {', '.join(repr(str(m.value)) for m in tp)} "
                         f"(got {value!r})")
    if isinstance(tp, type):
        if isinstance(value, tp):
            return value
        raise TypeError(f"must be a {tp.__name__} (got {value!r})")
    if origin is not None and isinstance(origin, type):  # dict[str, int], set[str], ...
        if isinstance(value, origin):
            return value
        raise TypeError(f"must be a {origin.__name__} (got {value!r}; this option cannot be "
                        "given as text)")
    return value


def _literal_str(arg: Any) -> str:
    if isinstance(arg, bool):
        return str(arg).lower()
    return "none" if arg is None else str(arg)


_types_cache: dict[type, dict[str, Any]] = {}


def _hints(obj: Any) -> dict[str, Any]:
    try:
        return typing.get_type_hints(obj)
    except Exception:  # unresolvable annotations: take values as given
        return {}


def _each_hint(cls: type) -> dict[str, Any]:
    """The annotations of ``cls`` that resolve, one by one (when one of them does not)."""
    import sys

    namespace = vars(sys.modules[cls.__module__]) if cls.__module__ in sys.modules else {}
    hints: dict[str, Any] = {}
    for name, annotation in getattr(cls, "__annotations__", {}).items():
        try:
            # (the class's own annotation text, as typing.get_type_hints() evaluates it)
            hints[name] = (eval(annotation, dict(namespace)) if isinstance(annotation, str)
                           else annotation)
        except Exception:  # a name the module does not hold: taken as given
            continue
    return hints


def _converter_input(converter: Any) -> Any:
    """The type a field's converter takes (its first parameter's annotation), or ``Any``."""
    fn = getattr(converter, "converter", converter)  # attrs.Converter wraps the function
    try:
        first = next(iter(inspect.signature(fn).parameters))
    except (TypeError, ValueError, StopIteration):
        return Any
    return _hints(fn).get(first, Any)


def _option_types(cls: type) -> dict[str, Any]:
    """Each option, by the name ``cls()`` takes (attrs' alias: ``_width`` is ``width``): the
    type a value is converted to before the class gets it.

    That is the field's type or, for a field with a converter, the converter's input type: the
    converter then runs once, in ``cls()``.
    """
    table = _types_cache.get(cls)
    if table is None:
        hints = _hints(cls) or _each_hint(cls)
        table = {}
        for f in attrs.fields(cls):
            if not f.init:
                continue
            tp = _converter_input(f.converter) if f.converter is not None else hints.get(
                f.name, Any)
            table[f.alias or f.name] = tp
        _types_cache[cls] = table
    return table


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
    parsed: O = _instance(name, cls, _coerced(name, cls, options))
    return parsed


def _coerced(name: str, cls: type, options: Mapping[str, Any]) -> dict[str, Any]:
    """``options`` checked against ``cls`` and converted to the types it takes; not yet
    through the class's converters and validators (:func:`_instance` runs those)."""
    table = _option_types(cls)
    kwargs: dict[str, Any] = {}
    for key, value in options.items():
        if key not in table:
            import difflib  # only for a mistake: it costs import time

            close = difflib.get_close_matches(key, table, n=1)
            hint = f"did you mean {close[0]!r}? " if close else ""
            raise OptionError(name, key, f"does not exist ({hint}options: "
                                         f"{', '.join(sorted(table)) or 'none'})")
        try:
            kwargs[key] = _coerce(value, table[key])
        except (TypeError, ValueError) as e:
            raise OptionError(name, key, str(e)) from None
    return kwargs


def _instance(name: str, cls: type[O], kwargs: dict[str, Any]) -> O:
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
    """The options to pass to ``exporter.write()``, checked before anything is written.

    They are converted to the types the options class takes (``"10"`` to ``10``) and checked
    by its own converters and validators, but returned as given to the class, not as it holds
    them: ``write()`` calls :func:`parse_options`, which runs each converter once more, and a
    converter need not accept its own output. Only the options given are returned (the
    exporter's defaults stay its own). An exporter without ``options_type`` takes no options.
    Raises :class:`~storykit.errors.OptionError`.
    """
    if not options:
        return {}
    cls = getattr(exporter, "options_type", None)
    if cls is None:
        parse_options(exporter, options)  # raises: this format takes no options
        return {}
    name = getattr(exporter, "name", type(exporter).__name__)
    kwargs = _coerced(name, cls, options)
    _instance(name, cls, kwargs)
    return kwargs
