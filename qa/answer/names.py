"""The missing-name veto: a name the question asks about that none of the passages read holds.

A question about the same story naming something the articles never bring up ("What did they say about North
Korea?") reads as answerable to the gate's other signals; this catches it. A name is held when the passages spell
it without accents or with one slip ("Beyonce", "Melanchhon"), run its two words together ("Superbowl"), spell out
its acronym ("EU", "WWII") or write the acronym for the name the question spells out ("WHO" for "World Health
Organization"); news spelling counts too: dotted acronyms ("U.S.", "U.K.") and a country's other common names
("America", "the United States", "the US"; "Britain", "the UK"). Only a word inside what spaCy's parser calls a
name (a person, organisation, place, event, work, law or product) counts: nationalities, languages and dates
("American viewer", "in English", "July Fourth") and common acronyms ("TV", "GPS") are words of the question, not
its subject. On squad-dev16 (crowd-written questions) the check refuses 0.6% of the questions, against 1.0%
counting every capitalised word and 2.4% when names had to be spelt as the articles do ("QB" tagged a place,
"Primer League" are left: a price paid for not answering what the articles don't say).
"""

from __future__ import annotations

import difflib
import re

from qa.answer.spans import question_doc
from qa.index.store import Index
from qa.text import NAME_WORD, fold, initialism_spans, initialisms, tokenize
from qa.types import Passage

_SPELLING = 0.8  # difflib's similarity at which a name's word is the same word misspelt ("Counil", "Council")
# spaCy's entity labels for what a question can be about by name
_NAMED = frozenset({"PERSON", "ORG", "GPE", "LOC", "FAC", "EVENT", "WORK_OF_ART", "LAW", "PRODUCT"})
# countries news calls by several names: where a passage uses one, it holds them all ("South America" is not one)
_COUNTRY = [
    (
        re.compile(r"\b(?:US|USA|United States|(?<!North )(?<!South )(?<!Latin )(?<!Central )America)\b"),
        "US USA United States America",
    ),
    (re.compile(r"\b(?:UK|United Kingdom|Britain)\b"), "UK United Kingdom Britain Great Britain"),
]
_DOTTED = re.compile(r"\b(?:[A-Z]\.){2,}")  # "U.S.", "U.K.", "D.C."
_ACRONYM = re.compile(r"\b[A-Z]{2,}\b")


def missing_names(index: Index, question: str, passages: list[Passage], *, sources: bool = False) -> list[str]:
    """Names in the question (capitalised words, acronyms) that none of the passages holds, title included (and
    with `sources`, the article's source: "the Bloomberg article about …")."""
    question = question.strip()
    names = list(NAME_WORD.finditer(question))
    if not names:
        return []
    articles = [index.articles[p.chunk.article] for p in passages]
    texts = [
        f"{a.title}\n{(a.source or '') if sources else ''}\n{p.chunk.text}"
        for a, p in zip(articles, passages, strict=True)
    ]
    text = _news_spelling(fold(" ".join(texts)))
    *name_tokens, passage_tokens = tokenize([*(fold(m.group(0)) for m in names), text])
    held = set(passage_tokens)
    missing = [m for m, toks in zip(names, name_tokens, strict=True) if toks and not all(_spelt(t, held) for t in toks)]
    if missing:
        acronyms = initialisms(text)
        missing = [m for m in missing if m.group(0).removesuffix("s") not in acronyms]
    if missing:
        spelt_out = _spelt_out(question, set(_ACRONYM.findall(text)))
        missing = [m for m in missing if not any(a <= m.start() and m.end() <= b for a, b in spelt_out)]
    if missing:  # spaCy runs only for a question with an unheld capitalised word (1.0% of squad-dev16's)
        named = [(e.start_char, e.end_char) for e in question_doc(question).ents if e.label_ in _NAMED]
        missing = [m for m in missing if any(m.start() < b and a < m.end() for a, b in named)]
    return [m.group(0) for m in missing]


def _news_spelling(text: str) -> str:
    """`text` with its dotted acronyms also undotted ("U.S." → "US") and, for a country it names one way, its
    other names added."""
    text = _DOTTED.sub(lambda m: m.group(0).replace(".", "") + " ", text)
    return " ".join([text, *(names for pattern, names in _COUNTRY if pattern.search(text))])


def _spelt_out(question: str, acronyms: set[str]) -> list[tuple[int, int]]:
    """Where the question spells out a name whose acronym is among `acronyms` ("World Health Organization" when a
    passage writes "WHO"): the spans of those runs of capitalised words."""
    return [(start, end) for acronym, start, end in initialism_spans(question) if acronym in acronyms]


def _spelt(token: str, held: set[str]) -> bool:
    """`token` (a stemmed word of a name) is among `held`, with one slip of spelling at most in a long word, or
    is two of them run together."""
    if token in held:
        return True
    if len(token) >= 5 and difflib.get_close_matches(token, held, n=1, cutoff=_SPELLING):
        return True
    return any(token[:i] in held and token[i:] in held for i in range(3, len(token) - 2))
