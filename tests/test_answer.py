"""Answers: the right sentence with an exact citation, short answers, refusal, follow-ups, no boilerplate."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace

import numpy as np
import pytest

from qa.answer import forms, sentences, short, spans
from qa.answer.answerer import Answerer
from qa.answer.conversation import Conversation, is_follow_up
from qa.answer.kinds import short_answer
from qa.config import Settings
from qa.embed.embedder import Embedder
from qa.index.build import build
from qa.pipeline import QA
from qa.search.query import question_part
from qa.text import tokenize
from qa.types import Answer
from tests.helpers import G8_2013, G20_2012, SEED_LEFTOVERS, seed_questions


@pytest.fixture
def answerer(seed_qa: QA) -> Answerer:
    """The seed index's answerer (shared by the session: answers only read it)."""
    return seed_qa.answerer


def assert_exact_citations(answerer: Answerer, answer: Answer) -> None:
    for c in answer.citations:
        article = answerer.index.articles[c.article]
        assert article.text[c.start : c.end] == c.quote
        assert (c.title, c.date) == (article.title, article.date)
        assert f"{c.quote} [{c.n}]" in answer.text


@pytest.mark.parametrize(
    ("question", "article", "in_sentence", "short"),
    [
        ("How many deaths have occurred in the Syrian conflict?", G8_2013, "92,000 deaths", "92,000"),
        ("Who is the U.S. Ambassador to Russia?", G20_2012, "Mike McFaul", "Mike McFaul"),
        ("How much humanitarian aid is the United States sending?", G8_2013, "$800 million", "$800 million"),
        ("How long did the meeting in Mexico last?", G20_2012, "lasted two hours", "two hours"),
        (
            "Where did Obama and Putin meet in 2013?",
            G8_2013,
            "Enniskillen",
            ("Enniskillen", "Enniskillen, Northern Ireland", "Northern Ireland"),  # eval/questions.jsonl's gold
        ),
    ],
)
def test_seed_questions_get_the_right_sentence_short_answer_and_exact_offsets(
    answerer: Answerer, question: str, article: str, in_sentence: str, short: str | tuple[str, ...]
) -> None:
    answer = answerer.ask(question)
    assert not answer.refused
    first = answer.citations[0]
    assert first.article == article
    assert in_sentence in first.quote
    assert answer.short in ((short,) if isinstance(short, str) else short)
    assert answer.short in first.quote
    assert_exact_citations(answerer, answer)
    assert set(answer.timings_ms) == {"retrieve", "read", "answer", "total"}  # DESIGN.md's three, and the reader's
    assert answer.timings_ms["read"] <= answer.timings_ms["answer"] <= answer.timings_ms["total"]


@pytest.mark.parametrize(
    "question",
    [
        "What is the capital of France?",
        "Who won the 2014 World Cup?",
        "How much did the summit cost?",
        "What did Obama and Putin say about North Korea?",
    ],
)
def test_questions_the_articles_do_not_answer_are_refused(answerer: Answerer, question: str) -> None:
    answer = answerer.ask(question)
    assert answer.refused
    assert answer.citations == () and answer.short is None
    assert answer.text.startswith("The articles don't say.")
    assert answer.passages  # what was looked at is still shown


def test_a_question_about_both_meetings_cites_both_articles(answerer: Answerer) -> None:
    answer = answerer.ask("What did Obama and Putin say about Syria at both meetings?")
    assert {c.article for c in answer.citations} == {G20_2012, G8_2013}
    assert_exact_citations(answerer, answer)


def test_a_follow_up_is_searched_with_the_turn_before_as_context_and_asks_in_its_own_words(
    answerer: Answerer,
) -> None:
    chat = Conversation(answerer)
    chat.ask("Where did Obama meet Putin in 2013?")
    chat.ask("How long did it last?")
    query = chat.history[-1][0]
    assert "Where did Obama meet Putin in 2013?" in query  # the turn before widens the search
    assert question_part(query) == "How long did it last?"  # what it asks: a duration, not the place asked before


def test_a_follow_up_is_answered_about_the_previous_turns_meeting(answerer: Answerer) -> None:
    chat = Conversation(answerer)
    first = chat.ask("Where did Obama meet Putin in 2013?")
    assert first.citations[0].article == G8_2013
    follow = chat.ask("How long did it last?")
    assert follow.question == "How long did it last?"
    assert not follow.refused and {c.article for c in follow.citations} == {G8_2013}
    assert "stretched two hours" in follow.citations[0].quote and follow.short == "two hours"
    # a follow-up asking for something the articles never mention is still refused
    assert chat.ask("How much did it cost?").refused
    chat.clear()
    assert chat.history == []


