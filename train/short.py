"""Fit the short answer's weight (qa.answer.short.ShortWeights) on squad-dev16 and realtimeqa-dev together.

    python -m train.short dump [--sets ...] [--reader-cv] [--[no-]reader-int8] [--limit N]
    python -m train.short fit [--save]

`dump` asks every answerable question of each set as `qa ask` does (a news question on the day it was asked, the
shipped second stage and sentence weights) and keeps, for the sentence the answerer chooses, the reader's best
spans in it with how many titles of the articles read name each (Answerer.short_spans), the sentence and the gold
answers: bench/results/short_<set>.pkl.
--reader-cv: each question is read by the fold reader trained on the other half (as in `train.sentences dump`).

`fit` scores the short answers each weight of a grid gives (SQuAD F1 of the short answer, else of the sentence, as
`qa eval` scores them) and reports them held out, each half answered with the grid's best weight on the other half
of both sets (the sum of the two sets' mean F1), and fitted on all. --save writes the best on all, stamped, to
qa/data/short_answer.json. Each half's weight goes to bench/results/short_fold<half>.json for `bench.answers --cv`.
The shipped weight: `dump --reader-cv`, then `fit --save`.
"""

from __future__ import annotations

import argparse
import json
import pickle
from typing import Any

import numpy as np

from qa.answer import short
from qa.answer.answerer import echoes
from qa.answer.kinds import wants_clause
from qa.eval.metrics import f1
from train.common import (
    RESULTS,
    SETS,
    add_reader_int8,
    asked_on,
    data_dir,
    half_readers,
    open_set,
    set_questions,
    stamp,
    write_json_model,
)

GRID = (0.0, 0.5, 1.0, 1.5, 2.0, 2.5, 3.0, 4.0, 5.0)


def dump_path(name: str) -> Any:
    return RESULTS / f"short_{name}.pkl"


def dump(name: str, args: argparse.Namespace) -> None:
    qa = open_set(name, reader_int8=args.reader_int8)
    answerer = qa.answerer
    readers = half_readers(int8=args.reader_int8) if args.reader_cv else {}
    rows = []
    for n, q in enumerate(set_questions(name)[: args.limit]):
        if readers:
            answerer.reader = readers[q["fold"]]
        found = answerer.retriever.search(q["question"], as_of=asked_on(q))
        readings = answerer.read(found)
        cands, _, scores = answerer.score_sentences(found, readings)
        best = int(np.argmax(scores)) if len(cands) else -1
        if best < 0 or cands[best].span is None or not readings:
            continue
        text = qa.index.articles[cands[best].article].text
        spans, support = answerer.short_spans(found, cands, best, readings)
        rows.append(
            {
                "id": q["id"],
                "question": q["question"],
                "asks": found.query.asks,
                "answers": q["answers"],
                "fold": q["fold"],
                "sentence": cands[best].text,
                "spans": [(score, text[a:b]) for score, a, b in spans],
                "named": support,
            }
        )
        if n % 500 == 0:
            print(f"{name}: {n} questions", flush=True)
    dump_path(name).write_bytes(pickle.dumps(rows))
    print(f"wrote {dump_path(name)} ({len(rows)} questions)", flush=True)


def answer_f1(row: dict[str, Any], w: float) -> float:
    """F1 of the short answer the weight gives (of the sentence where there is none), as the answerer makes it."""
    said = None
    if row["spans"] and not wants_clause(row["asks"]):
        scores = np.array([score for score, _ in row["spans"]])
        span = row["spans"][short.choose(scores, row["named"], w)][1]
        said = short.finish(row["asks"], span, row["sentence"])
        if said is not None and echoes(said, row["question"]):
            said = None
    return f1(said if said is not None else row["sentence"], row["answers"])


def fit(args: argparse.Namespace) -> dict[str, Any]:
    data = {name: pickle.loads(dump_path(name).read_bytes()) for name in SETS}
    # per set, half and weight: the mean F1 of that half's questions
    table = {
        name: {half: [np.mean([answer_f1(r, w) for r in rows if r["fold"] == half]) for w in GRID] for half in (0, 1)}
        for name, rows in data.items()
    }
    count = {name: {half: sum(r["fold"] == half for r in rows) for half in (0, 1)} for name, rows in data.items()}

    def best_on(halves: tuple[int, ...]) -> int:
        total = [
            sum(
                sum(table[name][h][i] * count[name][h] for h in halves) / sum(count[name][h] for h in halves)
                for name in SETS
            )
            for i in range(len(GRID))
        ]
        return int(np.argmax(total))

    held = {half: best_on((1 - half,)) for half in (0, 1)}  # each half answered with the other half's best weight
    on_all = best_on((0, 1))

    def mean_f1(name: str, pick: dict[int, int]) -> float:
        n = count[name]
        return round(float(sum(table[name][h][pick[h]] * n[h] for h in (0, 1)) / sum(n.values())), 4)

    out = {
        "grid": GRID,
        "weight held out (half: fitted on the other half)": {h: GRID[i] for h, i in held.items()},
        "weight fitted on all": GRID[on_all],
        "F1 held out": {name: mean_f1(name, held) for name in SETS},
        "F1 with weight 0 (the reader's best span)": {name: mean_f1(name, {0: 0, 1: 0}) for name in SETS},
        "F1 fitted on all": {name: mean_f1(name, {0: on_all, 1: on_all}) for name in SETS},
        "F1 by weight (both halves)": {
            name: {w: mean_f1(name, {0: i, 1: i}) for i, w in enumerate(GRID)} for name in SETS
        },
    }
    print(json.dumps(out, indent=1), flush=True)
    for half, i in held.items():  # for `bench.answers --cv`
        (RESULTS / f"short_fold{half}.json").write_text(json.dumps({"headline": GRID[i]}))
    if args.save:
        figures = {f"{name} short-answer F1": value for name, value in out["F1 held out"].items()}
        made = stamp("train/short.py", {s: data_dir(s) for s in SETS}, figures)
        write_json_model("short_answer", {"headline": GRID[on_all]}, made)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="command", required=True)
    d = sub.add_parser("dump", help="the answer sentence's best spans, for every question")
    d.add_argument("--sets", nargs="+", default=list(SETS), choices=SETS)
    d.add_argument("--reader-cv", action="store_true", help="each question read by the other half's fold reader")
    add_reader_int8(d)
    d.add_argument("--limit", type=int)
    f = sub.add_parser("fit", help="the weight, held out and on all")
    f.add_argument("--save", action="store_true", help="write qa/data/short_answer.json")
    args = ap.parse_args()
    if args.command == "dump":
        for name in args.sets:
            dump(name, args)
    else:
        fit(args)


if __name__ == "__main__":
    main()
