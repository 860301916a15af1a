"""Fit the refusal gate (qa.answer.gate.Gate) on squad-dev16 and realtimeqa-dev, with labelled unanswerable questions.

    python -m train.gate dump [--sets ...] [--limit 1500] [--near-limit N] [--drop 0.3] [--seed 7]
                              [--no-reader] [--reader-cv] [--read-passages N] [--[no-]reader-int8]
    python -m train.gate fit [--names support,cosine,passage] [--refused 0.05] [--gate-alone] [--save]
    python -m train.gate fit --plain [--save]     # the gate for answering without the reader (QA_READER=0)

Ways of making questions the index cannot answer, with answerable ones beside them:

away     squad-dev16: half of the articles are indexed, and questions about the other half are unanswerable (off
         topic), those about the indexed half answerable (both halves, --limit questions each).
near     squad-dev16: every article indexed with a seeded --drop share of its sentences deleted; a question whose
         gold sentence was deleted and whose answer occurs nowhere in what is left is unanswerable (the same story
         without its fact: "Who interpreted for Putin?" when the article says "through an interpreter"); one whose
         gold sentence is left, answerable.
deleted  realtimeqa-dev: every question asked of the whole news index (answerable) and of it without every passage
         that holds its answer, in its sources or anywhere else (unanswerable: the same week's news without the
         fact). Nothing is embedded again: the search is restricted to the other passages.
away     realtimeqa-dev, as on squad-dev16: the news index without the question's source pages. Reported, not
         fitted on: a quiz question's short answer ("China", "4") is in some other page for 842 of the 892 questions
         (48 pages at the median), so most of these are answerable still.
stale    realtimeqa-dev: each question that says a period relative to the day asked ("this week", "recently", "on
         Monday") asked of the news index without the articles published in that period or the month before the
         day asked, and without every passage that holds its answer (unanswerable: a folder that holds other weeks'
         news but not that week's); answerable, the same question of the whole index (the deleted kind's rows).
         Reported, not fitted on: `qa ask` refuses every one of them whatever the gate says (a veto: no article was
         published in the period, qa.search.retrieve.Retriever.unreported), and no answerable one for it.

`dump` records each question's gate signals (qa.answer.gate.gate_signals) in bench/results/gate_rows.pkl (and its
arguments beside it, for the stamp); --near-limit N asks only N squad-dev16 questions (seed 7) in near, which with
--limit 600 halves the dump's time (the shipped gate: `dump --reader-cv --limit 600 --near-limit 1200`, then `fit
--refused 0.04 --save`); --read-passages and --[no-]reader-int8 read as QA_READ_PASSAGES and QA_READER_INT8 do
(their defaults are `qa ask`'s); with --reader-cv each question is read by the fold reader trained on the other half
of both sets (`python -m train.reader train --fold 0|1`), so that its reader signals are those of a reader that
never saw its half. `fit`
fits a logistic regression (each set weighing the same) on one half of each set (squad-dev16 by article,
realtimeqa-dev by week) and scores the other half, both ways: refusal precision and recall per set and kind, and
the answerable questions refused, as `qa ask` refuses (the gate, or a veto: support too low, a name the passages
do not hold; the dump records which questions a veto refuses). Its bias is set so that at most --refused of each
set's answerable questions in the training half are refused, the vetoed ones included (--gate-alone: --refused of
them by the gate alone, the vetoes on top).
--save writes the gate fitted on all, stamped, to qa/data/gate.json. --plain fits it without the reader's two
signals (qa.answer.gate.READER_SIGNALS), for qa/data/gate_plain.json: on the same rows, whose other signals were
taken with the reader's choice of sentence (a `dump --no-reader` would take them without; it costs the dump's 40
minutes again).
"""

from __future__ import annotations

import argparse
import json
import pickle
import random
import re
import shutil
import sys
import tempfile
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np

from qa import learned
from qa.answer.gate import GATE_SIGNALS, READER_SIGNALS, shipped_gate
from qa.config import DEFAULT_READ_PASSAGES
from qa.eval.metrics import contains_answer
from qa.ingest.chunk import sentence_spans
from qa.pipeline import QA
from qa.search.dates import find_period, window
from qa.search.retrieve import SearchResult
from qa.text import normalize, tokenize
from train.common import (
    RESULTS,
    SETS,
    add_reader_int8,
    asked_on,
    data_dir,
    half_readers,
    open_qa,
    open_set,
    set_questions,
    stamp,
    write_json_model,
)

