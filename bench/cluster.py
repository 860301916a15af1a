"""Building and serving on a Ray cluster against doing it here, side by side in one run (issue 22).

    python -m bench.cluster [--corpus squad-dev16|large] [--questions 100] [--clients 20] [--no-serving]

On the same articles (squad-dev16's 16, or bench.corpus's ~5,000-article corpus written to a temporary folder):
a local build; the local build with the model on one core, as a node's actor runs it; a cluster build on a
one-node cluster (one CPU); on a two-node cluster (two nodes of one CPU each, on loopback,
ray.cluster_utils.Cluster); each a fresh index, timed whole (`qa index build` as a user runs it, the cluster's
start not counted). Prints the overhead (one-node cluster / local on one core), the scaling (one node / two nodes)
and the two-node cluster against the local build on every core. Then (unless --no-serving) serving on the
two-node cluster: 1 and 2 answering replicas (qa.app.replicas), `--clients` threads asking squad-dev16 questions
(every n-th, `--questions` of them; the corpora are its articles) through the deployment handle at once; p50 / p95
per question. Writes bench/results/cluster_<corpus>.json.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from bench.common import RESULTS, data_dir
from qa.config import Settings
from qa.embed.embedder import load_embedder
from qa.eval.questions import load_questions
from qa.index.build import build

STORE = 150 * 2**20


def timed_build(settings: Settings, cores: int = 0) -> float:
    """A fresh build, in seconds; `cores` > 0: a local build's model on that many cores (as a node's actor)."""
    embedder = load_embedder(settings.model, settings.batch_size, settings.backend, cores=cores) if cores else None
    t0 = time.perf_counter()
    build(settings, rebuild=True, embedder=embedder)
    return time.perf_counter() - t0


def start_cluster(nodes: int) -> Any:
    from ray.cluster_utils import Cluster

    head = {"num_cpus": 1, "node_ip_address": "127.0.0.2", "object_store_memory": STORE, "include_dashboard": False}
    cluster = Cluster(initialize_head=True, head_node_args=head)
    for n in range(1, nodes):
        cluster.add_node(num_cpus=1, node_ip_address=f"127.0.0.{2 + n}", object_store_memory=STORE)
    cluster.wait_for_nodes()
    return cluster


def stop_cluster(cluster: Any) -> None:
    import ray

    ray.shutdown()
    cluster.shutdown()


def serving(settings: Settings, replicas: int, questions: list[str], clients: int) -> dict[str, float]:
    from qa.app.replicas import deploy, shutdown

    try:
        handle = deploy(settings, replicas)
        handle.ask.remote(questions[0], None, []).result()  # warm

        def one(question: str) -> float:
            t0 = time.perf_counter()
            handle.ask.remote(question, None, []).result()
            return (time.perf_counter() - t0) * 1000

        t0 = time.perf_counter()
        with ThreadPoolExecutor(clients) as pool:
            times = list(pool.map(one, questions))
        wall = time.perf_counter() - t0
    finally:
        shutdown()
    times.sort()
    return {
        "p50_ms": round(statistics.median(times), 1),
        "p95_ms": round(times[int(0.95 * (len(times) - 1))], 1),
        "questions_per_second": round(len(times) / wall, 2),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--corpus", default="squad-dev16", choices=("squad-dev16", "large"))
    ap.add_argument("--questions", type=int, default=100)
    ap.add_argument("--clients", type=int, default=20)
    ap.add_argument("--no-serving", action="store_true", help="time the builds only")
    args = ap.parse_args()
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    with tempfile.TemporaryDirectory(prefix="qa-cluster-") as tmp:
        root = Path(tmp)
        if args.corpus == "large":
            from bench.corpus import LARGE_SIZES, write_corpus

            articles = root / "articles"
            write_corpus(articles, 5000, sizes=LARGE_SIZES)
        else:
            articles = data_dir("squad-dev16") / "articles"
        local = Settings(index=root / "local", articles=articles, uploads=root / "uploads")
        result: dict[str, Any] = {"corpus": args.corpus, "cpus_here": os.cpu_count()}
        result["local_s"] = round(timed_build(local), 2)
        print(f"local build: {result['local_s']} s", flush=True)
        result["local_1_core_s"] = round(timed_build(local.with_(index=root / "local1"), cores=1), 2)
        print(f"local build, the model on one core (as a node's actor): {result['local_1_core_s']} s", flush=True)
        for nodes in (1, 2):
            cluster = start_cluster(nodes)
            try:
                on = local.with_(index=root / f"cluster{nodes}", ray_address=cluster.address)
                result[f"cluster_{nodes}_s"] = round(timed_build(on), 2)
                print(f"cluster build, {nodes} node(s): {result[f'cluster_{nodes}_s']} s", flush=True)
                if nodes == 2 and not args.no_serving:
                    squad = load_questions(data_dir("squad-dev16") / "questions.jsonl")
                    asked = [q.question for q in squad[:: max(1, len(squad) // args.questions)]][: args.questions]
                    serve_settings = on.with_(index=root / "local")
                    for replicas in (1, 2):
                        figures = serving(serve_settings, replicas, asked, args.clients)
                        result[f"serve_{replicas}_replicas"] = figures
                        print(f"serving, {replicas} replica(s), {args.clients} clients: {figures}", flush=True)
            finally:
                stop_cluster(cluster)
        result["overhead_1_node"] = round(result["cluster_1_s"] / result["local_1_core_s"], 3)
        result["cluster_2_vs_local"] = round(result["cluster_2_s"] / result["local_s"], 3)
        result["scaling_2_nodes"] = round(result["cluster_1_s"] / result["cluster_2_s"], 3)
        print(f"overhead (one-node cluster / local on one core) {result['overhead_1_node']}, "
              f"scaling (one node / two nodes) {result['scaling_2_nodes']}, "
              f"two-node cluster / local on every core {result['cluster_2_vs_local']}")  # fmt: skip
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"cluster_{args.corpus}.json"
    path.write_text(json.dumps(result, indent=1) + "\n")
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
