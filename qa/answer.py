"""Answers made of the articles' own sentences, each with an exact citation; a refusal when none fits.

The reader (qa/reader.py) reads the best READ_PASSAGES passages with the question and scores every span of
them. The answer sentence is chosen among the sentences of the best passages by a linear model over how much of
the question it covers (IDF-weighted words and word pairs), how close its meaning is (MiniLM cosine), how well
its passage ranked and how good the reader's best span inside it is; that span is the short answer. A second
article is cited too when the question asks about several ("both meetings") or its best sentence is nearly as
good. The refusal gate (Gate) weighs how much of the question the best passages hold, how close the best
sentence is in meaning and how well the best passage scored; it was fitted on labelled unanswerable questions,
both off-topic ones and near misses about the same story (bench/gate.py). Without the reader (QA_READER=0) the
same runs on the other features, and the short answer comes from the span model (qa.shortspan)."""

from __future__ import annotations

import difflib
import itertools
import re
import time
import unicodedata
from dataclasses import dataclass, field, replace

import numpy as np

from qa.chunk import sentence_spans
from qa.dates import Period
from qa.evaluate import normalize
from qa.gate import Gate
from qa.lexical import tokenize
from qa.reader import READ_PASSAGES, Reader, Reading, shared_reader
from qa.retrieve import Retriever, SearchResult
from qa.shortspan import duration_in, holds_kind, short_answer, strict_kind, wants_clause
from qa.spans import question_doc
from qa.types import Passage

