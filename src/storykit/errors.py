"""Exceptions: each subclasses a builtin and keeps its data as attributes."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import attrs

__all__ = [
    "ErrorDetail",
    "OptionError",
    "PluginError",
    "UnknownFormatError",
    "ValidationError",
]


@attrs.frozen(slots=True)
class ErrorDetail:
    """One problem in a document: where it is, what is wrong, and the value found."""

    path: str
    message: str
    value: Any = None
    line: int | None = None
    #: The column (from 1, in characters) on ``line`` where the problem is, when known.
    column: int | None = None

    def __str__(self) -> str:
        where = self.path or "(document)"
        if self.line is not None:
            at = f"line {self.line}"
            if self.column is not None:
                at += f", column {self.column}"
            where = f"{at}: {where}"
        return f"{where}: {self.message}"


def _rebuild(cls: type[BaseException], args: tuple[Any, ...],
             kwargs: dict[str, Any]) -> BaseException:
    """Call ``cls(*args, **kwargs)``: what pickle and :mod:`copy` call to remake an exception.

    ``BaseException`` pickles as ``cls(*self.args)``, and ``self.args`` is the one rendered
    message, not the constructor's arguments: the default would call ``UnknownFormatError(msg)``
    and fail (a ``TypeError`` in ``copy.copy``, a ``BrokenProcessPool`` when a worker process
    raises it). Each exception's ``__reduce__`` gives its real arguments, keyword-only ones too.
    """
    return cls(*args, **kwargs)


def _count(n: int) -> str:
    return "1 problem" if n == 1 else f"{n} problems"


class ValidationError(ValueError):
    """Every problem found in one document, raised once, after the whole document was read.

    ``errors`` holds one :class:`ErrorDetail` (``path``, ``message``, ``value``, ``line``,
    ``column``) per problem; ``source`` names the document (a file name) when known.
    """

    errors: tuple[ErrorDetail, ...]
    source: str | None

    def __init__(self, errors: Iterable[ErrorDetail], source: str | None = None) -> None:
        self.errors = tuple(errors)
        self.source = source
        super().__init__(self._render())

    def _render(self) -> str:
        header = _count(len(self.errors))
        if self.source:
            from storykit._rules import one_line  # (a file name may hold a line break)

            header += f" in {one_line(self.source)}"
        return "\n  ".join([header, *(str(e) for e in self.errors)])

    def __reduce__(self) -> tuple[Any, ...]:
        # The state (``__dict__``) carries what was set after construction (``add_note``).
        return (type(self), (self.errors, self.source), self.__dict__)

    def with_source(self, source: str) -> ValidationError:
        """The same problems, with the document's name in the header."""
        return ValidationError(self.errors, source)


class UnknownFormatError(ValueError):
    """A format name that no registered exporter has; ``available`` lists those that exist."""

    def __init__(self, name: str, available: Sequence[str], *, kind: str = "format",
                 problems: Sequence[PluginError] = ()) -> None:
        self.name = name
        self.available = tuple(sorted(available))
        self.kind = kind
        self.problems = tuple(problems)
        import difflib

        close = difflib.get_close_matches(name, self.available, n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        listed = ", ".join(self.available) or "none"
        # The format may be one that a broken plugin would have given: say that it failed.
        failed = (f"; {len(problems)} plugin problem{'s' if len(problems) > 1 else ''}, first: "
                  f"{problems[0]} (all: storykit.plugins.get_registry().errors)"
                  if problems else "")
        super().__init__(f"unknown {kind} {name!r} (available: {listed}){hint}{failed}")

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild, (type(self), (self.name, self.available),
                           {"kind": self.kind, "problems": self.problems}), self.__dict__)


class PluginError(RuntimeError):
    """A plugin that could not be loaded or used.

    ``plugin`` is the plugin's name, ``distribution`` its installed package (``name version``)
    when it came from one.
    """

    def __init__(self, plugin: str, message: str, *, distribution: str | None = None) -> None:
        self.plugin = plugin
        self.distribution = distribution
        self.message = message
        where = f"plugin {plugin!r}"
        if distribution:
            where += f" ({distribution})"
        super().__init__(f"{where} {message}")

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild, (type(self), (self.plugin, self.message),
                           {"distribution": self.distribution}), self.__dict__)


class OptionError(ValueError):
    """An exporter option that does not exist or has the wrong type.

    ``exporter`` is the format's name, ``option`` the option's.
    """

    def __init__(self, exporter: str, option: str, message: str) -> None:
        self.exporter = exporter
        self.option = option
        self.message = message
        super().__init__(f"{exporter} exporter: option {option!r} {message}")

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.exporter, self.option, self.message), self.__dict__)
