"""The refusal gate: whether the passages found answer the question at all (qa.answer.Answerer uses it)."""

from __future__ import annotations

from dataclasses import dataclass

# The refusal gate's signals, in Gate's order (Answerer.gate_signals computes them, and three more that
# bench/gate.py tried and found no help: the best sentence's own coverage, its window's, whether it holds
# the kind asked for).
GATE_SIGNALS = ("support", "cosine", "passage")


@dataclass(frozen=True, slots=True)
class Gate:
    """Whether the articles answer at all: a logistic model over the signals below, refuse below 0.

    Fitted by bench/gate.py on squad-dev16 questions with two kinds of unanswerable ones: questions about
    articles that are not in the index ("away": off-topic), and questions about the same story whose fact is
    not there ("near": the sentence that answered them deleted from the indexed article; the questions users
    ask that the articles don't answer are mostly these). Fitted on the articles of one half, scored on the
    other (re-measured 2026-11-22): away precision 0.93 / 0.96, recall 0.98 / 0.98; near precision 0.66 / 0.67,
    recall 0.44 / 0.49; answerable questions refused 5.6-6.9%. Near misses are the hard case: the best
    sentence's own coverage, whether it holds the kind asked for, the short-answer model's confidence and how
    much of the question surrounds that short answer were tried as more signals and separated them no better.
    The fit on the away set alone (before) refused 3.5% of answerable questions but caught only 0.34 of the
    near misses."""

    support: float = 4.139  # share of the question's content words (IDF-weighted) the best passages hold
    cosine: float = 5.104  # MiniLM cosine of the question and the best sentence
    passage: float = 2.01  # the best passage's retrieval score
    bias: float = -7.499
    # Whatever the rest says, an answer needs the best passages to hold this share of the question's words:
    # questions about the same story that the articles don't answer (seed questions) are close in meaning.
    least_support: float = 0.35

    def value(self, signals: dict[str, float]) -> float:
        return sum(getattr(self, name) * signals[name] for name in GATE_SIGNALS) + self.bias
