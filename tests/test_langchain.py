"""The LangChain adapter: qa's retriever inside a small LCEL chain."""

from __future__ import annotations

from langchain_core.documents import Document
from langchain_core.prompts import PromptTemplate
from langchain_core.runnables import RunnableLambda, RunnablePassthrough

from qa.config import Settings
from qa.embed.embedder import Embedder
from qa.index.build import build
from qa.langchain import QARetriever


def test_retriever_works_inside_a_chain_and_documents_carry_exact_offsets(
    settings: Settings, embedder: Embedder
) -> None:
    build(settings, embedder=embedder)
    retriever = QARetriever.from_index(settings.index, k=2)

    def join(docs: list[Document]) -> str:
        return "\n".join(f"[{d.metadata['rank']}] {d.metadata['title']}: {d.page_content}" for d in docs)

    chain = (
        {"context": retriever | RunnableLambda(join), "question": RunnablePassthrough()}
        | PromptTemplate.from_template("Context:\n{context}\n\nQuestion: {question}")
        | RunnableLambda(lambda prompt: prompt.to_string())
    )
    prompt = chain.invoke("Where did Obama meet Putin in 2013?")
    assert prompt.startswith("Context:\n[1] Obama, Putin Seek Common Ground on Syria:")
    assert "Enniskillen" in prompt and prompt.endswith("Question: Where did Obama meet Putin in 2013?")

    docs = retriever.invoke("How many deaths in the two-year conflict?")
    assert len(docs) == 2
    articles = retriever.qa.index.articles
    for d in docs:
        m = d.metadata
        assert articles[m["article"]].text[m["start"] : m["end"]] == d.page_content
        assert {"title", "date", "source", "url", "rank", "score"} <= set(m)
    assert docs[0].metadata["date"] == "2013-06-17"
