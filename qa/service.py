"""What the chat app shares between sessions: one loaded index and model, and adding articles to them.

Every question reads the current Answerer once and keeps it to the end, so an upload being indexed never
blocks a question or mixes two indexes in one answer. When the incremental build has finished, the new
index is loaded and swapped in with one assignment: questions asked meanwhile are answered from the old one.

Uploads are checked before anything is written (type, size, a bare file name, readable as an article), and
are only ever written straight into the articles folder, under the name they came with.
"""

from __future__ import annotations

import os
import secrets
import shutil
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from qa.answer import Answer, Answerer, Conversation, is_follow_up
from qa.build import BuildReport, build
from qa.config import Settings
from qa.embed import Embedder, load_embedder
from qa.errors import QAError
from qa.ingest import read_file
from qa.retrieve import Retriever
from qa.store import Index

if TYPE_CHECKING:
    from qa.llm import LLM, LLMAnswerer, LLMResult

UPLOAD_TYPES = (".txt", ".md", ".html", ".jsonl")
MAX_UPLOAD_BYTES = 5 * 1024 * 1024
_MAX_NAME = 200

_KEEP_TURNS = 8  # a follow-up reads only the turn before it
Progress = Callable[[float, str], None]
Turn = tuple[str, Answer]  # (the query searched, its answer), as qa.answer.Conversation keeps them


class UploadError(QAError):
    """An uploaded file cannot be added: wrong type, too big, a name with folder parts, unreadable."""


@dataclass
class Saved:
    """What an upload did: the files written into the articles folder, and one line per refused file."""

    names: list[str] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)


def check_name(name: str) -> str:
    """`name` if it is a bare file name of an accepted type; else UploadError naming the problem and fix."""
    if not name or name != os.path.basename(name) or "\\" in name or "\x00" in name:
        raise UploadError(f"{name!r} has folder parts: upload the file itself, with a plain name")
    if name.startswith("."):
        raise UploadError(f"{name!r} is a hidden name (starts with a dot): rename the file")
    if len(name) > _MAX_NAME or any(ord(c) < 32 for c in name):
        raise UploadError(f"{name!r} is not a usable file name: rename it to plain words of at most {_MAX_NAME} chars")
    if os.path.splitext(name)[1].lower() not in UPLOAD_TYPES:
        raise UploadError(f"{name} is not an article file: upload {', '.join(UPLOAD_TYPES)} files")
    return name


