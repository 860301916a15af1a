"""Retrieval quality and speed on squad-dev16: dense alone, BM25 alone, fused, fused + second stage.

    python -m bench.retrieval [--articles DIR] [--questions FILE] [--limit N]

Indexes the articles (in a temporary folder), runs every question through each mode, prints a table of
hit@1/5/10 and MRR@10 and the warm search latency, and writes bench/results/retrieval.json.
The second stage's weights and the fusion constant are fitted by `python -m train.rerank`.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from bench.common import RESULTS, data_dir
from qa.config import Settings
from qa.embed.embedder import load_embedder
from qa.eval.metrics import first_hit, retrieval_metrics
from qa.index.build import build
from qa.pipeline import QA
from qa.search.retrieve import Retriever

MODES = ("dense", "bm25", "fused", "hybrid")


def load_questions(path: Path, limit: int | None) -> list[dict[str, Any]]:
    qs = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    qs = [q for q in qs if q["answers"]]
    return qs[:limit] if limit else qs


def run_mode(retriever: Retriever, questions: list[dict[str, Any]], mode: str) -> tuple[list[int | None], list[float]]:
    ranks, times = [], []
    for q in questions:
        t0 = time.perf_counter()
        result = retriever.search(q["question"], 10, mode=mode)  # type: ignore[arg-type]
        times.append((time.perf_counter() - t0) * 1000)
        ranks.append(first_hit(result.passages, q["answers"], q["source_articles"]))
    return ranks, times


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--articles", type=Path, help="default: squad-dev16's")
    ap.add_argument("--questions", type=Path, help="default: squad-dev16's")
    ap.add_argument("--limit", type=int)
    ap.add_argument("--out", type=Path, default=RESULTS / "retrieval.json")
    args = ap.parse_args()
    if args.articles is None or args.questions is None:
        squad = data_dir("squad-dev16")
        args.articles = args.articles or squad / "articles"
        args.questions = args.questions or squad / "questions.jsonl"
    questions = load_questions(args.questions, args.limit)
    embedder = load_embedder()
    results: dict[str, Any] = {"questions": len(questions)}
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(index=Path(tmp), articles=args.articles)
        build(settings, embedder=embedder)
        retriever = QA.open(settings, embedder=embedder).retriever
        retriever.search("warm up", 5)
        for mode in MODES:
            ranks, times = run_mode(retriever, questions, mode)
            results[mode] = {
                **retrieval_metrics(ranks),
                "p50_ms": statistics.median(times),
                "p95_ms": float(np.percentile(times, 95)),
            }
            print(mode, json.dumps(results[mode]), flush=True)
    names = {
        "dense": "dense (FAISS, MiniLM)",
        "bm25": "BM25 (bm25s)",
        "fused": "fused (RRF)",
        "hybrid": "fused + second stage",
    }
    print(f"\n{len(questions)} questions, {args.articles}\n")
    print("| retriever | hit@1 | hit@5 | hit@10 | MRR@10 | p50 ms | p95 ms |\n|---|---:|---:|---:|---:|---:|---:|")
    for mode in MODES:
        r = results[mode]
        print(
            f"| {names[mode]} | {r['hit@1']:.3f} | {r['hit@5']:.3f} | {r['hit@10']:.3f} | {r['mrr@10']:.3f} | "
            f"{r['p50_ms']:.1f} | {r['p95_ms']:.1f} |"
        )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