_PARA = re.compile(r"\n\s*\n")
EVERY = GATE_SIGNALS
ROWS = RESULTS / "gate_rows.pkl"
DUMP_ARGS = RESULTS / "gate_rows_args.json"  # the `dump` arguments that made ROWS
STALE_DAYS = 35  # the stale kind: a relative question asked of the news without its period and the month before
DROP = 0.3  # the share of squad-dev16's sentences deleted for its near set (dump --drop)
HALF_READERS: dict[int, Any] = {}  # dump --reader-cv: half -> the reader that never saw it (train.common.half_readers)


def asked(qa: QA, q: dict[str, Any], rows: np.ndarray | None = None) -> tuple[SearchResult, dict[str, float]]:
    """Question `q` searched as `row` searches it, and the gate's signals on what it found."""
    if HALF_READERS:
        qa.answerer.reader = HALF_READERS[q["fold"]]
    found = qa.retriever.search(q["question"], as_of=asked_on(q), rows=rows)
    return found, qa.answerer.gate_signals(found, qa.answerer.read(found))


def row(
    name: str, kind: str, q: dict[str, Any], answerable: bool, qa: QA, rows: np.ndarray | None = None
) -> dict[str, Any]:
    """Question `q` asked of `qa`'s index (only `rows` of it) on the day it was asked: the gate's signals, and
    whether `qa ask` refuses it whatever the gate says (a veto: Answerer.vetoed)."""
    found, got = asked(qa, q, rows)
    return {"set": name, "kind": kind, "fold": q["fold"], "answerable": answerable, "question": q["question"],
            "x": [got[n] for n in EVERY], "vetoed": qa.answerer.vetoed(found, got)}  # fmt: skip


def reading(args: argparse.Namespace) -> dict[str, Any]:
    """The answerer's reader settings for a dump: on or off, the passages it reads, int8 or not."""
    return {"reader": not args.no_reader, "read_passages": args.read_passages, "reader_int8": args.reader_int8}


# ---- squad-dev16 --------------------------------------------------------------------------------------------------


def squad_rows(args: argparse.Namespace, tmp: Path) -> list[dict[str, Any]]:
    squad = data_dir("squad-dev16")
    qs = set_questions("squad-dev16")
    articles = sorted(p.name for p in (squad / "articles").glob("*.txt"))
    sample = random.Random(7).sample(qs, min(args.limit, len(qs)))
    rows = []
    for half, inside in enumerate((articles[0::2], articles[1::2])):  # away
        folder = tmp / f"away-{half}"
        folder.mkdir()
        for name in inside:
            shutil.copy(squad / "articles" / name, folder / name)
        qa = open_qa(folder, tmp / f"index-away-{half}", **reading(args))
        for q in sample:
            answerable = q["source_articles"][0] in inside
            # the fold is the article's, or (unanswerable) the half the question was asked of
            rows.append(row("squad-dev16", "away", {**q, "fold": q["fold"] if answerable else half}, answerable, qa))
        print(f"squad-dev16 away: half {half} done", flush=True)
    near_qs = random.Random(7).sample(qs, args.near_limit) if 0 < args.near_limit < len(qs) else qs
    qa, labels = near_set(tmp, args.drop, args.seed, near_qs, **reading(args))
    rows += [row("squad-dev16", "near", q, answerable, qa) for q, answerable in labels]
    print("squad-dev16 near done", flush=True)
    return rows