class Library:
    """The index and model behind the app, shared by every session; uploads update it in place."""

    def __init__(
        self, settings: Settings, answerer: Answerer, max_bytes: int = MAX_UPLOAD_BYTES, llm: LLM | None = None
    ) -> None:
        self.settings = settings
        self.embedder = answerer.retriever.embedder
        self.max_bytes = max_bytes
        self._answerer = answerer
        self.llm = llm  # the chat model, when one is configured (QA_LLM_*): the app then offers LLM answers
        self._llm_answerer: LLMAnswerer | None = None  # for the current index (its verifier keeps sentence vectors)
        self._build_lock = threading.Lock()  # one build at a time from this process (build's file lock: others)

    @classmethod
    def open(
        cls, settings: Settings, embedder: Embedder | None = None, *, progress: bool = False
    ) -> tuple[Library, BuildReport]:
        """Bring the index up to date with the articles folder (incremental: a no-op when nothing changed),
        then load it and the model once."""
        from qa.llm import llm_configured, open_llm

        # an LLM when one is configured (QA_ANSWERER=llm without one is an error): settings errors stop before the build
        llm = open_llm(settings) if llm_configured(settings) or settings.answerer == "llm" else None
        embedder = embedder or load_embedder(settings.model, settings.batch_size, settings.backend)
        report = build(settings, embedder=embedder, progress=progress)
        return cls(settings, cls._load(settings, embedder), llm=llm), report

    @staticmethod
    def _load(settings: Settings, embedder: Embedder) -> Answerer:
        return Answerer(Retriever(Index.load(settings.index), embedder, settings))

    @property
    def answerer(self) -> Answerer:
        return self._answerer

    @property
    def index(self) -> Index:
        return self._answerer.index

    def ask(self, question: str, k: int = 5, history: list[Turn] | None = None) -> tuple[Answer, Index]:
        """Answer from the index current now, as the next turn of a conversation whose earlier turns are in
        `history` (appended to); also returns that index, whose texts the answer's offsets point into.

        Sessions keep only their turns, never an index: an index swapped out is freed once its questions end."""
        answerer = self._answerer  # read once: an upload swapping the index meanwhile does not affect this answer
        return self._turn(answerer, question, k, history), answerer.index

    @staticmethod
    def _turn(answerer: Answerer, question: str, k: int, history: list[Turn] | None) -> Answer:
        """The next turn of the conversation in `history` (appended to, and kept to its last turns)."""
        history = [] if history is None else history
        answer = Conversation(answerer, history).ask(question, k)
        del history[:-_KEEP_TURNS]
        return answer

    def ask_llm(
        self, question: str, k: int = 5, history: list[Turn] | None = None
    ) -> tuple[Answer, Index, Iterator[str | LLMResult]]:
        """`ask`, then the LLM's answer from the same passages: the extractive answer (a refusal stops there),
        the index, and the LLM's stream (its tokens, then the checked LLMResult). Needs `llm`."""
        from qa.llm import LLMAnswerer

        if self.llm is None:
            raise QAError("no LLM is configured: set QA_LLM_BASE_URL and QA_LLM_MODEL, or QA_LLM_GGUF")
        answerer = self._answerer  # read once, as in `ask`
        previous = history[-1][1].question if history and is_follow_up(question) else None
        answer = self._turn(answerer, question, k, history)
        llm_answerer = self._llm_answerer
        if llm_answerer is None or llm_answerer.answerer is not answerer:
            llm_answerer = self._llm_answerer = LLMAnswerer(answerer, self.llm)
        return answer, answerer.index, llm_answerer.stream(answer, k, previous)

    # ---- adding articles -------------------------------------------------------------------------

    def save(self, files: Sequence[tuple[str, Path]]) -> Saved:
        """Copy uploaded files (name as uploaded, where the upload is now) into the articles folder.

        Each file is checked first; a refused one is reported on one line and nothing of it is written."""
        out = Saved()
        for name, path in files:
            try:
                out.names.append(self._save_one(name, Path(path)))
            except UploadError as e:
                out.refused.append(str(e))
        return out

    def _save_one(self, name: str, path: Path) -> str:
        check_name(name)
        size = path.stat().st_size
        if size > self.max_bytes:
            raise UploadError(
                f"{name} is {size / 1e6:.1f} MB, over the {self.max_bytes / 1e6:.1f} MB limit: split it into "
                "smaller files"
            )
        folder = self.settings.articles.resolve()
        dest = folder / name
        if dest.parent != folder:  # belt and braces: check_name already allows no folder parts
            raise UploadError(f"{name!r} would be written outside the articles folder: rename the file")
        if os.path.lexists(dest):
            raise UploadError(f"{name} is already in the articles folder: rename the file to add it as another")
        # A hidden temporary name in the same folder: the build skips hidden files, and link() below makes
        # the real name appear complete, or not at all when it was taken meanwhile.
        tmp = folder / f".upload-{secrets.token_hex(4)}-{name}"
        try:
            shutil.copyfile(path, tmp)
            read = read_file(name, tmp)
            if not read.articles:
                problem = read.problems[0].message if read.problems else "no article in it"
                raise UploadError(f"{name}: {problem}")
            try:
                os.link(tmp, dest)
            except FileExistsError:
                raise UploadError(f"{name} is already in the articles folder: rename the file") from None
        finally:
            tmp.unlink(missing_ok=True)
        return name

    def update(self, progress: Progress | None = None) -> BuildReport:
        """Index what changed in the articles folder, then swap the new index in for every session."""
        step = progress or (lambda _f, _d: None)
        with self._build_lock:
            step(0.05, "Indexing the new articles")
            report = build(self.settings, embedder=self.embedder, progress=progress is not None)
            step(0.9, "Loading the updated index")
            answerer = self._load(self.settings, self.embedder)
            self._answerer = answerer  # the swap: one assignment, atomic
            step(1.0, "Done")
        return report
