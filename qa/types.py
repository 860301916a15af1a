"""The values that flow through the pipeline: frozen, slotted dataclasses. Each result that leaves qa (as `--json`,
through the app's API or the LangChain adapter) has a `to_dict()` giving docs/design.md's shape: the one place
those shapes are written."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class Article:
    """One article. `text` is what offsets point into; `skip` marks web leftovers in it."""

    id: str
    title: str
    text: str
    date: str | None = None
    source: str | None = None
    url: str | None = None
    # (start, end) spans of web-page leftovers (subscription lines, RELATED links...):
    # kept in `text` so offsets stay true, but never chunked, retrieved or quoted.
    skip: tuple[tuple[int, int], ...] = ()
    date_inferred: bool = False  # the date was read from the text (qa.ingest.dates), not given with the article


@dataclass(frozen=True, slots=True)
class Chunk:
    """A retrievable span: `text == article_text[start:end]`."""

    article: str
    start: int
    end: int
    text: str


@dataclass(frozen=True, slots=True)
class Passage:
    """A chunk as retrieved for a question, with its article's title and date."""

    chunk: Chunk
    score: float
    rank: int
    title: str = ""
    date: str | None = None
    date_inferred: bool = False

    def to_dict(self) -> dict[str, Any]:
        out = {
            "rank": self.rank,
            "article": self.chunk.article,
            "title": self.title,
            "date": self.date,
            "start": self.chunk.start,
            "end": self.chunk.end,
            "text": self.chunk.text,
            "score": self.score,
        }
        return {**out, "date_inferred": True} if self.date_inferred else out


@dataclass(frozen=True, slots=True)
class Problem:
    """A skipped input: which file (and line), and why. Printed as a one-line warning."""

    path: str
    message: str
    line: int | None = None

    def __str__(self) -> str:
        where = self.path if self.line is None else f"{self.path}:{self.line}"
        return f"{where}: {self.message}"


@dataclass(frozen=True, slots=True)
class Period:
    """Inclusive range of dates a question asks about, and the words that said so."""

    start: dt.date
    end: dt.date
    phrase: str
    relative: bool = False  # said relative to the day the question is asked ("this week"), not as a date

    def __contains__(self, day: dt.date) -> bool:
        return self.start <= day <= self.end


@dataclass(frozen=True, slots=True)
class Citation:
    n: int
    article: str
    title: str
    date: str | None
    start: int
    end: int
    quote: str  # exactly article.text[start:end]
    date_inferred: bool = False  # the article's date was read from its text

    def to_dict(self) -> dict[str, Any]:
        out = {
            "n": self.n,
            "article": self.article,
            "title": self.title,
            "date": self.date,
            "start": self.start,
            "end": self.end,
            "quote": self.quote,
        }
        return {**out, "date_inferred": True} if self.date_inferred else out


@dataclass(frozen=True, slots=True)
class TimelineEntry:
    """One dated article of a timeline answer: its key sentence is citation `citation`."""

    date: str | None
    article: str
    title: str
    citation: int

    def to_dict(self) -> dict[str, Any]:
        return {"date": self.date, "article": self.article, "title": self.title, "citation": self.citation}


@dataclass(frozen=True, slots=True)
class Answer:
    question: str
    text: str
    short: str | None
    citations: tuple[Citation, ...]
    refused: bool
    passages: tuple[Passage, ...]
    timings_ms: dict[str, float]
    notices: tuple[str, ...] = ()
    score: float = 0.0  # the answer sentence's score
    support: float = 0.0  # share of the question's words (IDF-weighted) that the best passages hold
    confidence: float = 0.0  # the refusal gate's value: below 0 the answer is refused
    period: Period | None = None
    kind: str = "fact"  # the kind of answer the question wants (qa.answer.forms): fact, reason, list, comparison, ...
    timeline: tuple[TimelineEntry, ...] = ()  # a timeline answer's entries, in date order

    def to_dict(self) -> dict[str, Any]:
        """docs/design.md's `qa ask --json` shape."""
        out = {
            "question": self.question,
            "answer": self.text,
            "short_answer": self.short,
            "refused": self.refused,
            "citations": [c.to_dict() for c in self.citations],
            "passages": [p.to_dict() for p in self.passages],
            "timings_ms": self.timings_ms,
            "kind": self.kind,
        }
        if self.kind == "timeline":
            out["timeline"] = [e.to_dict() for e in self.timeline]
        return out

    @property
    def articles(self) -> list[str]:
        """The cited articles, in the order they are first cited."""
        return list(dict.fromkeys(c.article for c in self.citations))

    @property
    def heading(self) -> str | None:
        """What an answer of several sentences is ("Summary of 2 articles"); None for a fact or a refusal."""
        what = _HEADINGS.get(self.kind)
        if what is None or self.refused:
            return None
        n = len(self.articles)
        return f"{what} {n} article{'' if n == 1 else 's'}"


_HEADINGS = {"list": "Account from", "comparison": "Comparison of", "summary": "Summary of", "timeline": "Timeline of"}


def shown_date(date: str | None, inferred: bool = False) -> str:
    """An article's date as the panels show it: "undated", or marked when it was read from the text."""
    if not date:
        return "undated"
    return f"{date} (from the text)" if inferred else date
