"""The eval: the seed question set and its floors, the invalid-question check, the report files, and the
metric functions against hand-computed cases."""

from __future__ import annotations

import json
import math
import re
import shutil
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from qa.cli import app
from qa.embed.embedder import Embedder
from qa.errors import QuestionsError
from qa.eval.metrics import (
    citations_correct,
    contains_answer,
    exact_match,
    f1,
    first_hit,
    percentile,
    refusal_metrics,
    retrieval_metrics,
)
from qa.eval.questions import article_texts, check_questions, load_questions
from qa.eval.run import Row, details, summarize
from qa.ingest.read import read_file
from qa.text import normalize
from qa.types import Chunk, Citation, Passage
from tests.helpers import G8_2013, G20_2012, QUESTIONS, SEEDS, write

runner = CliRunner()


def seed_text(name: str) -> str:
    return read_file(name, SEEDS / name).articles[0].text


# ---- the seed question set ----------------------------------------------------------------------------------


def test_the_seed_question_set_covers_what_the_issue_asks_for() -> None:
    questions = load_questions(QUESTIONS)
    types = {q.type for q in questions}
    assert len(questions) >= 40
    assert sum(not q.answerable for q in questions) >= 10
    assert {"fact", "number", "date", "quote", "role", "year", "both", "unanswerable"} <= types
    assert all(set(q.source_articles) == {G20_2012, G8_2013} for q in questions if q.type == "both")
    texts = {name: seed_text(name) for name in (G20_2012, G8_2013)}
    check_questions(questions, texts, QUESTIONS)  # every gold answer is verbatim in a source article


@pytest.fixture(scope="module")
def seed_eval(tmp_path_factory: pytest.TempPathFactory, embedder: Embedder) -> dict[str, Any]:
    """`qa eval --articles <seeds> --json` run once: its exit code, stdout summary, and the report folder."""
    tmp = tmp_path_factory.mktemp("seed-eval")
    articles, index, out = tmp / "articles", tmp / "index", tmp / "report"
    shutil.copytree(SEEDS, articles)
    args = ["eval", "--articles", str(articles), "--index", str(index), "--questions", str(QUESTIONS)]
    result = runner.invoke(app, [*args, "--out", str(out), "--json"])
    assert result.exit_code == 0, result.output
    return {"summary": json.loads(result.stdout), "out": out, "index": index}


