"""Fit the second stage (qa.search.rerank.Weights) on squad-dev16 and realtimeqa-dev together, cross-validated.

    python -m train.rerank dump [--sets squad-dev16,realtimeqa-dev] [--limit N]   # candidates and their features
    python -m train.rerank fit [--l2 1e-4] [--save]
    python -m train.rerank sweep [--rrf-k 2,5,10,20,60] [--candidates 80] [--fix dated=1.0]   # held out

`dump` asks every answerable question of each set as `qa search` does (a news question on the day it was asked):
the fused first-stage candidates, their second-stage features (FEATURES) and whether each is a hit (a passage of a
source article holding a gold answer, docs/design.md's rule); bench/results/rerank_<set>.pkl. `fit` learns the
weights as a listwise softmax over each question's candidates, each set weighing the same whatever its size;
held out: fitted on one half of each set (squad-dev16 by article, realtimeqa-dev by quiz week) and scored on the
other half, both ways. --save writes the weights fitted on all of both, stamped, to qa/data/rerank.json.

`sweep` does dump and the held-out fit in memory for each RRF constant and candidate count (one setting changed
at a time from the defaults): the second stage refitted for each, as shipping that setting would.

--fix dated=1.0 holds the weight of an article published in a period named as a date ("in 2012"): the sets cannot
tell it (squad-dev16's articles are undated; 69 news questions name a year, often an event's: "the 2024
Democratic National Convention"), and an archive asked "what did Putin say in 2012?" should prefer 2012's article.
Held at 1.0, realtimeqa-dev's held-out hit@5 is 0.2 points lower than fitted freely (0.0 at 0.5, 0.8 at 2.0).
"""

from __future__ import annotations

import argparse
import json
import pickle
from typing import Any

import numpy as np

from qa.eval.metrics import contains_answer, retrieval_metrics
from qa.search.query import make_query
from qa.search.rerank import FEATURES, shipped_weights
from train.common import (
    RESULTS,
    SETS,
    asked_on,
    data_dir,
    fit_listwise,
    open_set,
    set_questions,
    stamp,
    write_json_model,
)


def dump(name: str, limit: int | None) -> None:
    rows = candidate_rows(name, limit)
    out = RESULTS / f"rerank_{name}.pkl"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(pickle.dumps(rows))
    print(f"wrote {out} ({len(rows)} questions)", flush=True)


def candidate_rows(name: str, limit: int | None = None, **settings: Any) -> list[dict[str, Any]]:
    """Each answerable question's fused candidates: their features and which are hits (searched with `settings`)."""
    qa = open_set(name, **settings)
    retriever = qa.retriever
    rows = []
    for n, q in enumerate(set_questions(name)[:limit]):
        query = make_query(q["question"], retriever.embedder, asked_on(q))
        fused, bm25 = retriever.first_stage(query, retriever.candidates)
        assert bm25 is not None
        cands, feats = retriever.reranker.features(query, fused, bm25)
        chunks = [qa.index.chunks[r] for r in cands]
        hits = np.array([c.article in q["source_articles"] and contains_answer(c.text, q["answers"]) for c in chunks])
        rows.append({"id": q["id"], "fold": q["fold"], "feats": feats, "hits": hits})
        if n % 500 == 0:
            print(f"{name}: {n} questions", flush=True)
    return rows


def ranks(rows: list[dict[str, Any]], w: np.ndarray) -> list[int | None]:
    """The rank of each question's first hit among its candidates scored by `w` (None: not in the top 10)."""
    out: list[int | None] = []
    for r in rows:
        order = np.argsort(-(r["feats"] @ w), kind="stable")[:10]
        found = np.flatnonzero(r["hits"][order])
        out.append(int(found[0]) + 1 if len(found) else None)
    return out


def parse_fixed(specs: list[str]) -> dict[int, float]:
    """--fix name=value: the column of FEATURES and the value its weight is held at."""
    out = {}
    for spec in specs:
        name, _, value = spec.partition("=")
        out[FEATURES.index(name)] = float(value)
    return out


def groups(data: dict[str, list[dict[str, Any]]], fold: int | None) -> list[tuple[np.ndarray, np.ndarray, float]]:
    """Training groups of every set (those not in `fold`), each set weighing the same in all."""
    out = []
    for rows in data.values():
        chosen = [r for r in rows if r["fold"] != fold]
        out += [(r["feats"], r["hits"].astype(float), 1.0 / len(chosen)) for r in chosen]
    return out


