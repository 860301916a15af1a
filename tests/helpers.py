"""Plain helpers shared by the tests: paths, small corpora the tests write themselves, a counting embedder, the chat
app on a free loopback port, and what the LLM and browser tests share. Fixtures are in conftest.py; no test module
imports another."""

from __future__ import annotations

import datetime as dt
import json
import os
import random
import shutil
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pytest

from qa.config import Settings
from qa.ingest.read import read_file
from qa.llm.gguf import default_path, is_complete
from qa.llm.local import LOCAL_MODEL_NAME

if TYPE_CHECKING:
    from playwright.sync_api import Page

    from qa.app.library import Library
    from qa.embed.embedder import Embedder
    from qa.types import Answer

ROOT = Path(__file__).resolve().parent.parent
SEEDS = ROOT / "seeds"
QUESTIONS = ROOT / "eval" / "questions.jsonl"  # the seed question set
FIXTURES = ROOT / "tests" / "fixtures"
LUNAR = FIXTURES / "app" / "lunar.txt"  # an article to upload: not in the seeds
SCRIPT = FIXTURES / "app" / "script.txt"  # an article holding <script>, <b>, <img onerror> and *markdown*

G20_2012 = "000_35a32bfe2c615227.txt"  # the seed article about the 2012 meeting (G-20, Mexico)
G8_2013 = "002_0691e4ad82986c2d.txt"  # the seed article about the 2013 meeting (G-8, Enniskillen)

# The web leftovers in the seed articles: kept in the text, never chunked, retrieved or quoted.
SEED_LEFTOVERS = [
    "Before it's here, it's on the Bloomberg Terminal. LEARN MORE",
    "By + More",
    "[RELATED: Obama in Europe to Talk Syria, Trade]",
    "Should Obama Intervene in Syria's Civil War?",
    "[PHOTOS:\xa0G8 Summit Gathers World Leaders, Protesters]",
    "[PHOTOS: Refugee Crisis in Syria]",
    "More News:",
]


def write(folder: Path, name: str, text: str | bytes) -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


def seed_questions() -> list[str]:
    """The questions of the seed question set, in order."""
    return [json.loads(line)["question"] for line in QUESTIONS.read_text(encoding="utf-8").splitlines() if line]


# ---- corpora the tests write themselves ------------------------------------------------------------------------


def seed_paragraphs() -> list[str]:
    """The seed articles' paragraphs of reporting: no web leftovers, no headings."""
    out = []
    for path in sorted(SEEDS.glob("*.txt")):
        (article,) = read_file(path.name, path).articles
        pos = 0
        for para in article.text.split("\n\n"):
            start = article.text.index(para, pos)
            pos = start + len(para)
            leftover = any(s < start + len(para) and start < e for s, e in article.skip)
            if not leftover and len(para) >= 80:
                out.append(para.strip())
    return out


_PLACES = (
    "Geneva", "Vienna", "Oslo", "Ankara", "Cairo", "Helsinki", "Lima", "Seoul", "Dakar", "Quito", "Riga", "Hanoi",
    "Tunis", "Perth", "Bergen", "Porto", "Kyoto", "Accra", "Minsk", "Lyon",
)  # fmt: skip
_KINDS = ("dispatch", "notebook", "briefing", "analysis", "week in review", "explainer")


def news_corpus(folder: Path, n: int, *, prefix: str = "story", first: int = 0) -> list[str]:
    """Write `n` distinct news-like articles into `folder`, each a different choice and order of the seed articles'
    paragraphs under a title and date of its own; returns their file names (sorted). `first` numbers them on from
    another call's."""
    paragraphs = seed_paragraphs()
    names = []
    for i in range(first, first + n):
        rng = random.Random(i)
        picked = rng.sample(paragraphs, rng.randint(8, 12))
        title = f"{_PLACES[i % len(_PLACES)]} {_KINDS[i % len(_KINDS)]} {i + 1}: Obama, Putin and Syria"
        date = dt.date(2012, 1, 5) + dt.timedelta(days=23 * i)
        body = "\n\n".join([title, *picked])
        name = f"{prefix}-{i + 1:03d}.txt"
        write(folder, name, f'---\ntitle: "{title}"\ndate: {date.isoformat()}\nsource: Wire {i % 3}\n---\n{body}\n')
        names.append(name)
    return sorted(names)


