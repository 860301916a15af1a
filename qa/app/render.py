"""Answers as HTML for the chat app: the chat message, the sources panel, the retrieved passages.

Article text is data, never markup: everything taken from an article, a file name or a question is escaped
here before it goes into HTML, so an article holding <script> shows those characters and runs nothing.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from html import escape
from typing import TYPE_CHECKING

from qa.index.build import UPLOADS
from qa.index.store import Index
from qa.types import Answer, Passage, shown_date

if TYPE_CHECKING:
    from qa.llm.answerer import LLMResult

_MARKER = re.compile(r"(\[\d+\])")
# Markdown's punctuation, backslash-escaped so the chat shows it as typed (html.escape covers & < >); ':' too,
# or the chat's Markdown makes a link of "http://…" before it drops the other backslashes.
_MD_PUNCT = re.compile(r"([\\`*_\[\]()#+\-.!|~{}:])")

# Styles for the classes below (given to Gradio's launch()).
CSS = """
.qa-cite { color: var(--color-accent); font-weight: 600; font-size: 0.85em; }
.qa-refusal, .qa-error { display: block; }
.qa-refusal { border-left: 4px solid #b45309; background: #fef3c7; color: #78350f; padding: 6px 10px;
  border-radius: 4px; font-style: italic; }
.qa-error { border-left: 4px solid #b91c1c; background: #fee2e2; color: #7f1d1d; padding: 6px 10px; }
.qa-source { border: 1px solid var(--border-color-primary); border-radius: 6px; padding: 8px 10px; margin: 6px 0; }
.qa-title { font-weight: 600; }
.qa-meta, .qa-timings { color: var(--body-text-color-subdued); font-size: 0.85em; }
.qa-passage { white-space: pre-wrap; margin: 6px 0 0 0; font-size: 0.9em; line-height: 1.45; }
.qa-quote { background: #fde68a; color: #1f2937; padding: 0 1px; }
.qa-short { background: #f59e0b; color: #111827; font-weight: 700; }
.qa-status-refused { color: #b91c1c; }
.qa-kind { color: var(--body-text-color-subdued); font-size: 0.85em; font-weight: 600; text-transform: uppercase;
  letter-spacing: 0.03em; }
.qa-notice { display: block; color: #92400e; font-size: 0.85em; margin-top: 4px; }
"""
# LLM answers: a sentence the passage it cites does not support is struck through and greyed, with a tooltip
LLM_CSS = """
.qa-unsupported { text-decoration: line-through; color: var(--body-text-color-subdued); cursor: help; }
.qa-llm-meta { display: block; margin-top: 4px; }
.qa-llm-note { display: block; color: #92400e; font-size: 0.85em; margin-top: 4px; }
"""


def esc(text: str) -> str:
    return escape(text, quote=True)


def chat_text(text: str) -> str:
    """`text` for the chat, which renders Markdown: shown as it is, never as markup (no HTML, no *emphasis*)."""
    return escape(_MD_PUNCT.sub(r"\\\1", text), quote=False)


def message_html(text: str, *, refused: bool = False, short: str | None = None, heading: str | None = None) -> str:
    """A chat message: the text escaped, [n] markers set off, its lines (a timeline's entries) kept apart; a
    refusal framed apart from answers; an answer of several sentences under what it is ("Summary of 2 articles").

    Inline tags only: Markdown leaves the inside of a block tag (<div>) alone, backslashes and all."""
    body = "".join(_inline(piece) if n % 2 == 0 else f"<strong>{chat_text(piece)}</strong>"
                   for n, piece in enumerate(_LABEL.split(text) if heading else [text]))  # fmt: skip
    body = body.replace("\n", "<br>")
    if refused:
        return f'<span class="qa-refusal">{body}</span>'
    if heading:
        body = f'<span class="qa-kind">{esc(heading)}</span><br>{body}'
    if short:
        body += f'<br><span class="qa-meta">Short answer:</span> <strong class="qa-short">{chat_text(short)}</strong>'
    return body


# An open answer's group labels: "In June 2012 (Bloomberg News): ", a timeline's "June 18, 2012 (…): "
_LABEL = re.compile(r"((?:^|(?<=\n)|(?<=\] ))(?:In )?(?:[A-Z][a-z]+ (?:\d{1,2}, )?\d{4}|Undated) \([^()\n]*\): )")


def _inline(text: str) -> str:
    """Text for the chat with its [n] markers set off."""
    return "".join(
        f'<span class="qa-cite">{p}</span>' if _MARKER.fullmatch(p) else chat_text(p) for p in _MARKER.split(text)
    )


def error_html(message: str) -> str:
    return f"<span class='qa-error'>{chat_text(message)}</span>"


def notices_html(notices: Sequence[str]) -> str:
    """What the user should know about how the question was read (cut to its first characters, no article dated
    so): one line each, under the answer in the chat."""
    return "".join(f"<span class='qa-notice'>Note: {chat_text(n)}</span>" for n in notices)


def _marked(text: str, start: int, end: int, short: str | None) -> str:
    """`text` escaped, with text[start:end] highlighted and `short` emphasised inside it."""
    quote = text[start:end]
    at = quote.find(short) if short else -1
    if short and at >= 0:
        inner = f"{esc(quote[:at])}<strong class='qa-short'>{esc(short)}</strong>{esc(quote[at + len(short) :])}"
    else:
        inner = esc(quote)
    return f"{esc(text[:start])}<mark class='qa-quote'>{inner}</mark>{esc(text[end:])}"


def sources_html(answer: Answer, index: Index) -> str:
    """Each cited article (title, date, file) with the quoted sentence highlighted inside its passage."""
    if answer.refused or not answer.citations:
        return (
            "<p class='qa-status-refused'>No sources: nothing in the articles answers this question. "
            "The closest passages are under “Retrieved passages”.</p>"
        )
    out = []
    for c in answer.citations:
        passage = next(
            (
                p.chunk
                for p in answer.passages
                if p.chunk.article == c.article and p.chunk.start <= c.start and c.end <= p.chunk.end
            ),
            None,
        )
        if passage is not None:
            base, text = passage.start, passage.text
        else:  # not inside one retrieved passage: show the sentence with some of the article around it
            full = index.articles[c.article].text
            base = max(0, c.start - 300)
            text = full[base : c.end + 300]
        short = answer.short if c.n == 1 else None
        out.append(
            f"<div class='qa-source' data-n='{c.n}'>"
            f"<div><span class='qa-cite'>[{c.n}]</span> <span class='qa-title'>{esc(c.title)}</span></div>"
            f"<div class='qa-meta'>{esc(shown_date(c.date, c.date_inferred))} · <code>{esc(c.article)}</code> · "
            f"characters {c.start}–{c.end}</div>"
            f"<div class='qa-passage'>{_marked(text, c.start - base, c.end - base, short)}</div></div>"
        )
    return "".join(out)


def passages_html(answer: Answer) -> str:
    """Every retrieved passage with its rank and score, and the time each stage took."""
    timings = " · ".join(f"{stage} {ms:.1f} ms" for stage, ms in answer.timings_ms.items())
    rows = [f"<p class='qa-timings'>{len(answer.passages)} passages · {esc(timings)}</p>"]
    rows += [_passage_html(p) for p in answer.passages]
    return "".join(rows)


def _passage_html(p: Passage) -> str:
    return (
        f"<div class='qa-source qa-retrieved'><div><b>#{p.rank}</b> · score {p.score:.3f} · "
        f"<span class='qa-title'>{esc(p.title)}</span></div>"
        f"<div class='qa-meta'>{esc(shown_date(p.date, p.date_inferred))} · <code>{esc(p.chunk.article)}</code> · "
        f"characters {p.chunk.start}–{p.chunk.end}</div>"
        f"<div class='qa-passage'>{esc(p.chunk.text)}</div></div>"
    )


def index_line(index: Index, folder: str, uploads: str | None = None) -> str:
    """What the index holds: its articles and passages, and the folders they come from (the uploads folder named
    when it holds some)."""
    line = f"{len(index.articles)} articles, {len(index)} passages from <code>{esc(folder)}</code>"
    uploaded = sum(aid.startswith(UPLOADS) for aid in index.articles)
    if uploads is not None and uploaded:
        line += f" and <code>{esc(uploads)}</code> ({uploaded} uploaded)"
    return line


def lines_html(lines: list[str]) -> str:
    """Status lines (upload results), each escaped."""
    return "<br>".join(esc(line) for line in lines)


def llm_message_html(result: LLMResult) -> str:
    """An LLM answer in the chat: supported sentences with their [n]; unsupported ones struck through and greyed,
    titled with the passage they cite; when the extractive answer stands in, it, with a one-line notice why."""
    from qa.llm.answerer import LLM_FAILED, NO_SUPPORT

    answer = result.answer
    if not result.called or result.fallback is not None:
        html = message_html(answer.text, refused=answer.refused, short=answer.short)
        if result.fallback == LLM_FAILED:
            error = chat_text(result.error or "")
            html += f"<span class='qa-llm-note'>LLM unavailable: {error}. This is the extractive answer.</span>"
        elif result.fallback == NO_SUPPORT:
            html += (
                "<span class='qa-llm-note'>No sentence of the LLM's answer was supported by the passage it cites. "
                "This is the extractive answer.</span>"
            )
        return html
    parts = []
    for s, n in zip(result.sentences, result.numbers, strict=True):
        if n is not None and s.recited:  # supported, by another passage than the LLM cited
            cited = ", ".join(f"#{p}" for p in s.cites) or "no passage"
            where = s.evidence.passage if s.evidence else "?"
            why = f"the LLM cited {cited}; the passage that supports it is #{where}"
            parts.append(f'{chat_text(s.text)} <span class="qa-cite" title="{esc(why)}">[{n}]</span>')
        elif n is not None:
            parts.append(f'{chat_text(s.text)} <span class="qa-cite">[{n}]</span>')
        else:
            cited = ", ".join(f"#{p}" for p in s.cites)
            why = f"not supported by passage {cited}" if cited else "cites no passage"
            parts.append(f'<span class="qa-unsupported" title="{esc(why)}">{chat_text(s.text)}</span>')
    html = " ".join(parts)
    if answer.short:
        short = chat_text(answer.short)
        html += f'<br><span class="qa-meta">Short answer:</span> <strong class="qa-short">{short}</strong>'
    unsupported = len(result.sentences) - result.supported
    note = f"Written by the LLM ({esc(result.model)}) from the passages"
    if unsupported:
        plural = "s" if unsupported > 1 else ""
        note += f"; {unsupported} struck-through sentence{plural} not supported by the passage cited"
    return html + f"<span class='qa-meta qa-llm-meta'>{note}.</span>"
