"""An LLM answer read as claims: its sentences with the passage numbers their [n] markers cite, and what each
claim states that must be checked word for word (numbers, names, dates)."""

from __future__ import annotations

import datetime as dt
import re

from qa.text import CAPITALISED_ANY

# [1], [1, 2], [1][2], [1-2], [1; 3]
_NUMBERS = r"\d+(?:\s*(?:,|;|-|–|and)\s*\d+)*"
_MARKER = re.compile(rf"\[\s*({_NUMBERS})\s*\]")
_LEAD = re.compile(rf"^(?:\s*\[\s*{_NUMBERS}\s*\]\s*[.,;:]?)+")  # markers opening a line or sentence
_MARKER_ONLY = re.compile(rf"^(?:\s*\[\s*{_NUMBERS}\s*\])+[\s.,;:]*$")  # nothing but markers
_LIST_BULLET = re.compile(r"^\s*(?:[-*•]|\d+[.)])\s+")
_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")
_SMALL_NUMBERS = (
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen "
    "seventeen eighteen nineteen twenty"
)
_NUMBER_WORDS = {w: str(n) for n, w in enumerate(_SMALL_NUMBERS.split())}
_WORD = re.compile(r"[a-z]+")
_ANY_WORD = re.compile(r"[A-Za-z][A-Za-z'’.-]*")
_COMMON_WORDS = (
    "a an the this that these those it its he she they we i you his her their our my your there here then and but or "
    "so if when where what who which why how in on at to of for by with from as after before while during"
)
_COMMON = frozenset(_COMMON_WORDS.split())
MIN_CLAIM_CHARS = 3


def split_answer(text: str) -> list[tuple[str, list[int]]]:
    """The answer's sentences, each with the marker numbers that cite it (in order).

    Lines are split first (list bullets dropped), then sentences (blingfire). Markers written in a sentence or
    right after it cite it: "… two hours. [1] The …" cites [1] for "… two hours.". Markers that open a line
    ("[2] The meeting … It lasted …", a list of passages) cite every sentence of that line with none of its own."""
    import blingfire

    out: list[tuple[str, list[int]]] = []
    for raw_line in text.splitlines():
        line = _LIST_BULLET.sub("", raw_line).strip()
        head = _LEAD.match(line)
        line_cites = _numbers(head.group(0)) if head else []
        line = line[head.end() :].strip() if head else line
        if not line:
            continue
        _, offsets = blingfire.text_to_sentences_and_offsets(line)
        first = len(out)
        for s, e in offsets:
            piece = line[s:e].strip()
            lead = _LEAD.match(piece)
            if lead and len(out) > first:  # markers after the sentence before, split off by the sentence splitter
                out[-1][1].extend(_numbers(lead.group(0)))
                piece = piece[lead.end() :].strip()
            if not piece:
                continue
            if _MARKER_ONLY.match(piece) and len(out) > first:
                out[-1][1].extend(_numbers(piece))
                continue
            out.append((piece, _numbers(piece)))
        for i in range(first, len(out)):
            if not out[i][1]:
                out[i][1].extend(line_cites)
    return [(_strip_markers(s), cites) for s, cites in out if len(_strip_markers(s)) >= MIN_CLAIM_CHARS]


def _numbers(text: str) -> list[int]:
    """Passage numbers in the markers of `text`; a range [1-3] is 1, 2, 3."""
    out: list[int] = []
    for m in _MARKER.finditer(text):
        body = m.group(1)
        for part in re.split(r"\s*(?:,|;|and)\s*", body):
            lo_hi = re.split(r"\s*[-–]\s*", part)
            if len(lo_hi) == 2 and lo_hi[0].isdigit() and lo_hi[1].isdigit():
                lo, hi = int(lo_hi[0]), int(lo_hi[1])
                out.extend(range(lo, hi + 1) if 0 <= hi - lo <= 10 else (lo, hi))
            elif part.isdigit():
                out.append(int(part))
    return out


def _strip_markers(text: str) -> str:
    """The sentence without its markers: "… two hours [1]." -> "… two hours."."""
    text = _MARKER.sub("", text)
    text = re.sub(r"\s+([.,;:!?])", r"\1", text)
    return " ".join(text.split())


def as_claim(question: str, answer: str) -> str:
    """A question and its answer as one claim: "Which team won Broncos." (bench/verify_calibrate.py's claims)."""
    return f"{question.strip().rstrip('?').strip()} {answer.strip().rstrip('.')}."


def date_words(date: str | None) -> str:
    """An ISO date in words ("2012-06-18" -> "June 18 2012"); other text as it is."""
    if not date:
        return ""
    try:
        d = dt.date.fromisoformat(date[:10])
    except ValueError:
        return date
    return f"{d:%B} {d.day} {d.year}"


def _word_key(word: str) -> str:
    """A word as names are compared: lower case, no possessive, dots, hyphens ("U.S." -> "us", "Assad's" -> "assad")."""
    return re.sub(r"['’]s$", "", word).replace(".", "").replace("-", "").replace("'", "").replace("’", "").lower()


def words_in(text: str) -> frozenset[str]:
    return frozenset(_word_key(w) for w in _ANY_WORD.findall(text))


def names_in(claim: str, question: str = "", lowercase_text: str = "") -> tuple[set[str], set[str]]:
    """The claim's capitalised words, as _word_key gives them: those the question does not use, and those it does.
    The claim's first word is left out when it is a common word, or `lowercase_text` uses it in lower case ("The",
    "Work")."""
    asked = words_in(question)
    new: set[str] = set()
    shared: set[str] = set()
    for m in CAPITALISED_ANY.finditer(claim):
        key = _word_key(m.group(0))
        if not key:
            continue
        if m.start() == 0 and (key in _COMMON or re.search(rf"\b{re.escape(key)}\b", lowercase_text)):
            continue
        (shared if key in asked else new).add(key)
    return new, shared


def numbers_in(text: str) -> set[str]:
    """Numbers a text states, as digits without separators or leading zeros ("two" -> "2", "1,500" -> "1500")."""
    found = {m.group(0).replace(",", "").lstrip("0") or "0" for m in _NUMBER.finditer(text)}
    found = {n.rstrip(".") for n in found}
    found |= {_NUMBER_WORDS[w] for w in _WORD.findall(text.lower()) if w in _NUMBER_WORDS}
    return found
