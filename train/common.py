"""What the fitting recipes share: the question sets they learn from, an index of a set's articles, and writing a
weight set into qa/data/ stamped with what made it (qa.learned)."""

from __future__ import annotations

import datetime as dt
import io
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np

from qa import learned
from qa.config import Settings
from qa.embed.embedder import load_embedder
from qa.eval import sets
from qa.files import write_atomic
from qa.index.build import build
from qa.pipeline import QA

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"  # intermediate files (git-ignored)


def data_dir(name: str) -> Path:
    """The folder of a public question set, or exit with the one-line reason it is not here."""
    folder = sets.find(name)
    if folder is None:
        raise SystemExit(f"error: {sets.missing(name)}")
    return folder


def questions(folder: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (folder / "questions.jsonl").read_text().splitlines() if line.strip()]


def open_qa(articles: Path, index: Path, **settings: Any) -> QA:
    """`articles` built into `index` (incrementally) and opened, with the packaged model."""
    s = Settings(index=index, articles=articles, **settings)
    embedder = load_embedder()
    build(s, embedder=embedder)
    return QA.open(s, embedder=embedder)


def commit() -> str:
    """The commit whose code runs the fit (with "+dirty" when the working tree has changes)."""
    try:
        head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=True)
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "qa", "train"], cwd=ROOT, capture_output=True, text=True
        )
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return head.stdout.strip() + ("+dirty" if dirty.stdout.strip() else "")


def stamp(
    script: str, data: dict[str, Path], held_out: dict[str, Any], args: list[str] | None = None
) -> dict[str, Any]:
    """What made a weight set: the recipe, its arguments, the commit, the training sets' hashes, held-out figures."""
    return {
        "script": script,
        "args": sys.argv[1:] if args is None else args,
        "commit": commit(),
        "data": {name: sets.digest(folder) for name, folder in data.items()},
        "held_out": held_out,
        "written": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    }


def write_json_model(name: str, weights: dict[str, float], stamp: dict[str, Any]) -> Path:
    """qa/data/<name>.json: the weights and their stamp."""
    path = learned.data_dir() / f"{name}.json"
    doc = {"model": name, "weights": {k: round(float(v), 6) for k, v in weights.items()}, "stamp": stamp}
    write_atomic(path, (json.dumps(doc, indent=1) + "\n").encode())
    print(f"wrote {path}", flush=True)
    return path


def write_npz_model(path: Path, arrays: dict[str, np.ndarray], stamp: dict[str, Any]) -> Path:
    """An .npz weight set with its stamp as the "stamp" entry (a JSON string)."""
    buf = io.BytesIO()
    np.savez_compressed(buf, **arrays, stamp=np.array(json.dumps(stamp)))
    write_atomic(path, buf.getvalue())
    print(f"wrote {path}", flush=True)
    return path


def fold_readers(squad: Path) -> dict[str, Any]:
    """Article -> the reader of the cross-validation fold that held it out (`python -m train.reader train --fold
    0|1`, in bench/results/reader_fold*.npz)."""
    from qa.answer.reader import Reader

    articles = sorted(p.name for p in (squad / "articles").glob("*.txt"))
    out = {}
    for path in sorted(RESULTS.glob("reader_fold*.npz")):
        with np.load(path) as z:
            trained_on = set(json.loads(str(z["info"]))["trained_on"])
        reader = Reader(path)
        out.update({a: reader for a in articles if a not in trained_on})
    if len(out) < len(articles):
        raise SystemExit("error: no fold readers: run `python -m train.reader train --fold 0` and `--fold 1` first")
    return out


def fold_span_weights() -> dict[str, np.ndarray]:
    """Article -> the short-answer weights of the cross-validation fold that held it out (`python -m train.span
    --save`, in bench/results/span_fold*.npz)."""
    from qa.answer import spans

    out = {}
    for path in sorted(RESULTS.glob("span_fold*.npz")):
        with np.load(path) as z:
            w = np.zeros(spans.DIM, dtype=np.float32)
            w[z["index"]] = z["value"]
            out.update({a: w for a in z["held"]})
    if not out:
        raise SystemExit("error: no fold span models: run `python -m train.span --save` first")
    return out
