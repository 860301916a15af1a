"""Exporting a sentence-transformers model to ONNX, for the "onnx" and "onnx-int8" backends (qa.embed.onnx runs it).

The export (once per model, library versions and model-file stamps) takes the transformer from the model's own
weights with eager attention, which ONNX Runtime's transformer optimizer fuses into one Attention op per layer
(with fused layer norms and GELU); int8 adds dynamic per-channel weight quantisation. Every export is checked
against the torch model before it is used. At run time the model's own tokenizer (tokenizers, Rust) pads each
batch to its longest text, texts sorted by length as sentence-transformers does, and pooling and normalisation
are done in numpy: neither torch nor sentence-transformers is imported.

Exports are kept in the cache folder's onnx/ (QA_CACHE_DIR, default ~/.cache/qa). Each is written to a temporary
folder and renamed into place, so an export that is killed leaves nothing half-written, and two processes exporting
at once both end up with one whole folder. (sentence-transformers' own backend="onnx" needs optimum-onnx, whose releases
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
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

from qa.embed.base import model_path
from qa.embed.onnx import META, OnnxRunner
from qa.embed.st import load_sentence_transformer
from qa.errors import ModelError

_EXPORT_VERSION = 2  # bump when the export recipe changes: exports made by an older recipe are then ignored


def onnx_export(name: str, cache_dir: Path, int8: bool = False) -> Path:
    """The folder holding `name` exported to ONNX in `cache_dir`/onnx, exported on first use."""
    source = model_path(name)
    slug = re.sub(r"[^A-Za-z0-9._-]+", "_", name.strip("/"))[-60:]
    folder = cache_dir / "onnx" / f"{slug}{'-int8' if int8 else ''}-{export_key(source, int8)}"
    return cached_export(folder, lambda tmp: _export(name, tmp, int8), repr(name))


def cached_export(folder: Path, make: Callable[[Path], None], what: str, fix: str = "set QA_BACKEND=torch") -> Path:
    """`folder`, made by `make(tmp)` in a temporary folder beside it and renamed into place on first use (its
    meta file `qa-onnx.json` written last marks it whole)."""
    if (folder / META).exists():
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
            if not (folder / META).exists():  # else another process exported it first: theirs is the same
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return folder


def export_key(source: str, int8: bool, extra: str = "") -> str:
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
    (dest / META).write_text(json.dumps(meta, indent=1), encoding="utf-8")
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
