"""One settings object, built once at the edge (CLI, app) and passed down: the only place qa reads QA_* variables.

Every field can come from the environment as QA_<FIELD> (QA_INDEX, QA_ARTICLES, QA_MODEL, ...); explicit values
(CLI flags) win over the environment, which wins over the defaults. Code below the edge is handed a Settings (or
the values it needs from one) and never looks at the environment itself.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from qa.errors import SettingsError

DEFAULT_MODEL = "all-MiniLM-L6-v2"

# Chosen by measurement on squad-dev16 (bench/chunk_sizes.py, docs/measurements.md): passages must stay
# <= ~1,200 characters (docs/design.md), and MiniLM reads at most 256 tokens.
DEFAULT_CHUNK_SIZE = 1000
DEFAULT_CHUNK_OVERLAP = 200

# How the embedding model runs (qa/embed; figures in docs/performance.md): "torch" is sentence-transformers; "onnx"
# the same model exported to ONNX Runtime with fused attention: torch's vectors, 2-3x as fast; "onnx-int8" that with
# int8 weights: faster again, hit@5 on squad-dev16 within a point, but its vectors move answers and refusals that
# were calibrated on float vectors, so it is opt-in.
BACKENDS = ("torch", "onnx", "onnx-int8")
DEFAULT_BACKEND = "onnx"
# The dense index searched: "flat" is exact; "hnsw" (HNSW graph over 8-bit vectors, re-scored exactly) is
# approximate and meant for large corpora (docs/performance.md: 1M vectors).
DENSE_KINDS = ("flat", "hnsw")
DEFAULT_DENSE = "flat"
# Who writes the answer (qa/llm): "extractive" (the default: the articles' own sentences) or "llm" (opt-in: an
# LLM's answer from the same passages, each sentence checked against the passage it cites; needs QA_LLM_BASE_URL
# and QA_LLM_MODEL, or QA_LLM_GGUF).
ANSWERERS = ("extractive", "llm")
DEFAULT_ANSWERER = "extractive"
DEFAULT_K = 5  # passages an answer reads
# The best passages the reader reads, of those k, and whether its weights are quantised to int8. All 5, in int8,
# with the sentence weights and the gate fitted on what it reads so, against 3 in float (docs/measurements.md,
# Answers; cross-validated): news answers as right (sentence accuracy 0.456 either way) and fewer refused (5.4% ->
# 4.7%), squad-dev16's and the seeds' more often right; a news answer about 8% slower, a squad-dev16 one as fast.
DEFAULT_READ_PASSAGES = 5
DEFAULT_READER_INT8 = True
# The reader reads the best passage first, and the others only when its best span there does not beat that
# passage's "none of these" score by this margin (0: always all of them at once). Chosen end to end on both sets,
# cross-validated (docs/performance.md; `python -m bench.read_sure` for the margins' shares): at 5, squad-dev16's
# answers are as right as with all 3 read and its ask p50 185 -> 143 ms; news reads one passage for 0.13 of its
# questions and loses nothing either; at 3, news lost 0.009 of F1.
DEFAULT_READ_SURE = 5.0


def default_uploads_dir() -> Path:
    """Where articles uploaded from the chat are kept: the XDG data folder, never the project's tracked seeds/."""
    return Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share") / "qa" / "uploads"


def default_cache_dir() -> Path:
    """Where qa keeps what it derives from installed models (ONNX exports, the test GGUF): the XDG cache."""
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "qa"


