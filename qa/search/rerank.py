"""Second stage: re-score the fused candidates with features a cross-encoder would weigh.

No cross-encoder ships offline (docs/models.md), so the score is a weighted sum, with weights fitted by
`python -m train.rerank` (qa/data/rerank.json), of:
- sentence: the largest share of the question's words (IDF-weighted) that one sentence of the chunk holds;
  an answer usually sits in one sentence that echoes the question,
- dense: cosine of the question and the chunk vectors,
- bm25: the chunk's BM25 score over the best candidate's,
- rrf: the fused first-stage score over the best candidate's,
- bigram: the largest share of the question's word pairs that one sentence holds (phrases, not just words),
- title, chunk: the share of the question's words (IDF-weighted) the article's title holds, and the whole chunk,
- kind: the chunk holds the kind of thing asked for (a duration for "how long", a number, a date, a name),
- period, recency, future: how the article's date fits the question (qa.search.dates.date_evidence): inside the
  period it names, published shortly before the day it is asked, published after it.
"""

from __future__ import annotations

import functools
import itertools
from dataclasses import dataclass

import numpy as np

from qa import learned
from qa.answer.kinds import holds_kind
from qa.search.dates import DATE_FEATURES, date_evidence
from qa.search.query import Query
from qa.search.sentences import Sentences, pairs_held
from qa.text import coverage


@dataclass(frozen=True, slots=True)
class Weights:
    sentence: float
    dense: float
    bm25: float
    rrf: float
    bigram: float
    title: float = 0.0
    chunk: float = 0.0
    kind: float = 0.0
    period: float = 0.0
    dated: float = 0.0
    recency: float = 0.0
    week: float = 0.0
    month: float = 0.0
    future: float = 0.0

    def vector(self) -> np.ndarray:
        return np.array([getattr(self, name) for name in FEATURES], dtype=np.float32)


FEATURES = ("sentence", "dense", "bm25", "rrf", "bigram", "title", "chunk", "kind", *DATE_FEATURES)


@functools.cache
def shipped_weights() -> Weights:
    return learned.weights("rerank", Weights)


class Reranker:
    def __init__(self, sentences: Sentences, row_days: np.ndarray, weights: Weights | None = None) -> None:
        """`row_days`: each chunk row's article date as a day ordinal (NaN: undated)."""
        self.sentences = sentences
        self.index = sentences.index
        self.row_days = row_days
        self.weights = weights or shipped_weights()

    def features(self, query: Query, fused: dict[int, float], bm25: np.ndarray) -> tuple[list[int], np.ndarray]:
        """Candidate rows and their feature matrix (columns in FEATURES' order); `bm25`: every row's BM25 score
        for the question, as the first stage computed it."""
        rows = list(fused)
        if not rows or query.vector is None:
            return rows, np.zeros((len(rows), len(FEATURES)), dtype=np.float32)
        idf = self.index.bm25.idf(query.tokens)
        total = sum(idf.values()) or 1.0
        words = self.sentences.chunk_words(rows)
        scores = bm25[rows]
        dense = self.index.vectors[rows] @ query.vector
        rrf = np.array([fused[r] for r in rows], dtype=np.float32)
        pairs = set(itertools.pairwise(query.tokens))
        sentence = np.zeros(len(rows), dtype=np.float32)
        bigram = np.zeros(len(rows), dtype=np.float32)
        chunk = np.zeros(len(rows), dtype=np.float32)
        for n, sents in enumerate(words):
            sentence[n] = max((coverage(idf, w, total) for w, _ in sents), default=0)
            chunk[n] = coverage(idf, frozenset().union(*(w for w, _ in sents)), total)
            if pairs:
                bigram[n] = max((pairs_held(pairs, w) for w in sents), default=0) / len(pairs)
        chunks = self.index.chunks
        title = np.array(
            [coverage(idf, w, total) for w in self.sentences.title_words([chunks[r].article for r in rows])]
        )
        kind = np.array([float(holds_kind(query.asks, chunks[r].text)) for r in rows])
        feats = np.stack(
            [sentence, dense, scores / (scores.max() or 1.0), rrf / (rrf.max() or 1.0), bigram, title, chunk, kind],
            axis=1,
        )
        dates = date_evidence(self.row_days[rows], query.period, query.as_of)
        return rows, np.hstack([feats, dates]).astype(np.float32)

    def rerank(self, query: Query, fused: dict[int, float], bm25: np.ndarray) -> dict[int, float]:
        rows, feats = self.features(query, fused, bm25)
        scores = feats @ self.weights.vector()
        return {r: float(s) for r, s in zip(rows, scores, strict=True)}
