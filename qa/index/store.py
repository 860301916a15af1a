"""The index on disk, and loading it back.

Layout of index/:
    manifest.json              what is live: format, model, chunker, articles (hash, chunk-id range, segment)
    seg-NNNNNN.faiss           vectors of one build's new chunks (flat inner-product index)
    seg-NNNNNN.chunks.jsonl    {"id", "article", "start", "end"} for each vector, in the same order
    seg-NNNNNN.articles.jsonl  the articles those chunks came from, with their full text
    seg-NNNNNN.tokens.npz      the chunks' BM25 tokens (stemmed words), same order, and where they split into
                               the title's and each sentence's (qa/index/lexical.py)
    ann-hnsw-*.faiss / .json   with QA_DENSE=hnsw only: the approximate index over the live vectors (qa/index/ann.py)

A build only adds a segment, then atomically replaces manifest.json (qa/index/manifest.py); a chunk is live while
the manifest lists its id in a live article's range. So a build killed at any moment leaves the old manifest
pointing at untouched files, and a one-article add writes one article's worth, however big the index is.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np
import orjson

from qa.config import DEFAULT_DENSE, DENSE_KINDS, check_choice
from qa.errors import IndexMismatchError
from qa.files import atomic_path, write_atomic
from qa.index.lexical import BM25Index, Runs, SegmentTokens, sentence_runs, write_tokens
from qa.index.manifest import MANIFEST, ArticleEntry, Manifest, require_manifest
from qa.types import Article, Chunk, Passage


def seg_files(seg: str) -> tuple[str, str, str, str]:
    return f"{seg}.faiss", f"{seg}.chunks.jsonl", f"{seg}.articles.jsonl", f"{seg}.tokens.npz"


# ---- writing ---------------------------------------------------------------------------------------


def _jsonl(rows: Iterable[dict[str, Any]]) -> bytes:
    return b"".join(orjson.dumps(r) + b"\n" for r in rows)


def write_segment(
    index_dir: Path,
    seg: str,
    ids: np.ndarray,
    chunks: list[Chunk],
    vectors: np.ndarray,
    tokens: list[list[str]],
    articles: list[Article],
) -> dict[str, int]:
    """Write one segment's four files; returns their sizes in bytes (the manifest records them: qa index status
    checks them)."""
    import faiss

    faiss_name, chunks_name, articles_name, tokens_name = seg_files(seg)
    titles = {a.id: a.title for a in articles}
    runs = sentence_runs([titles[c.article] for c in chunks], [c.text for c in chunks], tokens)
    write_tokens(index_dir / tokens_name, tokens, runs)
    # Inner product on normalised vectors is cosine similarity; flat = exact search.
    flat = faiss.IndexFlatIP(vectors.shape[1])
    flat.add(np.ascontiguousarray(vectors, dtype=np.float32))
    with atomic_path(index_dir / faiss_name) as tmp:
        faiss.write_index(flat, str(tmp))
    write_atomic(
        index_dir / chunks_name,
        _jsonl(
            {"id": int(i), "article": c.article, "start": c.start, "end": c.end}
            for i, c in zip(ids, chunks, strict=True)
        ),
    )
    write_atomic(
        index_dir / articles_name,
        _jsonl(
            {
                "id": a.id,
                "title": a.title,
                "date": a.date,
                "source": a.source,
                "url": a.url,
                "skip": [list(s) for s in a.skip],
                "text": a.text,
                **({"date_inferred": True} if a.date_inferred else {}),
            }
            for a in articles
        ),
    )
    return {name: (index_dir / name).stat().st_size for name in seg_files(seg)}


_FAISS_MAGIC = b"IxF"  # the header of a flat FAISS index file (IxFI: inner product)


def damaged(index_dir: Path, manifest: Manifest) -> dict[str, str]:
    """Segment -> what is wrong with its files (missing, another size than the manifest recorded, not a FAISS
    index), for every segment that is damaged; cheap: no file is read but a FAISS header."""
    out: dict[str, str] = {}
    for seg in manifest.segments:
        for name in seg_files(seg):
            path = index_dir / name
            try:
                size = path.stat().st_size
            except OSError:
                out[seg] = f"{name} is missing"
                break
            recorded = manifest.file_sizes.get(name)
            if recorded is not None and size != recorded:
                out[seg] = f"{name} is {size:,} bytes, the manifest recorded {recorded:,}"
                break
            if name.endswith(".faiss"):
                with open(path, "rb") as f:
                    if f.read(3) != _FAISS_MAGIC:
                        out[seg] = f"{name} is not a FAISS index"
                        break
    return out


def remove_orphans(index_dir: Path, manifest: Manifest) -> int:
    """Delete segment and temp files the manifest does not reference (left by replaced or killed builds)."""
    keep = {MANIFEST, ".lock"} | {name for seg in manifest.segments for name in seg_files(seg)}
    removed = 0
    for path in index_dir.iterdir():
        if path.is_file() and path.name not in keep and (path.name.startswith(("seg-", ".seg-", ".manifest"))):
            path.unlink(missing_ok=True)
            removed += 1
    return removed


# ---- reading ---------------------------------------------------------------------------------------


class Index:
    """A loaded index: live articles, live chunks and their vectors, searched exactly (flat FAISS) or, with
    dense="hnsw", through an HNSW graph kept beside the segments (qa/index/ann.py)."""

    def __init__(self, index_dir: Path, manifest: Manifest, dense: str = DEFAULT_DENSE) -> None:
        import faiss

        self.dir = index_dir
        self.manifest = manifest
        self.dense = check_choice("dense", dense, DENSE_KINDS)
        self.segment_rows: dict[str, tuple[int, int]] = {}  # each segment's live rows, start and end
        live = manifest.articles
        self.articles: dict[str, Article] = {}
        self.chunks: list[Chunk] = []
        ids: list[np.ndarray] = []
        vectors: list[np.ndarray] = []
        self.tokens: list[list[str]] = []  # BM25 tokens of each live chunk, same order as self.chunks
        self.runs: list[Runs] = []  # where each live chunk's tokens split into its title's and sentences' (or None)
        for seg in manifest.segments:
            faiss_name, chunks_name, articles_name, tokens_name = seg_files(seg)
            try:
                for row in _read_jsonl(index_dir / articles_name):
                    entry = live.get(row["id"])
                    if entry is not None and entry.segment == seg:
                        self.articles[row["id"]] = _article(row)
                rows = list(_read_jsonl(index_dir / chunks_name))
                flat = faiss.read_index(str(index_dir / faiss_name))
                seg_tokens = SegmentTokens(index_dir / tokens_name)
            except (OSError, RuntimeError, ValueError, KeyError) as e:
                what = damaged(index_dir, manifest).get(seg) or f"{type(e).__name__} reading it"
                raise IndexMismatchError(
                    f"{index_dir} is damaged ({seg}: {what}): run `qa index build` to embed what it held again, "
                    "or `qa index build --rebuild`"
                ) from None
            keep = [n for n, r in enumerate(rows) if _is_live(r, live, seg)]
            self.segment_rows[seg] = (len(self.chunks), len(self.chunks) + len(keep))
            if not keep:
                continue
            seg_vectors = flat.reconstruct_n(0, flat.ntotal)
            vectors.append(seg_vectors[keep])
            ids.append(np.array([rows[n]["id"] for n in keep], dtype=np.int64))
            self.tokens.extend(seg_tokens.rows(keep))
            self.runs.extend(seg_tokens.run_rows(keep))
            for n in keep:
                r = rows[n]
                text = self.articles[r["article"]].text
                self.chunks.append(Chunk(r["article"], r["start"], r["end"], text[r["start"] : r["end"]]))
        self.dim = manifest.dim
        self.ids = np.concatenate(ids) if ids else np.zeros(0, dtype=np.int64)
        self.vectors = np.vstack(vectors) if vectors else np.zeros((0, self.dim), dtype=np.float32)

    @functools.cached_property
    def faiss(self) -> Any:
        """The exact (flat, inner product) FAISS index over the live vectors, row for row."""
        import faiss

        flat = faiss.IndexFlatIP(self.dim)
        flat.add(self.vectors)
        return flat

    @functools.cached_property
    def ann(self) -> Any:
        """The HNSW index over the live vectors (by chunk id), or None with dense="flat"."""
        if self.dense == "flat" or not self.chunks:
            return None
        from qa.index import ann

        return ann.load_or_build(self.dir, self.segment_rows, self.vectors, self.ids)

    @functools.cached_property
    def rows(self) -> Any:
        """Chunk id -> row (qa.index.ann.RowMap), for what the HNSW index answers."""
        from qa.index import ann

        return ann.RowMap(self.ids)

    def dense_search(self, query: np.ndarray, n: int, allowed: np.ndarray | None = None) -> list[tuple[int, float]]:
        """(row, cosine) of the n rows nearest to a normalised query vector, best first; only `allowed` rows
        when given. Exact with dense="flat"; with "hnsw", graph candidates re-scored exactly, and a restricted
        search (`allowed`) is exact over the allowed rows."""
        n = min(n, len(self.chunks))
        if n <= 0:
            return []
        q = np.ascontiguousarray(query.reshape(1, -1), dtype=np.float32)
        if self.ann is None:
            import faiss

            params = None
            if allowed is not None:
                selector = faiss.IDSelectorBatch(allowed)  # a local keeps it alive while faiss holds a pointer to it
                params = faiss.SearchParameters()
                params.sel = selector
            scores, rows = self.faiss.search(q, n, params=params)
            return [(int(r), float(s)) for r, s in zip(rows[0], scores[0], strict=True) if r >= 0]
        if allowed is None:
            from qa.index import ann

            candidates = ann.live_rows(self.ann, q, n, self.rows)
        else:
            candidates = np.asarray(allowed, dtype=np.int64)
        exact = self.vectors[candidates] @ q[0]
        best = np.argsort(-exact, kind="stable")[:n]
        return [(int(candidates[i]), float(exact[i])) for i in best]

    @functools.cached_property
    def bm25(self) -> BM25Index:
        """Built on first use: a build that only compacts never needs it."""
        return BM25Index(self.tokens)

    @classmethod
    def load(cls, index_dir: Path, dense: str = DEFAULT_DENSE) -> Index:
        """The index in index_dir; `dense` is flat or hnsw (Settings.dense)."""
        index = cls(index_dir, require_manifest(index_dir), dense)
        _ = index.ann  # an approximate index is loaded (or brought up to date) now, not by the first search
        return index

    def __len__(self) -> int:
        return len(self.chunks)

    def passage(self, row: int, score: float, rank: int) -> Passage:
        """Row `row`'s chunk as a retrieved passage, with its article's title and date."""
        chunk = self.chunks[row]
        article = self.articles[chunk.article]
        return Passage(chunk, score, rank, article.title, article.date, article.date_inferred)

    def search(self, query: np.ndarray, k: int) -> list[Passage]:
        """The k chunks nearest to a normalised query vector, best first."""
        if k <= 0:
            raise ValueError(f"k must be greater than 0, got {k}")
        return [self.passage(r, s, rank) for rank, (r, s) in enumerate(self.dense_search(query, k), start=1)]


def _is_live(row: dict[str, Any], live: dict[str, ArticleEntry], seg: str) -> bool:
    entry = live.get(row["article"])
    if entry is None or entry.segment != seg:
        return False
    lo, hi = entry.chunks
    return bool(lo <= row["id"] < hi)


def _read_jsonl(path: Path) -> Iterable[dict[str, Any]]:
    with open(path, "rb") as f:
        for line in f:
            if line.strip():
                yield orjson.loads(line)


def _article(row: dict[str, Any]) -> Article:
    return Article(
        id=row["id"],
        title=row["title"],
        text=row["text"],
        date=row.get("date"),
        source=row.get("source"),
        url=row.get("url"),
        skip=tuple((s, e) for s, e in row.get("skip", [])),
        date_inferred=bool(row.get("date_inferred", False)),
    )
