"""Synthetic news-sized corpora made from squad-dev16, for benchmarks at scale.

Method: every article of squad-dev16 is a list of paragraphs; a synthetic article is a window of 2 to 4
consecutive paragraphs of one of them (title "<Title> (paragraphs i-j)"), so every text is real prose,
distinct, and 1,400-2,800 characters long like a news story. Windows are shuffled with a fixed seed and
the first N are written, one .txt file each. squad-dev16 yields 2,259 such windows.

The large corpus (bench/perf.py, about 5,000 articles) uses windows of 2 to 8 paragraphs: 5,047 distinct
articles, 3,500 characters on average (median 3,200; 500-600 words, a long news story); the first 5,000 of
them in the same shuffled order.

Synthetic vectors (bench/perf.py's scale part) are clustered, not uniform noise, so that nearest neighbours
mean something: 2,000 random unit centres in 384 dimensions; each vector is a centre plus Gaussian noise whose
spread falls off over a random basis (standard deviation 0.12 / sqrt(i) along the i-th direction, so most of
the variation lies in a few dozen directions, as in real sentence embeddings), normalised to unit length.
Queries are drawn the same way (new points, not copies of stored ones).
"""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np

from bench.common import data_dir

LARGE_SIZES = (2, 3, 4, 5, 6, 7, 8)


def squad_articles() -> Path:
    return data_dir() / "articles"


def windows(sizes: tuple[int, ...] = (2, 3, 4), seed: int = 13) -> list[tuple[str, str]]:
    out = []
    for path in sorted(squad_articles().glob("*.txt")):
        title, *paras = [p.strip() for p in path.read_text(encoding="utf-8").split("\n\n") if p.strip()]
        for size in sizes:
            for i in range(len(paras) - size + 1):
                out.append((f"{title} (paragraphs {i + 1}-{i + size})", "\n\n".join(paras[i : i + size])))
    random.Random(seed).shuffle(out)
    return out


def write_corpus(folder: Path, n: int, skip: int = 0, sizes: tuple[int, ...] = (2, 3, 4)) -> list[Path]:
    """Write articles skip..skip+n-1 of the shuffled windows into `folder` as 000123.txt files."""
    all_windows = windows(sizes)
    if skip + n > len(all_windows):
        raise SystemExit(f"squad-dev16 gives {len(all_windows)} windows; asked for {skip + n}")
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for k in range(skip, skip + n):
        title, text = all_windows[k]
        path = folder / f"{k:06d}.txt"
        path.write_text(f"---\ntitle: {title!r}\n---\n{text}\n", encoding="utf-8")
        paths.append(path)
    return paths


def synthetic_vectors(n: int, dim: int = 384, seed: int = 7, centres: int = 2000) -> np.ndarray:
    """n clustered unit vectors (see the module docstring); the same seed gives the same vectors and queries
    come from another seed."""
    rng = np.random.default_rng(1234)  # the clusters are the same for every seed
    centre = rng.standard_normal((centres, dim)).astype(np.float32)
    centre /= np.linalg.norm(centre, axis=1, keepdims=True)
    basis = np.linalg.qr(rng.standard_normal((dim, dim)))[0].astype(np.float32)
    spread = (0.12 / np.sqrt(np.arange(1, dim + 1))).astype(np.float32)
    rng = np.random.default_rng(seed)
    out = np.empty((n, dim), dtype=np.float32)
    for start in range(0, n, 100_000):
        m = min(100_000, n - start)
        noise = (rng.standard_normal((m, dim), dtype=np.float32) * spread) @ basis.T
        v = centre[rng.integers(0, centres, m)] + noise
        out[start : start + m] = v / np.linalg.norm(v, axis=1, keepdims=True)
    return out
