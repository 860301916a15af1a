"""The candidate sentences of an answer and their features: every distinct sentence of the passages read, scored by
a linear model (SentenceWeights, fitted by `python -m train.sentences`) over how much of the question it covers,
how close its meaning is, how well its passage ranked, how good the reader's best span inside it is, whether
that span names something new or only repeats the question, and whether the titles of the week's news name its words
(docs/design.md lists them all)."""

from __future__ import annotations

import calendar
import functools
import itertools
import re
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

import numpy as np

from qa import learned
from qa.answer.kinds import holds_kind, strict_kind
from qa.answer.reader import Reading
from qa.search.dates import DATE_FEATURES, date_evidence
from qa.search.query import Query
from qa.search.sentences import Key, Sentences, pairs_held
from qa.text import coverage, tokenize
from qa.types import Passage, Period

READER_FLOOR = 20.0  # the reader feature's floor: a span this far below the best is no candidate at all
_MIN_WORDS = 4  # headings ("Iran Unresolved") are not answers
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
    """The answer sentence's linear model (qa/data/sentence_weights.json; without the reader,
    sentence_weights_plain.json), over the features in this order."""

    coverage: float  # IDF-weighted share of the question's content words the sentence holds
    pairs: float  # share of the question's word pairs (coverage already counts their words)
    cosine: float  # MiniLM cosine of question and sentence
    rank: float  # 1 / rank of its passage
    kind: float  # the sentence holds the kind of thing asked for (a number, a date, a name)
    window: float  # coverage of the sentence with the one before it
    title: float  # coverage of the article's title
    passage: float  # the passage's retrieval score over the best passage's
    length: float  # words, up to 60, over 60
    reader: float = 0.0  # the reader's best span in the sentence, against its best span anywhere (-20..0)
    states_date: float = 0.0  # the sentence states the year (or month) the question asks about
    other_date: float = 0.0  # it states another year than the one asked, and not that one
    period: float = 0.0  # its article's date fits the period asked about (qa.search.dates.date_evidence)
    recency: float = 0.0  # its article was published shortly before the day the question is asked
    headline: float = 0.0  # log(1 + titles of the articles read that name its best span): headline_support
    echo: float = 0.0  # the share of its best span's words the question already holds: span_echo
    week_titles: float = 0.0  # how the titles of the week before the day asked name its words: week_title_support

    def vector(self) -> np.ndarray:
        return np.array([getattr(self, name) for name in FEATURES], dtype=np.float32)


FEATURES = (
    "coverage", "pairs", "cosine", "rank", "kind", "window", "title", "passage", "length", "reader",
    "states_date", "other_date", "period", "recency", "headline", "echo", "week_titles",
)  # fmt: skip
N_FEATURES = len(FEATURES)
COSINE = FEATURES.index("cosine")
FIRST_EMBEDDED = 3  # sentences embedded first, the best by everything else, to bound the rest against


@functools.cache
def shipped_weights(reader: bool) -> SentenceWeights:
    """The weights fitted with the reader's feature, or (reader=False) without it."""
    return learned.weights("sentence_weights" if reader else "sentence_weights_plain", SentenceWeights)


@dataclass(frozen=True, slots=True)
class Candidate:
    article: str
    start: int
    end: int
    text: str
    passage_rank: int
    passage_score: float = 0.0
    prev: str = ""  # the sentence before it (a pronoun in this one often names what the question names)
    span: tuple[float, int, int] | None = None  # the reader's best span in it: score, article offsets

    @property
    def key(self) -> Key:
        """Where it is, as qa.search.sentences.Sentences keeps its vector."""
        return (self.article, self.start, self.end)


def candidates(sentences: Sentences, passages: list[Passage]) -> list[Candidate]:
    """Every distinct sentence of the passages (of at least _MIN_WORDS words, not the title, not a question), in
    passage order. A question states nothing: a news page often asks the very question asked ("Is TikTok getting
    banned?", a quiz page's own question), and quoting it back is no answer."""
    articles = sentences.index.articles
    seen: set[tuple[str, int]] = set()
    out = []
    for p in passages:
        text = articles[p.chunk.article].text
        before = sentences.spans(p.chunk.article, max(0, p.chunk.start - 400), p.chunk.start)
        prev = text[before[-1][0] : before[-1][1]] if before else ""
        for start, end in sentences.spans(p.chunk.article, p.chunk.start, p.chunk.end):
            key = (p.chunk.article, start)
            sentence = text[start:end]
            if not (
                key in seen
                or len(sentence.split()) < _MIN_WORDS
                or sentence == articles[p.chunk.article].title
                or asks(sentence)
            ):
                seen.add(key)
                out.append(Candidate(p.chunk.article, start, end, sentence, p.rank, p.score, prev))
            prev = sentence
    return out


