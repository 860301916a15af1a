"""How the sentences of an open answer (qa.answer.open) are chosen.

- list: the sentence a fact answer would give (the anchor), then each next one for its score plus how much of the
  question it covers that those chosen do not (they are chosen for what they cover together), never a
  near-duplicate, each adding words of its own;
- comparison: the sides the question names (its years, each asked as a question of its own, else the relevant
  articles), the best sentences of each;
- summary: an article's lead and its most central sentences (TF-IDF cosine to its other sentences, and position),
  in the article's order; of several articles when the question asks about them ("the articles about …");
- timeline: each relevant dated article's key sentence (the first near its best for the question), in date order.

Sentences are scored by the plain sentence model without its passage-rank terms (they are parts of an account, not
rivals for the one answer), none from before an article's lead (captions, standfirsts).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from qa.answer import forms
from qa.answer.sentences import FEATURES, Candidate, content_tokens, shipped_weights, stated_dates
from qa.search.dates import parse_date
from qa.text import coverage, tokenize
from qa.types import Article

if TYPE_CHECKING:
    from qa.answer.answerer import Answerer
    from qa.search.retrieve import SearchResult

OPEN_K = 10  # passages an open answer reads
MAX_SENTENCES = 5
LIST_SENTENCES = 4
PER_SIDE = 2  # sentences of each side of a comparison, of each article in a summary of several
SUMMARY_SENTENCES = 4  # of a summary of one article
TIMELINE_ENTRIES = 6
SPREAD = 1.0  # a sentence competes when its score is within this of the best (the whole question's coverage weighs 1)
NEAR_DUPLICATE = 0.8  # MiniLM cosine above which a sentence only repeats one already chosen
NEW_WORDS = 3  # stemmed words a sentence must add to the question's and those already chosen
RELEVANT = 1.5  # an article takes part when its best sentence scores within this of the best sentence
LEAD_WORDS = 25  # the lead: the first paragraph this long (captions, standfirsts, bylines come before it)
SUMMARY_MIN_WORDS = 8  # shorter lines are headings or web-page leftovers, never summary sentences
_PLURAL = re.compile(r"\b(?:articles|stories|pieces|reports|news|coverage|both|all)\b", re.I)
YEAR = re.compile(r"\b(?:19|20)\d\d\b")
_YEARS = re.compile(r"\b(?:19|20)\d\d\b(?:,? (?:and|or|vs\.?|versus) (?:in )?(?:19|20)\d\d\b)+")
_BREAK = re.compile(r"\n[ \t]*\n")
_SAID = re.compile(r"\bwhat (?:did|does|do|has|have|had) (.+?) (?:say|said|tell|told)\b", re.I)
_QUOTE = re.compile(r"[\"“”]")


@dataclass(frozen=True, slots=True)
class Part:
    """A sentence chosen for an open answer, and why: its score for the question (or centrality, in a summary)."""

    cand: Candidate
    score: float
    anchor: bool = False  # the sentence a fact answer would give: first in its article's group


@dataclass(frozen=True, slots=True)
class Read:
    """What an open answer reads of one search, worked out once: the sentences of the passages found and their
    features, their scores as a fact answer's by the plain sentence model, and the gate's signals and value over
    them (as the gate was fitted: the fact question's way)."""

    found: SearchResult
    cands: list[Candidate]
    feats: np.ndarray
    scores: np.ndarray
    signals: dict[str, float]
    value: float


def read(answerer: Answerer, found: SearchResult) -> Read:
    from qa.answer.gate import gate_signals, shipped_gate

    cands, feats = answerer.sentence_features(found, None)
    if not cands:
        return Read(found, cands, feats, np.zeros(0), {}, -1e9)
    scores = feats @ shipped_weights(False).vector()
    signals = gate_signals(answerer.index, found, cands, feats, scores, None)
    return Read(found, cands, feats, scores, signals, shipped_gate(False).value(signals))


def scored(answerer: Answerer, r: Read) -> tuple[list[Candidate], np.ndarray, np.ndarray]:
    """The sentences an open answer chooses from and their scores by the plain sentence model, read as parts of
    an account rather than rivals for the one answer: none from before its article's lead (captions,
    standfirsts); what they say counts, not how well their passage ranked (those weights are left out); a
    sentence stating no year is taken to be of its article's."""
    articles, found = answerer.index.articles, r.found
    keep = [i for i, c in enumerate(r.cands) if c.start >= lead_start(articles[c.article])]
    cands, feats = [r.cands[i] for i in keep], r.feats[keep].copy()
    if not cands:
        return cands, feats, np.zeros(0)
    col = {name: j for j, name in enumerate(FEATURES)}
    states, other = stated_dates(found.query.period, [c.text for c in cands], [articles[c.article].date for c in cands])
    feats[:, col["states_date"]], feats[:, col["other_date"]] = states, other
    weights = shipped_weights(False).vector().copy()
    weights[[col["passage"], col["rank"]]] = 0.0
    return cands, feats, feats @ weights + SPREAD * _quotes_asked(found.question, cands)


def _quotes_asked(question: str, cands: Sequence[Candidate]) -> np.ndarray:
    """1 for the sentences quoting the speaker a question asks about ("What did Putin say …?": a sentence with a
    quotation and Putin's name in it or, a quotation alone, in the sentence before it), else 0."""
    m = _SAID.search(question)
    if m is None:
        return np.zeros(len(cands))
    names = [w for w in re.findall(r"\b[A-Z][\w’'-]+", m.group(1))]
    if not names:
        return np.zeros(len(cands))
    return np.array(
        [float(bool(_QUOTE.search(c.text)) and any(n in c.text or n in c.prev for n in names)) for c in cands]
    )


def lead_start(a: Article) -> int:
    """Where an article's lead begins: its first paragraph of LEAD_WORDS words (0 when none is that long)."""
    start = 0
    for m in [None, *_BREAK.finditer(a.text)]:
        start = m.end() if m else 0
        end = _BREAK.search(a.text, start)
        if len(a.text[start : end.start() if end else len(a.text)].split()) >= LEAD_WORDS:
            return start
    return 0


def _vectors(answerer: Answerer, cands: Sequence[Candidate]) -> np.ndarray:
    return answerer.sentences.vectors([c.key for c in cands])


def _greedy(
    answerer: Answerer,
    found: SearchResult,
    cands: Sequence[Candidate],
    scores: np.ndarray,
    limit: int,
    chosen: Sequence[int] = (),
) -> list[int]:
    """Up to `limit` sentences (indices into cands) after those `chosen`: each next one the best by its score
    plus the share of the question's words it covers that the chosen do not; within SPREAD of the best, no
    near-duplicate, and adding NEW_WORDS words of its own."""
    if not cands:
        return list(chosen)
    q_tokens = content_tokens(found.query)
    idf = answerer.index.bm25.idf(q_tokens)
    total = sum(idf.values()) or 1.0
    words = [set(t) for t in tokenize([c.text for c in cands])]
    vectors = _vectors(answerer, cands)
    picked = list(chosen)
    if not picked:
        picked.append(int(np.argmax(scores)))
    floor = float(scores.max()) - SPREAD
    while len(picked) < limit:
        covered = set(q_tokens).union(*(words[j] for j in picked))
        held = set().union(*(words[j] for j in picked))
        best, gain = -1, -np.inf
        for i in range(len(cands)):
            if i in picked or scores[i] < floor or len(words[i] - covered) < NEW_WORDS:
                continue
            if float(np.max(vectors[picked] @ vectors[i])) > NEAR_DUPLICATE:
                continue
            g = float(scores[i]) + coverage(idf, words[i] - held, total)
            if g > gain:
                best, gain = i, g
        if best < 0:
            break
        picked.append(best)
    return picked


def anchor(r: Read) -> tuple[str, int] | None:
    """(article, start) of the sentence the fact answer would give (the plain sentence model's best): an account or
    a comparison opens with it, so the answer to the question as a fact question is never lost."""
    if not r.cands:
        return None
    best = r.cands[int(np.argmax(r.scores))]
    return best.article, best.start


def _anchored(cands: Sequence[Candidate], anchor: tuple[str, int] | None) -> list[int]:
    """[the anchor's index among cands], or [] when it is not among them (a caption, left out of open answers)."""
    return [i for i, c in enumerate(cands) if (c.article, c.start) == anchor][:1]


def _parts(cands: Sequence[Candidate], scores: np.ndarray, picked: Sequence[int], anchor: Sequence[int]) -> list[Part]:
    return [Part(cands[i], float(scores[i]), i in anchor) for i in picked]


def account(
    answerer: Answerer,
    found: SearchResult,
    cands: list[Candidate],
    scores: np.ndarray,
    anchor: tuple[str, int] | None = None,
) -> list[Part]:
    """The anchor (else the best), then each next sentence by _greedy."""
    first = _anchored(cands, anchor)
    return _parts(cands, scores, _greedy(answerer, found, cands, scores, LIST_SENTENCES, chosen=first), first)


def _relevant_articles(cands: Sequence[Candidate], scores: np.ndarray) -> list[str]:
    """The articles whose best sentence scores within RELEVANT of the best sentence, best first."""
    best: dict[str, float] = {}
    for i in np.argsort(-scores):
        best.setdefault(cands[int(i)].article, float(scores[int(i)]))
    top = max(best.values())
    return [a for a, s in best.items() if s >= top - RELEVANT]


def year_sides(answerer: Answerer, found: SearchResult, question: str, articles: set[str] | None) -> dict[str, Read]:
    """Each year the question names, asked about as a question of its own ("the 2012 meetings between …", then
    "the 2013 …")."""
    asked = forms.topic(question)
    out = {}
    for year in dict.fromkeys(YEAR.findall(question)):
        side_q = _YEARS.sub(year, asked) if _YEARS.search(asked) else asked
        out[year] = read(
            answerer, answerer.retriever.search(side_q, OPEN_K, articles=articles, as_of=found.query.as_of)
        )
    return out


def year_comparison(answerer: Answerer, sides: dict[str, Read]) -> list[Part]:
    """The best sentences of each year's side (year_sides), from articles of that year (an undated one: stating
    it)."""
    parts: list[Part] = []
    for year, side in sides.items():
        cands, _, scores = scored(answerer, side)
        mine = [i for i, c in enumerate(cands) if _year_of(answerer, c) == year]
        parts += _best_of(answerer, side.found, [cands[i] for i in mine], scores[mine])
    return parts[:MAX_SENTENCES]


def comparison(answerer: Answerer, r: Read) -> list[Part]:
    """The best sentences of each relevant article (at most three), the anchor's (the fact answer's) first."""
    parts: list[Part] = []
    found, first = r.found, anchor(r)
    cands, _, scores = scored(answerer, r)
    if cands:
        articles = _relevant_articles(cands, scores)
        if first is not None and first[0] in articles:
            articles.remove(first[0])
            articles.insert(0, first[0])
        for article in articles[:3]:
            mine = [i for i, c in enumerate(cands) if c.article == article]
            parts += _best_of(answerer, found, [cands[i] for i in mine], scores[mine], first)
    return parts[:MAX_SENTENCES]


def _best_of(
    answerer: Answerer,
    found: SearchResult,
    cands: list[Candidate],
    scores: np.ndarray,
    anchor: tuple[str, int] | None = None,
) -> list[Part]:
    """A side's sentences: the anchor when it is among them, else its key sentence (_key), then the best others
    (_greedy)."""
    if not cands:
        return []
    first = _anchored(cands, anchor)
    picked = _greedy(answerer, found, cands, scores, PER_SIDE, chosen=first or [_key(cands, scores)])
    return _parts(cands, scores, picked, first)


def _key(cands: Sequence[Candidate], scores: np.ndarray) -> int:
    """An article's key sentence: of its sentences within SPREAD of its best for the question, the first (news
    says what happened first)."""
    top = float(np.max(scores))
    return min((i for i in range(len(cands)) if scores[i] >= top - SPREAD), key=lambda i: cands[i].start)


def _year_of(answerer: Answerer, c: Candidate) -> str | None:
    date = answerer.index.articles[c.article].date
    if date:
        return date[:4]
    stated = YEAR.findall(c.text)
    return stated[0] if stated else None


def timeline(
    answerer: Answerer,
    cands: list[Candidate],
    feats: np.ndarray,
    scores: np.ndarray,
    years: tuple[int, int] | None = None,
) -> list[Part]:
    """The key sentence (_key) of each relevant dated article (of the `years` asked about, when a range is)."""
    parts = []
    for article in _relevant_articles(cands, scores):
        date = parse_date(answerer.index.articles[article].date)
        if date is None or (years is not None and not years[0] <= date.year <= years[1]):
            continue
        mine = [i for i, c in enumerate(cands) if c.article == article]
        i = mine[_key([cands[i] for i in mine], scores[mine])]
        parts.append(Part(cands[i], float(scores[i])))
    return parts[:TIMELINE_ENTRIES]


def summary(answerer: Answerer, question: str, found: SearchResult) -> list[Part]:
    """The lead and the most central sentences of the best article, or of each relevant article when the question
    asks about several. The best are the articles found first; those published in the period the question names
    ("the 2012 meeting") and those from a source it names ("the Bloomberg article") come before the others."""
    order = list(dict.fromkeys(p.chunk.article for p in found.passages))
    order.sort(key=lambda a: -_named_fit(answerer.index.articles[a], question, found))  # stable: found order kept
    articles = order[:3] if _PLURAL.search(question) else order[:1]
    each = PER_SIDE if len(articles) > 1 else SUMMARY_SENTENCES
    return [part for a in articles for part in summary_sentences(answerer, a, each)]


def _named_fit(a: Article, question: str, found: SearchResult) -> int:
    """How many of the period the question names and the source it names the article fits (0, 1 or 2)."""
    period, day = found.query.period, parse_date(a.date)
    dated = period is not None and day is not None and day in period
    source = bool(a.source) and any(w in question for w in re.findall(r"[A-Z][\w&.-]+", a.source or ""))
    return int(dated) + int(source)


def summary_sentences(answerer: Answerer, article: str, n: int) -> list[Part]:
    """An article's lead sentence and the n-1 others best by centrality (the mean TF-IDF cosine of a sentence to
    the article's other sentences, over the most central's) and position (1 at the lead, falling to 0 at the end:
    news puts what matters first), none a near-duplicate of one chosen, in the article's order."""
    a = answerer.index.articles[article]
    cands = _body_sentences(answerer, a)
    if not cands:
        return []
    tokens = tokenize([c.text for c in cands])
    vocab = sorted({t for toks in tokens for t in toks})
    idf = answerer.index.bm25.idf(vocab, unknown=True)
    col = {t: j for j, t in enumerate(vocab)}
    m = np.zeros((len(cands), len(vocab)))
    for i, toks in enumerate(tokens):
        for t in toks:
            m[i, col[t]] += idf.get(t, 0.0)
    m /= np.maximum(np.linalg.norm(m, axis=1, keepdims=True), 1e-9)
    sim = m @ m.T
    central = (sim.sum(axis=1) - 1.0) / max(len(cands) - 1, 1)
    value = central / max(float(central.max()), 1e-9) + (1.0 - np.arange(len(cands)) / len(cands))
    picked = [0]  # the lead
    for i in np.argsort(-value):
        if len(picked) >= n:
            break
        if int(i) not in picked and float(np.max(sim[picked, int(i)])) < NEAR_DUPLICATE:
            picked.append(int(i))
    value[0] = float(value.max()) + 1.0  # the lead is the last sentence a shortened summary gives up
    return [Part(cands[i], float(value[i])) for i in sorted(picked)]


def _body_sentences(answerer: Answerer, a: Article) -> list[Candidate]:
    """The sentences of an article from its lead on: web leftovers, headings, short lines and pieces of quotations
    left out."""
    text, lead = a.text, lead_start(a)
    out = []
    for start, end in answerer.sentences.spans(a.id, lead, len(text)):
        sentence = text[start:end]
        skipped = any(s < end and start < e for s, e in a.skip)
        if skipped or len(sentence.split()) < SUMMARY_MIN_WORDS or sentence == a.title or _fragment(sentence):
            continue
        out.append(Candidate(a.id, start, end, sentence, 0))
    return out


def _fragment(sentence: str) -> bool:
    """A piece of a quotation the sentence splitter cut apart: its quotation marks do not pair up."""
    return sentence.count('"') % 2 == 1 or sentence.count("“") != sentence.count("”")
