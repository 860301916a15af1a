"""The second stage (qa.search.rerank) on the seed index: it moves the passage that covers the question up, its
features come in Weights' order and shape, it scores with the shipped weights (or those given), and it reuses the
BM25 scores the first stage computed instead of scoring the question again."""

from __future__ import annotations

import itertools
import json
from dataclasses import fields

import numpy as np
import pytest

from qa.config import Settings
from qa.eval.metrics import first_hit
from qa.index.lexical import BM25Index, sentence_runs
from qa.pipeline import QA
from qa.search.dates import DATE_FEATURES
from qa.search.query import Query, make_query
from qa.search.rerank import FEATURES, Reranker, Weights, shipped_weights
from qa.search.retrieve import Retriever
from qa.search.sentences import Sentences, pairs_held
from qa.text import tokenize
from tests.helpers import QUESTIONS


def seed_question(question: str) -> dict[str, list[str]]:
    for line in QUESTIONS.read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        if row["question"] == question:
            return row
    raise KeyError(question)


def first_stage(retriever: Retriever, question: str) -> tuple[Query, dict[int, float], np.ndarray]:
    """The query, the fused first-stage candidates (row -> RRF score) and every row's BM25 score, as search makes
    them."""
    query = make_query(question, retriever.embedder, retriever.settings.asked_on())
    fused, bm25 = retriever.first_stage(query, retriever.candidates)
    assert query.vector is not None and bm25 is not None
    return query, fused, bm25


@pytest.mark.parametrize(
    ("question", "fused_rank"),
    [("At which summit did Obama and Putin meet in Northern Ireland?", 4), ("Who is Russia's foreign minister?", 2)],
)
def test_the_second_stage_moves_the_passage_that_covers_the_question_up(
    seed_qa: QA, question: str, fused_rank: int
) -> None:
    row = seed_question(question)
    hit = {
        mode: first_hit(
            seed_qa.retriever.search(question, 10, mode=mode).passages, row["answers"], row["source_articles"]
        )
        for mode in ("fused", "hybrid")
    }
    assert hit["fused"] == fused_rank and hit["hybrid"] is not None and hit["hybrid"] < fused_rank
    off = Retriever(seed_qa.index, seed_qa.embedder, seed_qa.settings.with_(rerank=False))
    assert [p.chunk for p in off.search(question, 10).passages] == [
        p.chunk for p in seed_qa.retriever.search(question, 10, mode="fused").passages
    ]  # with the second stage off, hybrid search is the fused first stage


def test_features_come_in_weights_order_and_shape(seed_qa: QA) -> None:
    retriever = seed_qa.retriever
    query, fused, bm25 = first_stage(retriever, "Who is Russia's foreign minister?")
    rows, feats = retriever.reranker.features(query, fused, bm25)
    assert rows == list(fused) and feats.shape == (len(rows), len(FEATURES)) and feats.dtype == np.float32
    assert [f.name for f in fields(Weights)] == list(FEATURES)
    assert ("sentence", "dense", "bm25", "rrf", "bigram", "title", "chunk", "kind", *DATE_FEATURES) == FEATURES
    sentence, dense, lexical, rrf, bigram, title, chunk = feats.T[:7]
    assert query.vector is not None
    assert np.allclose(dense, seed_qa.index.vectors[rows] @ query.vector, atol=1e-6)
    assert np.allclose(lexical, bm25[rows] / bm25[rows].max(), atol=1e-6)  # over the best candidate's
    assert np.allclose(rrf, np.array([fused[r] for r in rows]) / max(fused.values()), atol=1e-6)
    assert lexical.max() == pytest.approx(1.0) and rrf.max() == pytest.approx(1.0)
    assert ((sentence >= 0) & (sentence <= 1)).all() and ((bigram >= 0) & (bigram <= 1)).all()
    assert (chunk >= sentence - 1e-6).all() and ((title >= 0) & (title <= 1)).all()  # a chunk holds its sentences
    # the articles' dates against the day asked (today: years after both seed articles) and no period named
    assert not feats[:, FEATURES.index("period")].any() and not feats[:, FEATURES.index("week")].any()
    lavrov = [n for n, r in enumerate(rows) if "Foreign Minister Sergei Lavrov" in seed_qa.index.chunks[r].text]
    assert lavrov and sentence[lavrov[0]] == sentence.max() > 0.5  # the sentence naming him covers the most
    # scores are the features weighted by the shipped weights (qa/data/rerank.json), in that order
    scores = retriever.reranker.rerank(query, fused, bm25)
    weights = shipped_weights()
    assert retriever.reranker.weights == weights
    assert weights.vector().tolist() == pytest.approx([getattr(weights, f.name) for f in fields(Weights)])
    assert [scores[r] for r in rows] == pytest.approx((feats @ weights.vector()).tolist())
    # nothing to score: no rows, or a keyword-only query without a vector
    assert retriever.reranker.features(query, {}, bm25)[1].shape == (0, len(FEATURES))
    keywords = make_query("Who is Russia's foreign minister?", None, None)
    assert not retriever.reranker.features(keywords, fused, bm25)[1].any()


