"""Building on a Ray cluster: a real two-node cluster on loopback (a head and one worker node, one CPU each, started
by ray.cluster_utils.Cluster, which stops only its own processes), the seeds built on it and compared with a local
build of the same articles."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from qa.config import Settings
from qa.embed.embedder import Embedder
from qa.errors import ClusterError
from qa.index.build import build
from qa.index.store import Index
from qa.pipeline import QA
from tests.helpers import LUNAR, SEEDS, news_corpus

pytestmark = [pytest.mark.slow, pytest.mark.ray]

QUESTIONS = (
    "How long did the 2013 meeting between Obama and Putin last?",
    "Who is the U.S. ambassador to Russia?",
    "Summarize the article about the 2013 meeting in Northern Ireland.",
)

KEYS = ("answer", "short_answer", "refused", "citations", "kind")
STORE = 150 * 2**20  # each node's object store


def add_worker(nodes: Any) -> Any:
    """The worker node on 127.0.0.3, one CPU, joined."""
    node = nodes.add_node(num_cpus=1, node_ip_address="127.0.0.3", object_store_memory=STORE)
    nodes.wait_for_nodes()
    return node


@pytest.fixture(scope="module")
def cluster() -> Iterator[Any]:
    """A head node on 127.0.0.2 and a worker node on 127.0.0.3 (loopback addresses Ray keeps), one CPU each."""
    os.environ["RAY_USAGE_STATS_ENABLED"] = "0"
    ray = pytest.importorskip("ray", reason="the ray extra is not installed: make ray (make test installs it)")
    from ray.cluster_utils import Cluster

    nodes = Cluster(
        initialize_head=True,
        head_node_args={
            "num_cpus": 1, "node_ip_address": "127.0.0.2", "object_store_memory": STORE, "include_dashboard": False
        },
    )  # fmt: skip
    try:
        add_worker(nodes)
        yield nodes
    finally:
        ray.shutdown()
        nodes.shutdown()


@pytest.fixture(scope="module")
def built(cluster: Any, tmp_path_factory: pytest.TempPathFactory, embedder: Embedder) -> dict[str, Any]:
    """The seeds built here and on the cluster, each into its own index."""
    root = tmp_path_factory.mktemp("cluster")
    articles = root / "articles"
    shutil.copytree(SEEDS, articles)
    local = Settings(index=root / "local", articles=articles, uploads=root / "uploads")
    on_cluster = local.with_(index=root / "cluster", ray_address=cluster.address)
    build(local, embedder=embedder)
    report = build(on_cluster)
    return {"local": local, "cluster": on_cluster, "report": report, "root": root}


def test_the_cluster_builds_the_index_a_local_build_makes(built: dict[str, Any], embedder: Embedder) -> None:
    import ray

    assert len({n["NodeManagerAddress"] for n in ray.nodes() if n["Alive"]}) == 2
    report = built["report"]
    assert len(report.added) == 2 and report.chunks_embedded == report.chunks == 11
    local, remote = Index.load(built["local"].index), Index.load(built["cluster"].index)
    assert remote.chunks == local.chunks  # same articles, offsets, texts, in the same order
    assert (remote.ids == local.ids).all() and remote.tokens == local.tokens
    cosines = np.sum(remote.vectors * local.vectors, axis=1)
    assert float(cosines.min()) >= 0.9999
    here = QA.open(built["local"], embedder=embedder)
    there = QA.open(built["cluster"].with_(ray_address=""), embedder=embedder)
    for question in QUESTIONS:
        a, b = here.ask(question), there.ask(question)
        assert (a.text, a.short, a.citations) == (b.text, b.short, b.citations), question


def test_a_cluster_build_sends_out_only_new_articles(built: dict[str, Any]) -> None:
    settings = built["cluster"]
    shutil.copy(LUNAR, settings.articles / "lunar.txt")
    try:
        report = build(settings)
        assert report.added == ("lunar.txt",) and report.changed == () and report.unchanged == 2
        assert 0 < report.chunks_embedded < 11 and report.chunks == 11 + report.chunks_embedded
        again = build(settings)
        assert again.up_to_date and again.chunks_embedded == 0
    finally:
        (settings.articles / "lunar.txt").unlink()
        build(settings)


def test_a_failed_cluster_build_leaves_the_previous_index_and_the_next_build_completes(
    built: dict[str, Any],
) -> None:
    """A node without the model (here: a model path no node has) fails the build in one line; the index is as
    it was, and the next build with a model the nodes have completes."""
    settings = built["cluster"]
    manifest = (settings.index / "manifest.json").read_bytes()
    with pytest.raises(ClusterError) as e:
        build(settings.with_(model=str(built["root"] / "no-such-model")), rebuild=True)
    message = str(e.value)
    assert "\n" not in message and "the cluster build failed" in message and "cannot load embedding model" in message
    assert (settings.index / "manifest.json").read_bytes() == manifest
    assert len(Index.load(settings.index).chunks) == 11
    assert build(settings, rebuild=True).chunks == 11


HTML = """<html><head><title>Bridge Reopens After Repairs</title>
<meta name="date" content="2019-05-04"></head><body><nav>Home | News</nav>
<article><h1>Bridge Reopens After Repairs</h1><p>The Elm Street bridge reopened on Friday after eight months of
repairs that cost the city 4.2 million dollars, officials said.</p><p>Traffic engineers expect about 12,000 cars a
day to cross it again by the summer, when the new bicycle lanes open.</p></article>
<footer>Copyright 2019 Valley Times</footer></body></html>"""


def test_the_cluster_parses_every_kind_of_file_as_a_local_build_does(cluster: Any, tmp_path: Path) -> None:
    """HTML, JSONL and text files parsed on the cluster's nodes give the local build's articles and dates, and a
    bad file the local build's problem, the rest built."""
    articles = tmp_path / "articles"
    shutil.copytree(SEEDS, articles)
    (articles / "bridge.html").write_text(HTML)
    lines = [
        {"id": f"wire-{n}", "title": f"Wire {n}", "date": "2024-03-0{n}", "text": f"Story {n}. " * 40} for n in (1, 2)
    ]
    (articles / "wire.jsonl").write_text("\n".join(json.dumps(line) for line in lines) + "\n{broken\n")
    (articles / "photo.txt").write_bytes(b"\x89PNG\x00\x00binary")
    local = Settings(index=tmp_path / "local", articles=articles, uploads=tmp_path / "uploads")
    on_cluster = local.with_(index=tmp_path / "cluster", ray_address=cluster.address)
    here, there = build(local), build(on_cluster)
    assert [str(p) for p in there.problems] == [str(p) for p in here.problems]
    assert {p.path for p in there.problems} == {"photo.txt", "wire.jsonl"} and len(there.problems) == 2
    a, b = Index.load(local.index), Index.load(on_cluster.index)
    same = {aid: replace(e, segment="") for aid, e in a.manifest.articles.items()}  # segment names are random
    assert same == {aid: replace(e, segment="") for aid, e in b.manifest.articles.items()}
    assert a.manifest.files.keys() == b.manifest.files.keys()
    assert {"bridge.html", "wire.jsonl#wire-1", "wire.jsonl#wire-2"} <= set(b.articles) and b.articles[
        "bridge.html"
    ].date == "2019-05-04"
    assert b.chunks == a.chunks


