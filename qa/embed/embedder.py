"""Sentence embeddings: the packaged all-MiniLM-L6-v2 by default, any sentence-transformers model by name or path.

Vectors are L2-normalised float32, so inner product is cosine similarity. Three backends run the same model
(Settings.backend, QA_BACKEND; figures in docs/performance.md, from bench/perf.py):

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

The export is qa/embed/export.py, the ONNX runner qa/embed/onnx.py, the torch one qa/embed/st.py.
"""

from __future__ import annotations

import functools
import gc
import io
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from qa.config import BACKENDS, DEFAULT_BACKEND, DEFAULT_MODEL, Settings, check_choice, default_cache_dir
from qa.embed.base import Runner, model_id, offline
from qa.embed.export import onnx_export
from qa.embed.onnx import OnnxRunner
from qa.embed.st import TorchRunner

# Texts per encode() call: big enough to sort by length and batch well, small enough for the progress bar to move.
_PROGRESS_STEP = 256


class Embedder:
    """A loaded embedding model with qa's document/query sides."""

    def __init__(
        self,
        name: str = DEFAULT_MODEL,
        batch_size: int = 32,
        backend: str = DEFAULT_BACKEND,
        cache_dir: Path | None = None,
        cores: int = 0,
    ) -> None:
        """`cores`: the CPU cores the ONNX backends may use (0: every core this process may run on); a Ray actor
        passes the CPUs it was given, so the actors of one node do not each take all its cores."""
        offline()
        self.name = name
        self.batch_size = batch_size
        self.backend = check_choice("backend", backend, BACKENDS)
        self.id = model_id(name)
        if self.backend == "torch":
            self.runner: Runner = TorchRunner(name)
        else:
            folder = onnx_export(name, cache_dir or default_cache_dir(), int8=self.backend == "onnx-int8")
            self.runner = OnnxRunner(folder, workers=cores)
        self.dim = self.runner.dim
        # torch and transformers leave ~1M long-lived objects on the heap; every full garbage collection
        # walked them all (0.26 s each, measured), stalling builds and searches at random. Frozen objects
        # are skipped by the collector; they live as long as the process anyway.
        gc.freeze()

    def embed_documents(self, texts: Sequence[str], progress: bool = False) -> np.ndarray:
        """Document-side vectors. `progress`: a bar on a terminal; where stderr is not one (a service's log), a plain
        line every PROGRESS_EVERY seconds once the work has taken that long."""
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        from tqdm import tqdm

        # Longest first over all the texts, not only within each step: every batch then holds texts of about
        # the same length, and padding costs next to nothing.
        order = np.argsort([-len(t) for t in texts], kind="stable")
        out = np.empty((len(texts), self.dim), dtype=np.float32)
        terminal = sys.stderr.isatty()
        lines = _Lines(len(texts)) if progress and not terminal else None
        bar_file = None if terminal else io.StringIO()  # a bar only on a terminal; still one for Gradio to follow
        with tqdm(
            total=len(texts), desc="embedding", unit="chunk", disable=not progress, leave=False, file=bar_file
        ) as bar:
            for i in range(0, len(texts), _PROGRESS_STEP):
                rows = order[i : i + _PROGRESS_STEP]
                out[rows] = self._encode([texts[r] for r in rows], query=False)
                bar.update(len(rows))
                if lines is not None:
                    lines.update(len(rows))
        return out

    def embed_query(self, text: str) -> np.ndarray:
        return self._encode([text], query=True)[0]

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self._encode(list(texts), query=True)

    def _encode(self, texts: list[str], query: bool) -> np.ndarray:
        vectors = self.runner.encode(texts, query, self.batch_size)
        return np.ascontiguousarray(vectors, dtype=np.float32)


PROGRESS_EVERY = 5.0  # seconds between the plain progress lines of a long build


class _Lines:
    """Progress as plain lines on stderr ("qa: embedding 35% (1,234 of 3,500 chunks, 41 chunks/s)")."""

    def __init__(self, total: int) -> None:
        self.total, self.done = total, 0
        self.start = self.last = time.monotonic()

    def update(self, n: int) -> None:
        self.done += n
        now = time.monotonic()
        if now - self.last >= PROGRESS_EVERY or (self.done == self.total and now - self.start >= PROGRESS_EVERY):
            self.last = now
            rate = self.done / max(now - self.start, 1e-9)
            print(
                f"qa: embedding {100 * self.done // self.total}% ({self.done:,} of {self.total:,} chunks, "
                f"{rate:.0f} chunks/s)",
                file=sys.stderr,
                flush=True,
            )


def load_embedder(
    name: str = DEFAULT_MODEL,
    batch_size: int = 32,
    backend: str = DEFAULT_BACKEND,
    cache_dir: Path | None = None,
    cores: int = 0,
) -> Embedder:
    """One loaded model per (name, batch size, backend, cache, cores) per process: loading is the slow part."""
    return _cached_embedder(name, batch_size, backend, cache_dir or default_cache_dir(), cores)


def embedder_for(settings: Settings) -> Embedder:
    """The model `settings` name, run by the backend they name."""
    return load_embedder(settings.model, settings.batch_size, settings.backend, settings.cache_dir)


@functools.lru_cache(maxsize=4)
def _cached_embedder(name: str, batch_size: int, backend: str, cache_dir: Path, cores: int) -> Embedder:
    return Embedder(name, batch_size, backend, cache_dir, cores)
