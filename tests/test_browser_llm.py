"""The chat app's opt-in LLM answerer in a real browser (Playwright driving Debian's chromium, as test_browser.py):
the answerer is a choice in the UI, the LLM's tokens stream into the chat, a sentence its cited passage does not
support is struck through, and with the endpoint down the chat says so in one line and gives the extractive answer.

The streamed answer is the real model's (conftest's `llm_server`, llama.cpp on loopback; skipped only when the GGUF
is absent); the struck-through sentence comes from a scripted OpenAI-compatible endpoint on loopback, which streams a
fixed answer (one sentence the seed article supports, one made up), since the real model cannot be made to invent
one on cue."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Locator, Page, expect

from qa.app.library import Library
from qa.config import Settings
from qa.llm.client import open_llm
from qa.llm.local import LOCAL_MODEL_NAME, LocalServer
from qa.pipeline import QA
from tests.helpers import (
    MEETING_2012,
    ask_in_page,
    dead_endpoint,
    llm_settings,
    needs_model,
    offsite_requests,
    passage_holding,
    real_settings,
    screenshot,
    serving,
)

pytestmark = [pytest.mark.browser, pytest.mark.slow]

# conftest's chromium (`browser`, `page`), seed index (`seed_qa`) and model server (`llm_server`)

LLM_WAIT_MS = 300_000  # the real model on 2 shared cores: an upper bound, not a speed requirement
LLM_CHOICE = "LLM (each sentence checked)"
EXTRACTIVE_CHOICE = "Extractive (the articles' sentences)"
SUPPORTED = "The 2012 meeting between Obama and Putin lasted two hours"  # the seed says so (test_llm.py checks it)
INVENTED = "The meeting was held on the Moon"  # no seed says so

# Records the last chat message's text each time the page changes it: what the user saw, in order.
WATCH_CHAT = """() => {
  window.__qaSeen = [];
  const record = () => {
    const rows = document.querySelectorAll('#qa-chat .message-row');
    if (!rows.length) return;
    const text = rows[rows.length - 1].innerText;
    if (window.__qaSeen[window.__qaSeen.length - 1] !== text) window.__qaSeen.push(text);
  };
  new MutationObserver(record).observe(document.body, {childList: true, subtree: true, characterData: true});
}"""


@contextmanager
def running(seed_qa: QA, settings: Settings) -> Iterator[str]:
    """The chat app over the seed index on a free loopback port, with the LLM the settings name (if any)."""
    library = Library(
        QA.open(settings, embedder=seed_qa.embedder), llm=open_llm(settings) if settings.llm_base_url else None
    )
    with serving(library) as url:
        yield url


def open_with_llm_chosen(page: Page, url: str, default: str = EXTRACTIVE_CHOICE) -> None:
    """Open the app, see the answerer choice at its default (QA_ANSWERER's), and choose the LLM."""
    page.goto(url)
    expect(page.locator("#qa-index-info")).to_contain_text("2 articles")
    choice = page.locator("#qa-answerer")
    expect(choice).to_be_visible()
    expect(choice.get_by_label(default)).to_be_checked()
    choice.get_by_label(LLM_CHOICE).check()
    expect(choice.get_by_label(LLM_CHOICE)).to_be_checked()
    expect(choice.get_by_label(EXTRACTIVE_CHOICE)).not_to_be_checked()


def streamed_texts(page: Page, final: str) -> list[str]:
    """The texts the answer showed while the LLM's tokens came in (each ends with the streaming mark " …")."""
    seen: list[str] = page.evaluate("window.__qaSeen")
    return [t for t in seen if t.rstrip().endswith("…") and "Searching the articles" not in t and t != final]


def assert_growing(streaming: list[str]) -> None:
    assert len(set(streaming)) >= 2, streaming  # more than one piece shown before the checked answer
    assert len(streaming[0]) < len(streaming[-1]), streaming


def last_message(page: Page) -> Locator:
    return page.locator("#qa-chat .message-row").last


@needs_model
def test_the_real_models_answer_streams_into_the_chat_with_citations(
    page: Page, seed_qa: QA, llm_server: LocalServer, tmp_path: Path
) -> None:
    settings = real_settings(seed_qa.settings, llm_server.base_url).with_(answerer="extractive")
    with running(seed_qa, settings) as url:
        offsite = offsite_requests(page)
        open_with_llm_chosen(page, url)
        page.evaluate(WATCH_CHAT)
        ask_in_page(page, MEETING_2012)

        answer = last_message(page)
        # the checked answer: the LLM's (its "Written by" line) or, should it fall back, the extractive one's notice
        expect(answer.locator(".qa-llm-meta, .qa-llm-note")).to_have_count(1, timeout=LLM_WAIT_MS)
        final = answer.inner_text()
        print(f"\nshown in the browser: {final!r}")
        assert_growing(streamed_texts(page, final))
        expect(answer.locator(".qa-cite").first).to_have_text("[1]")
        expect(answer.locator(".qa-llm-meta")).to_contain_text(f"Written by the LLM ({LOCAL_MODEL_NAME})")
        expect(answer.locator(".qa-llm-note")).to_have_count(0)  # no fallback: the model's answer stands
        assert "…" not in final  # the streaming mark is gone from the checked answer

        sources = page.locator("#qa-sources")
        expect(sources.locator(".qa-source").first).to_be_visible()
        expect(sources.locator(".qa-cite").first).to_have_text("[1]")
        expect(sources.locator("mark.qa-quote").first).to_be_visible()
        expect(sources).to_contain_text("000_35a32bfe2c615227.txt")  # the 2012 article
        screenshot(page, tmp_path, "llm.png")
    assert offsite == []


class ScriptedEndpoint(ThreadingHTTPServer):
    """An OpenAI-compatible chat-completions endpoint on loopback that streams `pieces`, one every `delay` s."""

    daemon_threads = True

    def __init__(self, pieces: list[str], delay: float) -> None:
        self.pieces, self.delay = pieces, delay
        self.requests: list[dict[str, Any]] = []
        super().__init__(("127.0.0.1", 0), ScriptedHandler)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/v1"


class ScriptedHandler(BaseHTTPRequestHandler):
    server: ScriptedEndpoint

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self.server.requests.append({"path": self.path, **body})
        if self.path != "/v1/chat/completions":
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.end_headers()  # HTTP/1.0: the stream ends when the connection closes
        deltas = [{"role": "assistant", "content": ""}, *({"content": p} for p in self.server.pieces), {}]
        for n, delta in enumerate(deltas):
            chunk = {
                "id": "chatcmpl-scripted",
                "object": "chat.completion.chunk",
                "created": int(time.time()),
                "model": body["model"],
                "choices": [{"index": 0, "delta": delta, "finish_reason": "stop" if n == len(deltas) - 1 else None}],
            }
            self.wfile.write(f"data: {json.dumps(chunk)}\n\n".encode())
            self.wfile.flush()
            time.sleep(self.server.delay)
        self.wfile.write(b"data: [DONE]\n\n")

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass


@pytest.fixture
def scripted(seed_qa: QA) -> Iterator[ScriptedEndpoint]:
    """The endpoint, answering the 2012 question with a sentence its cited passage says and one it does not."""
    n = passage_holding(seed_qa.ask(MEETING_2012), "which lasted two hours")
    answer = f"{SUPPORTED} [{n}]. {INVENTED} [{n}]."
    endpoint = ScriptedEndpoint([w + " " for w in answer.split(" ")[:-1]] + [answer.split(" ")[-1]], delay=0.1)
    thread = threading.Thread(target=endpoint.serve_forever, daemon=True)
    thread.start()
    try:
        yield endpoint
    finally:
        endpoint.shutdown()
        endpoint.server_close()
        thread.join(5)


def test_a_sentence_the_cited_passage_does_not_support_is_struck_through(
    page: Page, seed_qa: QA, scripted: ScriptedEndpoint
) -> None:
    with running(seed_qa, llm_settings(seed_qa.settings, scripted.base_url)) as url:  # QA_ANSWERER=llm
        open_with_llm_chosen(page, url, default=LLM_CHOICE)
        page.evaluate(WATCH_CHAT)
        ask_in_page(page, MEETING_2012)

        answer = last_message(page)
        expect(answer.locator(".qa-llm-meta")).to_contain_text(
            "1 struck-through sentence not supported by the passage cited"
        )
        assert_growing(streamed_texts(page, answer.inner_text()))
        unsupported = answer.locator(".qa-unsupported")
        expect(unsupported).to_have_count(1)
        expect(unsupported).to_have_text(f"{INVENTED}.")
        expect(unsupported).to_have_css("text-decoration-line", "line-through")  # visibly marked
        expect(answer).to_contain_text(f"{SUPPORTED}. [1]")  # the supported sentence: plain, with its citation
        expect(answer.locator(".qa-cite")).to_have_count(1)
        sources = page.locator("#qa-sources")
        expect(sources.locator(".qa-source")).to_have_count(1)
        expect(sources.locator("mark.qa-quote")).to_contain_text("which lasted two hours")
    (request,) = scripted.requests
    assert request["path"] == "/v1/chat/completions" and request["stream"] is True
    assert request["model"] == LOCAL_MODEL_NAME and MEETING_2012 in request["messages"][-1]["content"]


def test_endpoint_down_shows_a_one_line_notice_and_the_extractive_answer(page: Page, seed_qa: QA) -> None:
    settings = llm_settings(seed_qa.settings, dead_endpoint()).with_(answerer="extractive")
    with running(seed_qa, settings) as url:
        open_with_llm_chosen(page, url)
        ask_in_page(page, MEETING_2012)

        answer = last_message(page)
        note = answer.locator(".qa-llm-note")
        expect(note).to_have_count(1)
        expect(note).to_contain_text("This is the extractive answer.")
        shown = note.inner_text()
        assert "\n" not in shown and shown.startswith("LLM unavailable: cannot reach the LLM at http"), shown
        assert "Connection refused" in shown and "fix QA_LLM_BASE_URL" in shown, shown  # why, and the fix
        extractive = seed_qa.ask(MEETING_2012)
        expect(answer).to_contain_text(extractive.text.split(" [")[0])  # the extractive answer's first sentence
        expect(answer.locator(".qa-cite").first).to_have_text("[1]")
        expect(answer).not_to_contain_text("Written by the LLM")
        expect(page.locator("#qa-sources mark.qa-quote").first).to_be_visible()


def test_the_notice_shows_the_endpoint_url_as_written(page: Page, seed_qa: QA) -> None:
    endpoint = dead_endpoint()
    settings = llm_settings(seed_qa.settings, endpoint).with_(answerer="extractive")
    with running(seed_qa, settings) as url:
        open_with_llm_chosen(page, url)
        ask_in_page(page, MEETING_2012)
        note = last_message(page).locator(".qa-llm-note")
        expect(note).to_contain_text("This is the extractive answer.")
        assert f"cannot reach the LLM at {endpoint} (" in note.inner_text()
        assert note.locator("a").count() == 0  # text, not a link


def test_without_an_llm_the_answerer_choice_is_not_shown(page: Page, seed_qa: QA) -> None:
    with running(seed_qa, seed_qa.settings) as url:
        page.goto(url)
        expect(page.locator("#qa-index-info")).to_contain_text("2 articles")
        expect(page.locator("#qa-answerer")).to_be_hidden()
        expect(page.get_by_label(LLM_CHOICE)).to_have_count(0)
        ask_in_page(page, MEETING_2012)
        expect(last_message(page).locator(".qa-cite").first).to_have_text("[1]")
        expect(last_message(page)).not_to_contain_text("Written by the LLM")
