"""The eval's report files: report.json (everything), report.md (metric table, then the worst failures) and
report.png (hit@k curve, latency histogram, sentence accuracy by question type; matplotlib, Agg backend)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from qa.errors import ReportError

WORST = 20  # failures listed in report.md (report.json has every row)
_CLIP = 160

# Why a question failed, worst first.
_REASONS = (
    "answer not in the top 10 passages",
    "wrong sentence cited",
    "key facts missed",
    "answerable question refused",
    "citations not exact or not from a source article",
    "unanswerable question answered",
)


def write_report(out: Path, report: dict[str, Any]) -> list[Path]:
    """Write report.json, report.md and report.png into `out` (created if needed); returns their paths."""
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise ReportError(f"cannot create report folder {out} ({e.strerror or e}): pass --out DIR") from None
    paths = [out / "report.json", out / "report.md", out / "report.png"]
    try:
        paths[0].write_text(json.dumps(report, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
        paths[1].write_text(markdown(report), encoding="utf-8")
        plot(report, paths[2])
    except OSError as e:
        raise ReportError(f"cannot write the report into {out} ({e.strerror or e}): pass --out DIR") from None
    return paths


def failure(row: dict[str, Any]) -> str | None:
    """What went wrong with one question's answer, or None when it was right."""
    if not row["answerable"]:
        return None if row["refused"] else _REASONS[5]
    if row["first_hit"] is None:
        return _REASONS[0]
    if row["refused"]:
        return _REASONS[3]
    if row.get("key_fact_recall") is not None:
        if row["key_fact_recall"] < 1.0:
            return _REASONS[2]
    elif not row["sentence_correct"]:
        return _REASONS[1]
    if not row["citation_correct"]:
        return _REASONS[4]
    return None


def worst(rows: Sequence[dict[str, Any]], n: int = WORST) -> list[tuple[str, dict[str, Any]]]:
    """The failed questions, worst reason first, then lowest F1."""
    failed = [(why, r) for r in rows if (why := failure(r)) is not None]
    failed.sort(key=lambda x: (_REASONS.index(x[0]), x[1]["f1"] or 0.0, x[1]["id"]))
    return failed[:n]


def _fmt(value: float | None, digits: int = 3) -> str:
    return "n/a" if value is None else f"{value:.{digits}f}"


def _cell(text: str | None) -> str:
    if not text:
        return "—"
    text = " ".join(text.split()).replace("|", "\\|")
    return text if len(text) <= _CLIP else text[: _CLIP - 1] + "…"