# Short made-up news stories, written for these tests (no public data set needed), on topics the seeds never touch.
STORIES = {
    "cup-final.txt": """---
title: "Harbor City Mariners Win the Coastal Cup Final"
date: 2014-02-03
source: Coastal Sports Wire
---
Harbor City Mariners Win the Coastal Cup Final

The Harbor City Mariners beat the Eastport Gulls 24-10 on Sunday to win the Coastal Cup final, the league's
championship game, in front of 71,000 fans at Bayfront Stadium.

Quarterback Dana Ruiz threw two touchdown passes and ran for a third, and was named the most valuable player of the
final. The Mariners' defence held the Gulls to a single touchdown and a field goal.

It was the Mariners' first title in eleven years. Coach Emil Varga said the win belonged to the fans who had waited
through five losing seasons.
""",
    "harbour-bridge.txt": """---
title: "Port Ellery Opens Its New Lune River Bridge"
date: 2014-03-11
source: Westmark Courier
---
Port Ellery Opens Its New Lune River Bridge

Port Ellery, the capital of the province of Westmark, opened its new bridge over the Lune river on Tuesday after
four years of building work that cost 310 million crowns.

The bridge carries four lanes of traffic and a tram line between the old harbour and the northern districts.
Engineers said it was built to last 120 years and to withstand the river's spring floods.

Mayor Ilse Brandt cut the ribbon and called the bridge the largest public work in the city's history.
""",
    "glacier.txt": """---
title: "Glacier Station Records Fastest Retreat in Decades"
date: 2014-04-22
source: Northern Science Desk
---
Glacier Station Records Fastest Retreat in Decades

The Halvard glacier retreated 86 metres last summer, the fastest loss since measurements began at the Skarfjell
research station in 1962, scientists reported on Monday.

The station's team of nine researchers measures the glacier's front every August with survey markers and drones.
Warmer autumns and less winter snow explain most of the loss, the station's director, Marit Olsen, said.
""",
}


def write_story(folder: Path, name: str, as_name: str | None = None) -> Path:
    """One of STORIES written into `folder` (as `as_name` when given)."""
    return write(folder, as_name or name, STORIES[name])


# ---- an embedder that counts -----------------------------------------------------------------------------------


class CountingEmbedder:
    """The real embedder, counting the chunk texts it is asked to embed."""

    def __init__(self, inner: Embedder) -> None:
        self.inner = inner
        self.dim = inner.dim
        self.backend = inner.backend
        self.embedded: list[str] = []

    def embed_documents(self, texts: Any, progress: bool = False) -> np.ndarray:
        self.embedded.extend(texts)
        return self.inner.embed_documents(texts, progress=progress)

    def embed_query(self, text: str) -> np.ndarray:
        return self.inner.embed_query(text)

    def embed_queries(self, texts: Any) -> np.ndarray:
        return self.inner.embed_queries(texts)


# ---- the chat app on a free loopback port, in this process -----------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def serving(library: Library) -> Iterator[str]:
    """The chat app over `library` on 127.0.0.1 (a free port): yields its URL, stops it after."""
    from qa.app.serve import launch
    from qa.app.web import build_app

    demo = launch(build_app(library), "127.0.0.1", free_port(), block=False)
    try:
        yield f"http://127.0.0.1:{demo.server_port}/"
    finally:
        demo.close()


@contextmanager
def running_app(settings: Settings, embedder: Any) -> Iterator[tuple[str, Library]]:
    """Index the articles, start the app on 127.0.0.1, yield (its URL, its Library); stop it after."""
    from qa.app.library import Library

    library, _ = Library.open(settings, embedder)
    with serving(library) as url:
        yield url, library


# ---- LLM answers -----------------------------------------------------------------------------------------------

