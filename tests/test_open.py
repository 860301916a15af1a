"""Open and comparative questions: the kind of answer a question wants, and answers of several cited sentences
(accounts, comparisons, summaries, timelines) on the seed articles."""

from __future__ import annotations

import itertools
import re

import pytest

from qa.answer.forms import COMPARISON, FACT, LIST, REASON, SUMMARY, TIMELINE, answer_kind, topic, year_range
from qa.eval.questions import load_questions
from qa.pipeline import QA
from qa.text import answer_words, tokenize
from qa.types import Answer
from tests.helpers import G8_2013, G20_2012, QUESTIONS

# ---- the kind of answer -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("question", "kind"),
    [
        ("What did Obama and Putin discuss?", LIST),
        ("What did Obama and Putin discuss when they met in 2013?", LIST),
        ("What issues did the two leaders agree on at the summit?", LIST),
        ("What steps has Russia taken to shield Assad?", LIST),
        ("Compare the 2012 and 2013 meetings between Obama and Putin.", COMPARISON),
        ("How did the two meetings differ?", COMPARISON),
        ("What did Putin say after the meetings in 2012 and 2013?", COMPARISON),
        ("What do the two meetings have in common?", COMPARISON),
        ("Summarize the article about the 2013 meeting in Northern Ireland.", SUMMARY),
        ("What is this article about?", SUMMARY),
        ("Give me a summary of the news about Obama and Putin.", SUMMARY),
        ("How did relations between Obama and Putin develop?", TIMELINE),
        ("Give me a timeline of the Obama-Putin meetings.", TIMELINE),
        ("How has the U.S. position on Syria changed over time?", TIMELINE),
        ("Why did the UN suspend its observer mission in Syria?", REASON),
        # fact questions, some with the words of other kinds in them
        ("What did Putin say after meeting Obama in 2012?", FACT),
        ("What did Obama say he and Putin agreed on the need for?", FACT),
        ("How did Obama describe his 2012 meeting with Putin?", FACT),
        ("How long did each of the two Obama–Putin meetings last?", FACT),
        ("What was the age difference between Newton and Manning in Super Bowl 50?", FACT),
        ("How populous is Victoria compared to other Australian states?", FACT),
        ("What date were the top two stadium choices for Super Bowl 50 announced?", FACT),
        ("Which district of Warsaw chose the President between 1994 and 1999?", FACT),
        ("What did Tesla's father originally want him to do?", FACT),
    ],
)
def test_the_kind_of_answer_is_read_from_the_question(question: str, kind: str) -> None:
    assert answer_kind(question) == kind


def test_every_labelled_seed_question_is_read_as_its_kind() -> None:
    questions = load_questions(QUESTIONS)
    wrong = [(q.id, q.kind, answer_kind(q.question)) for q in questions if answer_kind(q.question) != q.kind]
    assert wrong == []
    assert {q.kind for q in questions} == {FACT, REASON, LIST, COMPARISON, SUMMARY, TIMELINE}
    assert sum(1 for q in questions if q.key_facts) >= 20


def test_the_topic_drops_the_words_that_ask_for_the_form_of_the_answer() -> None:
    assert topic("Summarize the Bloomberg article about the 2012 meeting in Mexico.") == "the 2012 meeting in Mexico"
    assert topic("How has the U.S. position on Syria changed over time?") == "the U.S. position on Syria"
    assert topic("Compare the 2012 and 2013 meetings.") == "the 2012 and 2013 meetings"
    assert topic("How did the talks develop from 2012 to 2013?") == "the talks"
    assert year_range("How did the talks develop from 2013 to 2012?") == (2012, 2013)
    assert topic("What is this article about?") == "What is this article about?"  # nothing else to go on


# ---- answers of several sentences -------------------------------------------------------------------------------


def _exact(qa: QA, answer: Answer) -> None:
    """Every citation quotes its article exactly, and the text holds every quote followed by its [n], in order."""
    assert answer.citations
    at = 0
    for c in answer.citations:
        assert qa.index.articles[c.article].text[c.start : c.end] == c.quote
        found = answer.text.find(f"{c.quote} [{c.n}]", at)
        assert found >= at, (c.n, answer.text)
        at = found
    assert [c.n for c in answer.citations] == list(range(1, len(answer.citations) + 1))
    assert answer_words(answer.text) <= 160


def test_an_account_gives_several_cited_sentences_from_both_articles_and_no_short_answer(seed_qa: QA) -> None:
    answer = seed_qa.ask("What did Obama and Putin discuss?")
    assert answer.kind == LIST and not answer.refused and answer.short is None
    _exact(seed_qa, answer)
    assert 2 <= len(answer.citations) <= 5
    assert set(answer.articles) == {G20_2012, G8_2013}
    for fact in ("missile defense program", "counterterrorism", "nuclear weapons"):
        assert fact in answer.text
    assert answer.heading == "Account from 2 articles"