def asks(sentence: str) -> bool:
    """The sentence is a question (it ends with a question mark, inside closing quotes or brackets)."""
    return sentence.rstrip().rstrip("\"'”’»)]").endswith("?")


def with_spans(cands: list[Candidate], passages: list[Passage], readings: list[Reading]) -> list[Candidate]:
    """Each sentence with the reader's best span inside it, over every passage that holds it."""
    return [replace(s, span=next(iter(spans_in(s, passages, readings, 1)), None)) for s in cands]


def spans_in(
    sentence: Candidate, passages: Sequence[Passage], readings: Sequence[Reading], k: int
) -> list[tuple[float, int, int]]:
    """The reader's `k` best spans inside the sentence, over every passage read that holds it, best first:
    (score, start, end in the article); of spans scoring the same, the first passage's first."""
    found: dict[tuple[int, int], float] = {}
    for p, reading in zip(passages[: len(readings)], readings, strict=True):
        c = p.chunk
        if c.article != sentence.article or sentence.end <= c.start or sentence.start >= c.end:
            continue
        lo, hi = max(sentence.start, c.start) - c.start, min(sentence.end, c.end) - c.start
        for score, a, b in reading.spans(lo, hi, k):
            key = (c.start + a, c.start + b)
            if np.isfinite(score) and score > found.get(key, -np.inf):
                found[key] = score
    ranked = sorted(found.items(), key=lambda item: -item[1])[:k]  # stable: a tie keeps the first found
    return [(score, a, b) for (a, b), score in ranked]


def content_tokens(query: Query) -> list[str]:
    """The question's words that carry its content. Its form ("how long did") says what is asked, not what the
    answer says; a period already chose the articles, so its words are not evidence either."""
    drop = set(QUESTION_WORDS)
    if query.period is not None:
        drop |= set(tokenize([query.period.phrase])[0])
    return [t for t in query.tokens if t not in drop] or query.tokens


def features(sentences: Sentences, query: Query, cands: list[Candidate], cosine: bool = True) -> np.ndarray:
    """The features of each candidate, in SentenceWeights' order; with `cosine` False, the cosine column is left
    at 0 for fill_cosines to work out where it counts."""
    if not cands or query.vector is None:
        return np.zeros((len(cands), N_FEATURES), dtype=np.float32)
    index = sentences.index
    q_tokens = content_tokens(query)
    idf = index.bm25.idf(q_tokens)
    total = sum(idf.values()) or 1.0
    pairs = set(itertools.pairwise(q_tokens))
    n = len(cands)
    # one tokenize call (bm25s has a fixed cost per call: it sets up a progress bar even when hidden), each text
    # once: a sentence is mostly the next one's previous sentence; the titles' words are kept by `sentences`
    texts = [index.articles[s.article].text for s in cands]
    span_texts = [t[s.span[1] : s.span[2]] if s.span is not None else "" for s, t in zip(cands, texts, strict=True)]
    distinct = dict.fromkeys([s.text for s in cands] + [s.prev for s in cands] + span_texts)
    said = dict(zip(distinct, tokenize(list(distinct)), strict=True))
    tokens, prev = [said[s.text] for s in cands], [said[s.prev] for s in cands]
    words = [(frozenset(toks), tuple(toks)) for toks in tokens]
    cover = np.array([coverage(idf, held, total) for held, _ in words])
    pair_cov = np.array([pairs_held(pairs, w) / len(pairs) if pairs else 0.0 for w in words])
    cos = sentences.cosines([s.key for s in cands], query.vector) if cosine else np.zeros(n)
    rank = np.array([1.0 / s.passage_rank for s in cands])
    kind = np.array([float(holds_kind(query.asks, s.text)) for s in cands])
    window = np.array([coverage(idf, set(a) | set(b), total) for a, b in zip(tokens, prev, strict=True)])
    titles = sentences.title_words([s.article for s in cands])
    title = np.array([coverage(idf, w, total) for w in titles])
    top = max((s.passage_score for s in cands), default=0.0) or 1.0
    passage = np.array([s.passage_score / top for s in cands])
    length = np.array([min(len(toks), 60) / 60 for toks in tokens])
    spans = np.array([s.span[0] if s.span is not None else -np.inf for s in cands])
    reader = np.clip(spans - spans.max(), -READER_FLOOR, 0.0) if np.isfinite(spans).any() else np.zeros(n)
    states, other = stated_dates(query.period, [s.text for s in cands])
    days = np.array([sentences.article_day(s.article) for s in cands], dtype=np.float64)
    dates = date_evidence(days, query.period, query.as_of)
    columns = [cover, pair_cov, cos, rank, kind, window, title, passage, length, reader, states, other]
    fit = dates[:, :2].max(axis=1, keepdims=True)  # the article's fit to the period, relative or dated
    read = list({s.article: t for s, t in zip(cands, titles, strict=True)}.values())  # each article read once
    asked, span_words = set(query.tokens), [said[t] for t in span_texts]
    named = headline_support(span_words, asked, read)[:, None]
    echo = span_echo(span_words, asked if not asks_who_is(query.asks) else set())[:, None]
    week = {s.article for s, in_week in zip(cands, dates[:, _WEEK], strict=True) if in_week > 0}
    weekly = week_title_support(tokens, asked, sentences.title_tokens(sorted(week)), index.bm25.idf)[:, None]
    return np.hstack([np.stack(columns, axis=1), fit, dates[:, 2:3], named, echo, weekly]).astype(np.float32)


