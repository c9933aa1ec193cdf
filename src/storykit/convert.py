"""Conversion between the model and plain data: the configured cattrs converter, and CSV's
flat columns.

``converter`` is storykit's one cattrs converter (never ``cattrs.global_converter``). Its
structure hooks run the model's checkers, so ``converter.structure(data, Story)`` validates and
raises :class:`~storykit.ValidationError`; its unstructure hooks give the data names of DESIGN.
Unstructuring is :func:`to_data`, msgspec's encoding of the attrs classes decoded back: the
same mapping the ``json`` exporter writes, so there is one.
"""

from __future__ import annotations

import enum
import functools
import itertools
import operator
import re
import types
import typing
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import attrs

from storykit.collection import Collection, check_collection_values
from storykit.errors import ErrorDetail, ValidationError
from storykit.model import (
    Credit,
    Errors,
    Image,
    Link,
    MediaContact,
    Story,
    Translation,
    _build,
    _join,
    check_contact,
    check_credit,
    check_image,
    check_link,
    check_story,
    check_translation,
)

__all__ = [
    "CSV_COLUMNS",
    "FREE_TEXT_COLUMNS",
    "batches",
    "collection_from_data",
    "collection_to_data",
    "contact_to_data",
    "converter",
    "credit_text",
    "csv_cells",
    "flatten_story",
    "make_converter",
    "make_options_converter",
    "options_converter",
    "story_to_data",
    "to_data",
    "unflatten_story",
]

T = TypeVar("T")
N = TypeVar("N", int, float)

if TYPE_CHECKING:
    import cattrs

    #: (Made on first use by the module's ``__getattr__``: importing cattrs costs ~20 ms.)
    converter: cattrs.Converter
    #: The converter of exporter options (:func:`make_options_converter`), made on first use.
    options_converter: cattrs.Converter


@functools.cache
def _codec() -> tuple[Callable[[Any], bytes], Callable[[bytes], Any]]:
    import msgspec  # (on first use: ``import storykit`` stays light)

    return msgspec.json.Encoder().encode, msgspec.json.Decoder().decode


def to_data(value: Any) -> Any:
    """A model object (or a date, or a tuple of them) as plain data: its JSON, decoded.

    This is storykit's one mapping from the model to plain data, and it is msgspec's encoding
    of the attrs classes, the very bytes the ``json`` exporter writes: so
    ``json.loads(storykit.dumps(col, "json")) == collection_to_data(col)``. Every field is
    present, keys in the order of the field names, an empty field as ``null`` or ``[]``,
    dates and datetimes in ISO 8601 (``Z`` for UTC). Every storykit reader loads it back equal.
    """
    _, decode = _codec()
    return decode(to_json(value))


def to_json(value: Any) -> bytes:
    """A model object (or plain data holding model objects) as compact UTF-8 JSON: the bytes
    :func:`to_data` decodes, encoded once."""
    encode, _ = _codec()
    return encode(value)


def story_to_data(s: Story) -> dict[str, Any]:
    """A story as plain data (:func:`to_data`): JSON-ready, lists and strings only."""
    got: dict[str, Any] = to_data(s)
    return got


def contact_to_data(c: MediaContact) -> dict[str, Any]:
    """A media contact as plain data (:func:`to_data`)."""
    got: dict[str, Any] = to_data(c)
    return got


def collection_to_data(c: Collection) -> dict[str, Any]:
    """The collection document of DESIGN (:func:`to_data`): loads back to an equal collection."""
    got: dict[str, Any] = to_data(c)
    return got


def batches(items: Iterable[T], size: int) -> Iterator[Sequence[T]]:
    """``items``, ``size`` at a time: slices of a tuple or list, or lists."""
    if isinstance(items, (tuple, list)):
        for start in range(0, len(items), size):
            yield items[start:start + size]
        return
    it = iter(items)
    while batch := list(itertools.islice(it, size)):
        yield batch


