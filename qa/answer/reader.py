"""The reader: which words of the retrieved passages answer the question.

No reader model ships offline (docs/models.md), so qa makes one from the model it already has: the packaged
all-MiniLM-L6-v2 with rank-16 updates of its linear maps and a start/end head, trained by `python -m train.reader`
on squad-dev16, then further on squad-dev16 and realtimeqa-dev, with the passages qa's own retriever returns
(qa/data/reader.npz, 1.2 MB). It reads each passage
with the question ([CLS] question [SEP] passage [SEP], at most MAX_LEN tokens) and scores every span by its
start and end logits; scores compare across the passages of one question (it was trained with the loss
normalised over all of them), and each passage's [CLS] scores "none of these".
"""

from __future__ import annotations

import functools
import hashlib
import json
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from qa.config import DEFAULT_MODEL, DEFAULT_READER_INT8, default_cache_dir
from qa.embed.base import model_path
from qa.embed.export import cached_export, export_key, fused_onnx, quantize_int8
from qa.embed.onnx import META, cores
from qa.embed.st import load_sentence_transformer

MAX_LEN = 256  # tokens of question and passage together (MiniLM's own limit)
MAX_ANSWER = 30  # tokens in a span at most
LORA_TARGETS = ("query", "key", "value", "dense")  # every linear map of the encoder's layers


def pair_tokenizer(path: str | None = None) -> Any:
    """The packaged model's tokenizer (tokenizers, Rust) for (question, passage) pairs, truncating the passage."""
    from tokenizers import Tokenizer

    if path is None:
        path = str(Path(model_path(DEFAULT_MODEL)) / "tokenizer.json")
    tok = Tokenizer.from_file(path)
    tok.no_padding()
    # longest_first: the passage is cut (as only_second would) unless the question is the longer, then it is too
    tok.enable_truncation(MAX_LEN, strategy="longest_first")
    return tok


def best_span(start: np.ndarray, end: np.ndarray, allowed: np.ndarray) -> tuple[float, int, int]:
    """The best (start logit + end logit, first token, last token) over spans of at most MAX_ANSWER tokens
    whose tokens are all `allowed`; (-inf, 0, 0) when no token is. Of spans scoring the same, the shortest, then
    the first."""
    spans = best_spans(start, end, allowed, 1)
    return spans[0] if spans else (-np.inf, 0, 0)


def best_spans(start: np.ndarray, end: np.ndarray, allowed: np.ndarray, k: int) -> list[tuple[float, int, int]]:
    """The `k` best spans as best_span scores them, best first (fewer where fewer are allowed)."""
    n = len(start)
    if not n:
        return []
    s = np.where(allowed, start, -np.inf)
    e = np.where(allowed, end, -np.inf)
    # every span at once: row d holds the spans of d + 1 tokens, starting at each position (a sentence's spans,
    # some hundreds; a loop over the lengths cost 30 small array passes a call, and a call is made per sentence)
    first = np.arange(n)
    last = first + np.arange(min(MAX_ANSWER, n))[:, None]
    inside = last < n
    last = np.minimum(last, n - 1)
    # a span may not run over a token that is not allowed: count the disallowed tokens before each position
    gaps = np.concatenate([[0], np.cumsum(~allowed)])
    score = np.where(inside & (gaps[last + 1] == gaps[first]), s + e[last], -np.inf).ravel()
    # the first best in row order: the shortest, then the first (argmax: a call is made per sentence and passage)
    order = [np.argmax(score)] if k == 1 else np.argsort(-score, kind="stable")[:k]
    out = []
    for flat in order:
        if score[flat] == -np.inf:
            break
        d, i = divmod(int(flat), n)
        out.append((float(score[flat]), i, i + d))
    return out


WEIGHTS = "reader.npz"
_EXPORT = 2  # bump when the reader's export recipe changes
INT8_FILE = "model-int8.onnx"


