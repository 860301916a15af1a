"""Fit the answer sentence's weights (qa.answer.sentences.SentenceWeights) on squad-dev16, cross-validated by article.

    python -m train.sentences dump [--reader-cv | --no-reader] [--limit N]   # candidate sentences of every question
    python -m train.sentences fit [--folds 2] [--only-kind] [--save]          # the weights, held out and fitted on all

`dump` asks every squad-dev16 question as `qa ask` does and keeps, for each, its candidate sentences with their
features (qa.answer.sentences.features), the answerer's current score and whether each holds a gold answer
(bench/results/sentences.pkl; with the reader's feature: sentences_reader.pkl). --reader-cv: each question is read
by the fold reader that held its article out (`python -m train.reader train --fold 0|1`), so the reader feature is
what an unseen article gets. `fit` learns the weights (a listwise softmax over each question's candidates, the gold
ones the target), reports sentence accuracy held out (folds by article) and fitted on all; --save writes them,
stamped, to qa/data/sentence_weights.json (or, from the no-reader dump with --only-kind, sentence_weights_plain.json).
"""

from __future__ import annotations

import argparse
import json
import pickle
import random
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from qa.answer.gate import support
from qa.answer.sentences import SentenceWeights, asked_kind_held, shipped_weights
from qa.eval.metrics import contains_answer
from train.common import RESULTS, data_dir, fold_readers, open_qa, questions, stamp, write_json_model


def dump(args: argparse.Namespace) -> None:
    squad = data_dir("squad-dev16")
    qs = questions(squad)
    if args.limit:
        qs = random.Random(7).sample(qs, args.limit)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        qa = open_qa(squad / "articles", Path(tmp) / "index", reader=not args.no_reader)
        answerer = qa.answerer
        readers = fold_readers(squad) if args.reader_cv else {}
        for n, q in enumerate(qs):
            found = answerer.retriever.search(q["question"])
            if args.reader_cv:
                answerer.reader = readers[q["source_articles"][0]]
            cands, feats = answerer.sentence_features(found, answerer.read(found))
            rows.append(
                {
                    "id": q["id"],
                    "question": q["question"],
                    "answers": q["answers"],
                    "source": q["source_articles"][0],
                    "support": support(qa.index, found),
                    "sentences": [(s.article, s.start, s.end, s.text, s.passage_rank, s.span) for s in cands],
                    "feats": feats,
                    "scores": feats @ answerer.weights.vector(),
                    "gold": np.array(
                        [s.article in q["source_articles"] and contains_answer(s.text, q["answers"]) for s in cands]
                    ),
                }
            )
            if n % 500 == 0:
                print(n, flush=True)
    out = RESULTS / ("sentences.pkl" if args.no_reader else "sentences_reader.pkl")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(pickle.dumps(rows))
    print(f"wrote {out}")


def sentence_groups(rows: list[dict[str, Any]], only_kind: bool = False) -> list[tuple[np.ndarray, np.ndarray, str]]:
    """Per question: the candidate sentences' features, which hold a gold answer, and its article. Every
    sentence competes, as in Answerer.score_sentences with the reader (letting only those that hold the amount,
    duration or date asked for compete lost 1.5 points of held-out sentence accuracy: holds_kind misses some);
    `only_kind`: only those compete, as without the reader (PLAIN_WEIGHTS)."""
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
    groups = sentence_groups(rows, only_kind)
    held = []
    for test, w in fold_fits(groups, folds, l2):
        chosen = [g for g in groups if g[2] in test]
        held.append((sentence_accuracy(chosen, w), len(chosen)))
    w = fit_sentences(groups, l2)
    w = w / w[0]  # coverage weighs 1: the same scale as the hand-set weights
    out = {
        "n": len(groups),
        "current": sentence_accuracy(groups, shipped_weights(not only_kind).vector()),
        "cross_validated": sum(a * n for a, n in held) / sum(n for _, n in held),
        "fit_on_all": sentence_accuracy(groups, w),
        "weights": [round(float(x), 3) for x in w],
    }
    print(json.dumps(out), flush=True)
    return out


def fold_sentence_weights() -> dict[str, SentenceWeights]:
    """Article -> sentence weights fitted on the other half of the articles (the reader-cv dump; the same halves
    as the fold readers')."""
    groups = sentence_groups(pickle.loads((RESULTS / "sentences_reader.pkl").read_bytes()))
    return {a: SentenceWeights(*(w / w[0])) for held, w in fold_fits(groups, 2) for a in held}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="command", required=True)
    d = sub.add_parser("dump", help="the candidate sentences of every question")
    d.add_argument("--limit", type=int)
    d.add_argument("--reader-cv", action="store_true", help="read by the fold reader that held each article out")
    d.add_argument("--no-reader", action="store_true", help="the answerer without the reader")
    f = sub.add_parser("fit", help="fit the weights on a dump")
    f.add_argument("--data", type=Path, default=RESULTS / "sentences_reader.pkl")
    f.add_argument("--folds", type=int, default=2)
    f.add_argument("--l2", type=float, default=1e-4)
    f.add_argument("--only-kind", action="store_true", help="only sentences holding the kind asked for compete")
    f.add_argument("--save", action="store_true", help="write the weights to qa/data, stamped")
    args = ap.parse_args()
    if args.command == "dump":
        dump(args)
        return
    out = train_sentences(pickle.loads(args.data.read_bytes()), args.folds, args.l2, args.only_kind)
    if args.save:
        name = "sentence_weights_plain" if args.only_kind else "sentence_weights"
        names = ("coverage", "pairs", "cosine", "rank", "kind", "window", "title", "passage", "length", "reader")
        held = {f"squad-dev16 sentence_accuracy ({args.folds}-fold by article)": round(out["cross_validated"], 4)}
        held["in_sample"] = round(out["fit_on_all"], 4)
        write_json_model(
            name,
            dict(zip(names, out["weights"], strict=True)),
            stamp("train/sentences.py", {"squad-dev16": data_dir("squad-dev16")}, held),
        )


if __name__ == "__main__":
    main()
