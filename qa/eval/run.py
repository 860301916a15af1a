"""`qa eval`: check a question set against its articles, run every question the way `qa ask` does, score it.

Each question is asked with the settings' k (the answer reads the best 5 passages, as `qa ask` does) and
RETRIEVE_K passages retrieved, so the 10 passages give hit@1/5/10 and MRR@10.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from qa.config import Settings
from qa.eval.metrics import (
    citations_correct,
    contains_answer,
    exact_match,
    f1,
    first_hit,
    mean,
    percentile,
    refusal_metrics,
    retrieval_metrics,
)
from qa.eval.questions import EvalQuestion, article_texts, check_questions, load_questions
from qa.search.dates import RECENT_DAYS, RELATIVE_TIME, parse_date
from qa.text import answer_words
from qa.types import Answer

RETRIEVE_K = 10  # passages retrieved, for hit@10 and MRR@10
STAGES = ("retrieve", "answer", "total")


@dataclass(frozen=True, slots=True)
class Row:
    """One question's row in report.json: what was answered and how it scores (metrics that do not apply: None)."""

    id: str
    type: str
    question: str
    answers: list[str]
    source_articles: list[str]
    answerable: bool
    refused: bool
    answer: str
    short_answer: str | None
    citations: list[dict[str, Any]]
    timings_ms: dict[str, float]
    first_hit: int | None = None
    exact_match: float | None = None
    f1: float | None = None
    sentence_correct: bool | None = None
    citation_correct: bool | None = None
    llm: dict[str, Any] | None = None  # with --answerer llm: what the LLM did (qa.llm.answerer.LLMResult.row)
    asked_at: str | None = None
    recent_source: bool | None = None  # asked on a day: a source article was published in the fortnight before it
    kind: str = "fact"  # the kind of answer given (qa.answer.forms)
    kind_label: str = "fact"  # the kind the question is labelled with
    key_fact_recall: float | None = None  # an open question's share of key facts the answer names
    words: int = 0  # the answer's length in words ([n] markers not counted)

    def to_dict(self) -> dict[str, Any]:
        out = {
            "id": self.id,
            "type": self.type,
            "question": self.question,
            "answers": self.answers,
            "source_articles": self.source_articles,
            "answerable": self.answerable,
            "refused": self.refused,
            "answer": self.answer,
            "short_answer": self.short_answer,
            "citations": self.citations,
            "first_hit": self.first_hit,
            "exact_match": self.exact_match,
            "f1": self.f1,
            "sentence_correct": self.sentence_correct,
            "citation_correct": self.citation_correct,
            "timings_ms": self.timings_ms,
            "kind": self.kind,
            "kind_label": self.kind_label,
            "words": self.words,
        }
        if self.key_fact_recall is not None:
            out["key_fact_recall"] = self.key_fact_recall
        if self.asked_at is not None:
            out["asked_at"] = self.asked_at
            out["recent_source"] = self.recent_source
        if self.llm is not None:
            out["llm"] = self.llm
        return out


def score(
    q: EvalQuestion,
    answer: Answer,
    texts: Mapping[str, str],
    llm: dict[str, Any] | None = None,
    dates: Mapping[str, dt.date | None] | None = None,
) -> Row:
    """One question's row (`dates`: the articles' dates, for whether a source was published shortly before the
    question was asked)."""
    got = answer.short if answer.short is not None else answer.text
    answered = not answer.refused
    metrics: dict[str, Any] = {}
    if q.key_facts:
        named = [answered and any(contains_answer(answer.text, [s]) for s in fact) for fact in q.key_facts]
        metrics["key_fact_recall"] = sum(named) / len(named)
    if q.answerable:
        metrics["first_hit"] = first_hit(answer.passages, q.answers, q.source_articles)
        metrics["exact_match"] = exact_match(got, q.answers) if answered else 0.0
        metrics["f1"] = f1(got, q.answers) if answered else 0.0
        metrics["sentence_correct"] = bool(answer.citations) and contains_answer(answer.citations[0].quote, q.answers)
        if answered:
            metrics["citation_correct"] = citations_correct(answer.citations, texts, q.source_articles)
    return Row(
        id=q.id,
        type=q.type,
        question=q.question,
        answers=list(q.answers),
        source_articles=list(q.source_articles),
        answerable=q.answerable,
        refused=answer.refused,
        answer=answer.text,
        short_answer=answer.short,
        citations=[{"article": c.article, "start": c.start, "end": c.end, "quote": c.quote} for c in answer.citations],
        timings_ms=dict(answer.timings_ms),
        llm=llm,
        asked_at=q.asked_at.isoformat() if q.asked_at else None,
        recent_source=_recent_source(q, dates or {}) if q.asked_at and q.answerable else None,
        kind=answer.kind,
        kind_label=q.kind,
        words=0 if answer.refused else answer_words(answer.text),
        **metrics,
    )


