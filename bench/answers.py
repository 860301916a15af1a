"""Answer quality, refusal calibration and `ask` latency on squad-dev16.

    python bench/answers.py [--limit N] [--calibrate]

1. Index all 16 articles; ask every question (warm); report EM/F1 of short_answer (else answer),
   sentence_accuracy (the first cited quote holds a gold answer), how often a question was refused, and
   ask latency p50/p95.
2. --calibrate: the refusal gate's threshold (on Answer.confidence). Index 8 articles; the questions of
   the other 8 have no answer in the index (labelled unanswerable), those of the 8 are answerable. The
   threshold is chosen on one half of the articles and its refusal precision/recall reported on the
   other (then the halves swap).
Writes bench/results/answers.json.
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from qa.answer import Answerer
from qa.build import build
from qa.config import Settings
from qa.embed import load_embedder
from qa.evaluate import contains_answer, exact_match, f1
from qa.retrieve import Retriever
from qa.store import Index

ROOT = Path(__file__).resolve().parent.parent
SQUAD = ROOT / "eval" / "squad-dev16"


def answerer_for(folder: Path, tmp: Path) -> Answerer:
    settings = Settings(index=tmp / f"index-{folder.name}", articles=folder)
    build(settings, embedder=load_embedder())
    return Answerer(Retriever(Index.load(settings.index), load_embedder(), settings))


def fold_weights() -> dict[str, np.ndarray]:
    """Article -> the short-answer weights of the cross-validation fold that held it out (bench/train_span.py)."""
    from qa import spans

    out = {}
    for path in sorted((ROOT / "bench/results").glob("span_fold*.npz")):
        with np.load(path) as z:
            w = np.zeros(spans.DIM, dtype=np.float32)
            w[z["index"]] = z["value"]
            out.update({a: w for a in z["held"]})
    return out


def fold_readers() -> dict[str, Any]:
    """Article -> the reader of the cross-validation fold that held it out (bench/train_reader.py train --fold)."""
    from qa.reader import Reader

    articles = sorted(p.name for p in (SQUAD / "articles").glob("*.txt"))
    out = {}
    for path in sorted((ROOT / "bench/results").glob("reader_fold*.npz")):
        with np.load(path) as z:
            trained_on = set(json.loads(str(z["info"]))["trained_on"])
        reader = Reader(path)
        out.update({a: reader for a in articles if a not in trained_on})
    if len(out) < len(articles):
        raise SystemExit("run bench/train_reader.py train --fold 0 and --fold 1 first")
    return out


def fold_sentence_weights() -> dict[str, Any]:
    """Article -> sentence weights fitted on the other half of the articles (bench/span_data.py --reader-cv's
    rows, bench/train_span.py's fit; the same halves as the readers')."""
    import pickle

    from bench.train_span import fold_fits, sentence_groups
    from qa.answer import SentenceWeights

    groups = sentence_groups(pickle.loads((ROOT / "bench/results/span_data_reader.pkl").read_bytes()))
    return {a: SentenceWeights(*(w / w[0])) for held, w in fold_fits(groups, 2) for a in held}


def quality(
    answerer: Answerer, questions: list[dict[str, Any]], span_cv: bool = False, reader_cv: bool = False
) -> dict[str, Any]:
    from qa import spans

    em, f, sent, refused, times = [], [], [], 0, []
    folds = fold_weights() if span_cv else {}
    readers = fold_readers() if reader_cv else {}
    weights = fold_sentence_weights() if reader_cv else {}
    shipped = spans.weights
    for q in questions:
        if span_cv:  # the question's article was held out of the short-answer model that answers it
            spans.weights = lambda w=folds[q["source_articles"][0]]: w  # type: ignore[misc]
        if reader_cv:  # and of the reader that reads it, and of the sentence weights
            answerer.reader = readers[q["source_articles"][0]]
            answerer.weights = weights[q["source_articles"][0]]
        t0 = time.perf_counter()
        a = answerer.ask(q["question"])
        times.append((time.perf_counter() - t0) * 1000)
        refused += a.refused
        pred = a.short if a.short is not None else a.text
        em.append(exact_match(pred, q["answers"]) if not a.refused else 0.0)
        f.append(f1(pred, q["answers"]) if not a.refused else 0.0)
        sent.append(bool(a.citations) and contains_answer(a.citations[0].quote, q["answers"]))
    spans.weights = shipped
    return {
        "n": len(questions),
        "exact_match": float(np.mean(em)),
        "f1": float(np.mean(f)),
        "sentence_accuracy": float(np.mean(sent)),
        "refused": refused / len(questions),
        "short_given": None,
        "p50_ms": statistics.median(times),
        "p95_ms": float(np.percentile(times, 95)),
    }


def calibrate(questions: list[dict[str, Any]], tmp: Path) -> dict[str, Any]:
    articles = sorted(p.name for p in (SQUAD / "articles").glob("*.txt"))
    halves = [articles[0::2], articles[1::2]]
    scored: list[list[tuple[float, bool]]] = []
    for inside in halves:
        folder = tmp / f"half-{len(scored)}"
        folder.mkdir()
        for name in inside:
            shutil.copy(SQUAD / "articles" / name, folder / name)
        answerer = answerer_for(folder, tmp)
        answerer.threshold = -1e9  # score everything, refuse nothing
        rows = []
        for q in questions:
            a = answerer.ask(q["question"])
            rows.append((a.confidence, q["source_articles"][0] in inside))
        scored.append(rows)
        print(f"scored {len(rows)} questions with {len(inside)} articles indexed", flush=True)
    out: dict[str, Any] = {"folds": []}
    for train, test in ((scored[0], scored[1]), (scored[1], scored[0])):
        t = best_threshold(train)
        out["folds"].append({"threshold": t, **refusal_metrics(test, t)})
    out["threshold"] = best_threshold(scored[0] + scored[1])
    out["all"] = refusal_metrics(scored[0] + scored[1], out["threshold"])
    print(json.dumps(out), flush=True)
    return out


def refusal_metrics(rows: list[tuple[float, bool]], threshold: float) -> dict[str, float]:
    refused = [(s < threshold, answerable) for s, answerable in rows]
    tp = sum(1 for r, ans in refused if r and not ans)
    precision = tp / max(1, sum(1 for r, _ in refused if r))
    recall = tp / max(1, sum(1 for _, ans in refused if not ans))
    wrongly = sum(1 for r, ans in refused if r and ans) / max(1, sum(1 for _, ans in refused if ans))
    return {"precision": precision, "recall": recall, "answerable_refused": wrongly}


def best_threshold(rows: list[tuple[float, bool]]) -> float:
    """The threshold with the best F1 of refusing unanswerable questions."""
    candidates = sorted({round(s, 3) for s, _ in rows})

    def f(t: float) -> float:
        m = refusal_metrics(rows, t)
        return 2 * m["precision"] * m["recall"] / ((m["precision"] + m["recall"]) or 1)

    return max(candidates, key=f)


def tune_sentences(answerer: Answerer, questions: list[dict[str, Any]]) -> dict[str, Any]:
    """Sentence weights by grid search on cached features; 2-fold by article for an honest figure."""
    import itertools

    cached = []
    for q in questions:
        sentences, feats = answerer.sentence_features(answerer.retriever.search(q["question"], 5))
        ok = np.array([s.article in q["source_articles"] and contains_answer(s.text, q["answers"]) for s in sentences])
        cached.append((feats, ok, q["source_articles"][0]))
    grid = [
        np.array(w, dtype=np.float32)
        for w in itertools.product((1.0,), (0, 0.25, 0.5, 1), (0.5, 1, 2, 3), (0, 0.15, 0.3, 0.6), (0, 0.1, 0.2, 0.4))
    ]

    def accuracy(rows: list[tuple[np.ndarray, np.ndarray, str]], w: np.ndarray) -> float:
        return float(np.mean([len(ok) > 0 and bool(ok[int(np.argmax(f @ w))]) for f, ok, _ in rows]))

    articles = sorted({a for _, _, a in cached})
    halves = [set(articles[0::2]), set(articles[1::2])]
    held = []
    for train, test in (halves, halves[::-1]):
        best = max(grid, key=lambda w: accuracy([c for c in cached if c[2] in train], w))
        held.append(
            (
                best.tolist(),
                accuracy([c for c in cached if c[2] in test], best),
                len([c for c in cached if c[2] in test]),
            )
        )
    best_all = max(grid, key=lambda w: accuracy(cached, w))
    out = {
        "folds": held,
        "cross_validated": sum(a * n for _, a, n in held) / sum(n for _, _, n in held),
        "weights": best_all.tolist(),
        "fit_on_all": accuracy(cached, best_all),
        "current": accuracy(cached, answerer.weights.vector()),
    }
    print(json.dumps(out), flush=True)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--limit", type=int)
    ap.add_argument("--calibrate", action="store_true")
    ap.add_argument("--tune", action="store_true", help="choose the sentence weights")
    ap.add_argument("--span-cv", action="store_true", help="short answers by the fold models that held each out")
    ap.add_argument("--reader-cv", action="store_true", help="read by the fold readers that held each article out")
    ap.add_argument("--no-reader", action="store_true", help="the answerer without the reader")
    ap.add_argument("--out", type=Path, default=ROOT / "bench/results/answers.json")
    args = ap.parse_args()
    questions = [json.loads(line) for line in (SQUAD / "questions.jsonl").read_text().splitlines() if line.strip()]
    if args.limit:
        questions = random.Random(7).sample(questions, args.limit)
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp:
        if args.calibrate:
            results["calibration"] = calibrate(questions, Path(tmp))
        answerer = answerer_for(SQUAD / "articles", Path(tmp))
        if args.tune:
            results["sentence_tuning"] = tune_sentences(answerer, questions)
            from qa.answer import SentenceWeights

            answerer.weights = SentenceWeights(*results["sentence_tuning"]["weights"])
        if args.calibrate:
            answerer.threshold = results["calibration"]["threshold"]
        answerer.ask("warm up the caches")
        if args.no_reader:
            answerer.reader = None
        results["quality"] = quality(answerer, questions, args.span_cv, args.reader_cv)
    print(json.dumps(results["quality"]), flush=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
