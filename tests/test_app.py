"""The chat app: its shared index and uploads (qa.app.library, qa.app.uploads), its HTML (qa.app.render), its API
through gradio_client, `qa serve`, and 20 conversations at once. The browser side is in test_browser.py."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from gradio_client import Client, handle_file
from gradio_client.exceptions import AppError

from qa.app.library import Library
from qa.app.render import message_html, sources_html
from qa.app.uploads import check_name
from qa.config import Settings
from qa.embed.embedder import Embedder
from qa.errors import UploadError
from tests.helpers import LUNAR, ROOT, SCRIPT, free_port, running_app, write

MEETING = "How long did the 2013 meeting between Obama and Putin last?"
TOMATOES = "How many tomatoes did the lunar greenhouse harvest?"


def _files(folder: Path) -> set[str]:
    return {str(p.relative_to(folder)) for p in folder.rglob("*")}


def _client(url: str) -> Client:
    return Client(url, verbose=False, download_files=False, analytics_enabled=False)


# ---- uploads are checked before anything is written -------------------------------------------------


@pytest.mark.parametrize(
    ("name", "problem"),
    [
        ("../escape.txt", "folder parts"),
        ("sub/dir.txt", "folder parts"),
        ("/etc/passwd.txt", "folder parts"),
        ("..\\win.txt", "folder parts"),
        (".hidden.txt", "hidden"),
        ("..", "hidden"),
        ("", "folder parts"),
        ("run.exe", "not an article file"),
        ("notes", "not an article file"),
        ("page.htm", "not an article file"),
        ("tab\there.txt", "not a usable file name"),
    ],
)
def test_upload_names_with_path_parts_hidden_names_and_other_types_are_refused(name: str, problem: str) -> None:
    with pytest.raises(UploadError, match=problem):
        check_name(name)


@pytest.mark.parametrize("name", ["story.txt", "Notes 2024.md", "page.HTML", "feed.jsonl"])
def test_plain_article_names_are_accepted(name: str) -> None:
    assert check_name(name) == name


def test_refused_uploads_write_nothing_anywhere(settings: Settings, embedder: Embedder, tmp_path: Path) -> None:
    library, _ = Library.open(settings, embedder)
    library.max_bytes = 1000
    src = tmp_path / "uploads"
    big = write(src, "big.txt", "Big\n\n" + "word " * 400)
    latin1 = write(src, "latin1.txt", "Caf\xe9 news\n\nThe caf\xe9 opened.".encode("latin-1"))
    empty = write(src, "empty.md", "")
    seed = next(settings.articles.iterdir())
    before_articles, before_tmp = _files(settings.articles), _files(tmp_path)
    saved = library.save(
        [
            ("../outside.txt", LUNAR),
            ("big.txt", big),
            ("latin1.txt", latin1),
            ("empty.md", empty),
            (seed.name, LUNAR),  # a name already taken
            ("x.exe", LUNAR),
        ]
    )
    assert saved.names == []
    assert len(saved.refused) == 6
    assert "over the 0.0 MB limit" in saved.refused[1] or "limit" in saved.refused[1]
    assert "UTF-8" in saved.refused[2]
    assert "already in the articles folder" in saved.refused[4]
    assert all(":" in line and "\n" not in line for line in saved.refused)  # one line: problem, then fix
    assert _files(settings.articles) == before_articles
    assert _files(tmp_path) == before_tmp
    assert seed.read_text(encoding="utf-8") != LUNAR.read_text(encoding="utf-8")


def test_a_saved_upload_is_answerable_after_the_update(settings: Settings, embedder: Embedder) -> None:
    library, _ = Library.open(settings, embedder)
    assert library.ask(TOMATOES)[0].refused
    saved = library.save([("lunar.txt", LUNAR)])
    assert saved.names == ["lunar.txt"] and saved.refused == []
    assert (settings.articles / "lunar.txt").read_bytes() == LUNAR.read_bytes()
    assert [p.name for p in settings.articles.iterdir() if p.name.startswith(".")] == []  # no temporary left
    report = library.update()
    assert report.added == ("lunar.txt",)
    answer, index = library.ask(TOMATOES)
    assert not answer.refused
    assert answer.citations[0].article == "lunar.txt"
    assert "42 tomatoes" in answer.citations[0].quote
    assert "lunar.txt" in index.articles


class GatedEmbedder:
    """The real embedder, whose document side waits for `go`: a test can ask questions while a build is busy."""

    def __init__(self, inner: Embedder) -> None:
        self.inner, self.dim = inner, inner.dim
        self.embedding, self.go = threading.Event(), threading.Event()

    def embed_documents(self, texts: Any, progress: bool = False) -> np.ndarray:
        self.embedding.set()
        assert self.go.wait(120), "the test never let the build go on"
        return self.inner.embed_documents(texts, progress=progress)

    def embed_query(self, text: str) -> np.ndarray:
        return self.inner.embed_query(text)

    def embed_queries(self, texts: Any) -> np.ndarray:
        return self.inner.embed_queries(texts)


def test_questions_asked_while_an_upload_is_indexed_are_answered_from_the_old_index(
    settings: Settings, embedder: Embedder
) -> None:
    gated = GatedEmbedder(embedder)
    gated.go.set()
    library, _ = Library.open(settings, gated)  # type: ignore[arg-type]
    old_index = library.index
    gated.go.clear()
    gated.embedding.clear()
    library.save([("lunar.txt", LUNAR)])
    worker = threading.Thread(target=library.update)
    worker.start()
    try:
        assert gated.embedding.wait(120)  # the build is now embedding the upload, and held there
        turns: list[Any] = []
        during, index = library.ask(MEETING, history=turns)
        assert index is old_index
        assert not during.refused and "two hours" in during.citations[0].quote
        assert library.ask(TOMATOES)[0].refused
    finally:
        gated.go.set()
        worker.join(120)
    assert not worker.is_alive()
    assert library.index is not old_index
    after, index = library.ask(TOMATOES, history=turns)  # the same conversation goes on, on the new index
    assert not after.refused and after.citations[0].article == "lunar.txt"


# ---- HTML ---------------------------------------------------------------------------------------------


def test_sources_html_escapes_article_text_and_highlights_the_quote(settings: Settings, embedder: Embedder) -> None:
    write(settings.articles, "script.txt", SCRIPT.read_text(encoding="utf-8"))
    library, _ = Library.open(settings, embedder)
    answer, index = library.ask("When will the Zorbat bridge open?")
    assert answer.citations[0].article == "script.txt"
    html = sources_html(answer, index) + message_html(answer.text)
    for markup in ("<script", "<b>", "<img"):
        assert markup not in html
    assert "&lt;script&gt;window.__pwned = &#x27;script&#x27;&lt;/script&gt;" in html
    assert "<mark class='qa-quote'>The mayor said &lt;script&gt;" in html
    assert "\\*no\\* \\_\\_markdown\\_\\_" in message_html(answer.text)  # shown as typed, not as emphasis


# ---- the app through its API (gradio_client) ------------------------------------------------------------


@pytest.mark.slow  # a server on loopback
def test_chat_endpoint_answers_follows_up_refuses_and_clears(settings: Settings, embedder: Embedder) -> None:
    with running_app(settings, embedder) as (url, _):
        client = _client(url)
        chat, sources, passages, answer, box = client.predict(
            "Where did Obama meet Putin in June 2013?", api_name="/ask"
        )
        assert box == ""
        assert answer["refused"] is False and answer["short_answer"] == "Enniskillen"
        cited = answer["citations"][0]
        assert cited["title"] == "Obama, Putin Seek Common Ground on Syria"
        assert [m["role"] for m in chat] == ["user", "assistant"]
        assert "[1]" in chat[1]["content"][0]["text"]
        assert cited["title"] in sources and "<mark class='qa-quote'>" in sources
        assert "<strong class='qa-short'>Enniskillen</strong>" in sources
        assert f"{len(answer['passages'])} passages · retrieve" in passages

        chat, _, _, follow, _ = client.predict("How long did it last?", api_name="/ask")  # read with the turn before
        assert len(chat) == 4
        assert follow["question"] == "How long did it last?"
        assert follow["short_answer"] == "two hours"
        assert follow["citations"][0]["article"] == cited["article"]

        chat, sources, _, refused, _ = client.predict("Who won the 1998 football world cup?", api_name="/ask")
        assert refused["refused"] is True and refused["citations"] == []
        assert 'class="qa-refusal"' in chat[-1]["content"][0]["text"]
        assert 'class="qa-refusal"' not in chat[1]["content"][0]["text"]
        assert "No sources" in sources

        chat, sources, passages, answer, _ = client.predict(api_name="/clear")
        assert chat == [] and sources == "" and answer is None
        chat, *_ = client.predict(MEETING, api_name="/ask")
        assert len(chat) == 2  # a new conversation


@pytest.mark.slow  # a server on loopback
def test_upload_endpoint_indexes_the_file_and_refuses_what_it_must(settings: Settings, embedder: Embedder) -> None:
    with running_app(settings, embedder) as (url, _):
        client = _client(url)
        status, info = client.predict([handle_file(str(LUNAR))], api_name="/add_articles")
        assert "Indexed lunar.txt: 1 added" in status
        assert info.startswith("3 articles")
        *_, answer, _ = client.predict(TOMATOES, api_name="/ask")
        assert answer["citations"][0]["article"] == "lunar.txt"

        status, _ = client.predict([handle_file(str(LUNAR))], api_name="/add_articles")
        assert "Refused lunar.txt is already in the articles folder" in status
        with pytest.raises(AppError, match=r"Invalid file type.*\.txt"):  # Gradio checks the type too
            client.predict([handle_file(str(ROOT / "pyproject.toml"))], api_name="/add_articles")
    assert sorted(p.name for p in settings.articles.iterdir()) == sorted(
        [p.name for p in (ROOT / "seeds").iterdir()] + ["lunar.txt"]
    )


# ---- qa serve ---------------------------------------------------------------------------------------------


@pytest.mark.slow  # a `qa serve` subprocess
def test_qa_serve_refuses_a_busy_port_in_one_line(settings: Settings) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = subprocess.run(
            [sys.executable, "-m", "qa.cli", "serve", "--port", str(port), "--index", str(settings.index)],
            capture_output=True,
            text=True,
            timeout=120,
        )
    assert result.returncode == 1
    assert result.stderr.startswith(f"error: cannot listen on 127.0.0.1:{port}")
    assert "--port" in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert not settings.index.exists()  # failed before indexing anything


@dataclass
class Served:
    url: str
    settings: Settings
    process: subprocess.Popen[bytes]
    log: Path


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """`qa serve` in its own process, on a copy of the seeds (settings from QA_* variables, as a person would)."""
    root = tmp_path_factory.mktemp("served")
    settings = Settings(index=root / "index", articles=root / "articles")
    shutil.copytree(ROOT / "seeds", settings.articles)
    port = free_port()
    env = {**os.environ, "QA_INDEX": str(settings.index), "QA_ARTICLES": str(settings.articles)}
    log = (root / "serve.log").open("w")  # a file, not a pipe: a pipe nobody reads could fill and stall the server
    process = subprocess.Popen(
        [sys.executable, "-m", "qa.cli", "serve", "--port", str(port)], env=env, stdout=log, stderr=subprocess.STDOUT
    )
    url = f"http://127.0.0.1:{port}/"
    try:
        deadline = time.monotonic() + 180  # a bound for a busy machine, so a broken start fails instead of hanging
        while process.poll() is None and time.monotonic() < deadline:
            try:
                _client(url)
                break
            except Exception:  # not listening yet
                time.sleep(0.5)
        if process.poll() is not None or time.monotonic() >= deadline:
            process.kill()
            process.wait(60)
            pytest.fail(f"qa serve did not start: {(root / 'serve.log').read_text()[-2000:]}")
        yield Served(url, settings, process, root / "serve.log")
    finally:
        process.terminate()
        process.wait(60)
        log.close()


@pytest.mark.slow
def test_qa_serve_indexes_the_articles_and_serves_the_chat(served: Served) -> None:
    assert (served.settings.index / "manifest.json").exists()
    assert "qa: 2 articles" in served.log.read_text()  # what it indexed, said on start
    *_, answer, _ = _client(served.url).predict(MEETING, api_name="/ask")
    assert answer["citations"][0]["title"] == "Obama, Putin Seek Common Ground on Syria"


@pytest.mark.slow
def test_twenty_concurrent_conversations_have_no_errors(served: Served, capsys: pytest.CaptureFixture[str]) -> None:
    turns = [MEETING, "Where did Obama meet Putin in June 2013?", "What did Obama and Putin agree on in 2012?"]
    latencies: list[float] = []

    def converse(n: int) -> int:
        client = _client(served.url)
        for question in turns[n % 3 :] + turns[: n % 3]:
            t0 = time.perf_counter()
            chat, _, _, answer, _ = client.predict(question, api_name="/ask")
            latencies.append(time.perf_counter() - t0)
            assert answer is not None and answer["question"] == question and not answer["refused"]
            assert "qa-error" not in chat[-1]["content"][0]["text"]
        return len(chat)

    t0 = time.perf_counter()
    with ThreadPoolExecutor(20) as pool:
        futures = [pool.submit(converse, n) for n in range(20)]
        done, not_done = wait(futures, timeout=600)  # bounded: a hang fails the test instead of stalling the suite
    seconds = time.perf_counter() - t0
    assert not not_done
    errors = [f.exception() for f in done if f.exception() is not None]
    assert errors == []
    assert [f.result() for f in futures] == [6] * 20  # each conversation kept its own 3 turns, no more, no less
    p50, p95 = np.percentile(latencies, [50, 95]) * 1000
    with capsys.disabled():
        print(
            f"\n20 conversations x 3 turns on loopback ({seconds:.1f} s): "
            f"p50 {p50:.0f} ms, p95 {p95:.0f} ms per answer, 0 errors"
        )