def figures(rows: list[dict[str, Any]], w: np.ndarray) -> dict[str, float]:
    return {k: round(v, 4) for k, v in retrieval_metrics(ranks(rows, w)).items()}


def held_out(data: dict[str, list[dict[str, Any]]], folds: dict[int, np.ndarray]) -> dict[str, dict[str, float]]:
    """Each set's hit@k with every question ranked by the weights of the fold that held it out."""
    held = {}
    for name, rows in data.items():
        held_ranks: list[int | None] = []
        for fold, w in folds.items():
            held_ranks += ranks([r for r in rows if r["fold"] == fold], w)
        held[name] = {k: round(v, 4) for k, v in retrieval_metrics(held_ranks).items()}
    return held


def sweep(l2: float, fixed: dict[int, float], rrf_ks: list[int], candidates: list[int]) -> None:
    """Held-out figures with the second stage refitted for each search setting."""
    settings = [{"rrf_k": k} for k in rrf_ks] + [{"candidates": c} for c in candidates]
    for setting in settings:
        data = {name: candidate_rows(name, **setting) for name in SETS}
        folds = {fold: fit_listwise(groups(data, fold), l2, fixed=fixed) for fold in (0, 1)}
        ceiling = {name: round(float(np.mean([r["hits"].any() for r in rows])), 4) for name, rows in data.items()}
        print(json.dumps({"setting": setting, "held_out": held_out(data, folds), "candidates hold a hit": ceiling}))


def fit(l2: float, save: bool, fixed: dict[int, float]) -> None:
    data = {name: pickle.loads((RESULTS / f"rerank_{name}.pkl").read_bytes()) for name in SETS}
    shipped = shipped_weights().vector()
    folds = {fold: fit_listwise(groups(data, fold), l2, fixed=fixed) for fold in (0, 1)}
    for fold, w in folds.items():  # for `bench.answers --cv`: each question scored by weights fitted without it
        normal = dict(zip(FEATURES, (w / (w[0] or 1.0)).tolist(), strict=True))
        (RESULTS / f"rerank_fold{fold}.json").write_text(json.dumps(normal))
    held: dict[str, Any] = held_out(data, folds)
    w = fit_listwise(groups(data, None), l2, fixed=fixed)
    w = w / (w[0] or 1.0)  # the sentence coverage weighs 1: the scale of the weights before
    out: dict[str, Any] = {
        "features": FEATURES,
        "weights": [round(float(x), 4) for x in w],
        "held_out (fitted on the other half of both sets)": held,
        "fitted on all": {name: figures(rows, w) for name, rows in data.items()},
        "shipped weights": {name: figures(rows, shipped) for name, rows in data.items()},
    }
    print(json.dumps(out, indent=1), flush=True)
    (RESULTS / "rerank.json").write_text(json.dumps(out, indent=1))
    if save:
        made = stamp("train/rerank.py", {name: data_dir(name) for name in SETS}, held)
        write_json_model("rerank", dict(zip(FEATURES, out["weights"], strict=True)), made)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="command", required=True)
    d = sub.add_parser("dump")
    d.add_argument("--sets", default=",".join(SETS))
    d.add_argument("--limit", type=int)
    f = sub.add_parser("fit")
    f.add_argument("--l2", type=float, default=1e-4)
    f.add_argument("--save", action="store_true", help="write the weights to qa/data/rerank.json, stamped")
    f.add_argument("--fix", action="append", default=[], help="name=value: hold a weight the data cannot tell")
    w = sub.add_parser("sweep")
    w.add_argument("--rrf-k", default="2,5,10,20,60", help="RRF constants, comma-separated")
    w.add_argument("--candidates", default="80", help="candidates a retriever, comma-separated ('': none)")
    w.add_argument("--l2", type=float, default=1e-4)
    w.add_argument("--fix", action="append", default=[], help="as fit's --fix")
    args = ap.parse_args()
    if args.command == "dump":
        for name in args.sets.split(","):
            dump(name, args.limit)
    elif args.command == "sweep":
        numbers = lambda text: [int(x) for x in text.split(",") if x]  # noqa: E731
        sweep(args.l2, parse_fixed(args.fix), numbers(args.rrf_k), numbers(args.candidates))
    else:
        fit(args.l2, args.save, parse_fixed(args.fix))


if __name__ == "__main__":
    main()
