"""The approximate dense index (dense="hnsw"): same top results as flat, recorded beside the segments, reused and
brought up to date at load, and never returning chunks that are no longer live."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from qa.config import Settings
from qa.embed.embedder import Embedder
from qa.index.build import build
from qa.index.store import Index
from qa.search.retrieve import Retriever
from tests.helpers import news_corpus, seed_questions, write

pytestmark = pytest.mark.slow  # a 36-article corpus embedded, and HNSW graphs built

N_ARTICLES = 36


@pytest.fixture(scope="module")
def built_corpus(tmp_path_factory: pytest.TempPathFactory, embedder: Embedder) -> Path:
    """36 news-like articles written from the seed paragraphs (over 100 chunks), built once for this module."""
    root = tmp_path_factory.mktemp("ann-corpus")
    news_corpus(root / "articles", N_ARTICLES)
    build(Settings(index=root / "index", articles=root / "articles"), embedder=embedder)
    return root


@pytest.fixture
def corpus(built_corpus: Path, tmp_path: Path) -> Settings:
    """A private copy of the built corpus and its index, free to change."""
    shutil.copytree(built_corpus / "articles", tmp_path / "articles")
    shutil.copytree(built_corpus / "index", tmp_path / "index")
    return Settings(index=tmp_path / "index", articles=tmp_path / "articles")


def questions(n: int = 60) -> list[str]:
    return seed_questions()[:n]


def ann_files(index_dir: Path) -> list[str]:
    return sorted(p.name for p in index_dir.glob("ann-hnsw-*"))


def test_hnsw_finds_the_same_nearest_chunks_as_flat(corpus: Settings, embedder: Embedder) -> None:
    flat, hnsw = Index.load(corpus.index, "flat"), Index.load(corpus.index, "hnsw")
    assert flat.ann is None and hnsw.ann is not None and len(hnsw) > 100
    recalls = []
    for q in questions():
        qv = embedder.embed_query(q)
        exact, approx = flat.dense_search(qv, 10), hnsw.dense_search(qv, 10)
        assert approx[0] == pytest.approx(exact[0])  # the best chunk, with its exact cosine
        recalls.append(len({r for r, _ in exact} & {r for r, _ in approx}) / 10)
    assert np.mean(recalls) >= 0.95


def test_hybrid_search_gives_the_same_passages_with_either_dense_index(corpus: Settings, embedder: Embedder) -> None:
    flat = Retriever(Index.load(corpus.index, "flat"), embedder, corpus)
    hnsw = Retriever(Index.load(corpus.index, "hnsw"), embedder, corpus.with_(dense="hnsw"))
    same = 0
    for q in questions(30):
        a, b = flat.search(q, 5).passages, hnsw.search(q, 5).passages
        same += [p.chunk for p in a] == [p.chunk for p in b]
    assert same >= 28


def test_the_setting_is_recorded_on_disk_and_the_graph_is_reused_at_load(
    corpus: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert Index.load(corpus.index).dense == "flat" and ann_files(corpus.index) == []  # flat writes nothing
    monkeypatch.setenv("QA_DENSE", "hnsw")
    assert Index.load(corpus.index).dense == "flat"  # the environment is read by Settings.from_env alone
    settings = Settings.from_env(index=corpus.index)
    assert settings.dense == "hnsw"
    index = Index.load(settings.index, settings.dense)
    assert index.dense == "hnsw"
    graph, record = ann_files(corpus.index)
    meta = json.loads((corpus.index / record).read_text())
    assert meta["kind"] == "hnsw" and meta["file"] == graph and meta["rows"] == len(index)
    assert meta["segments"] == sorted(index.manifest.segments)
    stamp = (corpus.index / graph).stat().st_mtime_ns
    again = Index.load(settings.index, settings.dense)
    assert ann_files(corpus.index) == [graph, record] and (corpus.index / graph).stat().st_mtime_ns == stamp
    assert again.ann.ntotal == index.ann.ntotal


def test_an_added_article_is_added_to_the_graph_and_a_removed_one_never_comes_back(
    corpus: Settings, embedder: Embedder
) -> None:
    first = Index.load(corpus.index, "hnsw")
    write(
        corpus.articles,
        "zeppelin.txt",
        "Zeppelin over Lake Constance\n\nThe airship Graf Zeppelin carried 20 passengers across the Atlantic "
        "in 1928, a crossing of 111 hours that ended at Lakehurst, New Jersey.",
    )
    build(corpus, embedder=embedder)
    grown = Index.load(corpus.index, "hnsw")
    assert grown.ann.ntotal == first.ann.ntotal + 1  # the old graph plus the new segment, not a new graph
    assert len(ann_files(corpus.index)) == 2  # the older graph was replaced
    qv = embedder.embed_query("How long did the Graf Zeppelin take to cross the Atlantic?")
    assert grown.chunks[grown.dense_search(qv, 1)[0][0]].article == "zeppelin.txt"

    removed = "story-004.txt"
    title = grown.articles[removed].title
    qv = embedder.embed_query(title)  # its own title: the query its chunks answer best
    assert grown.chunks[grown.dense_search(qv, 1)[0][0]].article == removed
    (corpus.articles / removed).unlink()
    build(corpus, embedder=embedder)
    shrunk = Index.load(corpus.index, "hnsw")
    found = shrunk.dense_search(qv, 20)
    assert len(found) == 20 and all(shrunk.chunks[r].article != removed for r, _ in found)
    flat = Index.load(corpus.index, "flat").dense_search(qv, 20)
    assert found[0] == pytest.approx(flat[0])


def test_a_search_restricted_to_some_rows_is_exact_over_them(corpus: Settings, embedder: Embedder) -> None:
    flat, hnsw = Index.load(corpus.index, "flat"), Index.load(corpus.index, "hnsw")
    some = {"story-002.txt", "story-007.txt", "story-011.txt", "story-019.txt"}
    allowed = np.flatnonzero([c.article in some for c in flat.chunks])
    assert 8 < len(allowed) < len(flat) / 3
    qv = embedder.embed_query("How many deaths have occurred in the Syrian conflict?")
    exact, approx = flat.dense_search(qv, 8, allowed), hnsw.dense_search(qv, 8, allowed)
    assert [r for r, _ in approx] == [r for r, _ in exact]
    assert all(flat.chunks[r].article in some for r, _ in approx)
