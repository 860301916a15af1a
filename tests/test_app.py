"""The chat app: its shared index and uploads (qa.app.library, qa.app.uploads), its HTML (qa.app.render), its API
through gradio_client, `qa serve`, and 20 conversations at once. The browser side is in test_browser.py."""

from __future__ import annotations

import html
import os
import re
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

from qa.app.library import Library
from qa.app.render import message_html, sources_html
from qa.app.uploads import check_name
from qa.config import Settings
from qa.embed.embedder import Embedder
from qa.errors import UploadError
from tests.helpers import (
    G20_2012,
    LONG_QUESTION_SIZES,
    LUNAR,
    ROOT,
    SCRIPT,
    SEEDS,
    cut_notice,
    free_port,
    long_question,
    running_app,
    write,
)

MEETING = "How long did the 2013 meeting between Obama and Putin last?"
TOMATOES = "How many tomatoes did the lunar greenhouse harvest?"


def _files(folder: Path) -> set[str]:
    return {str(p.relative_to(folder)) for p in folder.rglob("*")}


def _files_only(folder: Path) -> set[str]:
    """The files under `folder` (no folders)."""
    return {str(p.relative_to(folder)) for p in folder.rglob("*") if not p.is_dir()}


def _snapshot(folder: Path) -> dict[str, tuple[bytes, int]]:
    """Every file under `folder`, with its bytes and modification time: what "never written" compares."""
    return {
        str(p.relative_to(folder)): (p.read_bytes(), p.stat().st_mtime_ns) for p in folder.rglob("*") if p.is_file()
    }


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
    src = tmp_path / "to-upload"
    big = write(src, "big.txt", "Big\n\n" + "word " * 400)
    latin1 = write(src, "latin1.txt", "Caf\xe9 news\n\nThe caf\xe9 opened.".encode("latin-1"))
    empty = write(src, "empty.md", "")
    refused = [("../outside.txt", LUNAR), ("big.txt", big), ("latin1.txt", latin1), ("empty.md", empty)]
    refused += [("x.exe", LUNAR)]
    before_seeds, before_tmp = _snapshot(SEEDS), _files(tmp_path)
    saved = library.save(refused)
    assert saved.names == []
    assert len(saved.refused) == 5
    assert "over the 0.0 MB limit" in saved.refused[1] or "limit" in saved.refused[1]
    assert "UTF-8" in saved.refused[2]
    assert all(":" in line and "\n" not in line for line in saved.refused)  # one line: problem, then fix
    assert _files(tmp_path) == before_tmp  # not even the uploads folder was made
    assert not settings.uploads.exists()

    assert library.save([("lunar.txt", LUNAR)]).names == ["lunar.txt"]
    other = write(src, "other.txt", "Other news\n\nAnother article, with the same name.")
    before_tmp = _files(tmp_path)
    again = library.save([("lunar.txt", other)])  # a name already taken
    assert again.names == [] and again.refused == [
        "lunar.txt was uploaded before: rename the file to add it as another"
    ]
    assert _files(tmp_path) == before_tmp
    assert (settings.uploads / "lunar.txt").read_bytes() == LUNAR.read_bytes()
    assert _snapshot(SEEDS) == before_seeds


def test_a_saved_upload_is_answerable_after_the_update(settings: Settings, embedder: Embedder) -> None:
    library, _ = Library.open(settings, embedder)
    assert library.ask(TOMATOES)[0].refused
    saved = library.save([("lunar.txt", LUNAR)])
    assert saved.names == ["lunar.txt"] and saved.refused == []
    assert (settings.uploads / "lunar.txt").read_bytes() == LUNAR.read_bytes()
    assert _files(settings.uploads) == {"lunar.txt"}  # no temporary left
    assert "lunar.txt" not in _files(settings.articles)  # the articles folder is never written
    report = library.update()
    assert report.added == ("uploads/lunar.txt",)
    answer, index = library.ask(TOMATOES)
    assert not answer.refused
    assert answer.citations[0].article == "uploads/lunar.txt"
    assert "42 tomatoes" in answer.citations[0].quote
    assert "uploads/lunar.txt" in index.articles


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
    assert not after.refused and after.citations[0].article == "uploads/lunar.txt"


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
def test_the_chat_reads_this_week_against_the_day_asked_on_and_refuses_a_week_no_article_reports(
    settings: Settings, embedder: Embedder
) -> None:
    question = "Where did Obama and Putin meet this week?"
    with running_app(settings, embedder) as (url, _):
        client = _client(url)
        _, _, _, answer, _ = client.predict(question, "extractive", "2012-06-20", api_name="/ask")
        assert not answer["refused"] and answer["citations"][0]["article"] == G20_2012  # the G-20 in Mexico
        _, _, _, answer, _ = client.predict(question, "extractive", " 2014-06-20 ", api_name="/ask")
        assert answer["refused"] and answer["citations"] == []
        assert "None of them was published this week (asked on 2014-06-20)" in answer["answer"]
        chat, _, _, answer, box = client.predict(question, "extractive", "June 20", api_name="/ask")
        said = chat[-1]["content"][0]["text"].replace("\\", "")  # as shown: Markdown's escapes are not
        assert answer is None and box == question  # asked again once the day is mended
        assert "“Asked on” must be a date as YYYY-MM-DD, got 'June 20': write it as 2013-06-20" in said


