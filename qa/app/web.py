"""The chat app in the browser (Gradio Blocks): answers streamed in with [n] citations, the cited passages with
the quoted sentence highlighted, every retrieved passage with its score and timings, and articles added by
upload. A thin shell over qa.app.library.Library (the index and model, loaded once and shared by every session).

Article text is never markup: every piece of HTML shown here is built by qa.app.render, which escapes it.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import sys
import time
import traceback
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
    chat_text,
    error_html,
    index_line,
    lines_html,
    llm_message_html,
    message_html,
    notices_html,
    passages_html,
    sources_html,
)
from qa.app.uploads import MAX_UPLOAD_BYTES, UPLOAD_TYPES
from qa.errors import QAError, QuestionError
from qa.llm.answerer import LLMResult
from qa.search.query import MAX_QUESTION_CHARS

EXAMPLES = [
    "How long did the 2013 meeting between Obama and Putin last?",
    "Where did Obama meet Putin in June 2013?",
    "What did Obama and Putin agree on in 2012?",
    "How many deaths has the Syrian conflict caused?",
]
STREAM_STEPS = 6  # the answer appears in about this many pieces (each costs the server ~7 ms: measured)
STREAM_DELAY = 0.02  # seconds between pieces: about 0.1 s in all, a visible stream, little added latency
PENDING = "<span class='qa-meta'>Searching the articles…</span>"
MORE = "<span class='qa-meta qa-more'> …</span>"  # after an answer still coming in; gone from the finished one
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


def shown_question(question: str) -> str:
    """The question as the chat shows it: a question cut for the models (qa.search.query.clean_question) is shown
    cut too, about where it was cut; the answer's notice says by how much."""
    if len(question) <= MAX_QUESTION_CHARS:
        return question
    return question[:MAX_QUESTION_CHARS].rsplit(" ", 1)[0] + " …"


def api_answer(shape: dict[str, Any], notices: tuple[str, ...]) -> dict[str, Any]:
    """An answer for API clients: `qa ask --json`'s shape, with the notices `qa ask` prints on stderr."""
    return {**shape, "notices": list(notices)}


def as_of(asked_on: str | None) -> dt.date | None:
    """The day the chat's "Asked on" field names (None when empty: the settings' day, else today)."""
    text = (asked_on or "").strip()
    if not text:
        return None
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise QuestionError(
            f"“Asked on” must be a date as YYYY-MM-DD, got {text!r}: write it as 2013-06-20, or clear it to ask as of "
            "today"
        ) from None


def failure(error: Exception, doing: str) -> str:
    """One line for the app about a failure while `doing` something: a QAError's own message (the problem and the
    fix); anything else is a bug, logged with its traceback on stderr and named in one line."""
    if isinstance(error, QAError):
        return str(error)
    print(f"qa: error {doing}:", file=sys.stderr)
    traceback.print_exception(error, file=sys.stderr)
    what = " ".join(str(error).split())[:300]
    return (
        f"something went wrong ({type(error).__name__}{': ' + what if what else ''}): ask again; if it goes on "
        "failing, the server's log has the details"
    )


def forget_uploads(paths: list[Path], cache: Path) -> None:
    """Delete Gradio's copies of uploaded files (in `cache`, its upload folder: one folder per file) and their
    folders: qa keeps what it saved in the uploads folder, and nothing anywhere else."""
    cache = cache.resolve()
    for path in paths:
        path = path.resolve()
        if not path.is_relative_to(cache) or path == cache:
            continue  # not Gradio's (never the case for an upload: Gradio checks it)
        path.unlink(missing_ok=True)
        if path.parent != cache:
            with contextlib.suppress(OSError):  # not empty: the same file uploaded again meanwhile
                path.parent.rmdir()


