"""Metric functions, as docs/design.md defines them (answers and passages compared after SQuAD normalisation:
qa.text.normalize; containment also with the words a hyphen or apostrophe joins read apart).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping, Sequence

from qa.text import normalize
from qa.types import Citation, Passage


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


# Read as spaces by contains_answer's second reading: SQuAD's normalisation deletes them (qa.text: Unicode dashes
# are spaces already), running a name into the word it is joined to ("NPR's" -> "nprs", "25-hour" -> "25hour",
# web headlines' "More:18,000" -> "more18000").
_JOINERS = str.maketrans(dict.fromkeys("-:'\u2019", " "))


def contains_answer(text: str, answers: Sequence[str]) -> bool:
    """Whether a gold answer occurs in the text on word boundaries, both normalised as SQuAD does, or both with
    hyphens, colons and apostrophes read as spaces first ("Twitter designated NPR's account" holds NPR,
    "a 25-hour speech" holds 25)."""
    for read in (normalize, _spaced):
        padded = f" {read(text)} "
        if any(f" {g} " in padded for g in (read(a) for a in answers) if g):
            return True
    return False


def _spaced(text: str) -> str:
    return normalize(text.translate(_JOINERS))


def citations_correct(citations: Sequence[Citation], texts: Mapping[str, str], sources: Sequence[str]) -> bool:
    """Every quote is exactly its article's text at its offsets, and some citation is from a source article."""
    exact = all(c.article in texts and texts[c.article][c.start : c.end] == c.quote and c.quote for c in citations)
    return bool(citations) and exact and any(c.article in sources for c in citations)


def refusal_metrics(refused: Sequence[bool], answerable: Sequence[bool]) -> dict[str, float | None]:
    """A refusal is correct on an unanswerable question. precision = correct refusals / refusals,
    recall = correct refusals / unanswerable questions; None where the denominator is 0, and both None
    when no question is unanswerable (no refusal could be right: see answerable_refused instead)."""
    pairs = list(zip(refused, answerable, strict=True))
    correct = sum(1 for r, a in pairs if r and not a)
    refusals = sum(1 for r, _ in pairs if r)
    unanswerable = sum(1 for _, a in pairs if not a)
    return {
        "precision": correct / refusals if refusals and unanswerable else None,
        "recall": correct / unanswerable if unanswerable else None,
    }


def mean(values: Sequence[float]) -> float | None:
    """The mean, or None for no values (a rate over nothing is undefined, not 0)."""
    return math.fsum(values) / len(values) if values else None


def percentile(values: Sequence[float], q: float) -> float | None:
    """The q-th percentile (0-100), interpolated linearly between the closest ranks (numpy's default)."""
    if not values:
        return None
    ordered = sorted(values)
    pos = (len(ordered) - 1) * q / 100
    lo, hi = math.floor(pos), math.ceil(pos)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo)
