"""What a factoid question asks for (a number, a date, a name) and the short answer: the span inside the answer
sentence that it asks for.

The span is chosen by the learned model in qa.answer.spans (candidates from spaCy's parse, a linear model over their
features, trained on squad-dev16). Questions asking why or how something happened want a reason or a manner,
which takes a clause: they get no short answer. The question form's kinds (`wanted_kinds`) are also what the
answerer uses to prefer sentences holding a number, a date or a name (`holds_kind`, `strict_kind`).
"""

from __future__ import annotations

import functools
import re

from qa.answer import spans
from qa.text import CAPITALISED_WORD, normalize

# Question form -> entity labels it asks for, most likely first.
_KINDS: list[tuple[re.Pattern[str], tuple[str, ...]]] = [
    (re.compile(p, re.IGNORECASE), tuple(kinds.split()))
    for p, kinds in [
        (r"\bhow many\b", "CARDINAL QUANTITY"),
        (r"\bhow much\b", "MONEY QUANTITY PERCENT CARDINAL"),
        (r"\bhow long\b", "TIME DATE QUANTITY"),
        (r"\bhow old\b", "DATE CARDINAL"),
        (r"\b(?:what|which) (?:percent|percentage|share|proportion)\b", "PERCENT"),
        (r"\b(?:what|which|in what) (?:year|years|date|day|month|decade|century|time|period|era)\b", "DATE TIME"),
        (r"\bwhen\b", "DATE TIME"),
        (r"\bwhere\b", "GPE LOC FAC ORG"),
        (r"\b(?:what|which) (?:country|countries|city|cities|state|region|nation|town|place|continent)\b", "GPE LOC"),
        (r"\b(?:what|which) (?:team|company|organi[sz]ation|group|party|agency|university|club|newspaper)\b", "ORG"),
        (r"\b(?:what|which) (?:language|nationality|religion)\b", "LANGUAGE NORP"),
        (
            r"\bwho(?:m|se)?\b|\b(?:what|which) (?:person|president|leader|king|queen|man|woman|name)\b",
            "PERSON ORG NORP GPE",
        ),
    ]
]
_NUMERIC = frozenset({"CARDINAL", "QUANTITY", "MONEY", "PERCENT"})
# "how long/many/much/old" ask for an amount: an entity with no number in it ("today") is a poor answer.
_AMOUNT_Q = re.compile(r"\bhow (?:long|many|much|old)\b", re.IGNORECASE)
_HAS_NUMBER = re.compile(
    r"\d|\b(?:one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|twenty|thirty|forty|fifty|"
    r"hundred|thousand|million|billion|dozen|half|several|few|once|twice|thrice)\b",
    re.IGNORECASE,
)


@functools.lru_cache(maxsize=256)
def wanted_kinds(question: str) -> tuple[str, ...] | None:
    """Entity labels a factoid question asks for, or None when it is not a factoid of a known kind."""
    for pattern, kinds in _KINDS:
        if pattern.search(question):
            return kinds
    return None


_NO_SHORT = frozenset({"why", "how"})  # a reason or a manner is a clause, not a short span
_HOW_LONG = re.compile(r"\bhow long\b", re.IGNORECASE)


def wants_clause(question: str) -> bool:
    """Why and how questions want a reason or a manner: a clause, so no short answer. (No parse: the reader's
    answers ask only this of the question.)"""
    return spans.question_kind(question) in _NO_SHORT


def short_answer(question: str, sentence: str) -> tuple[int, int] | None:
    """(start, end) of the short answer inside `sentence`, or None."""
    if wants_clause(question):
        return None
    best = spans.best_span(spans.question_info(question), sentence)
    return (best[0], best[1]) if best else None


_DATE_LIKE = re.compile(
    r"\b(?:1[0-9]|20)\d\d\b|\b\d{1,2}(?:st|nd|rd|th) century\b|\b(?:January|February|March|April|May|June|July|"
    r"August|September|October|November|December|Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday|"
    r"today|yesterday)\b"
)
_MONTHS = r"(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Sept|Oct|Nov|Dec)[a-z]*\.?"
_CALENDAR = re.compile(
    rf"\b{_MONTHS}\s+\d{{1,2}}(?:st|nd|rd|th)?(?:,?\s+(?:1[0-9]|20)\d\d)?\b|\b\d{{1,2}}\s+{_MONTHS}\b|"
    r"\b(?:1[0-9]|20)\d\d\b"
)
_DURATION = re.compile(
    r"(?:\d|\b(?:one|two|three|four|five|six|seven|eight|nine|ten|several|few|many|a)\b)[\w,.-]*\s+"
    r"(?:\w+\s+)?(?:seconds?|minutes?|hours?|days?|weeks?|months?|years?|decades?|centuries|century)\b",
    re.IGNORECASE,
)


def holds_kind(question: str, sentence: str) -> bool:
    """A cheap check (no NER) that the sentence holds the kind of thing the question asks for."""
    kinds = wanted_kinds(question)
    if kinds is None:
        return False
    if _HOW_LONG.search(question):
        return _DURATION.search(sentence) is not None
    if _AMOUNT_Q.search(question) or set(kinds) & _NUMERIC:
        # "June 16" or "in 2012" is a date, not an amount
        return _HAS_NUMBER.search(_CALENDAR.sub(" ", sentence)) is not None
    if "DATE" in kinds:
        return _DATE_LIKE.search(sentence) is not None
    q_words = set(normalize(question).split())
    return any(m.group(0).lower() not in q_words for m in CAPITALISED_WORD.finditer(sentence))


def duration_in(question: str, span: str) -> str | None:
    """For "how long" questions, the duration inside a longer span ("two hours Monday" -> "two hours")."""
    if not _HOW_LONG.search(question):
        return None
    found = _DURATION.search(span)
    return found.group(0) if found else None


def strict_kind(question: str) -> bool:
    """Whether the question asks for an amount, a duration or a date: kinds `holds_kind` tells reliably."""
    kinds = wanted_kinds(question)
    return kinds is not None and (_AMOUNT_Q.search(question) is not None or "DATE" in kinds[:1] or "PERCENT" in kinds)
