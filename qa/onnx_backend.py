"""The "onnx" and "onnx-int8" backends: a sentence-transformers model exported to ONNX and run by ONNX Runtime.

The export (once per model, library versions and model-file stamps) takes the transformer from the model's own
weights with eager attention, which ONNX Runtime's transformer optimizer fuses into one Attention op per layer
(with fused layer norms and GELU); int8 adds dynamic per-channel weight quantisation. Every export is checked
against the torch model before it is used. At run time the model's own tokenizer (tokenizers, Rust) pads each
batch to its longest text, texts sorted by length as sentence-transformers does, and pooling and normalisation
are done in numpy: neither torch nor sentence-transformers is imported.

Exports are kept in $XDG_CACHE_HOME/qa/onnx (~/.cache/qa/onnx). Each is written to a temporary folder and renamed
into place, so an export that is killed leaves nothing half-written, and two processes exporting at once both
end up with one whole folder. (sentence-transformers' own backend="onnx" needs optimum-onnx, whose releases
require transformers < 4.58, while sentence-transformers 6 requires transformers >= 5: they cannot be installed
together.)
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import shutil
import tempfile
import warnings
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

from qa.embed import load_sentence_transformer, model_path
from qa.errors import ModelError

_EXPORT_VERSION = 2  # bump when the export recipe changes: exports made by an older recipe are then ignored
_META = "qa-onnx.json"


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

        meta = json.loads((folder / _META).read_text(encoding="utf-8"))
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
        n = workers or (1 if threads else _cores())
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


def _cores() -> int:
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


def cache_root() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "qa"


def onnx_export(name: str, int8: bool = False) -> Path:
    """The folder holding `name` exported to ONNX, exported on first use."""
    source = model_path(name)
    slug = re.sub(r"[^A-Za-z0-9._-]+", "_", name.strip("/"))[-60:]
    folder = cache_root() / "onnx" / f"{slug}{'-int8' if int8 else ''}-{_export_key(source, int8)}"
    return cached_export(folder, lambda tmp: _export(name, tmp, int8), repr(name))


def cached_export(folder: Path, make: Callable[[Path], None], what: str, fix: str = "set QA_BACKEND=torch") -> Path:
    """`folder`, made by `make(tmp)` in a temporary folder beside it and renamed into place on first use (its
    meta file `qa-onnx.json` written last marks it whole)."""
    if (folder / _META).exists():
        return folder
    try:
        folder.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{folder.name}-", dir=folder.parent))
    except OSError as e:
        raise ModelError(
            f"cannot write the ONNX model cache in {folder.parent} ({type(e).__name__}): "
            f"set XDG_CACHE_HOME to a writable folder, or {fix.removeprefix('set ')}"
        ) from None
    try:
        try:
            make(tmp)
        except (RuntimeError, ValueError, OSError) as e:  # the exporter or optimizer cannot handle this model
            why = " ".join(str(e).split())[:200]
            raise ModelError(f"cannot export {what} to ONNX ({type(e).__name__}: {why}): {fix}") from None
        for path in tmp.iterdir():
            with open(path, "rb+") as f:
                os.fsync(f.fileno())
        tmp.chmod(0o755)  # mkdtemp makes it private; the export is no secret
        try:
            os.replace(tmp, folder)  # atomic: the folder appears whole or not at all
        except OSError:
            if not (folder / _META).exists():  # else another process exported it first: theirs is the same
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return folder


def _export_key(source: str, int8: bool, extra: str = "") -> str:
    path = Path(source)
    stamps = [(p, p.stat()) for p in path.rglob("*") if p.is_file()] if path.is_dir() else []
    files = sorted([str(p.relative_to(path)), st.st_size, st.st_mtime_ns] for p, st in stamps)
    versions: dict[str, str | None] = {}
    for package in ("torch", "transformers", "sentence-transformers", "onnx", "onnxruntime", "tokenizers"):
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = None
    where = str(path.resolve()) if path.is_dir() else source
    blob = json.dumps([_EXPORT_VERSION, where, files, versions, int8, *([extra] if extra else [])])
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def _export(name: str, dest: Path, int8: bool) -> None:
    """Export the transformer to ONNX (token embeddings out), fuse it, optionally quantise, and check it."""
    try:
        import onnx  # noqa: F401  (the exporter's and the quantiser's need)
        import onnxruntime.quantization  # noqa: F401
        import torch
    except ModuleNotFoundError as e:
        raise ModelError(
            f"the onnx backend needs {e.name}: pip install onnxruntime onnx, or set QA_BACKEND=torch"
        ) from None

    # Eager attention exports as plain MatMul/Softmax, the pattern ONNX Runtime fuses into one Attention op.
    st = load_sentence_transformer(name, attn_implementation="eager")
    kinds = [type(m).__name__ for m in st]
    transformer, pooling = st[0], st[1] if len(st) > 1 else None
    mode = getattr(pooling, "pooling_mode", None)
    prompts = _prompts(st)
    if (
        kinds[:2] != ["Transformer", "Pooling"]
        or any(k != "Normalize" for k in kinds[2:])
        or mode not in ("mean", "cls", "max")
        or (any(prompts) and not getattr(pooling, "include_prompt", True))
    ):
        raise ModelError(
            f"the onnx backend runs Transformer + mean/cls/max Pooling models; {name!r} is {kinds} "
            f"({mode} pooling): set QA_BACKEND=torch"
        )
    tokenizer = transformer.tokenizer
    inputs = [n for n in ("input_ids", "attention_mask", "token_type_ids") if n in tokenizer.model_input_names]
    model = transformer.auto_model.eval()

    class TokenEmbeddings(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.model = model  # a submodule, so its weights export as weights

        def forward(self, *args: torch.Tensor) -> torch.Tensor:
            return self.model(**dict(zip(inputs, args, strict=True))).last_hidden_state

    sample = tokenizer(["The quick brown fox jumps over the lazy dog.", "Oil"], padding=True, return_tensors="pt")
    fused = dest / "model.onnx"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fused_onnx(TokenEmbeddings(), tuple(sample[n] for n in inputs), inputs, "token_embeddings", fused, model.config)
        file = fused.name
        if int8:
            quantize_int8(fused, dest / "model-int8.onnx")
            fused.unlink()
            file = "model-int8.onnx"
    tokenizer.backend_tokenizer.save(str(dest / "tokenizer.json"))
    meta = {
        "file": file,
        "dim": int(st.get_embedding_dimension() or 0),
        "max_seq_length": int(st.max_seq_length),
        "pad_id": int(tokenizer.pad_token_id or 0),
        "pad_token": str(tokenizer.pad_token),
        "inputs": inputs,
        "pooling": mode,
        "quantized": int8,
        "query_prompt": prompts[0],
        "document_prompt": prompts[1],
        "model": name,
        "export": _EXPORT_VERSION,
    }
    (dest / _META).write_text(json.dumps(meta, indent=1), encoding="utf-8")
    _check_export(name, st, dest, strict=not int8)


def quantize_int8(source: Path, dest: Path) -> None:
    """Dynamic int8 weight quantisation, per channel (per tensor lost 5 points of cosine to torch; per channel
    under 1)."""
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    logging.disable(logging.WARNING)  # it advises "pre-processing" on the root logger; not for these models
    try:
        quantize_dynamic(
            str(source),
            str(dest),
            weight_type=QuantType.QInt8,
            per_channel=True,
            extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT},
        )
    finally:
        logging.disable(logging.NOTSET)


def fused_onnx(module: Any, sample: tuple[Any, ...], inputs: list[str], output: str, dest: Path, config: Any) -> None:
    """`module` (a BERT-like transformer) exported to ONNX at `dest`, its attention, layer norms and GELU fused by
    ONNX Runtime's transformer optimizer (eager attention exports as the MatMul/Softmax pattern it fuses)."""
    import torch
    from onnxruntime.transformers.optimizer import MODEL_TYPES, optimize_model

    raw = dest.with_name(f"raw-{dest.name}")
    with torch.no_grad():
        torch.onnx.export(
            module,
            sample,
            str(raw),
            input_names=inputs,
            output_names=[output],
            dynamic_axes={n: {0: "batch", 1: "tokens"} for n in [*inputs, output]},
            opset_version=17,
            dynamo=False,
        )
    logging.getLogger("onnxruntime.transformers").setLevel(logging.ERROR)
    optimized = optimize_model(
        str(raw),
        model_type=config.model_type if config.model_type in MODEL_TYPES else "bert",
        num_heads=int(getattr(config, "num_attention_heads", 0) or 0),
        hidden_size=int(getattr(config, "hidden_size", 0) or 0),
    )
    optimized.save_model_to_file(str(dest))
    raw.unlink()


def _prompts(st: Any) -> tuple[str, str]:
    """The prompts sentence-transformers' encode_query / encode_document would put before a text."""
    found: dict[str, str] = st.prompts or {}
    default = found.get(st.default_prompt_name, "") if st.default_prompt_name else ""
    query = found.get("query", default)
    document = next((found[n] for n in ("document", "passage", "corpus") if n in found), default)
    return query or "", document or ""


def _check_export(name: str, st: Any, folder: Path, strict: bool) -> None:
    """The exported model must give the torch model's vectors (int8: nearly)."""
    texts = ["Where did Obama meet Putin in 2013?", "The 1973 oil crisis began in October 1973. " * 20, "a"]
    want = st.encode_document(texts, normalize_embeddings=True, convert_to_numpy=True)
    got = OnnxRunner(folder).encode(texts, query=False, batch_size=2)
    worst = float(np.min(np.sum(want * got, axis=1)))
    if worst < (0.99999 if strict else 0.98):
        raise ModelError(
            f"the ONNX export of {name!r} gives other vectors than torch (cosine {worst:.5f}): set QA_BACKEND=torch"
        )
