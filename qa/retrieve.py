"""Find the passages that answer a question.

First stage: dense (FAISS, cosine) and keyword (BM25) search, each over `candidates` chunks, fused by
reciprocal rank. Second stage: the fused candidates re-scored with what a cross-encoder would look at and
the index can afford: how much of the question one sentence of the chunk covers, the dense and BM25
scores, and the title. Dates in the question ("in 2013", "last June") restrict the search to articles of
that period when there are any; "the latest" prefers the newest of the relevant articles.
"""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from qa.config import Settings
from qa.dates import Period, find_period, parse_date, wants_latest
from qa.embed import Embedder
from qa.errors import QuestionError
from qa.lexical import tokenize
from qa.rerank import Reranker
from qa.store import Index
from qa.types import Passage

MAX_QUESTION_CHARS = 2000
Mode = Literal["hybrid", "fused", "dense", "bm25"]


@dataclass(frozen=True, slots=True)
class SearchResult:
    question: str
    passages: list[Passage]
    timings_ms: dict[str, float]
    notices: list[str] = field(default_factory=list)
    period: Period | None = None
    query_vector: np.ndarray | None = None
    query_tokens: list[str] = field(default_factory=list)


def clean_question(question: str) -> tuple[str, list[str]]:
    """The question, stripped; over MAX_QUESTION_CHARS it is cut, with a notice saying so."""
    q = " ".join(question.split())
    if not q:
        raise QuestionError("the question is empty: type a question about the articles")
    if len(q) > MAX_QUESTION_CHARS:
        cut = q[:MAX_QUESTION_CHARS].rsplit(" ", 1)[0]
        return cut, [f"the question was {len(q):,} characters; only the first {len(cut):,} were used"]
    return q, []


class Retriever:
    """Search over a loaded index. Load once, then search many times (it keeps per-chunk caches)."""

    def __init__(self, index: Index, embedder: Embedder, settings: Settings | None = None) -> None:
        settings = settings or Settings()
        self.settings = settings
        self.index = index
        self.embedder = embedder
        self.candidates = settings.candidates
        self.rrf_k = settings.rrf_k
        self.rerank_on = settings.rerank
        articles = list(index.articles)
        self.article_pos = {aid: n for n, aid in enumerate(articles)}
        self.row_article = np.array([self.article_pos[c.article] for c in index.chunks], dtype=np.int32)
        self.article_dates = [parse_date(index.articles[aid].date) for aid in articles]
        known = [d for d in self.article_dates if d is not None]
        self.newest: dt.date | None = max(known) if known else None
        self.reranker = Reranker(index)

    def search(
        self,
        question: str,
        k: int = 5,
        *,
        mode: Mode = "hybrid",
        period: Period | None = None,
        articles: set[str] | None = None,
    ) -> SearchResult:
        """Best k passages. `period` overrides the one found in the question; `articles` restricts the
        search to those articles (a follow-up question stays with the articles of the previous answer)."""
        if k <= 0:
            raise QuestionError(f"k must be greater than 0, got {k}: pass -k 1 or more")
        t0 = time.perf_counter()
        q, notices = clean_question(question)
        period = period or find_period(q, self.newest)
        allowed = self._allowed_rows(period, notices)
        if articles:
            keep = np.flatnonzero(
                np.isin(self.row_article, [self.article_pos[a] for a in articles if a in self.article_pos])
            )
            allowed = keep if allowed is None else np.intersect1d(allowed, keep)
        timings: dict[str, float] = {}
        n = max(self.candidates, k)
        qv = self.embedder.embed_query(q) if mode != "bm25" else None
        timings["embed"] = _ms(t0)
        t1 = time.perf_counter()
        dense = self._dense(qv, n, allowed) if qv is not None else {}
        q_tokens = tokenize([q])[0]
        lexical = self._bm25(q_tokens, n, allowed) if mode != "dense" else {}
        fused = self._fuse(dense, lexical)
        timings["first_stage"] = _ms(t1)
        t2 = time.perf_counter()
        if mode == "hybrid" and self.rerank_on and qv is not None:
            scored = self.reranker.rerank(q_tokens, qv, fused)
        else:
            scored = fused
        if wants_latest(q) and period is None:
            scored = self._prefer_latest(scored)
        timings["rerank"] = _ms(t2)
        rows = sorted(scored, key=lambda r: -scored[r])[:k]
        passages = [Passage(self.index.chunks[r], round(float(scored[r]), 6), rank) for rank, r in enumerate(rows, 1)]
        timings["total"] = _ms(t0)
        return SearchResult(q, passages, timings, notices, period, qv, q_tokens)

    # ---- stages ----------------------------------------------------------------------------------

    def _allowed_rows(self, period: Period | None, notices: list[str]) -> np.ndarray | None:
        """Rows of articles dated inside the period (undated articles stay in), or None for all rows."""
        if period is None:
            return None
        inside = np.array([d is not None and d in period for d in self.article_dates], dtype=bool)
        if not inside.any():
            notices.append(f"no article is dated {period.phrase}; searched all articles")
            return None
        undated = np.array([d is None for d in self.article_dates], dtype=bool)
        return np.flatnonzero((inside | undated)[self.row_article])

    def _dense(self, qv: np.ndarray, n: int, allowed: np.ndarray | None) -> dict[int, float]:
        """Row -> cosine of the n nearest rows, best first (flat or HNSW: the index's dense setting)."""
        return dict(self.index.dense_search(qv, n, allowed))

    def _bm25(self, q_tokens: list[str], n: int, allowed: np.ndarray | None) -> dict[int, float]:
        scores = self.index.bm25.scores(q_tokens)
        if allowed is not None:
            masked = np.zeros_like(scores)
            masked[allowed] = scores[allowed]
            scores = masked
        n = min(n, int(np.count_nonzero(scores)))
        if n == 0:
            return {}
        top = np.argpartition(-scores, n - 1)[:n]
        return {int(r): float(scores[r]) for r in top}

    def _fuse(self, dense: dict[int, float], lexical: dict[int, float]) -> dict[int, float]:
        """Reciprocal-rank fusion: sum over the two lists of 1 / (rrf_k + rank)."""
        fused: dict[int, float] = {}
        for scores in (dense, lexical):
            for rank, row in enumerate(sorted(scores, key=lambda r: -scores[r]), start=1):
                fused[row] = fused.get(row, 0.0) + 1.0 / (self.rrf_k + rank)
        return fused

    def _prefer_latest(self, scored: dict[int, float]) -> dict[int, float]:
        """Among the 10 best candidates' articles, the newest dated one's chunks move to the front."""
        best = sorted(scored, key=lambda r: -scored[r])[:10]
        dated = [(self.article_dates[self.row_article[r]], r) for r in best]
        dated = [(d, r) for d, r in dated if d is not None]
        if not dated:
            return scored
        newest = max(d for d, _ in dated)
        top = max(scored.values())
        return {r: s + (top if self.article_dates[self.row_article[r]] == newest else 0.0) for r, s in scored.items()}


def _ms(since: float) -> float:
    return round((time.perf_counter() - since) * 1000, 2)