def test_follow_up_detection() -> None:
    assert is_follow_up("How long did it last?")
    assert is_follow_up("And what about Iran?")
    assert is_follow_up("What did they agree on?")
    assert not is_follow_up("Where did Obama meet Putin in 2013?")
    assert not is_follow_up("Who is the U.S. ambassador to Russia?")


def test_web_leftovers_are_never_quoted(answerer: Answerer) -> None:
    for question in [
        "What is on the Bloomberg Terminal?",
        "Should Obama intervene in Syria's civil war?",
        "What photos show the G8 summit gathering world leaders and protesters?",
        "What is related to Obama in Europe to talk Syria and trade?",
        "What photos show the refugee crisis in Syria?",
        "More news?",
    ]:
        answer = answerer.ask(question)
        for c in answer.citations:
            assert not any(leftover in c.quote for leftover in SEED_LEFTOVERS), (question, c.quote)


@pytest.mark.parametrize(
    ("question", "sentence", "expected"),
    [
        ("How many people died?", "An estimated 92,000 deaths have occurred so far.", "92,000"),
        ("How long did the session last?", "Obama spoke after the session today, which lasted two hours.", "two hours"),
        ("Who founded the company?", "The company was founded by Steve Jobs in a garage in 1976.", "Steve Jobs"),
        ("When did the crisis begin?", "The oil crisis began in October 1973 with an embargo.", "October 1973"),
        ("Where was the summit held?", "The summit was held in Enniskillen, Northern Ireland.", "Enniskillen"),
        (
            "What did the company release in 2007?",
            "In 2007 the company released the iPhone, a touchscreen phone.",
            "iPhone",
        ),
        (
            "What is the capital of Northern Ireland?",
            "Belfast is the capital of Northern Ireland and its largest city.",
            "Belfast",
        ),
        (
            "Which river flows through Warsaw?",
            "The Vistula River flows through Warsaw from south to north.",
            "Vistula River",
        ),
        ("What was the name of the ship?", "The crew boarded a ship named the Mayflower in 1620.", "Mayflower"),
    ],
)
def test_short_answer_is_the_span_of_the_kind_asked_for(question: str, sentence: str, expected: str) -> None:
    span = short_answer(question, sentence)
    assert span is not None and sentence[span[0] : span[1]] == expected


def test_why_questions_get_no_short_answer() -> None:
    assert short_answer("Why did Russia veto the resolutions?", "Russia vetoed them to protect Assad.") is None


def test_candidate_spans_cover_entities_noun_phrases_and_subtrees_without_the_question_form() -> None:
    info = spans.question_info("Which NFL team represented the AFC at Super Bowl 50?")
    assert (info.kind, info.head) == ("which", "team")
    sentence = "The AFC champion Denver Broncos defeated the NFC champion Carolina Panthers 24–10."
    texts = {sentence[c.start : c.end] for c in spans.candidates(info, spans.nlp()(sentence))}
    assert {"Denver Broncos", "Carolina Panthers", "24–10", "The AFC champion Denver Broncos"} <= texts
    assert all(t == t.strip() and t for t in texts)


def test_a_question_naming_what_the_passages_never_mention_is_refused(answerer: Answerer) -> None:
    question = "What did Obama and Putin say about North Korea?"
    assert "Korea" in answerer.missing_names(answerer.retriever.search(question, 5))
    assert answerer.ask(question).refused


def test_a_question_about_a_week_no_article_was_published_in_is_refused_saying_so(answerer: Answerer) -> None:
    """Asked in 2014, "this week" is a week the 2012 and 2013 seed articles cannot report, though they answer the
    question asked in either year; an open question is refused the same way."""
    question = "Where did Obama and Putin meet this week?"
    assert not answerer.ask(question, as_of=dt.date(2013, 6, 19)).refused
    answer = answerer.ask(question, as_of=dt.date(2014, 6, 20))
    assert answer.refused and answer.citations == () and answer.short is None
    assert answer.text == (
        "The articles don't say. None of them was published this week (asked on 2014-06-20), so nothing in them "
        "answers “Where did Obama and Putin meet this week?”. Add articles from then, or ask without “this week”."
    )
    assert not answerer.ask("Where did Obama and Putin meet?", as_of=dt.date(2014, 6, 20)).refused
    listed = answerer.ask("What did Obama and Putin discuss this week?", as_of=dt.date(2014, 6, 20), kind=forms.LIST)
    assert listed.refused and listed.text.startswith("The articles don't say. None of them was published this week")
    chat = Conversation(answerer)  # a follow-up keeps the period: "How long did it last?" passes the gate on its topic
    assert chat.ask(question, as_of=dt.date(2014, 6, 20)).refused
    assert chat.ask("How long did it last?", as_of=dt.date(2014, 6, 20)).refused


