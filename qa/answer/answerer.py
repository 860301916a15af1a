"""Answers made of the articles' own sentences, each with an exact citation; a refusal when none fits.

The reader (qa.answer.reader) reads the best `read_passages` passages with the question and scores every span of
them. The answer sentence is chosen among the sentences of the best passages by a linear model (qa.answer.sentences)
over how much of the question it covers (IDF-weighted words and word pairs), how close its meaning is (MiniLM
cosine), how well its passage ranked and how good the reader's best span inside it is; that span is the short
answer. A second article is cited too when the question asks about several ("both meetings") or its best sentence
is nearly as good. The refusal gate (qa.answer.gate) weighs how much of the question the best passages hold, how
close the best sentence is in meaning and how well the best passage scored; it was fitted on labelled unanswerable
questions, both off-topic ones and near misses about the same story (train/gate.py). Without the reader
(QA_READER=0) the same runs on the other features, and the short answer comes from the span model
(qa.answer.kinds.short_answer)."""

from __future__ import annotations

import datetime as dt
import re
import time
from dataclasses import replace

import numpy as np

from qa.answer import forms, names, sentences, short
from qa.answer.gate import Gate, gate_signals, shipped_gate
from qa.answer.kinds import holds_kind, short_answer, strict_kind, wants_clause
from qa.answer.reader import Reader, Reading, shared_reader
from qa.answer.sentences import QUESTION_WORDS, Candidate, SentenceWeights, asked_kind_held, shipped_weights
from qa.search.retrieve import Retriever, SearchResult
from qa.text import normalize, tokenize
from qa.types import Answer, Citation, Period

REFUSAL_THRESHOLD = 0.0  # the least Gate value an answer needs
SECOND_WITHIN = 0.97  # another article's best sentence is cited too when it scores this share of the best's
_SEVERAL = re.compile(r"\b(?:both|each|all|compare|compared|differ|difference|two meetings|either)\b", re.I)


