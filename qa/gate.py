"""The refusal gate: whether the passages found answer the question at all (qa.answer.Answerer uses it)."""

from __future__ import annotations

from dataclasses import dataclass

# The refusal gate's signals, in Gate's order (Answerer.gate_signals computes them, and more that bench/gate.py
# tried and found no help: the best sentence's own coverage, its window's, whether it holds the kind asked for,
# the reader's best span anywhere).
GATE_SIGNALS = ("support", "cosine", "passage", "reader")


@dataclass(frozen=True, slots=True)
class Gate:
    """Whether the articles answer at all: a logistic model over the signals below, refuse below 0.

    Fitted by bench/gate.py on squad-dev16 questions with two kinds of unanswerable ones: questions about
    articles that are not in the index ("away": off-topic), and questions about the same story whose fact is
    not there ("near": the sentence that answered them deleted from the indexed article; the questions users
    ask that the articles don't answer are mostly these). Fitted on the articles of one half, scored on the
    other (re-measured 2026-11-22 with the answer sentence the current answerer picks): away precision 0.89 /
    0.95, recall 0.98 / 0.98; near precision 0.61 / 0.68, recall 0.51 / 0.50; answerable questions refused
    5.7-9.5%. Near misses are the hard case: the best sentence's own coverage, whether it holds the kind asked
    for, the short-answer model's confidence and how much of the question surrounds that short answer were
    tried as more signals and separated them no better.
    The fit on the away set alone (before) refused 3.5% of answerable questions but caught only 0.34 of the
    near misses."""

    support: float = 4.139  # share of the question's content words (IDF-weighted) the best passages hold
    cosine: float = 5.104  # MiniLM cosine of the question and the best sentence
    passage: float = 2.01  # the best passage's retrieval score
    # The reader's best span in the answer sentence over its "none of these" score: fitted with it (bench/gate.py
    # --names support,cosine,passage,reader: 0.083, the others 3.041 / 3.332 / 1.819, bias -5.486) held-out near
    # recall rose to 0.54 / 0.53 (precision 0.64 / 0.71, answerable refused 8.9% / 5.2%), but on the seed question
    # set it answered one more unanswerable question and refused one more answerable one; not used yet.
    reader: float = 0.0
    bias: float = -7.499
    # Whatever the rest says, an answer needs the best passages to hold this share of the question's words:
    # questions about the same story that the articles don't answer (seed questions) are close in meaning.
    least_support: float = 0.35

    def value(self, signals: dict[str, float]) -> float:
        return sum(getattr(self, name) * signals[name] for name in GATE_SIGNALS) + self.bias
