"""Second stage: re-score the fused candidates with features a cross-encoder would weigh.

No cross-encoder ships offline (docs/models.md), so the score is a weighted sum, with weights fitted by
`python -m train.rerank` (qa/data/rerank.json), of:
- sentence: the largest share of the question's words (IDF-weighted) that one sentence of the chunk holds;
  an answer usually sits in one sentence that echoes the question,
- dense: cosine of the question and the chunk vectors,
- bm25: the chunk's BM25 score over the best candidate's,
- rrf: the fused first-stage score over the best candidate's,
- bigram: the largest share of the question's word pairs that one sentence holds (phrases, not just words).
"""

from __future__ import annotations

import functools
import itertools
from dataclasses import dataclass

import numpy as np

from qa import learned
from qa.search.query import Query
from qa.search.sentences import Sentences
from qa.text import coverage


@dataclass(frozen=True, slots=True)
class Weights:
    sentence: float
    dense: float
    bm25: float
    rrf: float
    bigram: float

    def vector(self) -> np.ndarray:
        return np.array([self.sentence, self.dense, self.bm25, self.rrf, self.bigram], dtype=np.float32)


@functools.cache
def shipped_weights() -> Weights:
    return learned.weights("rerank", Weights)


class Reranker:
    def __init__(self, sentences: Sentences, weights: Weights | None = None) -> None:
        self.sentences = sentences
        self.index = sentences.index
        self.weights = weights or shipped_weights()

    def features(self, query: Query, fused: dict[int, float], bm25: np.ndarray) -> tuple[list[int], np.ndarray]:
        """Candidate rows and their feature matrix (columns in Weights' order); `bm25`: every row's BM25 score
        for the question, as the first stage computed it."""
        rows = list(fused)
        if not rows or query.vector is None:
            return rows, np.zeros((len(rows), 5), dtype=np.float32)
        idf = self.index.bm25.idf(query.tokens)
        total = sum(idf.values()) or 1.0
        words = self.sentences.chunk_words(rows)
        scores = bm25[rows]
        dense = self.index.vectors[rows] @ query.vector
        rrf = np.array([fused[r] for r in rows], dtype=np.float32)
        pairs = set(itertools.pairwise(query.tokens))
        sentence = np.zeros(len(rows), dtype=np.float32)
        bigram = np.zeros(len(rows), dtype=np.float32)
        for n, sents in enumerate(words):
            sentence[n] = max((coverage(idf, w, total) for w, _ in sents), default=0)
            if pairs:
                bigram[n] = max((len(pairs & p) for _, p in sents), default=0) / len(pairs)
        feats = np.stack([sentence, dense, scores / (scores.max() or 1.0), rrf / (rrf.max() or 1.0), bigram], axis=1)
        return rows, feats.astype(np.float32)

    def rerank(self, query: Query, fused: dict[int, float], bm25: np.ndarray) -> dict[int, float]:
        rows, feats = self.features(query, fused, bm25)
        scores = feats @ self.weights.vector()
        return {r: float(s) for r, s in zip(rows, scores, strict=True)}
