"""Synthetic news-sized corpora made from squad-dev16, for benchmarks at scale.

Method: every article of squad-dev16 is a list of paragraphs; a synthetic article is a window of 2 to 4
consecutive paragraphs of one of them (title "<Title> (paragraphs i-j)"), so every text is real prose,
distinct, and 1,400-2,800 characters long like a news story. Windows are shuffled with a fixed seed and
the first N are written, one .txt file each. squad-dev16 yields 2,259 such windows.
"""

from __future__ import annotations

import random
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SQUAD_ARTICLES = ROOT / "eval" / "squad-dev16" / "articles"


def windows(sizes: tuple[int, ...] = (2, 3, 4), seed: int = 13) -> list[tuple[str, str]]:
    out = []
    for path in sorted(SQUAD_ARTICLES.glob("*.txt")):
        title, *paras = [p.strip() for p in path.read_text(encoding="utf-8").split("\n\n") if p.strip()]
        for size in sizes:
            for i in range(len(paras) - size + 1):
                out.append((f"{title} (paragraphs {i + 1}-{i + size})", "\n\n".join(paras[i : i + size])))
    random.Random(seed).shuffle(out)
    return out


def write_corpus(folder: Path, n: int, skip: int = 0) -> list[Path]:
    """Write articles skip..skip+n-1 of the shuffled windows into `folder` as 000123.txt files."""
    all_windows = windows()
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