def collection_from_data(data: Any, source: str | None = None, *,
                         line_of: Any = None) -> Collection:
    """Check a collection document (or a bare list of stories); raise every problem at once.

    The data is structured by the one configured converter (:data:`converter`), whose hook for
    :class:`~storykit.Collection` runs the model's checks. ``source`` names the document in the
    error; ``line_of(i)``, if given, is the line of the ``i``-th story, for its problems.
    """
    if isinstance(data, list):
        data = {"stories": data}
    try:
        return _the_converter().structure(data, Collection)
    except ValidationError as e:
        errors = list(e.errors)
        if line_of is not None:
            errors = [attrs.evolve(x, line=line_of(int(m[1]))) if x.line is None and (
                m := _STORY_INDEX.match(x.path)) else x for x in errors]
        raise ValidationError(errors, source) from None


_STORY_INDEX = re.compile(r"stories\[(\d+)\]")


def _structure_collection(data: Any, _: type) -> Collection:
    errors: Errors = []
    values = check_collection_values(errors, "", data)
    if errors:
        raise ValidationError(errors)
    assert values is not None
    return _build(Collection, values)


def _check_or_raise(check: Any) -> Any:
    def structure(data: Any, _: type) -> Any:
        errors: Errors = []
        got = check(errors, "", data)
        if errors:
            raise ValidationError(errors)
        return got

    return structure


def make_converter() -> cattrs.Converter:
    """A converter configured for storykit's model (structure validates; unstructure is data)."""
    import cattrs

    conv = cattrs.Converter(forbid_extra_keys=True)
    for cls in (Story, Collection, MediaContact, Image, Credit, Link, Translation, datetime,
                date):
        conv.register_unstructure_hook(cls, to_data)
    conv.register_structure_hook(Story, _check_or_raise(check_story))
    conv.register_structure_hook(MediaContact, _check_or_raise(check_contact))
    conv.register_structure_hook(Image, _check_or_raise(check_image))
    conv.register_structure_hook(Credit, _check_or_raise(check_credit))
    conv.register_structure_hook(Link, _check_or_raise(check_link))
    conv.register_structure_hook(Translation, _check_or_raise(check_translation))
    conv.register_structure_hook(Collection, _structure_collection)
    return conv


_converter: cattrs.Converter | None = None
_options_converter: cattrs.Converter | None = None


def _the_converter() -> cattrs.Converter:
    global _converter
    if _converter is None:
        _converter = make_converter()
    return _converter


def __getattr__(name: str) -> Any:
    """``converter`` and ``options_converter``, made on first use: ``import storykit`` does
    not import cattrs."""
    global _options_converter
    if name == "converter":
        return _the_converter()
    if name == "options_converter":
        if _options_converter is None:
            _options_converter = make_options_converter()
        return _options_converter
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


# --- CSV: flat columns --------------------------------------------------------------------------

#: Characters that make a spreadsheet run a cell as a formula (OWASP CSV injection advice).
FORMULA_TRIGGERS = frozenset("=+-@\t\r")


def _needs_quote(s: str) -> bool:
    i = 0
    while i < len(s) and s[i] == "'":
        i += 1
    return i < len(s) and s[i] in FORMULA_TRIGGERS


def neutralise(cell: str) -> str:
    """Make a cell inert in a spreadsheet: a leading ``'`` before a formula trigger.

    A cell that already starts with quotes before a trigger gets one more, so that
    :func:`restore` undoes exactly this and nothing else.
    """
    if cell and (cell[0] in FORMULA_TRIGGERS or (cell[0] == "'" and _needs_quote(cell))):
        return "'" + cell
    return cell


def restore(cell: str) -> str:
    """Undo :func:`neutralise`."""
    if cell[:1] == "'" and _needs_quote(cell[1:]):
        return cell[1:]
    return cell


def _join_list(items: tuple[str, ...]) -> str:
    joined = ";".join(items)
    if "\\" not in joined and joined.count(";") == len(items) - 1:
        return joined  # (nothing to escape: nearly every list)
    return ";".join(x.replace("\\", "\\\\").replace(";", "\\;") for x in items)


def _split_list(cell: str) -> list[str]:
    if not cell:
        return []
    out: list[str] = []
    buf: list[str] = []
    it = iter(cell)
    for ch in it:
        if ch == "\\":
            buf.append(next(it, "\\"))
        elif ch == ";":
            out.append("".join(buf))
            buf = []
        else:
            buf.append(ch)
    out.append("".join(buf))
    return [x.strip() for x in out if x.strip()]


