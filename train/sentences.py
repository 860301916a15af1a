"""Fit the answer sentence's weights (qa.answer.sentences.SentenceWeights) on squad-dev16 and realtimeqa-dev together.

    python -m train.sentences dump [--sets ...] [--reader-cv | --no-reader] [--read-passages N]
                                   [--[no-]reader-int8] [--limit N]
    python -m train.sentences fit [--only-kind] [--l2 1e-4] [--save]

`dump` asks every answerable question of each set as `qa ask` does (a news question on the day it was asked) and
keeps its candidate sentences with their features (qa.answer.sentences.features), the answerer's current score and
whether each is gold (from a source article and holding a gold answer): bench/results/sentences_<set>[_plain].pkl.
--reader-cv: each question is read by the fold reader trained on the other half of both sets (`python -m
train.reader train --fold 0|1`: squad-dev16 by article, realtimeqa-dev by quiz week), so the reader feature is what
an unseen question gets; without it the feature is the shipped reader's, which was trained on squad-dev16. A fold
reader trained further from the shipped one (`--init`) has seen every squad-dev16 article through its start (its
info's `trained_on` says so): only its news questions are then unseen. --read-passages and --[no-]reader-int8 read
as QA_READ_PASSAGES and QA_READER_INT8 do; their defaults are `qa ask`'s, so that the reader feature is the one it
computes.
`fit` learns the weights (a listwise softmax over each question's candidates, the gold ones the target, each set
weighing the same), and reports sentence accuracy held out (fitted on the other half of both sets: squad-dev16 by
article, realtimeqa-dev by quiz week) and fitted on all; --save writes them, stamped, to
qa/data/sentence_weights.json (or, from the --no-reader dumps with --only-kind, sentence_weights_plain.json).

--fix states_date=2 --fix other_date=-2 holds the weights of a sentence stating the year asked about and of one
stating another year instead: the sets cannot tell them (held out, both sets' sentence accuracy is the same within
0.1 point from -3 to +3), and "Where did they meet in 2012?" should not cite "… in Enniskillen on June 17, 2013".
--fix headline=2 --fix period=3 (the shipped weights: `dump --reader-cv`, 5 passages read in int8, then `fit --fix
states_date=2 --fix other_date=-2 --fix headline=2 --fix period=3 --save`) hold the weight of the titles naming a
sentence's best span (qa.answer.sentences.headline_support) and of its article fitting the period asked about.
Fitted free the softmax gives headline 1.5 and period 0.7; held out, news gains with headline up to 4 (0.372 at 1,
0.374 at 2, 0.390 at 4) while squad-dev16 loses a little (0.911 -> 0.908) and the seeds, which no weight is fitted
on, lose more: at 4, "Where did Obama and Putin meet in 2012?" is answered "Syria", named by both seed titles, from
the 2013 article; period 3 moves neither set by more than 0.003 and keeps that article's sentences behind the 2012
one's (the sweep is in docs/measurements.md, Sentence).
"""

from __future__ import annotations

import argparse
import json
import pickle
from typing import Any

import numpy as np

from qa.answer.gate import support
from qa.answer.sentences import FEATURES, asked_kind_held, shipped_weights
from qa.config import DEFAULT_READ_PASSAGES
from qa.eval.metrics import contains_answer
from train.common import (
    RESULTS,
    SETS,
    add_reader_int8,
    asked_on,
    data_dir,
    fit_listwise,
    half_readers,
    open_set,
    set_questions,
    stamp,
    write_json_model,
)

Group = tuple[np.ndarray, np.ndarray, float, int]  # features, gold, weight, fold


def dump_path(name: str, reader: bool) -> Any:
    return RESULTS / f"sentences_{name}{'' if reader else '_plain'}.pkl"


def dump(name: str, args: argparse.Namespace) -> None:
    qa = open_set(name, reader=not args.no_reader, read_passages=args.read_passages, reader_int8=args.reader_int8)
    answerer = qa.answerer
    canonical = qa.index.manifest.aliases()
    readers = half_readers(int8=args.reader_int8) if args.reader_cv else {}
    rows = []
    for n, q in enumerate(set_questions(name)[: args.limit]):
        found = answerer.retriever.search(q["question"], as_of=asked_on(q))
        if readers:
            answerer.reader = readers[q["fold"]]
        cands, feats = answerer.sentence_features(found, answerer.read(found))
        sources = {canonical.get(a, a) for a in q["source_articles"]}
        rows.append(
            {
                "id": q["id"],
                "question": q["question"],
                "answers": q["answers"],
                "source": q["source_articles"][0],
                "fold": q["fold"],
                "support": support(qa.index, found),
                "sentences": [(s.article, s.start, s.end, s.text, s.passage_rank, s.span) for s in cands],
                "feats": feats,
                "scores": feats @ answerer.weights.vector(),
                "gold": np.array([s.article in sources and contains_answer(s.text, q["answers"]) for s in cands]),
            }
        )
        if n % 500 == 0:
            print(f"{name}: {n} questions", flush=True)
    out = dump_path(name, not args.no_reader)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(pickle.dumps(rows))
    print(f"wrote {out} ({len(rows)} questions)", flush=True)