@pytest.mark.parametrize(
    "question",
    [
        "Where in Northern Ireland is Eniskillen?",  # one slip of spelling
        "Where in Northern Ireland is Enniskillén?",  # an accent the article does not write
        "Why did the UN suspend its observer mission in Syria?",  # the article spells it out: United Nations
        "What did Obama and Putin say in NorthernIreland?",  # two words run together
        "What did Obama tell the Public Broadcasting Service about Syria?",  # the article writes its acronym: PBS
    ],
)
def test_a_name_spelt_otherwise_than_in_the_article_is_not_missing(answerer: Answerer, question: str) -> None:
    assert answerer.missing_names(answerer.retriever.search(question, 5)) == []


@pytest.mark.parametrize(
    ("question", "unheld"),
    [
        ("On which TV show did Obama say the U.S. should not rush into Syria?", "TV"),  # a common acronym
        ("What did Obama tell the Chinese about Syria?", "Chinese"),  # a nationality
    ],
)
def test_a_capitalised_word_that_names_nothing_is_not_a_missing_name(
    answerer: Answerer, question: str, unheld: str
) -> None:
    found = answerer.retriever.search(question, 5)
    passages = " ".join(p.chunk.text for p in found.passages)
    assert unheld not in passages  # the articles never use it: only its not being a name lets it pass
    assert answerer.missing_names(found) == []


WYOMING_PILLS = """---
title: Wyoming judge strikes down abortion pill ban
date: 2024-11-19
---
CHEYENNE, Wyo. — A Wyoming judge on Monday struck down the first explicit U.S. state ban on abortion medication,
ruling that it violated the state constitution. A WHO review found the pills safe when taken at home, and doctors in
Britain have prescribed them by post since 2020.
"""


@pytest.fixture(scope="module")
def news_qa(tmp_path_factory: pytest.TempPathFactory, embedder: Embedder) -> QA:
    """One USA Today-style news article, as news writes names: "U.S.", "WHO", "Britain"."""
    root = tmp_path_factory.mktemp("news-names")
    (root / "articles").mkdir()
    (root / "articles" / "wyoming.md").write_text(WYOMING_PILLS)
    settings = Settings(index=root / "index", articles=root / "articles", uploads=root / "uploads")
    build(settings, embedder=embedder)
    return QA.open(settings, embedder=embedder)


@pytest.mark.parametrize(
    ("question", "missing"),
    [
        ("Which US state struck down the first explicit ban on abortion medication?", []),  # written dotted: U.S.
        ("Which state of the United States struck down a ban on abortion medication?", []),  # the country's names
        ("A court in America struck down a ban on abortion pills in which state?", []),
        ("Since when have doctors in the UK prescribed abortion pills by post?", []),  # Britain
        ("What did a World Health Organization review find about abortion pills?", []),  # written as its acronym
        ("Since when have doctors in France prescribed abortion pills by post?", ["France"]),  # named nowhere
    ],
)
def test_news_spellings_of_a_name_hold_it(news_qa: QA, question: str, missing: list[str]) -> None:
    assert news_qa.answerer.missing_names(news_qa.retriever.search(question, 5)) == missing


QUIZ_PAGE = """\
News quiz of the week

1. Which social media platform expanded its link-sharing feature this week?

2. Which country hosted this year's climate summit?

3. How many astronauts will fly around the moon next year?
"""

THREADS = """\
Threads widens link sharing

Meta's Threads expanded its link-sharing feature on Tuesday, letting creators add up to five links to their profiles.

"Is this the end of the link in bio?" one creator asked.
"""


