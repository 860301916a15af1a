"""Dates and periods named in a question: "in 2013", "June 2012", "last year", "this week", "on Monday".

Relative phrases are read against the day the question is asked (`as_of`: `qa ask --as-of`, QA_AS_OF, an eval
question's `asked_at`; today when none is given), never against the newest article: news is asked about at a time,
and "this week" is the week before that day. A period is evidence, not a filter (qa.search.retrieve): articles
published in or just before it are preferred, and sentences that state it.
"""

from __future__ import annotations

import calendar
import datetime as dt
import re

import numpy as np

from qa.types import Period

_MONTHS = {name.lower(): i for i, name in enumerate(calendar.month_name) if name}
_MONTHS |= {name.lower(): i for i, name in enumerate(calendar.month_abbr) if name}
_MONTH = r"(?P<month>" + "|".join(sorted(_MONTHS, key=len, reverse=True)) + r")\.?"
_YEAR = r"(?P<year>(?:19|20)\d\d)"
_WEEKDAYS = {name.lower(): i for i, name in enumerate(calendar.day_name)}
_NUMBER_WORDS = {"a": 1, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "several": 3, "few": 3}

_MONTH_YEAR = re.compile(rf"\b{_MONTH}(?:\s+\d{{1,2}}(?:st|nd|rd|th)?,?)?\s+(?:of\s+)?{_YEAR}\b", re.IGNORECASE)
_YEAR_ONLY = re.compile(rf"(?<![\d,.$£€])\b{_YEAR}\b(?![\d,.]\d|\s*(?:%|percent|people|deaths|troops|km|miles))")
_LAST_MONTH_NAME = re.compile(rf"\blast\s+{_MONTH}\b", re.IGNORECASE)
_CALENDAR = re.compile(
    r"\b(?:(?P<earlier>earlier\s+)?(?P<which>this|last|past|previous)\s+(?P<unit>year|month|week(?:end)?))\b",
    re.IGNORECASE,
)
_DAYS = re.compile(
    r"\b(?:this\s+(?:past|coming)\s+(?:week(?:end)?|few\s+days)|(?:in\s+)?(?:the\s+)?(?:past|last)\s+"
    r"(?:few|several|couple\s+of)\s+(?:days|weeks)|in\s+recent\s+(?:days|weeks)|(?<!most\s)recent(?:ly)?|"
    r"earlier\s+this\s+week|"
    r"this\s+(?:morning|afternoon|evening)|today|tonight|yesterday)\b",
    re.IGNORECASE,
)
_WEEKDAY = re.compile(r"\b(?:on|last|this|since)\s+(?P<day>" + "|".join(_WEEKDAYS) + r")\b", re.IGNORECASE)
_AGO = re.compile(
    r"\b(?P<n>\d+|a|one|two|three|four|five|six|several|few)\s+(?P<unit>days?|weeks?|months?)\s+ago\b", re.IGNORECASE
)
_SEASON = re.compile(r"\bthis\s+(?:season|summer|winter|spring|fall|autumn)\b", re.IGNORECASE)
_UPCOMING = re.compile(
    r"\b(?:upcoming|next\s+(?:week|month|year|season)|this\s+coming|coming\s+(?:week|month))\b", re.IGNORECASE
)
_LATEST = re.compile(r"\b(?:latest|most recent|newest|currently|now|these days|so far)\b", re.IGNORECASE)

# Whether a question says when in words relative to the day it is asked (the eval reports these questions apart).
RELATIVE_TIME = re.compile(
    r"\b(?:(?:this|last|next|past|coming)\s+(?:week|weekend|month|year|season|summer|winter|spring|fall|autumn|"
    r"morning|afternoon|evening|night|monday|tuesday|wednesday|thursday|friday|saturday|sunday)|recent(?:ly)?|"
    r"today|yesterday|tonight|earlier this|upcoming|currently|so far|on (?:monday|tuesday|wednesday|thursday|friday|"
    r"saturday|sunday)|this (?:past|coming)|(?:days|weeks) ago)\b",
    re.IGNORECASE,
)


def parse_date(value: str | None) -> dt.date | None:
    """The date part of an ISO-8601 date or date-time string."""
    if not value:
        return None
    try:
        return dt.date.fromisoformat(value[:10])
    except ValueError:
        return None


def find_period(question: str, as_of: dt.date | None) -> Period | None:
    """The period a question names, if any: a month and year or a year as written; relative phrases ("this week",
    "last year", "on Monday", "two weeks ago") read against `as_of`, the day the question is asked."""
    m = _MONTH_YEAR.search(question)
    if m:
        return _month(int(m["year"]), _MONTHS[m["month"].lower()], m.group(0))
    years = {int(y.group("year")) for y in _YEAR_ONLY.finditer(question)}
    if len(years) == 1:
        (year,) = years
        return Period(dt.date(year, 1, 1), dt.date(year, 12, 31), str(year))
    if as_of is None:
        return None
    return _relative(question, as_of)