def metric_rows(report: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(metric, value, counted over) for the metric table."""
    r, a, lat = report["retrieval"], report["answer"], report["latency_ms"]
    answerable = f"{report['n_answerable']} answerable"
    opened = report.get("open")
    facts = f"{report['n_answerable'] - opened['n']} answerable fact questions" if opened else answerable
    answered = sum(1 for q in report["questions"] if q["answerable"] and not q["refused"])
    rows = [(f"hit@{k}", _fmt(r[f"hit@{k}"]), answerable) for k in (1, 5, 10)]
    rows += [
        ("MRR@10", _fmt(r["mrr@10"]), answerable),
        ("exact match", _fmt(a["exact_match"]), facts),
        ("F1", _fmt(a["f1"]), facts),
        ("sentence accuracy", _fmt(a["sentence_accuracy"]), facts),
        ("citation accuracy", _fmt(report["citation"]["accuracy"]), f"{answered} answered answerable"),
        ("refusal precision", _fmt(report["refusal"]["precision"]), "refused"),
        ("refusal recall", _fmt(report["refusal"]["recall"]), f"{report['n_unanswerable']} unanswerable"),
        ("answerable questions refused", _fmt(report.get("answerable_refused")), answerable),
        ("latency p50 / p95 (ms)", f"{_fmt(lat['p50'], 1)} / {_fmt(lat['p95'], 1)}", f"{report['n']} questions"),
    ]
    if opened:
        n_open = f"{opened['n']} open questions"
        rows += [
            ("key-fact recall", _fmt(opened["key_fact_recall"]), n_open),
            ("answer words, mean / longest", f"{_fmt(opened['words_mean'], 1)} / {opened['words_max']}", n_open),
            (
                "open latency p50 / p95 (ms)",
                f"{_fmt(opened['latency_ms']['p50'], 1)} / {_fmt(opened['latency_ms']['p95'], 1)}",
                n_open,
            ),
        ]
    for stage, v in report.get("latency_by_stage_ms", {}).items():
        if stage != "total":
            rows.append((f"— {stage} p50 / p95 (ms)", f"{_fmt(v['p50'], 1)} / {_fmt(v['p95'], 1)}", ""))
    if report.get("questions_per_second") is not None:
        rows.append(("questions per second", _fmt(report["questions_per_second"], 1), "one process, warm"))
    return rows


def markdown(report: dict[str, Any]) -> str:
    lines = [
        f"# qa eval: {report['questions_file']}",
        "",
        f"{report['n']} questions ({report['n_answerable']} answerable, {report['n_unanswerable']} unanswerable) "
        f"on the index {report['index']} (model {report['model']}); each answer reads the best "
        f"{report['k']['answer']} of {report['k']['retrieve']} passages retrieved, as `qa ask` does.",
        "",
        "| metric | value | over |",
        "|---|---:|---|",
        *(f"| {m} | {v} | {over} |" for m, v, over in metric_rows(report)),
        "",
    ]
    lines += [f"Note: {n}." for n in report.get("notes", [])]
    lines += ["", "## By question type", "", "| type | n | hit@5 | sentence accuracy | F1 | refused |"]
    lines.append("|---|---:|---:|---:|---:|---:|")
    for t, s in report.get("by_type", {}).items():
        lines.append(
            f"| {t} | {s['n']} | {_fmt(s['hit@5'])} | {_fmt(s['sentence_accuracy'])} | {_fmt(s['f1'])} "
            f"| {_fmt(s['refused'])} |"
        )
    kinds = report.get("kinds", {}).get("confusion", {})
    if len(kinds) > 1 or any(set(v) - {"fact"} for v in kinds.values()):
        seen = sorted({k for v in kinds.values() for k in v} | set(kinds))
        lines += ["", "## Kinds of answer: labelled (rows) against answered as (columns)", ""]
        lines += ["| labelled | " + " | ".join(seen) + " | key-fact recall |", "|---|" + "---:|" * (len(seen) + 1)]
        by_kind = report.get("by_kind", {})
        for label, cells in kinds.items():
            recall = by_kind.get(label, {}).get("key_fact_recall")
            lines.append(f"| {label} | " + " | ".join(str(cells.get(k, 0)) for k in seen) + f" | {_fmt(recall)} |")
        lines.append("")
        lines.append(f"Fact questions answered as another kind: {_fmt(report['kinds']['fact_as_other'])}.")
    if report.get("by_time"):
        lines += ["", "## Questions asked on a day: saying when relative to it, and by their sources' dates", ""]
        lines += ["| questions | n | hit@5 | sentence accuracy | F1 | refused |", "|---|---:|---:|---:|---:|---:|"]
        for t, s in report["by_time"].items():
            lines.append(
                f"| {t} | {s['n']} | {_fmt(s['hit@5'])} | {_fmt(s['sentence_accuracy'])} | {_fmt(s['f1'])} "
                f"| {_fmt(s['refused'])} |"
            )
    failed = worst(report["questions"])
    total = sum(1 for r in report["questions"] if failure(r) is not None)
    lines += ["", f"## Worst failures ({len(failed)} of {total})", ""]
    if not failed:
        lines.append("None: every answerable question was answered from the right sentence, every other refused.")
    else:
        lines += ["| id | what went wrong | question | expected | got | cited quote |", "|---|---|---|---|---|---|"]
        for why, r in failed:
            got = r["short_answer"] if r["short_answer"] is not None else r["answer"]
            quote = r["citations"][0]["quote"] if r["citations"] else None
            expected = " / ".join(r["answers"]) or "(a refusal)"
            lines.append(
                f"| {_cell(r['id'])} | {why} | {_cell(r['question'])} | {_cell(expected)} | {_cell(got)} "
                f"| {_cell(quote)} |"
            )
    return "\n".join(lines) + "\n"


def plot(report: dict[str, Any], path: Path) -> None:
    """hit@k for k = 1..10, the latency histogram, and sentence accuracy by question type, in one PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    rows = report["questions"]
    ranks = [r["first_hit"] for r in rows if r["answerable"]]
    fig, (ax1, ax2, ax3) = plt.subplots(1, 3, figsize=(15, 4.2))
    ks = list(range(1, report["k"]["retrieve"] + 1))
    if ranks:
        ax1.plot(ks, [sum(1 for x in ranks if x is not None and x <= k) / len(ranks) for k in ks], marker="o")
    ax1.set(title=f"hit@k ({len(ranks)} answerable questions)", xlabel="k (passages)", ylabel="hit@k", ylim=(0, 1.02))
    ax1.set_xticks(ks)
    ax1.grid(alpha=0.3)
    totals = [max(r["timings_ms"]["total"], 0.01) for r in rows]
    bins = min(40, max(5, len(totals) // 5))
    if totals and max(totals) > 20 * min(totals):  # a long tail: log-spaced bins show both ends
        ax2.hist(totals, bins=np.geomspace(min(totals), max(totals), bins + 1), color="tab:gray")
        ax2.set_xscale("log")
    else:
        ax2.hist(totals, bins=bins, color="tab:gray")
    for name, style in (("p50", "-"), ("p95", "--")):
        value = report["latency_ms"][name]
        if value is not None:
            ax2.axvline(value, color="tab:red", linestyle=style, label=f"{name} {value:.0f} ms")
    ax2.set(title=f"ask latency ({len(totals)} questions)", xlabel="ms", ylabel="questions")
    ax2.legend()
    types = [(t, s) for t, s in report.get("by_type", {}).items()]
    names = [t for t, _ in types]
    ax3.barh(names, [_score(s) for _, s in types], color="tab:blue")
    ax3.set(title="right sentence (unanswerable: refused) by type", xlim=(0, 1.02))
    ax3.set_ylim(max(len(names), 4) - 0.5, -0.5)  # first type on top; a lone type gets a bar of normal height
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def _score(s: dict[str, Any]) -> float:
    """Sentence accuracy, or for a type of unanswerable questions the share refused."""
    return float(s["sentence_accuracy"] if s["sentence_accuracy"] is not None else s["refused"])
