"""The reader's training data (`python -m train.reader prepare`): each question of squad-dev16 and realtimeqa-dev
over the K passages qa's own retrieval gives it, as `qa ask` asks it (a news question on the day it was asked).

Per question, one example of its K passages (the best passage holding a gold answer put in place of the K-th when
retrieval missed it) and one of K passages holding no gold answer string ("none of these"); with --near-misses
also its K passages with every sentence holding a gold answer deleted. Gold answers:

- squad-dev16: the occurrences of a gold answer in the question's own paragraph (its `paragraph_index`); the
  answer positions are every occurrence in the passages of its article;
- realtimeqa-dev: every occurrence in a source page, not run into a letter or digit (so "7" is not found in
  "2017", as the set's sources were chosen); a quiz answer is often in other pages too, which are not positives.

Each example carries its set and its fold (squad-dev16 by article, realtimeqa-dev by quiz week: train.common's
halves), so `train --fold F` holds out the same half of both sets as every other recipe.
"""

from __future__ import annotations

import json
import re
import time
from pathlib import Path
from typing import Any

import numpy as np

K = 5  # passages an answer reads (`qa ask -k 5`)
KINDS = ("answer", "none", "near")  # an example's passages: with the answer, other passages, the answer deleted


def prepare(out: Path, near_misses: bool = False, sets: tuple[str, ...] = (), limit: int = 0) -> None:
    from qa.answer.reader import pair_tokenizer
    from qa.eval import sets as data_sets
    from train.common import SETS, asked_on, data_dir, open_set, set_questions

    chosen = sets or SETS
    tok = pair_tokenizer()
    ids: list[np.ndarray] = []
    meta: list[tuple[int, int, int, int, int]] = []  # question, article, kind, fold, set
    targets: list[tuple[int, int, int, int]] = []
    articles: list[str] = []
    article_no: dict[str, int] = {}
    missed = questions = 0
    t0 = time.perf_counter()
    for set_no, name in enumerate(chosen):
        qa = open_set(name)
        index, retriever = qa.index, qa.retriever
        canonical = index.manifest.aliases()
        by_article: dict[str, list[Any]] = {}
        for c in index.chunks:
            by_article.setdefault(c.article, []).append(c)
        todo = set_questions(name)[: limit or None]
        for qn, q in enumerate(todo):
            sources = [canonical.get(a, a) for a in q["source_articles"]]
            gold = _gold(name, q, {a: index.articles[a].text for a in sources if a in index.articles})
            if not gold:
                continue
            found = retriever.search(q["question"], K + 6, as_of=asked_on(q)).passages
            chunks = [p.chunk for p in found]
            pos = chunks[:K]
            if not any(_holds(c, gold) for c in pos):
                missed += 1
                holding = [c for a in gold for c in by_article.get(a, []) if _holds(c, gold)]
                if not holding:
                    continue
                pos = [*pos[: K - 1], holding[0]]
            neg = [c for c in chunks if not _said(c.text, q["answers"])][:K]
            examples = [("answer", pos, [c.text for c in pos]), ("none", neg, [c.text for c in neg])]
            near = [_without_answer(c.text, q["answers"]) for c in pos] if near_misses else []
            if near and not any(_said(t, q["answers"]) for t in near):
                examples.append(("near", pos, near))
            article = article_no.setdefault(sources[0], len(articles))
            if article == len(articles):
                articles.append(sources[0])
            for kind, group, texts in examples:
                if len(group) < K:
                    continue
                e = len(meta)
                enc = tok.encode_batch([(q["question"], t) for t in texts])
                ids.append(np.array([_padded(x.ids) for x in enc], dtype=np.uint16))
                meta.append((questions + qn, article, KINDS.index(kind), int(q["fold"]), set_no))
                if kind != "answer":
                    continue
                for k, (c, x) in enumerate(zip(group, enc, strict=True)):
                    for s, end in _positions(name, q, c, gold):
                        span = _token_span(x, s - c.start, end - c.start)
                        if span is not None:
                            targets.append((e, k, *span))
            if qn % 500 == 0:
                print(f"{name}: {qn}/{len(todo)} questions, {time.perf_counter() - t0:.0f} s", flush=True)
        questions += len(todo)
    # an answer example whose gold occurrences were all cut off by truncation has nothing to learn from
    have = {t[0] for t in targets}
    keep = [e for e, m in enumerate(meta) if m[2] or e in have]
    renumber = {e: n for n, e in enumerate(keep)}
    tgt = np.array([(renumber[t[0]], *t[1:]) for t in targets if t[0] in renumber], dtype=np.int32)
    out.parent.mkdir(parents=True, exist_ok=True)
    column = [np.array([meta[e][i] for e in keep]) for i in range(5)]
    np.savez_compressed(
        out,
        ids=np.stack([ids[e] for e in keep]),
        question=column[0].astype(np.int32),
        article=column[1].astype(np.int32),
        none=column[2] > 0,
        kind=column[2].astype(np.int8),
        fold=column[3].astype(np.int8),
        set=column[4].astype(np.int8),
        sets=np.array(chosen),
        targets=tgt,
        articles=np.array(articles),
        data=np.array(json.dumps({s: data_sets.digest(data_dir(s)) for s in chosen})),  # for the stamp
    )
    n = [sum(meta[e][2] == k for e in keep) for k in range(len(KINDS))]
    print(
        f"{len(keep)} examples ({n[0]} with an answer, {n[1]} of other passages, {n[2]} near misses) of {K} passages, "
        f"{len(tgt)} answer positions; gold passage put in for {missed} questions retrieval missed; "
        f"{time.perf_counter() - t0:.0f} s -> {out}"
    )