def _relative(question: str, d: dt.date) -> Period | None:
    m = _LAST_MONTH_NAME.search(question)
    if m:
        month = _MONTHS[m["month"].lower()]
        year = d.year if month < d.month else d.year - 1
        return _month(year, month, m.group(0), relative=True)
    m = _CALENDAR.search(question)
    if m:
        which, unit, phrase = m["which"].lower(), m["unit"].lower(), m.group(0)
        this = which == "this"
        if unit == "year":
            if this:
                return _days(dt.date(d.year, 1, 1), d, phrase)
            return Period(dt.date(d.year - 1, 1, 1), dt.date(d.year - 1, 12, 31), phrase, relative=True)
        if unit == "month":
            if this:
                return _days(d.replace(day=1), d, phrase)
            y, mo = divmod(d.year * 12 + d.month - 2, 12)
            return _month(y, mo + 1, phrase, relative=True)
        # "this week" in news is the seven days before the day asked; "last week" may be either week before
        return _days(d - dt.timedelta(days=7 if this or which == "past" else 14), d, phrase)
    m = _WEEKDAY.search(question)
    if m:
        back = (d.weekday() - _WEEKDAYS[m["day"].lower()]) % 7
        day = d - dt.timedelta(days=back)
        return _days(day - dt.timedelta(days=1), d, m.group(0))  # reported that day or after
    m = _AGO.search(question)
    if m:
        n = int(m["n"]) if m["n"].isdigit() else _NUMBER_WORDS[m["n"].lower()]
        days = n * {"d": 1, "w": 7, "m": 30}[m["unit"][0].lower()]
        slack = max(2, days // 4)
        return _days(d - dt.timedelta(days=days + slack), d - dt.timedelta(days=max(0, days - slack)), m.group(0))
    m = _DAYS.search(question)
    if m:
        phrase = m.group(0).lower()
        one_day = phrase in {"today", "tonight", "yesterday"} or phrase.startswith(("this morning", "this a", "this e"))
        return _days(d - dt.timedelta(days=2 if one_day else 10), d, m.group(0))
    m = _SEASON.search(question) or _UPCOMING.search(question)
    if m:  # an event of this season, or one still to come: reported in the months before the day asked
        return _days(d - dt.timedelta(days=90), d, m.group(0))
    return None


def wants_latest(question: str) -> bool:
    return _LATEST.search(question) is not None


def _month(year: int, month: int, phrase: str, relative: bool = False) -> Period:
    last = calendar.monthrange(year, month)[1]
    return Period(dt.date(year, month, 1), dt.date(year, month, last), phrase, relative=relative)


def _days(start: dt.date, end: dt.date, phrase: str) -> Period:
    return Period(start, end, phrase, relative=True)


# ---- dates as evidence -------------------------------------------------------------------------------------------

DATE_FEATURES = ("period", "dated", "recency", "week", "month", "future")
RECENT_DAYS = 14  # without a period, the news of the fortnight before the day asked is what a question is about
_LEAD_DAYS = 7  # news of a period is published from a little before it ("what will happen this week") ...
_LAG_DAYS = 2  # ... to a little after it


def window(period: Period) -> tuple[int, int]:
    """The days (as ordinals) whose articles report on `period`: from a week before it (half its length for a long
    one) to two days after it."""
    lead = max(_LEAD_DAYS, (period.end - period.start).days // 2)
    return period.start.toordinal() - lead, period.end.toordinal() + _LAG_DAYS


def date_evidence(days: np.ndarray, period: Period | None, as_of: dt.date | None) -> np.ndarray:
    """For articles published on `days` (ordinals; NaN: undated), how their dates fit a question (DATE_FEATURES):

    period   1 inside the window of a period said relative to the day asked ("this week"), falling off with the
             days outside it (a scale of a week, or a quarter of a long period); 0 without such a period
    dated    the same for a period named as a date ("in 2013", "June 2012"): a year may name the event rather than
             the publication, so the two weigh apart
    recency  1 published the day the question is asked, falling off over a fortnight before it (what news questions
             ask about, said or not); 0 without a day asked
    week     1 published in the week before the day asked (or up to two days after)
    month    1 published in the month before it
    future   1 published more than two days after the day asked (the question cannot be about it)
    Undated articles score 0 on all of them."""
    out = np.zeros((len(days), len(DATE_FEATURES)), dtype=np.float32)
    dated = np.isfinite(days)
    if period is not None:
        lo, hi = window(period)
        gap = np.where(days < lo, lo - days, np.where(days > hi, days - hi, 0.0))
        scale = max(7.0, (period.end - period.start).days / 4)
        out[:, 0 if period.relative else 1] = np.where(dated, np.exp(-np.nan_to_num(gap) / scale), 0.0)
    if as_of is not None:
        before = np.nan_to_num(as_of.toordinal() - days, nan=-1e9)
        known = dated & (before >= -_LAG_DAYS)
        out[:, 2] = np.where(known, np.exp(-np.clip(before, 0, None) / RECENT_DAYS), 0.0)
        out[:, 3] = np.where(known & (before <= 8), 1.0, 0.0)
        out[:, 4] = np.where(known & (before <= 35), 1.0, 0.0)
        out[:, 5] = np.where(dated & (before < -_LAG_DAYS), 1.0, 0.0)
    return out


def recent(as_of: dt.date) -> Period:
    """The fortnight before the day a question is asked: where a question without a period looks first."""
    return Period(as_of - dt.timedelta(days=RECENT_DAYS), as_of, "recently", relative=True)