@dataclass(frozen=True, slots=True)
class Settings:
    index: Path = Path("index")
    articles: Path = Path("seeds")
    follow_links: bool = False  # read what links out of the articles folder point at (links inside are read anyway)
    # Articles uploaded from the chat: kept here and indexed with the articles folder's, as uploads/<name>.
    uploads: Path = field(default_factory=default_uploads_dir)
    large_article_mb: float = 5.0  # an article file bigger than this is indexed with a warning (it takes a while)
    model: str = DEFAULT_MODEL
    chunk_size: int = DEFAULT_CHUNK_SIZE
    chunk_overlap: int = DEFAULT_CHUNK_OVERLAP
    batch_size: int = 32
    backend: str = DEFAULT_BACKEND
    dense: str = DEFAULT_DENSE
    # Retrieval: candidates per first-stage retriever, the reciprocal-rank-fusion constant, second stage on/off.
    candidates: int = 50
    rrf_k: int = 5  # measured on squad-dev16: 5 > 10 > 20 > 30 > 60 (hit@5 0.951 ... 0.936)
    rerank: bool = True
    # Answers: the passages an answer reads (-k), and the best of them the reader reads. The reader (qa/answer/
    # reader.py) picks the answer's words in the passages read; off: sentences by their features alone and short
    # answers by the span model (faster, less exact: docs/measurements.md).
    k: int = DEFAULT_K
    read_passages: int = DEFAULT_READ_PASSAGES
    read_sure: float = DEFAULT_READ_SURE  # the best passage alone suffices when the reader is this sure (0: never)
    reader: bool = True
    reader_int8: bool = DEFAULT_READER_INT8  # the reader's weights quantised to int8 (0: float, slower)
    # The day questions are asked (YYYY-MM-DD): "this week", "recently", "on Monday" are read against it. Empty:
    # the day each question is asked.
    as_of: str = ""
    # Build on a Ray cluster (qa.index.cluster): its address ("auto": the one this machine has joined); empty: here.
    ray_address: str = ""
    # ONNX exports of the embedder and the reader, and the test GGUF model.
    cache_dir: Path = field(default_factory=default_cache_dir)
    # LLM answers (opt-in, qa/llm): an OpenAI-compatible endpoint (base URL, model, optional API key), or a local
    # GGUF file served in-process; the whole answer's deadline in seconds, its length in tokens, llama.cpp's threads
    # for a GGUF (0: half the cores).
    answerer: str = DEFAULT_ANSWERER
    llm_base_url: str = ""
    llm_model: str = ""
    llm_api_key: str = field(default="", repr=False)
    llm_gguf: str = ""
    llm_timeout: int = 60
    llm_max_tokens: int = 300
    llm_threads: int = 0
    # a sentence the passage it cites does not support (or citing none) is checked against the other passages read,
    # and cited to the one that supports it ("recited"); 0: strictly the LLM's own citations
    llm_recite: bool = True

    def __post_init__(self) -> None:
        if self.chunk_size < 100:
            raise SettingsError(
                f"chunk_size must be at least 100 characters, got {self.chunk_size}: set QA_CHUNK_SIZE higher"
            )
        if not 0 <= self.chunk_overlap < self.chunk_size // 2:
            raise SettingsError(
                f"chunk_overlap must be between 0 and half of chunk_size ({self.chunk_size // 2}), "
                f"got {self.chunk_overlap}: set QA_CHUNK_OVERLAP lower"
            )
        for name in ("batch_size", "candidates", "rrf_k", "k", "read_passages"):
            if getattr(self, name) < 1:
                flag = " or pass -k 1 or more" if name == "k" else ""
                raise SettingsError(
                    f"{name} must be greater than 0, got {getattr(self, name)}: set QA_{name.upper()}{flag}"
                )
        if not self.read_sure >= 0:  # NaN too
            raise SettingsError(
                f"read_sure must be 0 or more (0: always read every passage), got {self.read_sure}: set QA_READ_SURE"
            )
        if not self.model.strip():
            raise SettingsError("model must not be empty: set QA_MODEL or leave it unset for the default")
        if self.as_of:
            try:
                dt.date.fromisoformat(self.as_of)
            except ValueError:
                raise SettingsError(
                    f"as_of must be a date as YYYY-MM-DD, got {self.as_of!r}: set QA_AS_OF or pass --as-of 2024-05-31"
                ) from None
        check_choice("backend", self.backend, BACKENDS)
        check_choice("dense", self.dense, DENSE_KINDS)
        check_choice("answerer", self.answerer, ANSWERERS)
        if self.llm_timeout < 1:
            raise SettingsError(f"llm_timeout must be at least 1 second, got {self.llm_timeout}: set QA_LLM_TIMEOUT")
        if self.llm_max_tokens < 16:
            raise SettingsError(f"llm_max_tokens must be at least 16, got {self.llm_max_tokens}: set QA_LLM_MAX_TOKENS")
        if self.llm_threads < 0:
            raise SettingsError(
                f"llm_threads must be 0 or more (0: automatic), got {self.llm_threads}: set QA_LLM_THREADS"
            )

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
        """Defaults, then QA_* environment variables, then `overrides` that are not None."""
        env = os.environ if env is None else env
        values: dict[str, Any] = {}
        for f in fields(cls):
            raw = env.get(f"QA_{f.name.upper()}")
            if raw is not None and raw != "":
                values[f.name] = _convert(f.name, raw, f.type)
        values.update({k: v for k, v in overrides.items() if v is not None})
        for key in ("index", "articles", "cache_dir", "uploads"):
            if key in values:
                values[key] = Path(values[key]).expanduser()
        return cls(**values)

    def with_(self, **changes: Any) -> Settings:
        return replace(self, **changes)

    def asked_on(self) -> dt.date:
        """The day a question is asked now: `as_of`, else today."""
        return dt.date.fromisoformat(self.as_of) if self.as_of else dt.date.today()


def check_choice(name: str, value: str, choices: tuple[str, ...]) -> str:
    if value not in choices:
        raise SettingsError(f"{name} must be one of {', '.join(choices)}, got {value!r}: set QA_{name.upper()}")
    return value


def _convert(name: str, raw: str, kind: object) -> object:
    """A QA_* value as the field's type (the annotation, a string under `from __future__ import annotations`)."""
    if kind == "bool":
        return raw.strip().lower() in {"1", "true", "yes", "on"}
    if kind == "int":
        try:
            return int(raw)
        except ValueError:
            raise SettingsError(f"QA_{name.upper()} must be a whole number, got {raw!r}") from None
    if kind == "float":
        try:
            return float(raw)
        except ValueError:
            raise SettingsError(f"QA_{name.upper()} must be a number, got {raw!r}") from None
    return raw
