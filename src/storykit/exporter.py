"""The exporter contract, and typed exporter options.

An exporter is any object with ``name``, ``media_type``, ``suffix``, ``description`` and
``write(collection, out, **options)``. Options are declared as an attrs class in
``options_type``; :func:`parse_options` turns keyword arguments (or command-line strings)
into an instance of it, through :data:`storykit.convert.options_converter`, and rejects
unknown or ill-typed options with :class:`~storykit.errors.OptionError`.

Strings are converted to the declared types (``"10"`` to ``10``, ``"yes"`` to ``True``,
``"a,b"`` to a tuple), so the command line's ``-O key=value`` works. Only the command line's
empty value ``-O key=`` is ``None``: from Python, ``"None"``, ``"null"`` and ``""`` stay
strings.
"""

from __future__ import annotations

import inspect
import typing
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, BinaryIO, Protocol, TypeVar, runtime_checkable

import attrs

from storykit.errors import OptionError

if TYPE_CHECKING:
    from storykit.collection import Collection

__all__ = ["Exporter", "parse_options", "prepare_options", "streams"]

O = TypeVar("O")  # noqa: E741


@runtime_checkable
class Exporter(Protocol):
    """What ``register_exporters()`` returns: one output format."""

    name: str
    media_type: str
    suffix: str
    description: str

    def write(self, collection: Collection, out: BinaryIO, **options: Any) -> int | None:
        """Write ``collection`` to the binary stream ``out``.

        May return how many stories it wrote (an ``int``; fewer than the collection's when
        the format skips some, such as stories without a URL in a feed), which
        :func:`storykit.dump` and ``storykit export`` report; ``None`` says nothing.
        """


def streams(exporter: Any) -> bool:
    """Whether ``exporter`` writes stories as they come (``streams = True`` and
    ``write_stream(collection, stories, out, **options)``, as the built-in ``json`` and ``csv``
    formats do): ``storykit.stream.stream_export`` and ``storykit serve``'s ``/stories.FORMAT``
    of any size need it."""
    return bool(getattr(exporter, "streams", False)) and callable(
        getattr(exporter, "write_stream", None))


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
    from storykit.convert import options_converter as converter

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
            kwargs[key] = converter.structure(value, table[key])
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