@pytest.mark.slow  # a server on loopback
def test_an_open_answer_shows_every_cited_sentence_in_the_sources_and_says_what_it_is(
    settings: Settings, embedder: Embedder
) -> None:
    with running_app(settings, embedder) as (url, _):
        chat, sources, _, answer, _ = _client(url).predict("What did Obama and Putin discuss?", api_name="/ask")
        assert answer["kind"] == "list" and answer["short_answer"] is None and len(answer["citations"]) >= 2
        message = chat[-1]["content"][0]["text"]
        assert '<span class="qa-kind">Account from 2 articles</span>' in message and "Short answer" not in message
        assert sources.count("<div class='qa-source'") == len(answer["citations"])
        assert sources.count("<mark class='qa-quote'>") == len(answer["citations"])
        for c in answer["citations"]:
            assert f"data-n='{c['n']}'" in sources and html.escape(c["quote"], quote=True) in sources


@pytest.mark.slow  # a server on loopback
def test_upload_endpoint_indexes_the_file_and_refuses_what_it_must(
    settings: Settings, embedder: Embedder, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    gradio_tmp = tmp_path / "gradio"  # Gradio's upload cache, for this app only
    monkeypatch.setenv("GRADIO_TEMP_DIR", str(gradio_tmp))
    exe = write(tmp_path / "to-upload", "run.exe", b"MZ\x90\x00 not an article")
    articles = _snapshot(settings.articles)
    with running_app(settings, embedder) as (url, _):
        client = _client(url)
        status, info = client.predict([handle_file(str(LUNAR))], api_name="/add_articles")
        assert "Indexed lunar.txt: 1 added" in status
        assert info.startswith("3 articles") and f"<code>{settings.uploads}</code> (1 uploaded)" in info
        assert _files_only(gradio_tmp) == set()  # Gradio's copy is deleted once saved
        *_, answer, _ = client.predict(TOMATOES, api_name="/ask")
        assert answer["citations"][0]["article"] == "uploads/lunar.txt"

        status, _ = client.predict([handle_file(str(LUNAR))], api_name="/add_articles")
        assert status == "Refused lunar.txt was uploaded before: rename the file to add it as another"
        status, _ = client.predict([handle_file(str(exe))], api_name="/add_articles")  # qa's reason, not Gradio's
        assert status == "Refused run.exe is not an article file: upload .txt, .md, .html, .jsonl files"
        assert _files_only(gradio_tmp) == set()  # refused: deleted at once
    assert _files(settings.uploads) == {"lunar.txt"}
    assert _snapshot(settings.articles) == articles


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
    env["QA_UPLOADS"] = str(root / "uploads")
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


# ---- long questions, failures, uploads kept out of the project, `qa serve`'s warnings (issue 21) ------------------


@pytest.mark.slow  # a server on loopback
def test_long_questions_are_answered_through_the_api_with_the_notice_when_cut(
    settings: Settings, embedder: Embedder
) -> None:
    with running_app(settings, embedder) as (url, _):
        client = _client(url)
        for n in LONG_QUESTION_SIZES:
            question = long_question(n)
            chat, _, _, answer, box = client.predict(question, api_name="/ask")  # no AppError
            assert box == ""
            assert answer["refused"] or answer["citations"], n  # an answer or a refusal
            shown = chat[-1]["content"][0]["text"]
            assert "qa-error" not in shown
            if n <= 2000:
                assert answer["notices"] == [] and "qa-notice" not in shown
                continue
            (notice,) = answer["notices"]
            assert notice.startswith(cut_notice(n)) and notice.endswith(" were used")
            assert "<span class='qa-notice'>Note: the question was 100,000 characters; only the first" in shown
            assert len(chat[-2]["content"][0]["text"]) < 2_500  # the question is shown cut too, not 100,000 chars
            client.predict(api_name="/clear")


@pytest.mark.slow  # a server on loopback
def test_any_failure_while_answering_is_a_chat_message_and_the_next_question_works(
    settings: Settings, embedder: Embedder, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]
) -> None:
    from qa.errors import IndexMissingError

    with running_app(settings, embedder) as (url, library):
        client = _client(url)
        real = library.ask
        for error in (RuntimeError("the reader fell over"), IndexMissingError("no index in x: run `qa index build`")):

            def failing(*args: Any, error: Exception = error, **kwargs: Any) -> Any:
                raise error

            monkeypatch.setattr(library, "ask", failing)
            chat, sources, _, answer, box = client.predict(MEETING, api_name="/ask")  # no AppError
            assert box == MEETING  # kept, to ask again
            assert answer is None and sources == ""
            shown = re.sub(r"\\(.)", r"\1", chat[-1]["content"][0]["text"])  # as the chat shows it: no Markdown escapes
            assert chat[-1]["role"] == "assistant" and "class='qa-error'" in shown
            if isinstance(error, RuntimeError):
                assert "something went wrong (RuntimeError: the reader fell over)" in shown
                assert "the server" in shown
            else:
                assert "no index in x" in shown
            monkeypatch.setattr(library, "ask", real)
            chat, _, _, answer, box = client.predict(MEETING, api_name="/ask")
            assert answer["short_answer"] == "two hours" and box == ""
            assert [m["role"] for m in chat[-4:]] == ["user", "assistant", "user", "assistant"]
    assert "RuntimeError: the reader fell over" in capfd.readouterr().err  # the bug's traceback, in the server's log