_WHO_IS = re.compile(r"^(?i:who|what)\s+(?i:is|was|are|were)\s+(?:[A-Z][\w.'’-]*\s*){1,5}\?$")


def asks_who_is(question: str) -> bool:
    """The question asks who or what a name is ("Who is Andrew Kuchins?"): the sentence that answers names it, so
    its best span repeating the question says nothing against it."""
    return _WHO_IS.match(question.strip()) is not None


def span_echo(spans: Sequence[Sequence[str]], asked: set[str]) -> np.ndarray:
    """Per sentence: the share of its best span's words (stemmed) that the question already holds (0: no span). A
    span that repeats the question ("Who did Maryland Democrats nominate to replace retiring senator Ben Cardin?" ->
    "Sen. Ben Cardin") seldom answers it; the one in the sentence that does names something new ("Angela
    Alsobrooks")."""
    return np.array([sum(t in asked for t in span) / len(span) if span else 0.0 for span in spans])


_RUN = 3  # the longest run of words a title and a sentence are matched on
_WEEK = DATE_FEATURES.index("week")  # date_evidence's column: published in the week before the day asked


def week_title_support(
    sentences: Sequence[Sequence[str]],
    asked: set[str],
    titles: Sequence[Sequence[str]],
    idf: Callable[[list[str]], dict[str, float]],
) -> np.ndarray:
    """Per sentence: log(1 + the best of its runs of 1-3 stemmed words that `titles` hold and the question
    (`asked`) does not, scored as the titles holding the run times the IDF of its words). `titles`: those of the
    articles read that were published in the week before the day asked. A news quiz asks about the week's news and
    the week's headlines name what it was about ("Target 40-day boycott begins" for "Which US retailer is facing a
    40-day consumer boycott?"), while a sentence naming another company of the same kind is named by none; an
    article long before the day asked says nothing of that week. `sentences`: each one's stemmed words in order."""
    out = np.zeros(len(sentences))
    votes: Counter[tuple[str, ...]] = Counter()
    for t in titles:
        votes.update({run for run in _runs(t) if not asked.intersection(run)})
    if not votes:
        return out
    weight = idf(sorted({w for run in votes for w in run}))
    for i, words in enumerate(sentences):
        best = max(
            (n * sum(weight.get(w, 0.0) for w in run) for run in _runs(words) if (n := votes.get(run))), default=0.0
        )
        out[i] = np.log1p(best)
    return out


def _runs(words: Sequence[str]) -> set[tuple[str, ...]]:
    return {tuple(words[i : i + n]) for n in range(1, _RUN + 1) for i in range(len(words) - n + 1)}


def headline_support(spans: Sequence[Sequence[str]], asked: set[str], titles: Sequence[frozenset[str]]) -> np.ndarray:
    """Per sentence: log(1 + the number of `titles` that hold at least half of its best span's words), counting
    only the span's words the question does not hold (`asked`: its stemmed words; a span that only repeats the
    question is named by nothing). News headlines name what a story is about: a quiz answer ("Which chain …?"
    "Denny's") is most often in the titles of the articles that answer it, a wrong entity of the same kind seldom.
    `spans`: the stemmed words of each sentence's best span (none: no span)."""
    out = np.zeros(len(spans))
    for i, words in enumerate(spans):
        new = [w for w in words if w not in asked]
        if new:
            out[i] = np.log1p(sum(2 * sum(w in t for w in new) >= len(new) for t in titles))
    return out