def sentence_groups(rows: list[dict[str, Any]], only_kind: bool = False) -> list[Group]:
    """Per question: the candidate sentences' features, which are gold, a weight (1 / questions of its set) and
    its fold. Every sentence competes, as in Answerer.score_sentences with the reader (letting only those that hold
    the amount, duration or date asked for compete lost 1.5 points of held-out sentence accuracy on squad-dev16:
    holds_kind misses some); `only_kind`: only those compete, as without the reader."""
    out = []
    for r in rows:
        feats, gold = r["feats"], r["gold"].astype(bool)
        if not len(feats):
            continue
        holding = asked_kind_held(r["question"], feats) if only_kind else None
        if holding is not None:
            feats, gold = feats[holding], gold[holding]
        out.append((feats, gold, 1.0 / len(rows), int(r["fold"])))
    return out


def fit_groups(
    groups: list[Group], l2: float, fold: int | None = None, fixed: dict[int, float] | None = None
) -> np.ndarray:
    """The weights fitted on the groups outside `fold`, coverage weighing 1 (the scale of the weights before);
    `fixed`: weights held (train.common.fit_listwise)."""
    w = fit_listwise([(f, g.astype(float), weight) for f, g, weight, k in groups if k != fold], l2, fixed=fixed)
    return w / (w[0] or 1.0)


def accuracy(groups: list[Group], w: np.ndarray) -> float:
    """The share of questions (with any candidate) whose best-scoring sentence is gold."""
    return float(np.mean([bool(g[int(np.argmax(f @ w))]) for f, g, _, _ in groups])) if groups else float("nan")


def fold_fits(groups: list[Group], l2: float = 1e-4, fixed: dict[int, float] | None = None) -> dict[int, np.ndarray]:
    """Each fold's weights fitted on the other fold (the same halves as the fold readers')."""
    return {fold: fit_groups(groups, l2, fold, fixed) for fold in (0, 1)}


def fit(args: argparse.Namespace) -> dict[str, Any]:
    reader = not args.only_kind
    data = {name: sentence_groups(pickle.loads(dump_path(name, reader).read_bytes()), args.only_kind) for name in SETS}
    every = [g for groups in data.values() for g in groups]
    fixed = {FEATURES.index(name): float(value) for name, _, value in (f.partition("=") for f in args.fix)}
    folds = fold_fits(every, args.l2, fixed)
    suffix = "" if reader else "_plain"
    for fold, fw in folds.items():  # for `bench.answers --cv`
        weights = dict(zip(FEATURES, fw.tolist(), strict=True))
        (RESULTS / f"sentences{suffix}_fold{fold}.json").write_text(json.dumps(weights))
    w = fit_groups(every, args.l2, None, fixed)
    shipped = shipped_weights(reader).vector()
    out = {
        "features": FEATURES,
        "weights": [round(float(x), 4) for x in w],
        "held_out (fitted on the other half of both sets)": {
            name: round(
                sum(
                    accuracy([g for g in groups if g[3] == k], folds[k]) * sum(g[3] == k for g in groups)
                    for k in (0, 1)
                )
                / len(groups),
                4,
            )
            for name, groups in data.items()
        },
        "fitted on all": {name: round(accuracy(groups, w), 4) for name, groups in data.items()},
        "shipped weights": {name: round(accuracy(groups, shipped), 4) for name, groups in data.items()},
    }
    print(json.dumps(out, indent=1), flush=True)
    if args.save:
        model = "sentence_weights" if reader else "sentence_weights_plain"
        held = {f"{k} sentence accuracy": v for k, v in out["held_out (fitted on the other half of both sets)"].items()}
        made = stamp("train/sentences.py", {s: data_dir(s) for s in SETS}, held)
        write_json_model(model, dict(zip(FEATURES, out["weights"], strict=True)), made)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="command", required=True)
    d = sub.add_parser("dump", help="the candidate sentences of every question")
    d.add_argument("--sets", default=",".join(SETS))
    d.add_argument("--limit", type=int)
    d.add_argument("--reader-cv", action="store_true", help="read each question by the fold reader of its half")
    d.add_argument("--no-reader", action="store_true", help="the answerer without the reader")
    d.add_argument("--read-passages", type=int, default=DEFAULT_READ_PASSAGES, help="passages the reader reads")
    add_reader_int8(d)
    f = sub.add_parser("fit", help="fit the weights on the dumps")
    f.add_argument("--l2", type=float, default=1e-4)
    f.add_argument("--only-kind", action="store_true", help="the --no-reader dumps; only sentences of the kind compete")
    f.add_argument("--save", action="store_true", help="write the weights to qa/data, stamped")
    f.add_argument("--fix", action="append", default=[], help="name=value: hold a weight the data cannot tell")
    args = ap.parse_args()
    if args.command == "dump":
        for name in args.sets.split(","):
            dump(name, args)
    else:
        fit(args)


if __name__ == "__main__":
    main()
