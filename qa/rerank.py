"""Second stage: re-score the fused candidates with features a cross-encoder would weigh.

No cross-encoder ships offline (MODELS.md), so the score is a weighted sum, with weights chosen on
squad-dev16 (bench/retrieval.py), of:
- sentence: the largest share of the question's words (IDF-weighted) that one sentence of the chunk holds;
  an answer usually sits in one sentence that echoes the question,
- dense: cosine of the question and the chunk vectors,
- bm25: the chunk's BM25 score over the best candidate's,
- rrf: the fused first-stage score over the best candidate's,
- title: the share of the question's words (IDF-weighted) in the article title.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from qa.lexical import tokenize
from qa.store import Index


@dataclass(frozen=True, slots=True)
class Weights:
    sentence: float = 1.0
    dense: float = 1.0
    bm25: float = 0.5
    rrf: float = 0.5
    title: float = 0.2


class Reranker:
    def __init__(self, index: Index, weights: Weights | None = None) -> None:
        self.index = index
        self.weights = weights or Weights()
        self._sentences: dict[int, list[frozenset[str]]] = {}  # row -> token sets of its sentences
        self._titles: dict[str, frozenset[str]] = {}

    def features(self, q_tokens: list[str], qv: np.ndarray, fused: dict[int, float]) -> tuple[list[int], np.ndarray]:
        """Candidate rows and their feature matrix (columns in Weights' order)."""
        rows = list(fused)
        if not rows:
            return rows, np.zeros((0, 5), dtype=np.float32)
        idf = self.index.bm25.idf(q_tokens)
        total = sum(idf.values()) or 1.0
        self._cache_sentences([r for r in rows if r not in self._sentences])
        bm25_all = self.index.bm25.scores(q_tokens)
        bm25 = bm25_all[rows]
        dense = self.index.vectors[rows] @ qv
        rrf = np.array([fused[r] for r in rows], dtype=np.float32)
        sentence = np.zeros(len(rows), dtype=np.float32)
        title = np.zeros(len(rows), dtype=np.float32)
        for n, r in enumerate(rows):
            sentence[n] = max((sum(w for t, w in idf.items() if t in s) for s in self._sentences[r]), default=0) / total
            title[n] = sum(w for t, w in idf.items() if t in self._title(self.index.chunks[r].article)) / total
        feats = np.stack([sentence, dense, bm25 / (bm25.max() or 1.0), rrf / (rrf.max() or 1.0), title], axis=1).astype(
            np.float32
        )
        return rows, feats

    def rerank(self, q_tokens: list[str], qv: np.ndarray, fused: dict[int, float]) -> dict[int, float]:
        rows, feats = self.features(q_tokens, qv, fused)
        w = self.weights
        scores = feats @ np.array([w.sentence, w.dense, w.bm25, w.rrf, w.title], dtype=np.float32)
        return {r: float(s) for r, s in zip(rows, scores, strict=True)}

    def _cache_sentences(self, rows: list[int]) -> None:
        import blingfire

        if not rows:
            return
        spans: list[tuple[int, int]] = []
        texts: list[str] = []
        for r in rows:
            _, offsets = blingfire.text_to_sentences_and_offsets(self.index.chunks[r].text)
            spans.append((len(texts), len(texts) + len(offsets)))
            texts.extend(self.index.chunks[r].text[s:e] for s, e in offsets)
        tokens = tokenize(texts)
        for r, (lo, hi) in zip(rows, spans, strict=True):
            self._sentences[r] = [frozenset(t) for t in tokens[lo:hi]]

    def _title(self, article: str) -> frozenset[str]:
        if article not in self._titles:
            self._titles[article] = frozenset(tokenize([self.index.articles[article].title])[0])
        return self._titles[article]