class Answerer:
    def __init__(
        self,
        retriever: Retriever,
        *,
        threshold: float = REFUSAL_THRESHOLD,
        weights: SentenceWeights | None = None,
        gate: Gate | None = None,
        reader: Reader | bool = True,
        short_weights: short.ShortWeights | None = None,
    ) -> None:
        """`reader`: a Reader, True for the shipped one (unless the retriever's settings turn it off), False for
        none."""
        self.retriever = retriever
        self.settings = retriever.settings
        self.reader: Reader | None = None
        if isinstance(reader, Reader):
            self.reader = reader
        elif reader and self.settings.reader:
            self.reader = shared_reader(self.settings.cache_dir, self.settings.reader_int8)
        self.index = retriever.index
        self.sentences = retriever.sentences
        self.threshold = threshold
        self._weights = weights
        self._gate = gate
        self._short = short_weights

    @property
    def weights(self) -> SentenceWeights:
        """The sentence weights given, else those fitted with the reader or, without one, those fitted without."""
        return self._weights or shipped_weights(self.reader is not None)

    @weights.setter
    def weights(self, value: SentenceWeights) -> None:
        self._weights = value

    @property
    def gate(self) -> Gate:
        """The gate given, else the one fitted with the reader's signals or, without a reader, the one without."""
        return self._gate or shipped_gate(self.reader is not None)

    @gate.setter
    def gate(self, value: Gate) -> None:
        self._gate = value

    @property
    def short_weights(self) -> short.ShortWeights:
        """The short answer's weights given, else the shipped ones (qa.answer.short)."""
        return self._short or short.shipped_short()

    @short_weights.setter
    def short_weights(self, value: short.ShortWeights) -> None:
        self._short = value

    def ask(
        self,
        question: str,
        k: int | None = None,
        *,
        period: Period | None = None,
        articles: set[str] | None = None,
        follow_up: str | None = None,
        retrieve_k: int | None = None,
        as_of: dt.date | None = None,
        kind: str | None = None,
    ) -> Answer:
        """Answer `question` from the best `k` passages (default: the settings' k), as asked on `as_of` (default:
        the settings' day, else today). A conversation passes `follow_up` (the user's own words, when `question` was
        widened with the previous turn's) with the previous turn's period and cited articles. `retrieve_k` > k
        retrieves more passages (all returned in `passages`, e.g. for hit@10) while the answer still reads only the
        best k. `kind`: the kind of answer wanted (qa.answer.forms; default: read from the question); a list,
        comparison, summary or timeline is answered with several sentences (qa.answer.open)."""
        k = self.settings.k if k is None else k
        kind = kind or forms.answer_kind(follow_up or question)
        t0 = time.perf_counter()
        if kind in forms.OPEN:
            from qa.answer.open import OPEN_K, ask_open

            found = self.retriever.search(
                forms.topic(question), max(k, OPEN_K, retrieve_k or k), period=period, articles=articles, as_of=as_of
            )
            t1 = time.perf_counter()
            answer = ask_open(self, question, kind, found=found, articles=articles)
            t3 = time.perf_counter()
            timings = {"retrieve": _ms(t1 - t0), "answer": _ms(t3 - t1), "total": _ms(t3 - t0)}
            return replace(answer, timings_ms=timings)
        found = self.retriever.search(question, max(k, retrieve_k or k), period=period, articles=articles, as_of=as_of)
        t1 = time.perf_counter()
        read = replace(found, passages=found.passages[:k]) if len(found.passages) > k else found
        readings = self.read(read, follow_up)
        t2 = time.perf_counter()
        cands, feats, scores = self.score_sentences(read, readings)
        answer = self._compose(read, cands, feats, scores, follow_up, readings)
        t3 = time.perf_counter()
        timings = {"retrieve": _ms(t1 - t0), "read": _ms(t2 - t1), "answer": _ms(t3 - t1), "total": _ms(t3 - t0)}
        return replace(answer, timings_ms=timings, passages=tuple(found.passages), kind=kind)

    def read(self, found: SearchResult, follow_up: str | None = None) -> list[Reading] | None:
        """The reader's reading of the best `read_passages` passages found, or of the best alone where the reader is
        sure of it (`read_sure`); None without a reader. A follow-up is read as the user asked it: the previous
        question's words, which widened its search, only mislead it ("two hours Monday" for "Where did Obama meet
        Putin in 2013? How long did it last?")."""
        if self.reader is None or not found.passages:
            return None
        question = follow_up or found.question
        texts = [p.chunk.text for p in found.passages[: self.settings.read_passages]]
        sure = self.settings.read_sure
        if not sure or len(texts) < 2:
            return self.reader.read(question, texts)
        # The best passage first: when the reader's best span there beats its "none of these" by `read_sure`, the
        # others would hardly change the answer (docs/performance.md) and are not read.
        first = self.reader.read(question, texts[:1])
        if first[0].margin >= sure:
            return first
        return first + self.reader.read(question, texts[1:])

    def score_sentences(
        self, found: SearchResult, readings: list[Reading] | None = None
    ) -> tuple[list[Candidate], np.ndarray, np.ndarray]:
        """Every distinct sentence of the retrieved passages, its features and its answer score. A sentence's
        cosine is worked out only where it can change the answer, the gate's signals or a second citation
        (sentences.fill_cosines); elsewhere it is -1."""
        cands = self._candidates(found, readings)
        feats = sentences.features(self.sentences, found.query, cands, cosine=False)
        holding = asked_kind_held(found.query.asks, feats)
        weights = self.weights.vector()

        def score(feats: np.ndarray) -> np.ndarray:
            scores = feats @ weights
            if self.reader is None and holding is not None:
                # Without the reader only the sentences holding the amount, duration or date asked for compete
                # ("How long did the meeting last?" would cite the meeting's lead sentence). With it, every
                # sentence competes: holds_kind misses some answers, and the reader's span finds the amount.
                scores = np.where(holding, scores, scores - 100.0)
            return scores

        sentences.fill_cosines(self.sentences, found.query, cands, feats, score, holding, second_within(found.question))
        return cands, feats, score(feats)

    def sentence_features(
        self, found: SearchResult, readings: list[Reading] | None = None
    ) -> tuple[list[Candidate], np.ndarray]:
        """Every distinct sentence of the retrieved passages, and its features (SentenceWeights' order); with
        the reader's `readings` of the passages, each sentence also carries the reader's best span in it."""
        cands = self._candidates(found, readings)
        return cands, sentences.features(self.sentences, found.query, cands)

    def _candidates(self, found: SearchResult, readings: list[Reading] | None) -> list[Candidate]:
        cands = sentences.candidates(self.sentences, found.passages)
        return cands if readings is None else sentences.with_spans(cands, found.passages, readings)

    def gate_signals(
        self,
        found: SearchResult,
        readings: list[Reading] | None = None,
        scored: tuple[list[Candidate], np.ndarray, np.ndarray] | None = None,
    ) -> dict[str, float]:
        """The refusal gate's signals for the passages found and the best sentence among them (`scored`:
        score_sentences' result, when it is at hand)."""
        cands, feats, scores = scored or self.score_sentences(found, readings)
        return gate_signals(self.index, found, cands, feats, scores, readings)

    def refusal(self, found: SearchResult, question: str | None = None, kind: str = forms.FACT) -> Answer:
        """The answer saying the articles do not answer `question` (default: the question searched for)."""
        question = question or found.question
        return Answer(
            question=question,
            text=unreported_text(question, found) if found.unreported else refusal_text(question),
            short=None,
            citations=(),
            refused=True,
            passages=tuple(found.passages),
            timings_ms={},
            notices=found.notices,
            period=found.period,
            kind=kind,
        )

    def vetoed(self, found: SearchResult, signals: dict[str, float]) -> bool:
        """Refused whatever the gate's value: support too low, a name the passages read do not hold, or a period
        said relative to the day asked that no article was published in (SearchResult.unreported)."""
        return signals["support"] < self.gate.least_support or bool(self.missing_names(found)) or found.unreported

    def missing_names(self, found: SearchResult, *, sources: bool = False) -> list[str]:
        """Names the question asks about that none of the passages read holds (qa.answer.names; with `sources`,
        the articles' sources count too)."""
        return names.missing_names(self.index, found.question, found.passages, sources=sources)

    def _compose(
        self,
        found: SearchResult,
        cands: list[Candidate],
        feats: np.ndarray,
        scores: np.ndarray,
        follow_up: str | None = None,
        readings: list[Reading] | None = None,
    ) -> Answer:
        """The answer (timings are filled in by `ask`)."""
        best = int(np.argmax(scores)) if len(scores) else -1
        signals = self.gate_signals(found, readings, (cands, feats, scores))
        support = signals["support"]
        confidence = self.gate.value(signals) if best >= 0 else -1e9
        refusal = replace(self.refusal(found), support=support, confidence=round(confidence, 4))
        if best < 0:
            return refusal
        said = self._short_answer(follow_up or found.query.asks, found, cands, best, readings)
        if said is not None and echoes(said, found.question):
            said = None  # "Who is Andrew Kuchins?" → "Andrew Kuchins": the sentence is the answer
        unsupported = confidence < self.threshold or self.vetoed(found, signals)
        # an elliptical follow-up may pass the gate on its topic, never a period the articles do not reach
        if found.unreported or (unsupported and not self._elliptical_ok(follow_up, cands[best].text)):
            return replace(refusal, score=float(scores[best]))
        chosen = [cands[best]]
        other = self._second_article(found.question, cands, feats, scores, best)
        if other is not None:
            chosen.append(cands[other])
        citations = []
        for n, s in enumerate(chosen, start=1):
            a = self.index.articles[s.article]
            citations.append(
                Citation(n, a.id, a.title, a.date, s.start, s.end, a.text[s.start : s.end], a.date_inferred)
            )
        text = " ".join(f"{c.quote} [{c.n}]" for c in citations)
        return replace(
            refusal, text=text, short=said, citations=tuple(citations), refused=False, score=float(scores[best])
        )

    def _short_answer(
        self, question: str, found: SearchResult, cands: list[Candidate], best: int, readings: list[Reading] | None
    ) -> str | None:
        """The short answer inside the answer sentence: of the reader's best spans there, the best by its score and
        the titles naming it (qa.answer.short); without a reader's span, the span model's."""
        sentence = cands[best]
        if sentence.span is None:
            found_span = short_answer(question, sentence.text)
            return sentence.text[found_span[0] : found_span[1]] if found_span else None
        if wants_clause(question):
            return None
        start, end = sentence.span[1:]
        w = self.short_weights.headline
        if readings and w:
            spans, support = self.short_spans(found, cands, best, readings)
            start, end = spans[short.choose(np.array([score for score, _, _ in spans]), support, w)][1:]
        return short.finish(question, self.index.articles[sentence.article].text[start:end], sentence.text)

    def short_spans(
        self, found: SearchResult, cands: list[Candidate], best: int, readings: list[Reading]
    ) -> tuple[list[tuple[float, int, int]], np.ndarray]:
        """The reader's best spans in the answer sentence `cands[best]` (qa.answer.short.TOP_SPANS of them, best
        first: score, article offsets) and how the titles of the articles read name each (short.named)."""
        sentence = cands[best]
        spans = sentences.spans_in(sentence, found.passages, readings, short.TOP_SPANS)
        text = self.index.articles[sentence.article].text
        titles = self.sentences.title_words(list(dict.fromkeys(c.article for c in cands)))
        return spans, short.named([text[a:b] for _, a, b in spans], set(found.query.tokens), titles)

    def _elliptical_ok(self, follow_up: str | None, sentence: str) -> bool:
        """A follow-up ("How long did it last?") on a topic the previous answer established has few words of
        its own; it is answered when it asks for an amount, duration or date, the sentence found in the
        previous answer's articles holds one, and none of its words is one the articles never use."""
        if follow_up is None or not (strict_kind(follow_up) and holds_kind(follow_up, sentence)):
            return False
        own = [t for t in tokenize([follow_up])[0] if t not in QUESTION_WORDS]
        return all(t in self.index.bm25.vocab for t in own)

    def _second_article(
        self, question: str, cands: list[Candidate], feats: np.ndarray, scores: np.ndarray, best: int
    ) -> int | None:
        """The best sentence of another article, when it is nearly as good, or the question asks about several
        ("both meetings") and it is close in meaning (MiniLM cosine at least 0.5) or half as good."""
        others = [i for i in np.argsort(-scores) if cands[i].article != cands[best].article]
        if not others:
            return None
        i = int(others[0])
        within = second_within(question)
        if within is None:
            return i if feats[i, 2] >= 0.5 or scores[i] >= 0.5 * scores[best] else None
        return i if scores[i] >= within * scores[best] else None


