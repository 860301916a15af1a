"""LLM answers against extractive ones: EM/F1, supported sentences, latency (the README's "LLM answers" figures).

    python -m bench.llm [--squad 300] [--seed 0] [--seeds-limit N] [--gguf PATH] [--threads N] [--out FILE]

Two question sets: eval/questions.jsonl on an index of seeds/, and --squad questions of squad-dev16 (a fixed sample,
random.Random(--seed)) on an index of its 16 articles. Every question goes through qa.llm.answerer.LLMAnswerer the way
`qa ask --answerer llm` does: the extractive answerer runs first (its answer and its latency are the extractive
figures), then the LLM, a local GGUF (default: the test model, Qwen2.5-Coder-0.5B-Instruct, `python -m qa.gguf`)
served by llama.cpp on loopback, then the check. Scored as `qa eval` scores (qa.eval.run.score): EM/F1 of the short
answer, else the answer text; a refusal scores 0. For the LLM: the share of its sentences supported (by the passage
it cites; and with re-citation, the default), how often its answer is shown, falls back for want of support, or
fails. Latency: the extractive answer's, and the whole LLM answer's (extractive + LLM + check), p50 and p95.

Prints a table; writes bench/results/llm.json (after every 20 questions too, so a cut-short run keeps its figures;
`--resume` goes on from them).

    python -m bench.llm --rescore     # check the LLM texts of --out again with qa.llm.verify as it is now, and rescore

The check does not change what the LLM writes: --rescore takes each question's saved LLM text and the passages it
read, checks it again (re-cited and strict), and recomputes the LLM's EM/F1 and shares; latencies stay as measured.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

os.environ["HF_HUB_OFFLINE"] = "1"

from bench.common import RESULTS, ROOT, data_dir
from qa.config import Settings
from qa.embed.embedder import load_embedder
from qa.eval.questions import EvalQuestion, load_questions
from qa.eval.run import score
from qa.index.build import build
from qa.llm.answerer import LLM_FAILED, NO_SUPPORT, LLMAnswerer, LLMResult
from qa.llm.client import open_llm
from qa.llm.gguf import default_path
from qa.llm.local import LOCAL_MODEL_NAME, local_server
from qa.llm.verify import Verifier
from qa.pipeline import QA

K = 5


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--squad", type=int, default=300, help="squad-dev16 questions (a seeded sample)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--seeds-limit", type=int, default=None, help="only the first N seed questions")
    ap.add_argument("--gguf", type=Path, default=default_path(Settings.from_env().cache_dir))
    ap.add_argument("--threads", type=int, default=0, help="llama.cpp threads (0: half the cores)")
    ap.add_argument("--max-tokens", type=int, default=Settings().llm_max_tokens)
    ap.add_argument("--out", type=Path, default=RESULTS / "llm.json")
    ap.add_argument(
        "--table", action="store_true", help="only print the table of --out, summarised again from its rows"
    )
    ap.add_argument("--rescore", action="store_true", help="check the saved LLM texts of --out again (see above)")
    ap.add_argument(
        "--resume", action="store_true", help="keep the rows --out already holds and ask only the questions it lacks"
    )
    args = ap.parse_args()
    if args.rescore:
        rescore(args.out)
        return
    if args.table:
        out = json.loads(args.out.read_text())
        out["sets"] = {name: summarize(rows) for name, rows in out["questions"].items()}
        print_table(out)
        return

    t0 = time.perf_counter()
    server = local_server(args.gguf, threads=args.threads)
    print(f"model {args.gguf.name} on {server.base_url} ({time.perf_counter() - t0:.1f} s)", flush=True)
    embedder = load_embedder()
    tmp = tempfile.TemporaryDirectory(prefix="qa-bench-llm-")
    squad_dir = data_dir("squad-dev16")
    squad = random.Random(args.seed).sample(load_questions(squad_dir / "questions.jsonl"), args.squad)
    sets = [
        ("seeds", ROOT / "seeds", load_questions(ROOT / "eval/questions.jsonl")[: args.seeds_limit]),
        ("squad-dev16", squad_dir / "articles", squad),
    ]
    done: dict[str, list[dict[str, Any]]] = {}
    if args.resume and args.out.exists():
        done = json.loads(args.out.read_text()).get("questions", {})
    out: dict[str, Any] = {
        "model": args.gguf.name,
        "threads": args.threads or "auto",
        "max_tokens": args.max_tokens,
        "k": K,
        "cpus": os.cpu_count(),
        "load_before": os.getloadavg(),
        "sets": {},
    }
    for name, folder, questions in sets:
        rows: list[dict[str, Any]] = [r for r in done.get(name, []) if r["id"] in {q.id for q in questions}]
        seen = {r["id"] for r in rows}
        if rows:
            print(f"{name}: {len(rows)} of {len(questions)} rows kept from {args.out}", flush=True)
        questions = [q for q in questions if q.id not in seen]
        if not questions:
            if rows:
                out["sets"][name] = summarize(rows)
                write(args.out, out, rows, name)
            continue
        settings = Settings(
            index=Path(tmp.name) / name,
            articles=folder,
            answerer="llm",
            llm_base_url=server.base_url,
            llm_model=LOCAL_MODEL_NAME,
            llm_max_tokens=args.max_tokens,
        )
        build(settings, embedder=embedder)
        qa = QA.open(settings, embedder=embedder)
        answerer = qa.answerer
        llm = qa.llm_answerer()
        strict = Verifier(qa.retriever.sentences, recite=False)
        texts = {aid: a.text for aid, a in answerer.index.articles.items()}
        llm.ask(questions[0].question, K)  # warm: models loaded, the server's prompt cache filled (not counted)
        for i, q in enumerate(questions, 1):
            rows.append(run_one(q, llm, strict, texts))
            if len(rows) % 20 == 0 or i == len(questions):
                out["sets"][name] = summarize(rows)
                out["load_after"] = os.getloadavg()
                write(args.out, out, rows, name)
                s = out["sets"][name]
                total = len(rows) + len(questions) - i
                print(
                    f"{name} {len(rows)}/{total}: F1 extractive {s['extractive']['f1']:.3f} llm {s['llm']['f1']:.3f}, "
                    f"supported {s['llm']['supported_sentences']}, p50 {s['llm']['p50_ms']:.0f} ms",
                    flush=True,
                )
    out["seconds"] = round(time.perf_counter() - t0, 1)
    write(args.out, out, None, None)
    print_table(out)


def run_one(q: EvalQuestion, llm: LLMAnswerer, strict: Verifier, texts: dict[str, str]) -> dict[str, Any]:
    t0 = time.perf_counter()
    result = llm.ask(q.question, K)
    wall = (time.perf_counter() - t0) * 1000
    ex = result.extractive
    row: dict[str, Any] = {
        "id": q.id,
        "question": q.question,
        "answers": list(q.answers),
        "passages": [[p.chunk.article, p.chunk.start, p.chunk.end] for p in ex.passages[:K]],  # what the LLM read
        "extractive": _scored(q, ex, texts, ex.timings_ms["total"]),
        "llm": {
            **_scored(q, result.answer, texts, wall),
            **_llm_fields(result),
            "raw": result.raw,
            "checked": [[c.text, c.supported, c.recited, list(c.cites)] for c in result.sentences],
            "timings_ms": result.timings_ms,
        },
    }
    if result.called and result.error is None:  # the same LLM text, checked strictly against its own citations
        checked = strict.check(result.raw, ex.passages[:K], ex.question)
        s = llm.compose(ex, result.raw, checked, result.timings_ms)
        row["llm_strict"] = {**_scored(q, s.answer, texts, wall), **_llm_fields(s)}
    else:
        row["llm_strict"] = {**row["llm"]}
    return row


def rescore(path: Path) -> None:
    from qa.eval.metrics import exact_match, f1
    from qa.types import Answer, Chunk, Passage

    out = json.loads(path.read_text())
    embedder = load_embedder()
    tmp = tempfile.TemporaryDirectory(prefix="qa-bench-llm-")
    for name, rows in out["questions"].items():
        folder = ROOT / "seeds" if name == "seeds" else data_dir("squad-dev16") / "articles"
        settings = Settings(index=Path(tmp.name) / name, articles=folder)
        build(settings, embedder=embedder)
        qa = QA.open(settings, embedder=embedder)
        index, answerer = qa.index, qa.answerer
        sentences = qa.retriever.sentences
        verifiers = {"llm": Verifier(sentences, recite=True), "llm_strict": Verifier(sentences)}
        # compose() needs an LLM only for its name: this one points nowhere and is never called
        composer = LLMAnswerer(answerer, open_llm(settings.with_(llm_base_url="http://127.0.0.1:9/v1", llm_model="-")))
        for row in rows:
            if not row["llm"]["called"] or row["llm"]["error"] is not None:
                continue
            passages = [
                Passage(Chunk(a, s, e, index.articles[a].text[s:e]), 0.0, n)
                for n, (a, s, e) in enumerate(row["passages"], 1)
            ]
            for key, verifier in verifiers.items():
                checked = verifier.check(row["llm"]["raw"], passages, row["question"])
                supported = [c for c in checked if c.supported]
                r = row[key]
                r.update(sentences=len(checked), supported=len(supported), recited=sum(c.recited for c in supported))
                if key == "llm":
                    r["checked"] = [[c.text, c.supported, c.recited, list(c.cites)] for c in checked]
                if not supported:  # the extractive answer is shown
                    r.update(fallback=NO_SUPPORT, em=row["extractive"]["em"], f1=row["extractive"]["f1"])
                    r.update(answer=row["extractive"]["answer"], short=row["extractive"]["short"])
                    continue
                ex = Answer(row["question"], row["extractive"]["answer"], None, (), False, tuple(passages), {})
                shown = composer.compose(ex, row["llm"]["raw"], checked, {}).answer
                got = shown.short if shown.short is not None else shown.text
                gold = row["answers"]
                r.update(fallback=None, answer=shown.text, short=shown.short)
                r.update(em=exact_match(got, gold) if gold else None, f1=f1(got, gold) if gold else None)
        out["sets"][name] = summarize(rows)
        print(f"{name}: {len(rows)} questions checked again", flush=True)
    out["rescored"] = True
    write(path, out, None, None)
    print_table(out)


def _scored(q: EvalQuestion, answer: Any, texts: dict[str, str], ms: float) -> dict[str, Any]:
    r = score(q, answer, texts)
    return {
        "em": r.exact_match,
        "f1": r.f1,
        "sentence_correct": r.sentence_correct,
        "refused": r.refused,
        "answer": answer.text,
        "short": answer.short,
        "ms": round(ms, 1),
    }


def _llm_fields(result: LLMResult) -> dict[str, Any]:
    return {
        "called": result.called,
        "sentences": len(result.sentences),
        "supported": result.supported,
        "recited": sum(s.recited for s in result.sentences if s.supported),
        "fallback": result.fallback,
        "error": result.error,
    }


def summarize(rows: list[dict[str, Any]]) -> dict[str, Any]:
    def block(key: str) -> dict[str, Any]:
        rs = [r[key] for r in rows]
        answerable = [r for r, row in zip(rs, rows, strict=True) if row["answers"]]
        out: dict[str, Any] = {
            "n": len(rs),
            "em": _mean([r["em"] for r in answerable]),
            "f1": _mean([r["f1"] for r in answerable]),
            "refused": _mean([float(r["refused"]) for r in rs]),
            "p50_ms": statistics.median(r["ms"] for r in rs),
            "p95_ms": _pct([r["ms"] for r in rs], 95),
        }
        if key != "extractive":
            called = [r for r in rs if r["called"]]
            n_sent = sum(r["sentences"] for r in called)
            out.update(
                asked=len(called),
                p50_ms_asked=statistics.median(r["ms"] for r in called) if called else None,
                p95_ms_asked=_pct([r["ms"] for r in called], 95) if called else None,
                sentences=n_sent,
                supported_sentences=round(sum(r["supported"] for r in called) / n_sent, 4) if n_sent else None,
                recited=sum(r["recited"] for r in called),
                llm_answer_shown=_mean([float(r["fallback"] is None) for r in called]),
                fallback_no_support=_mean([float(r["fallback"] == NO_SUPPORT) for r in called]),
                errors=sum(r["fallback"] == LLM_FAILED for r in called),
            )
        return out

    first = [r["llm"]["timings_ms"].get("first_token") for r in rows if r["llm"]["called"]]
    llm_ms = [r["llm"]["timings_ms"].get("llm") for r in rows if r["llm"]["called"]]
    return {
        "extractive": block("extractive"),
        "llm": block("llm"),
        "llm_strict": block("llm_strict"),
        "llm_first_token_p50_ms": statistics.median(x for x in first if x is not None) if any(first) else None,
        "llm_generation_p50_ms": statistics.median(x for x in llm_ms if x is not None) if any(llm_ms) else None,
    }


def _mean(values: list[float]) -> float | None:
    return round(sum(values) / len(values), 4) if values else None


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round((len(ordered) - 1) * q / 100))]


def write(path: Path, out: dict[str, Any], rows: list[dict[str, Any]] | None, name: str | None) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if rows is not None and name is not None:
        out.setdefault("questions", {})[name] = rows
    path.write_text(json.dumps(out, indent=1, ensure_ascii=False))


def print_table(out: dict[str, Any]) -> None:
    print(
        f"\nmodel {out['model']}, k={out['k']}, {out.get('seconds', 0):.0f} s, "
        f"load {out['load_before']} -> {out.get('load_after')}"
    )
    print(
        "| set | answerer | n | EM | F1 | refused | supported sentences | LLM answer shown | p50 / p95 ms "
        "| p50 / p95 ms, LLM asked |"
    )
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for name, s in out["sets"].items():
        for key, label in (("extractive", "extractive"), ("llm", "llm (re-cited)"), ("llm_strict", "llm (strict)")):
            b = s[key]
            llm = key != "extractive"
            sup = f"{b['supported_sentences']:.3f} of {b['sentences']}" if llm else ""
            shown = f"{b['llm_answer_shown']:.3f} of {b['asked']}" if llm else ""
            asked = f"{b['p50_ms_asked']:.0f} / {b['p95_ms_asked']:.0f}" if llm else ""
            print(
                f"| {name} | {label} | {b['n']} | {b['em']:.3f} | {b['f1']:.3f} | {b['refused']:.3f} | {sup} | "
                f"{shown} | {b['p50_ms']:.0f} / {b['p95_ms']:.0f} | {asked} |"
            )
    sys.stdout.flush()


if __name__ == "__main__":
    main()