def test_sentences_of_several_articles_are_grouped_by_article_in_date_order_under_their_dates(seed_qa: QA) -> None:
    answer = seed_qa.ask("What did Obama and Putin discuss?")
    first = answer.text.index("In June 2012 (Bloomberg News): ")
    second = answer.text.index("In June 2013 (U.S. News & World Report): ")
    assert first == 0 < second
    order = [c.article for c in answer.citations]
    assert order == sorted(order, key=lambda a: a != G20_2012)  # all of 2012's citations, then 2013's
    for a, group in itertools.groupby(answer.citations, key=lambda c: c.article):
        starts = [c.start for c in group]
        assert starts[1:] == sorted(starts[1:]), a  # in the article's order after the one a fact answer gives


def test_an_account_never_repeats_itself(seed_qa: QA) -> None:
    for question in ("What did Obama and Putin discuss?", "What steps has Russia taken to shield Assad?"):
        answer = seed_qa.ask(question)
        words = [set(t) for t in tokenize([c.quote for c in answer.citations])]
        for a, b in itertools.combinations(words, 2):
            assert len(a & b) / len(a | b) < 0.6, question
            assert len(b - a) >= 3 and len(a - b) >= 3


def test_a_comparison_of_two_years_answers_from_each_year(seed_qa: QA) -> None:
    answer = seed_qa.ask("Compare the 2012 and 2013 meetings between Obama and Putin.")
    assert answer.kind == COMPARISON and not answer.refused and answer.short is None
    _exact(seed_qa, answer)
    assert set(answer.articles) == {G20_2012, G8_2013}
    assert "Mexico" in answer.text and "two hours" in answer.text
    assert answer.heading == "Comparison of 2 articles"


def test_a_summary_gives_the_articles_lead_and_central_sentences_never_captions_or_leftovers(seed_qa: QA) -> None:
    answer = seed_qa.ask("Summarize the article about the 2013 meeting in Northern Ireland.")
    assert answer.kind == SUMMARY and not answer.refused and answer.short is None
    _exact(seed_qa, answer)
    assert answer.articles == [G8_2013] and 3 <= len(answer.citations) <= 5
    assert answer.citations[0].quote.startswith("A critical meeting between President Barack Obama")
    starts = [c.start for c in answer.citations]
    assert starts == sorted(starts)
    caption = "meets with Russian President Vladimir Putin in Enniskillen"
    for leftover in (caption, "[RELATED", "By + More", "More News"):
        assert leftover not in answer.text
    assert not re.search(r"^\S+\s+\S+\s+\S+[.!?]? \[\d\]", answer.text)  # no heading-like short lines
    assert answer.heading == "Summary of 1 article"


def test_a_summary_of_the_news_covers_each_article(seed_qa: QA) -> None:
    answer = seed_qa.ask("Give me a summary of the news about Obama and Putin.")
    assert answer.kind == SUMMARY and set(answer.articles) == {G20_2012, G8_2013}
    _exact(seed_qa, answer)


def test_a_timeline_gives_each_dated_articles_key_sentence_in_date_order(seed_qa: QA) -> None:
    answer = seed_qa.ask("How did relations between Obama and Putin over Syria develop?")
    assert answer.kind == TIMELINE and not answer.refused
    _exact(seed_qa, answer)
    assert [e.date for e in answer.timeline] == ["2012-06-18", "2013-06-17"]
    for entry in answer.timeline:
        assert answer.citations[entry.citation - 1].article == entry.article
    lines = answer.text.split("\n")
    assert lines[0].startswith("June 18, 2012 (Bloomberg News): ")
    assert lines[1].startswith("June 17, 2013 (U.S. News & World Report): ")
    shape = answer.to_dict()
    assert shape["kind"] == TIMELINE
    assert shape["timeline"] == [
        {"date": e.date, "article": e.article, "title": e.title, "citation": e.citation} for e in answer.timeline
    ]


def test_a_timeline_keeps_to_the_years_asked_about(seed_qa: QA) -> None:
    answer = seed_qa.ask("How did Obama and Putin's talks on Syria develop from 2013 to 2014?")
    assert [e.date for e in answer.timeline] == ["2013-06-17"]


def test_a_fact_question_is_answered_as_before_with_its_kind(seed_qa: QA) -> None:
    answer = seed_qa.ask("How long did the 2013 meeting between Obama and Putin last?")
    assert answer.kind == FACT and answer.short == "two hours" and len(answer.citations) == 1
    assert answer.heading is None and "timeline" not in answer.to_dict()


@pytest.mark.parametrize(
    "question",
    [
        "Summarize the article about Edward Snowden's asylum in Russia.",
        "Compare the 2014 and 2015 elections in Brazil.",
        "Give me a timeline of the Brexit negotiations.",
        "What did Merkel and Hollande discuss?",
    ],
)
def test_an_open_question_the_articles_do_not_cover_is_refused(seed_qa: QA, question: str) -> None:
    answer = seed_qa.ask(question)
    assert answer.refused and answer.citations == () and answer.kind != FACT
    assert answer.text.startswith("The articles don't say.")


def test_a_follow_up_asking_what_the_article_is_about_summarises_the_one_cited(seed_qa: QA) -> None:
    chat = seed_qa.conversation()
    first = chat.ask("Where did Obama and Putin meet in 2013?")
    assert first.articles == [G8_2013]
    summary = chat.ask("What is this article about?")
    assert summary.kind == SUMMARY and summary.articles == [G8_2013] and len(summary.citations) >= 3
    assert summary.question == "What is this article about?"
