"""Retrieval quality and speed on squad-dev16: dense alone, BM25 alone, fused, fused + second stage.

    python bench/retrieval.py [--articles DIR] [--questions FILE] [--limit N] [--tune]

Indexes the articles (in a temporary folder), runs every question through each mode, prints a table of
hit@1/5/10 and MRR@10 and the warm search latency, and writes bench/results/retrieval.json.
--tune also sweeps the fusion constant and the second stage's weights (2-fold by article, so the figures
reported for the chosen weights are on articles they were not chosen on).
"""

from __future__ import annotations

import argparse
import itertools
import json
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from qa.build import build
from qa.config import Settings
from qa.embed import load_embedder
from qa.evaluate import first_hit, retrieval_metrics
from qa.rerank import Weights
from qa.retrieve import Retriever
from qa.store import Index
from qa.types import Passage

ROOT = Path(__file__).resolve().parent.parent
MODES = ("dense", "bm25", "fused", "hybrid")


def load_questions(path: Path, limit: int | None) -> list[dict[str, Any]]:
    qs = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    qs = [q for q in qs if q["answers"]]
    return qs[:limit] if limit else qs


def run_mode(retriever: Retriever, questions: list[dict[str, Any]], mode: str) -> tuple[list[int | None], list[float]]:
    ranks, times = [], []
    for q in questions:
        t0 = time.perf_counter()
        result = retriever.search(q["question"], 10, mode=mode)  # type: ignore[arg-type]
        times.append((time.perf_counter() - t0) * 1000)
        ranks.append(first_hit(result.passages, q["answers"], q["source_articles"]))
    return ranks, times


def first_rank(order: np.ndarray, hits: np.ndarray) -> int | None:
    found = np.flatnonzero(hits[order[:10]])
    return int(found[0]) + 1 if len(found) else None


