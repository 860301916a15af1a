"""Building on a Ray cluster (`qa index build --ray ADDRESS`, QA_RAY_ADDRESS; `auto`: the cluster this machine
has joined). The `ray` extra (`pip install 'qa[ray]'`) is needed here and on every node.

The folder scan and the diff against the manifest stay here (they decide what is new, by content hash, and need
the old manifest). The new and changed files are read here and parsed on the cluster (HTML by trafilatura) in
tasks, so the nodes need not see the articles folder; only the articles to embed go out again. Ray Data chunks
them (qa's own chunker) and tokenizes their BM25 words in tasks, and embeds them in an actor pool whose actors load
the model once each (ONNX on CPU nodes, as a local build, on the CPUs Ray gave the actor); progress shows articles
and chunks a second, per node. The chunks, tokens and vectors come back in the order a local build makes them, and
qa writes them as its own segment, the manifest last (qa.index.build). So the index is the one a local build
makes: the same chunks, offsets and ids, vectors from the same backend, and a killed or failed cluster build
leaves the previous index as it was. The index folder must be on storage this machine writes; the nodes read
nothing from it.
"""

from __future__ import annotations

import logging
import os
import socket
import sys
import time
from collections import Counter
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

from qa.config import Settings
from qa.errors import ClusterError
from qa.ingest.read import FileRead, read_file
from qa.ingest.scan import Listed
from qa.types import Article, Chunk

PARSE_FILES = 32  # files per parsing task
BLOCK_ARTICLES = 64  # articles per Ray Data block: Ray costs ~40 ms a block, so blocks are large
EMBED_BATCH = 256  # chunks per embedding call in an actor


def connect(address: str) -> None:
    """Join the Ray cluster at `address` ("auto", "host:port" or "ray://host:port"); a one-line ClusterError when
    there is none or Ray is not installed."""
    try:
        import ray
    except ImportError:
        raise ClusterError(
            "Ray is not installed: pip install 'qa[ray]' (here and on every node), or build without --ray"
        ) from None
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    if ray.is_initialized():
        return
    _reachable(address)
    try:
        ray.init(address=address, logging_level=logging.ERROR, log_to_driver=False, configure_logging=False)
    except (ConnectionError, RuntimeError, ValueError) as e:
        reason = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise ClusterError(
            f"no Ray cluster at {address} ({reason[:200]}): start one with `ray start --head`, pass its address "
            "with --ray HOST:PORT, or build without --ray"
        ) from None


def _reachable(address: str, timeout: float = 5.0) -> None:
    """A HOST:PORT address answers on its port (Ray itself waits a minute and more for a cluster that is not there)."""
    host, _, port = address.removeprefix("ray://").rpartition(":")
    if not host or not port.isdigit():
        return  # "auto" and the like: ray.init finds the cluster or says there is none at once
    try:
        socket.create_connection((host, int(port)), timeout=timeout).close()
    except OSError as e:
        raise ClusterError(
            f"no Ray cluster at {address} ({e.strerror or e}): start one with `ray start --head`, pass its address "
            "with --ray HOST:PORT, or build without --ray"
        ) from None


def cluster_cpus() -> int:
    import ray

    return max(1, int(ray.cluster_resources().get("CPU", 1)))


def read_on_cluster(files: list[Listed], progress: bool = False) -> list[FileRead]:
    """The files read here (the nodes need not see the articles folder) and parsed on the cluster, PARSE_FILES
    to a task and at most two tasks a CPU at a time; in the files' order. A file that cannot be read here is
    reported here, as a local build does."""
    import ray
    from tqdm import tqdm

    parse = ray.remote(num_cpus=1)(_parse_files)
    in_flight = 2 * cluster_cpus()
    out: list[FileRead | None] = [None] * len(files)
    running: dict[Any, list[int]] = {}  # a task → the positions of its files

    def collect(done: list[Any]) -> None:
        for ref in done:
            for n, got in zip(running.pop(ref), _result(ref), strict=True):
                out[n] = got
                bar.update(1)

    with tqdm(total=len(files), desc="parsing on the cluster", unit="file", disable=not progress) as bar:
        for lo in range(0, len(files), PARSE_FILES):
            group: list[int] = []
            batch: list[tuple[str, bytes, str]] = []
            for n in range(lo, min(lo + PARSE_FILES, len(files))):
                path = Path(files[n].path)
                try:
                    batch.append((files[n].rel, path.read_bytes(), path.suffix))
                    group.append(n)
                except OSError:
                    out[n] = read_file(files[n].rel, path)  # the problem, worded as a local build words it
                    bar.update(1)
            if group:
                running[parse.remote(batch)] = group
            while len(running) >= in_flight:
                collect(ray.wait(list(running), num_returns=1)[0])
        while running:
            collect(ray.wait(list(running), num_returns=1)[0])
    return [got for got in out if got is not None]  # every position is filled by now