@pytest.mark.slow
def test_seed_eval_holds_the_floors_it_has_reached(seed_eval: dict[str, Any]) -> None:
    """What the seeds measured at the last change (100 questions: 60 answerable fact questions, 25 open ones with
    key facts, 15 unanswerable): every quote exact, every answer within 10 passages and all but one within 5, 10 of
    15 unanswerable questions refused, 47 of 60 fact answers from the right sentence, F1 0.68, every citation but
    one from a source article. The 76 questions before the open ones were added answer as they did; three of them
    (g8-topics, g20-agreed, rel-last-year-agreed: what was discussed, what was agreed) are list questions now,
    scored by their key facts, which leaves 47 of 60 fact questions right where 48 of 63 were (conflict-length
    cites the 2012 article for "according to the 2013 article": its quote exact, its article not a source). The
    headline feature of the answer sentence (news sentence accuracy 0.383 -> 0.423 on realtimeqa-dev's 892
    questions) took one more: "Who is the president of Syria?" cites Putin's sentence, Putin being named by both
    seed titles (47 -> 46 of 60, F1 0.703 -> 0.692). The reader trained further on news took it back to 47 (F1
    0.694). Reading all 5 passages in int8, each in a run of its own (news answerable refused 5.4% -> 4.7%
    cross-validated), took 2 more right and 1 back (48 of 60, F1 0.698) and answers "What is Ben Rhodes's full
    title in 2013?", refused before, from the 2012 article's "Deputy National Security Adviser Ben Rhodes, briefing
    reporters on June 15, …": its quote exact, its article not a source, so every citation but two (81 of 83).
    The echo feature (a sentence whose reader's span repeats the question loses; news sentence accuracy 0.457 ->
    0.459 and F1 0.401 -> 0.407 cross-validated) swaps one right answer for another: "What did Putin say after
    meeting Obama yesterday?" now quotes Putin, whose short answer misses, and "What did Obama say last week about
    getting the U.S. more involved in the Middle East?" loses "… one more war in the Middle East" (its span repeats
    "Middle East") to "his personal resistance": F1 0.705 -> 0.691 on an AVX-512 machine (0.698 before on an AVX2
    one, whose int8 sums differ), hence 0.68. The week's titles feature of the answer sentence (news sentence
    accuracy 0.459 -> 0.478 cross-validated) and the gate refitted with it: "What did Putin say after meeting Obama
    yesterday?" quotes Obama again (48 -> 47 of 60, F1 0.691 either way), and "What is Ben Rhodes's full title in
    2013?" is answered, not refused, from a sentence of the 2013 article that does not hold the title (82 of 83
    citations from a source). Two unanswerable questions about weeks no seed article was published in ("Where did
    Obama and Putin meet this week?" asked in 2014, "What did Putin recently say about Syria?" asked today) are
    refused by the veto of a period no article was published in (8 of 13 refused before; 10 of 15 now).
    docs/measurements.md has the table. Lowering any of these needs as plain a reason."""
    report = json.loads((seed_eval["out"] / "report.json").read_text())
    texts = article_texts(SEEDS)
    quotes = [c for r in report["questions"] for c in r["citations"]]
    assert quotes and all(texts[c["article"]][c["start"] : c["end"]] == c["quote"] for c in quotes)
    assert report["citation"]["accuracy"] >= 81 / 83
    assert report["retrieval"]["hit@10"] == 1.0 and report["retrieval"]["hit@5"] >= 84 / 85
    assert report["refusal"]["recall"] >= 10 / 15
    unreported = {r["id"]: r["refused"] for r in report["questions"] if r["id"].startswith(("no-this-week", "no-rec"))}
    assert unreported == {"no-this-week-2014": True, "no-recently-today": True}
    assert report["answer"]["sentence_accuracy"] >= 47 / 60
    assert report["answer"]["f1"] >= 0.68


@pytest.mark.slow
def test_open_questions_name_their_key_facts_within_160_words_and_fact_questions_stay_facts(
    seed_eval: dict[str, Any],
) -> None:
    """Issue 20's figures on the seeds: key-fact recall at least 0.80 (0.86 measured), no answer over 160 words,
    every citation exact (above), no labelled fact question answered as another kind."""
    report = json.loads((seed_eval["out"] / "report.json").read_text())
    opened = report["open"]
    assert opened["n"] >= 20 and opened["key_fact_recall"] >= 0.80 and opened["words_max"] <= 160
    assert report["kinds"]["fact_as_other"] == 0.0
    assert all(r["kind"] == r["kind_label"] for r in report["questions"] if r["answerable"])
    rows = [r for r in report["questions"] if "key_fact_recall" in r]
    assert all(r["short_answer"] is None and len(r["citations"]) >= 1 for r in rows if not r["refused"])
    md = (seed_eval["out"] / "report.md").read_text()
    assert "| key-fact recall |" in md and "## Kinds of answer" in md


@pytest.mark.slow
@pytest.mark.xfail(
    strict=True,
    reason="issue 5 not reached: refusal recall 0.667 < 0.8 (no-schedule, no-interpreter, no-russian-ambassador, "
    "no-observers, no-arms-value answered: near misses about the same story, which need reading); strict: passing "
    "fails, drop this marker",
)
def test_seed_eval_meets_the_issue_floors(seed_eval: dict[str, Any]) -> None:
    report = json.loads((seed_eval["out"] / "report.json").read_text())
    rows = report["questions"]
    not_in_top5 = [(r["id"], r["first_hit"]) for r in rows if r["answerable"] and (r["first_hit"] or 99) > 5]
    bad_citations = [(r["id"], r["answer"]) for r in rows if r["citation_correct"] is False]
    answered = [(r["id"], r["answer"]) for r in rows if not r["answerable"] and not r["refused"]]
    figures = (report["retrieval"]["hit@5"], report["citation"]["accuracy"], report["refusal"]["recall"])
    why = {"not in the top 5": not_in_top5, "citations wrong": bad_citations, "unanswerable answered": answered}
    assert figures[0] == 1.0 and figures[1] == 1.0 and figures[2] >= 0.8, (figures, why)


