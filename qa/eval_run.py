"""`qa eval`: check a question set against its articles, run every question the way `qa ask` does, score it.

Questions file (DESIGN.md): one JSON object a line, {"id", "question", "answers", "source_articles", "type"};
`answers: []` marks a question the articles do not answer. Every gold answer must occur verbatim in one of
its source articles: that is checked before anything is run, and the eval stops naming every invalid question.
Each question is asked with k=5 (the answer reads the best 5 passages, as `qa ask` does) and retrieve_k=10,
so the 10 passages retrieved give hit@1/5/10 and MRR@10.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from qa.config import Settings
from qa.errors import QAError
from qa.evaluate import (
    citations_correct,
    contains_answer,
    exact_match,
    f1,
    first_hit,
    mean,
    percentile,
    refusal_metrics,
    retrieval_metrics,
)

if TYPE_CHECKING:
    from qa.answer import Answer
    from qa.retrieve import Retriever

ANSWER_K = 5  # passages the answer reads: `qa ask`'s default
RETRIEVE_K = 10  # passages retrieved, for hit@10 and MRR@10
STAGES = ("retrieve", "answer", "total")
_DETAILS = 5  # invalid questions described in full in the error line; the rest are named


class QuestionsError(QAError):
    """The questions file is missing, malformed, or a gold answer is not in its source article."""


@dataclass(frozen=True, slots=True)
class EvalQuestion:
    id: str
    question: str
    answers: tuple[str, ...]
    source_articles: tuple[str, ...]
    type: str

    @property
    def answerable(self) -> bool:
        return bool(self.answers)


def load_questions(path: Path) -> list[EvalQuestion]:
    """Parse the questions file; a malformed line is an error naming the line and what is wrong with it."""
    if not path.is_file():
        raise QuestionsError(f"questions file {path} does not exist: pass --questions FILE (JSONL, see DESIGN.md)")
    out: list[EvalQuestion] = []
    seen: set[str] = set()
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        where = f"{path}:{n}"
        try:
            row = json.loads(line)
        except json.JSONDecodeError as e:
            raise QuestionsError(f"{where}: not valid JSON ({e.msg}): write one JSON object a line") from None
        q = _question(row, where)
        if q.id in seen:
            raise QuestionsError(f"{where}: question id {q.id!r} is used twice: give each question its own id")
        seen.add(q.id)
        out.append(q)
    if not out:
        raise QuestionsError(f"{path} holds no questions: add one JSON object a line (see DESIGN.md)")
    return out


def _question(row: Any, where: str) -> EvalQuestion:
    fix = 'write {"id", "question", "answers": [...], "source_articles": [...], "type"}'
    if not isinstance(row, dict):
        raise QuestionsError(f"{where}: not a JSON object: {fix}")
    missing = [k for k in ("id", "question", "answers", "source_articles") if k not in row]
    if missing:
        raise QuestionsError(f"{where}: missing {', '.join(missing)}: {fix}")
    answers, sources = row["answers"], row["source_articles"]
    if not all(isinstance(v, list) and all(isinstance(s, str) for s in v) for v in (answers, sources)):
        raise QuestionsError(f"{where}: answers and source_articles must be lists of strings: {fix}")
    if not isinstance(row["question"], str) or not row["question"].strip():
        raise QuestionsError(f"{where}: the question is empty: {fix}")
    return EvalQuestion(
        id=str(row["id"]),
        question=row["question"],
        answers=tuple(answers),
        source_articles=tuple(sources),
        type=str(row.get("type") or ("extractive" if answers else "unanswerable")),
    )


def check_questions(questions: Sequence[EvalQuestion], texts: Mapping[str, str], path: Path) -> None:
    """Every gold answer occurs verbatim in one of its question's source articles (`texts`: article id -> text).
    Raises one error line naming every invalid question."""
    problems: list[tuple[str, str]] = []
    for q in questions:
        missing = [a for a in q.source_articles if a not in texts]
        if missing:
            problems.append((q.id, f"source article {missing[0]} is not among the articles"))
        elif q.answers and not q.source_articles:
            problems.append((q.id, "it has answers but no source_articles"))
        else:
            absent = [a for a in q.answers if not any(a in texts[s] for s in q.source_articles)]
            if absent:
                problems.append((q.id, f"gold answer {absent[0]!r} is not verbatim in {', '.join(q.source_articles)}"))
    if problems:
        described = "; ".join(f"{qid}: {why}" for qid, why in problems[:_DETAILS])
        rest = [qid for qid, _ in problems[_DETAILS:]]
        more = f"; also {', '.join(rest)}" if rest else ""
        raise QuestionsError(
            f"{len(problems)} invalid question{'s' if len(problems) > 1 else ''} in {path} ({described}{more}): "
            "copy each gold answer from its article's text, or fix source_articles"
        )


def article_texts(folder: Path) -> dict[str, str]:
    """The articles of a folder as qa ingests them (article id -> text), without building anything."""
    from qa.ingest import list_files, read_file

    files, _ = list_files(folder)
    return {a.id: a.text for rel, path in files for a in read_file(rel, path).articles}


def score(q: EvalQuestion, answer: Answer, texts: Mapping[str, str]) -> dict[str, Any]:
    """One question's row: what was answered and how it scores (metrics that do not apply are None)."""
    got = answer.short if answer.short is not None else answer.text
    answered = not answer.refused
    row: dict[str, Any] = {
        "id": q.id,
        "type": q.type,
        "question": q.question,
        "answers": list(q.answers),
        "source_articles": list(q.source_articles),
        "answerable": q.answerable,
        "refused": answer.refused,
        "answer": answer.text,
        "short_answer": answer.short,
        "citations": [
            {"article": c.article, "start": c.start, "end": c.end, "quote": c.quote} for c in answer.citations
        ],
        "first_hit": None,
        "exact_match": None,
        "f1": None,
        "sentence_correct": None,
        "citation_correct": None,
        "timings_ms": dict(answer.timings_ms),
    }
    if q.answerable:
        row["first_hit"] = first_hit(answer.passages, q.answers, q.source_articles)
        row["exact_match"] = exact_match(got, q.answers) if answered else 0.0
        row["f1"] = f1(got, q.answers) if answered else 0.0
        row["sentence_correct"] = bool(answer.citations) and contains_answer(answer.citations[0].quote, q.answers)
        if answered:
            row["citation_correct"] = citations_correct(answer.citations, texts, q.source_articles)
    return row


