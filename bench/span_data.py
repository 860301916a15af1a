"""Dump, for every squad-dev16 question, the answerer's candidate sentences (features, score, gold flag).

    python bench/span_data.py [--limit N] [--reader-cv]

--reader-cv: each question read by the reader of the fold that held its article out (bench/train_reader.py), so
the sentences' reader feature is what an unseen article gets.

Writes bench/results/span_data.pkl, which bench/train_span.py learns from.
"""

from __future__ import annotations

import argparse
import json
import pickle
import random
import tempfile
from pathlib import Path

import numpy as np

from bench.answers import ROOT, SQUAD, answerer_for, fold_readers
from qa.evaluate import contains_answer


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--limit", type=int)
    ap.add_argument("--reader-cv", action="store_true")
    ap.add_argument("--out", type=Path, default=ROOT / "bench/results/span_data.pkl")
    args = ap.parse_args()
    questions = [json.loads(x) for x in (SQUAD / "questions.jsonl").read_text().splitlines() if x.strip()]
    if args.limit:
        questions = random.Random(7).sample(questions, args.limit)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        answerer = answerer_for(SQUAD / "articles", Path(tmp))
        readers = fold_readers() if args.reader_cv else {}
        for n, q in enumerate(questions):
            found = answerer.retriever.search(q["question"], 5)
            answerer.reader = readers.get(q["source_articles"][0])
            sentences, feats = answerer.sentence_features(found, answerer.read(found))
            scores = feats @ answerer.weights.vector()
            rows.append(
                {
                    "id": q["id"],
                    "question": q["question"],
                    "answers": q["answers"],
                    "source": q["source_articles"][0],
                    "support": answerer.support(found),
                    "sentences": [(s.article, s.start, s.end, s.text, s.passage_rank, s.span) for s in sentences],
                    "feats": feats,
                    "scores": scores,
                    "gold": np.array(
                        [s.article in q["source_articles"] and contains_answer(s.text, q["answers"]) for s in sentences]
                    ),
                }
            )
            if n % 500 == 0:
                print(n, flush=True)
    args.out.write_bytes(pickle.dumps(rows))


if __name__ == "__main__":
    main()
