"""A question read once (qa.search.query): its words, the day it is asked, the period it names, and the part that
asks when a quiz question opens with context."""

from __future__ import annotations

import datetime as dt

import pytest

from qa.answer.kinds import strict_kind, wanted_kinds
from qa.answer.spans import question_info
from qa.search.query import make_query, question_part

NASA = (
    "NASA this week announced the names of the astronauts who will be sent on a historic journey around the moon "
    "next year aboard the Artemis II rocket. How many astronauts were selected to join the mission?"
)


@pytest.mark.parametrize(
    ("text", "part"),
    [
        (NASA, "How many astronauts were selected to join the mission?"),
        ("Corporate America is canceling Kanye West. Among the companies, which cut ties first?",
         "Among the companies, which cut ties first?"),
        ("Where did Obama meet Putin in 2013?", "Where did Obama meet Putin in 2013?"),
        ("Rose Zhang won on Sunday. She is the first golfer to do so since:", "Rose Zhang won on Sunday. She is the "
         "first golfer to do so since:"),  # the last sentence does not ask: the whole is the question
    ],
)  # fmt: skip
def test_the_question_part_is_the_last_sentence_when_it_asks(text: str, part: str) -> None:
    assert question_part(text) == part


def test_what_a_question_asks_comes_from_its_question_part() -> None:
    query = make_query(NASA, None, dt.date(2023, 4, 7))
    assert query.asks == "How many astronauts were selected to join the mission?"
    assert query.text == NASA and "artemi" in query.tokens  # the search reads all of it
    assert wanted_kinds(query.asks) == ("CARDINAL", "QUANTITY") and strict_kind(query.asks)
    # read whole, a context's "who" makes a who-question of "which city": its part asks for a city
    quiz = make_query("Doctors who studied the outbreak spoke this week. Which city was hit hardest?", None, None)
    assert question_info(quiz.text).kind == "who"
    assert (question_info(quiz.asks).kind, question_info(quiz.asks).head) == ("which", "city")
    assert wanted_kinds(quiz.asks) == ("GPE", "LOC")


def test_a_query_carries_the_day_asked_and_the_period_read_against_it() -> None:
    query = make_query("Who resigned this week?", None, dt.date(2024, 5, 3))
    assert query.as_of == dt.date(2024, 5, 3)
    assert query.period is not None and (query.period.start, query.period.end) == (dt.date(2024, 4, 26), query.as_of)
    assert make_query("Who resigned this week?", None, None).period is None