@dataclass(frozen=True, slots=True)
class Reading:
    """One passage read with the question: each passage token's start and end logits and character offsets."""

    start: np.ndarray
    end: np.ndarray
    offsets: np.ndarray  # (tokens, 2) character offsets in the passage
    none: float  # the [CLS] token's start + end logits: "the answer is not here"

    @property
    def margin(self) -> float:
        """How sure the reader is that the passage holds the answer: its best span's score over "none"."""
        return self.span()[0] - self.none

    def span(self, lo: int = 0, hi: int | None = None) -> tuple[float, int, int]:
        """The best span inside the passage's characters [lo, hi): (score, start, end in the passage)."""
        spans = self.spans(lo, hi, 1)
        return spans[0] if spans else (-np.inf, lo, lo)

    def spans(self, lo: int = 0, hi: int | None = None, k: int = 1) -> list[tuple[float, int, int]]:
        """The `k` best spans inside the passage's characters [lo, hi), best first: (score, start, end in the
        passage)."""
        if not len(self.offsets):
            return []
        hi = int(self.offsets[-1, 1]) if hi is None else hi
        inside = np.flatnonzero((self.offsets[:, 0] >= lo) & (self.offsets[:, 1] <= hi))
        if not len(inside):
            return []
        a, b = int(inside[0]), int(inside[-1]) + 1
        found = best_spans(self.start[a:b], self.end[a:b], np.ones(b - a, dtype=bool), k)
        return [(score, int(self.offsets[a + i, 0]), int(self.offsets[a + j, 1])) for score, i, j in found]


class Reader:
    """The trained reader (qa/data/reader.npz, or `weights`), run by ONNX Runtime: the packaged MiniLM with the
    trained rank-R updates merged into its weights and the start/end head on top, exported once to the ONNX
    cache (the cache folder's onnx/: QA_CACHE_DIR) and checked against torch there. `int8`: its weights
    quantised to int8 (QA_READER_INT8), faster and a little less exact (docs/performance.md)."""

    def __init__(
        self, weights: Path | None = None, threads: int = 0, cache_dir: Path | None = None, int8: bool = False
    ) -> None:
        import onnxruntime as ort

        self.weights = weights or Path(str(resources.files("qa") / "data" / WEIGHTS))
        self.int8 = int8
        folder = reader_export(self.weights, cache_dir or default_cache_dir(), int8)
        self.tokenizer = pair_tokenizer(str(folder / "tokenizer.json"))
        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.intra_op_num_threads = threads or cores()
        options.inter_op_num_threads = 1
        options.log_severity_level = 3
        self.session = ort.InferenceSession(
            str(folder / (INT8_FILE if int8 else "model.onnx")), options, providers=["CPUExecutionProvider"]
        )

    def read(self, question: str, passages: list[str]) -> list[Reading]:
        """Each passage read with the question: in float one batch, padded to the longest; in int8 one run a
        passage, since its activations are quantised a run at a time (a passage's scores would move with the
        others in its batch)."""
        if not passages:
            return []
        if self.int8 and len(passages) > 1:
            return [reading for p in passages for reading in self._read(question, [p])]
        return self._read(question, passages)

    def _read(self, question: str, passages: list[str]) -> list[Reading]:
        encodings = self.tokenizer.encode_batch([(question, p) for p in passages])
        width = max(len(e.ids) for e in encodings)
        ids = np.zeros((len(encodings), width), dtype=np.int64)
        types = np.zeros_like(ids)
        mask = np.zeros_like(ids)
        for n, e in enumerate(encodings):
            ids[n, : len(e.ids)] = e.ids
            types[n, : len(e.ids)] = e.type_ids
            mask[n, : len(e.ids)] = 1
        logits = self.session.run(None, {"input_ids": ids, "attention_mask": mask, "token_type_ids": types})[0]
        out = []
        for n, e in enumerate(encodings):
            keep = np.array([sid == 1 and b > a for sid, (a, b) in zip(e.sequence_ids, e.offsets, strict=True)])
            rows = np.flatnonzero(keep)
            out.append(
                Reading(
                    start=logits[n, rows, 0],
                    end=logits[n, rows, 1],
                    offsets=np.array(e.offsets, dtype=np.int64)[rows].reshape(-1, 2),
                    none=float(logits[n, 0, 0] + logits[n, 0, 1]),
                )
            )
        return out


def shared_reader(cache_dir: Path | None = None, int8: bool = DEFAULT_READER_INT8) -> Reader:
    """The shipped reader (`int8`: quantised, as by default), loaded once per process (and cache folder; None: the
    default one)."""
    return _shared_reader(cache_dir or default_cache_dir(), int8)


@functools.cache
def _shared_reader(cache_dir: Path, int8: bool) -> Reader:
    return Reader(cache_dir=cache_dir, int8=int8)


