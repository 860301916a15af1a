"""The measurements behind bench/perf.py (see its docstring): each returns plain numbers; perf.py makes the table.

Builds and the 1M-vector indexes run in new processes (`perf.py --child KIND --arg ...`), which report their own
timings and peak RSS (VmHWM) as one line of JSON; the parent adds the wall time it saw.
"""

from __future__ import annotations

import json
import os
import socket
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from bench.common import ROOT, data_dir
from bench.corpus import squad_articles, synthetic_vectors


@dataclass
class Row:
    measure: str
    figure: str
    goal: str = ""
    met: bool | None = None

    def as_list(self) -> list[Any]:
        return [self.measure, self.figure, self.goal, self.met]

    @staticmethod
    def markdown(rows: list[Row]) -> str:
        def goal(r: Row) -> str:
            return r.goal if r.met is None else f"{r.goal} ({'met' if r.met else 'NOT met'})"

        return "\n".join(
            ["| measure | figure | goal |", "|---|---|---|"]
            + [f"| {r.measure} | {r.figure} | {goal(r)} |" for r in rows]
        )


def peak_rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def load_questions(limit: int | None) -> list[dict[str, Any]]:
    rows = [json.loads(line) for line in (data_dir() / "questions.jsonl").read_text().splitlines() if line.strip()]
    rows = [q for q in rows if q["answers"]]
    if limit and limit < len(rows):  # an even spread over the articles, not the first few
        rows = rows[:: len(rows) // limit][:limit]
    return rows


def squad_texts(folder: Path | None = None) -> list[str]:
    """Exactly the texts qa's build embeds for these articles (squad-dev16's by default)."""
    from qa.config import Settings
    from qa.index.build import embed_text
    from qa.ingest.chunk import chunk_article
    from qa.ingest.read import read_file
    from qa.ingest.scan import list_files

    s = Settings()
    files, _ = list_files(folder or squad_articles())
    articles = [a for rel, path in files for a in read_file(rel, path).articles]
    return [embed_text(a, c.text) for a in articles for c in chunk_article(a, s.chunk_size, s.chunk_overlap)]


def run_child(kind: str, args: list[str], env: dict[str, str] | None = None) -> dict[str, Any]:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false", **(env or {})}
    cmd = [sys.executable, "-m", "bench.perf", "--child", kind, *[x for a in args for x in ("--arg", a)]]
    started = time.time()
    done = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=ROOT)
    wall = time.time() - started
    if done.returncode != 0:
        raise SystemExit(f"{kind} failed:\n{done.stderr[-3000:]}")
    out = json.loads(done.stdout.strip().splitlines()[-1])
    # A build child that goes on to time the forward pass alone says when its build was done.
    done_at = out.pop("build_done_at", None)
    return {**out, "wall_s": round((done_at or started + wall) - started, 2), "process_s": round(wall, 2)}


# ---- in the child process --------------------------------------------------------------------------


def child(kind: str, args: list[str]) -> dict[str, Any]:
    os.environ["HF_HUB_OFFLINE"] = "1"
    if kind == "qa-build":
        return _qa_build(Path(args[0]), Path(args[1]), "limit" in args[2:])
    if kind == "langchain-build":
        return _langchain_build(Path(args[0]), Path(args[1]))
    if kind == "scale-build":
        return _scale_build(args[0], Path(args[1]), Path(args[2]))
    if kind == "scale-serve":
        return _scale_serve(args[0], Path(args[1]), Path(args[2]), Path(args[3]))
    raise SystemExit(f"unknown child {kind}")


def _qa_build(folder: Path, index: Path, limit: bool) -> dict[str, Any]:
    t0 = time.perf_counter()
    from qa.config import Settings
    from qa.embed.embedder import load_embedder
    from qa.index.build import build

    embedder = load_embedder()
    t1 = time.perf_counter()
    report = build(Settings(index=index, articles=folder), rebuild=True, embedder=embedder)
    t2 = time.perf_counter()
    out = {"chunks": report.chunks, "load_s": round(t1 - t0, 2), "build_s": round(t2 - t1, 2), "rss_mb": peak_rss_mb()}
    out["build_done_at"] = time.time()
    if limit:  # the model alone on the same texts, same process, model warm
        texts = squad_texts(folder)
        t3 = time.perf_counter()
        embedder.embed_documents(texts)
        out["forward_s"] = round(time.perf_counter() - t3, 2)
    return out


