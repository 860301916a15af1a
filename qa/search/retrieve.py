"""Find the passages that answer a question.

First stage: dense (FAISS, cosine) and keyword (BM25) search, each over `candidates` chunks, fused by
reciprocal rank. Second stage: the fused candidates re-scored with what a cross-encoder would look at and
the index can afford (qa.search.rerank), the articles' dates among it.

Dates are evidence, never filters: a period in the question ("in 2013", "this week", "on Monday", read against the
day the question is asked) adds the best dense and BM25 candidates among the articles published in or just before
it to the fused lists, and the second stage weighs how each article's date fits; every article stays a candidate
(a year may name the event, not the publication: "plans to merge in 2024" in a 2022 article). "The latest" prefers
the newest of the relevant articles.
"""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass
from typing import Literal

import numpy as np

from qa.config import Settings
from qa.embed.embedder import Embedder
from qa.errors import QuestionError
from qa.index.store import Index
from qa.search.dates import recent, window
from qa.search.query import Query, make_query
from qa.search.rerank import Reranker
from qa.search.sentences import Sentences
from qa.types import Passage, Period

Mode = Literal["hybrid", "fused", "dense", "bm25"]


@dataclass(frozen=True, slots=True)
class SearchResult:
    query: Query
    passages: list[Passage]
    timings_ms: dict[str, float]
    notices: tuple[str, ...] = ()  # the query's, and the search's own ("no article is dated …")
    # the question says a period relative to the day asked ("this week") and, of the dated articles searched, none
    # was published in or just before it: the articles cannot report it (Answerer.vetoed refuses)
    unreported: bool = False

    @property
    def question(self) -> str:
        return self.query.text

    @property
    def period(self) -> Period | None:
        return self.query.period


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
        self.sentences = Sentences(index, embedder)
        days = np.array([self.sentences.article_day(aid) for aid in articles], dtype=np.float64)
        self.row_days = days[self.row_article] if len(self.row_article) else np.zeros(0)  # NaN: undated
        self.reranker = Reranker(self.sentences, self.row_days)

    def search(
        self,
        question: str,
        k: int | None = None,
        *,
        mode: Mode = "hybrid",
        period: Period | None = None,
        articles: set[str] | None = None,
        as_of: dt.date | None = None,
        rows: np.ndarray | None = None,
    ) -> SearchResult:
        """Best k passages (default: the settings' k). `period` overrides the one found in the question;
        `articles` restricts the search to those articles (a follow-up question stays with the articles of the
        previous answer), `rows` to those chunk rows (what an index without the others would find: the recipes
        that label unanswerable questions use it); `as_of` is the day the question is asked (default: the
        settings', else today)."""
        k = self.settings.k if k is None else k
        if k <= 0:
            raise QuestionError(f"k must be greater than 0, got {k}: pass -k 1 or more")
        t0 = time.perf_counter()
        embedder = self.embedder if mode != "bm25" else None
        query = make_query(question, embedder, as_of or self.settings.asked_on(), period)
        notices = list(query.notices)
        allowed = rows
        if articles:
            keep = np.flatnonzero(
                np.isin(self.row_article, [self.article_pos[a] for a in articles if a in self.article_pos])
            )
            allowed = keep if allowed is None else np.intersect1d(allowed, keep)
        timings: dict[str, float] = {}
        n = max(self.candidates, k)
        timings["embed"] = _ms(t0)
        t1 = time.perf_counter()
        fused, bm25 = self.first_stage(query, n, allowed, notices, keyword=mode != "dense")
        timings["first_stage"] = _ms(t1)
        t2 = time.perf_counter()
        if mode == "hybrid" and self.rerank_on and bm25 is not None and query.vector is not None:
            scored = self.reranker.rerank(query, fused, bm25)
        else:
            scored = fused
        if query.latest and query.period is None:
            scored = self._prefer_latest(scored)
        timings["rerank"] = _ms(t2)
        best = sorted(scored, key=lambda r: -scored[r])[:k]
        passages = [self.index.passage(r, round(float(scored[r]), 6), rank) for rank, r in enumerate(best, 1)]
        timings["total"] = _ms(t0)
        return SearchResult(query, passages, timings, tuple(notices), self.unreported(query.period, allowed))

    # ---- stages ----------------------------------------------------------------------------------

    def first_stage(
        self,
        query: Query,
        n: int,
        allowed: np.ndarray | None = None,
        notices: list[str] | None = None,
        keyword: bool = True,
    ) -> tuple[dict[int, float], np.ndarray | None]:
        """The fused candidates (row -> reciprocal-rank score) and every row's BM25 score (None without `keyword`):
        the n best by dense and by BM25 score, and, when the question names a period, the n best of each among the
        articles published in or just before it (among `allowed` rows, if given)."""
        bm25 = self.index.bm25.scores(query.tokens) if keyword else None
        lists = self._candidates(query, bm25, n, allowed)
        dated = self._period_rows(query.period, allowed, [] if notices is None else notices)
        if dated is None and query.period is None and query.as_of is not None:  # news of the days before it
            dated = self._period_rows(recent(query.as_of), allowed, [])
        if dated is not None:  # the period's own best candidates: its articles preferred, no other left out
            lists += self._candidates(query, bm25, n, dated)
        return self.fuse(*lists), bm25

    def _candidates(
        self, query: Query, bm25: np.ndarray | None, n: int, allowed: np.ndarray | None
    ) -> list[dict[int, float]]:
        """The first stage's lists: the n best rows by dense and by BM25 score (among `allowed` rows if given)."""
        dense = self.dense(query.vector, n, allowed) if query.vector is not None else {}
        return [dense, self.keyword(bm25, n, allowed) if bm25 is not None else {}]

    def _period_rows(self, period: Period | None, allowed: np.ndarray | None, notices: list[str]) -> np.ndarray | None:
        """Rows of the articles published in or just before the period (qa.search.dates.window), or None when the
        period names none of them."""
        if period is None or not len(self.row_days):
            return None
        lo, hi = window(period)
        inside = (self.row_days >= lo) & (self.row_days <= hi)
        if allowed is not None:
            inside &= np.isin(np.arange(len(inside)), allowed)
        if not inside.any():
            notices.append(f"no article is dated {period.phrase}; every article was searched")
            return None
        return np.flatnonzero(inside)

    def unreported(self, period: Period | None, allowed: np.ndarray | None) -> bool:
        """`period` is said relative to the day asked, and no article among `allowed` rows (all if None) was
        published in or just before it, while some are dated: what was news then is not in the folder. A period
        named as a date ("in 2024") may name the event an older article expects, and a folder without dates tells
        nothing, so neither counts."""
        if period is None or not period.relative:
            return False
        days = self.row_days if allowed is None else self.row_days[allowed]
        return bool(np.isfinite(days).any()) and self._period_rows(period, allowed, []) is None

    def dense(self, qv: np.ndarray, n: int, allowed: np.ndarray | None) -> dict[int, float]:
        """Row -> cosine of the n nearest rows, best first (flat or HNSW: the index's dense setting)."""
        return dict(self.index.dense_search(qv, n, allowed))

    def keyword(self, scores: np.ndarray, n: int, allowed: np.ndarray | None) -> dict[int, float]:
        """Row -> BM25 score of the n best rows with any (`scores`: every row's, for the question)."""
        if allowed is not None:
            masked = np.zeros_like(scores)
            masked[allowed] = scores[allowed]
            scores = masked
        n = min(n, int(np.count_nonzero(scores)))
        if n == 0:
            return {}
        top = np.argpartition(-scores, n - 1)[:n]
        return {int(r): float(scores[r]) for r in top}

    def fuse(self, *lists: dict[int, float]) -> dict[int, float]:
        """Reciprocal-rank fusion: sum over the lists of 1 / (rrf_k + rank)."""
        fused: dict[int, float] = {}
        for scores in lists:
            for rank, row in enumerate(sorted(scores, key=lambda r: -scores[r]), start=1):
                fused[row] = fused.get(row, 0.0) + 1.0 / (self.rrf_k + rank)
        return fused

    def _prefer_latest(self, scored: dict[int, float]) -> dict[int, float]:
        """Among the 10 best candidates' articles, the newest dated one's chunks move to the front."""
        best = sorted(scored, key=lambda r: -scored[r])[:10]
        dated = [self.row_days[r] for r in best if not np.isnan(self.row_days[r])]
        if not dated:
            return scored
        newest = max(dated)
        top = max(scored.values())
        return {r: s + (top if self.row_days[r] == newest else 0.0) for r, s in scored.items()}


def _ms(since: float) -> float:
    return round((time.perf_counter() - since) * 1000, 2)
