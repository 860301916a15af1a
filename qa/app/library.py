"""What the chat app shares between sessions: one loaded index and model (a qa.pipeline.QA), and adding articles.

Every question reads the current QA once and keeps it to the end, so an upload being indexed never blocks a
question or mixes two indexes in one answer. When the incremental build has finished, the new index is loaded and
swapped in with one assignment: questions asked meanwhile are answered from the old one.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from qa.answer.answerer import Answerer
from qa.answer.conversation import Conversation, is_follow_up
from qa.app.uploads import MAX_UPLOAD_BYTES, Saved, save
from qa.config import Settings
from qa.embed.embedder import Embedder, embedder_for
from qa.errors import QAError
from qa.index.build import BuildReport, build
from qa.index.store import Index
from qa.pipeline import QA
from qa.types import Answer

if TYPE_CHECKING:
    from qa.llm.answerer import LLMAnswerer, LLMResult, Token
    from qa.llm.client import LLM

_KEEP_TURNS = 8  # a follow-up reads only the turn before it
Progress = Callable[[float, str], None]
Turn = tuple[str, Answer]  # (the query searched, its answer), as qa.answer.conversation.Conversation keeps them


class Library:
    """The index and model behind the app, shared by every session; uploads update it in place."""

    def __init__(self, qa: QA, max_bytes: int = MAX_UPLOAD_BYTES, llm: LLM | None = None) -> None:
        self.settings = qa.settings
        self.embedder = qa.embedder
        self.max_bytes = max_bytes
        self._qa = qa
        self.llm = llm  # the chat model, when one is configured (QA_LLM_*): the app then offers LLM answers
        self._llm_answerer: LLMAnswerer | None = None  # for the current index (its verifier keeps sentence vectors)
        self._build_lock = threading.Lock()  # one build at a time from this process (build's file lock: others)

    @classmethod
    def open(
        cls, settings: Settings, embedder: Embedder | None = None, *, progress: bool = False
    ) -> tuple[Library, BuildReport]:
        """Bring the index up to date with the articles folder (incremental: a no-op when nothing changed),
        then load it and the model once."""
        from qa.llm.client import llm_configured, open_llm

        # an LLM when one is configured (QA_ANSWERER=llm without one is an error): settings errors stop before the build
        llm = open_llm(settings) if llm_configured(settings) or settings.answerer == "llm" else None
        embedder = embedder or embedder_for(settings)
        report = build(settings, embedder=embedder, progress=progress)
        return cls(QA.open(settings, embedder=embedder), llm=llm), report

    @property
    def qa(self) -> QA:
        """The index and models loaded now."""
        return self._qa

    @property
    def answerer(self) -> Answerer:
        return self._qa.answerer

    @property
    def index(self) -> Index:
        return self._qa.index

    def ask(
        self, question: str, k: int | None = None, history: list[Turn] | None = None, as_of: dt.date | None = None
    ) -> tuple[Answer, Index]:
        """Answer from the index current now, as the next turn of a conversation whose earlier turns are in
        `history` (appended to), as asked on `as_of` (default: the settings' day, else today); also returns that
        index, whose texts the answer's offsets point into.

        Sessions keep only their turns, never an index: an index swapped out is freed once its questions end."""
        answerer = self._qa.answerer  # read once: an upload swapping the index meanwhile does not affect this answer
        return self._turn(answerer, question, k, history, as_of), answerer.index

    @staticmethod
    def _turn(
        answerer: Answerer, question: str, k: int | None, history: list[Turn] | None, as_of: dt.date | None = None
    ) -> Answer:
        """The next turn of the conversation in `history` (appended to, and kept to its last turns)."""
        history = [] if history is None else history
        answer = Conversation(answerer, history).ask(question, k, as_of=as_of)
        del history[:-_KEEP_TURNS]
        return answer

    def ask_llm(
        self, question: str, k: int | None = None, history: list[Turn] | None = None, as_of: dt.date | None = None
    ) -> tuple[Answer, Index, Iterator[Token | LLMResult]]:
        """`ask`, then the LLM's answer from the same passages: the extractive answer (a refusal stops there),
        the index, and the LLM's stream (its tokens, then the checked LLMResult). Needs `llm`."""
        from qa.llm.answerer import LLMAnswerer

        if self.llm is None:
            raise QAError("no LLM is configured: set QA_LLM_BASE_URL and QA_LLM_MODEL, or QA_LLM_GGUF")
        answerer = self._qa.answerer  # read once, as in `ask`
        previous = history[-1][1].question if history and is_follow_up(question) else None
        answer = self._turn(answerer, question, k, history, as_of)
        llm_answerer = self._llm_answerer
        if llm_answerer is None or llm_answerer.answerer is not answerer:
            llm_answerer = self._llm_answerer = LLMAnswerer(answerer, self.llm)
        return answer, answerer.index, llm_answerer.stream(answer, k, previous)

    # ---- adding articles -------------------------------------------------------------------------

    def save(self, files: Sequence[tuple[str, Path]]) -> Saved:
        """Copy uploaded files into the uploads folder (Settings.uploads; qa.app.uploads: each checked first). The
        articles folder is never written."""
        return save(self.settings.uploads, files, self.max_bytes)

    def update(self, progress: Progress | None = None) -> BuildReport:
        """Index what changed in the articles and uploads folders, then swap the new index in for every session."""
        step = progress or (lambda _f, _d: None)
        with self._build_lock:
            step(0.05, "Indexing the new articles")
            report = build(self.settings, embedder=self.embedder, progress=progress is not None)
            step(0.9, "Loading the updated index")
            self._qa = QA.open(self.settings, embedder=self.embedder)  # the swap: one assignment, atomic
            step(1.0, "Done")
        return report
