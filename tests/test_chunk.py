"""Chunking: exact offsets, whole sentences, overlap, and no chunk across web leftovers."""

from __future__ import annotations

import itertools
from pathlib import Path

import blingfire
import pytest

from qa.config import DEFAULT_CHUNK_OVERLAP, DEFAULT_CHUNK_SIZE
from qa.ingest.chunk import chunk_article
from qa.ingest.read import read_file
from qa.types import Article
from tests.helpers import SEEDS, news_corpus


def corpus(folder: Path) -> list[Article]:
    return [a for p in sorted(folder.glob("*.txt")) for a in read_file(p.name, p).articles]


def articles_of(which: str, request: pytest.FixtureRequest) -> list[Article]:
    """The seed articles, or squad-dev16's (the squad fixture: skipped where the set is absent)."""
    return corpus(SEEDS if which == "seeds" else request.getfixturevalue("squad") / "articles")


@pytest.mark.parametrize("which", ["seeds", "squad-dev16"])
def test_every_chunk_round_trips_its_offsets(which: str, request: pytest.FixtureRequest) -> None:
    articles = articles_of(which, request)
    assert articles
    for a in articles:
        chunks = chunk_article(a, DEFAULT_CHUNK_SIZE, DEFAULT_CHUNK_OVERLAP)
        assert chunks
        for c in chunks:
            assert a.text[c.start : c.end] == c.text
            assert 0 < len(c.text) <= DEFAULT_CHUNK_SIZE
            assert c.text == c.text.strip()


def sentence_starts_and_ends(article: Article) -> tuple[set[int], set[int]]:
    """Sentence boundaries as blingfire sees them, paragraph by paragraph (independently of qa.chunk)."""
    starts, ends, pos = set(), set(), 0
    for para in article.text.split("\n\n"):
        _, offsets = blingfire.text_to_sentences_and_offsets(para)
        for s, e in offsets:
            seg = para[s:e]
            starts.add(pos + s + (len(seg) - len(seg.lstrip())))
            ends.add(pos + e - (len(seg) - len(seg.rstrip())))
        pos += len(para) + 2
    return starts, ends


@pytest.mark.parametrize("which", ["seeds", "squad-dev16"])
def test_chunks_start_and_end_on_sentence_boundaries(which: str, request: pytest.FixtureRequest) -> None:
    for a in articles_of(which, request)[:6]:
        starts, ends = sentence_starts_and_ends(a)
        for c in chunk_article(a, 600, 120):
            if c.end - c.start < 600 - 200:  # a chunk this short cannot come from cutting a long sentence
                assert c.start in starts, (a.id, c.text[:60])
                assert c.end in ends, (a.id, c.text[-60:])


def test_a_sentence_is_cut_only_when_longer_than_a_chunk_and_then_at_a_space() -> None:
    long_sentence = " ".join(f"word{i}" for i in range(400)) + "."
    text = f"Short opening sentence here. {long_sentence} Closing line follows."
    chunks = chunk_article(Article("a", "T", text), 300, 60)
    assert all(len(c.text) <= 300 for c in chunks)
    pieces = [c for c in chunks if "word" in c.text]
    assert len(pieces) > 1
    for c in pieces:
        assert not text[c.end : c.end + 1].isalnum()  # never inside a word
    assert "".join(text[c.start : c.end] for c in pieces).replace(" ", "").count("word399") == 1


def test_next_chunk_repeats_the_last_sentences_that_fit_in_the_overlap(tmp_path: Path) -> None:
    news_corpus(tmp_path, 4)
    a = Article("long.txt", "Long", "\n\n".join(x.text for x in corpus(tmp_path)))  # four generated articles in one
    starts, _ = sentence_starts_and_ends(a)
    chunks = chunk_article(a, 500, 150)
    overlapped = 0
    for prev, nxt in itertools.pairwise(chunks):
        last_sentence_start = max(s for s in starts if s < prev.end)
        if prev.end - last_sentence_start <= 150 and last_sentence_start > prev.start:
            assert nxt.start <= last_sentence_start  # the last sentence fits the overlap: it is repeated
            assert prev.end - nxt.start <= 150
            overlapped += 1
        else:
            assert nxt.start >= prev.end  # it does not fit: no partial sentence is repeated
    assert overlapped >= 5


def test_no_chunk_spans_a_web_leftover() -> None:
    text = "Para one is here.\n\n[RELATED: Other story]\n\nPara two is here.\n\nSubscribe now for full access.\n\nEnd."
    a = read_file("x.txt", _tmp_write(text)).articles[0]
    chunks = chunk_article(a, 1000, 200)
    assert [c.text for c in chunks] == ["x\n\nPara one is here.", "Para two is here.", "End."]


def _tmp_write(text: str) -> Path:
    import tempfile

    path = Path(tempfile.mkdtemp()) / "x.txt"
    path.write_text("x\n\n" + text, encoding="utf-8")
    return path


def stripped(para: str, offsets: list[tuple[int, int]]) -> list[str]:
    return [para[s:e].strip() for s, e in offsets]


@pytest.mark.parametrize(
    "para",
    [
        "Obama met Putin. They talked for two hours. Obama met Putin.",  # a sentence said twice
        "\u201cWe agreed,\u201d Obama said \u2014 twice. Caf\u00e9s closed \U0001f600 early. Then\u00a0rain.",
        "  Leading spaces.   Three spaces between.  ",
        "A sentence that runs\nover a line break. And one more.",  # blingfire rewrites the break: its offsets
        "U.S. officials met on Jan. 5 in Washington, D.C. No deal.",
        "No full stop at all",
    ],
)
def test_sentence_offsets_find_the_sentences_blingfires_own_offsets_give(para: str) -> None:
    from qa.ingest.chunk import sentence_offsets

    got = sentence_offsets(para)
    assert stripped(para, got) == stripped(para, blingfire.text_to_sentences_and_offsets(para)[1])
    assert all(0 <= s <= e <= len(para) for s, e in got)


def test_sentence_offsets_are_blingfires_own_for_every_squad_paragraph(squad: Path) -> None:
    import re

    from qa.ingest.chunk import sentence_offsets

    paras = [p for a in corpus(squad / "articles") for p in re.split(r"\n[ \t]*\n", a.text) if p.strip()]
    assert len(paras) > 700
    for para in paras:
        own = blingfire.text_to_sentences_and_offsets(para)[1]
        assert stripped(para, sentence_offsets(para)) == stripped(para, own)