def summarize(rows: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """DESIGN.md's `qa eval --json` object. Answer and retrieval rates are over answerable questions,
    citation accuracy over answered answerable ones; a rate with nothing to count is None."""
    answerable = [r for r in rows if r["answerable"]]
    totals = [r["timings_ms"]["total"] for r in rows]
    retrieval: dict[str, float | None] = dict.fromkeys(("hit@1", "hit@5", "hit@10", "mrr@10"))
    if answerable:
        retrieval.update(retrieval_metrics([r["first_hit"] for r in answerable]))
    return {
        "n": len(rows),
        "n_answerable": len(answerable),
        "n_unanswerable": len(rows) - len(answerable),
        "retrieval": retrieval,
        "answer": {
            "exact_match": mean([r["exact_match"] for r in answerable]),
            "f1": mean([r["f1"] for r in answerable]),
            "sentence_accuracy": mean([float(r["sentence_correct"]) for r in answerable]),
        },
        "citation": {"accuracy": mean([float(r["citation_correct"]) for r in answerable if not r["refused"]])},
        "refusal": refusal_metrics([r["refused"] for r in rows], [r["answerable"] for r in rows]),
        "latency_ms": {"p50": percentile(totals, 50), "p95": percentile(totals, 95)},
    }


def details(rows: Sequence[dict[str, Any]], seconds: float) -> dict[str, Any]:
    """What report.json adds to the summary: the share of answerable questions refused, latency per stage,
    questions per second, a per-type breakdown."""
    stages = {
        s: {"p50": percentile(v, 50), "p95": percentile(v, 95)}
        for s in STAGES
        if (v := [r["timings_ms"][s] for r in rows if s in r["timings_ms"]])
    }
    by_type: dict[str, Any] = {}
    for t in sorted({r["type"] for r in rows}):
        group = [r for r in rows if r["type"] == t]
        s = summarize(group)
        by_type[t] = {
            "n": len(group),
            "hit@5": s["retrieval"]["hit@5"],
            "sentence_accuracy": s["answer"]["sentence_accuracy"],
            "f1": s["answer"]["f1"],
            "refused": sum(r["refused"] for r in group) / len(group),
        }
    notes = []
    if not any(not r["answerable"] for r in rows):
        notes.append("no unanswerable questions in this set: refusal precision and recall are null")
    elif not any(r["refused"] for r in rows):
        notes.append("no question was refused: refusal precision is null")
    answerable = [r for r in rows if r["answerable"]]
    return {
        "answerable_refused": mean([float(r["refused"]) for r in answerable]),
        "latency_by_stage_ms": stages,
        "seconds": round(seconds, 3),
        "questions_per_second": round(len(rows) / seconds, 2) if seconds > 0 else None,
        "by_type": by_type,
        "notes": notes,
    }


@dataclass(frozen=True, slots=True)
class EvalResult:
    summary: dict[str, Any]  # DESIGN.md's --json object
    report: dict[str, Any]  # report.json: the summary, details, and one row per question


def run_eval(
    settings: Settings,
    questions_path: Path,
    open_retriever: Callable[[Settings], Retriever],
    *,
    build_from: Path | None = None,
    limit: int | None = None,
    progress: bool = False,
) -> EvalResult:
    """Check the questions, build or update the index from `build_from` when given (else use the index as it
    is), then ask every question (the first `limit`) as `qa ask` does and score the answers.
    `open_retriever` loads the index and model for `settings`: the CLI passes the one `qa ask` uses."""
    from tqdm import tqdm

    from qa.answer import Answerer
    from qa.build import build

    questions = load_questions(questions_path)
    build_info: dict[str, Any] | None = None  # what building from `build_from` did
    if build_from is not None:
        settings = settings.with_(articles=build_from)
        check_questions(questions, article_texts(build_from), questions_path)  # before the slow build
        built = build(settings, progress=progress)
        build_info = {
            "articles": built.articles,
            "chunks": built.chunks,
            **{k: len(getattr(built, k)) for k in ("added", "changed", "removed")},
            "seconds": round(built.seconds, 3),
        }
    retriever = open_retriever(settings)
    index = retriever.index
    texts = {aid: a.text for aid, a in index.articles.items()}
    if build_from is None:
        check_questions(questions, texts, questions_path)
    answerer = Answerer(retriever)
    llm = None
    if settings.answerer == "llm":  # the LLM's answers, checked (qa/llm.py); the extractive one on fallback
        from qa.llm import LLMAnswerer, open_llm

        llm = LLMAnswerer(answerer, open_llm(settings))
    chosen = questions[:limit] if limit is not None else questions
    rows = []
    t0 = time.perf_counter()
    for q in tqdm(chosen, desc="questions", unit="q", disable=not progress, mininterval=0.5):
        if llm is None:
            rows.append(score(q, answerer.ask(q.question, ANSWER_K, retrieve_k=RETRIEVE_K), texts))
        else:
            result = llm.ask(q.question, ANSWER_K, retrieve_k=RETRIEVE_K)
            rows.append({**score(q, result.answer, texts), "llm": result.row()})
    seconds = time.perf_counter() - t0
    summary = summarize(rows)
    if llm is not None:
        from qa.llm import summary as llm_summary

        summary["llm"] = llm_summary(rows, llm.llm.name)
    report = {
        **summary,
        **details(rows, seconds),
        "questions_file": str(questions_path),
        "index": str(settings.index),
        "build": build_info,
        "model": index.manifest["model"]["id"],
        "k": {"answer": ANSWER_K, "retrieve": RETRIEVE_K},
        "questions": rows,
    }
    return EvalResult(summary, report)
