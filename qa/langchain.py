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

from qa.retrieve import Retriever


class QARetriever(BaseRetriever):
    retriever: Any  # a qa.retrieve.Retriever (Any: pydantic need not know its type)
    k: int = 5

    model_config = ConfigDict(arbitrary_types_allowed=True)

    @classmethod
    def from_index(cls, index_dir: str | Path, k: int = 5, **settings: Any) -> QARetriever:
        from qa.build import check_index
        from qa.config import Settings
        from qa.embed import load_embedder
        from qa.store import Index

        s = Settings.from_env(index=Path(index_dir), **settings)
        check_index(s)
        return cls(retriever=Retriever(Index.load(s.index), load_embedder(s.model, s.batch_size), s), k=k)

    def _get_relevant_documents(self, query: str, *, run_manager: CallbackManagerForRetrieverRun) -> list[Document]:
        result = self.retriever.search(query, self.k)
        docs = []
        for p in result.passages:
            a = self.retriever.index.articles[p.chunk.article]
            metadata = {
                "article": a.id,
                "title": a.title,
                "date": a.date,
                "source": a.source,
                "url": a.url,
                "start": p.chunk.start,
                "end": p.chunk.end,
                "rank": p.rank,
                "score": p.score,
            }
            docs.append(Document(page_content=p.chunk.text, metadata=metadata))
        return docs
