"""Check an LLM's answer against the passages it cites: every sentence must be backed by one of them.

The answer is split into sentences; each sentence's `[n]` markers name the passages it claims to come from
(markers that point at no passage are dropped). Its claim (the sentence without markers) is compared with every
sentence of the cited passages, and with every two adjacent sentences (a pronoun in one often names what the
other says), by

- coverage: the IDF-weighted share of the claim's stemmed words (qa.text.tokenize) that the candidate holds, with the
  article's title (words the articles never use weigh most: they are the surest sign of something made up);
- novel: the same over the claim's words that the question does not use: what the claim adds, its answer
  ("The meeting lasted three hours" for "How long did the meeting last?": three, hour);
- cosine: MiniLM cosine of the claim and the candidate (for two sentences, of their normalised mean vector);
- numbers: every number in the claim (digits, or number words up to twenty) is in the candidate, the title
  or the article's date; a claim with a number that is not is never supported;
- names: every capitalised word of the claim that the question does not use is in the candidate itself (or the
  date: a month): "Putin accused Russia of …" is not backed by "Clinton accused Russia of …", however close; and
  those it shares with the question are in the candidate's passage or its article's title: a fact from a passage
  about something else, glued to the question's subject, is not backed either.

The best candidate is the claim's evidence; the claim is supported when the numbers check passes and
`weights.coverage * coverage + weights.novel * novel + weights.cosine * cosine + weights.bias >= 0`.
A sentence citing nothing is not supported.
"""

from __future__ import annotations

import functools
import itertools
from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np

from qa import learned
from qa.llm.claims import as_claim, date_words, names_in, numbers_in, split_answer, words_in
from qa.search.sentences import Sentences
from qa.text import coverage as text_coverage
from qa.text import tokenize
from qa.types import Passage

_MIN_SENTENCE_WORDS = 4  # shorter: a fragment, checked together with the question


@dataclass(frozen=True, slots=True)
class VerifyWeights:
    """The support rule: coverage * a + novel * b + cosine * c + bias >= 0 (and the numbers and names checks).

    Calibrated by `python -m train.verify` (qa/data/verify.json) on squad-dev16 (1,500 questions, seed 0; 1,487
    usable): a claim is the question followed by an answer. Positives pair it with its gold answer and the sentences
    of the gold paragraph that hold that answer; negatives with (a) the gold answer and the article's other sentences
    (the right topic, but not what they say: a wrong citation) and (b) another question's answer about the same
    article and the gold paragraph (the right place, a made-up fact). A logistic fit on the best candidate's three
    signals (three rounds: the best candidate depends on the weights), then the bias moved until at most 5% of the
    negatives pass: 94.4% of the positives pass, 8.6% of the wrong sentences, 1.3% of the made-up facts. Fitted on
    coverage and cosine alone (no `novel`, no names check), the same 5% let 66.6% of the positives pass: `novel`
    tells a made-up fact from a restated question.
    """

    coverage: float
    novel: float
    cosine: float
    bias: float

    def value(self, coverage: np.ndarray, novel: np.ndarray, cosine: np.ndarray) -> np.ndarray:
        return self.coverage * coverage + self.novel * novel + self.cosine * cosine + self.bias


@functools.cache
def shipped_weights() -> VerifyWeights:
    return learned.weights("verify", VerifyWeights)


@dataclass(frozen=True, slots=True)
class Evidence:
    """The text a claim was checked against: one or two sentences of a cited passage (exact offsets)."""

    passage: int  # 1-based, the passage's number in the prompt
    article: str
    start: int
    end: int
    quote: str  # exactly article.text[start:end]


@dataclass(frozen=True, slots=True)
class CheckedSentence:
    text: str  # the sentence as written, markers removed
    cites: tuple[int, ...]  # the passages it cites (prompt numbers), markers that point at no passage dropped
    dropped: tuple[int, ...]  # markers that pointed at no passage
    supported: bool
    score: float  # the support rule's value (>= 0: supported, if the numbers check passed)
    coverage: float
    novel: float
    cosine: float
    numbers_ok: bool
    evidence: Evidence | None  # the best-matching text of the cited passages
    names_ok: bool = True
    recited: bool = False  # supported by another passage than the one(s) it cites (Verifier(recite=True) only)


