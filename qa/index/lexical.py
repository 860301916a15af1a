"""Keyword search: BM25 (bm25s) over the same chunks as the vectors.

Each segment stores its chunks' tokens (`seg-*.tokens.npz`: stemmed, stop words out), written once when
the chunks are new; loading merges the live rows of every segment into one bm25s index, so document
frequencies and lengths are always those of exactly the live chunks, as if built from scratch. The tokens are
qa.text.tokenize's.

A chunk's tokens are its title's, then its text's. Beside them each segment stores where they split (`runs`: the
title's length, then each sentence's), so that the second stage reads a candidate's sentences' words from the
index instead of splitting and tokenizing its text again at every question (segments written before have none:
their chunks are split when asked, with the same result).
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from qa.files import write_atomic


def sentence_split(text: str) -> list[str]:
    """A chunk text's sentences as the second stage reads them: blingfire's, without their offsets (only their
    words count there)."""
    import blingfire

    return [s for s in blingfire.text_to_sentences(text).split("\n") if s]


Runs = list[int] | None  # a chunk's token runs: its title's length, then each sentence's; None: not stored


def sentence_runs(titles: Sequence[str], texts: Sequence[str], tokens: Sequence[Sequence[str]]) -> list[Runs]:
    """For each chunk (its article's title, its text and its stored tokens), the lengths of its title's tokens and
    of each sentence's, each sentence tokenized alone; None where those do not add up to the stored tokens word
    for word (the second stage then tokenizes the chunk's sentences when it reads them, as without runs)."""
    from qa.text import tokenize

    title_words = dict(zip(dict.fromkeys(titles), tokenize(list(dict.fromkeys(titles))), strict=True))
    out: list[Runs] = []
    for lo in range(0, len(texts), _RUN_BATCH):
        splits = [sentence_split(t) for t in texts[lo : lo + _RUN_BATCH]]
        flat = iter(tokenize([s for split in splits for s in split]))
        for title, split, toks in zip(titles[lo : lo + _RUN_BATCH], splits, tokens[lo : lo + _RUN_BATCH], strict=True):
            head = title_words[title]
            words = [next(flat) for _ in split]
            same = head + [t for w in words for t in w] == list(toks)
            out.append([len(head)] + [len(w) for w in words] if same else None)
    return out


_RUN_BATCH = 2000  # chunks tokenized in one call: one call costs more than a chunk, all at once holds every word


def write_tokens(path: Path, token_lists: Sequence[Sequence[str]], runs: Sequence[Runs] | None = None) -> None:
    """Store tokens compactly: a vocabulary, one flat id array and per-chunk offsets; with `runs`, each chunk's
    runs (qa.index.lexical.sentence_runs) in one flat array and per-chunk offsets (none stored: no runs)."""
    vocab: dict[str, int] = {}
    ids = np.fromiter(
        (vocab.setdefault(t, len(vocab)) for tokens in token_lists for t in tokens),
        dtype=np.int32,
    )
    offsets = np.zeros(len(token_lists) + 1, dtype=np.int64)
    np.cumsum([len(t) for t in token_lists], out=offsets[1:])
    arrays = {"vocab": np.array(list(vocab), dtype=str), "ids": ids, "offsets": offsets}
    if runs is not None:
        arrays["runs"] = np.array([n for r in runs if r is not None for n in r], dtype=np.int32)
        arrays["run_offsets"] = np.zeros(len(runs) + 1, dtype=np.int64)
        np.cumsum([len(r) if r is not None else 0 for r in runs], out=arrays["run_offsets"][1:])
    buf = io.BytesIO()
    np.savez(buf, allow_pickle=False, **arrays)
    write_atomic(path, buf.getvalue())


def has_runs(path: Path) -> bool:
    """Whether a segment's tokens file stores its chunks' sentence runs (an older one does not; nor does one that
    cannot be read, which loading the index then names)."""
    try:
        with np.load(path, allow_pickle=False) as data:
            return "runs" in data.files
    except (OSError, ValueError, zipfile.BadZipFile):
        return False


class SegmentTokens:
    """One segment's stored tokens, read back."""

    def __init__(self, path: Path) -> None:
        with np.load(path, allow_pickle=False) as data:
            self.vocab: np.ndarray = data["vocab"]
            self.ids: np.ndarray = data["ids"]
            self.offsets: np.ndarray = data["offsets"]
            self.runs: list[int] | None = data["runs"].tolist() if "runs" in data.files else None
            self.run_offsets: list[int] = data["run_offsets"].tolist() if "runs" in data.files else []

    def rows(self, keep: Sequence[int]) -> list[list[str]]:
        vocab = self.vocab
        return [vocab[self.ids[self.offsets[r] : self.offsets[r + 1]]].tolist() for r in keep]

    def run_rows(self, keep: Sequence[int]) -> list[Runs]:
        """Each kept chunk's sentence runs; None for a chunk without (or a segment written before runs were)."""
        runs, at = self.runs, self.run_offsets
        if runs is None:
            return [None] * len(keep)
        return [runs[at[r] : at[r + 1]] or None for r in keep]


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