def _langchain_build(folder: Path, index: Path) -> dict[str, Any]:
    """The plain LangChain pipeline, as its documentation shows it."""
    t0 = time.perf_counter()
    from langchain_community.document_loaders import DirectoryLoader, TextLoader
    from langchain_community.vectorstores import FAISS
    from langchain_huggingface import HuggingFaceEmbeddings
    from langchain_text_splitters import RecursiveCharacterTextSplitter

    from qa.embed.base import model_path

    embeddings = HuggingFaceEmbeddings(
        model_name=model_path("all-MiniLM-L6-v2"),
        model_kwargs={"device": "cpu"},
        encode_kwargs={"normalize_embeddings": True},
    )
    t1 = time.perf_counter()
    docs = DirectoryLoader(
        str(folder), glob="**/*.txt", loader_cls=TextLoader, loader_kwargs={"encoding": "utf-8"}
    ).load()
    splitter = RecursiveCharacterTextSplitter(chunk_size=1000, chunk_overlap=200, add_start_index=True)
    chunks = splitter.split_documents(docs)
    store = FAISS.from_documents(chunks, embeddings)
    store.save_local(str(index))
    t2 = time.perf_counter()
    return {"chunks": len(chunks), "load_s": round(t1 - t0, 2), "build_s": round(t2 - t1, 2), "rss_mb": peak_rss_mb()}


def _scale_build(kind: str, vectors: Path, out: Path) -> dict[str, Any]:
    import faiss

    from qa.index import ann

    x = np.load(vectors, mmap_mode="r")
    t0 = time.perf_counter()
    if kind == "flat":
        index = faiss.IndexFlatIP(x.shape[1])
        for start in range(0, len(x), 100_000):
            index.add(np.ascontiguousarray(x[start : start + 100_000]))
    else:
        index = ann.build_hnsw(np.asarray(x), np.arange(len(x), dtype=np.int64))
    seconds = time.perf_counter() - t0
    faiss.write_index(index, str(out))
    return {"build_s": round(seconds, 2), "file_mb": round(out.stat().st_size / 2**20, 1)}


def _scale_serve(kind: str, index_file: Path, queries: Path, ids_out: Path) -> dict[str, Any]:
    import faiss

    from qa.index import ann

    q = np.load(queries)
    base = peak_rss_mb()
    index = faiss.read_index(str(index_file))
    times, found = [], []
    for v in q:
        t0 = time.perf_counter()
        _, ids = index.search(v[None], 10) if kind == "flat" else ann.search(index, v[None], 10)
        times.append((time.perf_counter() - t0) * 1000)
        found.append(ids[0])
    np.save(ids_out, np.array(found))
    return {
        "p50_ms": round(float(np.percentile(times, 50)), 3),
        "p95_ms": round(float(np.percentile(times, 95)), 3),
        "rss_mb": round(peak_rss_mb(), 1),
        "rss_before_index_mb": round(base, 1),
    }


# ---- in the parent ---------------------------------------------------------------------------------


def eval_qa(index_dir: Path, questions: list[dict[str, Any]], backend: str = "onnx") -> dict[str, Any]:
    """hit@k of qa's index: dense search alone, and qa's default hybrid search."""
    from qa.config import Settings
    from qa.eval.metrics import first_hit, retrieval_metrics
    from qa.pipeline import QA

    retriever = QA.open(Settings(index=index_dir, backend=backend)).retriever
    out: dict[str, Any] = {"questions": len(questions)}
    for mode in ("dense", "hybrid"):
        ranks = [
            first_hit(retriever.search(q["question"], 10, mode=mode).passages, q["answers"], q["source_articles"])  # type: ignore[arg-type]
            for q in questions
        ]
        out[mode] = {k: round(v, 4) for k, v in retrieval_metrics(ranks).items()}
    return out


