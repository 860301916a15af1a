"""Answers made of the articles' own sentences, each with an exact citation; a refusal when none fits.

The answer sentence is chosen among the sentences of the best passages by how much of the question it
covers (IDF-weighted words and word pairs), how close its meaning is (MiniLM cosine) and how well its
passage ranked. A second article is cited too when the question asks about several ("both meetings")
or its best sentence is nearly as good. Factoid questions also get a short answer span (qa.shortspan).
The refusal gate compares the best sentence's score with a threshold calibrated on questions whose
article is not in the index (bench/answers.py).
"""

from __future__ import annotations

import itertools
import re
import time
from dataclasses import dataclass, field, replace

import numpy as np

from qa.chunk import sentence_spans
from qa.dates import Period
from qa.lexical import tokenize
from qa.retrieve import Retriever, SearchResult
from qa.shortspan import holds_kind, short_answer, strict_kind
from qa.types import Passage

# The refusal gate: the least `support` (share of the question's content words, IDF-weighted, that the best
# passages hold) an answer needs. Calibrated by bench/answers.py --calibrate on 1,500 squad-dev16 questions
# with half the articles held out of the index (their questions are the unanswerable ones): best refusal F1.
# Chosen on one half, scored on the other: precision 0.96/0.83, recall 0.90/0.90.
REFUSAL_THRESHOLD = 0.498
_SEVERAL = re.compile(r"\b(?:both|each|all|compare|compared|differ|difference|two meetings|either)\b", re.I)
_MIN_WORDS = 4  # headings ("Iran Unresolved") are not answers
# Stemmed words that make up a question's form; bm25s's English stop list keeps most of them.
QUESTION_WORDS = frozenset(
    {"how", "what", "when", "where", "who", "whom", "whose", "which", "why", "did", "doe", "do", "done", "is",
     "are", "was", "were", "be", "been", "has", "have", "had", "can", "could", "would", "should", "will", "much",
     "mani", "long", "old", "kind", "type", "name"}
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class SentenceWeights:
    # Chosen on 1,200 squad-dev16 questions (bench/answers.py --tune): sentence accuracy 0.742 fitted on all,
    # 0.736 when chosen on half the articles and scored on the other half.
    coverage: float = 1.0
    pairs: float = 0.25
    cosine: float = 2.0
    rank: float = 0.15
    kind: float = 0.4  # the sentence holds the kind of thing asked for (a number, a date, a name)

    def vector(self) -> np.ndarray:
        return np.array([self.coverage, self.pairs, self.cosine, self.rank, self.kind], dtype=np.float32)


@dataclass(frozen=True, slots=True)
class Citation:
    n: int
    article: str
    title: str
    date: str | None
    start: int
    end: int
    quote: str  # exactly article.text[start:end]


@dataclass(frozen=True, slots=True)
class Answer:
    question: str
    text: str
    short: str | None
    citations: tuple[Citation, ...]
    refused: bool
    passages: tuple[Passage, ...]
    timings_ms: dict[str, float]
    notices: tuple[str, ...] = ()
    score: float = 0.0  # the answer sentence's score
    support: float = 0.0  # share of the question's words (IDF-weighted) that the best passages hold
    period: Period | None = None


@dataclass(frozen=True, slots=True)
class _Sentence:
    article: str
    start: int
    end: int
    text: str
    passage_rank: int


class Answerer:
    def __init__(
        self, retriever: Retriever, *, threshold: float = REFUSAL_THRESHOLD, weights: SentenceWeights | None = None
    ) -> None:
        self.retriever = retriever
        self.index = retriever.index
        self.threshold = threshold
        self.weights = weights or SentenceWeights()
        self._vectors: dict[tuple[str, int], np.ndarray] = {}  # sentence vectors, kept across questions

    def ask(
        self,
        question: str,
        k: int = 5,
        *,
        period: Period | None = None,
        articles: set[str] | None = None,
        follow_up: str | None = None,
        retrieve_k: int | None = None,
    ) -> Answer:
        """Answer `question` from the best `k` passages. A conversation passes `follow_up` (the user's own
        words, when `question` was widened with the previous turn's) with the previous turn's period and cited
        articles. `retrieve_k` > k retrieves more passages (all returned in `passages`, e.g. for hit@10) while
        the answer still reads only the best k."""
        t0 = time.perf_counter()
        found = self.retriever.search(question, max(k, retrieve_k or k), period=period, articles=articles)
        t1 = time.perf_counter()
        read = replace(found, passages=found.passages[:k]) if len(found.passages) > k else found
        sentences, scores = self.score_sentences(read)
        answer = self._compose(read, sentences, scores, follow_up)
        t2 = time.perf_counter()
        timings = {"retrieve": _ms(t1 - t0), "answer": _ms(t2 - t1), "total": _ms(t2 - t0)}
        return replace(answer, timings_ms=timings, passages=tuple(found.passages))

    def score_sentences(self, found: SearchResult) -> tuple[list[_Sentence], np.ndarray]:
        """Every distinct sentence of the retrieved passages, and its answer score."""
        sentences, feats = self.sentence_features(found)
        scores = feats @ self.weights.vector()
        if strict_kind(found.question) and feats[:, 4].any():
            # an amount, duration or date was asked for and some sentence holds one: only those compete
            scores = np.where(feats[:, 4] > 0, scores, scores - 100.0)
        return sentences, scores

    def sentence_features(self, found: SearchResult) -> tuple[list[_Sentence], np.ndarray]:
        """Every distinct sentence of the retrieved passages, and its features (SentenceWeights' order)."""
        sentences = self._sentences(found.passages)
        if not sentences or found.query_vector is None:
            return sentences, np.zeros((len(sentences), 5), dtype=np.float32)
        q_tokens = self._content_tokens(found)
        idf = self.index.bm25.idf(q_tokens)
        total = sum(idf.values()) or 1.0
        pairs = set(itertools.pairwise(q_tokens))
        tokens = tokenize([s.text for s in sentences])
        coverage = np.array([sum(w for t, w in idf.items() if t in set(toks)) / total for toks in tokens])
        pair_cov = np.array(
            [len(pairs & set(itertools.pairwise(toks))) / len(pairs) if pairs else 0.0 for toks in tokens]
        )
        cosine = self._sentence_vectors(sentences) @ found.query_vector
        rank = np.array([1.0 / s.passage_rank for s in sentences])
        kind = np.array([float(holds_kind(found.question, s.text)) for s in sentences])
        return sentences, np.stack([coverage, pair_cov, cosine, rank, kind], axis=1).astype(np.float32)

    def _content_tokens(self, found: SearchResult) -> list[str]:
        """The question's words that carry its content. Its form ("how long did") says what is asked, not
        what the answer says; a period already chose the articles, so its words are not evidence either."""
        drop = set(QUESTION_WORDS)
        if found.period is not None:
            drop |= set(tokenize([found.period.phrase])[0])
        return [t for t in found.query_tokens if t not in drop] or found.query_tokens

    def support(self, found: SearchResult) -> float:
        """The largest share of the question's content words (IDF-weighted, words the articles never use
        weighing most) that one of the three best passages holds, title included."""
        idf = self.index.bm25.idf(self._content_tokens(found), unknown=True)
        total = sum(idf.values())
        if not total or not found.passages:
            return 0.0
        best = 0.0
        for p in found.passages[:3]:
            words = set(tokenize([f"{self.index.articles[p.chunk.article].title}\n{p.chunk.text}"])[0])
            best = max(best, sum(w for t, w in idf.items() if t in words) / total)
        return best

    def _compose(
        self, found: SearchResult, sentences: list[_Sentence], scores: np.ndarray, follow_up: str | None = None
    ) -> Answer:
        """The answer (timings are filled in by `ask`)."""
        support = self.support(found)
        refusal = Answer(
            question=found.question,
            text=f"The articles don't say. Nothing in them answers “{_clip(found.question)}”.",
            short=None,
            citations=(),
            refused=True,
            passages=tuple(found.passages),
            timings_ms={},
            notices=tuple(found.notices),
            support=support,
            period=found.period,
        )
        best = int(np.argmax(scores)) if len(scores) else -1
        if best < 0 or (support < self.threshold and not self._elliptical_ok(follow_up, sentences[best].text)):
            return replace(refusal, score=float(scores[best]) if best >= 0 else 0.0)
        chosen = [sentences[best]]
        other = self._second_article(found.question, sentences, scores, best)
        if other is not None:
            chosen.append(sentences[other])
        citations = []
        for n, s in enumerate(chosen, start=1):
            a = self.index.articles[s.article]
            citations.append(Citation(n, a.id, a.title, a.date, s.start, s.end, a.text[s.start : s.end]))
        text = " ".join(f"{c.quote} [{c.n}]" for c in citations)
        span = short_answer(found.question, chosen[0].text)
        short = chosen[0].text[span[0] : span[1]] if span else None
        return replace(
            refusal, text=text, short=short, citations=tuple(citations), refused=False, score=float(scores[best])
        )

    def _elliptical_ok(self, follow_up: str | None, sentence: str) -> bool:
        """A follow-up ("How long did it last?") on a topic the previous answer established has few words of
        its own; it is answered when it asks for an amount, duration or date, the sentence found in the
        previous answer's articles holds one, and none of its words is one the articles never use."""
        if follow_up is None or not (strict_kind(follow_up) and holds_kind(follow_up, sentence)):
            return False
        own = [t for t in tokenize([follow_up])[0] if t not in QUESTION_WORDS]
        return all(t in self.index.bm25.vocab for t in own)

    def _second_article(self, question: str, sentences: list[_Sentence], scores: np.ndarray, best: int) -> int | None:
        """The best sentence of another article, when the question asks about several or it is nearly as good."""
        others = [i for i in np.argsort(-scores) if sentences[i].article != sentences[best].article]
        if not others:
            return None
        i = int(others[0])
        needed = 0.5 if _SEVERAL.search(question) else 0.97
        return i if scores[i] >= needed * scores[best] else None

    def _sentences(self, passages: list[Passage]) -> list[_Sentence]:
        seen: set[tuple[str, int]] = set()
        out = []
        for p in passages:
            text = self.index.articles[p.chunk.article].text
            for start, end in sentence_spans(text, p.chunk.start, p.chunk.end):
                key = (p.chunk.article, start)
                sentence = text[start:end]
                if (
                    key in seen
                    or len(sentence.split()) < _MIN_WORDS
                    or sentence == self.index.articles[p.chunk.article].title
                ):
                    continue
                seen.add(key)
                out.append(_Sentence(p.chunk.article, start, end, text[start:end], p.rank))
        return out

    def _sentence_vectors(self, sentences: list[_Sentence]) -> np.ndarray:
        missing = [s for s in sentences if (s.article, s.start) not in self._vectors]
        if missing:
            vectors = self.retriever.embedder.embed_queries([s.text for s in missing])
            for s, v in zip(missing, vectors, strict=True):
                self._vectors[(s.article, s.start)] = v
        return np.stack([self._vectors[(s.article, s.start)] for s in sentences])


# ---- conversations ---------------------------------------------------------------------------------

_PRONOUN = re.compile(r"\b(?:it|its|they|them|their|he|she|him|her|his|that|this|there|those|these|then)\b", re.I)
_CONTINUES = re.compile(r"^\s*(?:and|also|what about|how about|and what|what else)\b", re.I)
_OWN_SUBJECT = re.compile(r"(?<!^)(?<![.?!]\s)\b[A-Z][a-z]+|\b(?:19|20)\d\d\b")


@dataclass
class Conversation:
    """Questions in turn; a follow-up ("How long did it last?") is read in the light of the turn before it:
    the previous question's words are added to its search, and it keeps the previous period and articles."""

    answerer: Answerer
    history: list[tuple[str, Answer]] = field(default_factory=list)

    def ask(self, question: str, k: int = 5) -> Answer:
        if self.history and is_follow_up(question):
            prev_query, prev = self.history[-1]
            query = f"{question} {prev_query}"
            cited = {c.article for c in prev.citations} or None
            answer = self.answerer.ask(query, k, period=prev.period, articles=cited, follow_up=question)
            answer = _with_question(answer, question)
            self.history.append((query, answer))
        else:
            answer = self.answerer.ask(question, k)
            self.history.append((answer.question, answer))
        return answer

    def clear(self) -> None:
        self.history.clear()


def is_follow_up(question: str) -> bool:
    """Leans on the previous turn: a pronoun or "and/what about", and no subject of its own (a name, a year)."""
    if _OWN_SUBJECT.search(question.strip()):
        return bool(_CONTINUES.search(question))
    return bool(_PRONOUN.search(question) or _CONTINUES.search(question))


def _with_question(answer: Answer, question: str) -> Answer:
    return replace(answer, question=" ".join(question.split()))


def _clip(text: str, n: int = 120) -> str:
    return text if len(text) <= n else text[: n - 1].rsplit(" ", 1)[0] + "…"


def _ms(seconds: float) -> float:
    return round(seconds * 1000, 2)
