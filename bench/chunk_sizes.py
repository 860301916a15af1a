"""Choose the chunk size by measurement: dense hit@k on squad-dev16 for several sizes.

    python -m bench.chunk_sizes [--articles DIR] [--questions FILE] [--sizes 400,600,800,1000,1200]

Builds one index per size (in a temporary folder), runs every question through dense retrieval, prints a
table and writes bench/results/chunk_sizes.json. Overlap is 20% of the size.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np

from bench.common import RESULTS, data_dir
from qa.config import Settings
from qa.embed.embedder import load_embedder
from qa.eval.metrics import first_hit, retrieval_metrics
from qa.index.build import build
from qa.index.store import Index


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--articles", type=Path, help="default: squad-dev16's")
    ap.add_argument("--questions", type=Path, help="default: squad-dev16's")
    ap.add_argument("--sizes", default="400,600,800,1000,1200")
    ap.add_argument("--out", type=Path, default=RESULTS / "chunk_sizes.json")
    args = ap.parse_args()
    if args.articles is None or args.questions is None:
        squad = data_dir("squad-dev16")
        args.articles = args.articles or squad / "articles"
        args.questions = args.questions or squad / "questions.jsonl"

    questions = [json.loads(line) for line in args.questions.read_text().splitlines() if line.strip()]
    questions = [q for q in questions if q["answers"]]
    embedder = load_embedder()
    qvecs = embedder.embed_queries([q["question"] for q in questions])
    rows = []
    for size in (int(s) for s in args.sizes.split(",")):
        with tempfile.TemporaryDirectory() as tmp:
            settings = Settings(index=Path(tmp), articles=args.articles, chunk_size=size, chunk_overlap=size // 5)
            t0 = time.perf_counter()
            report = build(settings, embedder=embedder)
            build_s = time.perf_counter() - t0
            index = Index.load(settings.index)
            scores, found = index.faiss.search(qvecs, 10)
            ranks = []
            for q, row_ids, row_scores in zip(questions, found, scores, strict=True):
                passages = [
                    index.passage(r, float(s), n) for n, (r, s) in enumerate(zip(row_ids, row_scores, strict=True), 1)
                ]
                ranks.append(first_hit(passages, q["answers"], q["source_articles"]))
            m = retrieval_metrics(ranks)
            lengths = np.array([len(c.text) for c in index.chunks])
            rows.append(
                {
                    "size": size,
                    "overlap": size // 5,
                    "chunks": report.chunks,
                    "mean_chars": float(lengths.mean()),
                    "build_s": round(build_s, 1),
                    **{k: round(v, 4) for k, v in m.items()},
                }
            )
            print(json.dumps(rows[-1]), flush=True)
    print(f"\n{len(questions)} questions, dense retrieval only (all-MiniLM-L6-v2)\n")
    print("| size | overlap | chunks | mean chars | hit@1 | hit@5 | hit@10 | MRR@10 |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        print(
            f"| {r['size']} | {r['overlap']} | {r['chunks']} | {r['mean_chars']:.0f} | {r['hit@1']:.3f} | "
            f"{r['hit@5']:.3f} | {r['hit@10']:.3f} | {r['mrr@10']:.3f} |"
        )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
