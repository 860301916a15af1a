"""The refusal gate (qa.answer.gate) on the seed articles' real passages: its value is the shipped logistic model over
its signals, an answer needs that value at 0 or more, the support floor refuses what the best passages hardly
cover, and the missing-name veto refuses a question about a name no passage holds."""

from __future__ import annotations

from dataclasses import fields, replace

import pytest

from qa.answer.answerer import Answerer
from qa.answer.gate import GATE_SIGNALS, Gate, gate_signals, shipped_gate, support
from qa.pipeline import QA
from qa.search.retrieve import SearchResult


def signals(qa: QA, question: str) -> tuple[SearchResult, dict[str, float]]:
    found = qa.retriever.search(question)
    return found, qa.answerer.gate_signals(found, qa.answerer.read(found))


def test_the_gate_is_a_logistic_model_over_its_signals_loaded_from_data(seed_qa: QA) -> None:
    gate = shipped_gate()
    assert gate is seed_qa.answerer.gate and gate is shipped_gate()  # qa/data/gate.json, read once
    names = [f.name for f in fields(Gate)]
    assert set(names) == {*GATE_SIGNALS, "bias", "least_support"} and len(names) == len(GATE_SIGNALS) + 2
    _, sig = signals(seed_qa, "Who is the U.S. Ambassador to Russia?")
    assert gate.value(sig) == pytest.approx(sum(getattr(gate, n) * sig[n] for n in GATE_SIGNALS) + gate.bias)
    unit = Gate(support=1.0, cosine=2.0, passage=3.0, reader=4.0, bias=-5.0, least_support=0.5)
    ones = dict.fromkeys(GATE_SIGNALS, 1.0)
    assert unit.value({**ones, "other": 9.0}) == 5.0  # the signals it does not weigh count for nothing


@pytest.mark.parametrize(
    "question", ["Who is the U.S. Ambassador to Russia?", "How long did the meeting in Mexico last?"]
)
def test_a_question_the_passages_answer_passes_the_gate(seed_qa: QA, question: str) -> None:
    found, sig = signals(seed_qa, question)
    value = seed_qa.answerer.gate.value(sig)
    assert value >= 0 and sig["support"] >= seed_qa.answerer.gate.least_support
    assert seed_qa.answerer.missing_names(found) == []
    answer = seed_qa.ask(question)
    assert not answer.refused and answer.citations
    assert answer.confidence == round(value, 4) and answer.support == sig["support"]  # what the answer reports


@pytest.mark.parametrize("question", ["What is the capital of France?", "Who paid for the dinner?"])
def test_a_value_below_zero_is_refused(seed_qa: QA, question: str) -> None:
    _, sig = signals(seed_qa, question)
    assert seed_qa.answerer.gate.value(sig) < 0
    answer = seed_qa.ask(question)
    assert answer.refused and answer.citations == () and answer.confidence < 0


@pytest.mark.parametrize(
    "question",
    [
        "What did Obama and Putin say about chemical weapons?",
        "What did Obama and Putin say about human rights?",
    ],
)
def test_the_support_floor_refuses_what_the_best_passages_hardly_cover(seed_qa: QA, question: str) -> None:
    """Close in meaning to the seed stories (the gate's value is at 0 or more), but the best passages hold under
    `least_support` of the question's words: refused on that floor alone."""
    found, sig = signals(seed_qa, question)
    gate = seed_qa.answerer.gate
    assert gate.value(sig) >= 0 and seed_qa.answerer.missing_names(found) == []
    assert sig["support"] == support(seed_qa.index, found) < gate.least_support
    assert seed_qa.ask(question).refused
    no_floor = Answerer(seed_qa.retriever, gate=replace(gate, least_support=0.0))
    assert not no_floor.ask(question).refused  # the floor was the only reason


def test_support_is_the_share_of_the_questions_words_the_best_three_passages_hold(seed_qa: QA) -> None:
    found, _ = signals(seed_qa, "Who is the U.S. Ambassador to Russia?")
    assert support(seed_qa.index, found) == 1.0  # "U.S. Ambassador to Russia Mike McFaul" is in a passage
    found, _ = signals(seed_qa, "What did Obama and Putin eat at dinner?")
    assert support(seed_qa.index, found) < 0.1  # eat, dinner: words the articles never use weigh most
    assert support(seed_qa.index, replace(found, passages=[])) == 0.0


def test_a_name_no_passage_holds_is_refused_whatever_the_gate_says(seed_qa: QA) -> None:
    question = "What did Obama and Putin say about Edward Snowden?"
    found, sig = signals(seed_qa, question)
    gate = seed_qa.answerer.gate
    assert gate.value(sig) >= 0  # close in meaning: the gate's model alone would answer
    assert seed_qa.answerer.missing_names(found) == ["Edward", "Snowden"]
    no_floor = Answerer(seed_qa.retriever, gate=replace(gate, least_support=0.0))
    assert no_floor.ask(question).refused  # the veto, with no floor to help
    open_gate = Answerer(seed_qa.retriever, gate=replace(gate, bias=gate.bias + 100, least_support=0.0))
    assert open_gate.ask(question).refused  # whatever the value
    assert not open_gate.ask("What did Obama and Putin say about Syria?").refused


def test_the_gate_signals_are_computed_from_the_answerers_scored_sentences(seed_qa: QA) -> None:
    found = seed_qa.retriever.search("How long did the meeting in Mexico last?")
    readings = seed_qa.answerer.read(found)
    cands, feats, scores = seed_qa.answerer.score_sentences(found, readings)
    sig = gate_signals(seed_qa.index, found, cands, feats, scores, readings)
    assert set(GATE_SIGNALS) <= set(sig)
    assert sig["passage"] == found.passages[0].score
    assert -1.0 <= sig["cosine"] <= 1.0 and 0.0 <= sig["support"] <= 1.0
    assert sig == seed_qa.answerer.gate_signals(found, readings)
