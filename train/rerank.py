"""Fit the second stage (qa.search.rerank.Weights) and the fusion constant on squad-dev16, cross-validated by article.

    python -m train.rerank [--limit N] [--save]

Each question's dense and BM25 candidates, their second-stage features, and whether each holds a gold answer
(docs/design.md's hit rule) are computed once; a setting's hit@k then comes from sorting alone. The fusion
constant is swept first (5, 10, 20, 30, 60, 100), then a grid of second-stage weights: chosen on one half of the
articles and scored on the other (both ways), then chosen on all. --save writes the weights chosen on all, stamped,
to qa/data/rerank.json (the fusion constant is a setting: QA_RRF_K).
"""

from __future__ import annotations

import argparse
import itertools
import json
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from qa.eval.metrics import first_hit, retrieval_metrics
from qa.search.query import make_query
from qa.search.retrieve import Retriever
from train.common import RESULTS, data_dir, open_qa, questions, stamp, write_json_model

WEIGHTS = ("sentence", "dense", "bm25", "rrf", "bigram")


def first_rank(order: np.ndarray, hits: np.ndarray) -> int | None:
    found = np.flatnonzero(hits[order[:10]])
    return int(found[0]) + 1 if len(found) else None


def tune(retriever: Retriever, qs: list[dict[str, Any]]) -> dict[str, Any]:
    cached = []
    for q in qs:
        query = make_query(q["question"], retriever.embedder, retriever.newest)
        bm25 = retriever.index.bm25.scores(query.tokens)
        assert query.vector is not None
        dense = retriever.dense(query.vector, retriever.candidates, None)
        cached.append((query, bm25, dense, retriever.keyword(bm25, retriever.candidates, None)))
    out: dict[str, Any] = {"rrf_k": {}}
    for k in (5, 10, 20, 30, 60, 100):
        retriever.rrf_k = k
        ranks = []
        for q, (_, _, dense, lexical) in zip(qs, cached, strict=True):
            fused = retriever.fuse(dense, lexical)
            rows = sorted(fused, key=lambda r: -fused[r])[:10]
            passages = [retriever.index.passage(r, 0.0, n) for n, r in enumerate(rows, 1)]
            ranks.append(first_hit(passages, q["answers"], q["source_articles"]))
        out["rrf_k"][k] = retrieval_metrics(ranks)
        print(f"rrf_k={k}: {out['rrf_k'][k]}", flush=True)
    best_k = max(out["rrf_k"], key=lambda k: (out["rrf_k"][k]["hit@5"], out["rrf_k"][k]["mrr@10"]))
    retriever.rrf_k = best_k
    feats, hits = [], []
    for q, (query, bm25, dense, lexical) in zip(qs, cached, strict=True):
        rows, f = retriever.reranker.features(query, retriever.fuse(dense, lexical), bm25)
        feats.append(f)
        one = [[retriever.index.passage(r, 0.0, 1)] for r in rows]
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

    articles = sorted({q["source_articles"][0] for q in qs})
    folds = [set(articles[0::2]), set(articles[1::2])]
    held_out: list[int | None] = [None] * len(qs)
    chosen = []
    for train, test in (folds, folds[::-1]):
        tr = [i for i, q in enumerate(qs) if q["source_articles"][0] in train]
        te = [i for i, q in enumerate(qs) if q["source_articles"][0] in test]
        best = max(grid, key=lambda w: score(tr, w))
        chosen.append(best.tolist())
        for i, r in zip(te, ranks_for(te, best), strict=True):
            held_out[i] = r
    everyone = list(range(len(qs)))
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
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--limit", type=int)
    ap.add_argument("--save", action="store_true", help="write the weights to qa/data/rerank.json, stamped")
    args = ap.parse_args()
    squad = data_dir("squad-dev16")
    qs = [q for q in questions(squad) if q["answers"]][: args.limit]
    with tempfile.TemporaryDirectory() as tmp:
        qa = open_qa(squad / "articles", Path(tmp) / "index")
        results = tune(qa.retriever, qs)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "rerank.json").write_text(json.dumps(results, indent=1))
    if args.save:
        held = {"squad-dev16 (2-fold by article)": results["cross_validated"], "in_sample": results["fit_on_all"]}
        weights = dict(zip(WEIGHTS, results["weights_all"], strict=True))
        write_json_model("rerank", weights, stamp("train/rerank.py", {"squad-dev16": squad}, held))


if __name__ == "__main__":
    main()