def second_within(question: str) -> float | None:
    """The share of the best sentence's score another article's best sentence needs to be cited too; None where the
    question asks about several ("both meetings"): its best is then cited when close in meaning or half as good."""
    return None if _SEVERAL.search(question) else SECOND_WITHIN


def echoes(short: str, question: str) -> bool:
    """The short answer only repeats the question's own words: it tells the reader nothing."""
    words = normalize(short).split()
    return bool(words) and set(words) <= set(normalize(question).split())


def refusal_text(question: str) -> str:
    return f"The articles don't say. Nothing in them answers “{_clip(question)}”."


def unreported_text(question: str, found: SearchResult) -> str:
    """The refusal of a question about a period none of the articles was published in, and what to do instead."""
    period, day = found.query.period, found.query.as_of
    if period is None:
        return refusal_text(question)
    asked = f" (asked on {day.isoformat()})" if day else ""
    return (
        f"The articles don't say. None of them was published {period.phrase}{asked}, so nothing in them answers "
        f"“{_clip(question)}”. Add articles from then, or ask without “{period.phrase}”."
    )


def _clip(text: str, n: int = 120) -> str:
    return text if len(text) <= n else text[: n - 1].rsplit(" ", 1)[0] + "…"


def _ms(seconds: float) -> float:
    return round(seconds * 1000, 2)
