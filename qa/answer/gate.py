"""The refusal gate: whether the passages found answer the question at all.

A logistic model (Gate, qa/data/gate.json, fitted by `python -m train.gate`; without the reader
qa/data/gate_plain.json, fitted with the reader's two signals left out) over the signals below; an answer is
refused below 0, when the best passages hold less than `least_support` of the question's words, when the
question names something none of them holds (qa.answer.names), or when it says a period relative to the day asked
that none of the dated articles was published in (qa.search.retrieve.Retriever.unreported).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, replace

import numpy as np

from qa import learned
from qa.answer.reader import Reading
from qa.answer.sentences import READER_FLOOR, Candidate, asked_kind_held, content_tokens
from qa.index.store import Index
from qa.search.retrieve import SearchResult
from qa.text import coverage, tokenize

# The refusal gate's signals, in Gate's order (gate_signals computes them).
GATE_SIGNALS = (
    "support", "cosine", "passage", "reader", "support_asked", "period", "recency", "reader_any", "coverage", "window",
    "kind",
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class Gate:
    """Whether the articles answer at all: a logistic model over GATE_SIGNALS, refuse below 0; the stamp in
    qa/data/gate.json has the data it was fitted on and its held-out figures."""

    support: float  # share of the question's content words (IDF-weighted) the best passages hold
    cosine: float  # MiniLM cosine of the question and the best sentence
    passage: float  # the best passage's retrieval score
    reader: float  # the reader's best span in the answer sentence over its "none of these" score
    bias: float
    # Whatever the rest says, an answer needs the best passages to hold this share of the question's words:
    # questions about the same story that the articles don't answer (seed questions) are close in meaning.
    least_support: float
    support_asked: float = 0.0  # support of the question part alone (a quiz question after its context)
    period: float = 0.0  # the best sentence's article fits the period asked about
    recency: float = 0.0  # it was published shortly before the day asked
    reader_any: float = 0.0  # the reader's best span in any passage over its "none of these" score
    coverage: float = 0.0  # the best sentence's own share of the question's words
    window: float = 0.0  # the same with the sentence before it
    kind: float = 0.0  # the best sentence holds the kind of thing asked for

    def value(self, signals: dict[str, float]) -> float:
        return sum(getattr(self, name) * signals[name] for name in GATE_SIGNALS) + self.bias


READER_SIGNALS = ("reader", "reader_any")  # what a gate without the reader cannot weigh


def shipped_gate(reader: bool = True) -> Gate:
    """The gate fitted with the reader's signals, or (reader=False) without them; one object each per process."""
    return _gate("gate" if reader else "gate_plain")


@functools.cache
def _gate(name: str) -> Gate:
    return learned.weights(name, Gate)


def support(index: Index, found: SearchResult, asked: bool = False) -> float:
    """The largest share of the question's content words (IDF-weighted, words the articles never use weighing
    most) that one of the three best passages holds, title included; `asked`: of its question part's words."""
    query = found.query
    if asked and query.asks != query.text:
        query = replace(query, tokens=tokenize([query.asks])[0])
    idf = index.bm25.idf(content_tokens(query), unknown=True)
    total = sum(idf.values())
    if not total or not found.passages:
        return 0.0
    texts = [f"{index.articles[p.chunk.article].title}\n{p.chunk.text}" for p in found.passages[:3]]
    return max(coverage(idf, set(toks), total) for toks in tokenize(texts))


def gate_signals(
    index: Index,
    found: SearchResult,
    cands: list[Candidate],
    feats: np.ndarray,
    scores: np.ndarray,
    readings: list[Reading] | None,
) -> dict[str, float]:
    """The refusal gate's signals for the passages found and the best sentence among them (`cands`, `feats`,
    `scores`: the answerer's scored candidate sentences)."""
    holding = asked_kind_held(found.query.asks, feats)
    if holding is not None:
        # An amount, a duration or a date was asked for: whether the articles say it is judged on the best
        # sentence that holds one (the answer sentence may still be another: holds_kind misses some).
        scores = np.where(holding, scores, -np.inf)
    best = int(np.argmax(scores)) if len(scores) else -1
    row = feats[best] if best >= 0 else np.zeros(feats.shape[1], dtype=np.float32)
    span = cands[best].span if best >= 0 else None
    none = max((r.none for r in readings), default=0.0) if readings else 0.0
    spans = [s.span[0] for s in cands if s.span is not None]
    return {
        "support": support(index, found),
        "support_asked": support(index, found, asked=True),
        "period": float(row[12]),
        "recency": float(row[13]),
        "cosine": float(row[2]),
        "passage": found.passages[0].score if found.passages else 0.0,
        # the reader's best span in the answer sentence over its "none of these" score, and its best anywhere
        "reader": span[0] - none if span is not None else -READER_FLOOR,
        "reader_any": max(spans) - none if spans else -READER_FLOOR,
        "coverage": float(row[0]),
        "window": float(row[5]),
        "kind": float(row[4]),
    }
