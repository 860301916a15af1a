"""Conversations: a follow-up ("How long did it last?") is read in the light of the turn before it."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field, replace

from qa.answer import forms
from qa.answer.answerer import Answerer, refusal_text
from qa.text import CAPITALISED_WORD
from qa.types import Answer

_PRONOUN = re.compile(r"\b(?:it|its|they|them|their|he|she|him|her|his|that|this|there|those|these|then)\b", re.I)
_CONTINUES = re.compile(r"^\s*(?:and|also|what about|how about|and what|what else)\b", re.I)
_YEAR = re.compile(r"\b(?:19|20)\d\d\b")


@dataclass
class Conversation:
    """Questions in turn; a follow-up is read with the turn before it: the previous question's words are added to
    its search, and it keeps the previous period and articles."""

    answerer: Answerer
    history: list[tuple[str, Answer]] = field(default_factory=list)

    def ask(self, question: str, k: int | None = None, as_of: dt.date | None = None) -> Answer:
        if self.history and is_follow_up(question):
            prev_query, prev = self.history[-1]
            # the turn before as context, the follow-up last: a question's last sentence is what it asks
            # (qa.search.query.Query.asks), so "How long did it last?" asks for a duration, not the place asked before
            query = f"{prev_query} {question}"
            cited = {c.article for c in prev.citations} or None
            kind = follow_up_kind(question, prev)
            answer = self.answerer.ask(
                query, k, period=prev.period, articles=cited, follow_up=question, as_of=as_of, kind=kind
            )
            answer = _with_question(answer, question)
            self.history.append((query, answer))
        else:
            answer = self.answerer.ask(question, k, as_of=as_of)
            self.history.append((answer.question, answer))
        return answer

    def clear(self) -> None:
        self.history.clear()


def is_follow_up(question: str) -> bool:
    """Leans on the previous turn: a pronoun or "and/what about", and no subject of its own (a name, a year)."""
    q = question.strip()
    if CAPITALISED_WORD.search(q) or _YEAR.search(q):
        return bool(_CONTINUES.search(question))
    return bool(_PRONOUN.search(question) or _CONTINUES.search(question))


def follow_up_kind(question: str, prev: Answer) -> str:
    """The kind of answer a follow-up wants: its own ("What is this article about?": a summary), else, when it
    only continues the turn before ("And in 2013?"), the previous answer's kind."""
    own = forms.answer_kind(question)
    if own == forms.FACT and prev.kind in forms.OPEN and _CONTINUES.search(question) and not prev.refused:
        return prev.kind
    return own


def _with_question(answer: Answer, question: str) -> Answer:
    """The answer to a follow-up, under the user's own words (not the query widened with the turn before)."""
    question = " ".join(question.split())
    return replace(answer, question=question, text=refusal_text(question) if answer.refused else answer.text)
