"""Web-page leftovers (qa.ingest.clean): whole lines of page furniture are found as spans, reporting is left alone,
and the spans point exactly at the leftover text (which stays in the article, so offsets stay true)."""

from __future__ import annotations

import pytest

from qa.ingest.clean import leftover_spans
from qa.ingest.read import read_file
from tests.helpers import SEED_LEFTOVERS, SEEDS


def leftovers(text: str) -> list[str]:
    return [text[s:e] for s, e in leftover_spans(text)]


@pytest.mark.parametrize(
    "line",
    [
        "[RELATED: Obama in Europe to Talk Syria, Trade]",
        "[PHOTOS: Refugee Crisis in Syria]",
        "[POLL: Should Obama Intervene in Syria's Civil War?]",
        "[ VIDEO: The summit in two minutes ]",
        "By + More",
        "By Jane Doe",
        "By Jane Doe and John Roe",
        "More News: Iran talks, oil prices, the G-8",
        "Related Stories: Syria",
        "Advertisement",
        "Share | Tweet | Email",
        "Copyright 2013 The Daily Paper. All rights reserved.",
        "© The Daily Paper",
        "Subscribe now for full access.",
        "Before it's here, it's on the Bloomberg Terminal. LEARN MORE",
        "Sign up for our newsletter",
        "Already a subscriber? Log in to read on.",
        "Follow us on Twitter",
        "READ MORE",
    ],
)
def test_a_line_of_page_furniture_is_a_leftover(line: str) -> None:
    text = f"Summit Ends\n\nThe summit ended on Monday.\n{line}\nThe leaders left."
    assert leftovers(text) == [line]


@pytest.mark.parametrize(
    "line",
    [
        "By the river, the mayor spoke to reporters.",  # "By" opening a sentence of reporting
        "[VIDEO] Watch the president's speech at the summit, in which he spoke about Syria.",  # text past the bracket
        "The council voted to subscribe to the regional newsletter scheme, officials said, after a debate that ran "
        "late into the night and ended with a vote of seven to two in favour of the plan to share costs with the "
        "neighbouring towns.",  # mentions a newsletter, but a sentence of reporting: longer than a pitch line
        "Advertisement revenue fell by a third, the company said.",  # a word of furniture inside a sentence
        "The two leaders met for two hours.",
    ],
)
def test_reporting_that_mentions_furniture_words_is_not_a_leftover(line: str) -> None:
    assert leftover_spans(f"Summit Ends\n\n{line}\n") == ()


def test_spans_are_exact_offsets_of_the_stripped_line_in_the_text() -> None:
    text = "Title\r\n\n   Advertisement   \nNews of the day.\n\t[PHOTOS: The summit]\n"
    spans = leftover_spans(text)
    assert [text[s:e] for s, e in spans] == ["Advertisement", "[PHOTOS: The summit]"]  # indentation left out
    assert list(spans) == sorted(spans)
    assert leftover_spans("Nothing here but news.\nAnd more news.") == ()


def test_every_leftover_of_the_seeds_is_found_and_nothing_else() -> None:
    found = []
    for path in sorted(SEEDS.glob("*.txt")):
        (article,) = read_file(path.name, path).articles
        assert article.skip == leftover_spans(article.text)  # what the reader records for the chunker
        found += [article.text[s:e] for s, e in article.skip]
    assert len(found) == len(SEED_LEFTOVERS)
    for leftover in SEED_LEFTOVERS:  # each listed leftover (some by their words: "Should Obama …") is one span found
        assert sum(leftover in span for span in found) == 1, leftover
