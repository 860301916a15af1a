"""The approximate dense index for large corpora (QA_DENSE=hnsw): an HNSW graph over 8-bit vectors.

Segments keep the exact float vectors; the graph is derived from them and kept beside them as
`ann-hnsw-<key>.faiss` with a `.json` naming the segments it covers (so it is recorded on disk, and the same
settings find it again). Loading an index with dense="hnsw" takes the file covering the most live vectors,
adds the vectors of the segments it lacks (an incremental build adds one segment, so this costs one segment's
worth) and saves the result. It builds the graph from scratch when no file fits: when over half of a file's
vectors belong to chunks no longer live (after a compaction or --rebuild every segment is new), or when the
index has more than doubled since the 8-bit ranges were learnt (so rebuilds cost O(n) amortised).

Searching asks the graph for twice the candidates wanted, drops chunks that are no longer live, and re-scores
the rest exactly with the float vectors: scores are true cosines, as with the flat index. bench/perf.py measures
it against flat FAISS on 1M vectors (build time, search p50, RAM, recall@10).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any, cast

import numpy as np

from qa.files import atomic_path, write_atomic

FACTORY = "HNSW32,SQ8"  # 32 links a node, vectors stored in 8 bits a dimension: 1M x 384-d in about 0.7 GB
# Candidates kept while building / searching the graph. Measured on 1M clustered vectors (bench/perf.py):
# construction 40 gave recall@10 0.885 / 0.909 / 0.914 at search 128 / 256 / 512; construction 80 gives
# 0.932 / 0.939 / 0.939 (8-bit storage caps it near 0.94) for 1.6x the build time; search stays under 1 ms.
EF_CONSTRUCTION = 80
EF_SEARCH = 128
_TRAIN_ROWS = 100_000  # the 8-bit quantiser learns each dimension's range from this many vectors
PREFIX = "ann-hnsw-"


def build_hnsw(vectors: np.ndarray, ids: np.ndarray) -> Any:
    """A new HNSW index over `vectors`, searched by and answering with `ids` (chunk ids)."""
    import faiss

    base = faiss.index_factory(vectors.shape[1], FACTORY, faiss.METRIC_INNER_PRODUCT)
    hnsw: Any = faiss.downcast_index(base)  # faiss's stubs type it as a plain Index
    hnsw.hnsw.efConstruction = EF_CONSTRUCTION
    index = faiss.IndexIDMap(base)
    step = max(1, len(vectors) // _TRAIN_ROWS)
    index.train(np.ascontiguousarray(vectors[::step], dtype=np.float32))
    add(index, vectors, ids)
    return index


def add(index: Any, vectors: np.ndarray, ids: np.ndarray) -> None:
    if len(ids):
        index.add_with_ids(np.ascontiguousarray(vectors, dtype=np.float32), np.ascontiguousarray(ids, dtype=np.int64))


def search(index: Any, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Scores and ids of about the k nearest (-1 ids where fewer were found)."""
    import faiss

    params = cast(Any, faiss).SearchParametersHNSW(efSearch=max(EF_SEARCH, k))  # missing from faiss's stubs
    scores, ids = index.search(np.ascontiguousarray(queries, dtype=np.float32), k, params=params)
    return scores, ids


class RowMap:
    """Chunk id -> row of the loaded index; ids of chunks that are no longer live map to nothing."""

    def __init__(self, ids: np.ndarray) -> None:
        self.order = np.argsort(ids, kind="stable")
        self.sorted = ids[self.order]

    def __call__(self, ids: np.ndarray) -> np.ndarray:
        """The rows of these ids, in their order, the ids of removed chunks left out."""
        pos = np.minimum(np.searchsorted(self.sorted, ids), max(len(self.sorted) - 1, 0))
        found = (ids >= 0) & (self.sorted[pos] == ids) if len(self.sorted) else np.zeros(len(ids), dtype=bool)
        return np.asarray(self.order[pos[found]])


def live_rows(index: Any, query: np.ndarray, n: int, rows: RowMap) -> np.ndarray:
    """Rows of at least n live chunks near the query (all there are, if fewer): 2n asked of the graph, and more
    while chunks that are no longer live crowd the nearest ones out."""
    want = 2 * n
    while True:
        want = min(want, int(index.ntotal))
        _, ids = search(index, query, want)
        found = rows(ids[0])
        if len(found) >= n or want == index.ntotal:
            return found
        want *= 4


def load_or_build(index_dir: Path, segments: dict[str, tuple[int, int]], vectors: np.ndarray, ids: np.ndarray) -> Any:
    """The graph over the live vectors: `segments` maps each live segment to its rows in `vectors`/`ids`."""
    import faiss

    dim = vectors.shape[1]
    best = _best_file(index_dir, segments, dim, len(ids))
    index, covered, trained = None, [], len(ids)
    if best is not None:
        try:
            index = faiss.read_index(str(index_dir / best["file"]))
            covered, trained = best["segments"], best["trained"]
        except RuntimeError:  # damaged or half-removed: build anew
            index = None
    if index is None:
        index, covered, trained = build_hnsw(vectors, ids), list(segments), len(ids)
    for seg, (start, end) in segments.items():
        if seg not in covered:
            add(index, vectors[start:end], ids[start:end])
    if best is None or set(covered) != set(segments):
        _save(index_dir, index, sorted(segments), dim, trained)
    return index


def _best_file(index_dir: Path, segments: dict[str, tuple[int, int]], dim: int, rows: int) -> dict[str, Any] | None:
    """The record of the saved graph worth extending, if any: built for these settings, over segments that are all
    still live, mostly of live chunks, and with its 8-bit ranges learnt on at least half as many vectors as now."""
    best: dict[str, Any] | None = None
    for path in index_dir.glob(f"{PREFIX}*.json"):
        try:
            meta = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if meta.get("factory") != FACTORY or meta.get("dim") != dim or not set(meta["segments"]) <= set(segments):
            continue
        live = sum(end - start for seg, (start, end) in segments.items() if seg in meta["segments"])
        if live < 0.5 * meta["rows"] or 2 * meta.get("trained", 0) < rows or not (index_dir / meta["file"]).exists():
            continue  # a fresh graph is better: fewer removed chunks to step over, ranges learnt on today's vectors
        if best is None or live > best["live"]:
            best = {**meta, "live": live}
    return best


def _save(index_dir: Path, index: Any, segments: list[str], dim: int, trained: int) -> None:
    """Write the graph and its record atomically, then remove older graphs. A read-only index keeps it in memory."""
    import faiss

    key = hashlib.sha256(json.dumps([FACTORY, segments]).encode()).hexdigest()[:12]
    name = f"{PREFIX}{key}"
    meta = {"kind": "hnsw", "factory": FACTORY, "dim": dim, "rows": int(index.ntotal), "trained": trained}
    meta["segments"] = segments
    meta["file"] = f"{name}.faiss"
    try:
        with atomic_path(index_dir / f"{name}.faiss") as tmp:
            faiss.write_index(index, str(tmp))
        write_atomic(index_dir / f"{name}.json", json.dumps(meta).encode())  # the record last: a graph without
        for path in index_dir.glob(f"{PREFIX}*"):  # one is never read
            if not path.name.startswith(name):
                path.unlink(missing_ok=True)
    except OSError:
        pass  # a read-only index: the graph lives in memory only
