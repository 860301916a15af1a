"""Settings are the only way settings reach qa: a Settings passed in is honoured by every entry point (build, QA.open,
the LangChain adapter, the chat app's Library) with nothing in the environment, and QA_* variables are read by
Settings.from_env alone."""

from __future__ import annotations

import ast
import os
from dataclasses import fields
from pathlib import Path

import pytest

import qa.index.build
from qa.app.library import Library
from qa.config import Settings
from qa.embed.embedder import Embedder, load_embedder
from qa.errors import SettingsError
from qa.eval import sets
from qa.index.build import build
from qa.index.store import Index
from qa.langchain import QARetriever
from qa.pipeline import QA
from tests.helpers import G8_2013, ROOT

QUESTION = "Where did Obama meet Putin in 2013?"
FIELD_VARIABLES = {f"QA_{f.name.upper()}" for f in fields(Settings)}


@pytest.fixture
def empty_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("QA_"):
            monkeypatch.delenv(name)


@pytest.mark.slow  # loads the torch backend (sentence-transformers)
def test_dense_index_and_backend_from_settings_are_honoured_everywhere_with_an_empty_environment(
    empty_env: None, tmp_path: Path, seeds_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = Settings(index=tmp_path / "index", articles=seeds_dir, dense="hnsw", backend="torch")
    loaded: list[Embedder] = []
    real = qa.index.build.embedder_for
    monkeypatch.setattr(qa.index.build, "embedder_for", lambda s: loaded.append(real(s)) or loaded[-1])
    report = build(settings)  # no embedder given: the one the settings name
    assert report.added and [e.backend for e in loaded] == ["torch"]

    opened = QA.open(settings)
    assert opened.index.dense == "hnsw" and opened.index.ann is not None
    assert opened.embedder.backend == "torch" and opened.retriever.embedder is opened.embedder
    assert opened.search(QUESTION).passages[0].chunk.article == G8_2013

    retriever = QARetriever.from_index(settings.index, k=2, dense="hnsw", backend="torch")
    assert retriever.qa.index.dense == "hnsw" and retriever.qa.embedder.backend == "torch"
    assert retriever.invoke(QUESTION)[0].metadata["article"] == G8_2013

    library, _ = Library.open(settings)
    assert library.index.dense == "hnsw" and library.embedder.backend == "torch"
    assert library.answerer.retriever.embedder.backend == "torch"
    answer, index = library.ask(QUESTION)
    assert not answer.refused and index.dense == "hnsw"

    # and the defaults are the defaults: flat, onnx
    plain = QA.open(Settings(index=settings.index))
    assert (plain.index.dense, plain.embedder.backend) == ("flat", "onnx")


def test_qa_variables_reach_qa_only_through_settings_from_env(
    settings: Settings, embedder: Embedder, monkeypatch: pytest.MonkeyPatch
) -> None:
    build(settings, embedder=embedder)
    monkeypatch.setenv("QA_DENSE", "hnsw")
    monkeypatch.setenv("QA_BACKEND", "torch")
    assert Index.load(settings.index).dense == "flat"
    assert load_embedder().backend == "onnx"
    opened = QA.open(settings)
    assert (opened.index.dense, opened.embedder.backend) == ("flat", "onnx")
    from_env = Settings.from_env(index=settings.index)
    assert (from_env.dense, from_env.backend) == ("hnsw", "torch")
    adapter = QARetriever.from_index(settings.index)  # documented: QA_* settings from the environment
    assert (adapter.qa.index.dense, adapter.qa.embedder.backend) == ("hnsw", "torch")

    # every QA_* variable set to nonsense: whatever is handed a Settings still works, with what it was handed
    for name in FIELD_VARIABLES:
        monkeypatch.setenv(name, "not-a-value")
    assert Settings() == Settings.from_env({})  # the defaults, whatever the environment holds
    assert QA.open(settings).ask(QUESTION).citations[0].article == G8_2013
    library, report = Library.open(settings, embedder)
    assert report.up_to_date and library.ask(QUESTION)[0].citations
    with pytest.raises(SettingsError):
        Settings.from_env()


def _environment_reads(tree: ast.AST) -> list[ast.expr]:
    """The keys of os.environ.get(...), os.environ[...] (read) and os.getenv(...) in a module."""

    def is_environ(node: ast.expr) -> bool:
        return isinstance(node, ast.Attribute) and node.attr == "environ"

    keys: list[ast.expr] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.args:
            if (node.func.attr == "get" and is_environ(node.func.value)) or node.func.attr == "getenv":
                keys.append(node.args[0])
        elif isinstance(node, ast.Subscript) and isinstance(node.ctx, ast.Load) and is_environ(node.value):
            keys.append(node.slice)
    return keys


def test_no_module_but_settings_reads_a_setting_from_the_environment() -> None:
    found: dict[str, list[str]] = {}
    for path in sorted((ROOT / "qa").rglob("*.py")):
        rel = str(path.relative_to(ROOT))
        for key in _environment_reads(ast.parse(path.read_text(encoding="utf-8"))):
            found.setdefault(rel, []).append(key.value if isinstance(key, ast.Constant) else ast.unparse(key))
    # Settings.from_env reads `env` (os.environ or a mapping given), never os.environ.get by name
    assert "QA_" not in " ".join(found.get("qa/config.py", [])), found.get("qa/config.py")
    settings_read_elsewhere = {
        (rel, key) for rel, keys in found.items() for key in keys if key in FIELD_VARIABLES and rel != "qa/config.py"
    }
    assert settings_read_elsewhere == set()
    other_qa = {(rel, key) for rel, keys in found.items() for key in keys if key.startswith("QA_")}
    assert other_qa == {("qa/index/build.py", "QA_TEST_KILL_AT")}  # the crash tests' failpoint, not a setting
    # the only read by a computed name: the public data sets' folders (QA_SQUAD_DIR, QA_REALTIMEQA_DIR)
    computed = {(rel, key) for rel, keys in found.items() for key in keys if not key.isupper()}
    assert computed == {("qa/eval/sets.py", "variable")}
    assert not set(sets._SETS.values()) & FIELD_VARIABLES
