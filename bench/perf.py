"""qa's speed, side by side with the plain LangChain pipeline, in one run on one machine.

    python -m bench.perf [--parts backends,build,limit,add,latency,scale] [--quick] [--out FILE]

Prints a table and writes bench/results/perf.json (after every part, so a long run keeps what it measured).
Every figure compared is measured in this run, on this machine, one after the other; --quick is a smoke run
(fewer questions, a 400-article corpus, 50,000 vectors).

backends  The embedding model's forward time alone on squad-dev16's 706 chunk texts with torch, onnx and
          onnx-int8 (alternated, best of --repeat), their vectors' cosine to torch's, and hit@5 (dense alone,
          and qa's default hybrid search) of an index built with each. Then onnx's batch size and threads swept.
build     Index build of squad-dev16 (16 articles) and of a ~5,000-article corpus (bench/corpus.py: windows of
          2-8 paragraphs): qa (`qa index build`) against the plain LangChain pipeline a user would write --
          DirectoryLoader(TextLoader) -> RecursiveCharacterTextSplitter(chunk_size=1000, chunk_overlap=200) ->
          HuggingFaceEmbeddings(the same packaged MiniLM, offline) -> FAISS.from_documents -> save_local. Each
          build runs in a new process: wall time (imports and model load included), chunks, chunks/s, peak RSS
          (the process's VmHWM). hit@5 of each on squad-dev16's 4,306 questions (LangChain: similarity_search).
limit     The model's forward time alone against the whole build (model loaded), on the same chunk texts:
          squad-dev16 alternated, best of --repeat; the large corpus once each, in one process.
add       Adding one article to an index of 50 and of 2,000 articles (bench/build.py: medians, interleaved).
latency   search and ask p50/p95, warm, over squad-dev16 questions; cold start: `python app.py` launched until its
          first answer arrives (gradio_client), and `qa ask` in a new process.
scale     1M synthetic clustered 384-d unit vectors (bench/corpus.py): flat FAISS against qa's approximate index
          (qa/ann.py, QA_DENSE=hnsw): build time, single-query search p50, RAM (peak RSS of a process that loads
          the index file and searches it), recall@10 against flat over 1,000 queries.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.common import RESULTS
from bench.corpus import LARGE_SIZES, squad_articles, write_corpus
from bench.perf_parts import (
    Row,
    child,
    eval_qa,
    latency,
    limit_squad,
    load_questions,
    run_child,
    scale,
    sweep_onnx,
)

PARTS = ("backends", "build", "limit", "add", "latency", "scale")


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    with contextlib.suppress(OSError, StopIteration):
        cpu = next(
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        )
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return f"{cpu}, {os.cpu_count()} cores, {mem:.0f} GiB, Linux, Python {platform.python_version()}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--parts", default=",".join(PARTS), help=f"comma-separated, any of {', '.join(PARTS)}")
    ap.add_argument("--quick", action="store_true", help="a small smoke run")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--questions", type=int, default=None, help="squad questions for hit@5 (default all)")
    ap.add_argument("--large", type=int, default=None, help="articles in the large corpus (default 5,000)")
    ap.add_argument("--vectors", type=int, default=None, help="vectors in the scale part (default 1,000,000)")
    ap.add_argument("--out", type=Path, default=RESULTS / "perf.json")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    ap.add_argument("--arg", action="append", default=[], help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        print(json.dumps(child(args.child, args.arg)), flush=True)
        return
    args.questions = args.questions or (300 if args.quick else None)
    args.large = args.large or (400 if args.quick else 5000)
    args.vectors = args.vectors or (50_000 if args.quick else 1_000_000)
    if args.quick:
        args.repeat = min(args.repeat, 2)
    parts = [p.strip() for p in args.parts.split(",") if p.strip()]
    unknown = set(parts) - set(PARTS)
    if unknown:
        raise SystemExit(f"unknown parts {sorted(unknown)}: choose from {', '.join(PARTS)}")
    results: dict[str, Any] = {"machine": machine(), "quick": args.quick, "table": []}
    print(f"machine: {results['machine']}", flush=True)
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="qa-perf-") as tmp:
        for part in parts:
            started = time.perf_counter()
            rows = globals()[f"part_{part}"](args, Path(tmp), results)
            results["table"] += [r.as_list() for r in rows]
            print(f"\n[{part}: {time.perf_counter() - started:.0f} s]\n" + Row.markdown(rows), flush=True)
            args.out.parent.mkdir(parents=True, exist_ok=True)
            args.out.write_text(json.dumps(results, indent=1))
    print(f"\nmachine: {results['machine']}; {time.perf_counter() - t0:.0f} s in all\n")
    print(Row.markdown([Row(*r) for r in results["table"]]))
    print(f"\nwrote {args.out}")


def part_backends(args: argparse.Namespace, tmp: Path, results: dict[str, Any]) -> list[Row]:
    from bench.perf_parts import compare_backends

    out = compare_backends(tmp / "backends", args.repeat, load_questions(args.questions))
    out["sweep"] = sweep_onnx(args.quick)
    results["backends"] = out
    torch_s = out["torch"]["forward_s"]
    rows = []
    for b in ("torch", "onnx", "onnx-int8"):
        r = out[b]
        rows.append(
            Row(
                f"{b}: model forward, squad-dev16 ({r['chunks']} chunks, best of {args.repeat})",
                f"{r['forward_s']:.1f} s ({torch_s / r['forward_s']:.2f}x torch); cosine to torch >= "
                f"{r['cosine_min']:.4f}",
            )
        )
        rows.append(
            Row(
                f"{b}: hit@5 on squad-dev16, dense / hybrid ({r['questions']} questions)",
                f"{r['dense']['hit@5']:.3f} / {r['hybrid']['hit@5']:.3f}",
                "within 0.01 of torch",
                round(abs(r["dense"]["hit@5"] - out["torch"]["dense"]["hit@5"]), 6) <= 0.01
                and round(abs(r["hybrid"]["hit@5"] - out["torch"]["hybrid"]["hit@5"]), 6) <= 0.01,
            )
        )
    mixed = out["int8-queries-on-onnx-index"]
    rows.append(
        Row(
            "int8 queries on an index of onnx (= torch) vectors: hit@5 dense / hybrid",
            f"{mixed['dense']['hit@5']:.3f} / {mixed['hybrid']['hit@5']:.3f}",
        )
    )
    best = min(out["sweep"], key=lambda s: s["seconds"])
    rows.append(
        Row(
            f"onnx, sessions x threads x texts a run (forward on {best['texts']} chunks, best of 3)",
            ", ".join(f"{s['sessions']}x{s['threads']}x{s['batch']}: {s['seconds']:.2f}s" for s in out["sweep"])
            + f"; best {best['sessions']}x{best['threads']}x{best['batch']}",
        )
    )
    return rows


SYSTEMS = {  # name -> (child, environment)
    "LangChain": ("langchain-build", {}),
    "qa": ("qa-build", {"QA_BACKEND": "onnx"}),
    "qa int8": ("qa-build", {"QA_BACKEND": "onnx-int8"}),
}


def part_build(args: argparse.Namespace, tmp: Path, results: dict[str, Any]) -> list[Row]:
    """Each system's build in a new process; squad-dev16 twice in alternating order (best kept), large once."""
    large = tmp / "large"
    if not large.exists():
        write_corpus(large, args.large, sizes=LARGE_SIZES)
    out: dict[str, Any] = {}
    for corpus, folder, repeat in (("squad", squad_articles, min(args.repeat, 2)), ("large", large, 1)):
        runs: dict[str, list[dict[str, Any]]] = {name: [] for name in SYSTEMS}
        for n in range(repeat):
            for name in list(SYSTEMS)[:: 1 if n % 2 == 0 else -1]:
                kind, env = SYSTEMS[name]
                index = tmp / f"{kind}-{env.get('QA_BACKEND', '')}-{corpus}"
                extra = ["limit"] if corpus == "large" and name == "qa" else []
                runs[name].append(run_child(kind, [str(folder), str(index), *extra], env))
                print(f"  {corpus} {name}: {json.dumps(runs[name][-1])}", flush=True)
        out[corpus] = {name: min(r, key=lambda x: x["wall_s"]) for name, r in runs.items()}
    questions = load_questions(args.questions)
    from bench.perf_parts import eval_langchain

    out["squad"]["LangChain"]["hit"] = eval_langchain(tmp / "langchain-build--squad", questions)
    for name, backend in (("qa", "onnx"), ("qa int8", "onnx-int8")):
        out["squad"][name]["hit"] = eval_qa(tmp / f"qa-build-{backend}-squad", questions, backend)
    results["build"] = out
    rows = []
    for corpus in ("squad", "large"):
        name = "squad-dev16" if corpus == "squad" else f"{args.large:,}-article corpus"
        lc = out[corpus]["LangChain"]
        for system, r in out[corpus].items():
            figure = f"{r['wall_s']:.1f} s, {r['chunks'] / r['wall_s']:.1f} chunks/s, peak RSS {r['rss_mb']:.0f} MB"
            if system == "LangChain":
                rows.append(Row(f"{name}: LangChain build, new process ({r['chunks']:,} chunks)", figure))
            else:
                speedup = lc["wall_s"] / r["wall_s"]
                rows.append(
                    Row(
                        f"{name}: {system} build, new process ({r['chunks']:,} chunks)",
                        f"{figure}; **{speedup:.2f}x** LangChain",
                        ">= 2x LangChain",
                        speedup >= 2,
                    )
                )
    hit = {name: r["hit"] for name, r in out["squad"].items()}
    lc_hit = hit["LangChain"]["hit@5"]
    n = hit["LangChain"]["questions"]
    rows.append(Row(f"hit@5 on squad-dev16 ({n} questions): LangChain (FAISS similarity_search)", f"{lc_hit:.3f}"))
    for name in ("qa", "qa int8"):
        h = hit[name]
        rows.append(
            Row(
                f"hit@5 on squad-dev16: {name} search / its dense part alone",
                f"{h['hybrid']['hit@5']:.3f} / {h['dense']['hit@5']:.3f}",
                ">= LangChain - 0.01",
                h["hybrid"]["hit@5"] >= lc_hit - 0.01,
            )
        )
    if "forward_s" in out["large"]["qa"]:
        r = out["large"]["qa"]
        ratio = r["build_s"] / r["forward_s"]
        results.setdefault("limit", {})["large"] = {"pipeline_s": r["build_s"], "forward_s": r["forward_s"]}
        rows.append(
            Row(
                f"{args.large:,}-article corpus: qa build (model loaded) / forward alone",
                f"{r['build_s']:.1f} / {r['forward_s']:.1f} s = {ratio:.3f}",
                "<= 1.15",
                ratio <= 1.15,
            )
        )
    return rows


