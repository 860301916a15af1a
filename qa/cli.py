"""The `qa` command: a thin shell over the same calls the app uses.

Errors are one line on stderr that names the problem and the fix; exit 1 (2 for usage errors).
"""

from __future__ import annotations

import functools
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer

from qa.config import Settings
from qa.errors import QAError
from qa.types import shown_date

if TYPE_CHECKING:
    from qa.pipeline import QA

app = typer.Typer(
    help="Ask questions of a folder of news articles, offline, with exact citations.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    rich_markup_mode=None,  # help text as written: "[n]" and "[env QA_INDEX]" are not markup
)
index_app = typer.Typer(help="Build and inspect the index.", no_args_is_help=True, rich_markup_mode=None)
app.add_typer(index_app, name="index")

IndexOpt = Annotated[Path | None, typer.Option("--index", help="Index folder [env QA_INDEX; default index/]")]
ArticlesOpt = Annotated[
    Path | None, typer.Option("--articles", help="Articles folder [env QA_ARTICLES; default seeds/]")
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON instead of text.")]
AsOfOpt = Annotated[
    str | None,
    typer.Option(
        "--as-of",
        help="The day the question is asked, YYYY-MM-DD: 'this week', 'recently', 'on Monday' are read against it "
        "[env QA_AS_OF; default today]",
    ),
]
AnswererOpt = Annotated[
    str | None,
    typer.Option(
        "--answerer",
        help="extractive (the default) or llm: an LLM writes the answer, each sentence checked against the passage "
        "it cites (needs QA_LLM_BASE_URL + QA_LLM_MODEL, or QA_LLM_GGUF) [env QA_ANSWERER]",
    ),
]

F = TypeVar("F", bound=Callable[..., Any])


def _errors(func: F) -> F:
    """Turn qa's errors into one line on stderr and exit 1; no tracebacks for user errors."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except QAError as e:
            typer.echo(f"error: {e}", err=True)
            raise typer.Exit(1) from None
        except KeyboardInterrupt:
            typer.echo("interrupted: nothing was changed in the index", err=True)
            raise typer.Exit(130) from None

    return wrapper  # type: ignore[return-value]


def _settings(**overrides: Any) -> Settings:
    return Settings.from_env(**overrides)


@index_app.command("build")
@_errors
def index_build(
    articles: ArticlesOpt = None,
    index: IndexOpt = None,
    rebuild: Annotated[bool, typer.Option("--rebuild", help="Re-embed everything instead of updating.")] = False,
    model: Annotated[str | None, typer.Option("--model", help="Embedding model name or path [env QA_MODEL]")] = None,
    follow_links: Annotated[
        bool, typer.Option("--follow-links", help="Read what links out of the articles folder point at.")
    ] = False,
    ray: Annotated[
        str | None,
        typer.Option(
            "--ray",
            metavar="ADDRESS",
            help="Chunk and embed on the Ray cluster at ADDRESS (auto: the one joined here) [env QA_RAY_ADDRESS]",
        ),
    ] = None,
    json_out: JsonOpt = False,
) -> None:
    """Build or update the index: new, changed and removed articles are found by content hash.

    Only new chunks are embedded; a failed or interrupted build leaves the previous index as it was.

    Examples:  qa index build   ·   qa index build --articles ~/news --index ~/news-index   ·   qa index build --rebuild
    ·   qa index build --ray auto
    """
    from qa.index.build import build

    settings = _settings(
        articles=articles, index=index, model=model, follow_links=follow_links or None, ray_address=ray
    )
    report = build(settings, rebuild=rebuild, progress=not json_out)
    if settings.dense != "flat":  # bring the approximate index up to date now, not at the first search
        from qa.index.store import Index

        Index.load(settings.index, settings.dense)
    for line in report.warnings(settings.large_article_mb):
        typer.echo(line, err=True)
    if json_out:
        typer.echo(json.dumps(report.to_dict()))
        return
    for label, ids in (("added", report.added), ("changed", report.changed), ("removed", report.removed)):
        for aid in ids[:20]:
            typer.echo(f"  {label:8} {aid}")
        if len(ids) > 20:
            typer.echo(f"  {label:8} ... and {len(ids) - 20} more")
    for aid, others in report.duplicates.items():
        typer.echo(f"  same text {', '.join(others)} = {aid} (indexed once, as {aid})")
    if report.up_to_date:
        typer.echo(f"{settings.index}: up to date ({report.articles} articles, {report.chunks} chunks)")
    else:
        typer.echo(
            f"{settings.index}: {len(report.added)} added, {len(report.changed)} changed, "
            f"{len(report.removed)} removed, {report.unchanged} unchanged; embedded {report.chunks_embedded} chunks; "
            f"now {report.articles} articles, {report.chunks} chunks ({report.seconds:.1f}s)"
        )


@index_app.command("status")
@_errors
def index_status(index: IndexOpt = None, json_out: JsonOpt = False) -> None:
    """What the index holds: articles, chunks, model, dimensions, when it was built."""
    from qa.errors import IndexMismatchError
    from qa.index.manifest import IndexStatus, require_manifest
    from qa.index.store import damaged

    settings = _settings(index=index)
    manifest = require_manifest(settings.index)
    bad = damaged(settings.index, manifest)
    if bad:
        what = "; ".join(f"{seg}: {why}" for seg, why in list(bad.items())[:3])
        raise IndexMismatchError(
            f"{settings.index} is damaged ({what}): run `qa index build` to embed what it held again, "
            "or `qa index build --rebuild`"
        )
    status = IndexStatus.of(settings.index, manifest)
    if json_out:
        typer.echo(json.dumps(status.to_dict()))
        return
    typer.echo(
        f"{status.index}: {status.articles} articles ({status.files} files), {status.chunks} chunks\n"
        f"model {status.model} ({status.dimensions} dimensions); chunks of <= {status.chunker['size']} chars, "
        f"overlap {status.chunker['overlap']}\nbuilt at {status.built_at} by qa {status.qa_version}"
    )


@app.command("search")
@_errors
def search_cmd(
    question: Annotated[str, typer.Argument(help="The question, in quotes.")],
    k: Annotated[int | None, typer.Option("-k", "--k", help="How many passages [env QA_K; default 5]")] = None,
    index: IndexOpt = None,
    json_out: JsonOpt = False,
    as_of: AsOfOpt = None,
) -> None:
    """Ranked passages for a question: dense + BM25, fused, then re-scored.

    Examples:  qa search "Where did Obama meet Putin in 2013?"   ·   qa search "oil embargo" -k 10 --json
    """
    qa = _open_for(question, _settings(index=index, k=k, as_of=as_of))
    result = qa.search(question)
    for notice in result.notices:
        typer.echo(f"note: {notice}", err=True)
    if json_out:
        typer.echo(json.dumps([p.to_dict() for p in result.passages], ensure_ascii=False))
        return
    for p in result.passages:
        typer.echo(
            f"[{p.rank}] {p.title} ({shown_date(p.date, p.date_inferred)}) {p.chunk.article} "
            f"{p.chunk.start}-{p.chunk.end}  score {p.score:.3f}"
        )
        typer.echo("    " + p.chunk.text.replace("\n", "\n    ") + "\n")


@app.command("ask")
@_errors
def ask_cmd(
    question: Annotated[str, typer.Argument(help="The question, in quotes.")],
    k: Annotated[
        int | None, typer.Option("-k", "--k", help="How many passages to read the answer from [env QA_K; default 5]")
    ] = None,
    index: IndexOpt = None,
    json_out: JsonOpt = False,
    answerer: AnswererOpt = None,
    as_of: AsOfOpt = None,
) -> None:
    """The answer, in the articles' own words, with a citation [n] after each sentence.

    When nothing retrieved supports an answer it says so ("The articles don't say ...") and cites nothing.

    Examples:  qa ask "How long did the 2013 meeting last?"   ·   qa ask "Who is the U.S. ambassador?" --json
    """
    settings = _settings(index=index, answerer=answerer, k=k, as_of=as_of)
    qa = _open_for(question, settings)
    if settings.answerer == "llm":
        _ask_llm(question, qa, json_out)
        return
    answer = qa.ask(question)
    for notice in answer.notices:
        typer.echo(f"note: {notice}", err=True)
    if json_out:
        typer.echo(json.dumps(answer.to_dict(), ensure_ascii=False))
        return
    if answer.heading:
        typer.echo(f"{answer.heading}:")
    typer.echo(answer.text)
    if answer.short:
        typer.echo(f"\nShort answer: {answer.short}")
    for c in answer.citations:
        typer.echo(f"[{c.n}] {c.title} ({shown_date(c.date, c.date_inferred)}), {c.article} {c.start}-{c.end}")


def _ask_llm(question: str, qa: QA, json_out: bool) -> None:
    """`qa ask --answerer llm`: the LLM's answer, checked; the extractive one when the LLM fails or is unsupported."""
    from qa.llm.answerer import NO_SUPPORT

    result = qa.llm_answerer().ask(question)
    for notice in result.answer.notices:
        typer.echo(f"note: {notice}", err=True)
    if result.error:
        typer.echo(f"note: {result.error}; the extractive answer is given instead", err=True)
    elif result.fallback == NO_SUPPORT:
        typer.echo(
            "note: no sentence of the LLM's answer is supported by the passage it cites; the extractive answer is "
            "given instead",
            err=True,
        )
    if json_out:
        typer.echo(json.dumps(result.to_dict(), ensure_ascii=False))
        return
    typer.echo(result.display_text())
    if result.answer.short:
        typer.echo(f"\nShort answer: {result.answer.short}")
    for c in result.answer.citations:
        typer.echo(f"[{c.n}] {c.title} ({shown_date(c.date, c.date_inferred)}), {c.article} {c.start}-{c.end}")


@app.command("eval")
@_errors
def eval_cmd(
    questions: Annotated[
        Path, typer.Option("--questions", help="Questions file (JSONL: id, question, answers, source_articles, type).")
    ] = Path("eval/questions.jsonl"),
    articles: Annotated[
        Path | None, typer.Option("--articles", help="Build or update the index from this folder first.")
    ] = None,
    out: Annotated[Path, typer.Option("--out", help="Folder for report.json, report.md, report.png.")] = Path(
        "eval/report"
    ),
    limit: Annotated[int | None, typer.Option("--limit", min=1, help="Only the first N questions.")] = None,
    index: IndexOpt = None,
    json_out: JsonOpt = False,
    answerer: AnswererOpt = None,
) -> None:
    """Score the answers on a question set: retrieval hit@k, EM/F1, citations, refusals, latency.

    Every gold answer must be verbatim in its source article (checked first). With --articles the index
    in --index is first made to match that folder exactly (articles not in it are removed from the index).

    Examples:  qa eval --articles seeds --index /tmp/seed-index   ·   qa eval --limit 20 --json
    """
    from qa.eval.report import metric_rows, write_report
    from qa.eval.run import run_eval

    progress = sys.stderr.isatty()
    settings = _settings(index=index, answerer=answerer)
    result = run_eval(settings, questions, build_from=articles, limit=limit, progress=progress)
    paths = write_report(out, result.report)
    if (b := result.report["build"]) is not None:
        typer.echo(
            f"index {settings.index}: {b['articles']} articles, {b['chunks']} chunks "
            f"({b['added']} added, {b['changed']} changed, {b['removed']} removed)",
            err=True,
        )
    for note in result.report["notes"]:
        typer.echo(f"note: {note}", err=True)
    if json_out:
        typer.echo(json.dumps(result.summary))
        return
    for metric, value, over in metric_rows(result.report):
        typer.echo(f"{metric:28} {value:>15}  {over}")
    if (llm := result.summary.get("llm")) is not None:
        for metric, value in llm.items():
            typer.echo(f"llm {metric:24} {value!s:>15}")
    typer.echo("report: " + ", ".join(str(p) for p in paths))


def _open_for(question: str, settings: Settings) -> QA:
    """Check the question, then load the index and model: bad input fails before the slow part."""
    from qa.pipeline import QA
    from qa.search.query import clean_question

    clean_question(question)
    return QA.open(settings)


@app.command("serve")
@_errors
def serve_cmd(
    host: Annotated[
        str | None, typer.Option("--host", help="Address to listen on (default 127.0.0.1; 0.0.0.0 for every interface)")
    ] = None,
    port: Annotated[int | None, typer.Option("--port", help="Port to listen on (default 7860)")] = None,
    index: IndexOpt = None,
    articles: ArticlesOpt = None,
    answerer: AnswererOpt = None,
    ray: Annotated[
        str | None,
        typer.Option(
            "--ray", metavar="ADDRESS", help="Build and answer on the Ray cluster at ADDRESS [env QA_RAY_ADDRESS]"
        ),
    ] = None,
    replicas: Annotated[
        int | None, typer.Option("--replicas", help="Answering replicas on the Ray cluster (default 1; needs --ray)")
    ] = None,
) -> None:
    """The chat app in the browser (same as `python app.py`): answers with highlighted sources, and uploads.

    The index is first brought up to date with the articles folder; uploaded articles are saved into it.

    Examples:  qa serve   ·   qa serve --port 8080   ·   qa serve --index ~/news-index --articles ~/news
    ·   qa serve --ray auto --replicas 2
    """
    from qa.app.serve import serve

    settings = _settings(index=index, articles=articles, answerer=answerer, ray_address=ray)
    serve(settings, host=host, port=port, replicas=replicas)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
