"""Retrieval: the passage that answers is found, years pick the right article, BM25 and vectors stay in step."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pytest

from qa.config import Settings
from qa.embed.embedder import Embedder
from qa.errors import QuestionError
from qa.index.build import build
from qa.index.store import Index
from qa.pipeline import QA
from qa.search.query import MAX_QUESTION_CHARS
from qa.search.retrieve import Retriever
from qa.text import tokenize
from tests.helpers import G8_2013, G20_2012, write, write_story

# question -> words the top passage must hold (the answer's sentence)
SEED_QUESTIONS = {
    "How many deaths have occurred in the Syrian conflict?": "92,000 deaths",
    "Who is the U.S. Ambassador to Russia?": "Mike McFaul",
    "What did Hillary Clinton accuse Russia of?": "accused Russia of stoking the violence",
    "Which summit did Putin decline to attend at Camp David?": "Camp David",
    "How much humanitarian aid is the United States sending?": "$800 million",
    "What did Obama tell Charlie Rose?": "rush into one more war",
}


@pytest.fixture
def seeds(seed_qa: QA) -> Retriever:
    """The seed index's retriever (shared by the session: searches only read it)."""
    return seed_qa.retriever


@pytest.mark.parametrize(("question", "answer"), SEED_QUESTIONS.items())
def test_seed_questions_retrieve_the_passage_holding_the_answer(seeds: Retriever, question: str, answer: str) -> None:
    passages = seeds.search(question, 3).passages
    assert answer in passages[0].chunk.text, [p.chunk.text[:80] for p in passages]


@pytest.mark.parametrize(
    ("question", "article"),
    [
        ("Where did Obama meet Putin in 2013?", G8_2013),
        ("How long did the 2013 meeting between Obama and Putin last?", G8_2013),
        ("How long did the 2012 meeting between Obama and Putin last?", G20_2012),
        ("What did Obama and Putin agree on in June 2012?", G20_2012),
        ("What did Putin say about Syria in 2013?", G8_2013),
    ],
)
def test_a_year_in_the_question_prefers_the_article_of_that_year(seeds: Retriever, question: str, article: str) -> None:
    result = seeds.search(question, 5)
    assert result.period is not None and not result.period.relative
    assert result.passages[0].chunk.article == article


def test_a_year_is_evidence_not_a_filter(seeds: Retriever) -> None:
    # both meetings' articles are about Putin and Syria: the other year's stays a candidate, below the year's
    result = seeds.search("What did Putin say about Syria in 2012?", 5)
    found = [p.chunk.article for p in result.passages]
    assert set(found) == {G20_2012, G8_2013}
    assert found.count(G20_2012) > found.count(G8_2013)


def test_without_a_year_both_meetings_are_found(seeds: Retriever) -> None:
    found = {
        p.chunk.article for p in seeds.search("How long did the meeting between Obama and Putin last?", 5).passages
    }
    assert found == {G20_2012, G8_2013}


def test_a_year_no_article_has_is_a_notice_not_an_empty_result(seeds: Retriever) -> None:
    result = seeds.search("What did Putin say in 2019?", 3)
    assert result.notices == ("no article is dated 2019; every article was searched",)
    assert len(result.passages) == 3


def test_the_latest_prefers_the_newest_relevant_article(seeds: Retriever) -> None:
    assert (
        seeds.search("What is the latest on the Obama Putin talks about Syria?", 1).passages[0].chunk.article == G8_2013
    )


def test_passages_are_exact_article_slices_ranked_by_score(seeds: Retriever) -> None:
    passages = seeds.search("Obama Putin Syria", 8).passages
    assert [p.rank for p in passages] == list(range(1, 9))
    assert [p.score for p in passages] == sorted((p.score for p in passages), reverse=True)
    for p in passages:
        assert seeds.index.articles[p.chunk.article].text[p.chunk.start : p.chunk.end] == p.chunk.text


def test_each_first_stage_finds_its_kind_of_match(seeds: Retriever) -> None:
    # BM25 matches a rare exact word; dense matches a paraphrase with no word in common.
    assert "Alawite" in seeds.search("Alawite", 1, mode="bm25").passages[0].chunk.text
    assert (
        "92,000 deaths" in seeds.search("how many were killed in the fighting", 1, mode="dense").passages[0].chunk.text
    )


@pytest.mark.parametrize("question", ["", "   \n\t "])
def test_empty_question_is_an_error(seeds: Retriever, question: str) -> None:
    with pytest.raises(QuestionError, match="empty"):
        seeds.search(question)


@pytest.mark.parametrize("k", [0, -3])
def test_k_below_one_is_an_error(seeds: Retriever, k: int) -> None:
    with pytest.raises(QuestionError, match="k must be greater than 0"):
        seeds.search("Putin", k)


