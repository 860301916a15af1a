"""Retrieval quality and speed: dense alone, BM25 alone, fused, fused + second stage.

    python -m bench.retrieval [--set squad-dev16|realtimeqa-dev] [--limit N]
    python -m bench.retrieval --articles DIR --questions FILE [--limit N]

Indexes the set's articles (bench/results/work/<set>, kept between runs; given folders: a temporary one), runs
every answerable question through each mode (a question with `asked_at` searched on that day, as `qa eval` does),
prints a table of hit@1/5/10 and MRR@10 and the warm search latency, and writes bench/results/retrieval_<set>.json.
The second stage's weights and the fusion constant are fitted on both sets by `python -m train.rerank`; their
held-out figures are in its report.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import statistics
import tempfile
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from bench.common import RESULTS, data_dir
from qa.config import Settings
from qa.embed.embedder import load_embedder
from qa.eval.metrics import first_hit, retrieval_metrics
from qa.eval.questions import EvalQuestion, load_questions
from qa.index.build import build
from qa.pipeline import QA
from qa.search.retrieve import Retriever
from train.common import open_set

MODES = ("dense", "bm25", "fused", "hybrid")


def answerable(path: Path, limit: int | None) -> list[EvalQuestion]:
    qs = [q for q in load_questions(path) if q.answerable]
    return qs[:limit] if limit else qs


def run_mode(retriever: Retriever, questions: list[EvalQuestion], mode: str) -> tuple[list[int | None], list[float]]:
    ranks, times = [], []
    for q in questions:
        t0 = time.perf_counter()
        result = retriever.search(q.question, 10, mode=mode, as_of=q.asked_at)  # type: ignore[arg-type]
        times.append((time.perf_counter() - t0) * 1000)
        ranks.append(first_hit(result.passages, list(q.answers), list(q.source_articles)))
    return ranks, times


@contextlib.contextmanager
def opened(args: argparse.Namespace) -> Iterator[QA]:
    """The set's kept index, or the given articles built into a temporary folder."""
    if args.articles is None:
        yield open_set(args.set)
        return
    embedder = load_embedder()
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(index=Path(tmp), articles=args.articles)
        build(settings, embedder=embedder)
        yield QA.open(settings, embedder=embedder)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--set", default="squad-dev16", choices=("squad-dev16", "realtimeqa-dev"))
    ap.add_argument("--articles", type=Path, help="instead of the set: these articles (with --questions)")
    ap.add_argument("--questions", type=Path)
    ap.add_argument("--limit", type=int)
    ap.add_argument("--out", type=Path)
    args = ap.parse_args()
    if (args.articles is None) != (args.questions is None):
        raise SystemExit("error: --articles and --questions go together: give both, or neither for --set")
    questions = answerable(args.questions or data_dir(args.set) / "questions.jsonl", args.limit)
    name = args.set if args.articles is None else args.articles.name
    results: dict[str, Any] = {"set": name, "questions": len(questions)}
    with opened(args) as qa:
        # the eval's sources are named as the index names them (a page fetched twice is one article)
        canonical = qa.index.manifest.aliases()
        questions = [
            replace(q, source_articles=tuple(canonical.get(a, a) for a in q.source_articles)) for q in questions
        ]
        retriever = qa.retriever
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
    print(f"\n{len(questions)} questions, {name}\n")
    print("| retriever | hit@1 | hit@5 | hit@10 | MRR@10 | p50 ms | p95 ms |\n|---|---:|---:|---:|---:|---:|---:|")
    for mode in MODES:
        r = results[mode]
        print(
            f"| {names[mode]} | {r['hit@1']:.3f} | {r['hit@5']:.3f} | {r['hit@10']:.3f} | {r['mrr@10']:.3f} | "
            f"{r['p50_ms']:.1f} | {r['p95_ms']:.1f} |"
        )
    out = args.out or RESULTS / f"retrieval_{name}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
