"""The chat app in the browser (Gradio Blocks): answers streamed in with [n] citations, the cited passages with
the quoted sentence highlighted, every retrieved passage with its score and timings, and articles added by
upload. A thin shell over qa.app.library.Library (the index and model, loaded once and shared by every session).

Article text is never markup: every piece of HTML shown here is built by qa.app.render, which escapes it.
"""

from __future__ import annotations

import os
import socket
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# Nothing may touch the network: no telemetry, no version check, no model hub (set before gradio is imported).
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ["HF_HUB_OFFLINE"] = "1"

import gradio as gr

from qa.app.library import Library, Turn
from qa.app.render import (
    CSS,
    LLM_CSS,
    chat_text,
    error_html,
    index_line,
    lines_html,
    llm_message_html,
    message_html,
    passages_html,
    sources_html,
)
from qa.app.uploads import MAX_UPLOAD_BYTES, UPLOAD_TYPES
from qa.config import Settings
from qa.errors import QAError, SettingsError
from qa.llm.answerer import LLMResult

EXAMPLES = [
    "How long did the 2013 meeting between Obama and Putin last?",
    "Where did Obama meet Putin in June 2013?",
    "What did Obama and Putin agree on in 2012?",
    "How many deaths has the Syrian conflict caused?",
]
STREAM_STEPS = 6  # the answer appears in about this many pieces (each costs the server ~7 ms: measured)
STREAM_DELAY = 0.02  # seconds between pieces: about 0.1 s in all, a visible stream, little added latency
PENDING = "<span class='qa-meta'>Searching the articles…</span>"
LLM_STREAM_EVERY = 0.05  # seconds between updates of a streaming LLM answer (each costs the server ~7 ms)


@dataclass
class Session:
    """One browser tab's conversation: its turns, and what its chat shows (kept in gr.State)."""

    turns: list[Turn] = field(default_factory=list)
    messages: list[dict[str, str]] = field(default_factory=list)