def _recent_source(q: EvalQuestion, dates: Mapping[str, dt.date | None]) -> bool:
    """A source article was published in the fortnight before the question was asked (or up to two days after):
    the news it asks about. News-quiz sets also list old pages that hold the answer by coincidence."""
    assert q.asked_at is not None
    return any(
        (d := dates.get(a)) is not None and -2 <= (q.asked_at - d).days <= RECENT_DAYS for a in q.source_articles
    )


def summarize(rows: Sequence[Row]) -> dict[str, Any]:
    """docs/design.md's `qa eval --json` object. Retrieval rates are over answerable questions, EM, F1 and
    sentence accuracy over the answerable fact questions (those without key facts), key-fact recall and answer
    length over those with, citation accuracy over answered answerable ones; a rate with nothing to count is None."""
    answerable = [r for r in rows if r.answerable]
    factoid = [r for r in answerable if r.key_fact_recall is None]
    totals = [r.timings_ms["total"] for r in rows]
    retrieval: dict[str, float | None] = dict.fromkeys(("hit@1", "hit@5", "hit@10", "mrr@10"))
    if answerable:
        retrieval.update(retrieval_metrics([r.first_hit for r in answerable]))
    return {
        "n": len(rows),
        "n_answerable": len(answerable),
        "n_unanswerable": len(rows) - len(answerable),
        "retrieval": retrieval,
        "answer": {
            "exact_match": mean([r.exact_match or 0.0 for r in factoid]),
            "f1": mean([r.f1 or 0.0 for r in factoid]),
            "sentence_accuracy": mean([float(bool(r.sentence_correct)) for r in factoid]),
        },
        "citation": {"accuracy": mean([float(bool(r.citation_correct)) for r in answerable if not r.refused])},
        "refusal": refusal_metrics([r.refused for r in rows], [r.answerable for r in rows]),
        "latency_ms": {"p50": percentile(totals, 50), "p95": percentile(totals, 95)},
        **({"open": open_figures(rows)} if any(r.key_fact_recall is not None for r in rows) else {}),
    }


def open_figures(rows: Sequence[Row]) -> dict[str, Any]:
    """The open questions' figures (those with key facts): how many, the mean share of key facts named, answer
    length in words (mean and longest), the share refused and their ask latency."""
    open_ = [r for r in rows if r.key_fact_recall is not None]
    answered = [r.words for r in open_ if not r.refused]
    totals = [r.timings_ms["total"] for r in open_]
    return {
        "n": len(open_),
        "key_fact_recall": mean([r.key_fact_recall or 0.0 for r in open_]),
        "words_mean": mean([float(w) for w in answered]),
        "words_max": max(answered, default=None),
        "refused": mean([float(r.refused) for r in open_]),
        "latency_ms": {"p50": percentile(totals, 50), "p95": percentile(totals, 95)},
    }


def kind_confusion(pairs: Iterable[tuple[str, str]]) -> dict[str, Any]:
    """(labelled kind, kind answered as) pairs: the table of one against the other, and the share of fact questions
    answered as another kind."""
    table: dict[str, dict[str, int]] = {}
    for label, kind in pairs:
        cell = table.setdefault(label, {})
        cell[kind] = cell.get(kind, 0) + 1
    facts = table.get("fact", {})
    n = sum(facts.values())
    return {"confusion": table, "fact_as_other": (n - facts.get("fact", 0)) / n if n else None}


def details(rows: Sequence[Row], seconds: float) -> dict[str, Any]:
    """What report.json adds to the summary: the share of answerable questions refused, latency per stage,
    questions per second, a per-type breakdown."""
    stages = {
        s: {"p50": percentile(v, 50), "p95": percentile(v, 95)}
        for s in STAGES
        if (v := [r.timings_ms[s] for r in rows if s in r.timings_ms])
    }
    by_type = {t: _group([r for r in rows if r.type == t]) for t in sorted({r.type for r in rows})}
    dated = [r for r in rows if r.asked_at is not None]
    by_time = {}
    if dated:  # questions asked on a day: those that say when relative to it ("this week") and those that do not;
        # and those with a source published shortly before the day asked, and those with only older ones
        said = [r for r in dated if RELATIVE_TIME.search(r.question)]
        by_time = {"relative time": _group(said), "no relative time": _group([r for r in dated if r not in said])}
        if any(r.recent_source is not None for r in dated):
            by_time["recent source"] = _group([r for r in dated if r.recent_source])
            by_time["only older sources"] = _group([r for r in dated if r.recent_source is False])
    notes = []
    if not any(not r.answerable for r in rows):
        notes.append("no unanswerable questions in this set: refusal precision and recall are null")
    elif not any(r.refused for r in rows):
        notes.append("no question was refused: refusal precision is null")
    answerable = [r for r in rows if r.answerable]
    return {
        "answerable_refused": mean([float(r.refused) for r in answerable]),
        "latency_by_stage_ms": stages,
        "seconds": round(seconds, 3),
        "questions_per_second": round(len(rows) / seconds, 2) if seconds > 0 else None,
        "by_type": by_type,
        "by_kind": {k: _group([r for r in rows if r.kind_label == k]) for k in sorted({r.kind_label for r in rows})},
        "kinds": kind_confusion((r.kind_label, r.kind) for r in rows if r.answerable or r.kind_label != "fact"),
        "by_time": by_time,
        "notes": notes,
    }