def build_app(library: Library) -> gr.Blocks:
    """The Blocks UI over `library`; serve it with `launch`."""

    def respond(
        question: str, session: Session | None, answerer: str | None = None, asked_on: str | None = None
    ) -> Iterator[tuple[Any, ...]]:
        """The chat's answer to `question` as asked on `asked_on` (YYYY-MM-DD; empty: the settings' day, else
        today), streamed in. Any failure is a message in the conversation (never Gradio's error badge), the question
        stays in the textbox to ask again, and the next question works."""
        session = session or Session()
        typed = question or ""
        question = typed.strip()
        if not question:
            yield session.messages, gr.skip(), gr.skip(), gr.skip(), session, ""
            return
        asked = [*session.messages, {"role": "user", "content": chat_text(shown_question(question))}]
        yield [*asked, {"role": "assistant", "content": PENDING}], gr.skip(), gr.skip(), gr.skip(), session, ""
        try:
            day = as_of(asked_on)
            if answerer == "llm" and library.llm is not None:
                yield from respond_llm(question, session, asked, day)
            else:
                yield from respond_extractive(question, session, asked, day)
        except Exception as e:  # any failure at all: the conversation says so and goes on
            said = failure(e, f"answering {question[:200]!r}")
            session.messages = [*asked, {"role": "assistant", "content": error_html(said)}]
            yield session.messages, "", "", None, session, typed

    def respond_extractive(
        question: str, session: Session, asked: list[dict[str, str]], day: dt.date | None
    ) -> Iterator[tuple[Any, ...]]:
        """The extractive answer, streamed in a few pieces; how the question was read (cut: the notice) under it."""
        answer, index = library.ask(question, None, session.turns, day)
        notes = notices_html(answer.notices)
        for piece in pieces(answer.text)[:-1]:
            shown = [*asked, {"role": "assistant", "content": message_html(piece, refused=answer.refused) + MORE}]
            yield shown, gr.skip(), gr.skip(), gr.skip(), session, ""
            time.sleep(STREAM_DELAY)
        final = message_html(answer.text, refused=answer.refused, short=answer.short, heading=answer.heading) + notes
        session.messages = [*asked, {"role": "assistant", "content": final}]
        sources, passages = sources_html(answer, index), passages_html(answer)
        yield session.messages, sources, passages, api_answer(answer.to_dict(), answer.notices), session, ""

    def respond_llm(
        question: str, session: Session, asked: list[dict[str, str]], day: dt.date | None
    ) -> Iterator[tuple[Any, ...]]:
        """The LLM's answer: its tokens as they come, then each sentence marked supported or not."""
        _, index, stream = library.ask_llm(question, None, session.turns, day)
        result = None
        text, shown_at = "", 0.0
        for item in stream:
            if isinstance(item, LLMResult):
                result = item
                continue
            text += item.text
            if time.monotonic() - shown_at >= LLM_STREAM_EVERY:
                shown_at = time.monotonic()
                content = message_html(text) + MORE
                yield [*asked, {"role": "assistant", "content": content}], gr.skip(), gr.skip(), gr.skip(), session, ""
        assert result is not None  # the stream always ends with the checked result
        notices = result.answer.notices
        session.messages = [*asked, {"role": "assistant", "content": llm_message_html(result) + notices_html(notices)}]
        sources, passages = sources_html(result.answer, index), passages_html(result.answer)
        yield session.messages, sources, passages, api_answer(result.to_dict(), notices), session, ""

    def clear() -> tuple[Any, ...]:
        return [], "", "", None, None, ""

    def info() -> str:
        """The index line, read from the index current now: on each page load and after each upload."""
        return index_line(library.index, str(library.settings.articles), str(library.settings.uploads))

    def add_articles(
        files: list[dict[str, Any]] | None,
        progress: gr.Progress = gr.Progress(track_tqdm=True),  # noqa: B008 (Gradio's way to ask for a progress bar)
    ) -> Iterator[tuple[str, str]]:
        """Save the uploaded files into the uploads folder, then index them. `files` as Gradio received them (not
        preprocessed: Gradio would refuse other types with its own words, and leave an empty file in its cache
        for each): qa's own checks give the reasons, and Gradio's copies are deleted once saved or refused."""
        uploaded = [(str(f.get("orig_name") or Path(f["path"]).name), Path(f["path"])) for f in files or []]
        try:
            saved = library.save(uploaded)
        except Exception as e:  # not a refusal (those are lines in `saved`): the upload failed
            forget_uploads([path for _, path in uploaded], Path(upload.GRADIO_CACHE))
            yield lines_html([f"The upload failed: {failure(e, 'saving an upload')}"]), info()
            return
        forget_uploads([path for _, path in uploaded], Path(upload.GRADIO_CACHE))  # refused or saved: not needed
        lines = [f"Refused {r}" for r in saved.refused]
        if not saved.names:
            yield lines_html(lines or ["No files were uploaded."]), info()
            return
        names = ", ".join(saved.names)
        yield lines_html([*lines, f"Saved {names}; indexing…"]), info()
        try:
            report = library.update(lambda f, d: progress(f, desc=d))
        except Exception as e:
            yield lines_html([*lines, f"Saved {names}, but not indexed: {failure(e, 'indexing an upload')}"]), info()
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
        index_info = gr.HTML("", elem_id="qa-index-info")  # filled on each page load (demo.load below)
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
                asked_on = gr.Textbox(
                    value=library.settings.as_of,
                    label="Asked on",
                    placeholder="today; or YYYY-MM-DD to read “this week”, “recently”, “on Monday” against that day",
                    max_lines=1,
                    elem_id="qa-as-of",
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
                    file_count="multiple",  # no file_types: every file reaches qa's check, which says why not
                    elem_id="qa-upload",
                )
                status = gr.HTML("", elem_id="qa-upload-status")
        answer_json = gr.JSON(visible=False, label="answer")  # docs/design.md's `qa ask --json`, for API clients

        chat_outputs = [chatbot, sources, passages, answer_json, session, question]
        gr.on(
            [question.submit, ask.click],
            respond,
            inputs=[question, session, answerer, asked_on],
            outputs=chat_outputs,
            api_name="ask",
            concurrency_limit=8,
        )
        gr.on([clear_button.click, chatbot.clear], clear, outputs=chat_outputs, api_name="clear")
        # One upload at a time; questions go on being answered (from the old index) while it is indexed.
        upload.upload(
            add_articles,
            inputs=[upload],
            outputs=[status, index_info],
            api_name="add_articles",
            concurrency_limit=1,
            preprocess=False,
        )
        # A new tab shows the index as it is now (after uploads), not as it was when the app was built.
        demo.load(info, outputs=[index_info], api_visibility="private")
    demo.queue(max_size=256)
    return demo
