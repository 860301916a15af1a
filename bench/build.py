"""Index-build benchmark: where the time goes, and whether adding one article stays cheap as the index grows.

    python -m bench.build [--large 2000] [--repeat 3]

1. squad-dev16 (16 articles): the model's forward pass alone over exactly the texts a build embeds,
   against the whole pipeline (ingest, chunk, embed, write) with the same loaded model, measured
   alternately `--repeat` times; the best of each is compared. Goal: pipeline / forward <= 1.15.
   Also the CLI end to end (`qa index build` in a new process: imports and model load included).
2. Adding one article (~2,100 characters) to an index of 50 and of `--large` synthetic articles
   (bench/corpus.py), median of `--repeat` adds each. Goal: the two within 1.5x of each other.

Prints a table and writes bench/results/build.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.common import RESULTS
from bench.corpus import squad_articles, write_corpus
from qa.config import Settings
from qa.embed.embedder import load_embedder
from qa.index.build import build, embed_text
from qa.ingest.chunk import chunk_article
from qa.ingest.read import read_file
from qa.ingest.scan import list_files


def forward_only(settings: Settings) -> tuple[float, int]:
    """Model time alone: embed exactly the texts a build would, with nothing else around it."""
    files, _ = list_files(settings.articles)
    articles = [a for rel, path in files for a in read_file(rel, path).articles]
    texts = [
        embed_text(a, c.text) for a in articles for c in chunk_article(a, settings.chunk_size, settings.chunk_overlap)
    ]
    embedder = load_embedder(settings.model, settings.batch_size)
    t0 = time.perf_counter()
    embedder.embed_documents(texts)
    return time.perf_counter() - t0, len(texts)


def pipeline(settings: Settings) -> float:
    shutil.rmtree(settings.index, ignore_errors=True)
    t0 = time.perf_counter()
    build(settings, embedder=load_embedder(settings.model, settings.batch_size))
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--large", type=int, default=2000)
    ap.add_argument("--repeat", type=int, default=3, help="forward/pipeline runs to compare")
    ap.add_argument("--adds", type=int, default=5, help="articles added one at a time to each index")
    ap.add_argument("--parts", default="squad,add", help="which parts to run: squad, add")
    ap.add_argument("--out", type=Path, default=RESULTS / "build.json")
    args = ap.parse_args()
    results: dict[str, Any] = {
        "table": [],
        "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}",
    }
    load_embedder().embed_documents(["warm up the model"] * 64)

    if "squad" in args.parts:
        squad_build(args, results)
    if "add" in args.parts:
        add_one_article(args, results)
    print(f"\nmachine: {results['machine']}\n")
    print("| measure | figure | goal |\n|---|---:|---:|")
    for row in results["table"]:
        print(row)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=1))


def squad_build(args: argparse.Namespace, results: dict[str, Any]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(index=Path(tmp) / "index", articles=squad_articles())
        fwd, pipe = [], []
        for _ in range(args.repeat):
            seconds, n_chunks = forward_only(settings)
            fwd.append(seconds)
            pipe.append(pipeline(settings))
        t0 = time.perf_counter()
        subprocess.run(
            [
                sys.executable,
                "-m",
                "qa.cli",
                "index",
                "build",
                "--rebuild",
                "--articles",
                str(squad_articles()),
                "--index",
                str(settings.index),
            ],
            check=True,
            capture_output=True,
        )
        cli = time.perf_counter() - t0
    results["squad_build"] = {
        "chunks": n_chunks,
        "forward_s": fwd,
        "pipeline_s": pipe,
        "cli_s": round(cli, 2),
        "ratio": round(min(pipe) / min(fwd), 3),
        "chunks_per_s": round(n_chunks / min(pipe), 1),
    }
    print(json.dumps(results["squad_build"]), flush=True)

    sb = results["squad_build"]
    results["table"] += [
        f"| squad-dev16 model forward alone ({n_chunks} chunks, best of {args.repeat}) | {min(fwd):.1f} s | |",
        f"| squad-dev16 whole pipeline, model loaded (best of {args.repeat}) | {min(pipe):.1f} s | |",
        f"| pipeline / forward | {sb['ratio']:.3f} | <= 1.15 |",
        f"| `qa index build` in a new process (imports + model load) | {cli:.1f} s | |",
    ]


def add_one_article(args: argparse.Namespace, results: dict[str, Any]) -> None:
    """Build both indexes, then add the same articles one at a time to each, alternately (same drift for both)."""
    embedder = load_embedder()
    sizes = (50, args.large)
    with tempfile.TemporaryDirectory() as tmp:
        extra = write_corpus(Path(tmp) / "extra", args.adds, skip=args.large)
        settings, base = {}, {}
        for size in sizes:
            settings[size] = Settings(index=Path(tmp) / f"i{size}", articles=Path(tmp) / f"c{size}")
            write_corpus(settings[size].articles, size)
            t0 = time.perf_counter()
            base[size] = build(settings[size], embedder=embedder, progress=True).chunks
            print(f"built {size} articles, {base[size]} chunks in {time.perf_counter() - t0:.0f}s", flush=True)
        times: dict[int, list[float]] = {size: [] for size in sizes}
        noop: dict[int, float] = {}
        for path in extra:
            for size in sizes:
                shutil.copy(path, settings[size].articles / path.name)
                t0 = time.perf_counter()
                report = build(settings[size], embedder=embedder)
                times[size].append(time.perf_counter() - t0)
                assert report.added == [path.name], report.added
        for size in sizes:
            t0 = time.perf_counter()
            assert build(settings[size], embedder=embedder).up_to_date
            noop[size] = time.perf_counter() - t0
    adds = {
        size: {
            "chunks": base[size],
            "add_s": [round(t, 3) for t in times[size]],
            "median_s": statistics.median(times[size]),
            "noop_s": round(noop[size], 4),
        }
        for size in sizes
    }
    print(json.dumps(adds), flush=True)
    ratio = adds[args.large]["median_s"] / adds[50]["median_s"]
    results["add_one"] = {**{str(k): v for k, v in adds.items()}, "ratio": round(ratio, 3)}
    results["table"] += [
        f"| add one article to 50 articles (median of {args.adds}) | {adds[50]['median_s']:.3f} s | |",
        f"| add one article to {args.large} articles (median of {args.adds}) | {adds[args.large]['median_s']:.3f} s |"
        " |",
        f"| ratio {args.large} / 50 | {ratio:.2f} | <= 1.5 |",
        f"| no-op build (nothing changed) at 50 / {args.large} articles | {noop[50] * 1000:.0f} / "
        f"{noop[args.large] * 1000:.0f} ms | |",
    ]


if __name__ == "__main__":
    main()
