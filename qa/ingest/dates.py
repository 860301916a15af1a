"""An article's date when its file gives none: a date line near the top (as news pages print "Published June 17,
2013" under the headline) or a full date in its first lines (a dateline, a photo caption). Such a date is marked
inferred wherever it is shown."""

from __future__ import annotations

import calendar
import datetime as dt
import re

_MONTHS = {name.lower(): i for i, name in enumerate(calendar.month_name) if name}
_MONTHS |= {name.lower(): i for i, name in enumerate(calendar.month_abbr) if name} | {"sept": 9}
_NAMES = "|".join(sorted(_MONTHS, key=len, reverse=True))  # longest first: "june" before "jun"
_FULL_DATE = re.compile(
    rf"\b(?P<month>{_NAMES})\.?\s+(?P<day>\d{{1,2}})(?:st|nd|rd|th)?,?\s+(?P<year>(?:19|20)\d\d)\b"
    rf"|\b(?P<day2>\d{{1,2}})\s+(?P<month2>{_NAMES})\.?,?\s+"
    rf"(?P<year2>(?:19|20)\d\d)\b"
    r"|\b(?P<iso>(?:19|20)\d\d-\d\d-\d\d)\b",
    re.IGNORECASE,
)
_TOP_LINES = 6  # lines after the title where a page prints its date
_DATE_LINE = 40  # a date line is a date and a few words: "Published 3:04 PM EDT, Mon June 17, 2013"
_LEDE = 300  # characters of the text in which a full date stands for the article's


def infer_date(text: str) -> str | None:
    """An ISO date for an article that has none: the first full date on a short line among its first lines, else a
    full date its first characters say something happened "on" (a caption, a lede); None when neither holds one.
    (Not any date of the lede: an encyclopedia's "(10 July 1856 - 7 January 1943)" is no publication date.)"""
    lines = [ln.strip() for ln in text.split("\n") if ln.strip()][1 : 1 + _TOP_LINES]
    for line in lines:
        dates = list(_FULL_DATE.finditer(line))
        if len(dates) == 1 and len(line) - len(dates[0].group(0)) <= _DATE_LINE:
            found = _first_date(line)
            if found is not None:
                return found
    return _first_date(text[:_LEDE], after="on ")


def _first_date(text: str, after: str = "") -> str | None:
    for m in _FULL_DATE.finditer(text):
        if after and not text[: m.start()].lower().endswith(after):
            continue
        try:
            if m["iso"]:
                return dt.date.fromisoformat(m["iso"]).isoformat()
            month = _MONTHS[(m["month"] or m["month2"]).lower()]
            return dt.date(int(m["year"] or m["year2"]), month, int(m["day"] or m["day2"])).isoformat()
        except ValueError:  # "February 30, 2013": not a date
            continue
    return None
