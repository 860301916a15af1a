"""Learned weights are data (qa.learned): every weight set in qa/data is stamped with what made it (the recipe in
train/, its arguments, the commit, the training data's hash, held-out figures, when), and every JSON one loads into
its dataclass. A stamp's training-data hash is checked against the set where the set is here."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import fields
from typing import Any

import pytest

from qa import learned
from qa.answer.gate import Gate, shipped_gate
from qa.answer.sentences import SentenceWeights
from qa.answer.sentences import shipped_weights as sentence_weights
from qa.answer.short import ShortWeights, shipped_short
from qa.errors import ModelError
from qa.eval import sets
from qa.llm.verify import VerifyWeights
from qa.llm.verify import shipped_weights as verify_weights
from qa.search.rerank import Weights
from qa.search.rerank import shipped_weights as rerank_weights
from tests.helpers import ROOT

# Each JSON weight set and the dataclass it is (the .npz ones are arrays: the reader and the span model).
JSON_MODELS: dict[str, type] = {
    "gate": Gate,
    "gate_plain": Gate,
    "rerank": Weights,
    "sentence_weights": SentenceWeights,
    "sentence_weights_plain": SentenceWeights,
    "short_answer": ShortWeights,
    "verify": VerifyWeights,
}
NPZ_MODELS = {"reader.npz", "span_model.npz"}


def test_models_lists_every_file_in_qa_data() -> None:
    on_disk = {p.stem if p.suffix == ".json" else p.name for p in learned.data_dir().iterdir() if p.is_file()}
    assert set(learned.models()) == on_disk == set(JSON_MODELS) | NPZ_MODELS
    assert learned.models() == sorted(learned.models())


@pytest.mark.parametrize("name", learned.models())
def test_every_weight_set_has_a_whole_stamp(name: str) -> None:
    stamp = learned.stamp(name)
    assert set(learned.STAMP_KEYS) <= set(stamp), sorted(set(learned.STAMP_KEYS) - set(stamp))
    script = stamp["script"]
    assert isinstance(script, str) and script.startswith("train/") and script.endswith(".py")
    assert (ROOT / script).is_file(), f"{name}'s recipe {script} is not in the repository"
    assert isinstance(stamp["args"], list) and all(isinstance(a, str) for a in stamp["args"])
    assert re.fullmatch(r"[0-9a-f]{40}(\+dirty)?", stamp["commit"]), stamp["commit"]
    assert stamp["held_out"], f"{name} names no held-out figures"
    assert isinstance(stamp["data"], dict) and stamp["data"]
    assert all(re.fullmatch(r"[0-9a-f]{64}", h) for h in stamp["data"].values())
    written = dt.datetime.fromisoformat(stamp["written"])
    assert written.tzinfo is not None and written <= dt.datetime.now(dt.UTC)


@pytest.mark.parametrize("name", learned.models())
def test_the_training_data_hash_is_the_sets_where_the_set_is_here(name: str) -> None:
    data: dict[str, Any] = learned.stamp(name)["data"]
    present = {set_name: folder for set_name in data if (folder := sets.find(set_name)) is not None}
    if not present:
        pytest.skip("; ".join(sets.missing(set_name) for set_name in data))
    for set_name, folder in present.items():
        assert data[set_name] == sets.digest(folder), f"{name} was fitted on another {set_name} than {folder}"


@pytest.mark.parametrize("name", sorted(JSON_MODELS))
def test_every_json_weight_set_loads_into_its_dataclass(name: str) -> None:
    cls = JSON_MODELS[name]
    weights = learned.weights(name, cls)
    assert isinstance(weights, cls)
    values = [getattr(weights, f.name) for f in fields(cls)]
    assert all(isinstance(v, float | int) and not isinstance(v, bool) for v in values)
    with pytest.raises(TypeError):
        cls()  # no defaults in code: the only weights are the data's


def test_the_shipped_helpers_load_the_data() -> None:
    assert shipped_gate() == shipped_gate(True) == learned.weights("gate", Gate)
    assert shipped_gate(False) == learned.weights("gate_plain", Gate) != shipped_gate(True)
    assert rerank_weights() == learned.weights("rerank", Weights)
    assert verify_weights() == learned.weights("verify", VerifyWeights)
    assert shipped_short() == learned.weights("short_answer", ShortWeights)
    assert sentence_weights(True) == learned.weights("sentence_weights", SentenceWeights)
    assert sentence_weights(False) == learned.weights("sentence_weights_plain", SentenceWeights)
    assert sentence_weights(True) != sentence_weights(False)


def test_weights_a_dataclass_does_not_know_are_refused() -> None:
    with pytest.raises(ModelError, match=r"qa/data/gate.json has weights Weights does not know"):
        learned.weights("gate", Weights)
