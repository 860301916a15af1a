"""What the fitting recipes share: the question sets they learn from, an index of a set's articles, and writing a
weight set into qa/data/ stamped with what made it (qa.learned)."""

from __future__ import annotations

import argparse
import datetime as dt
import io
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np

from bench.common import RESULTS, ROOT, data_dir, questions
from qa import learned
from qa.config import DEFAULT_READER_INT8, Settings
from qa.embed.embedder import load_embedder
from qa.eval import sets
from qa.files import write_atomic
from qa.index.build import build
from qa.pipeline import QA

__all__ = ["RESULTS", "ROOT", "data_dir", "questions"]  # the benchmarks' own, shared with the recipes


def open_qa(articles: Path, index: Path, **settings: Any) -> QA:
    """`articles` built into `index` (incrementally) and opened, with the packaged model."""
    s = Settings(index=index, articles=articles, **settings)
    embedder = load_embedder()
    build(s, embedder=embedder)
    return QA.open(s, embedder=embedder)


def commit() -> str:
    """The commit whose code runs the fit (with "+dirty" when its code has changes: qa/ and train/, the weight sets
    in qa/data, which fits write, left aside)."""
    try:
        head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=True)
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "qa", "train", ":(exclude)qa/data"],
            cwd=ROOT,
            capture_output=True,
            text=True,
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
    entries: dict[str, Any] = {**arrays, "stamp": np.array(json.dumps(stamp))}
    np.savez_compressed(buf, **entries)
    write_atomic(path, buf.getvalue())
    print(f"wrote {path}", flush=True)
    return path


def add_reader_int8(parser: argparse.ArgumentParser) -> None:
    """--reader-int8 / --no-reader-int8: the reader quantised or not, `qa ask`'s default (QA_READER_INT8) unless
    given, for the dumps and benches that read as it does."""
    parser.add_argument(
        "--reader-int8",
        action=argparse.BooleanOptionalAction,
        default=DEFAULT_READER_INT8,
        help="the reader quantised to int8, as QA_READER_INT8 (--no-reader-int8: float)",
    )


def half_readers(results: Path = RESULTS, int8: bool = False) -> dict[int, Any]:
    """Half (0 or 1) -> the reader trained on the other half of both sets (`python -m train.reader train --fold K`
    writes one holding half K out; bench/results/reader_fold*.npz). Both halves' readers are found before either is
    loaded (a first load exports it to ONNX): a missing one is a one-line error naming the run that makes it.
    `int8`: quantised, as QA_READER_INT8 runs the shipped one."""
    from qa.answer.reader import Reader

    paths: dict[int, Path] = {}
    for path in sorted(results.glob("reader_fold*.npz")):
        with np.load(path) as z:
            half = json.loads(str(z["info"])).get("held_fold")
        if half in (0, 1):
            paths[half] = path
    missing = [half for half in (0, 1) if half not in paths]
    if missing:
        runs = " and ".join(f"`python -m train.reader train --fold {h}`" for h in missing)
        raise SystemExit(f"error: no fold reader holding half {' or '.join(map(str, missing))} out: run {runs} first")
    return {half: Reader(path, int8=int8) for half, path in paths.items()}


def fold_span_weights() -> dict[str, np.ndarray]:
    """Question id -> the short-answer weights of the half that held it out (`python -m train.span --save`, in
    bench/results/span_fold*.npz)."""
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


# ---- both question sets, with their folds ------------------------------------------------------------------------

SETS = ("squad-dev16", "realtimeqa-dev")
WORK = RESULTS / "work"  # the sets' indexes, kept between runs (a news index takes half an hour to build)


def set_questions(name: str) -> list[dict[str, Any]]:
    """The answerable questions of a set, each with its `fold` (0 or 1): squad-dev16 by article (every other
    article in name order), realtimeqa-dev by week (every other week of the questions' weeks in date order)."""
    qs = [q for q in questions(data_dir(name)) if q["answers"]]
    if name == "squad-dev16":
        keys = sorted({q["source_articles"][0] for q in qs})
        fold_of = {k: i % 2 for i, k in enumerate(keys)}
        return [{**q, "fold": fold_of[q["source_articles"][0]]} for q in qs]
    weeks = sorted({week(q) for q in qs})
    fold_of = {w: i % 2 for i, w in enumerate(weeks)}
    return [{**q, "fold": fold_of[week(q)]} for q in qs]


def week(q: dict[str, Any]) -> str:
    """A realtimeqa-dev question's quiz week (its id is rtqa-<YYYYMMDD of the week's file>_<n>)."""
    return str(q["id"]).removeprefix("rtqa-").split("_")[0]


def asked_on(q: dict[str, Any]) -> dt.date | None:
    return dt.date.fromisoformat(q["asked_at"]) if q.get("asked_at") else None


def open_set(name: str, **settings: Any) -> QA:
    """The set's articles built (incrementally) into WORK/<name> and opened."""
    return open_qa(data_dir(name) / "articles", WORK / name, **settings)


def fit_listwise(
    groups: list[tuple[np.ndarray, np.ndarray, float]],
    l2: float = 1e-4,
    steps: int = 500,
    fixed: dict[int, float] | None = None,
) -> np.ndarray:
    """Weights of a listwise softmax: each group (a question's candidates' features, which are right, its weight)
    puts its probability on its right candidates (Adam, full batch). Groups with no right candidate are left out.
    `fixed`: columns whose weight is held at a multiple of column 0's (a weight the data cannot tell, set by
    design), the others fitted around it."""
    usable = [(f, g / g.sum(), w) for f, g, w in groups if g.any()]
    X = np.vstack([f for f, _, _ in usable]).astype(np.float64)
    y = np.concatenate([t for _, t, _ in usable])
    gid = np.concatenate([[i] * len(f) for i, (f, _, _) in enumerate(usable)])
    weight = np.array([w for _, _, w in usable])
    weight = weight / weight.sum()
    n = len(usable)
    w = np.zeros(X.shape[1])
    m, v = np.zeros_like(w), np.zeros_like(w)
    for step in range(1, steps + 1):
        s = X @ w
        mx = np.full(n, -np.inf)
        np.maximum.at(mx, gid, s)
        e = np.exp(s - mx[gid])
        p = e / np.bincount(gid, weights=e, minlength=n)[gid]
        g = X.T @ ((p - y) * weight[gid]) + l2 * w
        m = 0.9 * m + 0.1 * g
        v = 0.999 * v + 0.001 * g * g
        w -= 0.05 * (m / (1 - 0.9**step)) / (np.sqrt(v / (1 - 0.999**step)) + 1e-8)
        for j, value in (fixed or {}).items():
            w[j] = value * w[0]
    return w