def tune(retriever: Retriever, questions: list[dict[str, Any]]) -> dict[str, Any]:
    """Sweep rrf_k and the second-stage weights on cached candidates; 2-fold by article for honest figures.

    Each question's dense and BM25 candidates, their features, and whether each holds a gold answer
    (DESIGN.md's hit rule) are computed once; a setting's hit@k then comes from sorting alone.
    """
    from qa.lexical import tokenize

    cached = []
    for q in questions:
        text = " ".join(q["question"].split())
        qv = retriever.embedder.embed_query(text)
        toks = tokenize([text])[0]
        dense = retriever._dense(qv, retriever.candidates, None)
        cached.append((qv, toks, dense, retriever._bm25(toks, retriever.candidates, None)))
    out: dict[str, Any] = {"rrf_k": {}}
    for k in (5, 10, 20, 30, 60, 100):
        retriever.rrf_k = k
        ranks = []
        for q, (_, _, dense, lexical) in zip(questions, cached, strict=True):
            fused = retriever._fuse(dense, lexical)
            rows = sorted(fused, key=lambda r: -fused[r])[:10]
            passages = [Passage(retriever.index.chunks[r], 0.0, n) for n, r in enumerate(rows, 1)]
            ranks.append(first_hit(passages, q["answers"], q["source_articles"]))
        out["rrf_k"][k] = retrieval_metrics(ranks)
        print(f"rrf_k={k}: {out['rrf_k'][k]}", flush=True)
    best_k = max(out["rrf_k"], key=lambda k: (out["rrf_k"][k]["hit@5"], out["rrf_k"][k]["mrr@10"]))
    retriever.rrf_k = best_k
    feats, hits = [], []
    for q, (qv, toks, dense, lexical) in zip(questions, cached, strict=True):
        rows, f = retriever.reranker.features(toks, qv, retriever._fuse(dense, lexical))
        feats.append(f)
        one = [[Passage(retriever.index.chunks[r], 0.0, 1)] for r in rows]
        hits.append(np.array([first_hit(p, q["answers"], q["source_articles"]) is not None for p in one], dtype=bool))
    grid = [
        np.array(w, dtype=np.float32)
        for w in itertools.product((1.0,), (0.5, 1, 2), (0, 0.25, 0.5), (0.25, 0.5, 1), (0, 0.25, 0.5, 1))
    ]

    def ranks_for(idx: list[int], w: np.ndarray) -> list[int | None]:
        return [first_rank(np.argsort(-(feats[i] @ w), kind="stable"), hits[i]) for i in idx]

    def score(idx: list[int], w: np.ndarray) -> tuple[float, float]:
        m = retrieval_metrics(ranks_for(idx, w))
        return m["hit@5"], m["mrr@10"]

    articles = sorted({q["source_articles"][0] for q in questions})
    folds = [set(articles[0::2]), set(articles[1::2])]
    held_out: list[int | None] = [None] * len(questions)
    chosen = []
    for train, test in (folds, folds[::-1]):
        tr = [i for i, q in enumerate(questions) if q["source_articles"][0] in train]
        te = [i for i, q in enumerate(questions) if q["source_articles"][0] in test]
        best = max(grid, key=lambda w: score(tr, w))
        chosen.append(best.tolist())
        for i, r in zip(te, ranks_for(te, best), strict=True):
            held_out[i] = r
    everyone = list(range(len(questions)))
    all_best = max(grid, key=lambda w: score(everyone, w))
    out.update(
        best_rrf_k=best_k,
        fold_weights=chosen,
        cross_validated=retrieval_metrics(held_out),
        weights_all=all_best.tolist(),
        fit_on_all=retrieval_metrics(ranks_for(everyone, all_best)),
    )
    keys = ("best_rrf_k", "fold_weights", "cross_validated", "weights_all", "fit_on_all")
    print(json.dumps({k: out[k] for k in keys}), flush=True)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--articles", type=Path, default=ROOT / "eval/squad-dev16/articles")
    ap.add_argument("--questions", type=Path, default=ROOT / "eval/squad-dev16/questions.jsonl")
    ap.add_argument("--limit", type=int)
    ap.add_argument("--tune", action="store_true")
    ap.add_argument("--out", type=Path, default=ROOT / "bench/results/retrieval.json")
    args = ap.parse_args()
    questions = load_questions(args.questions, args.limit)
    embedder = load_embedder()
    results: dict[str, Any] = {"questions": len(questions)}
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(index=Path(tmp), articles=args.articles)
        build(settings, embedder=embedder)
        retriever = Retriever(Index.load(settings.index), embedder, settings)
        retriever.search("warm up", 5)
        if args.tune:
            results["tuning"] = tune(retriever, questions)
            retriever.rrf_k = results["tuning"]["best_rrf_k"]
            retriever.reranker.weights = Weights(*results["tuning"]["weights_all"])
        for mode in MODES:
            ranks, times = run_mode(retriever, questions, mode)
            results[mode] = {
                **retrieval_metrics(ranks),
                "p50_ms": statistics.median(times),
                "p95_ms": float(np.percentile(times, 95)),
            }
            print(mode, json.dumps(results[mode]), flush=True)
    names = {
        "dense": "dense (FAISS, MiniLM)",
        "bm25": "BM25 (bm25s)",
        "fused": "fused (RRF)",
        "hybrid": "fused + second stage",
    }
    print(f"\n{len(questions)} questions, {args.articles}\n")
    print("| retriever | hit@1 | hit@5 | hit@10 | MRR@10 | p50 ms | p95 ms |\n|---|---:|---:|---:|---:|---:|---:|")
    for mode in MODES:
        r = results[mode]
        print(
            f"| {names[mode]} | {r['hit@1']:.3f} | {r['hit@5']:.3f} | {r['hit@10']:.3f} | {r['mrr@10']:.3f} | "
            f"{r['p50_ms']:.1f} | {r['p95_ms']:.1f} |"
        )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