def test_no_cluster_at_the_address_is_one_line_and_nothing_is_written(tmp_path: Path) -> None:
    index = tmp_path / "index"
    cmd = [sys.executable, "-m", "qa.cli", "index", "build", "--articles", str(SEEDS), "--index", str(index)]
    result = subprocess.run([*cmd, "--ray", "127.0.0.9:6999", "--json"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 1 and result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert lines == [lines[0]] and lines[0].startswith("error: no Ray cluster at 127.0.0.9:6999")
    assert "ray start --head" in lines[0] and not index.exists()


def test_the_cli_builds_on_the_cluster_with_its_progress(cluster: Any, tmp_path: Path) -> None:
    index = tmp_path / "index"
    cmd = [sys.executable, "-m", "qa.cli", "index", "build", "--articles", str(SEEDS), "--index", str(index)]
    env = {**os.environ, "QA_RAY_ADDRESS": cluster.address}
    result = subprocess.run([*cmd, "--json"], capture_output=True, text=True, timeout=240, env=env)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["chunks_embedded"] == 11 and len(report["added"]) == 2
    shown = subprocess.run([*cmd, "--rebuild"], capture_output=True, text=True, timeout=240, env=env)
    assert shown.returncode == 0 and "embedding on the cluster" in shown.stderr and "chunks/s" in shown.stderr
    assert "articles/s" in shown.stderr
    (summary,) = [line for line in shown.stderr.splitlines() if line.startswith("qa: embedded ")]
    assert re.fullmatch(
        r"qa: embedded 11 chunks of 2 articles on [12] nodes? in [\d.]+ s \(127\.0\.0\.[23]: .*\)", summary
    )
    per_node = re.findall(r"127\.0\.0\.[23]: (\d+) chunks", summary)
    assert sum(int(n) for n in per_node) == 11


def test_two_replicas_answer_the_chat_follow_ups_included_and_pick_up_a_new_index(
    built: dict[str, Any], embedder: Embedder
) -> None:
    from gradio_client import Client
    from ray import serve

    from qa.app.replicas import ReplicatedLibrary, deploy, shutdown
    from tests.helpers import serving

    settings = built["cluster"]
    here = QA.open(built["local"], embedder=embedder)
    try:
        handle = deploy(settings, 2)
        status = serve.status().applications["qa"].deployments["answering"]
        assert status.status == "HEALTHY" and status.replica_states.get("RUNNING") == 2
        library = ReplicatedLibrary(QA.open(settings.with_(ray_address=""), embedder=embedder), handle)
        with serving(library) as url:
            client = Client(url, verbose=False, download_files=False)
            for question in QUESTIONS:
                *_, answer, _ = client.predict(question, api_name="/ask")
                local = here.ask(question).to_dict()
                assert [answer[k] for k in KEYS] == [local[k] for k in KEYS], question
            chat, sources, _, first, _ = client.predict("Where did Obama meet Putin in June 2013?", api_name="/ask")
            chat, _, _, follow, _ = client.predict("How long did it last?", api_name="/ask")  # the turn before
            assert follow["short_answer"] == "two hours" and len(chat) == 2 * (len(QUESTIONS) + 2)
            assert follow["citations"][0]["article"] == first["citations"][0]["article"]
            assert "<mark class='qa-quote'>" in sources

            shutil.copy(LUNAR, settings.articles / "lunar.txt")  # a build on the cluster, outside the app
            build(settings)
            *_, answer, _ = client.predict("How many tomatoes did the lunar greenhouse harvest?", api_name="/ask")
            assert answer["short_answer"] == "42" and answer["citations"][0]["article"] == "lunar.txt"
    finally:
        shutdown()
        (settings.articles / "lunar.txt").unlink(missing_ok=True)
        build(settings)


def test_replicas_need_a_cluster_and_at_least_one(tmp_path: Path) -> None:
    from qa.app.serve import serve
    from qa.errors import SettingsError

    settings = Settings(index=tmp_path / "index", articles=SEEDS)
    with pytest.raises(SettingsError, match="--replicas needs a Ray cluster: pass --ray ADDRESS"):
        serve(settings, port=0, replicas=2)
    with pytest.raises(SettingsError, match="--replicas must be 1 or more"):
        serve(settings.with_(ray_address="auto"), port=0, replicas=0)
    assert not settings.index.exists()


def test_a_node_dying_mid_build_leaves_a_loadable_index_and_the_next_build_completes(
    cluster: Any, tmp_path: Path, embedder: Embedder
) -> None:
    """The worker node is killed (its raylet and workers, no goodbye) a few seconds into the embedding (the
    actors loaded, the first blocks in work): the build either completes on the head node or fails in one line;
    either way the index loads (the new one whole, or the previous one as it was), and the next build, with the
    node back, completes. Last in this module: the cluster has its worker node again afterwards, at the same
    address."""
    articles = tmp_path / "articles"
    shutil.copytree(SEEDS, articles)
    settings = Settings(index=tmp_path / "index", articles=articles, uploads=tmp_path / "uploads")
    build(settings, embedder=embedder)  # the previous index: the seeds, 11 chunks
    news_corpus(articles, 300)
    cmd = [sys.executable, "-m", "qa.cli", "index", "build", "--articles", str(articles), "--index"]
    env = {**os.environ, "QA_RAY_ADDRESS": cluster.address}
    proc = subprocess.Popen([*cmd, str(settings.index)], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stderr is not None
    err = bytearray()
    embedding = threading.Event()

    def follow() -> None:  # tqdm's bar comes as \r-separated updates: read as it comes
        assert proc.stderr is not None
        while chunk := proc.stderr.read1(4096):
            err.extend(chunk)
            if b"embedding on the cluster" in err:  # parsed; the actors are starting
                embedding.set()

    reader = threading.Thread(target=follow, daemon=True)
    reader.start()
    (worker,) = cluster.worker_nodes
    try:
        assert embedding.wait(timeout=300), bytes(err).decode(errors="replace")[-2000:]
        time.sleep(5)  # the actors load the model in 2-3 s; the whole embedding takes about 15 s on one node
        cluster.remove_node(worker, allow_graceful=False)
        returncode = proc.wait(timeout=600)
        reader.join(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
        if not cluster.worker_nodes:
            add_worker(cluster)
    stderr = bytes(err).decode(errors="replace")
    chunks = len(Index.load(settings.index).chunks)
    print(f"the worker node killed mid-build: exit {returncode}, {chunks} chunks in the index")
    if returncode == 0:
        assert chunks > 11, stderr[-2000:]
    else:
        lines = [line for line in stderr.replace("\r", "\n").splitlines() if line.startswith("error:")]
        assert returncode == 1 and len(lines) == 1 and "the cluster build failed" in lines[0], stderr[-2000:]
        assert chunks == 11  # the previous index, as it was
    report = build(settings)  # with the node back
    local = settings.with_(index=tmp_path / "local", ray_address="")
    build(local, embedder=embedder)
    assert report.chunks == len(Index.load(local.index).chunks) > 11
    assert Index.load(settings.index).chunks == Index.load(local.index).chunks