def part_limit(args: argparse.Namespace, tmp: Path, results: dict[str, Any]) -> list[Row]:
    out = limit_squad(tmp / "limit", args.repeat)
    results.setdefault("limit", {})["squad"] = out
    ratio = min(out["pipeline_s"]) / min(out["forward_s"])
    return [
        Row(
            f"squad-dev16: model forward alone, {out['chunks']} chunks (best of {args.repeat})",
            f"{min(out['forward_s']):.2f} s",
        ),
        Row(f"squad-dev16: whole build, model loaded (best of {args.repeat})", f"{min(out['pipeline_s']):.2f} s"),
        Row("squad-dev16: whole build / forward alone", f"{ratio:.3f}", "<= 1.15", ratio <= 1.15),
    ]


def part_add(args: argparse.Namespace, tmp: Path, results: dict[str, Any]) -> list[Row]:
    from build import add_one_article

    sub: dict[str, Any] = {"table": []}
    add_one_article(argparse.Namespace(large=400 if args.quick else 2000, adds=5 if args.quick else 9), sub)
    add = sub["add_one"]
    results["add"] = add
    large = 400 if args.quick else 2000
    return [
        Row("add one article to 50 articles (median)", f"{add['50']['median_s'] * 1000:.0f} ms"),
        Row(f"add one article to {large:,} articles (median)", f"{add[str(large)]['median_s'] * 1000:.0f} ms"),
        Row(f"ratio {large:,} / 50", f"{add['ratio']:.2f}", "<= 1.5", add["ratio"] <= 1.5),
    ]


