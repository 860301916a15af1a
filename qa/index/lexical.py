"""Keyword search: BM25 (bm25s) over the same chunks as the vectors.

Each segment stores its chunks' tokens (`seg-*.tokens.npz`: stemmed, stop words out), written once when
the chunks are new; loading merges the live rows of every segment into one bm25s index, so document
frequencies and lengths are always those of exactly the live chunks, as if built from scratch. The tokens are
qa.text.tokenize's.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from qa.files import write_atomic


def write_tokens(path: Path, token_lists: Sequence[Sequence[str]]) -> None:
    """Store tokens compactly: a vocabulary, one flat id array and per-chunk offsets."""
    vocab: dict[str, int] = {}
    ids = np.fromiter(
        (vocab.setdefault(t, len(vocab)) for tokens in token_lists for t in tokens),
        dtype=np.int32,
    )
    offsets = np.zeros(len(token_lists) + 1, dtype=np.int64)
    np.cumsum([len(t) for t in token_lists], out=offsets[1:])
    buf = io.BytesIO()
    np.savez(buf, vocab=np.array(list(vocab), dtype=str), ids=ids, offsets=offsets)
    write_atomic(path, buf.getvalue())


class SegmentTokens:
    """One segment's stored tokens, read back."""

    def __init__(self, path: Path) -> None:
        with np.load(path, allow_pickle=False) as data:
            self.vocab: np.ndarray = data["vocab"]
            self.ids: np.ndarray = data["ids"]
            self.offsets: np.ndarray = data["offsets"]

    def rows(self, keep: Sequence[int]) -> list[list[str]]:
        vocab = self.vocab
        return [vocab[self.ids[self.offsets[r] : self.offsets[r + 1]]].tolist() for r in keep]


class BM25Index:
    """bm25s over a list of token lists, one per live chunk (row order = the vector index's)."""

    def __init__(self, docs: list[list[str]]) -> None:
        import bm25s
        from bm25s.tokenization import Tokenized

        vocab: dict[str, int] = {"": 0}  # bm25s reserves an empty token
        ids = [[vocab.setdefault(t, len(vocab)) for t in doc] for doc in docs]
        self.n = len(docs)
        self.model = bm25s.BM25()
        if self.n:
            self.model.index(Tokenized(ids=ids, vocab=vocab), show_progress=False)
        self.vocab = vocab

    def scores(self, question_tokens: list[str]) -> np.ndarray:
        """BM25 score of every row for the (tokenized) question; zeros when no word is known."""
        known = [t for t in question_tokens if t in self.vocab and t]
        if not known or not self.n:
            return np.zeros(self.n, dtype=np.float32)
        return np.asarray(self.model.get_scores(known), dtype=np.float32)

    def idf(self, tokens: list[str], *, unknown: bool = False) -> dict[str, float]:
        """Inverse document frequency of each token (BM25's formula). Tokens no chunk holds are left out,
        or with `unknown`, get the highest IDF there is: a word the articles never use is the strongest
        sign that they cannot answer."""
        indptr = self.model.scores["indptr"] if self.n else None
        out: dict[str, float] = {}
        for t in tokens:
            tid = self.vocab.get(t)
            if tid and indptr is not None:
                df = int(indptr[tid + 1] - indptr[tid])
            elif unknown and t:
                df = 0
            else:
                continue
            out[t] = float(np.log(1 + (self.n - df + 0.5) / (df + 0.5)))
        return out