def near_set(
    tmp: Path, drop: float, seed: int, qs: list[dict[str, Any]], **settings: Any
) -> tuple[QA, list[tuple[dict[str, Any], bool]]]:
    """squad-dev16 with a seeded `drop` share of its sentences deleted, indexed in `tmp` and opened with
    `settings`; and each of `qs` with whether it is answerable there: its gold sentence is left (those with no gold
    sentence, or whose answer is still elsewhere in what is left, are left out)."""
    squad = data_dir("squad-dev16")
    rng = random.Random(seed)
    folder = tmp / "near"
    folder.mkdir()
    kept: dict[str, str] = {}
    dropped: dict[str, set[tuple[int, int]]] = {}
    for name in sorted(p.name for p in (squad / "articles").glob("*.txt")):
        text = (squad / "articles" / name).read_text(encoding="utf-8")
        spans = list(sentence_spans(text, text.index("\n"), len(text)))
        gone = {s for s in spans if rng.random() < drop}
        out, pos = [], 0
        for s in sorted(gone):
            out.append(text[pos : s[0]])
            pos = s[1]
        kept[name], dropped[name] = "".join([*out, text[pos:]]), gone
        (folder / name).write_text(kept[name], encoding="utf-8")
    labels = []
    for q in qs:
        name = q["source_articles"][0]
        gold = gold_sentence((squad / "articles" / name).read_text(encoding="utf-8"), q)
        if gold is None or (gold in dropped[name] and contains_answer(kept[name], q["answers"])):
            continue  # no gold sentence, or the answer is still elsewhere in what is left
        labels.append((q, gold not in dropped[name]))
    return open_qa(folder, tmp / "index-near", **settings), labels


def paragraph_spans(text: str) -> list[tuple[int, int]]:
    """(start, end) of each paragraph of a squad-dev16 article after its title line (paragraph_index counts these)."""
    starts = [m.end() for m in _PARA.finditer(text, text.index("\n"))]
    return [(s, starts[i + 1] if i + 1 < len(starts) else len(text)) for i, s in enumerate(starts)]


def gold_sentence(text: str, q: dict[str, Any]) -> tuple[int, int] | None:
    """The sentence of the question's paragraph that holds an answer, most like the question."""
    paragraphs = paragraph_spans(text)
    i = q.get("paragraph_index")
    if i is None or i >= len(paragraphs):
        return None
    holding = [s for s in sentence_spans(text, *paragraphs[i]) if contains_answer(text[s[0] : s[1]], q["answers"])]
    if not holding:
        return None
    words = set(tokenize([q["question"]])[0])
    return max(holding, key=lambda s: len(words & set(tokenize([text[s[0] : s[1]]])[0])))


# ---- realtimeqa-dev -----------------------------------------------------------------------------------------------


def news_rows(args: argparse.Namespace) -> list[dict[str, Any]]:
    """Each realtimeqa-dev question asked of the whole news index (answerable), and of it without every passage that
    holds its answer (unanswerable: the answer is nowhere in what is searched). Without its sources only, a quiz
    question stays answerable: its short answer ("China", "4") is in some other page for 842 of the 892 questions
    (48 pages at the median), and pages of the same story are not all listed as sources."""
    qa = open_set("realtimeqa-dev", **reading(args))
    restrict = news_restrictions(qa)
    rows = []
    for n, q in enumerate(set_questions("realtimeqa-dev")):
        deleted, away, stale = restrict(q)
        answerable = row("realtimeqa-dev", "deleted", q, True, qa)
        rows.append(answerable)
        rows.append(row("realtimeqa-dev", "deleted", q, False, qa, deleted))
        # away, as on squad-dev16: the question's source pages left out (reported, not fitted on: its answer is
        # still in some other page for most questions, so "unanswerable" is mostly not)
        rows.append({**answerable, "kind": "away"})
        rows.append(row("realtimeqa-dev", "away", q, False, qa, away))
        if stale is not None:  # reported, not fitted on: refused by a veto whatever the gate says
            rows.append({**answerable, "kind": "stale"})
            rows.append(row("realtimeqa-dev", "stale", q, False, qa, stale))
        if n % 200 == 0:
            print(f"realtimeqa-dev: {n} questions", flush=True)
    return rows


def news_restrictions(qa: QA) -> Callable[[dict[str, Any]], tuple[np.ndarray, np.ndarray, np.ndarray | None]]:
    """For a realtimeqa-dev question: the rows of `qa`'s news index without every passage that holds its answer
    (deleted), those without its source pages (away), and for a question saying a period relative to the day asked,
    those without the articles of that period and of the month before the day asked, nor its answer (stale)."""
    padded = [f" {normalize(c.text)} " for c in qa.index.chunks]
    canonical = qa.index.manifest.aliases()
    article = np.array([c.article for c in qa.index.chunks])
    days = qa.retriever.row_days  # each passage's article's day (an ordinal; NaN: undated)

    def restrict(q: dict[str, Any]) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
        golds = [f" {g} " for g in (normalize(a) for a in q["answers"]) if g]
        holding = np.array([any(g in text for g in golds) for text in padded], dtype=bool)
        sources = [canonical.get(a, a) for a in q["source_articles"]]
        day = asked_on(q)
        period = find_period(q["question"], day) if day else None
        stale = None
        if day and period is not None and period.relative:
            lo, hi = window(period)
            lo, hi = min(lo, day.toordinal() - STALE_DAYS), max(hi, day.toordinal() + 2)
            stale = np.flatnonzero(~holding & ~((days >= lo) & (days <= hi)))
        return np.flatnonzero(~holding), np.flatnonzero(~np.isin(article, sources)), stale

    return restrict


