"""qa's retriever as a LangChain retriever, for use in your own chains.

    from qa.langchain import QARetriever
    retriever = QARetriever.from_index("index/", k=4)
    docs = retriever.invoke("Where did Obama meet Putin in 2013?")

Each Document's page_content is the passage text (exactly article text[start:end]); metadata carries
the article id, title, date, source, url, offsets, rank and score.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from langchain_core.callbacks import CallbackManagerForRetrieverRun
from langchain_core.documents import Document
from langchain_core.retrievers import BaseRetriever
from pydantic import ConfigDict

from qa.config import Settings
from qa.pipeline import QA


class QARetriever(BaseRetriever):
    qa: Any  # a qa.pipeline.QA (Any: pydantic need not know its type)
    k: int = 5

    model_config = ConfigDict(arbitrary_types_allowed=True)

    @classmethod
    def from_index(cls, index_dir: str | Path, k: int = 5, **settings: Any) -> QARetriever:
        """The index in `index_dir`, with QA_* settings from the environment and `settings` over them."""
        return cls(qa=QA.open(Settings.from_env(index=Path(index_dir), **settings)), k=k)

    def _get_relevant_documents(self, query: str, *, run_manager: CallbackManagerForRetrieverRun) -> list[Document]:
        docs = []
        for p in self.qa.search(query, self.k).passages:
            a = self.qa.index.articles[p.chunk.article]
            metadata = {**p.to_dict(), "source": a.source, "url": a.url}
            del metadata["text"]
            docs.append(Document(page_content=p.chunk.text, metadata=metadata))
        return docs