def reader_export(weights: Path, cache_dir: Path, int8: bool = False) -> Path:
    """The folder holding the reader with `weights` exported to ONNX in `cache_dir`/onnx (`int8`: quantised too),
    exported on first use."""
    digest = hashlib.sha256(weights.read_bytes()).hexdigest()[:16]
    source = model_path(DEFAULT_MODEL)
    key = export_key(source, int8, f"reader{_EXPORT}-{digest}")
    folder = cache_dir / "onnx" / f"reader{'-int8' if int8 else ''}-{key}"
    fix = "set QA_READER_INT8=0" if int8 else "set QA_READER=0"
    return cached_export(folder, lambda tmp: _export(source, weights, tmp, int8), f"the reader {weights}", fix)


def merged_model(source: str, weights: Path) -> Any:
    """The packaged MiniLM with the trained updates merged into its weights and the head on top (torch)."""
    import torch

    with np.load(weights) as z:
        info = json.loads(str(z["info"]))
        state = {k: torch.from_numpy(z[k].astype(np.float32)) for k in z.files if k not in ("info", "stamp")}
    # eager attention exports as the MatMul/Softmax pattern ONNX Runtime fuses
    base = load_sentence_transformer(source, attn_implementation="eager")[0].auto_model.eval()
    scale = float(info["scale"])
    with torch.no_grad():
        for name, module in base.named_modules():
            if f"{name}.a" in state:
                module.weight += scale * (state[f"{name}.b"] @ state[f"{name}.a"])
    head = torch.nn.Linear(base.config.hidden_size, 2)
    head.load_state_dict({"weight": state["head.weight"], "bias": state["head.bias"]})

    class Logits(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.base, self.head = base, head

        def forward(self, input_ids: Any, attention_mask: Any, token_type_ids: Any) -> Any:
            hidden = self.base(
                input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
            ).last_hidden_state
            return self.head(hidden)

    return Logits().eval()


def _export(source: str, weights: Path, dest: Path, int8: bool = False) -> None:
    """The merged reader exported and fused (qa.embed.export.fused_onnx), checked against torch; `int8`: then
    quantised (qa.embed.export.quantize_int8) and checked to follow torch's logits closely."""
    import warnings

    import onnxruntime as ort
    import torch

    model = merged_model(source, weights)
    tok = pair_tokenizer(str(Path(source) / "tokenizer.json"))
    inputs = ["input_ids", "attention_mask", "token_type_ids"]
    texts = [("Who met Putin?", "Obama met Putin in 2013. " * 4), ("Oil?", "The 1973 oil crisis.")]
    enc = tok.encode_batch(texts)
    width = max(len(e.ids) for e in enc)
    sample = [
        torch.tensor([getattr(e, f)[:width] + [0] * (width - len(e.ids)) for e in enc])
        for f in ("ids", "attention_mask", "type_ids")
    ]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fused_onnx(model, tuple(sample), inputs, "logits", dest / "model.onnx", model.base.config)
    tok.save(str(dest / "tokenizer.json"))
    session = ort.InferenceSession(str(dest / "model.onnx"), providers=["CPUExecutionProvider"])
    feed = dict(zip(inputs, [s.numpy() for s in sample], strict=True))
    got = session.run(None, feed)[0]
    with torch.no_grad():
        want = model(*sample).numpy()
    mask = sample[1].numpy().astype(bool)
    worst = float(np.max(np.abs(got - want)[mask]))
    if worst > 1e-2:  # logits run about -20..10
        raise ValueError(f"the ONNX reader's logits differ from torch's by {worst:.4f}")
    meta: dict[str, Any] = {"weights": str(weights), "export": _EXPORT, "int8": int8}
    if int8:
        quantize_int8(dest / "model.onnx", dest / INT8_FILE)
        (dest / "model.onnx").unlink()
        got8 = ort.InferenceSession(str(dest / INT8_FILE), providers=["CPUExecutionProvider"]).run(None, feed)[0]
        meta["int8_correlation"] = corr = float(np.corrcoef(got8[mask].ravel(), want[mask].ravel())[0, 1])
        if not corr >= 0.98:
            raise ValueError(f"the int8 reader's logits follow torch's too loosely (correlation {corr:.3f})")
    (dest / META).write_text(json.dumps(meta), encoding="utf-8")
