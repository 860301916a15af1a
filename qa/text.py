"""Text as qa compares it: SQuAD's normalisation, the stemmed words BM25 and every coverage figure read, the
IDF-weighted coverage of a question's words, and the patterns that find names (capitalised words) in text.

Punctuation is ASCII punctuation, deleted as in the official SQuAD script ("al-Assad" -> "alassad"), and also
any other Unicode punctuation, which the official script keeps glued to the words: news text quotes with curly
quotes and apostrophes (U+201C/U+201D, U+2019), deleted like their ASCII forms, and separates clauses with
dashes (U+2013/U+2014, "bases of the Adriatic\u2014fell"), which become spaces.
"""

from __future__ import annotations

import functools
import re
import string
import unicodedata
from collections.abc import Collection, Mapping, Sequence

_ARTICLES = re.compile(r"\b(a|an|the)\b")


class _PunctuationTable(dict[int, int | None]):
    """str.translate table deleting punctuation; a character's entry is worked out on first sight."""

    def __missing__(self, code: int) -> int | None:
        char = chr(code)
        category = unicodedata.category(char)
        value: int | None = code
        if char in string.punctuation:
            value = None
        elif category == "Pd":
            value = ord(" ")
        elif category.startswith("P"):
            value = None
        self[code] = value
        return value


_PUNCT = _PunctuationTable()


def normalize(text: str) -> str:
    """SQuAD v1.1: lower-case, no punctuation, no a/an/the, single spaces."""
    return " ".join(_ARTICLES.sub(" ", text.lower().translate(_PUNCT)).split())


# ---- stemmed words -----------------------------------------------------------------------------------------

TOKENIZER = "bm25s-en-snowball-irregular"  # recorded in the manifest: other tokens would not match old segments

# Past forms of irregular verbs that news writes and questions ask in the present ("What did Putin say" /
# "Putin said"; "after meeting" / "they met"): read as their base form before stemming, since Snowball
# leaves them apart. Only forms with no common other meaning ("left", "lay", "found(ed)", "rose" are not here).
_IRREGULAR = {
    form: base
    for base, forms in {
        "say": "said", "meet": "met", "tell": "told", "go": "went gone", "make": "made", "take": "took taken",
        "give": "gave given", "hold": "held", "come": "came", "see": "saw seen", "know": "knew known",
        "think": "thought", "bring": "brought", "buy": "bought", "seek": "sought", "catch": "caught",
        "teach": "taught", "fight": "fought", "begin": "began begun", "speak": "spoke spoken",
        "write": "wrote written", "win": "won", "lose": "lost", "keep": "kept", "send": "sent", "spend": "spent",
        "build": "built", "lead": "led", "feel": "felt", "choose": "chose chosen", "fall": "fell fallen",
        "drive": "drove driven", "run": "ran", "grow": "grew grown", "throw": "threw thrown", "fly": "flew flown",
        "break": "broke broken", "strike": "struck", "stand": "stood", "understand": "understood", "sit": "sat",
        "pay": "paid", "sell": "sold", "become": "became", "mean": "meant", "hear": "heard", "shoot": "shot",
        "hide": "hid hidden", "forget": "forgot forgotten", "swear": "swore sworn", "rise": "risen",
        "withdraw": "withdrew withdrawn", "eat": "ate eaten", "wear": "wore worn", "draw": "drew drawn",
        "steal": "stole stolen", "freeze": "froze frozen", "ride": "rode ridden", "sing": "sang sung",
        "sink": "sank sunk", "swim": "swam swum", "arise": "arose arisen", "overtake": "overtook overtaken",
        "undertake": "undertook undertaken", "forbid": "forbade forbidden", "weep": "wept", "sleep": "slept",
        "lend": "lent", "bend": "bent", "deal": "dealt", "dig": "dug", "hang": "hung", "feed": "fed",
        "flee": "fled", "bleed": "bled", "breed": "bred", "shake": "shook shaken",
        "wake": "woke woken", "tear": "tore torn", "bite": "bitten",
    }.items()
    for form in forms.split()
}  # fmt: skip


