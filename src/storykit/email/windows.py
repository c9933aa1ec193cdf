"""Digest windows: ``--since/--until``, ``--last 7d``, ``--week 2021-W07``, ``--month 2021-02``.

:func:`window` turns one of these into a :class:`Window` of two dates (both inclusive);
:func:`select` keeps the stories of a window (and topic), newest first.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Iterable
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any

import attrs

from storykit import _rules as rules

if TYPE_CHECKING:
    from storykit.collection import Collection

__all__ = ["Window", "select", "window"]


@attrs.frozen
class Window:
    """A range of days, both ends inclusive; either end may be open (``None``)."""

    since: date | None = None
    until: date | None = None

    def __str__(self) -> str:
        if self.since and self.until:
            return f"from {self.since.isoformat()} to {self.until.isoformat()}"
        if self.since:
            return f"from {self.since.isoformat()} on"
        if self.until:
            return f"up to {self.until.isoformat()}"
        return "at any date"


_LAST = re.compile(r"\s*(\d{1,4})\s*([dw])\s*", re.IGNORECASE)
_WEEK = re.compile(r"\s*(\d{4})-?W(\d{2})\s*", re.IGNORECASE)
_MONTH = re.compile(r"\s*(\d{4})-(\d{2})\s*")


def _date(value: str | date, what: str) -> date:
    if isinstance(value, date):
        return value.date() if isinstance(value, datetime) else value
    try:
        got = rules.published(value)
    except rules.Invalid as e:
        raise ValueError(f"{what}: {e.message}") from None
    return got.date() if isinstance(got, datetime) else got


def window(*, since: str | date | None = None, until: str | date | None = None,
           last: str | int | None = None, week: str | date | None = None,
           month: str | date | None = None, today: date | None = None) -> Window:
    """The window that one of these ways of naming it gives.

    ``since``/``until`` are ISO dates or :class:`~datetime.date` objects (either may be left
    open). ``last="7d"`` is the seven days ending ``today`` (``"2w"``: fourteen; an ``int``
    is a number of days, ``last=7`` as ``"7d"``); ``week="2021-W07"`` is that ISO week, Monday
    to Sunday; ``month="2021-02"`` is that calendar month. A ``date`` for ``week`` or
    ``month`` means the week or month it falls in (``month=date(2021, 2, 1)``: February 2021),
    the one reading a date there can have. Only one way may be used at a time; a bad value
    raises :class:`ValueError` saying what is wrong, a value of another type (``bool``
    included) a :class:`TypeError` naming the argument.
    """
    _window_types(since=since, until=until, last=last, week=week, month=month, today=today)
    last_given = last
    if isinstance(last, int):
        last = f"{last}d"
    if isinstance(week, date):
        year, num, _ = week.isocalendar()
        week = f"{year:04d}-W{num:02d}"
    if isinstance(month, date):
        month = f"{month.year:04d}-{month.month:02d}"
    used = [name for name, v in (("--since/--until", since or until), ("--last", last),
                                 ("--week", week), ("--month", month)) if v]
    if len(used) > 1:
        raise ValueError(f"give only one of {' and '.join(used)}")
    if last:
        m = _LAST.fullmatch(last)
        if m is None or int(m.group(1)) < 1:
            raise ValueError(f"--last: {last_given!r} is not a number of days or weeks, like 7d "
                             "or 2w")
        days = int(m.group(1)) * (7 if m.group(2).lower() == "w" else 1)
        end = today or date.today()
        return Window(_shift(end, -(days - 1)), end)
    if week:
        m = _WEEK.fullmatch(week)
        try:
            if m is None:
                raise ValueError
            monday = date.fromisocalendar(int(m.group(1)), int(m.group(2)), 1)
        except ValueError:
            raise ValueError(f"--week: {week!r} is not an ISO week like 2021-W07") from None
        return Window(monday, _shift(monday, 6))
    if month:
        m = _MONTH.fullmatch(month)
        if m is None or not 1 <= int(m.group(2)) <= 12:
            raise ValueError(f"--month: {month!r} is not a month like 2021-02")
        year, mon = int(m.group(1)), int(m.group(2))
        return Window(date(year, mon, 1), date(year, mon, calendar.monthrange(year, mon)[1]))
    first = _date(since, "--since") if since else None
    last_day = _date(until, "--until") if until else None
    if first and last_day and first > last_day:
        raise ValueError(f"--since {first.isoformat()} is after --until "
                         f"{last_day.isoformat()}")
    return Window(first, last_day)


def _shift(day: date, days: int) -> date:
    """``day`` moved by ``days``, held at the calendar's ends (9999-W52 ends in year 10000)."""
    try:
        return day + timedelta(days=days)
    except OverflowError:
        return date.max if days > 0 else date.min


def _window_types(**given: Any) -> None:
    """A TypeError for an argument of :func:`window` of a type it does not take."""
    takes: dict[str, tuple[type, ...]] = {
        "since": (str, date), "until": (str, date), "last": (str, int),
        "week": (str, date), "month": (str, date), "today": (date,)}
    for name, value in given.items():
        if value is not None and (isinstance(value, bool)
                                  or not isinstance(value, takes[name])):
            kinds = " or ".join(t.__name__ for t in takes[name])
            raise TypeError(f"window({name}=...): must be a {kinds} "
                            f"(got {rules._got(value)})")


def select(collection: Collection, win: Window, topic: str | Iterable[str] | None = None,
           ) -> Collection:
    """The stories of ``collection`` inside ``win`` (and of ``topic``), newest first."""
    col = collection.filter(since=win.since, until=win.until, topic=topic or None)
    return col.sort("published", reverse=True)