@pytest.mark.slow
def test_eval_json_has_the_design_shape_and_rates_in_0_1(seed_eval: dict[str, Any]) -> None:
    summary = seed_eval["summary"]
    assert set(summary) == {
        "n", "n_answerable", "n_unanswerable", "retrieval", "answer", "citation", "refusal", "latency_ms", "open"
    }  # fmt: skip
    assert set(summary["open"]) == {"n", "key_fact_recall", "words_mean", "words_max", "refused", "latency_ms"}
    assert set(summary["retrieval"]) == {"hit@1", "hit@5", "hit@10", "mrr@10"}
    assert set(summary["answer"]) == {"exact_match", "f1", "sentence_accuracy"}
    assert set(summary["citation"]) == {"accuracy"}
    assert set(summary["refusal"]) == {"precision", "recall"}
    assert set(summary["latency_ms"]) == {"p50", "p95"}
    questions = load_questions(QUESTIONS)
    assert summary["n"] == len(questions)
    assert summary["n_unanswerable"] == sum(not q.answerable for q in questions)
    for group in ("retrieval", "answer", "citation", "refusal"):  # "open" holds counts and lengths
        assert all(0.0 <= v <= 1.0 for v in summary[group].values()), summary[group]
    assert 0 < summary["latency_ms"]["p50"] <= summary["latency_ms"]["p95"]


@pytest.mark.slow
def test_eval_writes_a_json_report_a_markdown_table_with_failures_and_a_real_png(seed_eval: dict[str, Any]) -> None:
    out = seed_eval["out"]
    report = json.loads((out / "report.json").read_text())
    assert report["n"] == len(report["questions"]) == seed_eval["summary"]["n"]
    assert set(report["latency_by_stage_ms"]) == {"retrieve", "answer", "total"}
    assert report["questions_per_second"] > 0
    assert {"both", "year", "unanswerable"} <= set(report["by_type"])
    md = (out / "report.md").read_text()
    assert "| hit@5 |" in md and "| refusal recall |" in md and "| citation accuracy |" in md
    assert "## Worst failures" in md
    png = out / "report.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with Image.open(png) as image:
        assert image.format == "PNG" and image.width > 600 and image.height > 200


@pytest.mark.slow
def test_eval_without_articles_uses_the_existing_index_and_limit_takes_the_first_n(
    seed_eval: dict[str, Any], tmp_path: Path
) -> None:
    args = ["eval", "--index", str(seed_eval["index"]), "--questions", str(QUESTIONS), "--out", str(tmp_path)]
    result = runner.invoke(app, [*args, "--limit", "3"])
    assert result.exit_code == 0, result.output
    assert "hit@5" in result.stdout and "report.md" in result.stdout
    report = json.loads((tmp_path / "report.json").read_text())
    assert [r["id"] for r in report["questions"]] == [q.id for q in load_questions(QUESTIONS)[:3]]


# ---- invalid questions ------------------------------------------------------------------------------------


def question(qid: str, answers: list[str], sources: list[str], text: str = "Who is the ambassador?") -> str:
    row = {"id": qid, "question": text, "answers": answers, "source_articles": sources, "type": "fact"}
    return json.dumps(row)


def test_a_gold_answer_not_in_its_article_stops_the_eval_with_one_line_naming_every_invalid_id(
    seeds_dir: Path, tmp_path: Path
) -> None:
    lines = [
        question("good", ["Mike McFaul"], [G20_2012]),
        question("typo", ["Mike McFall"], [G20_2012]),
        question("wrong-article", ["Enniskillen"], [G20_2012]),
        question("no-such-article", ["Mexico"], ["missing.txt"]),
        question("refuse", [], []),
    ]
    path = write(tmp_path, "questions.jsonl", "\n".join(lines) + "\n")
    index = tmp_path / "index"
    result = runner.invoke(app, ["eval", "--articles", str(seeds_dir), "--index", str(index), "--questions", str(path)])
    assert result.exit_code == 1
    lines_out = result.stderr.strip().splitlines()
    assert len(lines_out) == 1 and lines_out[0].startswith("error: 3 invalid questions"), result.stderr
    assert "Traceback" not in result.output
    for qid in ("typo", "wrong-article", "no-such-article"):
        assert qid in lines_out[0]
    assert "good:" not in lines_out[0] and "refuse:" not in lines_out[0]
    assert not index.exists()  # checked before anything was built


