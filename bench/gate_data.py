"""Dump the refusal gate's signals with labelled unanswerable questions (bench/answers.py --calibrate's setup).

    python bench/gate_data.py [--limit 1500]

Half of squad-dev16's articles are indexed; questions about the other half have no answer in the index.
For each question and each half: support, the best sentence's features and score, whether answerable.
Writes bench/results/gate_data.pkl.
"""

from __future__ import annotations

import argparse
import json
import pickle
import random
import shutil
import tempfile
from pathlib import Path

import numpy as np

from bench.answers import ROOT, SQUAD, answerer_for


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--limit", type=int, default=1500)
    args = ap.parse_args()
    questions = [json.loads(x) for x in (SQUAD / "questions.jsonl").read_text().splitlines() if x.strip()]
    questions = random.Random(7).sample(questions, args.limit)
    articles = sorted(p.name for p in (SQUAD / "articles").glob("*.txt"))
    out = []
    with tempfile.TemporaryDirectory() as tmp:
        for half, inside in enumerate((articles[0::2], articles[1::2])):
            folder = Path(tmp) / f"half-{half}"
            folder.mkdir()
            for name in inside:
                shutil.copy(SQUAD / "articles" / name, folder / name)
            answerer = answerer_for(folder, Path(tmp))
            for q in questions:
                found = answerer.retriever.search(q["question"], 5)
                _, feats = answerer.sentence_features(found)
                scores = feats @ answerer.weights.vector()
                best = int(np.argmax(scores)) if len(scores) else -1
                out.append(
                    {
                        "half": half,
                        "question": q["question"],
                        "answerable": q["source_articles"][0] in inside,
                        "support": answerer.support(found),
                        "best": feats[best] if best >= 0 else np.zeros(feats.shape[1]),
                        "score": float(scores[best]) if best >= 0 else 0.0,
                        "passage": found.passages[0].score if found.passages else 0.0,
                    }
                )
            print(f"half {half} done", flush=True)
    (ROOT / "bench/results/gate_data.pkl").write_bytes(pickle.dumps(out))


if __name__ == "__main__":
    main()