def test_a_sentence_that_asks_a_question_is_never_the_answer(
    tmp_path_factory: pytest.TempPathFactory, embedder: Embedder
) -> None:
    """A quiz page asking the very question, and a quoted question, lose to the sentence that states the answer."""
    root = tmp_path_factory.mktemp("quiz-page")
    (root / "articles").mkdir()
    (root / "articles" / "quiz.md").write_text(QUIZ_PAGE)
    (root / "articles" / "threads.md").write_text(THREADS)
    settings = Settings(index=root / "index", articles=root / "articles", uploads=root / "uploads")
    build(settings, embedder=embedder)
    answer = QA.open(settings, embedder=embedder).answerer.ask(
        "Which social media platform expanded its link-sharing feature?"
    )
    assert not answer.refused
    assert answer.citations[0].quote.startswith("Meta's Threads expanded its link-sharing feature")
    assert not any(c.quote.endswith("?") for c in answer.citations)
    assert [sentences.asks(s) for s in ("Is it over?", '"Is this the end?"', "It is (is it?) over.")] == [
        True,
        True,
        False,
    ]


def test_a_span_named_in_the_titles_read_counts_them_and_one_repeating_the_question_counts_none() -> None:
    asked = {"chain", "ad", "egg", "surcharg"}  # "Which chain added an egg surcharge?"
    titles = [
        frozenset({"denni", "announc", "egg", "surcharg"}),
        frozenset({"denni", "egg", "price"}),
        frozenset({"waffl", "hous", "price"}),
    ]
    spans = [["denni"], ["waffl", "hous", "georgia"], ["egg", "surcharg"], ["cracker", "barrel"], []]
    counts = np.expm1(sentences.headline_support(spans, asked, titles)).round(6)
    assert counts.tolist() == [2, 1, 0, 0, 0]  # 2 of 3 words of "Waffle House, Georgia" in one title: at least half


def test_the_weeks_titles_name_a_sentences_new_words_and_not_the_words_the_question_asks() -> None:
    question = "Which US retailer is facing a 40-day consumer boycott?"
    asked = set(tokenize([question])[0])
    titles = tokenize(
        ["Target 40-Day boycott begins. Amazon, Walmart economic blackout", "Target boycott: what to know"]
    )
    said = tokenize(
        [
            "The boycott of Target, which began on Lent, runs for 40 days.",  # named by both titles
            "Shoppers were asked to avoid Amazon too.",  # named by one
            "Consumers in the US are boycotting a retailer.",  # only the question's words
        ]
    )
    idf = {"target": 2.0, "amazon": 3.0, "walmart": 3.0, "begin": 1.0}.get
    support = np.expm1(sentences.week_title_support(said, asked, titles, lambda words: {w: idf(w, 1.0) for w in words}))
    assert support.round(6).tolist() == [4.0, 3.0, 0.0]  # Target: 2 titles x 2.0; Amazon: 1 x 3.0
    assert not sentences.week_title_support(said, asked, [], lambda words: {}).any()  # no title of that week


def test_a_short_answer_the_titles_name_beats_a_span_the_reader_liked_a_little_better() -> None:
    asked = set(tokenize(["Which property faced a looming foreclosure sale this week?"])[0])
    titles = [frozenset(t) for t in tokenize(["Graceland foreclosure sale halted by judge", "Memphis fans rally"])]
    support = short.named(["Elvis Presley", "Graceland", "foreclosure sale"], asked, titles)
    assert np.expm1(support).round(6).tolist() == [0, 1, 0]  # the sale is asked: it names nothing new
    assert short.choose(np.array([5.0, 4.0, 4.5]), support, 2.0) == 1  # 4 + 2 log 2 > 5
    assert short.choose(np.array([8.0, 4.0, 4.5]), support, 2.0) == 0  # far better: the reader's best stays
    assert short.choose(np.array([5.0, 4.0, 4.5]), support, 0.0) == 0  # weight 0: the reader's best span


def test_the_best_of_the_spans_in_a_sentence_is_the_span_its_features_read(answerer: Answerer) -> None:
    found = answerer.retriever.search("How long did the 2013 meeting in Northern Ireland last?")
    readings = answerer.read(found)
    assert readings
    cands = sentences.with_spans(sentences.candidates(answerer.sentences, found.passages), found.passages, readings)
    for c in cands:
        top = sentences.spans_in(c, found.passages, readings, short.TOP_SPANS)
        assert c.span is not None and top[0] == c.span and len(top) == short.TOP_SPANS
        assert all(c.start <= a < b <= c.end for _, a, b in top) and len(set(top)) == len(top)
        assert [score for score, _, _ in top] == sorted((score for score, _, _ in top), reverse=True)