def eval_langchain(index_dir: Path, questions: list[dict[str, Any]]) -> dict[str, Any]:
    """hit@k of the LangChain index: FAISS similarity_search, as a LangChain user would query it."""
    from langchain_community.vectorstores import FAISS
    from langchain_huggingface import HuggingFaceEmbeddings

    from qa.embed.base import model_path
    from qa.eval.metrics import first_hit, retrieval_metrics
    from qa.types import Chunk, Passage

    embeddings = HuggingFaceEmbeddings(
        model_name=model_path("all-MiniLM-L6-v2"),
        model_kwargs={"device": "cpu"},
        encode_kwargs={"normalize_embeddings": True},
    )
    store = FAISS.load_local(str(index_dir), embeddings, allow_dangerous_deserialization=True)  # our own file
    ranks = []
    for q in questions:
        docs = store.similarity_search(q["question"], k=10)
        passages = [
            Passage(
                Chunk(
                    Path(d.metadata["source"]).name,
                    d.metadata["start_index"],
                    d.metadata["start_index"] + len(d.page_content),
                    d.page_content,
                ),
                0.0,
                n,
            )
            for n, d in enumerate(docs, 1)
        ]
        ranks.append(first_hit(passages, q["answers"], q["source_articles"]))
    return {"questions": len(questions), **{k: round(v, 4) for k, v in retrieval_metrics(ranks).items()}}


def compare_backends(tmp: Path, repeat: int, questions: list[dict[str, Any]]) -> dict[str, Any]:
    from qa.config import Settings
    from qa.embed.embedder import load_embedder
    from qa.index.build import build

    texts = squad_texts()
    embedders = {b: load_embedder(backend=b) for b in ("torch", "onnx", "onnx-int8")}
    times: dict[str, list[float]] = {b: [] for b in embedders}
    vectors: dict[str, np.ndarray] = {}
    for e in embedders.values():
        e.embed_documents(texts[:64])
    for _ in range(repeat):  # alternated: the machine's drift hits every backend alike
        for b, e in embedders.items():
            t0 = time.perf_counter()
            vectors[b] = e.embed_documents(texts)
            times[b].append(round(time.perf_counter() - t0, 2))
        print(f"  forward: {times}", flush=True)
    out: dict[str, Any] = {}
    for b, e in embedders.items():
        cosine = np.sum(vectors[b] * vectors["torch"], axis=1)
        settings = Settings(index=tmp / b, articles=squad_articles())
        build(settings, rebuild=True, embedder=e)
        out[b] = {
            "chunks": len(texts),
            "forward_s": min(times[b]),
            "forward_runs_s": times[b],
            "cosine_min": round(float(cosine.min()), 5),
            "cosine_mean": round(float(cosine.mean()), 5),
            **eval_qa(settings.index, questions, backend=b),
        }
        print(f"  {b}: {json.dumps(out[b])}", flush=True)
    # What mixing would cost: int8 query vectors against the index of float vectors (qa refuses to mix them).
    out["int8-queries-on-onnx-index"] = eval_qa(tmp / "onnx", questions, backend="onnx-int8")
    return out


def sweep_onnx(quick: bool) -> list[dict[str, Any]]:
    """The onnx backend's forward time by texts a run, ONNX Runtime threads a session and sessions side by
    side (qa's default: one single-threaded session a core), alternated, best of 3."""
    from qa.config import DEFAULT_MODEL, Settings
    from qa.embed.export import onnx_export
    from qa.embed.onnx import OnnxRunner, cores

    texts = squad_texts()[: 128 if quick else 256]
    folder = onnx_export(DEFAULT_MODEL, Settings().cache_dir)
    configs = [(1, threads, batch) for threads in (1, 2) for batch in (1, 4, 8, 32)]
    configs += [(cores(), 1, batch) for batch in (1, 4)]
    runners = {c: OnnxRunner(folder, workers=c[0], threads=c[1], batch=c[2]) for c in configs}
    best = dict.fromkeys(configs, float("inf"))
    for runner in runners.values():
        runner.encode(texts[:8], False, 0)
    for _ in range(2 if quick else 3):
        for c in configs:
            t0 = time.perf_counter()
            runners[c].encode(texts, False, 0)
            best[c] = min(best[c], time.perf_counter() - t0)
    out = [
        {"sessions": w, "threads": t, "batch": b, "seconds": round(best[w, t, b], 3), "texts": len(texts)}
        for w, t, b in configs
    ]
    print(f"  sweep: {out}", flush=True)
    return out


def limit_squad(tmp: Path, repeat: int) -> dict[str, Any]:
    from bench.build import forward_only, pipeline
    from qa.config import Settings

    settings = Settings(index=tmp / "index", articles=squad_articles())
    forward, whole = [], []
    for _ in range(repeat):
        seconds, chunks = forward_only(settings)
        forward.append(round(seconds, 3))
        whole.append(round(pipeline(settings), 3))
    print(f"  forward {forward}, pipeline {whole}", flush=True)
    return {"chunks": chunks, "forward_s": forward, "pipeline_s": whole}


