"""A question as the search and the answer read it, made once: its cleaned text, stemmed words, vector, and the
period it names. Everything downstream (first stage, second stage, answer, gate) takes it from here."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

import numpy as np

from qa.embed.embedder import Embedder
from qa.errors import QuestionError
from qa.search.dates import find_period, wants_latest
from qa.text import tokenize
from qa.types import Period

MAX_QUESTION_CHARS = 2000


@dataclass(frozen=True, slots=True)
class Query:
    text: str  # the question, whitespace squeezed, cut to MAX_QUESTION_CHARS
    tokens: list[str]  # its stemmed words (qa.text.tokenize)
    vector: np.ndarray | None  # its MiniLM query vector (None in a keyword-only search)
    period: Period | None  # the period it names (or the one a conversation carries over)
    latest: bool  # it asks for the latest news ("the latest", "most recent")
    as_of: dt.date | None = None  # the day it is asked: what "this week" is read against
    notices: tuple[str, ...] = ()  # what the user should know about how it was read (cut, no article dated so)
    part: str = ""  # its question part: a quiz question's last sentence, after the context before it

    @property
    def asks(self) -> str:
        """What the question asks (its question part), for telling the kind of answer it wants: "NASA this week
        announced the astronauts who will fly … How many were selected?" asks "How many were selected?"."""
        return self.part or self.text


def clean_question(question: str) -> tuple[str, list[str]]:
    """The question, stripped; over MAX_QUESTION_CHARS it is cut, with a notice saying so."""
    q = " ".join(question.split())
    if not q:
        raise QuestionError("the question is empty: type a question about the articles")
    if len(q) > MAX_QUESTION_CHARS:
        cut = q[:MAX_QUESTION_CHARS].rsplit(" ", 1)[0]
        return cut, [f"the question was {len(q):,} characters; only the first {len(cut):,} were used"]
    return q, []


def make_query(question: str, embedder: Embedder | None, as_of: dt.date | None, period: Period | None = None) -> Query:
    """The question read once. `embedder` gives its vector (None: no vector, for a keyword-only search);
    `as_of` is the day it is asked, which relative periods ("this week", "last year") are read against; `period`
    overrides the one the question names."""
    text, notices = clean_question(question)
    return Query(
        text=text,
        tokens=tokenize([text])[0],
        vector=embedder.embed_query(text) if embedder is not None else None,
        period=period or find_period(text, as_of),
        latest=wants_latest(text),
        as_of=as_of,
        notices=tuple(notices),
        part=question_part(text),
    )


_ASKING = re.compile(r"\?\s*$|\b(?:what|which|who|whom|whose|when|where|why|how)\b", re.IGNORECASE)


def question_part(text: str) -> str:
    """The sentence that asks, when a question opens with context ("Corporate America is canceling Kanye West.
    Among the companies that cut ties, which …?"): its last sentence, if that one asks; else the whole text."""
    import blingfire

    _, offsets = blingfire.text_to_sentences_and_offsets(text)
    if len(offsets) < 2:
        return text
    last = text[offsets[-1][0] : offsets[-1][1]].strip()
    return last if _ASKING.search(last) and len(last.split()) >= 3 else text
