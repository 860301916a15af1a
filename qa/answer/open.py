"""Answers of several sentences, for the questions that want more than one fact (qa.answer.forms): an account or
list, a comparison, a summary, a timeline. Each sentence is the article's own, cited exactly; no short answer.

How each kind's sentences are chosen is qa.answer.choose.

Sentences from several articles are grouped by article, the articles in date order, each group opened by its
article's month and source ("In June 2012 (Bloomberg News): … [1] In June 2013 (U.S. News …): … [2]"); the whole
answer is held to MAX_WORDS words. The question is searched for without the words asking for the form of the answer
(forms.topic), the sentences scored by the plain sentence model (no reader: there is no short span to find), and
refused by the same gate as a fact question.
"""

from __future__ import annotations

import calendar
from collections.abc import Sequence
from dataclasses import replace
from typing import TYPE_CHECKING

from qa.answer import choose, forms
from qa.answer.choose import Part
from qa.search.dates import parse_date
from qa.text import answer_words
from qa.types import Answer, Article, Citation, TimelineEntry

if TYPE_CHECKING:
    from qa.answer.answerer import Answerer
    from qa.search.retrieve import SearchResult

OPEN_K = choose.OPEN_K
MAX_WORDS = 150  # an open answer's length, its articles' dates and sources included


def ask_open(
    answerer: Answerer,
    question: str,
    kind: str,
    *,
    found: SearchResult,
    articles: set[str] | None = None,
) -> Answer:
    """The open answer of `kind` to `question` from the passages `found` for its topic (timings filled by the
    caller; `articles`: those the search was kept to, by a conversation); a refusal when the gate finds nothing that
    answers."""
    refusal = answerer.refusal(found, question, kind=kind)
    sides: dict[str, choose.Read] = {}
    r: choose.Read | None = None
    if kind == forms.COMPARISON and len(set(choose.YEAR.findall(question))) >= 2:
        years = choose.year_sides(answerer, found, question, articles)
        judged = {y: (side, _gate(answerer, side)) for y, side in years.items()}
        sides = {y: side for y, (side, g) in judged.items() if g is not None}
        passed = max((g for _, g in judged.values() if g is not None), default=None)
    else:
        r = choose.read(answerer, found)
        passed = _gate(answerer, r)
    if passed is None:
        r = r or choose.read(answerer, found)
        return _with(refusal, support=r.signals.get("support", 0.0), confidence=round(r.value, 4))
    refusal = _with(refusal, support=passed[0], confidence=passed[1])
    if kind == forms.SUMMARY:
        parts = choose.summary(answerer, question, found)
    elif r is None:  # a comparison of years: its sides were read instead
        parts = choose.year_comparison(answerer, sides)
    elif kind == forms.COMPARISON:
        parts = choose.comparison(answerer, r)
    else:
        cands, feats, scores = choose.scored(answerer, r)
        if not cands:
            return refusal
        if kind == forms.TIMELINE:
            parts = choose.timeline(answerer, cands, feats, scores, forms.year_range(question))
        else:
            parts = choose.account(answerer, found, cands, scores, choose.anchor(r))
    if not parts:
        return refusal
    articles_ = answerer.index.articles
    text, citations, timeline = render(articles_, _within_words(articles_, parts, kind), kind)
    return _with(refusal, text=text, citations=tuple(citations), refused=False, timeline=tuple(timeline))


def _gate(answerer: Answerer, r: choose.Read) -> tuple[float, float] | None:
    """(support, gate value) when the passages read answer by the gate fitted without the reader (an open answer
    reads none), they hold every name asked about, a source's name counting, and some article was published in a
    period said relative to the day asked; else None."""
    from qa.answer.gate import shipped_gate

    if not r.signals or r.value < answerer.threshold or r.signals["support"] < shipped_gate(False).least_support:
        return None
    if answerer.missing_names(r.found, sources=True) or r.found.unreported:
        return None
    return r.signals["support"], round(r.value, 4)


def _with(answer: Answer, **changes: object) -> Answer:
    return replace(answer, **changes)  # type: ignore[arg-type]


def _within_words(articles: dict[str, Article], parts: list[Part], kind: str) -> list[Part]:
    """The parts, the lowest-scored dropped until the answer is within MAX_WORDS (never the last one)."""
    parts = list(parts)
    while len(parts) > 1 and answer_words(render(articles, parts, kind)[0]) > MAX_WORDS:
        parts.remove(min(parts, key=lambda p: p.score))
    return parts


def render(
    articles: dict[str, Article], parts: Sequence[Part], kind: str
) -> tuple[str, list[Citation], list[TimelineEntry]]:
    """The answer's text, its citations numbered in reading order and (a timeline) its entries: sentences grouped
    by article in the article's order (the anchor first), the articles in date order (undated ones last, in the
    order chosen), each group opened by its article's date and source when there are several."""
    groups: dict[str, list[Part]] = {}
    for p in parts:
        groups.setdefault(p.cand.article, []).append(p)
    first = {a: i for i, a in enumerate(groups)}
    order = sorted(groups, key=lambda a: (articles[a].date is None, articles[a].date or "", first[a]))
    several = len(order) > 1 or kind == forms.TIMELINE
    pieces: list[str] = []
    citations: list[Citation] = []
    timeline: list[TimelineEntry] = []
    for article in order:
        a = articles[article]
        quotes = []
        for p in sorted(groups[article], key=lambda p: (not p.anchor, p.cand.start)):
            n = len(citations) + 1
            citations.append(Citation(n, a.id, a.title, a.date, p.cand.start, p.cand.end, p.cand.text, a.date_inferred))
            quotes.append(f"{p.cand.text} [{n}]")
        if kind == forms.TIMELINE:
            timeline.append(TimelineEntry(a.date, a.id, a.title, len(citations) - len(quotes) + 1))
        label = f"{_when(a, kind)} ({a.source or a.title}): " if several else ""
        pieces.append(label + " ".join(quotes))
    return ("\n" if kind == forms.TIMELINE else " ").join(pieces), citations, timeline


def _when(a: Article, kind: str) -> str:
    """'In June 2012' (a timeline: 'June 18, 2012'); 'Undated' without a date."""
    day = parse_date(a.date)
    if day is None:
        return "Undated"
    if kind == forms.TIMELINE:
        return f"{calendar.month_name[day.month]} {day.day}, {day.year}"
    return f"In {calendar.month_name[day.month]} {day.year}"
