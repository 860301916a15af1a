"""The sentences of an index's articles, as every later stage reads them, worked out once per sentence and kept
for the life of the loaded index: their spans, their stemmed words, their vectors.

The second stage (qa.search.rerank) reads each candidate chunk's sentences as blingfire splits the chunk text;
the answerer and the LLM check split the article text paragraph by paragraph (qa.ingest.chunk.sentence_spans),
which is what a citation quotes. Both are kept here, keyed by where they are.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import numpy as np

from qa.embed.embedder import Embedder
from qa.index.lexical import sentence_split
from qa.index.store import Index
from qa.ingest.chunk import sentence_spans
from qa.search.dates import parse_date
from qa.text import tokenize

Key = tuple[str, int, int]  # (article id, start, end) of a sentence, or of a stretch of an article
Words = tuple[frozenset[str], tuple[str, ...]]  # a sentence's stemmed words, as a set and in order


def pairs_held(pairs: set[tuple[str, str]], words: Words) -> int:
    """How many of the word pairs the sentence holds, the second word right after the first. Looked up where both
    words are in it, rather than by a set of all its pairs: a question has a few pairs, a search reads thousands
    of sentences."""
    held, seq = words
    return sum(
        1 for a, b in pairs if a in held and b in held and any(x == a and y == b for x, y in itertools.pairwise(seq))
    )


class Sentences:
    def __init__(self, index: Index, embedder: Embedder) -> None:
        self.index = index
        self.embedder = embedder
        self._spans: dict[Key, list[tuple[int, int]]] = {}
        self._vectors: dict[Key, np.ndarray] = {}
        self._tokens: dict[Key, frozenset[str]] = {}
        self._chunk_words: dict[int, list[Words]] = {}
        self._days: dict[str, float] = {}
        self._titles: dict[str, Words] = {}

    def title_words(self, articles: Sequence[str]) -> list[frozenset[str]]:
        """The stemmed words of each article's title."""
        return [held for held, _ in self._title(articles)]

    def title_tokens(self, articles: Sequence[str]) -> list[tuple[str, ...]]:
        """The stemmed words of each article's title, in order."""
        return [seq for _, seq in self._title(articles)]

    def _title(self, articles: Sequence[str]) -> list[Words]:
        """The missing titles are tokenized in one call (a call costs more than a title's words: the second stage
        reads the titles of ~160 candidates a question)."""
        missing = [a for a in dict.fromkeys(articles) if a not in self._titles]
        if missing:
            for a, toks in zip(missing, tokenize([self.index.articles[a].title for a in missing]), strict=True):
                self._titles[a] = (frozenset(toks), tuple(toks))
        return [self._titles[a] for a in articles]

    def article_day(self, article: str) -> float:
        """The article's date as a day ordinal, NaN when it is undated."""
        day = self._days.get(article)
        if day is None:
            date = parse_date(self.index.articles[article].date)
            day = self._days[article] = float(date.toordinal()) if date else float("nan")
        return day

    def spans(self, article: str, start: int, end: int) -> list[tuple[int, int]]:
        """Sentence spans of an article's text between two offsets (paragraphs never run together)."""
        key = (article, start, end)
        spans = self._spans.get(key)
        if spans is None:
            spans = self._spans[key] = list(sentence_spans(self.index.articles[article].text, start, end))
        return spans

    def text(self, key: Key) -> str:
        return self.index.articles[key[0]].text[key[1] : key[2]]

    def vectors(self, keys: Sequence[Key]) -> np.ndarray:
        """The MiniLM (query-side) vectors of these sentences; the missing ones embedded in one call."""
        missing = list(dict.fromkeys(k for k in keys if k not in self._vectors))
        if missing:
            for k, v in zip(missing, self.embedder.embed_queries([self.text(k) for k in missing]), strict=True):
                self._vectors[k] = v
        return np.stack([self._vectors[k] for k in keys])

    def cosines(self, keys: Sequence[Key], vector: np.ndarray) -> np.ndarray:
        """The cosine of each sentence with a (query) vector, row by row: a sentence's cosine is the same to the bit
        whichever sentences are scored beside it (a matrix product rounds by the matrix's shape)."""
        return np.asarray((self.vectors(keys) * vector).sum(axis=1), dtype=np.float32)

    def tokens(self, keys: Sequence[Key]) -> list[frozenset[str]]:
        """The stemmed words of these sentences; the missing ones tokenized in one call."""
        missing = list(dict.fromkeys(k for k in keys if k not in self._tokens))
        if missing:
            for k, toks in zip(missing, tokenize([self.text(k) for k in missing]), strict=True):
                self._tokens[k] = frozenset(toks)
        return [self._tokens[k] for k in keys]

    def chunk_words(self, rows: Sequence[int]) -> list[list[Words]]:
        """For each chunk row, its sentences' stemmed words (blingfire over the chunk text): read off the chunk's
        stored tokens where the index holds their sentence runs, else the missing ones split and tokenized in one
        call (the same words: tests)."""
        missing = [r for r in dict.fromkeys(rows) if r not in self._chunk_words]
        split_here: list[int] = []
        for r in missing:
            runs = self.index.runs[r]
            if runs is None:
                split_here.append(r)
                continue
            toks, at, words = self.index.tokens[r], runs[0], []
            for n in runs[1:]:
                words.append((frozenset(toks[at : at + n]), tuple(toks[at : at + n])))
                at += n
            self._chunk_words[r] = words
        if split_here:
            spans: list[tuple[int, int]] = []
            texts: list[str] = []
            for r in split_here:
                split = sentence_split(self.index.chunks[r].text)
                spans.append((len(texts), len(texts) + len(split)))
                texts.extend(split)
            tokens = tokenize(texts)
            for r, (lo, hi) in zip(split_here, spans, strict=True):
                self._chunk_words[r] = [(frozenset(t), tuple(t)) for t in tokens[lo:hi]]
        return [self._chunk_words[r] for r in rows]
