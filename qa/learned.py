"""Learned models are data: each fitted weight set is a file in qa/data/, never floats in code.

A `<name>.json` holds {"model": name, "weights": {field: value}, "stamp": {...}}; a `<name>.npz` holds its arrays
and a "stamp" entry (the same stamp as a JSON string). The stamp says what made the weights, so that anyone can
make them again and see what they were judged on:

    script    the fitting recipe (`python -m train.<name>`), as a path in the repository
    args      its arguments
    commit    the commit whose code ran the fit
    data      {set name: sha256 of its questions and articles}, the training data
    held_out  the figures measured on data the weights were not fitted on
    written   when (UTC)

`weights(name, cls)` loads a JSON weight set into its frozen dataclass; tests/test_learned.py checks every stamp.
"""

from __future__ import annotations

import functools
import json
from dataclasses import fields
from importlib import resources
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from qa.errors import ModelError

STAMP_KEYS = ("script", "args", "commit", "data", "held_out", "written")
T = TypeVar("T")


def data_dir() -> Path:
    return Path(str(resources.files("qa") / "data"))


@functools.cache
def _read(name: str) -> dict[str, Any]:
    path = data_dir() / f"{name}.json"
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise ModelError(f"cannot read the learned weights {path} ({type(e).__name__}): reinstall qa") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("weights"), dict):
        raise ModelError(f"{path} holds no weights: reinstall qa, or rerun its recipe ({name})")
    return doc


def weights(name: str, cls: type[T]) -> T:
    """The weight set `name` (qa/data/<name>.json) as an instance of the dataclass `cls`."""
    values = _read(name)["weights"]
    known = {f.name for f in fields(cls)}  # type: ignore[arg-type]
    unknown = sorted(set(values) - known)
    if unknown:
        raise ModelError(f"qa/data/{name}.json has weights {cls.__name__} does not know ({', '.join(unknown)})")
    return cls(**values)


def stamp(name: str) -> dict[str, Any]:
    """The stamp of a weight set: `name` is a JSON model's name, or an .npz file's name with its suffix."""
    if name.endswith(".npz"):
        with np.load(data_dir() / name) as z:
            return dict(json.loads(str(z["stamp"]))) if "stamp" in z.files else {}
    return dict(_read(name).get("stamp") or {})


def models() -> list[str]:
    """Every weight set shipped: JSON models by name, .npz ones by file name."""
    folder = data_dir()
    return sorted([p.stem for p in folder.glob("*.json")] + [p.name for p in folder.glob("*.npz")])