def _parse_files(batch: list[tuple[str, bytes, str]]) -> list[FileRead]:
    from qa.ingest.read import read_bytes

    return [read_bytes(rel, data, suffix) for rel, data, suffix in batch]


def _result(ref: Any) -> Any:
    import ray

    try:
        return ray.get(ref)
    except Exception as e:  # what failed on a node, in Ray's own exception types
        raise _failed(e) from None


def _embedding_actor(model: str, batch_size: int, backend: str) -> type:
    """The class of Ray Data's embedding actors for this model (its settings are the class's, so an actor has no
    constructor arguments to keep in the object store)."""

    class Embed:
        def __init__(self) -> None:
            import ray

            from qa.embed.embedder import load_embedder

            # the CPUs Ray gave this actor, not every core of its node (which other actors share)
            cpus = ray.get_runtime_context().get_assigned_resources().get("CPU", 1)
            self.embedder = load_embedder(model, batch_size, backend, cores=max(1, int(cpus)))
            self.node = ray.util.get_node_ip_address()  # which node embeds, for the progress per node

        def __call__(self, batch: dict[str, Any]) -> dict[str, Any]:
            vectors = self.embedder.embed_documents([str(t) for t in batch["embed"]])
            return {**batch, "vector": list(vectors), "node": [self.node] * len(vectors)}

    return Embed


def _chunk_batch(batch: dict[str, Any], size: int, overlap: int) -> dict[str, Any]:
    """A block of articles (their fields as columns) → its chunks, each with the text the model reads, its BM25
    words and where it belongs in a local build's order (article position, chunk position)."""
    from qa.index.build import embed_text
    from qa.ingest.chunk import chunk_article
    from qa.text import tokenize

    rows: dict[str, list[Any]] = {k: [] for k in ("order", "part", "article", "start", "end", "text", "embed")}
    for i in range(len(batch["id"])):
        skip = tuple(tuple(int(x) for x in span) for span in batch["skip"][i])
        article = Article(
            id=str(batch["id"][i]),
            title=str(batch["title"][i]),
            text=str(batch["text"][i]),
            skip=skip,  # type: ignore[arg-type]
        )
        for n, c in enumerate(chunk_article(article, size, overlap)):
            rows["order"].append(int(batch["order"][i]))
            rows["part"].append(n)
            rows["article"].append(c.article)
            rows["start"].append(c.start)
            rows["end"].append(c.end)
            rows["text"].append(c.text)
            rows["embed"].append(embed_text(article, c.text))
    rows["tokens"] = tokenize(rows["embed"]) if rows["embed"] else []
    return rows


