"""Learn the short-answer span model (qa/spans.py) on squad-dev16, with cross-validation by article.

    python bench/span_data.py          # first: the answerer's candidate sentences for every question
    python bench/train_span.py [--folds 4] [--save]

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

from qa import spans
from qa.evaluate import exact_match, f1

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "bench/results/span_data.pkl"
CACHE = ROOT / "bench/results/span_cands.pkl"


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
    """The rule-based short answer (qa.shortspan before the model), on the same sentences."""
    from qa.shortspan import short_answer

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
    ap.add_argument("--data", type=Path, default=DATA, help="bench/span_data.py's output")
    ap.add_argument("--l2", type=float, default=1e-4)
    ap.add_argument("--steps", type=int, default=300)
    ap.add_argument("--save", action="store_true")
    ap.add_argument("--heuristic", action="store_true", help="also score the rule-based short answer")
    ap.add_argument("--refeaturize", action="store_true")
    ap.add_argument("--sentences", action="store_true", help="learn the sentence weights instead")
    ap.add_argument("--only-kind", action="store_true", help="only sentences holding the kind asked for compete")
    args = ap.parse_args()
    if args.sentences:
        train_sentences(pickle.loads(args.data.read_bytes()), args.folds, args.l2, args.only_kind)
        return
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
        if args.save:  # for bench/answers.py --span-cv: each question answered by a model that never saw it
            nz = np.flatnonzero(np.abs(w) > 1e-4)
            np.savez_compressed(
                ROOT / f"bench/results/span_fold{k}.npz", index=nz.astype(np.int32), value=w[nz], held=sorted(test)
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
        out = ROOT / "qa/data/span_model.npz"
        out.parent.mkdir(exist_ok=True)
        np.savez_compressed(out, index=nz.astype(np.int32), value=w[nz].astype(np.float16))
        print(f"saved {len(nz)} weights to {out}")


# ---- sentence weights ------------------------------------------------------------------------------


def sentence_groups(rows: list[dict[str, Any]], only_kind: bool = False) -> list[tuple[np.ndarray, np.ndarray, str]]:
    """Per question: the candidate sentences' features, which hold a gold answer, and its article. Every
    sentence competes, as in Answerer.score_sentences with the reader (letting only those that hold the amount,
    duration or date asked for compete lost 1.5 points of held-out sentence accuracy: holds_kind misses some);
    `only_kind`: only those compete, as without the reader (PLAIN_WEIGHTS)."""
    from qa.answer import asked_kind_held

    out = []
    for r in rows:
        feats, gold = r["feats"], r["gold"].astype(bool)
        if not len(feats):
            continue
        holding = asked_kind_held(r["question"], feats) if only_kind else None
        if holding is not None:
            feats, gold = feats[holding], gold[holding]
        out.append((feats, gold, r["source"]))
    return out


def fit_sentences(groups: list[tuple[np.ndarray, np.ndarray, str]], l2: float, steps: int = 500) -> np.ndarray:
    """Listwise softmax over each question's sentences, the gold ones the target (Adam, full batch)."""
    usable = [(f, g / g.sum()) for f, g, _ in groups if g.any()]
    X = np.vstack([f for f, _ in usable]).astype(np.float64)
    y = np.concatenate([t for _, t in usable])
    gid = np.concatenate([[i] * len(f) for i, (f, _) in enumerate(usable)])
    n = len(usable)
    w = np.zeros(X.shape[1])
    m, v = np.zeros_like(w), np.zeros_like(w)
    for step in range(1, steps + 1):
        s = X @ w
        mx = np.full(n, -np.inf)
        np.maximum.at(mx, gid, s)
        e = np.exp(s - mx[gid])
        p = e / np.bincount(gid, weights=e, minlength=n)[gid]
        g = X.T @ (p - y) / n + l2 * w
        m = 0.9 * m + 0.1 * g
        v = 0.999 * v + 0.001 * g * g
        w -= 0.05 * (m / (1 - 0.9**step)) / (np.sqrt(v / (1 - 0.999**step)) + 1e-8)
    return w


def sentence_accuracy(groups: list[tuple[np.ndarray, np.ndarray, str]], w: np.ndarray) -> float:
    return float(np.mean([bool(g[int(np.argmax(f @ w))]) for f, g, _ in groups]))


def fold_fits(
    groups: list[tuple[np.ndarray, np.ndarray, str]], folds: int, l2: float = 1e-4
) -> list[tuple[set[str], np.ndarray]]:
    """Each fold's held-out articles (every `folds`-th in name order) and the weights fitted on the others."""
    articles = sorted({a for _, _, a in groups})
    parts = [set(articles[i::folds]) for i in range(folds)]
    return [(test, fit_sentences([g for g in groups if g[2] not in test], l2)) for test in parts]


def train_sentences(rows: list[dict[str, Any]], folds: int, l2: float, only_kind: bool = False) -> dict[str, Any]:
    from qa.answer import SentenceWeights

    groups = sentence_groups(rows, only_kind)
    held = []
    for test, w in fold_fits(groups, folds, l2):
        chosen = [g for g in groups if g[2] in test]
        held.append((sentence_accuracy(chosen, w), len(chosen)))
    w = fit_sentences(groups, l2)
    w = w / w[0]  # coverage weighs 1: the same scale as the hand-set weights
    out = {
        "n": len(groups),
        "current": sentence_accuracy(groups, SentenceWeights().vector()),
        "cross_validated": sum(a * n for a, n in held) / sum(n for _, n in held),
        "fit_on_all": sentence_accuracy(groups, w),
        "weights": [round(float(x), 3) for x in w],
    }
    print(json.dumps(out), flush=True)
    return out


if __name__ == "__main__":
    main()
