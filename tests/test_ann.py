"""The approximate dense index (dense="hnsw"): same top results as flat, recorded beside the segments, reused and
brought up to date at load, and never returning chunks that are no longer live."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from qa.build import build
from qa.config import Settings
from qa.embed import Embedder
from qa.retrieve import Retriever
from qa.store import Index
from tests.conftest import SQUAD, write

ARTICLES = ["Super_Bowl_50.txt", "Apollo_program.txt", "1973_oil_crisis.txt", "Computational_complexity_theory.txt"]


@pytest.fixture
def squad4(tmp_path: Path, embedder: Embedder) -> Settings:
    """Four squad-dev16 articles (150 chunks), built."""
    folder = tmp_path / "articles"
    folder.mkdir()
    for name in ARTICLES:
        shutil.copy(SQUAD / "articles" / name, folder / name)
    settings = Settings(index=tmp_path / "index", articles=folder)
    build(settings, embedder=embedder)
    return settings


def questions(n: int = 60) -> list[str]:
    rows = [json.loads(line) for line in (SQUAD / "questions.jsonl").read_text().splitlines() if line.strip()]
    return [r["question"] for r in rows if r["source_articles"][0] in ARTICLES][::7][:n]


def ann_files(index_dir: Path) -> list[str]:
    return sorted(p.name for p in index_dir.glob("ann-hnsw-*"))


def test_hnsw_finds_the_same_nearest_chunks_as_flat(squad4: Settings, embedder: Embedder) -> None:
    flat, hnsw = Index.load(squad4.index, "flat"), Index.load(squad4.index, "hnsw")
    assert flat.ann is None and hnsw.ann is not None and len(hnsw) > 100
    recalls = []
    for q in questions():
        qv = embedder.embed_query(q)
        exact, approx = flat.dense_search(qv, 10), hnsw.dense_search(qv, 10)
        assert approx[0] == pytest.approx(exact[0])  # the best chunk, with its exact cosine
        recalls.append(len({r for r, _ in exact} & {r for r, _ in approx}) / 10)
    assert np.mean(recalls) >= 0.95


def test_hybrid_search_gives_the_same_passages_with_either_dense_index(squad4: Settings, embedder: Embedder) -> None:
    flat = Retriever(Index.load(squad4.index, "flat"), embedder, squad4)
    hnsw = Retriever(Index.load(squad4.index, "hnsw"), embedder, squad4.with_(dense="hnsw"))
    same = 0
    for q in questions(30):
        a, b = flat.search(q, 5).passages, hnsw.search(q, 5).passages
        same += [p.chunk for p in a] == [p.chunk for p in b]
    assert same >= 28


def test_the_setting_is_recorded_on_disk_and_the_graph_is_reused_at_load(
    squad4: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert Index.load(squad4.index).dense == "flat" and ann_files(squad4.index) == []  # flat writes nothing
    monkeypatch.setenv("QA_DENSE", "hnsw")
    assert Settings.from_env().dense == "hnsw"
    index = Index.load(squad4.index)  # no argument: the environment's setting
    assert index.dense == "hnsw"
    graph, record = ann_files(squad4.index)
    meta = json.loads((squad4.index / record).read_text())
    assert meta["kind"] == "hnsw" and meta["file"] == graph and meta["rows"] == len(index)
    assert meta["segments"] == sorted(index.manifest["segments"])
    stamp = (squad4.index / graph).stat().st_mtime_ns
    again = Index.load(squad4.index)
    assert ann_files(squad4.index) == [graph, record] and (squad4.index / graph).stat().st_mtime_ns == stamp
    assert again.ann.ntotal == index.ann.ntotal


def test_an_added_article_is_added_to_the_graph_and_a_removed_one_never_comes_back(
    squad4: Settings, embedder: Embedder
) -> None:
    first = Index.load(squad4.index, "hnsw")
    write(
        squad4.articles,
        "zeppelin.txt",
        "Zeppelin over Lake Constance\n\nThe airship Graf Zeppelin carried 20 passengers across the Atlantic "
        "in 1928, a crossing of 111 hours that ended at Lakehurst, New Jersey.",
    )
    build(squad4, embedder=embedder)
    grown = Index.load(squad4.index, "hnsw")
    assert grown.ann.ntotal == first.ann.ntotal + 1  # the old graph plus the new segment, not a new graph
    assert len(ann_files(squad4.index)) == 2  # the older graph was replaced
    qv = embedder.embed_query("How long did the Graf Zeppelin take to cross the Atlantic?")
    assert grown.chunks[grown.dense_search(qv, 1)[0][0]].article == "zeppelin.txt"

    (squad4.articles / "Super_Bowl_50.txt").unlink()
    build(squad4, embedder=embedder)
    shrunk = Index.load(squad4.index, "hnsw")
    qv = embedder.embed_query("Which NFL team represented the AFC at Super Bowl 50?")
    found = shrunk.dense_search(qv, 20)
    assert len(found) == 20 and all(shrunk.chunks[r].article != "Super_Bowl_50.txt" for r, _ in found)
    flat = Index.load(squad4.index, "flat").dense_search(qv, 20)
    assert found[0] == pytest.approx(flat[0])


def test_a_search_restricted_to_some_rows_is_exact_over_them(squad4: Settings, embedder: Embedder) -> None:
    flat, hnsw = Index.load(squad4.index, "flat"), Index.load(squad4.index, "hnsw")
    allowed = np.flatnonzero([c.article == "Apollo_program.txt" for c in flat.chunks])
    qv = embedder.embed_query("When did Apollo 11 land on the Moon?")
    exact, approx = flat.dense_search(qv, 8, allowed), hnsw.dense_search(qv, 8, allowed)
    assert [r for r, _ in approx] == [r for r, _ in exact]
    assert all(flat.chunks[r].article == "Apollo_program.txt" for r, _ in approx)