def test_a_key_fact_not_in_its_article_or_a_bad_kind_is_one_error_line(tmp_path: Path) -> None:
    good = {**json.loads(question("open", ["Mexico"], [G20_2012], "What did they discuss?")), "kind": "list"}
    bad = {**good, "id": "bad-fact", "key_facts": [["Mexico"], ["Enniskillen"]]}
    path = write(tmp_path, "q.jsonl", "\n".join(json.dumps(r) for r in (good | {"key_facts": [["Mexico"]]}, bad)))
    with pytest.raises(QuestionsError) as e:
        check_questions(load_questions(path), {G20_2012: seed_text(G20_2012)}, path)
    assert "1 invalid question" in str(e.value) and "bad-fact: key fact 'Enniskillen' is not verbatim" in str(e.value)
    for row, expected in (
        ({**good, "kind": "essay"}, "kind 'essay' is not one of fact, reason, list, comparison, summary, timeline"),
        ({**good, "key_facts": ["Mexico"]}, "key_facts must be a list of facts, each a list of acceptable strings"),
        ({**good, "key_facts": [[]]}, "key_facts must be a list of facts"),
    ):
        with pytest.raises(QuestionsError, match=re.escape(expected)):
            load_questions(write(tmp_path, "k.jsonl", json.dumps(row)))


def test_key_fact_recall_is_the_share_of_facts_any_of_whose_strings_the_answer_names() -> None:
    from qa.eval.questions import EvalQuestion
    from qa.eval.run import score
    from qa.types import Answer

    q = EvalQuestion(
        "open", "What did they discuss?", ("trade", "missile defense", "Syria"), (G8_2013,), "list", None, "list",
        (("trade", "commercial ties"), ("missile defense",), ("Syria", "Assad")),
    )  # fmt: skip
    said = "They discussed commercial ties [1] and the war in Syria. [2]"
    answer = Answer(q.question, said, None, (), False, (), {"total": 5.0}, kind="list")
    row = score(q, answer, {G8_2013: seed_text(G8_2013)})
    assert row.key_fact_recall == pytest.approx(2 / 3) and row.words == 9 and row.kind == "list"
    refused = score(q, replace(answer, refused=True), {G8_2013: seed_text(G8_2013)})
    assert refused.key_fact_recall == 0.0 and refused.words == 0
    assert summarize([row, refused])["open"]["key_fact_recall"] == pytest.approx(1 / 3)
    assert summarize([row])["answer"]["f1"] is None  # F1 and sentence accuracy are the fact questions'


def test_invalid_questions_are_named_past_the_first_few(tmp_path: Path) -> None:
    path = write(tmp_path, "q.jsonl", "\n".join(question(f"bad-{n}", ["nowhere"], [G20_2012]) for n in range(9)))
    questions = load_questions(path)
    with pytest.raises(QuestionsError) as e:
        check_questions(questions, {G20_2012: seed_text(G20_2012)}, path)
    message = str(e.value)
    assert "\n" not in message and "9 invalid questions" in message
    assert all(f"bad-{n}" in message for n in range(9))


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ('{"id": "a", "question": "Who?", "answers": [], "source_articles": []}\n{oops\n', ":2: not valid JSON"),
        ('{"id": "a", "question": "Who?", "answers": "Mike", "source_articles": []}\n', "must be lists of strings"),
        ('{"id": "a", "answers": [], "source_articles": []}\n', "missing question"),
        ('{"id": "a", "question": "  ", "answers": [], "source_articles": []}\n', "the question is empty"),
        (question("a", [], []) + "\n" + question("a", [], []) + "\n", "used twice"),
        ("\n\n", "holds no questions"),
    ],
)
def test_a_malformed_questions_file_is_one_error_line_naming_the_problem(
    tmp_path: Path, content: str, expected: str
) -> None:
    path = write(tmp_path, "q.jsonl", content)
    result = runner.invoke(app, ["eval", "--index", str(tmp_path / "index"), "--questions", str(path)])
    assert result.exit_code == 1
    assert result.stderr.count("\n") == 1 and expected in result.stderr, result.stderr
    assert "Traceback" not in result.output


