"""Second stage: re-score the fused candidates with features a cross-encoder would weigh.

No cross-encoder ships offline (MODELS.md), so the score is a weighted sum, with weights chosen on
squad-dev16 (bench/retrieval.py), of:
- sentence: the largest share of the question's words (IDF-weighted) that one sentence of the chunk holds;
  an answer usually sits in one sentence that echoes the question,
- dense: cosine of the question and the chunk vectors,
- bm25: the chunk's BM25 score over the best candidate's,
- rrf: the fused first-stage score over the best candidate's,
- bigram: the largest share of the question's word pairs that one sentence holds (phrases, not just words).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np

from qa.lexical import tokenize
from qa.store import Index


@dataclass(frozen=True, slots=True)
class Weights:
    # Chosen on squad-dev16 (bench/retrieval.py --tune); 2-fold cross-validation by article gave the same
    # hit@5 (0.960) as fitting on all of it (0.961). BM25 still counts through the fused score (rrf).
    sentence: float = 1.0
    dense: float = 1.0
    bm25: float = 0.0
    rrf: float = 0.5
    bigram: float = 1.0


class Reranker:
    def __init__(self, index: Index, weights: Weights | None = None) -> None:
        self.index = index
        self.weights = weights or Weights()
        # row -> (word set, word-pair set) of each of its sentences
        self._sentences: dict[int, list[tuple[frozenset[str], frozenset[tuple[str, str]]]]] = {}

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
        pairs = set(itertools.pairwise(q_tokens))
        sentence = np.zeros(len(rows), dtype=np.float32)
        bigram = np.zeros(len(rows), dtype=np.float32)
        for n, r in enumerate(rows):
            sents = self._sentences[r]
            sentence[n] = max((sum(w for t, w in idf.items() if t in words) for words, _ in sents), default=0) / total
            if pairs:
                bigram[n] = max((len(pairs & p) for _, p in sents), default=0) / len(pairs)
        feats = np.stack([sentence, dense, bm25 / (bm25.max() or 1.0), rrf / (rrf.max() or 1.0), bigram], axis=1)
        feats = feats.astype(np.float32)
        return rows, feats

    def rerank(self, q_tokens: list[str], qv: np.ndarray, fused: dict[int, float]) -> dict[int, float]:
        rows, feats = self.features(q_tokens, qv, fused)
        w = self.weights
        scores = feats @ np.array([w.sentence, w.dense, w.bm25, w.rrf, w.bigram], dtype=np.float32)
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
            self._sentences[r] = [(frozenset(t), frozenset(itertools.pairwise(t))) for t in tokens[lo:hi]]