_ENDS_IN_YEAR = re.compile(r"[\s,]\d{4}$")


def credit_text(credit: Credit) -> str:
    """``credit`` as text that :meth:`Credit.parse` reads back equal (the CSV cell).

    That is its display string, ``© Holder 2021``, except for a credit with no year whose
    holder ends in a year-like number: ``© Studio 2020`` would read back as holder ``Studio``
    and year 2020, so it is written ``© Studio 2020,`` (the comma ends the holder).
    """
    if credit.year is None and _ENDS_IN_YEAR.search(credit.holder):
        return f"{credit},"
    return str(credit)


class _DateCells(dict[object, str]):
    """``cells[value]``: a date's ISO 8601 text, made once for each date (up to a limit), and
    ``""`` for None. A datetime is made each time and not kept: two equal datetimes (the same
    instant) may have different offsets, and so different text."""

    LIMIT = 50_000

    def __missing__(self, value: date | None) -> str:
        text = "" if value is None else value.isoformat()
        if value is None or type(value) is date:
            if len(self) >= self.LIMIT:
                self.clear()
            self[value] = text
        return text


_DATE_CELLS = _DateCells()


def _getter(name: str) -> Callable[[Sequence[Story]], list[Any]]:
    get = operator.attrgetter(name)
    return lambda stories: list(map(get, stories))


_images = _getter("image")


def _dates(name: str) -> Callable[[Sequence[Story]], list[str]]:
    get = operator.attrgetter(name)
    cell = _DATE_CELLS.__getitem__
    return lambda stories: list(map(cell, map(get, stories)))


def _optional(name: str) -> Callable[[Sequence[Story]], list[str]]:
    get = operator.attrgetter(name)
    return lambda stories: [value or "" for value in map(get, stories)]


def _image_part(name: str) -> Callable[[Sequence[Story]], list[str]]:
    get = operator.attrgetter(name)
    return lambda stories: ["" if i is None else get(i) for i in _images(stories)]


def _credits(stories: Sequence[Story]) -> list[str]:
    return ["" if i is None or i.credit is None else credit_text(i.credit)
            for i in _images(stories)]


_topic_lists = _getter("topics")


def _topics(stories: Sequence[Story]) -> list[str]:
    lists = _topic_lists(stories)
    every = "".join(itertools.chain.from_iterable(lists))
    if ";" in every or "\\" in every:  # (rare: only then is a topic escaped)
        return [_join_list(x) for x in lists]
    return list(map(";".join, lists))


def _countries(stories: Sequence[Story]) -> list[str]:
    return list(map(";".join, map(_COUNTRIES, stories)))


_COUNTRIES = operator.attrgetter("countries")


def _lines(get: Callable[[Story], tuple[T, ...]], line: Callable[[T], str],
           ) -> Callable[[Sequence[Story]], list[str]]:
    """A column of lists written one item a line (links, translations): most stories have
    none, so only the cells of those that do are made in Python."""
    def cells(stories: Sequence[Story]) -> list[str]:
        lists = list(map(get, stories))
        out = [""] * len(lists)
        for i in itertools.compress(range(len(lists)), lists):
            out[i] = "\n".join(map(line, lists[i]))
        return out

    return cells


def _link_line(x: Link) -> str:
    return f"{x.url} {x.title}"


def _translation_line(t: Translation) -> str:
    return f"{t.language} {t.url}" + (f" {t.title}" if t.title else "")


#: Each column's cells, from a sequence of stories.
_CELLS: dict[str, Callable[[Sequence[Story]], list[str]]] = {
    "id": _getter("id"),
    "title": _getter("title"),
    "published": _dates("published"),
    "updated": _dates("updated"),
    "summary": _getter("summary"),
    "url": _optional("url"),
    "image.url": _image_part("url"),
    "image.alt": _image_part("alt"),
    "image.credit": _credits,
    "topics": _topics,
    "countries": _countries,
    "language": _getter("language"),
    "links": _lines(operator.attrgetter("links"), _link_line),
    "translations": _lines(operator.attrgetter("translations"), _translation_line),
}


#: Every column the CSV exporter writes and the CSV loader reads, in their default order.
CSV_COLUMNS: tuple[str, ...] = tuple(_CELLS)


