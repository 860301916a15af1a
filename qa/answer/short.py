"""The short answer with the reader: of the reader's best spans inside the answer sentence, the one whose score plus
what the titles of the articles read say for it is best (ShortWeights, fitted by `python -m train.short`).

A news quiz asks about what a story is about, and its headline names it: "Which member of the royal family will take
on many of his public duties in his absence?" (King Charles's cancer) was answered "Kate", the reader's best span in
the answer sentence, where the titles name "Prince William". The titles' say is sentences.headline_support: how
many titles name the span's words that the question does not hold."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from qa import learned
from qa.answer.kinds import duration_in, holds_kind, short_answer, strict_kind
from qa.answer.sentences import headline_support
from qa.text import tokenize

TOP_SPANS = 15  # the reader's best spans in the sentence that compete


@dataclass(frozen=True, slots=True)
class ShortWeights:
    """qa/data/short_answer.json."""

    headline: float  # added to a span's score (logits) per unit of headline_support: log(1 + titles naming it)


@functools.cache
def shipped_short() -> ShortWeights:
    return learned.weights("short_answer", ShortWeights)


def named(texts: Sequence[str], asked: set[str], titles: Sequence[frozenset[str]]) -> np.ndarray:
    """headline_support of each span (`texts`; `asked`: the question's stemmed words; `titles`: the stemmed words of
    the titles of the articles read), 0 for a span every one of two or more titles names: what all the articles
    read are about ("Obama and Putin" over two articles on their meetings) tells no answer from another."""
    support = headline_support(tokenize(list(texts)), asked, titles)
    if len(titles) > 1:
        support[support >= np.log1p(len(titles)) - 1e-9] = 0.0
    return support


def choose(scores: np.ndarray, support: np.ndarray, w: float) -> int:
    """Which span is the short answer: the best by its reader score plus `w` times its headline support (the
    first, the reader's best, on a tie)."""
    return int(np.argmax(scores + w * support)) if w and len(scores) > 1 else 0


def finish(question: str, span: str, sentence: str) -> str | None:
    """The short answer from the span chosen: an amount, a duration or a date was asked for and the span holds none
    ("Monday" for "how long"): the span model's instead (qa.answer.kinds.short_answer); a duration asked for inside
    a longer span ("two hours Monday"): the duration."""
    if not strict_kind(question) or holds_kind(question, span):
        return duration_in(question, span) or span
    found = short_answer(question, sentence)
    return sentence[found[0] : found[1]] if found else None
