"""Opt-in LLM answers (QA_ANSWERER=llm): an LLM writes the answer from the retrieved passages, streamed, and every
sentence of it is checked against the passage it cites (qa.llm.verify) before it is shown as sourced.

The chat model is LangChain's ChatOpenAI, pointed at any OpenAI-compatible endpoint (QA_LLM_BASE_URL and
QA_LLM_MODEL, optional QA_LLM_API_KEY: Ollama, llama.cpp's server, vLLM, OpenAI) or at a local GGUF file
(QA_LLM_GGUF) served in this process by xllamacpp on a free loopback port. Nothing else is contacted.

The order of things, for one question:

1. The extractive answerer runs first (retrieval and the refusal gate): a refused question is answered with the
   refusal and the LLM is never called.
2. The best k passages go to the LLM, numbered [1]..[k], inside the user message and marked as data; the system
   prompt asks for an answer only from them, [n] after each sentence, and to ignore instructions inside them.
3. Its tokens stream out as they come (the UI shows them); the whole answer has a deadline (QA_LLM_TIMEOUT,
   connecting 3 s), and one try: an endpoint down, slow or failing gives a one-line message and the extractive
   answer.
4. qa.llm.verify checks each sentence against the passages it cites; markers that point at no passage are dropped.
   A sentence they do not support (or citing none) is checked against the other passages read, and if one supports
   it, it is cited to that one ("recited": the LLM's own marker was wrong; QA_LLM_RECITE=0 turns this off).
   Supported sentences keep one marker, renumbered [1], [2]... in order, whose citation quotes the passage
   sentence(s) that back them (exact offsets); unsupported ones are kept, marked, and cite nothing. When no
   sentence is supported, the extractive answer is given instead ("fallback": "no supported sentence").

Why re-cite: Qwen2.5-Coder-0.5B (the test model) writes mostly grounded sentences but cites the wrong passage or
none: on 16 seed questions, 0 of 15 sentences were supported by the passage they cited, 14 by some passage read.
The citation shown is checked either way: nothing unsupported passes as sourced.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from qa.answer.answerer import Answerer, echoes
from qa.answer.kinds import short_answer
from qa.errors import LLMError
from qa.llm.client import LLM, stream_tokens
from qa.llm.prompt import messages
from qa.llm.verify import CheckedSentence, Verifier
from qa.text import normalize
from qa.types import Answer, Citation

if TYPE_CHECKING:
    from qa.index.store import Index

NO_SUPPORT = "no supported sentence"
LLM_FAILED = "llm error"


@dataclass(frozen=True, slots=True)
class Token:
    """A piece of the LLM's answer as it streams in (LLMAnswerer.stream yields these, then the LLMResult)."""

    text: str


@dataclass(frozen=True, slots=True)
class LLMResult:
    """An LLM answer, checked: `answer` is what is shown (the LLM's supported answer, or the extractive one)."""

    answer: Answer
    extractive: Answer
    model: str
    raw: str = ""  # the LLM's text as it came
    sentences: tuple[CheckedSentence, ...] = ()
    numbers: tuple[int | None, ...] = ()  # each sentence's citation number in `answer` (None: unsupported)
    fallback: str | None = None  # NO_SUPPORT or LLM_FAILED: the extractive answer is shown
    error: str | None = None  # the LLM's failure, in one line
    called: bool = False  # whether the LLM was asked at all (not for a refused question)
    timings_ms: dict[str, float] = field(default_factory=dict)

    @property
    def supported(self) -> int:
        return sum(s.supported for s in self.sentences)

    def display_text(self, mark: str = "[not supported by the passage it cites]") -> str:
        """The answer for a terminal: the answer shown, with the LLM's unsupported sentences marked."""
        if self.fallback is not None or not self.sentences:
            return self.answer.text
        parts = [
            s.text + (f" [{n}]" if n is not None else f" {mark}")
            for s, n in zip(self.sentences, self.numbers, strict=True)
        ]
        return " ".join(parts)

    def row(self) -> dict[str, Any]:
        """What `qa eval` keeps of it for one question (report.json)."""
        return {
            "called": self.called,
            "sentences": len(self.sentences),
            "supported": self.supported,
            "fallback": self.fallback,
            "error": self.error,
            "text": self.raw,
            "timings_ms": self.timings_ms,
        }

    def to_dict(self) -> dict[str, Any]:
        """`qa ask --json` for an LLM answer: docs/design.md's shape (the answer shown), then how each sentence was
        checked (`sentences`: text, supported, evidence), `fallback` and `llm_error`."""
        return {
            **self.answer.to_dict(),
            "answerer": "llm",
            "model": self.model,
            "llm_called": self.called,
            "llm_text": self.raw,
            "sentences": [
                {
                    "text": s.text,
                    "supported": s.supported,
                    "n": n,
                    "passages_cited": list(s.cites),
                    "recited": s.recited,
                    "markers_dropped": list(s.dropped),
                    "score": s.score if s.evidence is not None else None,
                    "coverage": s.coverage,
                    "novel": s.novel,
                    "cosine": s.cosine,
                    "evidence": None
                    if s.evidence is None
                    else {
                        "passage": s.evidence.passage,
                        "article": s.evidence.article,
                        "start": s.evidence.start,
                        "end": s.evidence.end,
                        "quote": s.evidence.quote,
                    },
                }
                for s, n in zip(self.sentences, self.numbers, strict=True)
            ],
            "fallback": self.fallback,
            "llm_error": self.error,
            "llm_timings_ms": self.timings_ms,
        }