@dataclass(frozen=True, slots=True)
class _Candidate:
    passage: int
    article: str
    start: int
    end: int
    parts: tuple[tuple[int, int], ...]  # the sentence spans it is made of
    within: tuple[int, int] = (0, 0)  # the passage (range) it was taken from


class Verifier:
    """Checks answer sentences against passages of one index (sentence vectors are kept across answers)."""

    def __init__(self, sentences: Sentences, weights: VerifyWeights | None = None, *, recite: bool = False) -> None:
        self.sentences = sentences  # the index's sentences: their spans, vectors and words, shared with the answerer
        self.index = sentences.index
        self.embedder = sentences.embedder
        self.weights = weights or shipped_weights()
        # A sentence its citation does not support (or citing nothing) is checked against the other passages too,
        # and cited to the one that supports it, if any (`recited`). Off by default: the check is of the citation.
        self.recite = recite
        # per sentence (article, start, end): its numbers and words; per passage and article: theirs
        self._numbers: dict[tuple[str, int, int], set[str]] = {}
        self._words: dict[tuple[str, int, int], frozenset[str]] = {}
        self._passages: dict[tuple[str, int, int], frozenset[str]] = {}
        self._titles: dict[str, frozenset[str]] = {}

    def check(self, answer: str, passages: Sequence[Passage], question: str = "") -> list[CheckedSentence]:
        """Every sentence of `answer` checked against the passages its markers cite (passage n = passages[n-1]);
        `question`'s words tell what a sentence adds (the `novel` signal)."""
        sentences = split_answer(answer)
        if not sentences:
            return []
        ranges = [(p.chunk.article, p.chunk.start, p.chunk.end) for p in passages]
        cands = self.candidates(ranges)
        out = []
        for text, numbers in sentences:
            cites = tuple(dict.fromkeys(n for n in numbers if 1 <= n <= len(passages)))
            dropped = tuple(dict.fromkeys(n for n in numbers if not 1 <= n <= len(passages)))
            checked = self.check_claim(text, [c for c in cands if c.passage in cites], question, cites, dropped)
            if self.recite and not checked.supported:
                again = self.check_claim(text, [c for c in cands if c.passage not in cites], question, cites, dropped)
                checked = replace(again, recited=True) if again.supported else checked
            out.append(checked)
        return out

    def candidates(self, ranges: Sequence[tuple[str, int, int]]) -> list[_Candidate]:
        """Every sentence of each (article, start, end) range, and every two adjacent ones; passage = position + 1."""
        out: list[_Candidate] = []
        for n, (aid, start, end) in enumerate(ranges, start=1):
            spans = self.sentences.spans(aid, start, end)
            out += [_Candidate(n, aid, s, e, ((s, e),), (start, end)) for s, e in spans]
            out += [_Candidate(n, aid, a[0], b[1], (a, b), (start, end)) for a, b in itertools.pairwise(spans)]
        return out

    def check_claim(
        self,
        claim: str,
        cands: Sequence[_Candidate],
        question: str = "",
        cites: tuple[int, ...] = (),
        dropped: tuple[int, ...] = (),
    ) -> CheckedSentence:
        """`claim` against `cands`: the best candidate by the support rule, and whether it supports the claim."""
        unsupported = CheckedSentence(claim, cites, dropped, False, float("-inf"), 0.0, 0.0, 0.0, False, None, False)
        if not cands:
            return unsupported
        # A fragment ("Iran", "2 hours") asserts nothing alone: it is checked as the answer to the question, the way
        # the rule was calibrated ("In which country was the summit Iran.").
        probe = claim if len(claim.split()) >= _MIN_SENTENCE_WORDS or not question else as_claim(question, claim)
        coverage, novel, cosine, numbers_ok, names_ok = self.signals(probe, cands, question)
        value = self.weights.value(coverage, novel, cosine)
        facts_ok = numbers_ok & names_ok
        ranked = np.where(facts_ok, value, value - 100.0)  # a candidate lacking the claim's numbers or names loses
        # The evidence is as short as it can be: a sentence that supports the claim alone beats two that do together.
        single = np.array([len(c.parts) == 1 for c in cands])
        passes = facts_ok & (value >= 0)
        if (passes & single).any():
            ranked = np.where(passes & single, ranked, -np.inf)
        best = int(np.argmax(ranked))
        c = cands[best]
        text = self.index.articles[c.article].text
        evidence = Evidence(c.passage, c.article, c.start, c.end, text[c.start : c.end])
        return CheckedSentence(
            text=claim,
            cites=cites,
            dropped=dropped,
            supported=bool(facts_ok[best]) and bool(value[best] >= 0),
            score=round(float(value[best]), 4),
            coverage=round(float(coverage[best]), 4),
            novel=round(float(novel[best]), 4),
            cosine=round(float(cosine[best]), 4),
            numbers_ok=bool(numbers_ok[best]),
            evidence=evidence,
            names_ok=bool(names_ok[best]),
        )

    def signals(
        self, claim: str, cands: Sequence[_Candidate], question: str = ""
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Coverage, novel coverage, cosine, and the numbers and names checks of `claim` against each candidate."""
        articles = self.index.articles
        claim_tokens, question_tokens = tokenize([claim, question])
        self._cache_sentences(cands)
        idf = self.index.bm25.idf(list(dict.fromkeys(claim_tokens)), unknown=True)
        total = sum(idf.values())
        # what the claim adds to the question; a claim that only restates the question is judged on all its words
        new = {t: w for t, w in idf.items() if t not in set(question_tokens)} or idf
        new_total = sum(new.values())
        coverage, novel = np.zeros(len(cands)), np.zeros(len(cands))
        wanted = numbers_in(claim)
        numbers_ok = np.ones(len(cands), dtype=bool)
        names, shared = names_in(claim, question, " ".join(dict.fromkeys(articles[c.article].text for c in cands)))
        names_ok = np.ones(len(cands), dtype=bool)
        for i, c in enumerate(cands):
            held = self._title_tokens(c.article).union(*self.sentences.tokens([(c.article, *p) for p in c.parts]))
            coverage[i] = text_coverage(idf, held, total)
            novel[i] = text_coverage(new, held, new_total)
            if wanted:
                a = articles[c.article]
                stated = set(numbers_in(f"{a.title} {a.date or ''}")).union(
                    *(self._numbers[(c.article, *p)] for p in c.parts)
                )
                numbers_ok[i] = wanted <= stated
            if names:
                said = self._article_date_words(c.article).union(*(self._words[(c.article, *p)] for p in c.parts))
                names_ok[i] = names <= said
            if shared and names_ok[i]:
                names_ok[i] = shared <= self._passage_words(c.article, c.within)
        claim_vec = self.embedder.embed_queries([claim])[0]
        vectors = np.stack([self._candidate_vector(c) for c in cands])
        return coverage, novel, vectors @ claim_vec, numbers_ok, names_ok

    def _cache_sentences(self, cands: Sequence[_Candidate]) -> None:
        """Tokens, vectors (the shared Sentences), numbers and words of every sentence the candidates are made of,
        computed once."""
        keys = list(dict.fromkeys((c.article, *p) for c in cands for p in c.parts))
        self.sentences.vectors(keys)
        self.sentences.tokens(keys)
        for key in keys:
            if key not in self._numbers:
                text = self.sentences.text(key)
                self._numbers[key], self._words[key] = numbers_in(text), words_in(text)

    def _passage_words(self, article: str, within: tuple[int, int]) -> frozenset[str]:
        """The words of a passage, its article's title and date (kept)."""
        key = (article, *within)
        words = self._passages.get(key)
        if words is None:
            a = self.index.articles[article]
            text = f"{a.text[within[0] : within[1]]} {a.title} {date_words(a.date)}"
            words = self._passages[key] = words_in(text)
        return words

    def _article_date_words(self, article: str) -> frozenset[str]:
        return words_in(date_words(self.index.articles[article].date))

    def _title_tokens(self, article: str) -> frozenset[str]:
        """The words of the article's title and date ("2012-06-18": june, 18, 2012): what every passage of it says."""
        toks = self._titles.get(article)
        if toks is None:
            a = self.index.articles[article]
            toks = self._titles[article] = frozenset(tokenize([f"{a.title} {date_words(a.date)}"])[0])
        return toks

    def _candidate_vector(self, c: _Candidate) -> np.ndarray:
        """A sentence's vector, or the normalised mean of two sentences' vectors."""
        vectors = self.sentences.vectors([(c.article, *p) for p in c.parts])
        if len(c.parts) == 1:
            return vectors[0]
        v = np.sum(vectors, axis=0)
        return (v / (np.linalg.norm(v) or 1.0)).astype(np.float32)