# ---- fitting -----------------------------------------------------------------------------------------------------


def fit(rows: list[dict[str, Any]], refused: float, gate_alone: bool = False) -> tuple[np.ndarray, float]:
    """Logistic regression for P(answerable), each set weighing the same; the bias then set so that at most
    `refused` of each set's answerable questions are refused as `qa ask` refuses them: by the gate (below 0) or by
    a veto, which refuses whatever the gate says. `gate_alone`: at most `refused` by the gate alone (the vetoes then
    refuse more). Fitting the regression only on the questions no veto refuses was worse on both sets at the same
    share refused (docs/measurements.md)."""
    from sklearn.linear_model import LogisticRegression

    vetoed = np.zeros(len(rows), dtype=bool) if gate_alone else _vetoed(rows)
    x = np.array([r["x"] for r in rows])
    y = np.array([r["answerable"] for r in rows])
    sets = np.array([r["set"] for r in rows])
    counts = {name: int((sets == name).sum()) for name in SETS}
    weight = np.array([1.0 / counts[name] for name in sets])
    model = LogisticRegression(C=10.0, class_weight="balanced", max_iter=2000).fit(x, y, sample_weight=weight)
    w, b = model.coef_[0], float(model.intercept_[0])
    lowest = np.inf
    for name in set(sets):
        answerable = y & (sets == name)
        share = vetoed[answerable].mean()  # refused by a veto already
        left = max(refused - share, 0.0) / (1.0 - share)  # of the rest, the gate's share
        # "lower": an order statistic, so that no more than the share asked falls below it
        lowest = min(lowest, float(np.quantile(x[answerable & ~vetoed] @ w + b, left, method="lower")))
    return w, b - lowest


def _vetoed(rows: list[dict[str, Any]]) -> np.ndarray:
    """Which rows `qa ask` refuses whatever the gate says (rows dumped before the vetoes were recorded: none)."""
    return np.array([bool(r.get("vetoed", False)) for r in rows], dtype=bool)


def metrics(value: np.ndarray, answerable: np.ndarray, vetoed: np.ndarray | None = None) -> dict[str, float]:
    """Refusal precision and recall and the answerable questions refused, as `qa ask` refuses: the gate's value
    below 0, or a veto."""
    refused = value < 0 if vetoed is None else (value < 0) | vetoed
    unans = ~answerable
    return {
        "precision": round(float((refused & unans).sum() / max(refused.sum(), 1)), 4),
        "recall": round(float((refused & unans).sum() / max(unans.sum(), 1)), 4),
        "answerable_refused": round(float((refused & answerable).sum() / max(answerable.sum(), 1)), 4),
        "n": len(value),
        "unanswerable": int(unans.sum()),
    }


def score(rows: list[dict[str, Any]], w: np.ndarray, b: float) -> dict[str, dict[str, float]]:
    out = {}
    for name in SETS:
        for kind in ("away", "near", "deleted", "stale"):
            part = [r for r in rows if r["set"] == name and r["kind"] == kind]
            if part:
                x = np.array([r["x"] for r in part])
                answerable = np.array([r["answerable"] for r in part])
                out[f"{name} {kind}"] = metrics(x @ w + b, answerable, _vetoed(part))
    return out


