"""Embedding backends: the ONNX export gives torch's vectors, int8 nearly, indexes are shared, exports are cached."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from qa.config import Settings, default_cache_dir
from qa.embed.base import model_id
from qa.embed.embedder import Embedder, embedder_for, load_embedder
from qa.embed.export import onnx_export
from qa.errors import ModelError, SettingsError
from qa.eval.metrics import first_hit
from qa.index.build import build, check_index
from qa.index.manifest import read_manifest
from qa.index.store import Index
from qa.search.retrieve import Retriever
from tests.helpers import QUESTIONS, ROOT

TEXTS = [
    "Where did Obama meet Putin in 2013?",
    "The 1973 oil crisis began in October 1973 when the members of OAPEC proclaimed an oil embargo. " * 6,
    "Oil",
    "Super Bowl 50 was an American football game to determine the champion of the National Football League.",
]


@pytest.mark.slow  # loads the torch backend
def test_onnx_gives_the_torch_vectors_for_documents_and_queries() -> None:
    torch, onnx = load_embedder(backend="torch"), load_embedder(backend="onnx")
    docs = np.sum(torch.embed_documents(TEXTS) * onnx.embed_documents(TEXTS), axis=1)
    queries = np.sum(torch.embed_queries(TEXTS) * onnx.embed_queries(TEXTS), axis=1)
    assert docs.min() > 0.99999 and queries.min() > 0.99999
    assert onnx.embed_documents(TEXTS).dtype == np.float32
    assert np.allclose(np.linalg.norm(onnx.embed_documents(TEXTS), axis=1), 1.0, atol=1e-5)
    assert onnx.id == torch.id == "all-MiniLM-L6-v2"  # same vectors, same model: indexes are interchangeable


@pytest.mark.slow  # three backends loaded, the seed questions searched twice
def test_int8_vectors_are_close_and_an_int8_index_is_searched_alike_by_every_backend(settings: Settings) -> None:
    int8, onnx = load_embedder(backend="onnx-int8"), load_embedder(backend="onnx")
    cosine = np.sum(load_embedder(backend="torch").embed_documents(TEXTS) * int8.embed_documents(TEXTS), axis=1)
    assert cosine.min() > 0.98
    build(settings, embedder=int8)
    manifest = read_manifest(settings.index)
    assert manifest is not None and manifest.model_id == int8.id == model_id("all-MiniLM-L6-v2")
    for backend in ("torch", "onnx", "onnx-int8"):
        check_index(settings.with_(backend=backend))  # the backend is not part of the model: no rebuild to change it
    index = Index.load(settings.index)
    questions = [json.loads(line) for line in QUESTIONS.read_text().splitlines()]
    hits = {}
    for name, embedder in (("int8", int8), ("onnx", onnx)):
        retriever = Retriever(index, embedder, settings)
        hits[name] = [
            first_hit(retriever.search(q["question"], 5).passages, q["answers"], q["source_articles"]) is not None
            for q in questions
            if q["answers"]
        ]
    assert len(hits["int8"]) > 40
    assert abs(sum(hits["int8"]) - sum(hits["onnx"])) <= 1  # hit@5 of int8 and float queries on one index


def test_a_vector_does_not_depend_on_the_texts_embedded_with_it() -> None:
    """An index built in pieces must hold the vectors of one built at once (int8 runs one text at a time)."""
    for backend in ("onnx", "onnx-int8"):
        embedder = load_embedder(backend=backend)
        alone = embedder.embed_documents(TEXTS[:1])
        together = embedder.embed_documents(TEXTS * 10)[:1]
        assert np.abs(alone - together).max() < 1e-5


def test_backend_comes_from_qa_backend_and_a_wrong_one_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    assert Settings.from_env({"QA_BACKEND": "torch"}).backend == "torch"
    assert Settings().backend == "onnx"
    with pytest.raises(SettingsError, match="QA_BACKEND"):
        Settings.from_env({"QA_BACKEND": "tpu"})
    monkeypatch.setenv("QA_BACKEND", "torch")
    assert embedder_for(Settings.from_env()).backend == "torch"  # the environment reaches the model through Settings
    assert load_embedder().backend == "onnx"  # and only through it: a caller passing no backend gets the default
    monkeypatch.setenv("QA_BACKEND", "tpu")
    with pytest.raises(SettingsError, match="QA_BACKEND"):
        embedder_for(Settings.from_env())
    with pytest.raises(SettingsError, match="backend must be one of"):
        load_embedder(backend="tpu")


@pytest.mark.slow
def test_export_happens_once_into_the_cache_and_leaves_no_temporary_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.delenv("QA_CACHE_DIR", raising=False)
    cache = Settings.from_env().cache_dir
    assert cache == default_cache_dir() == tmp_path / "cache" / "qa"  # the XDG cache, unless QA_CACHE_DIR says
    folder = onnx_export("all-MiniLM-L6-v2", cache)
    assert folder.parent == tmp_path / "cache" / "qa" / "onnx"
    assert sorted(p.name for p in folder.parent.iterdir()) == [folder.name]  # no .tmp folder left behind
    assert {"model.onnx", "tokenizer.json", "qa-onnx.json"} <= {p.name for p in folder.iterdir()}
    stamp = (folder / "model.onnx").stat().st_mtime_ns
    assert onnx_export("all-MiniLM-L6-v2", cache) == folder
    assert (folder / "model.onnx").stat().st_mtime_ns == stamp  # reused, not exported again
    embedder = Embedder(backend="onnx", cache_dir=cache)
    assert np.sum(embedder.embed_query("oil") * load_embedder(backend="torch").embed_query("oil")) > 0.99999


def test_a_model_that_cannot_be_loaded_is_a_one_line_model_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    with pytest.raises(ModelError, match=r"cannot load embedding model.*QA_MODEL"):
        Embedder(str(tmp_path / "no-such-model"), backend="onnx")  # no cache_dir: the default (XDG) one
    assert list((tmp_path / "cache" / "qa" / "onnx").iterdir()) == []  # the failed export left nothing


def test_loading_an_exported_model_imports_neither_torch_nor_sentence_transformers() -> None:
    load_embedder(backend="onnx")  # exported by now
    code = (
        "import sys; from qa.embed.embedder import Embedder; e = Embedder(backend='onnx'); e.embed_query('oil'); "
        "print(sorted(m for m in ('torch', 'sentence_transformers', 'transformers') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