REFUSAL_THRESHOLD = 0.0  # the least Gate value an answer needs
_SEVERAL = re.compile(r"\b(?:both|each|all|compare|compared|differ|difference|two meetings|either)\b", re.I)
# a capitalised word not opening the question or a sentence of it, or an acronym
_NAME = re.compile(r"(?<!^)(?<![.?!]\s)\b(?:[A-Z][\w-]*[a-z][\w-]*|[A-Z]{2,})\b")
_READER_FLOOR = 20.0  # the reader feature's floor: a span this far below the best is no candidate at all
_MIN_WORDS = 4  # headings ("Iran Unresolved") are not answers
_SPELLING = 0.8  # difflib's similarity at which a name's word is the same word misspelt ("Counil", "Council")
_UNACCENTED = str.maketrans({"ł": "l", "Ł": "L", "ø": "o", "Ø": "O", "đ": "d", "Đ": "D", "ß": "ss", "æ": "ae"})
# spaCy's entity labels for what a question can be about by name
_NAMED = frozenset({"PERSON", "ORG", "GPE", "LOC", "FAC", "EVENT", "WORK_OF_ART", "LAW", "PRODUCT"})
_CAPITALISED_RUN = re.compile(r"\b[A-Z][\w-]*(?:\s+[A-Z][\w-]*)+")
# Stemmed words that make up a question's form; bm25s's English stop list keeps most of them. The last lines:
# words that say how the answer is asked for ("according to the article", "how did he describe", "what is
# her full title", "which country", "what did he say", "where did it take place", "when did it happen")
# rather than what it is about.
QUESTION_WORDS = frozenset(
    {"how", "what", "when", "where", "who", "whom", "whose", "which", "why", "did", "doe", "do", "done", "is",
     "are", "was", "were", "be", "been", "has", "have", "had", "can", "could", "would", "should", "will", "much",
     "mani", "long", "old", "kind", "type", "name",
     "accord", "articl", "describ", "full", "titl", "countri", "say", "call", "both", "his", "her", "their", "its",
     "take", "place", "happen", "occur"}
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class SentenceWeights:
    # Learned on all 4,306 squad-dev16 questions (bench/span_data.py --reader-cv, then bench/train_span.py
    # --sentences --folds 2: a listwise softmax over each question's candidate sentences, the reader feature from
    # the reader that never saw the question's article): sentence accuracy 0.793 fitted on all, 0.791 with
    # 2-fold cross-validation by article (the same folds as the readers'). Every sentence competes: letting only
    # those that hold the amount, duration or date asked for compete (as before) held out 0.776.
    coverage: float = 1.0  # IDF-weighted share of the question's content words the sentence holds
    pairs: float = -0.5  # share of the question's word pairs (coverage already counts their words)
    cosine: float = 3.784  # MiniLM cosine of question and sentence
    rank: float = 0.169  # 1 / rank of its passage
    kind: float = 1.836  # the sentence holds the kind of thing asked for (a number, a date, a name)
    window: float = 2.297  # coverage of the sentence with the one before it
    title: float = 0.035  # coverage of the article's title
    passage: float = 1.709  # the passage's retrieval score over the best passage's
    length: float = 0.64  # words, up to 60, over 60
    reader: float = 0.151  # the reader's best span in the sentence, against its best span anywhere (-20..0)

    def vector(self) -> np.ndarray:
        return np.array(
            [self.coverage, self.pairs, self.cosine, self.rank, self.kind, self.window, self.title, self.passage,
             self.length, self.reader],
            dtype=np.float32,
        )  # fmt: skip


# Without the reader (QA_READER=0): fitted the same way on the features alone (bench/span_data.py, then
# bench/train_span.py --sentences --only-kind), only the sentences holding the amount, duration or date asked for
# competing (0.741 fitted on all, 0.737 with 4-fold cross-validation by article; every sentence competing: 0.742
# held out, but "How long did the meeting last?" cites the lead).
PLAIN_WEIGHTS = SentenceWeights(
    coverage=1.0, pairs=-0.09, cosine=1.69, rank=0.39, kind=0.47, window=1.06, title=0.0, passage=0.65, length=0.13
)


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
    confidence: float = 0.0  # the refusal gate's value: below 0 the answer is refused
    period: Period | None = None


@dataclass(frozen=True, slots=True)
class _Sentence:
    article: str
    start: int
    end: int
    text: str
    passage_rank: int
    passage_score: float = 0.0
    prev: str = ""  # the sentence before it (a pronoun in this one often names what the question names)
    span: tuple[float, int, int] | None = None  # the reader's best span in it: score, article offsets


class Answerer:
    def __init__(
        self,
        retriever: Retriever,
        *,
        threshold: float = REFUSAL_THRESHOLD,
        weights: SentenceWeights | None = None,
        gate: Gate | None = None,
        reader: Reader | bool = True,
    ) -> None:
        """`reader`: a Reader, True for the shipped one (unless the retriever's settings turn it off), False for
        none."""
        self.retriever = retriever
        self.reader: Reader | None = None
        if isinstance(reader, Reader):
            self.reader = reader
        elif reader and retriever.settings.reader:
            self.reader = shared_reader()
        self.index = retriever.index
        self.threshold = threshold
        self._weights = weights
        self.gate = gate or Gate()
        self._vectors: dict[tuple[str, int], np.ndarray] = {}  # sentence vectors, kept across questions
        self._span_cache: dict[tuple[str, int, int], list[tuple[int, int]]] = {}

    @property
    def weights(self) -> SentenceWeights:
        """The sentence weights given, else those fitted with the reader or, without one, those fitted without."""
        return self._weights or (SentenceWeights() if self.reader is not None else PLAIN_WEIGHTS)

    @weights.setter
    def weights(self, value: SentenceWeights) -> None:
        self._weights = value

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
        readings = self.read(read, follow_up)
        t2 = time.perf_counter()
        sentences, feats, scores = self.score_sentences(read, readings)
        answer = self._compose(read, sentences, feats, scores, follow_up, readings)
        t3 = time.perf_counter()
        timings = {"retrieve": _ms(t1 - t0), "read": _ms(t2 - t1), "answer": _ms(t3 - t1), "total": _ms(t3 - t0)}
        return replace(answer, timings_ms=timings, passages=tuple(found.passages))

    def read(self, found: SearchResult, follow_up: str | None = None) -> list[Reading] | None:
        """The reader's reading of the best READ_PASSAGES passages found (None without a reader). A follow-up is
        read as the user asked it: the previous question's words, which widened its search, only mislead it
        ("two hours Monday" for "How long did it last? Where did Obama meet Putin in 2013?")."""
        if self.reader is None or not found.passages:
            return None
        question = follow_up or found.question
        return self.reader.read(question, [p.chunk.text for p in found.passages[:READ_PASSAGES]])

    def score_sentences(
        self, found: SearchResult, readings: list[Reading] | None = None
    ) -> tuple[list[_Sentence], np.ndarray, np.ndarray]:
        """Every distinct sentence of the retrieved passages, its features and its answer score."""
        sentences, feats = self.sentence_features(found, readings)
        scores = feats @ self.weights.vector()
        holding = asked_kind_held(found.question, feats)
        if self.reader is None and holding is not None:
            # Without the reader only the sentences holding the amount, duration or date asked for compete ("How
            # long did the meeting last?" would cite the meeting's lead sentence). With it, every sentence
            # competes: holds_kind misses some answers, and the reader's span finds the amount.
            scores = np.where(holding, scores, scores - 100.0)
        return sentences, feats, scores

    def sentence_features(
        self, found: SearchResult, readings: list[Reading] | None = None
    ) -> tuple[list[_Sentence], np.ndarray]:
        """Every distinct sentence of the retrieved passages, and its features (SentenceWeights' order); with
        the reader's `readings` of the passages, each sentence also carries the reader's best span in it."""
        sentences = self._sentences(found.passages)
        if readings is not None:
            sentences = self._with_spans(sentences, found.passages, readings)
        if not sentences or found.query_vector is None:
            return sentences, np.zeros((len(sentences), len(self.weights.vector())), dtype=np.float32)
        q_tokens = self._content_tokens(found)
        idf = self.index.bm25.idf(q_tokens)
        total = sum(idf.values()) or 1.0
        pairs = set(itertools.pairwise(q_tokens))
        n = len(sentences)
        # one tokenize call: bm25s has a fixed cost per call (it sets up a progress bar even when hidden)
        every = tokenize(
            [s.text for s in sentences] + [s.prev for s in sentences]
            + [self.index.articles[s.article].title for s in sentences]
        )  # fmt: skip
        tokens, prev, titles = every[:n], every[n : 2 * n], every[2 * n :]
        coverage = np.array([sum(w for t, w in idf.items() if t in set(toks)) / total for toks in tokens])
        pair_cov = np.array(
            [len(pairs & set(itertools.pairwise(toks))) / len(pairs) if pairs else 0.0 for toks in tokens]
        )
        cosine = self._sentence_vectors(sentences) @ found.query_vector
        rank = np.array([1.0 / s.passage_rank for s in sentences])
        kind = np.array([float(holds_kind(found.question, s.text)) for s in sentences])
        window = np.array(
            [sum(w for t, w in idf.items() if t in set(a) | set(b)) / total for a, b in zip(tokens, prev, strict=True)]
        )
        title = np.array([sum(w for t, w in idf.items() if t in set(toks)) / total for toks in titles])
        top = max((s.passage_score for s in sentences), default=0.0) or 1.0
        passage = np.array([s.passage_score / top for s in sentences])
        length = np.array([min(len(toks), 60) / 60 for toks in tokens])
        spans = np.array([s.span[0] if s.span is not None else -np.inf for s in sentences])
        reader = np.clip(spans - spans.max(), -_READER_FLOOR, 0.0) if np.isfinite(spans).any() else np.zeros(n)
        return sentences, np.stack(
            [coverage, pair_cov, cosine, rank, kind, window, title, passage, length, reader], axis=1
        ).astype(np.float32)

    def _with_spans(
        self, sentences: list[_Sentence], passages: list[Passage], readings: list[Reading]
    ) -> list[_Sentence]:
        """Each sentence with the reader's best span inside it, over every passage that holds it."""
        out = []
        for s in sentences:
            best: tuple[float, int, int] | None = None
            for p, reading in zip(passages[: len(readings)], readings, strict=True):
                c = p.chunk
                if c.article != s.article or s.end <= c.start or s.start >= c.end:
                    continue
                score, a, b = reading.span(max(s.start, c.start) - c.start, min(s.end, c.end) - c.start)
                if np.isfinite(score) and (best is None or score > best[0]):
                    best = (score, c.start + a, c.start + b)
            out.append(replace(s, span=best))
        return out

    def gate_signals(
        self,
        found: SearchResult,
        readings: list[Reading] | None = None,
        scored: tuple[list[_Sentence], np.ndarray, np.ndarray] | None = None,
    ) -> dict[str, float]:
        """The refusal gate's signals (GATE_SIGNALS) for the passages found and the best sentence among them
        (`scored`: score_sentences' result, when it is at hand)."""
        sentences, feats, scores = scored or self.score_sentences(found, readings)
        holding = asked_kind_held(found.question, feats)
        if holding is not None:
            # An amount, a duration or a date was asked for: whether the articles say it is judged on the best
            # sentence that holds one (the answer sentence may still be another: holds_kind misses some).
            scores = np.where(holding, scores, -np.inf)
        best = int(np.argmax(scores)) if len(scores) else -1
        row = feats[best] if best >= 0 else np.zeros(len(self.weights.vector()), dtype=np.float32)
        span = sentences[best].span if best >= 0 else None
        none = max((r.none for r in readings), default=0.0) if readings else 0.0
        spans = [s.span[0] for s in sentences if s.span is not None]
        return {
            "support": self.support(found),
            "cosine": float(row[2]),
            "passage": found.passages[0].score if found.passages else 0.0,
            # the reader's best span in the answer sentence over its "none of these" score, and its best anywhere
            "reader": span[0] - none if span is not None else -_READER_FLOOR,
            "reader_any": max(spans) - none if spans else -_READER_FLOOR,
            "coverage": float(row[0]),
            "window": float(row[5]),
            "kind": float(row[4]),
        }

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
        texts = [f"{self.index.articles[p.chunk.article].title}\n{p.chunk.text}" for p in found.passages[:3]]
        for toks in tokenize(texts):
            words = set(toks)
            best = max(best, sum(w for t, w in idf.items() if t in words) / total)
        return best

    def missing_names(self, found: SearchResult) -> list[str]:
        """Names in the question (capitalised words, acronyms) that none of the passages read holds, title
        included. A question about the same story naming something the articles never bring up ("What did
        they say about North Korea?") reads as answerable to the other signals; this catches it. A name is held
        when the passages spell it without accents or with one slip ("Beyonce", "Melanchhon"), run its two
        words together ("Superbowl") or spell out its acronym ("EU", "WWII"). Only a word inside what spaCy's
        parser calls a name (a person, organisation, place, event, work, law or product) counts: nationalities,
        languages and dates ("American viewer", "in English", "July Fourth") and common acronyms ("TV", "GPS")
        are words of the question, not its subject. On squad-dev16 (crowd-written questions) the check refuses
        0.6% of the questions, against 1.0% counting every capitalised word and 2.4% when names had to be spelt
        as the articles do ("QB" tagged a place, "Primer League" are left: a price paid for not answering what
        the articles don't say)."""
        question = found.question.strip()
        names = list(_NAME.finditer(question))
        if not names:
            return []
        texts = [f"{self.index.articles[p.chunk.article].title}\n{p.chunk.text}" for p in found.passages]
        text = _fold(" ".join(texts))
        *name_tokens, passage_tokens = tokenize([*(_fold(m.group(0)) for m in names), text])
        held = set(passage_tokens)
        missing = [
            m for m, toks in zip(names, name_tokens, strict=True) if toks and not all(_spelt(t, held) for t in toks)
        ]
        if missing:
            acronyms = _initialisms(text)
            missing = [m for m in missing if m.group(0).removesuffix("s") not in acronyms]
        if missing:  # spaCy runs only for a question with an unheld capitalised word (1.0% of squad-dev16's)
            named = [(e.start_char, e.end_char) for e in question_doc(question).ents if e.label_ in _NAMED]
            missing = [m for m in missing if any(m.start() < b and a < m.end() for a, b in named)]
        return [m.group(0) for m in missing]

    def _compose(
        self,
        found: SearchResult,
        sentences: list[_Sentence],
        feats: np.ndarray,
        scores: np.ndarray,
        follow_up: str | None = None,
        readings: list[Reading] | None = None,
    ) -> Answer:
        """The answer (timings are filled in by `ask`)."""
        best = int(np.argmax(scores)) if len(scores) else -1
        signals = self.gate_signals(found, readings, (sentences, feats, scores))
        support = signals["support"]
        confidence = self.gate.value(signals) if best >= 0 else -1e9
        refusal = Answer(
            question=found.question,
            text=refusal_text(found.question),
            short=None,
            citations=(),
            refused=True,
            passages=tuple(found.passages),
            timings_ms={},
            notices=tuple(found.notices),
            support=support,
            confidence=round(confidence, 4),
            period=found.period,
        )
        if best < 0:
            return refusal
        short = self._short(follow_up or found.question, sentences[best])
        if short is not None and echoes(short, found.question):
            short = None  # "Who is Andrew Kuchins?" → "Andrew Kuchins": the sentence is the answer
        unsupported = (
            confidence < self.threshold or support < self.gate.least_support or bool(self.missing_names(found))
        )
        if unsupported and not self._elliptical_ok(follow_up, sentences[best].text):
            return replace(refusal, score=float(scores[best]))
        chosen = [sentences[best]]
        other = self._second_article(found.question, sentences, feats, scores, best)
        if other is not None:
            chosen.append(sentences[other])
        citations = []
        for n, s in enumerate(chosen, start=1):
            a = self.index.articles[s.article]
            citations.append(Citation(n, a.id, a.title, a.date, s.start, s.end, a.text[s.start : s.end]))
        text = " ".join(f"{c.quote} [{c.n}]" for c in citations)
        return replace(
            refusal, text=text, short=short, citations=tuple(citations), refused=False, score=float(scores[best])
        )

    def _short(self, question: str, sentence: _Sentence) -> str | None:
        """The short answer inside the answer sentence: the reader's best span there, else the span model's."""
        if sentence.span is not None:
            if wants_clause(question):
                return None
            text = self.index.articles[sentence.article].text[sentence.span[1] : sentence.span[2]]
            # an amount, a duration or a date was asked for: a span without one ("Monday" for "how long") is not it
            if not strict_kind(question) or holds_kind(question, text):
                return duration_in(question, text) or text
        span = short_answer(question, sentence.text)
        return sentence.text[span[0] : span[1]] if span else None

    def _elliptical_ok(self, follow_up: str | None, sentence: str) -> bool:
        """A follow-up ("How long did it last?") on a topic the previous answer established has few words of
        its own; it is answered when it asks for an amount, duration or date, the sentence found in the
        previous answer's articles holds one, and none of its words is one the articles never use."""
        if follow_up is None or not (strict_kind(follow_up) and holds_kind(follow_up, sentence)):
            return False
        own = [t for t in tokenize([follow_up])[0] if t not in QUESTION_WORDS]
        return all(t in self.index.bm25.vocab for t in own)

    def _second_article(
        self, question: str, sentences: list[_Sentence], feats: np.ndarray, scores: np.ndarray, best: int
    ) -> int | None:
        """The best sentence of another article, when it is nearly as good, or the question asks about several
        ("both meetings") and it is close in meaning (MiniLM cosine at least 0.5) or half as good."""
        others = [i for i in np.argsort(-scores) if sentences[i].article != sentences[best].article]
        if not others:
            return None
        i = int(others[0])
        if _SEVERAL.search(question):
            return i if feats[i, 2] >= 0.5 or scores[i] >= 0.5 * scores[best] else None
        return i if scores[i] >= 0.97 * scores[best] else None

    def _sentences(self, passages: list[Passage]) -> list[_Sentence]:
        seen: set[tuple[str, int]] = set()
        out = []
        for p in passages:
            text = self.index.articles[p.chunk.article].text
            before = self._spans(p.chunk.article, max(0, p.chunk.start - 400), p.chunk.start)
            prev = text[before[-1][0] : before[-1][1]] if before else ""
            for start, end in self._spans(p.chunk.article, p.chunk.start, p.chunk.end):
                key = (p.chunk.article, start)
                sentence = text[start:end]
                if not (
                    key in seen
                    or len(sentence.split()) < _MIN_WORDS
                    or sentence == self.index.articles[p.chunk.article].title
                ):
                    seen.add(key)
                    out.append(_Sentence(p.chunk.article, start, end, sentence, p.rank, p.score, prev))
                prev = sentence
        return out

    def _spans(self, article: str, start: int, end: int) -> list[tuple[int, int]]:
        """Sentence spans of an article's text between two offsets, kept across questions."""
        key = (article, start, end)
        spans = self._span_cache.get(key)
        if spans is None:
            spans = self._span_cache[key] = list(sentence_spans(self.index.articles[article].text, start, end))
        return spans

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
    """The answer to a follow-up, under the user's own words (not the query widened with the turn before)."""
    question = " ".join(question.split())
    return replace(answer, question=question, text=refusal_text(question) if answer.refused else answer.text)


def asked_kind_held(question: str, feats: np.ndarray) -> np.ndarray | None:
    """When the question asks for an amount, a duration or a date and some sentence holds one: which sentences
    do (`feats`: Answerer.sentence_features'); else None."""
    if not strict_kind(question) or not feats[:, 4].any():
        return None
    return np.asarray(feats[:, 4] > 0)


def _fold(text: str) -> str:
    """The text without accents ("Beyoncé", "Gospić" → "Beyonce", "Gospic")."""
    return unicodedata.normalize("NFKD", text.translate(_UNACCENTED)).encode("ascii", "ignore").decode()


def _spelt(token: str, held: set[str]) -> bool:
    """`token` (a stemmed word of a name) is among `held`, with one slip of spelling at most in a long word, or
    is two of them run together."""
    if token in held:
        return True
    if len(token) >= 5 and difflib.get_close_matches(token, held, n=1, cutoff=_SPELLING):
        return True
    return any(token[:i] in held and token[i:] in held for i in range(3, len(token) - 2))


def _initialisms(text: str) -> set[str]:
    """The acronyms that runs of capitalised words of `text` spell ("European Union" → EU, "World War II" →
    WWII: a word in capitals counts whole)."""
    out = set()
    for run in _CAPITALISED_RUN.finditer(text):
        words = run.group(0).split()
        letters = [w if w.isupper() else w[0] for w in words]
        for i in range(len(letters)):
            for j in range(i + 2, len(letters) + 1):
                out.add("".join(letters[i:j]))
    return out


def echoes(short: str, question: str) -> bool:
    """The short answer only repeats the question's own words: it tells the reader nothing."""
    words = normalize(short).split()
    return bool(words) and set(words) <= set(normalize(question).split())


def refusal_text(question: str) -> str:
    return f"The articles don't say. Nothing in them answers “{_clip(question)}”."


def _clip(text: str, n: int = 120) -> str:
    return text if len(text) <= n else text[: n - 1].rsplit(" ", 1)[0] + "…"


def _ms(seconds: float) -> float:
    return round(seconds * 1000, 2)