class _Stemmer:
    """Snowball, after reading irregular past forms as their base form."""

    def __init__(self) -> None:
        import Stemmer

        self._snowball = Stemmer.Stemmer("english")

    def stemWords(self, words: Sequence[str]) -> list[str]:  # the name bm25s looks for
        return list(self._snowball.stemWords([_IRREGULAR.get(w, w) for w in words]))


@functools.cache
def _stemmer() -> _Stemmer:
    return _Stemmer()


def tokenize(texts: Sequence[str]) -> list[list[str]]:
    """Lower-cased, stop words removed, Snowball-stemmed words of each text."""
    import bm25s

    out = bm25s.tokenize(
        list(texts), stopwords="en", stemmer=_stemmer(), return_ids=False, show_progress=False, allow_empty=True
    )
    return [list(t) for t in out]


def answer_words(text: str) -> int:
    """An answer's length in words, its [n] citation markers not counted."""
    return sum(1 for w in text.split() if not _MARKER.fullmatch(w))


_MARKER = re.compile(r"\[\d+\]")


def coverage(idf: Mapping[str, float], words: Collection[str], total: float | None = None) -> float:
    """The IDF-weighted share of the question's words (`idf`: word -> weight) that `words` hold; `total` is the
    weights' sum when the caller has it already. 0 when the question has no weighted words."""
    total = sum(idf.values()) if total is None else total
    if not total:
        return 0.0
    return sum(w for t, w in idf.items() if t in words) / total


# ---- names -------------------------------------------------------------------------------------------------------

# A capitalised word that does not open the text or a sentence of it: a name, not a sentence's first word.
CAPITALISED_WORD = re.compile(r"(?<![.?!]\s)(?<!^)\b[A-Z][a-z]+")
# The same, also mixed-case words with hyphens and acronyms ("McFaul", "G-20", "NATO"): what a question names.
NAME_WORD = re.compile(r"(?<!^)(?<![.?!]\s)\b(?:[A-Z][\w-]*[a-z][\w-]*|[A-Z]{2,})\b")
# Runs of two or more capitalised words ("European Union", "World War II"): names whose initials make acronyms.
CAPITALISED_RUN = re.compile(r"\b[A-Z][\w-]*(?:\s+[A-Z][\w-]*)+")
# Any capitalised word, a sentence's first included, with its apostrophes, dots and hyphens ("U.S.", "Assad's").
CAPITALISED_ANY = re.compile(r"(?<![\w'’])[A-Z][A-Za-z'’.-]*")

_UNACCENTED = str.maketrans({"ł": "l", "Ł": "L", "ø": "o", "Ø": "O", "đ": "d", "Đ": "D", "ß": "ss", "æ": "ae"})


def fold(text: str) -> str:
    """The text without accents ("Beyoncé", "Gospić" → "Beyonce", "Gospic")."""
    return unicodedata.normalize("NFKD", text.translate(_UNACCENTED)).encode("ascii", "ignore").decode()


def initialisms(text: str) -> set[str]:
    """The acronyms that runs of capitalised words of `text` spell ("European Union" → EU, "World War II" →
    WWII: a word in capitals counts whole)."""
    return {acronym for acronym, _, _ in initialism_spans(text)}


def initialism_spans(text: str) -> list[tuple[str, int, int]]:
    """Each acronym a run of two or more capitalised words of `text` spells, with where those words start and end."""
    out = []
    for run in CAPITALISED_RUN.finditer(text):
        words = list(re.finditer(r"\S+", run.group(0)))
        letters = [w.group(0) if w.group(0).isupper() else w.group(0)[0] for w in words]
        for i in range(len(letters)):
            for j in range(i + 2, len(letters) + 1):
                out.append(("".join(letters[i:j]), run.start() + words[i].start(), run.start() + words[j - 1].end()))
    return out
