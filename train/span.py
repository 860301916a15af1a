"""Learn the short-answer span model (qa/answer/spans.py) on squad-dev16, with cross-validation by article.

    python -m train.sentences dump --no-reader --sets squad-dev16   # first: every question's candidate sentences
    python -m train.span [--folds 4] [--save]

For each question, every sentence among the answerer's candidates that holds a gold answer is a training
group; its candidates' target is the set with the best token F1 against the gold answers. The model is a
listwise softmax over a group's candidates, fitted by full-batch Adam with L2. Reported: EM/F1 of the span
picked in the sentence the answerer chooses (gate off), with weights fitted on the other folds' articles
(held out) and fitted on all (what ships, written to qa/data/span_model.npz with --save).
"""

from __future__ import annotations

import argparse
import json
import pickle
import time
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp

from qa import learned
from qa.answer import spans
from qa.eval.metrics import exact_match, f1
from train.common import RESULTS, data_dir, stamp, write_npz_model

DATA = RESULTS / "sentences_squad-dev16_plain.pkl"
CACHE = RESULTS / "span_cands.pkl"


def featurize(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per question: candidates (text spans + features) of the chosen sentence and of every gold sentence."""
    nlp = spans.nlp()
    wanted: dict[str, None] = {}
    for r in rows:
        if len(r["scores"]):
            wanted[r["sentences"][int(np.argmax(r["scores"]))][3]] = None
        for s, g in zip(r["sentences"], r["gold"], strict=True):
            if g:
                wanted[s[3]] = None
    texts = list(wanted)
    t0 = time.perf_counter()
    docs = dict(zip(texts, nlp.pipe(texts, batch_size=64), strict=True))
    print(f"parsed {len(texts)} sentences in {time.perf_counter() - t0:.0f} s", flush=True)
    out = []
    for r in rows:
        q = spans.question_info(r["question"])
        groups = {}
        chosen = r["sentences"][int(np.argmax(r["scores"]))][3] if len(r["scores"]) else None
        for text in {chosen, *(s[3] for s, g in zip(r["sentences"], r["gold"], strict=True) if g)} - {None}:
            cands = spans.candidates(q, docs[text])
            groups[text] = [(c.start, c.end, c.features) for c in cands]
        out.append(
            {
                **r,
                "chosen": chosen,
                "groups": groups,
                "gold_texts": [s[3] for s, g in zip(r["sentences"], r["gold"], strict=True) if g],
            }
        )
    return out


def design(items: list[tuple[list[tuple[int, ...]], np.ndarray]]) -> tuple[sp.csr_matrix, np.ndarray, np.ndarray]:
    """Stack groups: X (candidates by DIM), target weights y (sum 1 per group), group index per candidate."""
    indptr, indices, ys, gid = [0], [], [], []
    for g, (feats, y) in enumerate(items):
        for f in feats:
            indices.extend(f)
            indptr.append(len(indices))
        ys.append(y)
        gid.extend([g] * len(feats))
    X = sp.csr_matrix(
        (np.ones(len(indices), np.float32), np.array(indices), np.array(indptr)), shape=(len(indptr) - 1, spans.DIM)
    )
    return X, np.concatenate(ys).astype(np.float32), np.array(gid)


def fit(
    items: list[tuple[list[tuple[int, ...]], np.ndarray]], l2: float, steps: int = 300, lr: float = 0.05
) -> np.ndarray:
    X, y, gid = design(items)
    Xt = X.T.tocsr()
    n_groups = gid.max() + 1
    w = np.zeros(spans.DIM, np.float32)
    m = np.zeros_like(w)
    v = np.zeros_like(w)
    for step in range(1, steps + 1):
        s = X @ w
        mx = np.full(n_groups, -np.inf, np.float32)
        np.maximum.at(mx, gid, s)
        e = np.exp(s - mx[gid])
        z = np.bincount(gid, weights=e, minlength=n_groups)
        p = e / z[gid]
        g = (Xt @ (p - y)) / n_groups + l2 * w
        m = 0.9 * m + 0.1 * g
        v = 0.999 * v + 0.001 * g * g
        w -= lr * (m / (1 - 0.9**step)) / (np.sqrt(v / (1 - 0.999**step)) + 1e-8)
    return w


def training_items(rows: list[dict[str, Any]]) -> list[tuple[list[tuple[int, ...]], np.ndarray]]:
    items = []
    for r in rows:
        for text in r["gold_texts"]:
            cands = r["groups"].get(text)
            if not cands:
                continue
            scores = np.array([f1(text[a:b], r["answers"]) for a, b, _ in cands])
            best = scores.max()
            if best < 0.5:
                continue
            y = (scores >= best - 1e-9).astype(np.float32)
            items.append(([c[2] for c in cands], y / y.sum()))
    return items


def heuristic(rows: list[dict[str, Any]]) -> dict[str, float]:
    """The rule-based short answer (qa.answer.kinds before the model), on the same sentences."""
    from qa.answer.kinds import short_answer

    f, by_kind = [], {}
    for r in rows:
        text = r["chosen"]
        span = short_answer(r["question"], text) if text else None
        pred = text[span[0] : span[1]] if span else (text or "")
        f.append(f1(pred, r["answers"]))
        by_kind.setdefault(spans.question_info(r["question"]).kind, []).append(f[-1])
    return {"f1": float(np.mean(f)), **{k: round(float(np.mean(v)), 3) for k, v in by_kind.items() if len(v) > 30}}


def evaluate(rows: list[dict[str, Any]], w: np.ndarray) -> dict[str, float]:
    em, f, oracle = [], [], []
    for r in rows:
        text = r["chosen"]
        cands = r["groups"].get(text) if text else None
        if not cands:
            em.append(0.0)
            f.append(0.0)
            oracle.append(0.0)
            continue
        s = np.array([float(w[list(c[2])].sum()) for c in cands])
        a, b, _ = cands[int(np.argmax(s))]
        em.append(exact_match(text[a:b], r["answers"]))
        f.append(f1(text[a:b], r["answers"]))
        oracle.append(max(f1(text[x:y], r["answers"]) for x, y, _ in cands))
    return {
        "n": len(rows),
        "exact_match": float(np.mean(em)),
        "f1": float(np.mean(f)),
        "oracle_f1": float(np.mean(oracle)),
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--folds", type=int, default=4)
    ap.add_argument("--data", type=Path, default=DATA, help="`python -m train.sentences dump`'s output")
    ap.add_argument("--l2", type=float, default=1e-4)
    ap.add_argument("--steps", type=int, default=300)
    ap.add_argument("--save", action="store_true")
    ap.add_argument("--heuristic", action="store_true", help="also score the rule-based short answer")
    ap.add_argument("--refeaturize", action="store_true")
    args = ap.parse_args()
    if CACHE.exists() and not args.refeaturize:
        rows = pickle.loads(CACHE.read_bytes())
    else:
        rows = featurize(pickle.loads(args.data.read_bytes()))
        CACHE.write_bytes(pickle.dumps(rows))
    articles = sorted({r["source"] for r in rows})
    folds = [set(articles[i :: args.folds]) for i in range(args.folds)]
    held = []
    for k, test in enumerate(folds if args.folds > 1 else []):
        w = fit(training_items([r for r in rows if r["source"] not in test]), args.l2, args.steps)
        res = evaluate([r for r in rows if r["source"] in test], w)
        if args.save:  # for `bench.answers --span-cv`: each question answered by a model that never saw it
            nz = np.flatnonzero(np.abs(w) > 1e-4)
            RESULTS.mkdir(parents=True, exist_ok=True)
            np.savez_compressed(
                RESULTS / f"span_fold{k}.npz", index=nz.astype(np.int32), value=w[nz], held=sorted(test)
            )
        print(f"fold {k}: {json.dumps(res)}", flush=True)
        held.append(res)
    n = sum(h["n"] for h in held) or 1
    cv = {m: sum(h[m] * h["n"] for h in held) / n for m in ("exact_match", "f1", "oracle_f1")}
    w = fit(training_items(rows), args.l2, args.steps)
    fitted = evaluate(rows, w)
    print(json.dumps({"cross_validated": cv, "fit_on_all": fitted, "l2": args.l2}), flush=True)
    if args.heuristic:
        print(json.dumps({"heuristic": heuristic(rows)}), flush=True)
    if args.save:
        nz = np.flatnonzero(np.abs(w) > 1e-4)
        held = {f"squad-dev16 F1 in the chosen sentence ({args.folds}-fold by article)": round(cv["f1"], 4)}
        made = stamp("train/span.py", {"squad-dev16": data_dir("squad-dev16")}, held)
        arrays = {"index": nz.astype(np.int32), "value": w[nz].astype(np.float16)}
        write_npz_model(learned.data_dir() / "span_model.npz", arrays, made)


if __name__ == "__main__":
    main()