def _gold(name: str, q: dict[str, Any], texts: dict[str, str]) -> dict[str, list[tuple[int, int]]]:
    """Article -> the (start, end) of the gold answers the question is trained to find there."""
    if name == "squad-dev16":
        from train.gate import paragraph_spans

        article = q["source_articles"][0]
        text = texts.get(article, "")
        paras = paragraph_spans(text) if text else []
        i = q.get("paragraph_index")
        if i is None or i >= len(paras):
            return {}
        spans = [(s, s + len(a)) for a in q["answers"] for s in _occurrences(text, a) if paras[i][0] <= s < paras[i][1]]
        return {article: spans} if spans else {}
    out = {}
    for article, text in texts.items():
        spans = [(m.start(), m.end()) for a in q["answers"] for m in _bounded(a).finditer(text)]
        if spans:
            out[article] = spans
    return out


def _positions(
    name: str, q: dict[str, Any], chunk: Any, gold: dict[str, list[tuple[int, int]]]
) -> list[tuple[int, int]]:
    """The gold answers inside `chunk`, as (start, end) in its article: squad-dev16, every occurrence in a passage
    of the question's article; news, the gold occurrences of the source pages."""
    if chunk.article not in gold:
        return []
    if name == "squad-dev16":
        return [(chunk.start + s, chunk.start + s + len(a)) for a in q["answers"] for s in _occurrences(chunk.text, a)]
    return [(s, e) for s, e in gold[chunk.article] if chunk.start <= s and e <= chunk.end]


def _bounded(answer: str) -> re.Pattern[str]:
    return re.compile(r"(?<![A-Za-z0-9])" + re.escape(answer) + r"(?![A-Za-z0-9])")


def _said(text: str, answers: list[str]) -> bool:
    """Some gold answer occurs in the text, in any case."""
    return any(a.lower() in text.lower() for a in answers)


def _without_answer(text: str, answers: list[str]) -> str:
    """The passage with every sentence that holds a gold answer (any case) deleted."""
    from qa.ingest.chunk import sentence_spans

    kept = [text[s:e] for s, e in sentence_spans(text, 0, len(text)) if not _said(text[s:e], answers)]
    return " ".join(kept)


def _occurrences(text: str, answer: str) -> list[int]:
    out, at = [], text.find(answer)
    while answer and at >= 0:
        out.append(at)
        at = text.find(answer, at + 1)
    return out


def _holds(chunk: Any, gold: dict[str, list[tuple[int, int]]]) -> bool:
    return any(chunk.start <= s and e <= chunk.end for s, e in gold.get(chunk.article, ()))


def _padded(ids: list[int]) -> list[int]:
    from qa.answer.reader import MAX_LEN

    return ids + [0] * (MAX_LEN - len(ids))


def _token_span(enc: Any, start: int, end: int) -> tuple[int, int] | None:
    """The first and last passage token of the characters [start, end), or None when truncation cut them off."""
    toks = [t for t, (sid, (a, b)) in enumerate(zip(enc.sequence_ids, enc.offsets, strict=True)) if sid == 1 and b > a]
    first = next((t for t in toks if enc.offsets[t][1] > start), None)
    last = next((t for t in reversed(toks) if enc.offsets[t][0] < end), None)
    if first is None or last is None or last < first or enc.offsets[last][1] < end:
        return None
    return first, last
