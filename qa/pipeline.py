"""The one wiring point: an index, the embedding model, the retriever and the answerer, opened together from one
Settings. The CLI, the chat app, the LangChain adapter, the eval, benchmarks and training recipes all start here.

    from qa.config import Settings
    from qa.pipeline import QA

    qa = QA.open(Settings.from_env())          # index/ and the packaged model, as QA_* settings say
    answer = qa.ask("Where did Obama meet Putin in 2013?")
    print(answer.text, answer.to_dict()["citations"])
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from qa.answer.answerer import Answerer
from qa.answer.conversation import Conversation
from qa.config import Settings
from qa.embed.embedder import Embedder, embedder_for
from qa.index.build import check_index
from qa.index.store import Index
from qa.search.retrieve import Retriever, SearchResult
from qa.types import Answer

if TYPE_CHECKING:
    from qa.llm.answerer import LLMAnswerer


@dataclass(frozen=True)
class QA:
    settings: Settings
    index: Index
    embedder: Embedder
    retriever: Retriever
    answerer: Answerer

    @classmethod
    def open(cls, settings: Settings, *, embedder: Embedder | None = None) -> QA:
        """The index in `settings.index` (refused when built with another model or chunker) with the model,
        backend, dense index and answer settings `settings` name. `embedder`: one already loaded."""
        check_index(settings)
        embedder = embedder or embedder_for(settings)
        index = Index.load(settings.index, settings.dense)
        retriever = Retriever(index, embedder, settings)
        return cls(settings, index, embedder, retriever, Answerer(retriever))

    def search(self, question: str, k: int | None = None) -> SearchResult:
        return self.retriever.search(question, k)

    def ask(self, question: str, k: int | None = None) -> Answer:
        return self.answerer.ask(question, k)

    def conversation(self) -> Conversation:
        """A conversation over this index: follow-up questions are read with the turn before them."""
        return Conversation(self.answerer)

    def llm_answerer(self) -> LLMAnswerer:
        """LLM answers over this index, with the chat model the settings name (QA_LLM_*; SettingsError if none)."""
        from qa.llm.answerer import LLMAnswerer
        from qa.llm.client import open_llm

        return LLMAnswerer(self.answerer, open_llm(self.settings))