def fill_cosines(
    sentences: Sentences,
    query: Query,
    cands: list[Candidate],
    feats: np.ndarray,
    score: Callable[[np.ndarray], np.ndarray],
    holding: np.ndarray | None = None,
    other_within: float | None = None,
) -> None:
    """Fill the cosine column of `feats` (left at 0 by features(cosine=False)) where it can decide what a fact
    answer takes from them, embedding only those sentences: which sentence scores best, of all and of those
    `holding` the kind asked for (the gate's), and the best of another article than the best's (a second
    citation). A cosine lies in [-1, 1], so a sentence that would not outscore the best embedded one even at 1 is
    left out, its cosine set to -1; the best ones and their scores are then those that embedding every sentence
    gives. Embedding a sentence is most of a news answer's time, and most sentences are far from the best.

    `score`: the answer scores of features; where it weighs the cosine negatively, every sentence is embedded.
    `other_within`: another article's best sentence counts only where it scores at least this share of the best
    sentence's score (the answerer's second citation), so only sentences that could reach that are embedded; of
    the others, which is best is then left open. None: that best is found whatever its score."""
    vector = query.vector
    if vector is None or not cands:
        return
    keys = [c.key for c in cands]
    done = np.zeros(len(cands), dtype=bool)

    def embed(rows: np.ndarray) -> None:
        feats[rows, COSINE] = sentences.cosines([keys[i] for i in rows], vector)
        done[rows] = True

    feats[:, COSINE] = -1.0
    floor = score(feats)
    feats[:, COSINE] = 1.0
    reach = score(feats) - floor  # what a cosine of 1 instead of -1 adds
    feats[:, COSINE] = -1.0
    if (reach < 0).any():
        embed(np.arange(len(cands)))
        return

    def settle(among: np.ndarray) -> int:
        rows = np.flatnonzero(among)
        while len(rows):
            scores = score(feats)
            known = rows[done[rows]]
            if not len(known):
                embed(rows[np.argsort(-scores[rows], kind="stable")[:FIRST_EMBEDDED]])
                continue
            best = int(known[np.argmax(scores[known])])
            # 1e-3: a margin for the rounding of float32 sums; it only embeds a sentence more
            todo = rows[~done[rows] & (floor[rows] + reach[rows] >= scores[best] - 1e-3)]
            if not len(todo):
                return best
            embed(todo)
        return -1

    best = settle(np.ones(len(cands), dtype=bool))
    if holding is not None:
        settle(holding)
    if best >= 0:
        other = np.array([c.article != cands[best].article for c in cands])
        if other_within is not None:
            # 1e-3 as above
            other &= floor + reach >= other_within * float(score(feats)[best]) - 1e-3
        settle(other)


_YEAR = re.compile(r"(?<![\d,.$£€])\b(?:19|20)\d\d\b(?![\d,.]\d)")


def stated_dates(
    period: Period | None, texts: list[str], dates: Sequence[str | None] | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Per sentence: whether it states the period asked about (its year, or for a month its month's name), and
    whether it states another year and not the asked one (a sentence about another meeting than the one asked).
    With `dates` (each sentence's article date), a sentence stating no year is taken to be of its article's."""
    states, other = np.zeros(len(texts)), np.zeros(len(texts))
    if period is None:
        return states, other
    years = {str(y) for y in range(period.start.year, period.end.year + 1)}
    month = calendar.month_name[period.start.month] if period.start.month == period.end.month else None
    for i, text in enumerate(texts):
        found = set(_YEAR.findall(text))
        if not found and dates is not None and dates[i]:
            found = {str(dates[i])[:4]}
        held = bool(found & years) or (month is not None and month in text and not found - years)
        states[i] = float(held)
        other[i] = float(bool(found - years) and not found & years)
    return states, other


def asked_kind_held(question: str, feats: np.ndarray) -> np.ndarray | None:
    """When the question asks for an amount, a duration or a date and some sentence holds one: which sentences
    do (`feats`: features'); else None."""
    if not strict_kind(question) or not feats[:, 4].any():
        return None
    return np.asarray(feats[:, 4] > 0)
