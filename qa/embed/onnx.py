"""The "onnx" and "onnx-int8" backends at run time: an exported model (qa.embed.export) run by ONNX Runtime with the
model's own tokenizer (tokenizers, Rust); pooling and normalisation in numpy. Neither torch nor sentence-transformers
is imported."""

from __future__ import annotations

import json
import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

META = "qa-onnx.json"  # an export's description, written last: its presence marks the export whole


class OnnxRunner:
    """An exported model: tokenizers' Rust tokenizer, one ONNX Runtime session, pooling in numpy."""

    def __init__(self, folder: Path, threads: int = 0, batch: int = 1, workers: int = 0) -> None:
        """`workers` sessions of `threads` intra-op threads each run side by side (0, 0: one single-threaded
        session per CPU core); `batch`: texts a run.

        Side by side rather than one session with a thread per core: one text's work is too small to split
        well, and a split op waits for its slowest thread, so any other load on the machine stalls every op.
        Measured on 2 cores (300 squad-dev16 chunks): quiet, 2 sessions x 1 thread 5.3 s against 1 x 2 6.4 s
        and 1 x 1 10.2 s; with another process busy, 9.3 s against 17.5 s (1 x 1: 9.2 s). Vectors are the
        same to the bit: each text still runs alone."""
        import onnxruntime as ort
        from tokenizers import Tokenizer

        meta = json.loads((folder / META).read_text(encoding="utf-8"))
        self.dim = int(meta["dim"])
        self.pooling: str = meta["pooling"]
        self.inputs: list[str] = meta["inputs"]
        self.prompts = {True: meta["query_prompt"], False: meta["document_prompt"]}
        # One text a run: the fastest here (bench/perf.py's sweep: batches of 8 took 15% longer, of 32 30%; ONNX
        # Runtime keeps one text's activations in cache), no padding at all, and vectors that cannot depend on
        # the texts beside them, which dynamic int8 quantisation would otherwise do: it scales activations by the
        # range of the whole batch, so an index built in pieces would differ from one built at once.
        self.batch = 1 if meta["quantized"] else batch
        self.tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
        self.tokenizer.enable_truncation(int(meta["max_seq_length"]))
        if self.batch > 1:
            self.tokenizer.enable_padding(pad_id=int(meta["pad_id"]), pad_token=meta["pad_token"])  # to the longest
        else:
            self.tokenizer.no_padding()
        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        options.inter_op_num_threads = 1
        options.intra_op_num_threads = threads or 1
        options.log_severity_level = 3
        n = workers or (1 if threads else cores())
        self.sessions = [
            ort.InferenceSession(str(folder / meta["file"]), options, providers=["CPUExecutionProvider"])
            for _ in range(n)
        ]
        self.session = self.sessions[0]
        self._pool = ThreadPoolExecutor(n, thread_name_prefix="qa-onnx") if n > 1 else None

    def encode(self, texts: list[str], query: bool, batch_size: int) -> np.ndarray:
        """`batch_size` is torch's setting (QA_BATCH_SIZE); this runs `self.batch` texts at a time."""
        prompt = self.prompts[query]
        if prompt:
            texts = [prompt + t for t in texts]
        # Longest first, as sentence-transformers does: each batch is padded only to its own longest text.
        order = np.argsort([-len(t) for t in texts], kind="stable")
        out = np.empty((len(texts), self.dim), dtype=np.float32)
        runs = [order[i : i + self.batch] for i in range(0, len(texts), self.batch)]
        if self._pool is None or len(runs) < 2:
            for rows in runs:
                out[rows] = self.run([texts[r] for r in rows])
            return out
        # The sessions take the runs in turn (ONNX Runtime lets go of the GIL while it computes).
        n = len(self.sessions)
        shares = [runs[w::n] for w in range(n)]
        jobs = [
            self._pool.submit(lambda ss, sh: [self.run([texts[r] for r in rows], ss) for rows in sh], session, share)
            for session, share in zip(self.sessions, shares, strict=True)
        ]
        for share, job in zip(shares, jobs, strict=True):
            for rows, vectors in zip(share, job.result(), strict=True):
                out[rows] = vectors
        return out

    def run(self, texts: list[str], session: Any = None) -> np.ndarray:
        encodings = self.tokenizer.encode_batch(texts)
        ids = np.array([e.ids for e in encodings], dtype=np.int64)
        mask = np.array([e.attention_mask for e in encodings], dtype=np.int64)
        feed = {"input_ids": ids, "attention_mask": mask}
        if "token_type_ids" in self.inputs:
            feed["token_type_ids"] = np.array([e.type_ids for e in encodings], dtype=np.int64)
        tokens = (session or self.session).run(None, feed)[0]
        return _normalise(_pool(tokens, mask, self.pooling))


def cores() -> int:
    """The CPU cores this process may use (a container's CPU set, not the host's)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def _pool(tokens: np.ndarray, mask: np.ndarray, mode: str) -> np.ndarray:
    if mode == "cls":
        return np.asarray(tokens[:, 0])
    weights = mask[..., None].astype(np.float32)
    if mode == "max":
        return np.asarray(np.where(weights > 0, tokens, -1e9).max(axis=1))
    return np.asarray((tokens * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), 1e-9))


def _normalise(v: np.ndarray) -> np.ndarray:
    return np.asarray(v / np.maximum(np.linalg.norm(v, axis=1, keepdims=True), 1e-12), dtype=np.float32)
