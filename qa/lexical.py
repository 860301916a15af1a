"""Keyword search: BM25 (bm25s) over the same chunks as the vectors.

Each segment stores its chunks' tokens (`seg-*.tokens.npz`: stemmed, stop words out), written once when
the chunks are new; loading merges the live rows of every segment into one bm25s index, so document
frequencies and lengths are always those of exactly the live chunks, as if built from scratch.
"""

from __future__ import annotations

import functools
import io
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

TOKENIZER = "bm25s-en-snowball-irregular"  # recorded in the manifest: other tokens would not match old segments

# Past forms of irregular verbs that news writes and questions ask in the present ("What did Putin say" /
# "Putin said"; "after meeting" / "they met"): read as their base form before stemming, since Snowball
# leaves them apart. Only forms with no common other meaning ("left", "lay", "found(ed)", "rose" are not here).
_IRREGULAR = {
    form: base
    for base, forms in {
        "say": "said", "meet": "met", "tell": "told", "go": "went gone", "make": "made", "take": "took taken",
        "give": "gave given", "hold": "held", "come": "came", "see": "saw seen", "know": "knew known",
        "think": "thought", "bring": "brought", "buy": "bought", "seek": "sought", "catch": "caught",
        "teach": "taught", "fight": "fought", "begin": "began begun", "speak": "spoke spoken",
        "write": "wrote written", "win": "won", "lose": "lost", "keep": "kept", "send": "sent", "spend": "spent",
        "build": "built", "lead": "led", "feel": "felt", "choose": "chose chosen", "fall": "fell fallen",
        "drive": "drove driven", "run": "ran", "grow": "grew grown", "throw": "threw thrown", "fly": "flew flown",
        "break": "broke broken", "strike": "struck", "stand": "stood", "understand": "understood", "sit": "sat",
        "pay": "paid", "sell": "sold", "become": "became", "mean": "meant", "hear": "heard", "shoot": "shot",
        "hide": "hid hidden", "forget": "forgot forgotten", "swear": "swore sworn", "rise": "risen",
        "withdraw": "withdrew withdrawn", "eat": "ate eaten", "wear": "wore worn", "draw": "drew drawn",
        "steal": "stole stolen", "freeze": "froze frozen", "ride": "rode ridden", "sing": "sang sung",
        "sink": "sank sunk", "swim": "swam swum", "arise": "arose arisen", "overtake": "overtook overtaken",
        "undertake": "undertook undertaken", "forbid": "forbade forbidden", "weep": "wept", "sleep": "slept",
        "lend": "lent", "bend": "bent", "deal": "dealt", "dig": "dug", "hang": "hung", "feed": "fed",
        "flee": "fled", "bleed": "bled", "breed": "bred", "shake": "shook shaken",
        "wake": "woke woken", "tear": "tore torn", "bite": "bitten",
    }.items()
    for form in forms.split()
}  # fmt: skip


class _Stemmer:
    """Snowball, after reading irregular past forms as their base form."""

    def __init__(self) -> None:
        import Stemmer

        self._snowball = Stemmer.Stemmer("english")

    def stemWords(self, words: Sequence[str]) -> list[str]:  # the name bm25s looks for
        return list(self._snowball.stemWords([_IRREGULAR.get(w, w) for w in words]))


@functools.cache
def _stemmer() -> _Stemmer:
    return _Stemmer()


def tokenize(texts: Sequence[str]) -> list[list[str]]:
    """Lower-cased, stop words removed, Snowball-stemmed words of each text."""
    import bm25s

    out = bm25s.tokenize(
        list(texts), stopwords="en", stemmer=_stemmer(), return_ids=False, show_progress=False, allow_empty=True
    )
    return [list(t) for t in out]


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
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    with open(tmp, "wb") as f:
        f.write(buf.getvalue())
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


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