def _group(rows: Sequence[Row]) -> dict[str, Any]:
    """A group's figures for the report's tables (figures over nothing are None)."""
    if not rows:
        return {"n": 0, "hit@5": None, "sentence_accuracy": None, "f1": None, "refused": None}
    s = summarize(rows)
    out = {
        "n": len(rows),
        "hit@5": s["retrieval"]["hit@5"],
        "sentence_accuracy": s["answer"]["sentence_accuracy"],
        "f1": s["answer"]["f1"],
        "refused": sum(r.refused for r in rows) / len(rows),
    }
    return {**out, "key_fact_recall": s["open"]["key_fact_recall"]} if "open" in s else out


@dataclass(frozen=True, slots=True)
class EvalResult:
    summary: dict[str, Any]  # docs/design.md's --json object
    report: dict[str, Any]  # report.json: the summary, details, and one row per question
    rows: list[Row] = field(default_factory=list)


def run_eval(
    settings: Settings,
    questions_path: Path,
    *,
    build_from: Path | None = None,
    limit: int | None = None,
    progress: bool = False,
) -> EvalResult:
    """Check the questions, build or update the index from `build_from` when given (else use the index as it
    is), then ask every question (the first `limit`) as `qa ask` does and score the answers."""
    from tqdm import tqdm

    from qa.index.build import build
    from qa.pipeline import QA

    questions = load_questions(questions_path)
    build_info: dict[str, Any] | None = None  # what building from `build_from` did
    if build_from is not None:
        settings = settings.with_(articles=build_from)
        check_questions(questions, article_texts(build_from), questions_path)  # before the slow build
        built = build(settings, progress=progress)
        build_info = {
            "articles": built.articles,
            "chunks": built.chunks,
            **{k: len(getattr(built, k)) for k in ("added", "changed", "removed")},
            "seconds": round(built.seconds, 3),
        }
    qa = QA.open(settings)
    texts = {aid: a.text for aid, a in qa.index.articles.items()}
    # A source article saved twice is indexed once, under one of its ids: its passages count as the source's.
    canonical = qa.index.manifest.aliases()
    if build_from is None:
        check_questions(questions, {**texts, **{a: texts[aid] for a, aid in canonical.items()}}, questions_path)
    llm = qa.llm_answerer() if settings.answerer == "llm" else None  # the LLM's answers, checked (qa/llm)
    chosen = [
        replace(q, source_articles=tuple(dict.fromkeys(canonical.get(a, a) for a in q.source_articles)))
        for q in (questions[:limit] if limit is not None else questions)
    ]
    dates = {aid: parse_date(a.date) for aid, a in qa.index.articles.items()}
    rows = []
    t0 = time.perf_counter()
    for q in tqdm(chosen, desc="questions", unit="q", disable=not progress, mininterval=0.5):
        if llm is None:
            answer = qa.answerer.ask(q.question, retrieve_k=RETRIEVE_K, as_of=q.asked_at)
            rows.append(score(q, answer, texts, dates=dates))
        else:
            result = llm.ask(q.question, retrieve_k=RETRIEVE_K, as_of=q.asked_at)
            rows.append(score(q, result.answer, texts, llm=result.row(), dates=dates))
    seconds = time.perf_counter() - t0
    summary = summarize(rows)
    if llm is not None:
        from qa.llm.answerer import summary as llm_summary

        summary["llm"] = llm_summary([r.to_dict() for r in rows], llm.llm.name)
    report = {
        **summary,
        **details(rows, seconds),
        "questions_file": str(questions_path),
        "index": str(settings.index),
        "build": build_info,
        "model": qa.index.manifest.model_id,
        "k": {"answer": settings.k, "retrieve": RETRIEVE_K},
        "questions": [r.to_dict() for r in rows],
    }
    return EvalResult(summary, report, rows)
