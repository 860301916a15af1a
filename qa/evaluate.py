"""Metric functions, as DESIGN.md defines them (SQuAD v1.1 normalisation)."""

from __future__ import annotations

import re
import string
from collections import Counter
from collections.abc import Sequence

from qa.types import Passage

_ARTICLES = re.compile(r"\b(a|an|the)\b")
_PUNCT = str.maketrans("", "", string.punctuation)


def normalize(text: str) -> str:
    """SQuAD v1.1: lower-case, no punctuation, no a/an/the, single spaces."""
    return " ".join(_ARTICLES.sub(" ", text.lower().translate(_PUNCT)).split())


def first_hit(passages: Sequence[Passage], answers: Sequence[str], sources: Sequence[str]) -> int | None:
    """Rank (1-based) of the first passage from a source article that contains a gold answer, else None."""
    for p in passages:
        if p.chunk.article in sources and contains_answer(p.chunk.text, answers):
            return p.rank
    return None


def retrieval_metrics(first_ranks: Sequence[int | None], ks: Sequence[int] = (1, 5, 10)) -> dict[str, float]:
    """hit@k for each k and MRR@10 over the rank of the first hit of each question."""
    n = len(first_ranks) or 1
    out = {f"hit@{k}": sum(1 for r in first_ranks if r is not None and r <= k) / n for k in ks}
    out["mrr@10"] = sum(1 / r for r in first_ranks if r is not None and r <= 10) / n
    return out


def exact_match(prediction: str, answers: Sequence[str]) -> float:
    """SQuAD v1.1 EM: 1.0 when the normalised prediction equals a normalised gold answer."""
    p = normalize(prediction)
    return float(any(p == normalize(a) for a in answers))


def f1(prediction: str, answers: Sequence[str]) -> float:
    """SQuAD v1.1 token F1, the best over the gold answers."""
    pred = normalize(prediction).split()
    best = 0.0
    for a in answers:
        gold = normalize(a).split()
        common = sum((Counter(pred) & Counter(gold)).values())
        if common:
            precision, recall = common / len(pred), common / len(gold)
            best = max(best, 2 * precision * recall / (precision + recall))
    return best


def contains_answer(text: str, answers: Sequence[str]) -> bool:
    """Whether a normalised gold answer occurs in the normalised text, on word boundaries."""
    padded = f" {normalize(text)} "
    return any(f" {g} " in padded for g in (normalize(a) for a in answers) if g)