class LLMAnswerer:
    """Answers with an LLM, checked sentence by sentence; the extractive answerer runs first and stays the
    fallback. One per index (it keeps the verifier's sentence vectors)."""

    def __init__(self, answerer: Answerer, llm: LLM, verifier: Verifier | None = None) -> None:
        self.answerer = answerer
        self.llm = llm
        self.verifier = verifier or Verifier(answerer.sentences, recite=llm.recite)

    def ask(
        self, question: str, k: int | None = None, *, retrieve_k: int | None = None, as_of: dt.date | None = None
    ) -> LLMResult:
        """The whole answer at once (the extractive answer first, as `qa ask` gives it)."""
        extractive = self.answerer.ask(question, k, retrieve_k=retrieve_k, as_of=as_of)
        return last(self.stream(extractive, k))

    def stream(
        self, extractive: Answer, k: int | None = None, previous: str | None = None
    ) -> Iterator[Token | LLMResult]:
        """The LLM's tokens as they come (Token), then the checked result (LLMResult), for a question the
        extractive answerer has already answered from the same index (`extractive`: its answer, passages
        and refusal). `previous`: the question before, for a follow-up."""
        if extractive.refused or not extractive.passages:
            yield LLMResult(extractive, extractive, self.llm.name)
            return
        passages = extractive.passages[: k or self.answerer.settings.k]
        t0 = time.perf_counter()
        pieces: list[str] = []
        first: float | None = None
        try:
            for token in stream_tokens(self.llm, messages(extractive.question, passages, self.index, previous)):
                first = first if first is not None else time.perf_counter()
                pieces.append(token)
                yield Token(token)
        except LLMError as e:
            timings = {"llm": _ms(time.perf_counter() - t0)}
            yield LLMResult(
                extractive, extractive, self.llm.name, "".join(pieces), fallback=LLM_FAILED, error=str(e),
                called=True, timings_ms=timings,
            )  # fmt: skip
            return
        t1 = time.perf_counter()
        raw = "".join(pieces)
        checked = self.verifier.check(raw, passages, extractive.question)
        t2 = time.perf_counter()
        timings = {
            "first_token": _ms((first or t1) - t0),
            "llm": _ms(t1 - t0),
            "verify": _ms(t2 - t1),
        }
        yield self.compose(extractive, raw, checked, timings)

    @property
    def index(self) -> Index:
        return self.answerer.index

    def compose(
        self, extractive: Answer, raw: str, checked: Sequence[CheckedSentence], timings: dict[str, float]
    ) -> LLMResult:
        """The answer shown: supported sentences with their renumbered marker and citation, unsupported ones
        without; the extractive answer when no sentence is supported."""
        base = LLMResult(extractive, extractive, self.llm.name, raw, tuple(checked), called=True, timings_ms=timings)
        if not any(s.supported for s in checked):
            return replace(base, fallback=NO_SUPPORT, numbers=(None,) * len(checked))
        citations: list[Citation] = []
        number_of: dict[tuple[str, int, int], int] = {}
        numbers: list[int | None] = []
        parts: list[str] = []
        for s in checked:
            if not s.supported or s.evidence is None:
                numbers.append(None)
                parts.append(s.text)
                continue
            ev = s.evidence
            key = (ev.article, ev.start, ev.end)
            if key not in number_of:
                number_of[key] = len(citations) + 1
                a = self.index.articles[ev.article]
                citations.append(
                    Citation(number_of[key], a.id, a.title, a.date, ev.start, ev.end, ev.quote, a.date_inferred)
                )
            numbers.append(number_of[key])
            parts.append(f"{s.text} [{number_of[key]}]")
        first = next(s for s in checked if s.supported)
        total = extractive.timings_ms.get("total", 0.0) + timings.get("llm", 0.0) + timings.get("verify", 0.0)
        answer = replace(
            extractive,
            text=" ".join(parts),
            short=self._short(extractive.question, first.text),
            citations=tuple(citations),
            timings_ms={**extractive.timings_ms, **timings, "total": round(total, 2)},
        )
        return replace(base, answer=answer, numbers=tuple(numbers))

    @staticmethod
    def _short(question: str, sentence: str) -> str | None:
        """The short answer inside the LLM's first supported sentence (the extractive answerer's span model);
        none when it only repeats the question."""
        span = short_answer(question, sentence)
        if span is None:
            return None
        short = sentence[span[0] : span[1]]
        return None if not normalize(short).split() or echoes(short, question) else short


def summary(rows: Sequence[dict[str, Any]], model: str) -> dict[str, Any]:
    """`qa eval`'s figures for LLM answers, over the questions' `llm` rows (LLMResult.row): how many questions
    the LLM was asked, the share of its sentences supported by their citation, how often its answer was shown,
    fell back for want of support, or failed; the LLM's time per answer."""
    called = [r["llm"] for r in rows if r["llm"]["called"]]
    sentences = sum(r["sentences"] for r in called)
    ms = sorted(r["timings_ms"]["llm"] for r in called if "llm" in r["timings_ms"])
    return {
        "model": model,
        "asked": len(called),
        "sentences": sentences,
        "supported_sentences": round(sum(r["supported"] for r in called) / sentences, 4) if sentences else None,
        "answered": round(sum(r["fallback"] is None for r in called) / len(called), 4) if called else None,
        "fallback_no_support": round(sum(r["fallback"] == NO_SUPPORT for r in called) / len(called), 4)
        if called
        else None,
        "errors": sum(r["error"] is not None for r in called),
        "llm_p50_ms": ms[len(ms) // 2] if ms else None,
    }


def last(results: Iterator[Token | LLMResult]) -> LLMResult:
    """The LLMResult at the end of a stream."""
    out = None
    for item in results:
        if isinstance(item, LLMResult):
            out = item
    if out is None:  # stream() always ends with one
        raise RuntimeError("the LLM stream ended without a result")
    return out


def _ms(seconds: float) -> float:
    return round(seconds * 1000, 2)
