"""How sure the reader must be of the best passage before the others go unread (QA_READ_SURE), on both sets.

    python -m bench.read_sure [--squad-limit 600] [--sure 2,3,4,5,6,8] [--[no-]reader-int8]

Every answerable question of realtimeqa-dev (asked on its day) and --squad-limit of squad-dev16 (drawn with seed 7)
is searched as `qa ask` searches it and its best `QA_READ_PASSAGES` passages (5) read by the fold reader that never
saw its half (`train.reader train --fold 0|1`, in bench/results), quantised to int8 as `qa ask` reads unless
--no-reader-int8. The reader scores each passage on its own (in int8 a run each; in float one batch, no passage
seeing another), so the best passage read alone scores as it does among the others:
the answer sentence is chosen twice, from all the readings and from the first alone, and for each margin the
question takes the second
where the reader's best span in the best passage beats that passage's "none of these" score by the margin. Printed
per set and margin: the share of questions that read one passage, and the share whose answer sentence holds a gold
answer in a source article (the answerer's sentence weights and gate as shipped; refusals not applied). What the
chosen margin does end to end, cross-validated, is `bench.answers --cv --reader-cv` (docs/performance.md).
"""

from __future__ import annotations

import argparse
import json
import random
from typing import Any

import numpy as np

from qa.eval.metrics import contains_answer
from train.common import SETS, add_reader_int8, asked_on, half_readers, open_set, set_questions


def questions(name: str, limit: int | None) -> list[dict[str, Any]]:
    qs = set_questions(name)
    return random.Random(7).sample(qs, limit) if limit and limit < len(qs) else qs


def right(answerer: Any, found: Any, readings: list[Any], sources: set[str], answers: list[str]) -> bool:
    """Whether the answer sentence chosen from `readings` holds a gold answer, in a source article."""
    cands, _, scores = answerer.score_sentences(found, readings)
    if not cands:
        return False
    best = cands[int(np.argmax(scores))]
    return best.article in sources and contains_answer(best.text, answers)


def rows(name: str, limit: int | None, readers: dict[int, Any], int8: bool) -> list[dict[str, Any]]:
    """Per question: the best passage's margin, and whether the sentence chosen from every passage read / from the
    first alone is right."""
    qa = open_set(name, read_sure=0.0, reader_int8=int8)
    answerer = qa.answerer
    canonical = qa.index.manifest.aliases()
    out = []
    for q in questions(name, limit):
        answerer.reader = readers[q["fold"]]
        found = answerer.retriever.search(q["question"], as_of=asked_on(q))
        if not found.passages:
            continue
        readings = answerer.read(found)  # read_sure 0: every passage read
        assert readings is not None
        sources = {canonical.get(a, a) for a in q["source_articles"]}
        out.append(
            {
                "margin": float(readings[0].margin),
                "all": right(answerer, found, readings, sources, q["answers"]),
                "first": right(answerer, found, readings[:1], sources, q["answers"]),
            }
        )
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--squad-limit", type=int, default=600, help="squad-dev16 questions (seed 7); 0: all")
    ap.add_argument("--sure", default="2,3,4,5,6,8", help="margins, comma-separated")
    add_reader_int8(ap)
    args = ap.parse_args()
    readers = half_readers(int8=args.reader_int8)
    margins = [float(x) for x in args.sure.split(",") if x]
    for name in SETS:
        got = rows(name, args.squad_limit if name == "squad-dev16" else None, readers, args.reader_int8)
        every = float(np.mean([r["all"] for r in got]))
        table = {}
        for m in margins:
            alone = [r["margin"] >= m for r in got]
            ok = np.mean([r["first"] if a else r["all"] for r, a in zip(got, alone, strict=True)])
            table[str(m)] = {"read one passage": round(float(np.mean(alone)), 3), "sentence right": round(float(ok), 3)}
        print(json.dumps({"set": name, "questions": len(got), "sentence right, all read": round(every, 3), **table}))


if __name__ == "__main__":
    main()