# The LLM tests' question. Asked as "How long did the 2012 meeting between Obama and Putin last?", the 0.5B test
# model copies the 2013 article's "stretched two hours Monday" into a 2012 answer (among the five passages since the
# second stage weighs dates), which the check rightly flags; with "in Mexico" it answers from the 2012 passage.
MEETING_2012 = "How long did the 2012 meeting between Obama and Putin in Mexico last?"
# the GGUF `make llm` fetches (python -m qa.llm.gguf), in the cache folder the settings name (QA_CACHE_DIR)
GGUF = default_path(Settings.from_env({"QA_CACHE_DIR": os.environ.get("QA_CACHE_DIR", "")}).cache_dir)


def needs_model(test: Any) -> Any:
    """Marks a test that runs the local GGUF model: `llm`, and skipped (saying so) where the file is absent."""
    skip = pytest.mark.skipif(
        not is_complete(GGUF),
        reason=f"the test model is not at {GGUF}: run `make llm` (python -m qa.llm.gguf) to fetch it",
    )
    return pytest.mark.llm(skip(test))


def dead_endpoint() -> str:
    """A loopback URL where nothing listens."""
    return f"http://127.0.0.1:{free_port()}/v1"


def llm_settings(base: Settings, base_url: str, **more: Any) -> Settings:
    return base.with_(answerer="llm", llm_base_url=base_url, llm_model=LOCAL_MODEL_NAME, **more)


def real_settings(base: Settings, base_url: str) -> Settings:
    """Settings for the real model behind `base_url` (bounded: 160 tokens, 240 s on a busy machine)."""
    return llm_settings(base, base_url, llm_max_tokens=160, llm_timeout=240)


def passage_holding(answer: Answer, text: str) -> int:
    """The prompt number (1-based) of the first passage read that holds `text`."""
    return next(n for n, p in enumerate(answer.passages[:5], 1) if text in p.chunk.text)


# ---- the browser -----------------------------------------------------------------------------------------------

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = ROOT / "tests" / "artifacts"  # screenshots kept for people to look at; ignored by git
WAIT_MS = 90_000  # an upper bound for waiting on the app on a busy machine, not a speed requirement


def offsite_requests(page: Page) -> list[str]:
    """Requests the page makes to anything but the app's own loopback server (there must be none)."""
    from urllib.parse import urlparse

    seen: list[str] = []
    page.on("request", lambda r: None if urlparse(r.url).hostname == "127.0.0.1" else seen.append(r.url))
    return seen


def ask_in_page(page: Page, question: str) -> None:
    """Type a question into the chat, press Enter, and wait for its whole answer (a question asked while one is
    still coming in is not taken: Gradio runs one event of a kind at a time)."""
    from playwright.sync_api import expect

    turns = page.locator("#qa-chat .message-row").count()
    page.locator("#qa-question textarea").fill(question)
    page.locator("#qa-question textarea").press("Enter")
    expect(page.locator("#qa-chat .message-row")).to_have_count(turns + 2)
    expect(page.locator("#qa-chat .message-row").last).not_to_contain_text("Searching the articles")
    expect(page.locator("#qa-chat .message-row").last.locator(".qa-more")).to_have_count(0)


def screenshot(page: Page, tmp_path: Path, name: str) -> Path:
    shot = tmp_path / name
    page.screenshot(path=str(shot), full_page=True)
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / ".gitignore").write_text("*\n")
    shutil.copy(shot, ARTIFACTS / name)
    return shot


# ---- long questions ----------------------------------------------------------------------------------------------

LONG_QUESTION_SIZES = (1_000, 2_000, 100_000)  # under, at and far over qa.search.query.MAX_QUESTION_CHARS


def long_question(n: int, sentence: str = "How long did the 2013 meeting between Obama and Putin last?") -> str:
    """A question of exactly `n` characters, single-spaced (so also `n` once its whitespace is squeezed): `sentence`
    over and over."""
    text = ((sentence + " ") * (n // (len(sentence) + 1) + 1))[:n]
    return text if not text.endswith(" ") else text[:-1] + "?"


def cut_notice(n: int) -> str:
    """The start of the notice a question of `n` characters (over the limit) is answered with."""
    return f"the question was {n:,} characters; only the first "