def fit_and_report(args: argparse.Namespace) -> None:
    names = [n for n in args.names.split(",") if not (args.plain and n in READER_SIGNALS)]
    suffix = "_plain" if args.plain else ""
    pick = [EVERY.index(n) for n in names]
    rows = [{**r, "x": [r["x"][i] for i in pick]} for r in pickle.loads(ROWS.read_bytes())]
    held_out = {}
    plain_shipped = args.plain and (learned.data_dir() / "gate_plain.json").exists()
    shipped = shipped_gate(not plain_shipped)  # its least_support is kept; its weights are compared with
    # news away's labels are mostly wrong, and a stale question is vetoed whatever the gate says (see news_rows)
    train = [r for r in rows if r["set"] != "realtimeqa-dev" or r["kind"] not in ("away", "stale")]
    for fold in (0, 1):
        w, b = fit([r for r in train if r["fold"] != fold], args.refused, args.gate_alone)
        held_out[f"scored on half {fold}"] = score([r for r in rows if r["fold"] == fold], w, b)
        weights = dict(zip(names, w.tolist(), strict=True))
        gate = {**asdict(shipped), **dict.fromkeys(GATE_SIGNALS, 0.0), **weights, "bias": b}
        (RESULTS / f"gate{suffix}_fold{fold}.json").write_text(json.dumps(gate))  # for `bench.answers --cv`
    current = np.array([getattr(shipped, n, 0.0) for n in names])
    w, b = fit(train, args.refused, args.gate_alone)
    results = {
        "signals": names,
        "held_out": held_out,
        "fitted_on_all": score(rows, w, b),
        "shipped_gate_on_all": score(rows, current, shipped.bias),
        "gate": {**{n: round(float(v), 4) for n, v in zip(names, w, strict=True)}, "bias": round(b, 4)},
    }
    print(json.dumps(results, indent=1))
    (RESULTS / f"gate{suffix}.json").write_text(json.dumps(results, indent=1) + "\n")
    if args.save:
        weights = {**asdict(shipped), **dict.fromkeys(GATE_SIGNALS, 0.0), **results["gate"]}
        made = stamp("train/gate.py", {s: data_dir(s) for s in SETS}, held_out)
        made["dump_args"] = json.loads(DUMP_ARGS.read_text()) if DUMP_ARGS.exists() else None
        write_json_model(f"gate{suffix}", weights, made)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="command", required=True)
    d = sub.add_parser("dump")
    d.add_argument("--sets", default=",".join(SETS))
    d.add_argument("--limit", type=int, default=1500, help="squad-dev16 questions a half in the 'away' set")
    d.add_argument("--near-limit", type=int, default=0, help="squad-dev16 questions in 'near' (default: all)")
    d.add_argument("--drop", type=float, default=DROP, help="share of squad-dev16 sentences deleted in 'near'")
    d.add_argument("--seed", type=int, default=7)
    d.add_argument("--no-reader", action="store_true", help="answer without the reader")
    d.add_argument("--reader-cv", action="store_true", help="read each question by the fold reader of its half")
    d.add_argument("--read-passages", type=int, default=DEFAULT_READ_PASSAGES, help="passages the reader reads")
    add_reader_int8(d)
    f = sub.add_parser("fit")
    f.add_argument("--names", default=",".join(GATE_SIGNALS), help="the signals to fit on (comma-separated)")
    f.add_argument("--refused", type=float, default=0.05, help="answerable questions `qa ask` may refuse")
    f.add_argument("--gate-alone", action="store_true", help="--refused of them by the gate alone (vetoes on top)")
    f.add_argument("--plain", action="store_true", help="without the reader's signals: qa/data/gate_plain.json")
    f.add_argument("--save", action="store_true", help="write the fitted gate to qa/data/gate.json, stamped")
    args = ap.parse_args()
    if args.command == "fit":
        fit_and_report(args)
        return
    chosen = args.sets.split(",")
    if args.reader_cv:
        HALF_READERS.update(half_readers(int8=args.reader_int8))
    kept = pickle.loads(ROWS.read_bytes()) if ROWS.exists() else []
    rows: list[dict[str, Any]] = [r for r in kept if r["set"] not in chosen]  # the other sets' rows stay
    with tempfile.TemporaryDirectory() as tmp:
        if "squad-dev16" in chosen:
            rows += squad_rows(args, Path(tmp))
        if "realtimeqa-dev" in chosen:
            rows += news_rows(args)
    ROWS.parent.mkdir(parents=True, exist_ok=True)
    ROWS.write_bytes(pickle.dumps(rows))
    DUMP_ARGS.write_text(json.dumps(sys.argv[1:]))  # for the stamp of what `fit --save` makes of the rows
    print(f"wrote {ROWS} ({len(rows)} rows)")


if __name__ == "__main__":
    main()
