"""Answers on squad-dev16 or realtimeqa-dev as `qa eval` scores them, every learned part cross-validated.

    python -m bench.answers [--set squad-dev16|realtimeqa-dev] [--cv | --gate-cv] [--span-cv] [--reader-cv]
                            [--no-reader] [--[no-]reader-int8] [--backend B] [--limit N] [--half 0|1] [--reader PATH]

Indexes the set's articles (bench/results/work/<set>, kept between runs) and asks every question (warm) as `qa ask`
does, a news question on the day it was asked; scores each as `qa eval` does (qa.eval.run.score: hit@k over the 10
passages retrieved, EM/F1 of the short answer else the answer, sentence accuracy, refusals) and times it. The
shipped weights were fitted on these very questions, so:
--cv         each question is searched, its sentence chosen and its refusal judged with the weights fitted on the
             other half of both sets (squad-dev16 by article, realtimeqa-dev by quiz week), its short answer
             picked with the short-answer weight of the other half: the fold weights `python -m train.rerank
             fit`, `train.sentences fit`, `train.gate fit` and `train.short fit` write to bench/results;
--gate-cv    only its refusal is judged by the gate fitted on the other half (`python -m train.gate fit`), the
             second stage and the sentence choice by the shipped weights;
--span-cv    its fallback short answer comes from the span model fitted on the other half of both sets
             (`python -m train.span --save`);
--reader-cv  it is read by the fold reader that held its half out (`python -m train.reader train --fold 0|1`;
             quantised to int8 as the shipped one is, unless --no-reader-int8).
--backend B  the embedder's backend for the questions and sentences (the index's vectors stay as they were built).
--no-reader-int8   the reader in float (QA_READER_INT8=0); int8 is the default.
--read-passages N  the reader reads the best N passages (default: QA_READ_PASSAGES's default).
--half F     only the questions of half F (a fold reader's held-out half: `train.reader train --fold F`);
--reader P   every question read by the reader P (a `train.reader train --out P`), not the shipped one.
Writes bench/results/answers_<set>.json.
"""

from __future__ import annotations

import argparse
import json
import random
from dataclasses import replace
from pathlib import Path
from typing import Any

from bench.common import RESULTS, data_dir
from qa.answer import spans
from qa.answer.gate import Gate
from qa.answer.sentences import SentenceWeights
from qa.answer.short import ShortWeights
from qa.config import BACKENDS
from qa.eval.questions import load_questions
from qa.eval.run import RETRIEVE_K, details, score, summarize
from qa.search.dates import parse_date
from qa.search.rerank import Weights
from train.common import add_reader_int8, fold_span_weights, half_readers, open_set, set_questions


def fold_weights(reader: bool) -> dict[int, tuple[Weights, SentenceWeights, Gate, ShortWeights]]:
    """Each fold's second-stage, sentence, gate and short-answer weights, fitted on the other fold (train/*.py
    fit)."""
    suffix = "" if reader else "_plain"
    gates = fold_gates(reader)
    out = {}
    for fold in (0, 1):
        rerank, sentence = _fitted(f"rerank_fold{fold}"), _fitted(f"sentences{suffix}_fold{fold}")
        short = ShortWeights(**_fitted(f"short_fold{fold}")) if reader else ShortWeights(headline=0.0)
        out[fold] = (Weights(**rerank), SentenceWeights(**sentence), gates[fold], short)
    return out


def fold_gates(reader: bool) -> dict[int, Gate]:
    """Each fold's refusal gate, fitted on the other fold (`python -m train.gate fit [--plain]`)."""
    return {fold: Gate(**_fitted(f"gate{'' if reader else '_plain'}_fold{fold}")) for fold in (0, 1)}


def _fitted(name: str) -> dict[str, Any]:
    path = RESULTS / f"{name}.json"
    if not path.exists():
        raise SystemExit(f"error: no {path}: run the fit that writes it first (see `python -m bench.answers --help`)")
    return dict(json.loads(path.read_text()))