def latency(tmp: Path, questions: list[dict[str, Any]]) -> dict[str, Any]:
    from qa.config import Settings
    from qa.embed.embedder import load_embedder
    from qa.index.build import build
    from qa.pipeline import QA

    settings = Settings(index=tmp / "index", articles=squad_articles())
    build(settings, embedder=load_embedder())
    qa = QA.open(settings)
    retriever, answerer = qa.retriever, qa.answerer
    for q in questions[:20]:
        answerer.ask(q["question"], 5)
    search, ask = [], []
    for q in questions:
        t0 = time.perf_counter()
        retriever.search(q["question"], 5)
        t1 = time.perf_counter()
        answerer.ask(q["question"], 5)
        search.append((t1 - t0) * 1000)
        ask.append((time.perf_counter() - t1) * 1000)
    out: dict[str, Any] = {
        "n": len(questions),
        "search_ms": [round(float(np.percentile(search, p)), 1) for p in (50, 95)],
        "ask_ms": [round(float(np.percentile(ask, p)), 1) for p in (50, 95)],
    }
    question = "Which NFL team represented the AFC at Super Bowl 50?"
    cli = []
    for _ in range(3):
        t0 = time.perf_counter()
        subprocess.run(
            [sys.executable, "-m", "qa.cli", "ask", question, "--index", str(settings.index)],
            check=True,
            capture_output=True,
            cwd=ROOT,
        )
        cli.append(time.perf_counter() - t0)
    out["cli_ask_s"] = round(statistics.median(cli), 2)
    out.update(app_cold_start(settings.index, question))
    print(f"  {json.dumps(out)}", flush=True)
    return out


def app_cold_start(index: Path, question: str) -> dict[str, Any]:
    """`python app.py` started until its first answer has arrived through gradio_client."""
    if not (ROOT / "app.py").exists():
        return {"app_first_answer_s": None, "app_error": "no app.py"}
    from gradio_client import Client

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "QA_INDEX": str(index), "GRADIO_SERVER_NAME": "127.0.0.1", "GRADIO_SERVER_PORT": str(port)}
    t0 = time.perf_counter()
    process = subprocess.Popen(
        [sys.executable, "app.py"], cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        while True:
            if process.poll() is not None or time.perf_counter() - t0 > 180:
                return {"app_first_answer_s": None, "app_error": f"app.py exited or did not answer ({process.poll()})"}
            try:
                client = Client(
                    f"http://127.0.0.1:{port}/", verbose=False, download_files=False, analytics_enabled=False
                )
                break
            except Exception:  # not listening yet
                time.sleep(0.05)
        client.predict(question, api_name="/ask")
        return {"app_first_answer_s": round(time.perf_counter() - t0, 2)}
    finally:
        process.terminate()
        process.wait(timeout=30)


def scale(tmp: Path, n: int) -> dict[str, Any]:
    from qa.index import ann

    tmp.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    np.save(tmp / "x.npy", synthetic_vectors(n, seed=7))
    np.save(tmp / "q.npy", synthetic_vectors(1000, seed=8))
    print(f"  {n:,} vectors made in {time.perf_counter() - t0:.0f} s", flush=True)
    out: dict[str, Any] = {"vectors": n, "queries": 1000}
    for kind in ("flat", "hnsw"):
        built = run_child("scale-build", [kind, str(tmp / "x.npy"), str(tmp / f"{kind}.faiss")])
        served = run_child(
            "scale-serve", [kind, str(tmp / f"{kind}.faiss"), str(tmp / "q.npy"), str(tmp / f"{kind}-ids.npy")]
        )
        out[kind] = {**built, **served, "wall_s": built["wall_s"]}
        print(f"  {kind}: {json.dumps(out[kind])}", flush=True)
    exact, approx = np.load(tmp / "flat-ids.npy"), np.load(tmp / "hnsw-ids.npy")
    recall = np.mean([len(set(a) & set(e)) / 10 for a, e in zip(approx, exact, strict=True)])
    out["hnsw"].update({"recall@10": round(float(recall), 4), "factory": ann.FACTORY, "efSearch": ann.EF_SEARCH})
    return out