def csv_cells(stories: Sequence[Story], columns: Sequence[str] = CSV_COLUMNS,
              ) -> list[list[str]]:
    """The CSV cells (strings) of ``stories``, a column at a time: for each of ``columns``
    (names from :data:`CSV_COLUMNS`), the list of its cells, one per story.

    Column by column, most cells are made by C loops (``map`` over attribute getters), with
    no Python call per story. Only the cells of :data:`FREE_TEXT_COLUMNS` can start with a
    formula trigger or a quote.
    """
    return [_CELLS[column](stories) for column in columns]


def flatten_story(s: Story) -> dict[str, str]:
    """A story as CSV cells, by column name: its row of :func:`csv_cells`."""
    return {column: cells[0] for column, cells in zip(CSV_COLUMNS, csv_cells((s,)), strict=True)}


#: The columns whose cell may start with a formula trigger or a quote: the free texts. Every
#: other cell starts with what its rule allows there: a digit (dates), a letter (ids, URLs,
#: countries, language tags; links and translations start with a URL or a tag) or ``©``.
FREE_TEXT_COLUMNS: tuple[str, ...] = ("title", "summary", "image.alt", "topics")


def unflatten_story(row: Mapping[str, str | None], errors: Errors, path: str,
                    line: int | None = None) -> dict[str, Any]:
    """CSV cells back to story data (the shape a story has in JSON)."""
    data: dict[str, Any] = {}
    image: dict[str, Any] = {}
    for key, raw_cell in row.items():
        if key is None:  # csv.DictReader puts a ragged row's extra cells under None
            errors.append(ErrorDetail(path, f"the row has {len(raw_cell or ())} more cells "
                                            "than the header", raw_cell, line))
            continue
        if raw_cell is None:
            # (A column of the format keeps its dotted name, as in stories[0].image.url;
            # any other header is quoted: it may hold a line break.)
            where = f"{path}.{key}" if key in CSV_COLUMNS else _join(path, key)
            errors.append(ErrorDetail(where, "the row has fewer cells than the header", None,
                                      line))
            continue
        cell = restore(raw_cell)
        if key.startswith("image."):
            if cell:
                image[key[6:]] = cell
        elif key in ("topics", "countries"):
            data[key] = _split_list(cell)
        elif key == "links":
            data[key] = [_url_first(x, "title") for x in cell.splitlines() if x.strip()]
        elif key == "translations":
            data[key] = [_translation_cell(x) for x in cell.splitlines() if x.strip()]
        elif cell != "" or key in ("title", "summary"):
            data[key] = cell
    if image:
        data["image"] = image
    return data


def _url_first(cell: str, rest: str) -> dict[str, str]:
    url, _, text = cell.strip().partition(" ")
    return {"url": url, rest: text}


def _translation_cell(cell: str) -> dict[str, str]:
    lang, _, rest = cell.strip().partition(" ")
    url, _, title = rest.partition(" ")
    d = {"language": lang, "url": url}
    if title:
        d["title"] = title
    return d


# --- Exporter options: Python values and command-line text to the declared types ---------------

_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"0", "false", "no", "off"})


def _got(value: Any) -> str:
    return "an empty value" if value is None else repr(value)