def test_a_missing_questions_file_or_index_is_one_error_line_with_the_fix(tmp_path: Path) -> None:
    result = runner.invoke(app, ["eval", "--questions", str(tmp_path / "none.jsonl")])
    assert result.exit_code == 1 and "pass --questions FILE" in result.stderr
    path = write(tmp_path, "q.jsonl", question("a", [], []) + "\n")
    result = runner.invoke(app, ["eval", "--questions", str(path), "--index", str(tmp_path / "no-index")])
    assert result.exit_code == 1 and "qa index build" in result.stderr and result.stderr.count("\n") == 1


# ---- metric functions, hand-computed ------------------------------------------------------------------------


def test_normalisation_is_squads_with_unicode_punctuation_removed_too() -> None:
    assert normalize("The  Denver Broncos!") == "denver broncos"
    assert normalize("An apple, a pear and the plum.") == "apple pear and plum"
    assert normalize("al-Assad's $800 million") == "alassads 800 million"
    assert normalize("Theatre anthem") == "theatre anthem"  # a/an/the only as whole words
    assert normalize("a “crusade” and Medvedev’s") == "crusade and medvedevs"  # deleted, as ASCII ones
    assert normalize("bases of the Adriatic—fell in 1973–74") == "bases of adriatic fell in 1973 74"  # dashes split


def test_exact_match_and_f1_against_hand_computed_values() -> None:
    assert exact_match("the Denver Broncos", ["Carolina Panthers", "Denver Broncos"]) == 1.0
    assert exact_match("Denver", ["Denver Broncos"]) == 0.0
    # "denver broncos won" vs "denver broncos": precision 2/3, recall 1 -> F1 0.8
    assert f1("Denver Broncos won", ["Denver Broncos"]) == pytest.approx(0.8)
    # the best over gold answers: "broncos" vs "denver broncos" (P 1, R 1/2 -> 2/3) beats "panthers" (0)
    assert f1("Broncos", ["Panthers", "Denver Broncos"]) == pytest.approx(2 / 3)
    # repeated words count once each: "cat cat" vs "cat" -> common 1, P 1/2, R 1 -> 2/3
    assert f1("the cat, the cat", ["a cat"]) == pytest.approx(2 / 3)
    assert f1("nothing alike", ["Denver Broncos"]) == 0.0
    assert f1("", ["Denver Broncos"]) == 0.0


def test_contains_answer_matches_normalised_whole_words() -> None:
    assert contains_answer("An estimated 92,000 deaths have occurred", ["92000"])
    assert contains_answer("likened the air strikes to a “crusade” and", ["crusade"])
    assert contains_answer("naval bases of the Adriatic—fell again", ["the Adriatic"])
    assert not contains_answer("the summit in Mexico City", ["Mexic"])
    assert not contains_answer("anything", [""])


def test_contains_answer_reads_apart_the_words_a_hyphen_apostrophe_or_colon_joins() -> None:
    assert contains_answer("Twitter designated NPR's main account", ["NPR"])
    assert contains_answer("Thailand\u2019s Prime Minister stepped aside", ["Thailand"])
    assert contains_answer("delivered a 25-hour speech", ["25"])
    assert contains_answer("More:18,000 cows killed in explosion", ["18,000"])
    assert contains_answer("Ronaldo signed with Al-Nassr", ["Al Nassr"])
    assert not contains_answer("Ronaldo signed with Al-Nassr", ["Nass"])
    assert not contains_answer("recalls 2.2 million bikes", ["2 million"])  # "22 million" either way


def passage(article: str, text: str, rank: int) -> Passage:
    return Passage(Chunk(article, 0, len(text), text), 1.0 / rank, rank)