def test_weights_given_are_the_ones_used(seed_qa: QA) -> None:
    retriever = seed_qa.retriever
    query, fused, bm25 = first_stage(retriever, "Which summit did Putin decline to attend at Camp David?")
    dense_only = Reranker(
        retriever.sentences, retriever.row_days, Weights(sentence=0.0, dense=1.0, bm25=0.0, rrf=0.0, bigram=0.0)
    )
    assert dense_only.sentences is retriever.sentences  # the sentence cache shared with the answerer
    scores = dense_only.rerank(query, fused, bm25)
    assert query.vector is not None
    assert max(scores, key=scores.__getitem__) == retriever.dense(query.vector, 1, None).popitem()[0]


def test_bm25_scores_are_computed_once_by_the_first_stage_and_reused(
    seed_qa: QA, monkeypatch: pytest.MonkeyPatch
) -> None:
    retriever = Retriever(seed_qa.index, seed_qa.embedder, Settings(index=seed_qa.settings.index))
    computed: list[np.ndarray] = []
    real_scores = BM25Index.scores

    def scores(self: BM25Index, tokens: list[str]) -> np.ndarray:
        computed.append(real_scores(self, tokens))
        return computed[-1]

    monkeypatch.setattr(BM25Index, "scores", scores)
    handed: list[np.ndarray] = []
    real_features = retriever.reranker.features

    def features(query, fused, bm25):  # type: ignore[no-untyped-def]
        handed.append(bm25)
        return real_features(query, fused, bm25)

    monkeypatch.setattr(retriever.reranker, "features", features)
    result = retriever.search("Who is Russia's foreign minister?", 5)
    assert len(computed) == 1 and len(handed) == 1 and handed[0] is computed[0]  # one BM25 pass, reused
    assert "Sergei Lavrov" in result.passages[0].chunk.text


@pytest.mark.parametrize("runs", ["read off the index's runs", "split when asked"])
def test_a_chunks_sentence_words_are_the_words_of_each_sentence_blingfire_finds(
    seed_qa: QA, runs: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import blingfire

    rows = list(range(len(seed_qa.index.chunks)))
    assert None not in seed_qa.index.runs  # a new index stores every chunk's runs
    if runs == "split when asked":  # as for an index written before runs were stored
        monkeypatch.setattr(seed_qa.index, "runs", [None] * len(rows))
    words = Sentences(seed_qa.index, seed_qa.retriever.sentences.embedder).chunk_words(rows)
    for row, got in zip(rows, words, strict=True):
        text = seed_qa.index.chunks[row].text
        _, offsets = blingfire.text_to_sentences_and_offsets(text)
        assert [tuple(t) for t in tokenize([text[s:e] for s, e in offsets])] == [seq for _, seq in got]
        assert [frozenset(seq) for _, seq in got] == [held for held, _ in got]


def test_sentence_runs_split_a_chunks_tokens_by_title_and_sentence_or_are_none_where_they_differ() -> None:
    text = "Obama met Putin in Lough Erne. They talked for two hours."
    tokens = tokenize(["G8 summit\n" + text])[0]
    assert sentence_runs(["G8 summit"], [text], [tokens]) == [[2, 5, 3]]
    assert tokens[2:7] == tokenize(["Obama met Putin in Lough Erne."])[0]
    assert sentence_runs(["G8 summit"], [text], [tokens[:-1]]) == [None]  # stored by another tokenizer


@pytest.mark.parametrize(
    "sentence",
    ["Obama met Putin, and Putin met Obama.", "Putin Putin met met Obama", "Nothing here", "", "Obama Putin"],
)
def test_the_word_pairs_a_sentence_holds_are_counted_as_a_set_of_its_pairs_would_count_them(sentence: str) -> None:
    pairs = set(itertools.pairwise(tokenize(["Obama met Putin and Obama met Putin again"])[0]))
    seq = tuple(tokenize([sentence])[0])
    assert pairs_held(pairs, (frozenset(seq), seq)) == len(pairs & set(itertools.pairwise(seq)))
