"""The fitting recipes' own logic that needs no data set: the reader's training targets on news pages."""

from __future__ import annotations

from qa.types import Chunk
from train.reader_data import _gold, _holds, _positions


def chunk(article: str, start: int, text: str) -> Chunk:
    return Chunk(article=article, start=start, end=start + len(text), text=text)


def test_a_news_answer_is_gold_only_where_it_is_not_run_into_a_letter_or_digit() -> None:
    page = "In 2017 the council had 7 members. Japanese firms left Japan."
    q = {"answers": ["7", "Japan"], "source_articles": ["a.txt"]}
    gold = _gold("realtimeqa-dev", q, {"a.txt": page})
    assert gold == {"a.txt": [(page.index(" 7 ") + 1, page.index(" 7 ") + 2), (page.rindex("Japan"), len(page) - 1)]}


def test_a_news_passage_holds_the_gold_answers_inside_it_and_only_its_own_articles() -> None:
    page = "Talks ended. The leaders met for two hours on Monday."
    q = {"answers": ["two hours"], "source_articles": ["a.txt"]}
    gold = _gold("realtimeqa-dev", q, {"a.txt": page})
    inside, before = chunk("a.txt", 13, page[13:]), chunk("a.txt", 0, page[:13])
    other = chunk("b.txt", 13, page[13:])  # the same offsets in another article hold nothing
    assert _holds(inside, gold) and not _holds(before, gold) and not _holds(other, gold)
    assert _positions("realtimeqa-dev", q, inside, gold) == gold["a.txt"]
    assert _positions("realtimeqa-dev", q, other, gold) == []