def test_first_hit_needs_a_source_article_and_a_gold_answer_and_retrieval_metrics_average_it() -> None:
    passages = [
        passage(G8_2013, "stretched two hours Monday", 1),  # an answer, but not from the source article
        passage(G20_2012, "the G-20 summit in Mexico", 2),
        passage(G20_2012, "which lasted two hours.", 3),
    ]
    assert first_hit(passages, ["two hours"], [G20_2012]) == 3
    assert first_hit(passages, ["two hours"], [G8_2013, G20_2012]) == 1
    assert first_hit(passages, ["three hours"], [G20_2012]) is None
    m = retrieval_metrics([1, 3, None, 7])
    assert (m["hit@1"], m["hit@5"], m["hit@10"]) == (0.25, 0.5, 0.75)
    assert m["mrr@10"] == pytest.approx((1 + 1 / 3 + 1 / 7) / 4)


def test_citations_are_correct_only_when_exact_and_one_is_from_a_source_article() -> None:
    texts = {G20_2012: seed_text(G20_2012), G8_2013: seed_text(G8_2013)}
    start = texts[G20_2012].index("U.S. Ambassador to Russia Mike McFaul")
    end = start + len("U.S. Ambassador to Russia Mike McFaul")
    exact = Citation(1, G20_2012, "t", None, start, end, texts[G20_2012][start:end])
    shifted = Citation(1, G20_2012, "t", None, start + 1, end, texts[G20_2012][start:end])
    other = Citation(2, G8_2013, "t", None, 0, 10, texts[G8_2013][:10])
    assert citations_correct([exact], texts, [G20_2012])
    assert citations_correct([exact, other], texts, [G20_2012])
    assert not citations_correct([shifted], texts, [G20_2012])  # quote != text[start:end]
    assert not citations_correct([other], texts, [G20_2012])  # exact, but not from the source article
    assert not citations_correct([], texts, [G20_2012])


def test_refusal_precision_and_recall_and_percentiles_against_hand_computed_values() -> None:
    # refusals at 0, 1, 4; unanswerable 0, 2, 4 -> correct refusals 0 and 4: precision 2/3, recall 2/3
    m = refusal_metrics([True, True, False, False, True], [False, True, False, True, False])
    assert m == {"precision": pytest.approx(2 / 3), "recall": pytest.approx(2 / 3)}
    assert refusal_metrics([False, False], [True, False]) == {"precision": None, "recall": 0.0}
    assert refusal_metrics([True, False], [True, False]) == {"precision": 0.0, "recall": 0.0}
    # no unanswerable question: no refusal can be right, so neither figure means anything
    assert refusal_metrics([True, False], [True, True]) == {"precision": None, "recall": None}
    values = [4.0, 1.0, 3.0, 2.0]
    assert percentile(values, 50) == 2.5 == float(np.percentile(values, 50))
    assert percentile(values, 95) == pytest.approx(3.85) and math.isclose(3.85, float(np.percentile(values, 95)))
    assert percentile([], 50) is None


def row(qid: str, answerable: bool, refused: bool, hit: int | None = None, **kw: Any) -> Row:
    return Row(
        id=qid, type="fact" if answerable else "unanswerable", question=f"Question {qid}?",
        answers=["an answer"] if answerable else [], source_articles=[G20_2012] if answerable else [],
        answerable=answerable, refused=refused, answer="", short_answer=None, citations=[],
        timings_ms={"retrieve": 10.0, "answer": 5.0, "total": 15.0}, first_hit=hit, **kw,
    )  # fmt: skip


def test_summary_counts_rates_over_the_right_questions() -> None:
    rows = [
        row("a", True, False, 1, exact_match=1.0, f1=1.0, sentence_correct=True, citation_correct=True),
        row("b", True, False, 7, exact_match=0.0, f1=0.5, sentence_correct=False, citation_correct=False),
        row("c", True, True, None, exact_match=0.0, f1=0.0, sentence_correct=False),
        row("d", False, True),
        row("e", False, False),
    ]
    s = summarize(rows)
    assert (s["n"], s["n_answerable"], s["n_unanswerable"]) == (5, 3, 2)
    assert s["retrieval"]["hit@1"] == pytest.approx(1 / 3) and s["retrieval"]["hit@10"] == pytest.approx(2 / 3)
    assert s["answer"] == {"exact_match": pytest.approx(1 / 3), "f1": 0.5, "sentence_accuracy": pytest.approx(1 / 3)}
    assert s["citation"]["accuracy"] == 0.5  # over the two answered answerable questions
    assert s["refusal"] == {"precision": 0.5, "recall": 0.5}  # refused c (wrongly) and d (rightly)


