"""Metric functions, as DESIGN.md defines them (SQuAD v1.1 normalisation)."""

from __future__ import annotations

import re
import string
from collections.abc import Sequence

from qa.types import Passage

_ARTICLES = re.compile(r"\b(a|an|the)\b")
_PUNCT = str.maketrans("", "", string.punctuation)


def normalize(text: str) -> str:
    """SQuAD v1.1: lower-case, no punctuation, no a/an/the, single spaces."""
    return " ".join(_ARTICLES.sub(" ", text.lower().translate(_PUNCT)).split())


def first_hit(passages: Sequence[Passage], answers: Sequence[str], sources: Sequence[str]) -> int | None:
    """Rank (1-based) of the first passage from a source article that contains a gold answer, else None."""
    gold = [g for g in (normalize(a) for a in answers) if g]
    for p in passages:
        if p.chunk.article in sources:
            text = f" {normalize(p.chunk.text)} "
            if any(f" {g} " in text for g in gold):
                return p.rank
    return None


def retrieval_metrics(first_ranks: Sequence[int | None], ks: Sequence[int] = (1, 5, 10)) -> dict[str, float]:
    """hit@k for each k and MRR@10 over the rank of the first hit of each question."""
    n = len(first_ranks) or 1
    out = {f"hit@{k}": sum(1 for r in first_ranks if r is not None and r <= k) / n for k in ks}
    out["mrr@10"] = sum(1 / r for r in first_ranks if r is not None and r <= 10) / n
    return out