def test_overlong_question_is_cut_with_a_notice(seeds: Retriever) -> None:
    result = seeds.search("Where did Obama meet Putin? " + "very " * 1000, 3)
    assert len(result.question) <= MAX_QUESTION_CHARS
    assert result.notices and "only the first" in result.notices[0]
    assert len(result.passages) == 3


def test_removed_article_never_comes_back_from_either_retriever(settings: Settings, embedder: Embedder) -> None:
    write_story(settings.articles, "cup-final.txt", "sb.txt")
    build(settings, embedder=embedder)
    question = "Which team won the Coastal Cup final?"
    before = Retriever(Index.load(settings.index), embedder, settings)
    assert before.search(question, 1, mode="bm25").passages[0].chunk.article == "sb.txt"
    (settings.articles / "sb.txt").unlink()
    build(settings, embedder=embedder)
    after = Retriever(Index.load(settings.index), embedder, settings)
    for mode in ("dense", "bm25", "fused", "hybrid"):
        assert all(p.chunk.article != "sb.txt" for p in after.search(question, 20, mode=mode).passages)  # type: ignore[arg-type]
    assert len(after.index.tokens) == len(after.index.chunks) == after.index.faiss.ntotal


def test_incremental_bm25_scores_equal_a_fresh_build(settings: Settings, embedder: Embedder, tmp_path: Path) -> None:
    build(settings, embedder=embedder)
    for name in ("cup-final.txt", "harbour-bridge.txt"):
        write_story(settings.articles, name)
    build(settings, embedder=embedder)
    write(
        settings.articles, "harbour-bridge.txt", "Port Ellery\n\nPort Ellery is the capital of Westmark, on the Lune."
    )
    (settings.articles / G20_2012).unlink()
    build(settings, embedder=embedder)
    fresh = Settings(index=tmp_path / "fresh", articles=settings.articles)
    build(fresh, embedder=embedder)
    a, b = Index.load(settings.index), Index.load(fresh.index)
    key = {(c.article, c.start): n for n, c in enumerate(b.chunks)}
    order = [key[(c.article, c.start)] for c in a.chunks]
    for words in ("Port Ellery capital", "Mariners Coastal Cup final", "Putin Syria"):
        q = tokenize([words])[0]
        assert len(q) >= 2 and set(q) <= set(a.bm25.vocab)
        assert np.allclose(a.bm25.scores(q), b.bm25.scores(q)[order], atol=1e-5)


def test_this_week_is_read_against_the_day_the_question_is_asked(seeds: Retriever) -> None:
    question = "Where did Obama and Putin meet this week?"

    def best_rank(article: str, as_of: dt.date) -> int:
        result = seeds.search(question, 10, as_of=as_of)
        assert result.period is not None and result.period.relative and result.period.end == as_of
        return min(p.rank for p in result.passages if p.chunk.article == article)

    asked_2012, asked_2013 = dt.date(2012, 6, 20), dt.date(2013, 6, 19)
    assert best_rank(G20_2012, asked_2012) == 1
    assert best_rank(G8_2013, asked_2013) < best_rank(G8_2013, asked_2012)  # the week's article moves up


def test_a_relative_period_in_a_year_with_no_articles_searches_every_article(seeds: Retriever) -> None:
    result = seeds.search("What did Obama and Putin say this week?", 3, as_of=dt.date(2026, 12, 1))
    assert result.notices == ("no article is dated this week; every article was searched",)
    assert len(result.passages) == 3
    assert result.unreported  # what was news that week is not in the folder


def test_only_a_relative_period_no_dated_article_was_published_in_is_unreported(seeds: Retriever) -> None:
    def unreported(question: str, as_of: dt.date, rows: np.ndarray | None = None) -> bool:
        return seeds.search(question, 3, as_of=as_of, rows=rows).unreported

    asked = dt.date(2013, 6, 19)
    assert not unreported("Where did Obama and Putin meet this week?", asked)  # the 2013 article's week
    assert not unreported("Where did Obama and Putin meet?", dt.date(2026, 12, 1))  # no period said
    assert not unreported("Where did Obama and Putin meet in 2026?", asked)  # a year may name what an article expects
    assert unreported("Where did Obama and Putin meet last month?", asked)  # May 2013: neither article
    the_2012_article = np.flatnonzero(seeds.row_article == seeds.article_pos[G20_2012])
    assert unreported("Where did Obama and Putin meet this week?", asked, the_2012_article)  # searched: 2012 only
    undated = np.full_like(seeds.row_days, np.nan)
    seeds.row_days, dated = undated, seeds.row_days
    try:
        assert not unreported("Where did Obama and Putin meet last month?", asked)  # no date tells anything
    finally:
        seeds.row_days = dated
