"""The shipped refusal gate's decisions on a sample of the labelled questions, read with the given reading settings.

    python -m bench.gate_sample [--read-passages N] [--[no-]reader-int8] [--news 200] [--squad 600] [--seed 7]

No refit: what a reading setting does to refusals, in minutes, before the hours of `python -m train.gate dump`.
`--news` realtimeqa-dev questions (drawn with --seed), each asked of the whole news index (answerable), of it
without every passage that holds its answer (*deleted*) and without its source pages (*away*);
`--squad` squad-dev16 questions asked of squad-dev16 with 30% of its sentences deleted (*near*: answerable when
their answer sentence is left). Each share is given twice: refused by the gate alone (its value below the
threshold: what train.gate fits) and as `qa ask` refuses (the gate or a veto: support too low, a name the passages
read do not hold). Writes bench/results/gate_sample.json (--out).
"""

from __future__ import annotations

import argparse
import json
import random
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from bench.common import RESULTS
from qa.answer.gate import shipped_gate
from train.common import add_reader_int8, open_set, set_questions
from train.gate import DROP, asked, near_set, news_restrictions


def run(args: argparse.Namespace) -> dict[str, Any]:
    settings: dict[str, Any] = {"reader": True, "reader_int8": args.reader_int8}
    if args.read_passages:
        settings["read_passages"] = args.read_passages
    gate = shipped_gate(True)

    def refused(qa: Any, q: dict[str, Any], rows: np.ndarray | None = None) -> tuple[bool, bool]:
        """By the gate alone, and by the gate or a veto (as `ask` decides)."""
        found, got = asked(qa, q, rows)
        by_gate = gate.value(got) < qa.answerer.threshold
        return by_gate, by_gate or qa.answerer.vetoed(found, got)

    out: dict[str, Any] = {"settings": settings, "seed": args.seed}
    if args.news:
        qa = open_set("realtimeqa-dev", **settings)
        restrict = news_restrictions(qa)
        got: dict[str, list[tuple[bool, bool]]] = {"answerable refused": [], "deleted recall": [], "away recall": []}
        for q in random.Random(args.seed).sample(set_questions("realtimeqa-dev"), args.news):
            deleted, away = restrict(q)
            got["answerable refused"].append(refused(qa, q))
            got["deleted recall"].append(refused(qa, q, deleted))
            got["away recall"].append(refused(qa, q, away))
        out["realtimeqa-dev"] = shares(got)
    if args.squad:
        sample = random.Random(args.seed).sample(set_questions("squad-dev16"), args.squad)
        with tempfile.TemporaryDirectory() as tmp:
            qa, labels = near_set(Path(tmp), DROP, args.seed, sample, **settings)
            kinds: dict[str, list[tuple[bool, bool]]] = {"answerable refused": [], "near recall": []}
            for q, answerable in labels:
                kinds["answerable refused" if answerable else "near recall"].append(refused(qa, q))
        out["squad-dev16"] = shares(kinds)
    return out


def shares(got: dict[str, list[tuple[bool, bool]]]) -> dict[str, dict[str, float]]:
    """Each kind's share refused by the gate alone and with the vetoes, and its number of questions."""
    return {
        k: {"gate": float(np.mean([g for g, _ in v])), "with vetoes": float(np.mean([a for _, a in v])), "n": len(v)}
        for k, v in got.items()
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--read-passages", type=int, help="passages the reader reads (default: QA_READ_PASSAGES's)")
    add_reader_int8(ap)
    ap.add_argument("--news", type=int, default=200, help="realtimeqa-dev questions (0: none)")
    ap.add_argument("--squad", type=int, default=600, help="squad-dev16 questions (0: none)")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--out", type=Path, default=RESULTS / "gate_sample.json")
    args = ap.parse_args()
    result = run(args)
    for name in ("realtimeqa-dev", "squad-dev16"):
        for k, v in result.get(name, {}).items():
            gate, vetoes, n = v["gate"], v["with vetoes"], v["n"]
            print(f"{name:15s} {k:20s} gate {gate:.3f}, with vetoes {vetoes:.3f}  ({n:.0f} questions)")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1) + "\n")


if __name__ == "__main__":
    main()