def test_an_upload_never_writes_the_tracked_seeds_and_goes_to_the_data_folder(
    embedder: Embedder, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    settings = Settings(index=tmp_path / "index", articles=SEEDS)  # the project's own seeds/, default uploads folder
    assert settings.uploads == tmp_path / "data" / "qa" / "uploads"
    before = _snapshot(SEEDS)
    library, _ = Library.open(settings, embedder)
    assert library.save([("lunar.txt", LUNAR), ("notes.txt", SCRIPT)]).names == ["lunar.txt", "notes.txt"]
    report = library.update()
    assert sorted(report.added) == ["uploads/lunar.txt", "uploads/notes.txt"]
    assert library.ask(TOMATOES)[0].citations[0].article == "uploads/lunar.txt"
    assert _files(settings.uploads) == {"lunar.txt", "notes.txt"}
    assert _snapshot(SEEDS) == before  # nothing added, changed or removed in seeds/


def test_the_default_uploads_folder_is_a_temporary_one_in_tests(private_data_home: Path) -> None:
    assert os.environ["XDG_DATA_HOME"] == str(private_data_home)
    uploads = Settings().uploads
    assert uploads == private_data_home / "qa" / "uploads"
    assert not uploads.is_relative_to(Path.home() / ".local" / "share")


def test_qa_serve_warns_of_each_skipped_file_large_article_and_repaired_segment(
    settings: Settings, embedder: Embedder, monkeypatch: pytest.MonkeyPatch
) -> None:
    from typer.testing import CliRunner

    import qa.app.serve as serve_module
    from qa.cli import app

    served: list[Any] = []
    monkeypatch.setattr(
        serve_module, "launch", lambda demo, host, port: served.append((host, port))
    )  # not serving: a test
    write(settings.articles, "bad.jsonl", '{"text": "A fine line about the summit."}\n{oops\n')
    write(settings.articles, "long.txt", "Long Read\n\n" + "The council met again on Monday to talk. " * 200)
    env = {"QA_LARGE_ARTICLE_MB": "0.006", "QA_UPLOADS": str(settings.uploads)}  # 6 KB: over the seeds' 3-4 KB
    args = ["serve", "--port", str(free_port()), "--index", str(settings.index), "--articles", str(settings.articles)]
    result = CliRunner().invoke(app, args, env=env)
    assert result.exit_code == 0, result.output
    warnings = [line for line in result.stderr.splitlines() if line.startswith("warning: ")]
    assert (
        warnings[0].startswith("warning: skipped bad.jsonl:2: malformed JSON")
        and "fix or remove the line" in warnings[0]
    )
    assert warnings[1].startswith("warning: long.txt: 0.0 MB, over the 0.006 MB") and "indexed" in warnings[1]
    assert len(warnings) == 2 and len(served) == 1

    (faiss_file,) = settings.index.glob("seg-*.faiss")
    faiss_file.write_bytes(faiss_file.read_bytes()[:64])
    result = CliRunner().invoke(app, args, env=env)
    assert result.exit_code == 0, result.output
    warnings = [line for line in result.stderr.splitlines() if line.startswith("warning: ")]
    assert warnings[0].startswith("warning: skipped bad.jsonl:2")  # skipped again: it is still there
    assert any(line.startswith("warning: the index was damaged (seg-") for line in warnings)