def test_a_set_without_unanswerable_questions_reports_refusal_as_null_and_says_so() -> None:
    rows = [
        row("a", True, False, 1, exact_match=1.0, f1=1.0, sentence_correct=True, citation_correct=True),
        row("b", True, True, 3, exact_match=0.0, f1=0.0, sentence_correct=False),
    ]
    assert summarize(rows)["refusal"] == {"precision": None, "recall": None}
    extra = details(rows, 2.0)
    assert any("no unanswerable questions" in n for n in extra["notes"])
    assert extra["answerable_refused"] == 0.5 and extra["questions_per_second"] == 1.0


# ---- questions asked on a day ---------------------------------------------------------------------------


def test_questions_asked_on_a_day_are_read_against_it_and_reported_by_relative_time(
    seed_eval: dict[str, Any], tmp_path: Path
) -> None:
    rows = [
        {**json.loads(question("asked-2012", ["Mexico"], [G20_2012], "Where did Obama and Putin meet this week?")),
         "asked_at": "2012-06-20"},
        {**json.loads(question("asked-2013", ["two hours"], [G8_2013], "How long did the meeting last this week?")),
         "asked_at": "2013-06-20"},
        {**json.loads(question("no-phrase", ["Mike McFaul"], [G20_2012], "Who is the U.S. Ambassador to Russia?")),
         "asked_at": "2012-06-20"},
        json.loads(question("undated", ["Mike McFaul"], [G20_2012], "Who is the U.S. Ambassador to Russia?")),
    ]  # fmt: skip
    path = write(tmp_path, "dated.jsonl", "\n".join(json.dumps(r) for r in rows))
    args = ["eval", "--index", str(seed_eval["index"]), "--questions", str(path), "--out", str(tmp_path / "out")]
    assert runner.invoke(app, args).exit_code == 0
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    got = {r["id"]: r for r in report["questions"]}
    assert got["asked-2012"]["asked_at"] == "2012-06-20" and "asked_at" not in got["undated"]
    assert got["asked-2012"]["citations"][0]["article"] == G20_2012  # "this week" of 2012-06-20: Mexico
    assert got["asked-2012"]["recent_source"] is True and got["no-phrase"]["recent_source"] is True
    by_time = report["by_time"]
    assert by_time["relative time"]["n"] == 2 and by_time["no relative time"]["n"] == 1  # the undated one apart
    assert by_time["recent source"]["n"] == 3  # each was asked within a fortnight of its source's date
    assert "Questions asked on a day" in (tmp_path / "out" / "report.md").read_text()


def test_a_bad_asked_at_is_one_error_line_naming_the_format(tmp_path: Path) -> None:
    row = {**json.loads(question("q1", [], [])), "asked_at": "last week"}
    path = write(tmp_path, "q.jsonl", json.dumps(row))
    with pytest.raises(QuestionsError, match=r"q.jsonl:1: asked_at 'last week' is not a date: write it as YYYY-MM-DD"):
        load_questions(path)


def test_a_source_article_saved_twice_counts_under_the_id_it_is_indexed_as(
    seeds_dir: Path, tmp_path: Path, embedder: Embedder
) -> None:
    shutil.copy(seeds_dir / G20_2012, seeds_dir / "copy.txt")  # the same text: indexed once, as the first id
    path = write(tmp_path, "q.jsonl", question("copy", ["Mike McFaul"], ["copy.txt"], "Who is the U.S. Ambassador?"))
    args = ["eval", "--articles", str(seeds_dir), "--questions", str(path), "--index", str(tmp_path / "index")]
    assert runner.invoke(app, [*args, "--out", str(tmp_path / "out")]).exit_code == 0
    row = json.loads((tmp_path / "out" / "report.json").read_text())["questions"][0]
    assert row["first_hit"] is not None and row["citation_correct"] is True
    again = ["eval", "--questions", str(path), "--index", str(tmp_path / "index"), "--out", str(tmp_path / "again")]
    assert runner.invoke(app, again).exit_code == 0  # on the index as it is, without its articles folder
    row = json.loads((tmp_path / "again" / "report.json").read_text())["questions"][0]
    assert row["first_hit"] is not None and row["citation_correct"] is True
