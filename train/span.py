"""Learn the short-answer span model (qa/answer/spans.py) on squad-dev16 and realtimeqa-dev together,
cross-validated on the halves every part uses (squad-dev16 by article, realtimeqa-dev by quiz week).

    python -m train.sentences dump --no-reader   # first: every question's candidate sentences, both sets
    python -m train.span [--save]

For each question, every sentence among the answerer's candidates that holds a gold answer is a training
group; its candidates' target is the set with the best token F1 against the gold answers. The model is a
listwise softmax over a group's candidates, fitted by full-batch Adam with L2. Reported for each set: EM/F1 of
the span picked in the sentence the answerer chooses (gate off), with weights fitted on the other half of both
sets (held out) and fitted on all (what ships, written to qa/data/span_model.npz with --save; each half's model
to bench/results/span_fold<k>.npz for `bench.answers --span-cv`).
"""

from __future__ import annotations

import argparse
import json
import pickle
import time
from typing import Any

import numpy as np
import scipy.sparse as sp

from qa import learned
from qa.answer import spans
from qa.eval.metrics import exact_match, f1
from train.common import RESULTS, SETS, data_dir, stamp, write_npz_model

CACHE = RESULTS / "span_cands.pkl"


def dumps() -> list[dict[str, Any]]:
    """Both sets' `train.sentences dump --no-reader` rows, each with its set's name."""
    rows = []
    for name in SETS:
        path = RESULTS / f"sentences_{name}_plain.pkl"
        if not path.exists():
            raise SystemExit(f"error: {path} is missing: run `python -m train.sentences dump --no-reader` first")
        rows += [{**r, "set": name} for r in pickle.loads(path.read_bytes())]
    return rows


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
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--l2", type=float, default=1e-4)
    ap.add_argument("--steps", type=int, default=300)
    ap.add_argument("--save", action="store_true")
    ap.add_argument("--heuristic", action="store_true", help="also score the rule-based short answer")
    ap.add_argument("--refeaturize", action="store_true", help="parse the dumps again (after a new dump)")
    args = ap.parse_args()
    if CACHE.exists() and not args.refeaturize:
        rows = pickle.loads(CACHE.read_bytes())
    else:
        rows = featurize(dumps())
        CACHE.write_bytes(pickle.dumps(rows))
    held: dict[str, list[dict[str, float]]] = {name: [] for name in SETS}
    for k in (0, 1):
        w = fit(training_items([r for r in rows if r["fold"] != k]), args.l2, args.steps)
        for name in SETS:
            held[name].append(evaluate([r for r in rows if r["fold"] == k and r["set"] == name], w))
        if args.save:  # for `bench.answers --span-cv`: each question answered by a model that never saw it
            nz = np.flatnonzero(np.abs(w) > 1e-4)
            RESULTS.mkdir(parents=True, exist_ok=True)
            ids = sorted(str(r["id"]) for r in rows if r["fold"] == k)
            np.savez_compressed(RESULTS / f"span_fold{k}.npz", index=nz.astype(np.int32), value=w[nz], held=ids)
    cv = {}
    for name, parts in held.items():
        n = sum(h["n"] for h in parts) or 1
        cv[name] = {m: round(sum(h[m] * h["n"] for h in parts) / n, 4) for m in ("exact_match", "f1", "oracle_f1")}
    w = fit(training_items(rows), args.l2, args.steps)
    fitted = {name: evaluate([r for r in rows if r["set"] == name], w) for name in SETS}
    print(json.dumps({"held out (2 folds)": cv, "fitted on all": fitted, "l2": args.l2}, indent=1), flush=True)
    if args.heuristic:
        print(json.dumps({name: heuristic([r for r in rows if r["set"] == name]) for name in SETS}), flush=True)
    if args.save:
        nz = np.flatnonzero(np.abs(w) > 1e-4)
        scores = {f"{name} F1 in the chosen sentence (held out)": cv[name]["f1"] for name in SETS}
        made = stamp("train/span.py", {name: data_dir(name) for name in SETS}, scores)
        arrays = {"index": nz.astype(np.int32), "value": w[nz].astype(np.float16)}
        write_npz_model(learned.data_dir() / "span_model.npz", arrays, made)


if __name__ == "__main__":
    main()
