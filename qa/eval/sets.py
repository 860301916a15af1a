"""Where the public question sets live: outside the project, never copied into it (their terms are their own).

squad-dev16 (16 Wikipedia articles, 4,306 SQuAD v1.1 dev questions) and realtimeqa-dev (news-quiz questions with
the news pages that answer them) are read from QA_SQUAD_DIR / QA_REALTIMEQA_DIR, else from ../shared/data/<name>
beside the project. Tests that need one are skipped, with a one-line reason, where it is absent.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from qa.errors import QuestionsError

PROJECT = Path(__file__).resolve().parents[2]
_SETS = {"squad-dev16": "QA_SQUAD_DIR", "realtimeqa-dev": "QA_REALTIMEQA_DIR"}


def location(name: str) -> Path:
    """The folder of set `name` (it may not exist)."""
    variable = _SETS[name]
    given = os.environ.get(variable)
    return Path(given).expanduser() if given else PROJECT.parent / "shared" / "data" / name


def find(name: str) -> Path | None:
    """The folder of set `name` when it holds articles/ and questions.jsonl, else None."""
    folder = location(name)
    return folder if (folder / "questions.jsonl").is_file() and (folder / "articles").is_dir() else None


def missing(name: str) -> str:
    """Why set `name` cannot be used here, in one line (for a skip or an error)."""
    return f"{name} not found at {location(name)}: set {_SETS[name]} to its folder (articles/ and questions.jsonl)"


def digest(folder: Path) -> str:
    """sha256 over a set's questions file and every article file (names and bytes): what a learned weight set's
    stamp names as its training data."""
    h = hashlib.sha256()
    files = [folder / "questions.jsonl", *sorted((folder / "articles").rglob("*"))]
    for path in files:
        if path.is_file():
            h.update(str(path.relative_to(folder)).encode() + b"\0" + path.read_bytes())
    return h.hexdigest()


def require(name: str) -> Path:
    """The folder of set `name`; QuestionsError with the one-line reason when it is not here."""
    folder = find(name)
    if folder is None:
        raise QuestionsError(missing(name))
    return folder