def run(args: argparse.Namespace) -> dict[str, Any]:
    folder = data_dir(args.set)
    more_settings: dict[str, Any] = {"read_passages": args.read_passages} if args.read_passages else {}
    more_settings["reader_int8"] = args.reader_int8
    if args.read_sure is not None:
        more_settings["read_sure"] = args.read_sure
    if args.backend:
        more_settings["backend"] = args.backend
    qa = open_set(args.set, reader=not args.no_reader, **more_settings)
    answerer = qa.answerer
    fold_of = {q["id"]: q["fold"] for q in set_questions(args.set)}
    questions = [q for q in load_questions(folder / "questions.jsonl") if q.answerable]
    if args.half is not None:
        questions = [q for q in questions if fold_of[q.id] == args.half]
    if args.limit:
        questions = random.Random(7).sample(questions, args.limit)
    canonical = qa.index.manifest.aliases()
    texts = {aid: a.text for aid, a in qa.index.articles.items()}
    dates = {aid: parse_date(a.date) for aid, a in qa.index.articles.items()}
    folds = fold_weights(not args.no_reader) if args.cv else {}
    gates = fold_gates(not args.no_reader) if args.gate_cv and not args.cv else {}
    spans_of = fold_span_weights() if args.span_cv else {}
    readers: dict[Any, Any] = {}
    if args.reader_cv:  # by its half: squad-dev16's by article, a news question's by its week
        readers = half_readers(int8=args.reader_int8)
    if args.reader:
        from qa.answer.reader import Reader

        answerer.reader = Reader(args.reader, int8=args.reader_int8)
    shipped = spans.weights
    answerer.ask("warm up the caches")
    rows = []
    for q in questions:
        if folds:
            rerank, sentence, gate, short = folds[fold_of[q.id]]
            answerer.retriever.reranker.weights, answerer.weights, answerer.gate = rerank, sentence, gate
            answerer.short_weights = short
        if gates:
            answerer.gate = gates[fold_of[q.id]]
        if spans_of:
            spans.weights = lambda w=spans_of[q.id]: w  # type: ignore[misc]
        if readers:
            answerer.reader = readers[fold_of[q.id]]
        q = replace(q, source_articles=tuple(canonical.get(a, a) for a in q.source_articles))
        rows.append(score(q, answerer.ask(q.question, retrieve_k=RETRIEVE_K, as_of=q.asked_at), texts, dates=dates))
    spans.weights = shipped  # type: ignore[assignment]
    summary = summarize(rows)
    more = details(rows, 1.0)
    return {
        "set": args.set,
        "cross_validated": {
            "weights": args.cv,
            "gate": args.cv or args.gate_cv,
            "spans": args.span_cv,
            "reader": args.reader_cv,
        },
        "reader": not args.no_reader,
        "reader_weights": str(args.reader or "shipped"),
        "reader_int8": args.reader_int8,
        "backend": answerer.settings.backend,
        "half": args.half,
        "read_passages": answerer.settings.read_passages,
        "read_sure": answerer.settings.read_sure,
        **{k: summary[k] for k in ("n", "retrieval", "answer", "citation", "latency_ms")},
        "answerable_refused": more["answerable_refused"],
        "latency_by_stage_ms": more["latency_by_stage_ms"],
        "by_time": more["by_time"],
        "questions": [r.to_dict() for r in rows],
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--set", default="squad-dev16", choices=("squad-dev16", "realtimeqa-dev"))
    ap.add_argument("--limit", type=int)
    ap.add_argument("--cv", action="store_true", help="weights fitted on the other half of both sets")
    ap.add_argument("--gate-cv", action="store_true", help="only the gate fitted on the other half of both sets")
    ap.add_argument("--span-cv", action="store_true", help="short answers by the fold models that held each out")
    ap.add_argument("--reader-cv", action="store_true", help="read each question by the fold reader of its half")
    ap.add_argument("--no-reader", action="store_true", help="the answerer without the reader")
    ap.add_argument("--backend", choices=BACKENDS, help="the embedder's backend for questions and sentences")
    add_reader_int8(ap)
    ap.add_argument("--read-passages", type=int, help="passages the reader reads (default: QA_READ_PASSAGES's)")
    ap.add_argument("--read-sure", type=float, help="QA_READ_SURE: the best passage alone when this sure (0: never)")
    ap.add_argument("--half", type=int, choices=(0, 1), help="only the questions of this half")
    ap.add_argument("--reader", type=Path, help="read by this reader instead of the shipped one")
    ap.add_argument("--out", type=Path)
    args = ap.parse_args()
    results = run(args)
    shown = {k: v for k, v in results.items() if k != "questions"}
    print(json.dumps(shown, indent=1), flush=True)
    out = args.out or RESULTS / f"answers_{args.set}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
