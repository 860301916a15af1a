"""Open and comparative answers (issue 20): the kind detector on labelled questions, and the project's open
questions answered over the seeds among distractor articles.

    python -m bench.open_answers [--distractors squad-dev16|realtimeqa-dev|none] [--passes 2]

1. The kind of answer each question wants (qa.answer.forms.answer_kind) against its label: eval/questions.jsonl's
   `kind` (fact when absent), and squad-dev16's and realtimeqa-dev's questions, every one a fact question (each has a
   short gold answer; a why-question there is labelled fact too, though the detector calls it a reason, which is
   answered the fact way). Prints the confusion table and the share of fact questions sent to another kind.
2. An index of the seeds with the distractor set's articles (links to them in bench/results/work/open-<set>/articles,
   indexed with follow_links; nothing copied; started from the set's kept index when there is one, so only the
   seeds are embedded): every question of eval/questions.jsonl asked as `qa eval` asks it,
   `--passes` times (the first pass embeds the sentences it reads; later passes find them cached). Prints key-fact
   recall, answer words and ask latency for the open questions and the fact ones, per pass.
Writes bench/results/open_answers.json.
"""

from __future__ import annotations

import argparse
import json
import shutil
import time
from pathlib import Path
from typing import Any

from bench.common import RESULTS, ROOT, data_dir, questions
from qa.answer.forms import FACT, KINDS, answer_kind
from qa.eval.metrics import percentile
from qa.eval.questions import load_questions
from qa.eval.run import RETRIEVE_K, kind_confusion, open_figures, score, summarize
from train.common import WORK, open_qa

QUESTIONS = ROOT / "eval" / "questions.jsonl"


def confusion(labelled: list[tuple[str, str]]) -> dict[str, Any]:
    """(question, label) pairs: qa eval's table of label against detected kind, and the fact questions sent
    elsewhere."""
    got = [(label, answer_kind(question)) for question, label in labelled]
    out = kind_confusion(got)
    elsewhere = [(kind, q) for (q, _), (label, kind) in zip(labelled, got, strict=True) if label == FACT != kind]
    n_fact = sum(out["confusion"].get(FACT, {}).values())
    return {
        "table": out["confusion"],
        "fact_as_other": out["fact_as_other"],
        "fact_as_other_not_reason": sum(k != "reason" for k, _ in elsewhere) / n_fact if n_fact else None,
        "fact_questions_elsewhere": elsewhere,
    }


def kinds() -> dict[str, Any]:
    out = {"eval/questions.jsonl": confusion([(q.question, q.kind) for q in load_questions(QUESTIONS)])}
    for name in ("squad-dev16", "realtimeqa-dev"):
        out[name] = confusion([(q["question"], FACT) for q in questions(data_dir(name))])
    return out


def linked_articles(distractors: str | None) -> Path:
    """A folder of links to the seeds and the distractor set's articles."""
    folder = WORK / f"open-{distractors or 'none'}" / "articles"
    folder.mkdir(parents=True, exist_ok=True)
    sources = [*(ROOT / "seeds").glob("*.txt")]
    if distractors:
        sources += sorted((data_dir(distractors) / "articles").iterdir())
    for path in sources:
        link = folder / path.name
        if not link.is_symlink():
            link.symlink_to(path.resolve())
    return folder


def answers(distractors: str | None, passes: int) -> dict[str, Any]:
    articles = linked_articles(distractors)
    index = articles.parent / "index"
    kept = WORK / (distractors or "none")
    if not index.exists() and (kept / "manifest.json").exists():
        shutil.copytree(kept, index)  # the set's kept index (bench.answers, bench.retrieval): only the seeds to embed
    qa = open_qa(articles, index, follow_links=True)
    texts = {aid: a.text for aid, a in qa.index.articles.items()}
    asked = load_questions(QUESTIONS)
    out: dict[str, Any] = {"articles": len(qa.index.articles), "chunks": len(qa.index), "passes": []}
    for n in range(passes):
        rows = []
        for q in asked:
            t0 = time.perf_counter()
            answer = qa.answerer.ask(q.question, retrieve_k=RETRIEVE_K, as_of=q.asked_at)
            wall = (time.perf_counter() - t0) * 1000
            row = score(q, answer, texts)
            rows.append((row, wall))
        facts = [w for r, w in rows if r.key_fact_recall is None]
        summary = summarize([r for r, _ in rows])
        out["passes"].append(
            {
                "pass": n + 1,
                "open": open_figures([r for r, _ in rows]),
                "fact": {
                    "n": len(facts),
                    "f1": summary["answer"]["f1"],
                    "sentence_accuracy": summary["answer"]["sentence_accuracy"],
                    "latency_ms": {"p50": percentile(facts, 50), "p95": percentile(facts, 95)},
                },
                "citation_accuracy": summary["citation"]["accuracy"],
                "quotes_exact": all(
                    texts[c["article"]][c["start"] : c["end"]] == c["quote"] for r, _ in rows for c in r.citations
                ),
                "by_kind": {
                    k: open_figures([r for r, _ in rows if r.kind_label == k])
                    for k in KINDS
                    if any(r.kind_label == k and r.key_fact_recall is not None for r, _ in rows)
                },
                "missed": [
                    {"id": r.id, "recall": r.key_fact_recall, "answer": r.answer}
                    for r, _ in rows
                    if r.key_fact_recall is not None and r.key_fact_recall < 1.0
                ],
            }
        )
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--distractors", default="squad-dev16", help="squad-dev16, realtimeqa-dev or none")
    ap.add_argument("--passes", type=int, default=2)
    args = ap.parse_args()
    distractors = None if args.distractors == "none" else args.distractors
    result = {"kinds": kinds(), "distractors": args.distractors}
    for name, c in result["kinds"].items():
        print(
            f"{name}: fact questions sent to another kind {c['fact_as_other']:.4f} (not counting reason "
            f"{c['fact_as_other_not_reason']:.4f}); table {c['table']}"
        )
    result["answers"] = answers(distractors, args.passes)
    a = result["answers"]
    print(f"index: seeds + {args.distractors}: {a['articles']} articles, {a['chunks']} passages")
    for p in a["passes"]:
        o, f = p["open"], p["fact"]
        print(
            f"pass {p['pass']}: open {o['n']}: key-fact recall {o['key_fact_recall']:.3f}, words mean "
            f"{o['words_mean']:.1f} max {o['words_max']}, refused {o['refused']:.3f}, p50 {o['latency_ms']['p50']:.1f} "
            f"ms p95 {o['latency_ms']['p95']:.1f} ms | fact {f['n']}: F1 {f['f1']:.3f}, sentence "
            f"{f['sentence_accuracy']:.3f}, p50 {f['latency_ms']['p50']:.1f} ms | citations "
            f"{p['citation_accuracy']:.3f}, quotes exact {p['quotes_exact']}"
        )
        for k, v in p["by_kind"].items():
            recall, p50 = v["key_fact_recall"], v["latency_ms"]["p50"]
            print(f"    {k}: n {v['n']}, key-fact recall {recall:.3f}, p50 {p50:.1f} ms")
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"open_answers_{args.distractors}.json"
    path.write_text(json.dumps(result, indent=1, ensure_ascii=False) + "\n")
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
