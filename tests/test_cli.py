"""The CLI: output, --json shapes, settings from the environment, and one-line errors with exit codes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from qa.cli import app
from qa.config import Settings
from qa.embed.embedder import Embedder
from tests.helpers import write

runner = CliRunner()


def qa(*args: str, env: dict[str, str] | None = None):  # type: ignore[no-untyped-def]
    return runner.invoke(app, list(args), env=env)


def one_error_line(result) -> str:  # type: ignore[no-untyped-def]
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ")
    assert "Traceback" not in result.output
    return lines[0]


def test_build_prints_what_changed_and_status_json_has_the_contract_fields(
    settings: Settings, embedder: Embedder
) -> None:
    result = qa("index", "build", "--articles", str(settings.articles), "--index", str(settings.index))
    assert result.exit_code == 0, result.output
    assert "added    000_35a32bfe2c615227.txt" in result.stdout
    assert "2 added, 0 changed, 0 removed" in result.stdout
    again = qa("index", "build", "--articles", str(settings.articles), "--index", str(settings.index))
    assert "up to date (2 articles" in again.stdout
    status = json.loads(qa("index", "status", "--index", str(settings.index), "--json").stdout)
    assert {"articles", "chunks", "model", "dimensions", "built_at"} <= set(status)
    assert (status["articles"], status["model"], status["dimensions"]) == (2, "all-MiniLM-L6-v2", 384)
    text = qa("index", "status", "--index", str(settings.index)).stdout
    assert "2 articles" in text and "all-MiniLM-L6-v2" in text


def test_settings_come_from_qa_env_vars_and_flags_win(settings: Settings, embedder: Embedder, tmp_path: Path) -> None:
    env = {"QA_INDEX": str(settings.index), "QA_ARTICLES": str(settings.articles)}
    assert qa("index", "build", env=env).exit_code == 0
    assert json.loads(qa("index", "status", "--json", env=env).stdout)["articles"] == 2
    other = tmp_path / "other-index"
    result = qa("index", "status", "--index", str(other), env=env)
    assert result.exit_code == 1 and str(other) in one_error_line(result)


def test_build_json_reports_changes_and_skipped_files(settings: Settings, embedder: Embedder) -> None:
    write(settings.articles, "bad.jsonl", '{"text": "A fine line about the summit."}\n{oops\n')
    result = qa("index", "build", "--articles", str(settings.articles), "--index", str(settings.index), "--json")
    assert result.exit_code == 0
    out = json.loads(result.stdout)
    assert sorted(out["added"]) == ["000_35a32bfe2c615227.txt", "002_0691e4ad82986c2d.txt", "bad.jsonl#1"]
    assert out["skipped"] == [
        "bad.jsonl:2: malformed JSON (Expecting property name enclosed in double quotes): fix or remove the line"
    ]
    assert "warning: skipped bad.jsonl:2: malformed JSON" in result.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["index", "build", "--articles", "{tmp}/missing"], "does not exist: create it or pass --articles DIR"),
        (["index", "build", "--articles", "{tmp}/empty"], "no articles in"),
        (["index", "status", "--index", "{tmp}/none"], "no index in"),
    ],
)
def test_user_errors_are_one_line_naming_the_fix_with_exit_1(tmp_path: Path, args: list[str], message: str) -> None:
    (tmp_path / "empty").mkdir()
    result = (
        qa(*[a.format(tmp=tmp_path) for a in args], "--index", str(tmp_path / "idx"))
        if args[1] == "build"
        else qa(*[a.format(tmp=tmp_path) for a in args])
    )
    assert result.exit_code == 1
    assert message in one_error_line(result)
    assert not (tmp_path / "idx" / "manifest.json").exists()


def test_model_mismatch_is_refused_with_exit_1(settings: Settings, embedder: Embedder) -> None:
    assert qa("index", "build", "--articles", str(settings.articles), "--index", str(settings.index)).exit_code == 0
    result = qa(
        "index",
        "build",
        "--articles",
        str(settings.articles),
        "--index",
        str(settings.index),
        "--model",
        "/no/such/model",
    )
    assert result.exit_code == 1
    assert "--rebuild" in one_error_line(result)


def test_bad_setting_in_env_is_a_one_line_error(tmp_path: Path) -> None:
    result = qa("index", "status", env={"QA_CHUNK_SIZE": "big"})
    assert result.exit_code == 1
    assert "QA_CHUNK_SIZE must be a whole number" in one_error_line(result)


def test_usage_errors_exit_2() -> None:
    assert qa("index", "build", "--no-such-flag").exit_code == 2
    assert qa("frobnicate").exit_code == 2


def test_console_script_runs_and_status_needs_no_model(tmp_path: Path) -> None:
    exe = Path(sys.executable).with_name("qa")
    proc = subprocess.run(
        [str(exe), "index", "status", "--index", str(tmp_path)], capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 1
    assert proc.stderr.strip() == f"error: no index in {tmp_path}: run `qa index build` first (or pass --index DIR)"
    proc = subprocess.run([sys.executable, "-c", "import qa.cli, sys; sys.exit('torch' in sys.modules)"], timeout=60)
    assert proc.returncode == 0  # `qa index status` and `--help` stay fast: no torch import


def test_search_json_has_the_passage_shape_and_text_is_the_article_slice(
    settings: Settings, embedder: Embedder
) -> None:
    assert qa("index", "build", "--articles", str(settings.articles), "--index", str(settings.index)).exit_code == 0
    result = qa("search", "Where did Obama meet Putin in 2013?", "-k", "3", "--index", str(settings.index), "--json")
    assert result.exit_code == 0, result.output
    passages = json.loads(result.stdout)
    assert len(passages) == 3
    for n, p in enumerate(passages, start=1):
        assert set(p) == {"rank", "article", "title", "date", "start", "end", "text", "score"}
        assert p["rank"] == n
        text = (settings.articles / p["article"]).read_text(encoding="utf-8")
        assert p["text"] in text
    assert passages[0]["article"] == "002_0691e4ad82986c2d.txt" and passages[0]["date"] == "2013-06-17"
    plain = qa("search", "Camp David", "--index", str(settings.index)).stdout
    assert plain.startswith("[1] ") and "Camp David" in plain


@pytest.mark.parametrize(
    ("args", "message"),
    [(["search", "   "], "the question is empty"), (["search", "Putin", "-k", "0"], "k must be greater than 0")],
)
def test_search_bad_input_is_a_one_line_error(settings: Settings, args: list[str], message: str) -> None:
    result = qa(*args, "--index", str(settings.index))
    assert result.exit_code == 1
    assert message in one_error_line(result)


def test_overlong_question_is_searched_with_a_notice(settings: Settings, embedder: Embedder) -> None:
    assert qa("index", "build", "--articles", str(settings.articles), "--index", str(settings.index)).exit_code == 0
    result = qa("search", "Putin " * 500, "-k", "1", "--index", str(settings.index))
    assert result.exit_code == 0
    assert "note: the question was 2,999 characters; only the first" in result.stderr


def test_ask_json_matches_the_design_contract(settings: Settings, embedder: Embedder) -> None:
    assert qa("index", "build", "--articles", str(settings.articles), "--index", str(settings.index)).exit_code == 0
    result = qa(
        "ask", "How many deaths have occurred in the Syrian conflict?", "--index", str(settings.index), "--json"
    )
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert set(out) == {"question", "answer", "short_answer", "refused", "citations", "passages", "timings_ms", "kind"}
    assert out["refused"] is False and out["short_answer"] == "92,000" and out["kind"] == "fact"
    assert set(out["timings_ms"]) == {"retrieve", "read", "answer", "total"}  # DESIGN.md's three, and the reader's
    for c in out["citations"]:
        assert set(c) == {"n", "article", "title", "date", "start", "end", "quote"}
        article = (settings.articles / c["article"]).read_text(encoding="utf-8")
        assert c["quote"] in article and f"{c['quote']} [{c['n']}]" in out["answer"]
    assert all(set(p) == {"rank", "article", "title", "date", "start", "end", "text", "score"} for p in out["passages"])
    refused = json.loads(qa("ask", "What is the capital of France?", "--index", str(settings.index), "--json").stdout)
    assert refused["refused"] is True and refused["citations"] == [] and refused["short_answer"] is None
    plain = qa("ask", "Who is the U.S. Ambassador to Russia?", "--index", str(settings.index)).stdout
    assert "Mike McFaul" in plain and "Short answer: Mike McFaul" in plain and "[1] Obama Prods Putin" in plain


def test_ask_gives_a_timeline_with_its_entries_and_a_summary_under_its_heading(settings: Settings) -> None:
    assert qa("index", "build", "--articles", str(settings.articles), "--index", str(settings.index)).exit_code == 0
    result = qa("ask", "Give me a timeline of the Obama-Putin meetings.", "--index", str(settings.index), "--json")
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert out["kind"] == "timeline" and out["short_answer"] is None and len(out["citations"]) == 2
    assert [(e["date"], e["citation"]) for e in out["timeline"]] == [("2012-06-18", 1), ("2013-06-17", 2)]
    assert [e["article"] for e in out["timeline"]] == [c["article"] for c in out["citations"]]
    summary = "Summarize the article about the 2013 meeting in Northern Ireland."
    plain = qa("ask", summary, "--index", str(settings.index))
    lines = plain.stdout.splitlines()
    assert lines[0] == "Summary of 1 article:" and "[1] Obama, Putin Seek Common Ground on Syria" in plain.stdout
    assert "Short answer" not in plain.stdout


@pytest.mark.slow  # the model copied and exported to ONNX anew
def test_another_model_is_chosen_by_path_and_recorded(settings: Settings, tmp_path: Path) -> None:
    import shutil

    from qa.embed.base import model_path

    local = tmp_path / "my-model"
    shutil.copytree(model_path("all-MiniLM-L6-v2"), local)  # a model folder of the user's own
    env = {"QA_MODEL": str(local)}
    result = qa("index", "build", "--articles", str(settings.articles), "--index", str(settings.index), env=env)
    assert result.exit_code == 0, result.output
    status = json.loads(qa("index", "status", "--index", str(settings.index), "--json").stdout)
    assert (status["model"], status["dimensions"]) == (str(local), 384)
    found = qa("search", "Camp David", "-k", "1", "--index", str(settings.index), "--json", env=env)
    assert found.exit_code == 0 and "Camp David" in json.loads(found.stdout)[0]["text"]
    # searching with the default model is refused: the vectors would not match
    refused = qa("search", "Camp David", "--index", str(settings.index))
    assert refused.exit_code == 1 and f"QA_MODEL={local}" in one_error_line(refused)


def test_a_model_that_cannot_be_loaded_is_a_one_line_error(settings: Settings, tmp_path: Path) -> None:
    result = qa(
        "index",
        "build",
        "--articles",
        str(settings.articles),
        "--index",
        str(settings.index),
        "--model",
        str(tmp_path / "no-such-model"),
    )
    assert result.exit_code == 1
    assert "cannot load embedding model" in one_error_line(result)
    assert not (settings.index / "manifest.json").exists()


def test_ask_as_of_reads_this_week_against_that_day_and_an_inferred_date_is_marked(
    settings: Settings, embedder: Embedder
) -> None:
    write(
        settings.articles,
        "undated.txt",
        "Bridge Opens\n\nPublished June 20, 2013\n\nThe new bridge over the Erne opened.",
    )
    assert qa("index", "build", "--articles", str(settings.articles), "--index", str(settings.index)).exit_code == 0
    question = "Where did Obama and Putin meet this week?"
    out = json.loads(qa("search", question, "--as-of", "2012-06-20", "--index", str(settings.index), "--json").stdout)
    assert out[0]["article"] == "000_35a32bfe2c615227.txt"  # the week before 2012-06-20: the G-20 in Mexico
    env = {"QA_AS_OF": "2012-06-20"}
    assert json.loads(qa("search", question, "--index", str(settings.index), "--json", env=env).stdout) == out
    bridge = json.loads(qa("search", "When did the bridge over the Erne open?", "--index", str(settings.index),
                           "--json").stdout)[0]  # fmt: skip
    assert (bridge["article"], bridge["date"], bridge["date_inferred"]) == ("undated.txt", "2013-06-20", True)
    text = qa("search", "When did the bridge over the Erne open?", "-k", "1", "--index", str(settings.index)).stdout
    assert "(2013-06-20 (from the text))" in text


def test_a_bad_as_of_is_a_one_line_error_naming_the_format(settings: Settings) -> None:
    result = qa("ask", "Where did they meet?", "--as-of", "last Tuesday", "--index", str(settings.index))
    assert result.exit_code == 1
    assert "as_of must be a date as YYYY-MM-DD" in one_error_line(result)


def test_status_of_a_damaged_index_is_a_one_line_error_and_build_repairs_it(
    settings: Settings, embedder: Embedder
) -> None:
    assert qa("index", "build", "--articles", str(settings.articles), "--index", str(settings.index)).exit_code == 0
    (faiss_file,) = settings.index.glob("seg-*.faiss")
    faiss_file.write_bytes(faiss_file.read_bytes()[:64])
    for args in ([], ["--json"]):
        result = qa("index", "status", "--index", str(settings.index), *args)
        assert result.exit_code == 1 and result.stdout == ""
        line = one_error_line(result)
        assert "is damaged" in line and "bytes, the manifest recorded" in line and "run `qa index build`" in line
    built = qa("index", "build", "--articles", str(settings.articles), "--index", str(settings.index))
    assert (
        built.exit_code == 0 and "warning: the index was damaged" in built.stderr and "up to date" not in built.stdout
    )
    assert qa("index", "status", "--index", str(settings.index)).exit_code == 0


def test_help_text_shows_brackets_as_written() -> None:
    ask = qa("ask", "--help").stdout
    assert "with a citation [n] after each" in " ".join(ask.split())
    assert "[env QA_INDEX; default index/]" in " ".join(qa("search", "--help").stdout.split())


def test_a_model_mismatch_names_only_fixes_that_work_offline(settings: Settings, embedder: Embedder) -> None:
    assert qa("index", "build", "--articles", str(settings.articles), "--index", str(settings.index)).exit_code == 0
    manifest = json.loads((settings.index / "manifest.json").read_text())
    manifest["model"]["id"] = "all-mpnet-base-v2"  # a hub name: not loadable here
    (settings.index / "manifest.json").write_text(json.dumps(manifest))
    line = one_error_line(qa("ask", "Where?", "--index", str(settings.index)))
    assert "was built with model 'all-mpnet-base-v2'" in line and "qa index build --rebuild" in line
    assert "QA_MODEL=" not in line


def test_an_article_over_the_size_limit_is_indexed_with_a_warning_naming_its_size(
    settings: Settings, embedder: Embedder
) -> None:
    write(settings.articles, "long.txt", "Long Read\n\n" + "The council met again on Monday to talk. " * 40)
    env = {"QA_LARGE_ARTICLE_MB": "0.001"}  # a kilobyte
    result = qa("index", "build", "--articles", str(settings.articles), "--index", str(settings.index), env=env)
    assert result.exit_code == 0
    warned = [line for line in result.stderr.splitlines() if "long.txt" in line]
    assert len(warned) == 1 and "warning: long.txt: 0.0 MB, over the 0.001 MB" in warned[0] and "indexed" in warned[0]
    assert "added    long.txt" in result.stdout


def test_a_long_build_without_a_terminal_prints_plain_progress_lines(
    embedder: Embedder, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import qa.embed.embedder as module

    monkeypatch.setattr(module, "PROGRESS_EVERY", 0.0)  # a line at every step instead of every 5 seconds
    embedder.embed_documents([f"Sentence number {n} about the council." for n in range(600)], progress=True)
    lines = capsys.readouterr().err.strip().splitlines()
    assert lines and all(line.startswith("qa: embedding ") and "chunks/s" in line for line in lines)
    assert lines[-1].startswith("qa: embedding 100% (600 of 600 chunks")


def test_questions_of_1000_2000_and_100000_characters_are_answered_and_a_cut_one_says_so(
    settings: Settings, embedder: Embedder
) -> None:
    from tests.helpers import LONG_QUESTION_SIZES, cut_notice, long_question

    assert qa("index", "build", "--articles", str(settings.articles), "--index", str(settings.index)).exit_code == 0
    for n in LONG_QUESTION_SIZES:
        result = qa("ask", long_question(n), "--index", str(settings.index))
        assert result.exit_code == 0, result.output
        assert result.stdout.strip()  # an answer or a refusal
        notes = [line for line in result.stderr.splitlines() if line.startswith("note: the question was")]
        if n <= 2000:
            assert notes == [], n
        else:
            assert len(notes) == 1 and notes[0].startswith(f"note: {cut_notice(n)}") and notes[0].endswith(" were used")
    result = qa("ask", long_question(100_000), "--index", str(settings.index), "--json")
    assert result.exit_code == 0 and f"note: {cut_notice(100_000)}" in result.stderr
    out = json.loads(result.stdout)  # stdout holds the JSON alone
    assert out["refused"] or out["citations"]
