"""What the benchmarks share: where the project and its results are, and the public question sets they run on."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from qa.eval import sets

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"  # git-ignored


def data_dir(name: str = "squad-dev16") -> Path:
    """The folder of a public question set (QA_SQUAD_DIR / QA_REALTIMEQA_DIR or ../shared/data/<name>), or exit
    with the one-line reason it is not here."""
    folder = sets.find(name)
    if folder is None:
        raise SystemExit(f"error: {sets.missing(name)}")
    return folder


def questions(folder: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (folder / "questions.jsonl").read_text().splitlines() if line.strip()]
