"""Answer quality and `ask` latency on squad-dev16, every learned part cross-validated by article.

    python -m bench.answers [--limit N] [--span-cv] [--reader-cv] [--no-reader]

Indexes the 16 articles and asks every question (warm), as `qa ask` does; reports EM/F1 of short_answer (else
answer), sentence accuracy (the first cited quote holds a gold answer), how often a question was refused, and ask
latency p50/p95. The shipped models were fitted on these very questions, so:
--span-cv    each question's fallback short answer comes from the span model of the fold that held its article out
             (`python -m train.span --save` writes them);
--reader-cv  each question is read by the fold reader that held its article out (`python -m train.reader train
             --fold 0|1`), with the sentence weights fitted on that fold's other half (`python -m train.sentences`).
Writes bench/results/answers.json.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from bench.common import RESULTS, data_dir, questions
from qa.answer import spans
from qa.answer.answerer import Answerer
from qa.eval.metrics import contains_answer, exact_match, f1
from train.common import fold_readers, fold_span_weights, open_qa


def quality(
    answerer: Answerer, qs: list[dict[str, Any]], squad: Path, span_cv: bool = False, reader_cv: bool = False
) -> dict[str, Any]:
    from train.sentences import fold_sentence_weights

    em, f, sent, refused, times = [], [], [], 0, []
    folds = fold_span_weights() if span_cv else {}
    readers = fold_readers(squad) if reader_cv else {}
    weights = fold_sentence_weights() if reader_cv else {}
    shipped = spans.weights
    for q in qs:
        article = q["source_articles"][0]
        if span_cv:  # the question's article was held out of the short-answer model that answers it
            spans.weights = lambda w=folds[article]: w  # type: ignore[misc]
        if reader_cv:  # and of the reader that reads it, and of the sentence weights
            answerer.reader = readers[article]
            answerer.weights = weights[article]
        t0 = time.perf_counter()
        a = answerer.ask(q["question"])
        times.append((time.perf_counter() - t0) * 1000)
        refused += a.refused
        pred = a.short if a.short is not None else a.text
        em.append(exact_match(pred, q["answers"]) if not a.refused else 0.0)
        f.append(f1(pred, q["answers"]) if not a.refused else 0.0)
        sent.append(bool(a.citations) and contains_answer(a.citations[0].quote, q["answers"]))
    spans.weights = shipped  # type: ignore[assignment]
    return {
        "n": len(qs),
        "exact_match": float(np.mean(em)),
        "f1": float(np.mean(f)),
        "sentence_accuracy": float(np.mean(sent)),
        "refused": refused / len(qs),
        "p50_ms": statistics.median(times),
        "p95_ms": float(np.percentile(times, 95)),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--limit", type=int)
    ap.add_argument("--span-cv", action="store_true", help="short answers by the fold models that held each out")
    ap.add_argument("--reader-cv", action="store_true", help="read by the fold readers that held each article out")
    ap.add_argument("--no-reader", action="store_true", help="the answerer without the reader")
    ap.add_argument("--out", type=Path, default=RESULTS / "answers.json")
    args = ap.parse_args()
    squad = data_dir("squad-dev16")
    qs = questions(squad)
    if args.limit:
        qs = random.Random(7).sample(qs, args.limit)
    with tempfile.TemporaryDirectory() as tmp:
        answerer = open_qa(squad / "articles", Path(tmp) / "index", reader=not args.no_reader).answerer
        answerer.ask("warm up the caches")
        results = {"quality": quality(answerer, qs, squad, args.span_cv, args.reader_cv)}
    print(json.dumps(results["quality"]), flush=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