def part_latency(args: argparse.Namespace, tmp: Path, results: dict[str, Any]) -> list[Row]:
    out = latency(tmp / "latency", load_questions(100 if args.quick else 500))
    results["latency"] = out
    rows = [
        Row(
            f"search, warm (p50 / p95, {out['n']} questions)",
            f"{out['search_ms'][0]:.0f} / {out['search_ms'][1]:.0f} ms",
        ),
        Row(
            f"ask, warm (p50 / p95, {out['n']} questions)",
            f"{out['ask_ms'][0]:.0f} / {out['ask_ms'][1]:.0f} ms",
            "p50 <= 150 ms",
            out["ask_ms"][0] <= 150,
        ),
        Row("`qa ask` in a new process (median of 3)", f"{out['cli_ask_s']:.2f} s"),
    ]
    if out.get("app_first_answer_s") is not None:
        rows.append(Row("app cold start: `python app.py` to its first answer", f"{out['app_first_answer_s']:.2f} s"))
    else:
        rows.append(Row("app cold start", f"not measured: {out.get('app_error')}"))
    return rows


def part_scale(args: argparse.Namespace, tmp: Path, results: dict[str, Any]) -> list[Row]:
    out = scale(tmp / "scale", args.vectors)
    results["scale"] = out
    f, h = out["flat"], out["hnsw"]
    n = f"{args.vectors:,}"
    return [
        Row(
            f"{n} vectors, flat: build / search p50 / RAM",
            f"{f['build_s']:.1f} s / {f['p50_ms']:.1f} ms / {f['rss_mb']:.0f} MB",
        ),
        Row(
            f"{n} vectors, HNSW ({h['factory']}): build / search p50",
            f"{h['build_s']:.0f} s / {h['p50_ms']:.2f} ms",
            "p50 <= 20 ms",
            h["p50_ms"] <= 20,
        ),
        Row(
            f"{n} vectors, HNSW: RAM (peak RSS, index loaded and searched)",
            f"{h['rss_mb']:.0f} MB",
            "<= 2 GiB",
            h["rss_mb"] <= 2048,
        ),
        Row(f"{n} vectors, HNSW: recall@10 against flat", f"{h['recall@10']:.3f}", ">= 0.9", h["recall@10"] >= 0.9),
    ]


if __name__ == "__main__":
    main()
