"""Eval question files (docs/design.md): one JSON object a line, {"id", "question", "answers", "source_articles",
"type"}, optionally "asked_at", "kind" and "key_facts"; `answers: []` marks a question the articles do not answer.
Every gold answer and key fact must occur verbatim in one of its source articles: that is checked before anything
is run, and the eval stops naming every invalid question."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from qa.answer.forms import FACT, KINDS
from qa.errors import QuestionsError
from qa.ingest.read import read_file
from qa.ingest.scan import list_files

_DETAILS = 5  # invalid questions described in full in the error line; the rest are named


@dataclass(frozen=True, slots=True)
class EvalQuestion:
    id: str
    question: str
    answers: tuple[str, ...]
    source_articles: tuple[str, ...]
    type: str
    asked_at: dt.date | None = None  # the day it was asked: "this week" in it is read against this day
    kind: str = FACT  # the kind of answer it wants (qa.answer.forms), as labelled
    key_facts: tuple[tuple[str, ...], ...] = ()  # an open question's facts, each as any of several strings

    @property
    def answerable(self) -> bool:
        return bool(self.answers)


def load_questions(path: Path) -> list[EvalQuestion]:
    """Parse the questions file; a malformed line is an error naming the line and what is wrong with it."""
    if not path.is_file():
        raise QuestionsError(f"questions file {path} does not exist: pass --questions FILE (JSONL, see docs/design.md)")
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
        raise QuestionsError(f"{path} holds no questions: add one JSON object a line (see docs/design.md)")
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
    asked_at = None
    if row.get("asked_at") is not None:
        try:
            asked_at = dt.date.fromisoformat(str(row["asked_at"]))
        except ValueError:
            raise QuestionsError(
                f"{where}: asked_at {row['asked_at']!r} is not a date: write it as YYYY-MM-DD"
            ) from None
    kind = row.get("kind") or FACT
    if kind not in KINDS:
        raise QuestionsError(f"{where}: kind {kind!r} is not one of {', '.join(KINDS)}: write one of them, or none")
    facts = row.get("key_facts") or []
    if not (
        isinstance(facts, list)
        and all(isinstance(f, list) and f and all(isinstance(s, str) and s for s in f) for f in facts)
    ):
        raise QuestionsError(
            f'{where}: key_facts must be a list of facts, each a list of acceptable strings: write [["a", "b"], ["c"]]'
        )
    return EvalQuestion(
        id=str(row["id"]),
        question=row["question"],
        answers=tuple(answers),
        source_articles=tuple(sources),
        type=str(row.get("type") or ("extractive" if answers else "unanswerable")),
        asked_at=asked_at,
        kind=kind,
        key_facts=tuple(tuple(f) for f in facts),
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
            facts = [f for fact in q.key_facts for f in fact if not any(f in texts[s] for s in q.source_articles)]
            if absent:
                problems.append((q.id, f"gold answer {absent[0]!r} is not verbatim in {', '.join(q.source_articles)}"))
            elif facts:
                problems.append((q.id, f"key fact {facts[0]!r} is not verbatim in {', '.join(q.source_articles)}"))
            elif q.key_facts and not q.answers:
                problems.append((q.id, "it has key_facts but no answers: list the facts' strings as its answers too"))
    if problems:
        described = "; ".join(f"{qid}: {why}" for qid, why in problems[:_DETAILS])
        rest = [qid for qid, _ in problems[_DETAILS:]]
        more = f"; also {', '.join(rest)}" if rest else ""
        raise QuestionsError(
            f"{len(problems)} invalid question{'s' if len(problems) > 1 else ''} in {path} ({described}{more}): "
            "copy each gold answer and key fact from its article's text, or fix source_articles"
        )


def article_texts(folder: Path) -> dict[str, str]:
    """The articles of a folder as qa ingests them (article id -> text), without building anything."""
    files, _ = list_files(folder)
    return {a.id: a.text for rel, path in files for a in read_file(rel, path).articles}