def test_a_span_repeating_the_question_echoes_it_and_one_naming_something_new_does_not() -> None:
    asked = set(tokenize(["Who did Maryland Democrats nominate to replace retiring senator Ben Cardin?"])[0])
    spans = tokenize(["Sen. Ben Cardin, D-Md", "Angela Alsobrooks", "Maryland's senator", ""])
    assert sentences.span_echo(spans, asked).tolist() == [0.5, 0.0, 1.0, 0.0]  # "sen" and "md" are not asked


def test_only_a_question_asking_who_a_name_is_lets_the_span_repeat_it() -> None:
    # "Who is Andrew Kuchins?" is answered by the sentence that names him: its span echoing him is no fault
    assert [sentences.asks_who_is(q) for q in ("Who is Andrew Kuchins?", "What was NATO?", "who is Ben Rhodes?")] == [
        True,
        True,
        True,
    ]
    assert not any(map(sentences.asks_who_is, ("Who is the president of Syria?", "What is Ben Rhodes's job title?")))


def test_a_name_near_to_but_not_in_the_article_is_still_missing(answerer: Answerer) -> None:
    question = "What did Obama and Putin say about Edward Snowden?"
    assert answerer.missing_names(answerer.retriever.search(question, 5)) == ["Edward", "Snowden"]


@pytest.mark.xfail(
    strict=True,
    reason="answered since the gate is fitted on news too (issue 19): its bias is set by news, where <= 4% of "
    "answerable questions may be refused, and the reader's confidence elsewhere in the passages outweighs support; "
    "strict: passing fails, drop this marker",
)
def test_an_amount_the_articles_do_not_give_is_refused_though_a_sentence_without_one_is_close(
    answerer: Answerer,
) -> None:
    # the suspension of the UN mission is in the 2012 article; how many observers it had is not
    question = "How many UN observers were in Syria before the mission was suspended?"
    assert answerer.ask(question).refused


def test_a_refused_follow_up_quotes_the_users_words_not_the_widened_query(answerer: Answerer) -> None:
    chat = Conversation(answerer)
    chat.ask("How long did the 2013 meeting between Obama and Putin last?")
    answer = chat.ask("How much did it cost?")
    assert answer.refused and answer.question == "How much did it cost?"
    assert "“How much did it cost?”" in answer.text and "2013" not in answer.text


def test_a_follow_up_asking_where_it_took_place_is_answered_about_the_same_meeting(answerer: Answerer) -> None:
    chat = Conversation(answerer)
    chat.ask("Where did Obama meet Putin in 2013?")
    follow = chat.ask("Where did it take place?")  # "take place" is the question's form, not its content
    assert not follow.refused and follow.citations[0].article == G8_2013
    assert "Enniskillen" in follow.citations[0].quote


def test_without_the_reader_the_gate_fitted_without_its_signals_judges(seed_qa: QA) -> None:
    from qa.answer.answerer import Answerer
    from qa.answer.gate import shipped_gate

    plain = Answerer(seed_qa.retriever, reader=False)
    assert plain.reader is None and plain.gate is shipped_gate(False)
    assert seed_qa.answerer.gate is shipped_gate(True)
    # the reader's signals sit at their floor without it: a gate that weighs them would refuse this
    answer = plain.ask("How long did the meeting in Mexico last?")
    assert not answer.refused and "two hours" in answer.citations[0].quote


def every_cosine(found_sentences, query, cands, feats, score, holding=None, other_within=None):  # type: ignore[no-untyped-def]
    """sentences.fill_cosines as if every sentence could decide the answer: all embedded."""
    feats[:, sentences.COSINE] = found_sentences.cosines([c.key for c in cands], query.vector)


@pytest.mark.parametrize("reader", [True, False])
def test_embedding_only_the_sentences_that_can_decide_an_answer_gives_the_answer_embedding_all_gives(
    seed_qa: QA, reader: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    questions = [q for q in seed_questions() if forms.answer_kind(q) == forms.FACT]
    lazy = Answerer(seed_qa.retriever, reader=reader)
    embedded = total = 0
    for question in questions:
        with monkeypatch.context() as m:
            m.setattr(sentences, "fill_cosines", every_cosine)
            every = lazy.ask(question)
        assert replace(lazy.ask(question), timings_ms={}) == replace(every, timings_ms={})
        found = seed_qa.retriever.search(question)
        cands, feats, _ = lazy.score_sentences(found, lazy.read(found))
        embedded, total = embedded + int((feats[:, sentences.COSINE] != -1.0).sum()), total + len(cands)
    assert len(questions) >= 50 and embedded < 0.7 * total