def embed_on_cluster(
    articles: list[Article], settings: Settings, progress: bool = False
) -> tuple[list[Chunk], np.ndarray, list[list[str]]]:
    """The chunks of `articles`, their vectors and BM25 words, made on the cluster (connect() first), in the order
    a local build makes them."""
    import ray.data
    from tqdm import tqdm

    context = ray.data.DataContext.get_current()
    context.enable_progress_bars = False  # qa's own bar below; Ray's would print a log line a second
    context.print_on_execution_start = False
    logging.getLogger("ray").setLevel(logging.ERROR)

    items = [
        {"order": n, "id": a.id, "title": a.title, "text": a.text, "skip": [list(s) for s in a.skip]}
        for n, a in enumerate(articles)
    ]
    ds: Any = ray.data.from_items(items, override_num_blocks=max(1, -(-len(items) // BLOCK_ARTICLES)))
    ds = ds.map_batches(
        _chunk_batch, fn_kwargs={"size": settings.chunk_size, "overlap": settings.chunk_overlap}, batch_size=None
    )
    ds = ds.map_batches(
        _embedding_actor(settings.model, settings.batch_size, settings.backend),
        compute=ray.data.ActorPoolStrategy(min_size=1, max_size=cluster_cpus()),
        batch_size=EMBED_BATCH,
        num_cpus=1,
    )
    rows: list[dict[str, Any]] = []
    seen = Progress()
    with tqdm(desc="embedding on the cluster", unit="chunk", disable=not progress, mininterval=1.0) as bar:
        for batch in _batches(ds):
            n = len(batch["article"])
            rows.extend({k: batch[k][i] for k in batch} for i in range(n))
            seen.add(batch["order"], batch["node"])
            bar.update(n)
            bar.set_postfix_str(seen.rates())
    if progress and rows:
        print(f"qa: {seen.summary()}", file=sys.stderr, flush=True)
    rows.sort(key=lambda r: (int(r["order"]), int(r["part"])))
    chunks = [Chunk(str(r["article"]), int(r["start"]), int(r["end"]), str(r["text"])) for r in rows]
    vectors = np.stack([np.asarray(r["vector"], dtype=np.float32) for r in rows]) if rows else np.zeros((0, 0))
    tokens = [[str(t) for t in r["tokens"]] for r in rows]
    return chunks, vectors, tokens


class Progress:
    """What a cluster build has embedded so far: articles and chunks, in all and per node."""

    def __init__(self) -> None:
        self.start = time.perf_counter()
        self.articles: set[int] = set()
        self.nodes: Counter[str] = Counter()

    def add(self, orders: Iterable[Any], nodes: Iterable[Any]) -> None:
        """A batch come back: its chunks' article positions and the node of each."""
        self.articles.update(int(o) for o in orders)
        self.nodes.update(str(n) for n in nodes)

    def rates(self) -> str:
        """The rates so far, e.g. "12 articles/s, 95 chunks/s; 127.0.0.2 48/s, 127.0.0.3 47/s" (per node when there
        are several)."""
        seconds = max(time.perf_counter() - self.start, 1e-9)
        text = f"{len(self.articles) / seconds:.0f} articles/s, {self.nodes.total() / seconds:.0f} chunks/s"
        if len(self.nodes) > 1:
            text += "; " + ", ".join(f"{node} {n / seconds:.0f}/s" for node, n in sorted(self.nodes.items()))
        return text

    def summary(self) -> str:
        """The last line, e.g. "embedded 1,234 chunks of 200 articles on 2 nodes in 21.0 s (127.0.0.2: 640 chunks,
        127.0.0.3: 594 chunks)"."""
        seconds = time.perf_counter() - self.start
        nodes = ", ".join(f"{node}: {n:,} chunks" for node, n in sorted(self.nodes.items()))
        plural = "s" if len(self.nodes) != 1 else ""
        return (
            f"embedded {self.nodes.total():,} chunks of {len(self.articles):,} articles on {len(self.nodes)} "
            f"node{plural} in {seconds:.1f} s ({nodes})"
        )


def _batches(ds: Any) -> Iterator[dict[str, Any]]:
    """The dataset's rows as they come back, a batch at a time; a failed cluster job is one ClusterError line."""
    try:
        yield from ds.iter_batches(batch_size=EMBED_BATCH, batch_format="numpy")
    except Exception as e:  # Ray wraps what failed on a node in its own exception types
        raise _failed(e) from None


def _failed(e: Exception) -> ClusterError:
    """What failed on the cluster, as one line."""
    lines = [line for line in str(e).splitlines() if line.strip()]
    return ClusterError(
        f"the cluster build failed ({(lines[-1] if lines else type(e).__name__)[:300]}): the index was not "
        "changed; check that every node has qa with its `ray` extra and the model, then build again"
    )