def pieces(text: str) -> list[str]:
    """Growing prefixes of `text`, cut between words, the last one the whole text: the answer streamed in."""
    words = text.split(" ")
    step = max(1, -(-len(words) // STREAM_STEPS))
    return [" ".join(words[:n]) for n in range(step, len(words), step)] + [text]


def build_app(library: Library) -> gr.Blocks:
    """The Blocks UI over `library`; serve it with `launch`."""

    def respond(question: str, session: Session | None, answerer: str | None = None) -> Iterator[tuple[Any, ...]]:
        session = session or Session()
        question = (question or "").strip()
        if not question:
            yield session.messages, gr.skip(), gr.skip(), gr.skip(), session, ""
            return
        asked = [*session.messages, {"role": "user", "content": chat_text(question)}]
        yield [*asked, {"role": "assistant", "content": PENDING}], gr.skip(), gr.skip(), gr.skip(), session, ""
        if answerer == "llm" and library.llm is not None:
            yield from respond_llm(question, session, asked)
            return
        try:
            answer, index = library.ask(question, None, session.turns)
        except QAError as e:
            session.messages = [*asked, {"role": "assistant", "content": error_html(str(e))}]
            yield session.messages, "", "", None, session, ""
            return
        for notice in answer.notices:
            gr.Info(notice)
        for piece in pieces(answer.text)[:-1]:
            shown = [*asked, {"role": "assistant", "content": message_html(piece, refused=answer.refused)}]
            yield shown, gr.skip(), gr.skip(), gr.skip(), session, ""
            time.sleep(STREAM_DELAY)
        final = message_html(answer.text, refused=answer.refused, short=answer.short)
        session.messages = [*asked, {"role": "assistant", "content": final}]
        sources, passages = sources_html(answer, index), passages_html(answer)
        yield session.messages, sources, passages, answer.to_dict(), session, ""

    def respond_llm(question: str, session: Session, asked: list[dict[str, str]]) -> Iterator[tuple[Any, ...]]:
        """The LLM's answer: its tokens as they come, then each sentence marked supported or not."""
        try:
            _, index, stream = library.ask_llm(question, None, session.turns)
            result = None
            text, shown_at = "", 0.0
            for item in stream:
                if isinstance(item, LLMResult):
                    result = item
                    continue
                text += item.text
                if time.monotonic() - shown_at >= LLM_STREAM_EVERY:
                    shown_at = time.monotonic()
                    content = message_html(text) + "<span class='qa-meta'> …</span>"
                    yield (
                        [*asked, {"role": "assistant", "content": content}],
                        gr.skip(),
                        gr.skip(),
                        gr.skip(),
                        session,
                        "",
                    )
        except QAError as e:
            session.messages = [*asked, {"role": "assistant", "content": error_html(str(e))}]
            yield session.messages, "", "", None, session, ""
            return
        assert result is not None  # the stream always ends with the checked result
        for notice in result.answer.notices:
            gr.Info(notice)
        session.messages = [*asked, {"role": "assistant", "content": llm_message_html(result)}]
        sources, passages = sources_html(result.answer, index), passages_html(result.answer)
        yield session.messages, sources, passages, result.to_dict(), session, ""

    def clear() -> tuple[Any, ...]:
        return [], "", "", None, None, ""

    def info() -> str:
        return index_line(library.index, str(library.settings.articles))

    def add_articles(
        files: list[str] | None,
        progress: gr.Progress = gr.Progress(track_tqdm=True),  # noqa: B008 (Gradio's way to ask for a progress bar)
    ) -> Iterator[tuple[str, str]]:
        saved = library.save([(Path(f).name, Path(f)) for f in files or []])
        lines = [f"Refused {r}" for r in saved.refused]
        if not saved.names:
            yield lines_html(lines or ["No files were uploaded."]), info()
            return
        names = ", ".join(saved.names)
        yield lines_html([*lines, f"Saved {names}; indexing…"]), info()
        try:
            report = library.update(lambda f, d: progress(f, desc=d))
        except QAError as e:
            yield lines_html([*lines, f"Saved {names}, but not indexed: {e}"]), info()
            return
        lines.append(
            f"Indexed {names}: {len(report.added)} added, {len(report.changed)} changed, {report.chunks_embedded} "
            f"passages embedded in {report.seconds:.1f} s. Ask about them now."
        )
        lines += [f"Skipped {p}" for p in report.problems]
        lines += [f"Same text as {a}: {', '.join(o)} (indexed once)" for a, o in report.duplicates.items()]
        yield lines_html(lines), info()

    with gr.Blocks(title="qa — ask the articles", analytics_enabled=False) as demo:
        gr.Markdown(
            "## Ask the articles\nAnswers quote the articles and cite them [n], "
            "and say so when the articles don't hold the answer."
        )
        index_info = gr.HTML(info(), elem_id="qa-index-info")
        session = gr.State(None)
        with gr.Row():
            with gr.Column(scale=3):
                chatbot = gr.Chatbot(
                    label="Chat",
                    elem_id="qa-chat",
                    height=480,
                    latex_delimiters=[],
                    buttons=[],
                    feedback_options=None,
                    group_consecutive_messages=False,
                    allow_tags=False,
                )
                with gr.Row():
                    question = gr.Textbox(
                        placeholder="Ask a question about the articles…",
                        show_label=False,
                        scale=5,
                        elem_id="qa-question",
                        max_lines=4,
                        autofocus=True,
                    )
                    ask = gr.Button("Ask", variant="primary", scale=1, elem_id="qa-ask")
                    clear_button = gr.Button("Clear conversation", scale=1, elem_id="qa-clear")
                # Offered only when an LLM is configured (QA_LLM_*); the extractive answerer is the default.
                answerer = gr.Radio(
                    [("Extractive (the articles' sentences)", "extractive"), ("LLM (each sentence checked)", "llm")],
                    value=library.settings.answerer if library.llm is not None else "extractive",
                    label="Answers by",
                    visible=library.llm is not None,
                    elem_id="qa-answerer",
                )
                gr.Examples(EXAMPLES, inputs=[question], label="Examples")
            with gr.Column(scale=2):
                gr.Markdown("### Sources")
                sources = gr.HTML(
                    "<p class='qa-meta'>The articles an answer cites appear here.</p>", elem_id="qa-sources"
                )
                with gr.Accordion("Retrieved passages and timings", open=False, elem_id="qa-passages-panel"):
                    passages = gr.HTML("", elem_id="qa-passages")
                gr.Markdown("### Add articles")
                upload = gr.UploadButton(
                    f"Upload {' '.join(UPLOAD_TYPES)} (up to {MAX_UPLOAD_BYTES // 2**20} MB each)",
                    file_count="multiple",
                    file_types=list(UPLOAD_TYPES),
                    elem_id="qa-upload",
                )
                status = gr.HTML("", elem_id="qa-upload-status")
        answer_json = gr.JSON(visible=False, label="answer")  # docs/design.md's `qa ask --json`, for API clients

        chat_outputs = [chatbot, sources, passages, answer_json, session, question]
        gr.on(
            [question.submit, ask.click],
            respond,
            inputs=[question, session, answerer],
            outputs=chat_outputs,
            api_name="ask",
            concurrency_limit=8,
        )
        gr.on([clear_button.click, chatbot.clear], clear, outputs=chat_outputs, api_name="clear")
        # One upload at a time; questions go on being answered (from the old index) while it is indexed.
        upload.upload(
            add_articles, inputs=[upload], outputs=[status, index_info], api_name="add_articles", concurrency_limit=1
        )
    demo.queue(max_size=256)
    return demo


def launch(demo: gr.Blocks, host: str | None = None, port: int | None = None, *, block: bool = True) -> gr.Blocks:
    """Serve `demo` on host:port (Gradio's defaults when None: GRADIO_SERVER_NAME/PORT, else 127.0.0.1:7860);
    `block=False` returns once it is listening."""
    demo.launch(
        server_name=host,
        server_port=port,
        share=False,
        ssr_mode=False,
        css=CSS + LLM_CSS,
        prevent_thread_lock=not block,
        max_file_size=MAX_UPLOAD_BYTES,
        show_error=False,
        quiet=not block,
    )
    return demo


def check_port(host: str, port: int) -> None:
    """Fail fast, before the index and model are loaded, when host:port cannot be listened on."""
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as s:
        try:
            s.bind((host, port))
        except OSError as e:
            raise SettingsError(
                f"cannot listen on {host}:{port} ({e.strerror or e}): pass --port with a free port "
                "(or --host with an address of this machine)"
            ) from None


def serve(settings: Settings, host: str | None = None, port: int | None = None) -> None:
    """`qa serve` and `python app.py`: update the index from the articles folder, load it once, serve the chat."""
    host = host or os.environ.get("GRADIO_SERVER_NAME") or "127.0.0.1"
    port = port or int(os.environ.get("GRADIO_SERVER_PORT") or 7860)
    check_port(host, port)
    print(f"qa: updating {settings.index} from {settings.articles} …", file=sys.stderr)
    library, report = Library.open(settings, progress=sys.stderr.isatty())
    print(
        f"qa: {report.articles} articles, {report.chunks} passages ({len(report.added)} added, "
        f"{len(report.changed)} changed, {len(report.removed)} removed); open http://{host}:{port}",
        file=sys.stderr,
    )
    launch(build_app(library), host, port)