def _bool(value: Any, _: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in _TRUE | _FALSE:
        return value.lower() in _TRUE
    raise TypeError(f"must be true or false (got {_got(value)})")


def _number(kind: Callable[[Any], N], given: tuple[type, ...], what: str,
            ) -> Callable[[Any, Any], N]:
    """The hook of a number type: a number of the ``given`` types (not a bool), or text."""
    def hook(value: Any, _: Any) -> N:
        if isinstance(value, given) and not isinstance(value, bool):
            return kind(value)
        if isinstance(value, str):
            try:
                return kind(value)
            except ValueError:
                pass
        raise TypeError(f"must be {what} (got {_got(value)})")

    return hook


_int = _number(int, (int,), "a whole number")
_float = _number(float, (int, float), "a number")


def _str(value: Any, _: Any) -> str:
    if isinstance(value, str):
        return value
    raise TypeError(f"must be a string (got {_got(value)})")


def _path(value: Any, _: Any) -> Path:
    if isinstance(value, (str, Path)):
        return Path(value)
    raise TypeError(f"must be a path (got {_got(value)})")


def _iso(value: Any, tp: type[date]) -> date:
    if type(value) is tp:
        return value
    if isinstance(value, str):
        try:
            return tp.fromisoformat(value)
        except ValueError:
            pass
    raise TypeError(f"must be an ISO 8601 {tp.__name__} (got {_got(value)})")


def _literal_text(arg: Any) -> str:
    return str(arg).lower() if isinstance(arg, bool) else str(arg)


def _literal(value: Any, tp: Any) -> Any:
    args = typing.get_args(tp)
    for arg in args:
        # True == 1 and 1.0 == 1: match the type too, so a bool is not taken for a 1.
        if type(value) is type(arg) and value == arg:
            return arg
        if isinstance(value, str) and not isinstance(arg, str) and arg is not None and (
                value == _literal_text(arg)):
            return arg  # from the command line: "2" for 2, "true" for True
    raise ValueError(f"must be one of {', '.join(map(repr, args))} (got {_got(value)})")


def _enum(value: Any, tp: type[enum.Enum]) -> enum.Enum:
    if isinstance(value, tp):
        return value
    for member in tp:  # by value ("blue") or by name ("BLUE"), as a user would type it
        if value in (member.value, member.name) or (
                isinstance(value, str) and value == str(member.value)):
            return member
    raise ValueError(f"must be one of {', '.join(repr(str(m.value)) for m in tp)} "
                     f"(got {_got(value)})")


def _is_union(tp: Any) -> bool:
    return typing.get_origin(tp) in (typing.Union, types.UnionType)


def _is_literal(tp: Any) -> bool:
    return typing.get_origin(tp) is typing.Literal


def _is_sequence(tp: Any) -> bool:
    return typing.get_origin(tp) in (tuple, list) or tp in (tuple, list)


def _anything(value: Any, tp: Any) -> Any:
    """Any other type: a value of that type, as given (such values cannot be typed as text)."""
    cls = tp if isinstance(tp, type) else typing.get_origin(tp)
    if tp is Any or not isinstance(cls, type) or isinstance(value, cls):
        return value
    more = "" if cls is tp else "; this option cannot be given as text"
    raise TypeError(f"must be a {cls.__name__} (got {_got(value)}{more})")


def make_options_converter() -> cattrs.Converter:
    """The converter of exporter options: each option's value (a Python value, or the text
    of ``-O key=value``; ``None`` for ``-O key=``) to its declared type.

    Its hooks raise ``TypeError``/``ValueError`` saying what the option must be; it is apart
    from :data:`converter` so that text such as ``"yes"`` is never taken for ``True`` in
    content.
    """
    import cattrs

    conv = cattrs.Converter()

    def union(value: Any, tp: Any) -> Any:
        args = typing.get_args(tp)
        if value is None and type(None) in args:
            return None  # (from Python, or an empty -O key= from the command line)
        reasons = []
        for arg in args:
            if arg is not type(None):
                try:
                    return conv.structure(value, arg)
                except (TypeError, ValueError) as e:
                    reasons.append(str(e))
        raise TypeError("; ".join(dict.fromkeys(reasons)))

    def sequence(value: Any, tp: Any) -> Any:
        if isinstance(value, str):  # from the command line: "a,b,c"
            value = [v.strip() for v in value.split(",") if v.strip()]
        if not isinstance(value, (list, tuple)):
            raise TypeError(f"must be a list (got {_got(value)})")
        args = typing.get_args(tp)
        items = [conv.structure(v, args[0] if args else Any) for v in value]
        return items if (typing.get_origin(tp) or tp) is list else tuple(items)

    # (The last registered predicate is asked first: the catch-all goes in first.)
    conv.register_structure_hook_func(lambda tp: True, _anything)
    conv.register_structure_hook_func(_is_union, union)
    conv.register_structure_hook_func(_is_sequence, sequence)
    conv.register_structure_hook_func(_is_literal, _literal)
    conv.register_structure_hook_func(
        lambda tp: isinstance(tp, type) and issubclass(tp, enum.Enum), _enum)
    for tp, hook in ((bool, _bool), (int, _int), (float, _float), (str, _str), (Path, _path),
                     (date, _iso), (datetime, _iso)):
        conv.register_structure_hook(tp, hook)
    return conv
