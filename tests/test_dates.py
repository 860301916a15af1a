"""Periods named in a question (qa.search.dates): years, month and year, relative periods read against the day the
question is asked ("this week" is the week before it, never the newest article's), questions asking for the latest
news, and how an article's date fits a question (dates as evidence)."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from qa.search.dates import DATE_FEATURES, date_evidence, find_period, parse_date, wants_latest, window
from qa.types import Period

REFERENCE = dt.date(2013, 6, 17)  # the day asked in these tests: a Monday, the 2013 seed article's date
D = dt.date


@pytest.mark.parametrize(
    ("question", "start", "end", "phrase"),
    [
        ("Where did Obama meet Putin in 2013?", D(2013, 1, 1), D(2013, 12, 31), "2013"),
        ("What happened in 1999?", D(1999, 1, 1), D(1999, 12, 31), "1999"),
        ("What did they say last year in 2012?", D(2012, 1, 1), D(2012, 12, 31), "2012"),  # a year named wins
    ],
)
def test_a_year_is_the_whole_year_with_or_without_a_reference(
    question: str, start: dt.date, end: dt.date, phrase: str
) -> None:
    for reference in (REFERENCE, None):
        assert find_period(question, reference) == Period(start, end, phrase)


@pytest.mark.parametrize(
    ("question", "start", "end", "phrase"),
    [
        ("What did Obama and Putin agree on in June 2012?", D(2012, 6, 1), D(2012, 6, 30), "June 2012"),
        ("What happened on June 18, 2012?", D(2012, 6, 1), D(2012, 6, 30), "June 18, 2012"),  # its month
        ("Who spoke in March of 2011?", D(2011, 3, 1), D(2011, 3, 31), "March of 2011"),
        ("Was it in feb 2012?", D(2012, 2, 1), D(2012, 2, 29), "feb 2012"),  # abbreviated, any case, leap year
        ("What was agreed in December 2012 and 2013?", D(2012, 12, 1), D(2012, 12, 31), "December 2012"),
    ],
)
def test_a_month_and_year_is_that_month(question: str, start: dt.date, end: dt.date, phrase: str) -> None:
    assert find_period(question, REFERENCE) == Period(start, end, phrase)
    assert find_period(question, None) == Period(start, end, phrase)  # needs no reference


@pytest.mark.parametrize(
    "question",
    [
        "What did Obama and Putin say about 2012 and 2013?",  # two years: no one period
        "How many of the 2013 troops came home?",  # a number of troops, not a year
        "Did the 2013 people vote?",
        "Was $2013 paid?",
        "Did 2013% agree?",
        "Did 2,013 people come?",
        "What happened in 1850?",  # outside 1900-2099
        "What did Putin say about Syria?",
    ],
)
def test_numbers_that_are_not_one_year_name_no_period(question: str) -> None:
    assert find_period(question, REFERENCE) is None


@pytest.mark.parametrize(
    ("question", "reference", "start", "end"),
    [
        ("What did they say last year?", REFERENCE, D(2012, 1, 1), D(2012, 12, 31)),
        ("What has happened this year?", REFERENCE, D(2013, 1, 1), D(2013, 6, 17)),  # so far
        ("What happened in the previous year?", REFERENCE, D(2012, 1, 1), D(2012, 12, 31)),
        ("What happened last month?", REFERENCE, D(2013, 5, 1), D(2013, 5, 31)),
        ("What happened last month?", D(2013, 1, 9), D(2012, 12, 1), D(2012, 12, 31)),  # across the new year
        ("What happened this month?", REFERENCE, D(2013, 6, 1), D(2013, 6, 17)),
        ("What happened this week?", REFERENCE, D(2013, 6, 10), D(2013, 6, 17)),  # the seven days before
        ("What happened in the past week?", REFERENCE, D(2013, 6, 10), D(2013, 6, 17)),
        ("What happened last week?", D(2013, 1, 9), D(2012, 12, 26), D(2013, 1, 9)),  # either week before
        ("Where did they meet on Monday?", D(2013, 6, 19), D(2013, 6, 16), D(2013, 6, 19)),  # that Monday, or after
        ("What did Putin say yesterday?", D(2013, 6, 18), D(2013, 6, 16), D(2013, 6, 18)),
        ("What did Putin say recently?", REFERENCE, D(2013, 6, 7), D(2013, 6, 17)),
        ("What happened in recent days?", REFERENCE, D(2013, 6, 7), D(2013, 6, 17)),
        ("What happened two weeks ago?", REFERENCE, D(2013, 5, 31), D(2013, 6, 6)),
        ("What was agreed earlier this year?", REFERENCE, D(2013, 1, 1), D(2013, 6, 17)),
        ("What did they agree last June?", REFERENCE, D(2012, 6, 1), D(2012, 6, 30)),  # June: not yet past
        ("What did they agree last May?", REFERENCE, D(2013, 5, 1), D(2013, 5, 31)),  # May: this year's
        ("What did they agree last January?", D(2013, 1, 9), D(2012, 1, 1), D(2012, 1, 31)),
    ],
)
def test_relative_periods_are_read_against_the_day_asked(
    question: str, reference: dt.date, start: dt.date, end: dt.date
) -> None:
    period = find_period(question, reference)
    assert period is not None and (period.start, period.end) == (start, end)
    assert period.phrase.lower() in question.lower()  # the words that said so, for the notice
    assert period.relative
    assert find_period(question, None) is None  # without a day asked, a relative phrase names nothing


def test_a_period_holds_the_days_from_its_start_to_its_end() -> None:
    june = find_period("in June 2012", None)
    assert june is not None
    assert D(2012, 6, 1) in june and D(2012, 6, 18) in june and D(2012, 6, 30) in june
    assert D(2012, 5, 31) not in june and D(2012, 7, 1) not in june


@pytest.mark.parametrize(
    "question",
    [
        "What is the latest on the Obama Putin talks?",
        "What is the most recent news about Syria?",
        "What are the newest sanctions?",
        "Who leads Russia now?",
        "What is happening these days?",
        "Who is the ambassador currently?",
    ],
)
def test_questions_asking_for_the_latest_news(question: str) -> None:
    assert wants_latest(question)
    assert find_period(question, REFERENCE) is None  # the latest is a preference, not a period


@pytest.mark.parametrize("question", ["What did Putin say about Syria?", "Was the meeting late?", "Who arrived later?"])
def test_other_questions_do_not_ask_for_the_latest(question: str) -> None:
    assert not wants_latest(question)


def test_article_dates_are_read_from_iso_dates_and_date_times() -> None:
    assert parse_date("2013-06-17") == D(2013, 6, 17)
    assert parse_date("2013-06-17T10:30:00+00:00") == D(2013, 6, 17)
    assert parse_date("17 June 2013") is None
    assert parse_date("") is None and parse_date(None) is None


def test_a_date_names_its_period_and_a_relative_phrase_says_so() -> None:
    dated = find_period("What did Putin say in 2012?", REFERENCE)
    assert dated is not None and not dated.relative
    relative = find_period("What did Putin say this week?", REFERENCE)
    assert relative is not None and relative.relative


def test_an_articles_date_is_evidence_that_falls_off_outside_the_period() -> None:
    period = find_period("What did Putin say this week?", REFERENCE)
    days = np.array([D(2013, 6, 14), D(2013, 5, 1), D(2012, 6, 18), D(2013, 6, 25)], dtype=object)
    ordinals = np.array([d.toordinal() for d in days] + [np.nan])  # and one undated article
    ev = date_evidence(ordinals, period, REFERENCE)
    col = {name: ev[:, i] for i, name in enumerate(DATE_FEATURES)}
    assert col["period"][0] == 1.0 and 0 < col["period"][1] < col["period"][0] and col["period"][2] < 1e-6
    assert not col["dated"].any()  # a relative period weighs as itself, apart from a named date
    assert col["recency"][0] > col["recency"][1] > col["recency"][2] >= 0
    assert col["week"].tolist() == [1, 0, 0, 0, 0] and col["future"].tolist() == [0, 0, 0, 1, 0]
    assert not ev[4].any()  # undated: no evidence either way
    named = date_evidence(ordinals, find_period("in 2012", REFERENCE), REFERENCE)
    assert named[2, DATE_FEATURES.index("dated")] == 1.0 and not named[:, DATE_FEATURES.index("period")].any()
    assert not date_evidence(ordinals, None, None).any()  # no period, no day asked: nothing to weigh


def test_a_period_window_reaches_back_a_week_or_half_its_length_and_two_days_past_its_end() -> None:
    week = find_period("What happened this week?", REFERENCE)
    month = find_period("in June 2012", None)
    assert week is not None and month is not None
    assert [D.fromordinal(d) for d in window(week)] == [D(2013, 6, 3), D(2013, 6, 19)]
    assert [D.fromordinal(d) for d in window(month)] == [D(2012, 5, 18), D(2012, 7, 2)]
