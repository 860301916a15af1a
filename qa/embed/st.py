"""The "torch" backend: sentence-transformers as it is (and the loader the ONNX export and the reader start from)."""

from __future__ import annotations

from typing import Any

import numpy as np

from qa.embed.base import model_path, offline
from qa.errors import ModelError


def load_sentence_transformer(name: str, **model_kwargs: Any) -> Any:
    offline()
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


class TorchRunner:
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
