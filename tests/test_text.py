"""Text as qa compares it (qa.text): SQuAD's normalisation, the stemmed words BM25 reads (irregular past forms as
their base form), IDF-weighted coverage, accents folded away, and the acronyms runs of capitalised words spell."""

from __future__ import annotations

import pytest

from qa.text import (
    CAPITALISED_ANY,
    CAPITALISED_RUN,
    CAPITALISED_WORD,
    NAME_WORD,
    TOKENIZER,
    coverage,
    fold,
    initialisms,
    normalize,
    tokenize,
)


@pytest.mark.parametrize(
    ("text", "normal"),
    [
        ("The  Denver Broncos!", "denver broncos"),
        ("An apple, a pear and the plum.", "apple pear and plum"),  # a/an/the out, as whole words only
        ("Theatre anthem", "theatre anthem"),
        ("al-Assad's $800 million", "alassads 800 million"),  # ASCII punctuation deleted, as SQuAD's script does
        ("a “crusade” and Medvedev’s", "crusade and medvedevs"),  # curly quotes deleted like their ASCII forms
        ("bases of the Adriatic—fell in 1973–74", "bases of adriatic fell in 1973 74"),  # dashes split words
        ("  \n\t ", ""),
    ],
)
def test_normalize_is_squads_with_unicode_punctuation_too(text: str, normal: str) -> None:
    assert normalize(text) == normal


def test_tokenize_lowercases_drops_stop_words_and_stems() -> None:
    assert tokenize(["The leaders were running, and they ran."]) == [["leader", "were", "run", "run"]]
    assert tokenize(["The the a an", ""]) == [[], []]  # nothing left is an empty list, one per text
    assert tokenize(["Syria", "Syrian", "Syrians"])[1] == tokenize(["Syrians"])[0]


@pytest.mark.parametrize(
    ("past", "base"),
    [("said", "say"), ("met", "meet"), ("told", "tell"), ("went", "go"), ("gone", "go"), ("wrote", "write"),
     ("written", "write"), ("fought", "fight"), ("held", "hold"), ("sought", "seek"), ("began", "begin")],
)  # fmt: skip
def test_irregular_past_forms_are_read_as_their_base_form(past: str, base: str) -> None:
    import Stemmer

    snowball = Stemmer.Stemmer("english")
    assert snowball.stemWords([past]) != snowball.stemWords([base])  # Snowball alone leaves them apart
    assert tokenize([past]) == tokenize([base]) == [[base]]
    # so news in the past matches a question in the present
    assert set(tokenize([f"Putin {past} it"])[0]) == set(tokenize([f"Did Putin {base} it?"])[0]) - {"did"}


def test_past_forms_with_other_meanings_are_left_as_they_are() -> None:
    assert tokenize(["He left the room", "The rose garden", "They found a school"]) == [
        ["he", "left", "room"],
        ["rose", "garden"],
        ["found", "school"],
    ]
    assert TOKENIZER == "bm25s-en-snowball-irregular"  # recorded in the manifest: another reading is a re-index


def test_coverage_is_the_idf_weighted_share_of_the_questions_words() -> None:
    idf = {"putin": 1.0, "enniskillen": 3.0}
    assert coverage(idf, {"enniskillen", "obama"}) == pytest.approx(0.75)
    assert coverage(idf, {"putin", "enniskillen"}) == 1.0
    assert coverage(idf, set()) == 0.0
    assert coverage(idf, {"enniskillen"}, total=6.0) == pytest.approx(0.5)  # the caller's total, when it has it
    assert coverage({}, {"putin"}) == 0.0  # a question without weighted words is covered by nothing


@pytest.mark.parametrize(
    ("text", "folded"),
    [
        ("Beyoncé", "Beyonce"),
        ("Gospić", "Gospic"),
        ("Łódź", "Lodz"),
        ("Ørsted", "Orsted"),
        ("Straße", "Strasse"),
        ("Enniskillen", "Enniskillen"),
    ],
)
def test_fold_removes_accents(text: str, folded: str) -> None:
    assert fold(text) == folded


def test_initialisms_are_the_acronyms_runs_of_capitalised_words_spell() -> None:
    acronyms = initialisms("talks of the European Union and the United Nations Security Council on World War II")
    assert {"EU", "UN", "UNSC", "NSC", "WWII"} <= acronyms  # a word in capitals counts whole ("II")
    assert "ET" not in acronyms and "UNSCW" not in acronyms  # only inside one run of capitalised words
    assert initialisms("nothing capitalised here") == set()
    assert initialisms("Obama alone") == set()  # one word makes no acronym


def test_name_patterns() -> None:
    # capitalised words that do not open the text or a sentence: names
    assert CAPITALISED_WORD.findall("Obama met Putin. Then they left for Mexico City.") == ["Putin", "Mexico", "City"]
    # what a question names: mixed case, hyphens, acronyms
    assert NAME_WORD.findall("Did McFaul meet NATO at the G-20 in Mexico?") == ["McFaul", "NATO", "Mexico"]
    assert CAPITALISED_RUN.findall("the European Union and World War II") == ["European Union", "World War II"]
    assert CAPITALISED_ANY.findall("The U.S. and Assad's men") == ["The", "U.S.", "Assad's"]
