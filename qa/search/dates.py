"""Dates and periods named in a question: "in 2013", "June 2012", "last year", "the latest".

Relative phrases are read against a reference date: the newest article in the index, because in an
archive "last year" means the archive's last year, not the calendar's.
"""

from __future__ import annotations

import calendar
import datetime as dt
import re

from qa.types import Period

_MONTHS = {name.lower(): i for i, name in enumerate(calendar.month_name) if name}
_MONTHS |= {name.lower(): i for i, name in enumerate(calendar.month_abbr) if name}
_MONTH = r"(?P<month>" + "|".join(sorted(_MONTHS, key=len, reverse=True)) + r")\.?"
_YEAR = r"(?P<year>(?:19|20)\d\d)"

_MONTH_YEAR = re.compile(rf"\b{_MONTH}(?:\s+\d{{1,2}}(?:st|nd|rd|th)?,?)?\s+(?:of\s+)?{_YEAR}\b", re.IGNORECASE)
_YEAR_ONLY = re.compile(rf"(?<![\d,.$£€])\b{_YEAR}\b(?![\d,.]\d|\s*(?:%|percent|people|deaths|troops|km|miles))")
_LAST_MONTH_NAME = re.compile(rf"\blast\s+{_MONTH}\b", re.IGNORECASE)
_RELATIVE = re.compile(r"\b(?P<which>this|last|past|previous)\s+(?P<unit>year|month|week)\b", re.IGNORECASE)
_LATEST = re.compile(r"\b(?:latest|most recent|newest|recent(?:ly)?|currently|now|these days|today)\b", re.IGNORECASE)


def parse_date(value: str | None) -> dt.date | None:
    """The date part of an ISO-8601 date or date-time string."""
    if not value:
        return None
    try:
        return dt.date.fromisoformat(value[:10])
    except ValueError:
        return None


def find_period(question: str, reference: dt.date | None) -> Period | None:
    """The period a question names, if any; relative phrases need a reference date."""
    m = _MONTH_YEAR.search(question)
    if m:
        return _month(int(m["year"]), _MONTHS[m["month"].lower()], m.group(0))
    years = {int(y.group("year")) for y in _YEAR_ONLY.finditer(question)}
    if len(years) == 1:
        (year,) = years
        return Period(dt.date(year, 1, 1), dt.date(year, 12, 31), str(year))
    if reference is None:
        return None
    m = _LAST_MONTH_NAME.search(question)
    if m:
        month = _MONTHS[m["month"].lower()]
        year = reference.year if month < reference.month else reference.year - 1
        return _month(year, month, m.group(0))
    m = _RELATIVE.search(question)
    if m:
        which, unit = m["which"].lower(), m["unit"].lower()
        back = 0 if which == "this" else 1
        if unit == "year":
            year = reference.year - back
            return Period(dt.date(year, 1, 1), dt.date(year, 12, 31), m.group(0))
        if unit == "month":
            y, mo = divmod(reference.year * 12 + reference.month - 1 - back, 12)
            return _month(y, mo + 1, m.group(0))
        start = reference - dt.timedelta(days=reference.weekday() + 7 * back)
        return Period(start, start + dt.timedelta(days=6), m.group(0))
    return None


def wants_latest(question: str) -> bool:
    return _LATEST.search(question) is not None


def _month(year: int, month: int, phrase: str) -> Period:
    return Period(dt.date(year, month, 1), dt.date(year, month, calendar.monthrange(year, month)[1]), phrase)
