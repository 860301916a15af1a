"""Sentence-aware chunking with exact character offsets.

An article is cut into regions at its web leftovers (no chunk ever spans one), regions into paragraphs
at blank lines, paragraphs into sentences (blingfire). Sentences are packed greedily into chunks of at
most `size` characters; the next chunk starts with the previous chunk's last sentences, up to `overlap`
characters. A sentence is cut only when it alone is longer than `size`, and then at a space.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from qa.types import Article, Chunk

_PARAGRAPH_BREAK = re.compile(r"\n[ \t]*\n")

Span = tuple[int, int]


def chunk_article(article: Article, size: int, overlap: int) -> list[Chunk]:
    text = article.text
    chunks: list[Chunk] = []
    for region in _regions(len(text), article.skip):
        units = [piece for s in _sentences(text, region) for piece in _fit(text, s, size)]
        for start, end in _pack(units, size, overlap):
            chunks.append(Chunk(article.id, start, end, text[start:end]))
    return chunks


def _regions(length: int, skip: tuple[Span, ...]) -> Iterator[Span]:
    pos = 0
    for start, end in sorted(skip):
        if start > pos:
            yield pos, start
        pos = max(pos, end)
    if pos < length:
        yield pos, length


def sentence_spans(text: str, start: int, end: int) -> Iterator[Span]:
    """Sentences of text[start:end] as (start, end) offsets into text; paragraphs never run together."""
    return _sentences(text, (start, end))


def _sentences(text: str, region: Span) -> Iterator[Span]:
    lo, hi = region
    para_start = lo
    breaks = [(m.start(), m.end()) for m in _PARAGRAPH_BREAK.finditer(text, lo, hi)]
    for para_end, next_start in [*breaks, (hi, hi)]:
        para = text[para_start:para_end]
        if para.strip():
            for s, e in sentence_offsets(para):
                yield _strip(text, para_start + s, para_start + e)
        para_start = next_start


def sentence_offsets(para: str) -> list[Span]:
    """blingfire's sentences of a paragraph as character offsets into it. Its own offsets
    (text_to_sentences_and_offsets) are worked out byte by byte in Python, five times the split's own time, so
    each sentence of the plain split is found in the paragraph instead, after the one before with nothing but
    whitespace between; where one is not (blingfire rewrote a character in it), its own offsets are taken. The
    same sentences, once stripped of whitespace (tests: every paragraph of both data sets)."""
    import blingfire

    out: list[Span] = []
    pos = 0
    for sentence in blingfire.text_to_sentences(para).split("\n"):
        if not sentence:
            continue
        start = para.find(sentence, pos)
        if start < 0 or (start > pos and not para[pos:start].isspace()):
            return [(s, e) for s, e in blingfire.text_to_sentences_and_offsets(para)[1]]
        pos = start + len(sentence)
        out.append((start, pos))
    return out


def _strip(text: str, start: int, end: int) -> Span:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end


def _fit(text: str, span: Span, size: int) -> Iterator[Span]:
    """The sentence itself, or pieces of at most `size` characters cut at spaces when it is longer."""
    start, end = span
    while end - start > size:
        cut = text.rfind(" ", start + size // 2, start + size + 1)
        if cut <= start:
            cut = start + size  # no space in reach: a hard cut is the only option
        yield _strip(text, start, cut)
        start = _strip(text, cut, end)[0]
    if end > start:
        yield start, end


def _pack(units: list[Span], size: int, overlap: int) -> Iterator[Span]:
    i = 0
    while i < len(units):
        j = i
        while j + 1 < len(units) and units[j + 1][1] - units[i][0] <= size:
            j += 1
        yield units[i][0], units[j][1]
        if j + 1 >= len(units):
            return
        # Step back over whole sentences that fit in the overlap, but always move forward.
        nxt = j + 1
        while nxt - 1 > i and units[j][1] - units[nxt - 1][0] <= overlap:
            nxt -= 1
        i = nxt
