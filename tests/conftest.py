"""Fixtures shared by the tests (plain helpers are in tests/helpers.py)."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from qa.config import Settings
from qa.embed.embedder import Embedder, load_embedder
from qa.eval import sets
from qa.index.build import build
from qa.pipeline import QA
from tests.helpers import CHROMIUM, GGUF, SEEDS, WAIT_MS, CountingEmbedder

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

    from qa.llm.local import LocalServer


@pytest.fixture(scope="session", autouse=True)
def private_data_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """XDG_DATA_HOME (and so the default uploads folder, Settings.uploads) in a temporary folder for the whole
    session: no test reads or writes the user's real ~/.local/share/qa. Restored after."""
    home = tmp_path_factory.mktemp("xdg-data")
    before = os.environ.get("XDG_DATA_HOME")
    os.environ["XDG_DATA_HOME"] = str(home)
    try:
        yield home
    finally:
        if before is None:
            os.environ.pop("XDG_DATA_HOME", None)
        else:
            os.environ["XDG_DATA_HOME"] = before


@pytest.fixture(scope="session")
def embedder() -> Embedder:
    """The real packaged MiniLM, loaded once per session (the same object qa's own cache hands out)."""
    return load_embedder()


@pytest.fixture
def seeds_dir(tmp_path: Path) -> Path:
    """A private copy of seeds/, free to change."""
    dest = tmp_path / "articles"
    shutil.copytree(SEEDS, dest)
    return dest


@pytest.fixture
def settings(tmp_path: Path, seeds_dir: Path) -> Settings:
    return Settings(index=tmp_path / "index", articles=seeds_dir, uploads=tmp_path / "uploads")


@pytest.fixture
def counting(embedder: Embedder) -> CountingEmbedder:
    return CountingEmbedder(embedder)


@pytest.fixture(scope="session")
def seed_qa(tmp_path_factory: pytest.TempPathFactory, embedder: Embedder) -> QA:
    """The seed articles indexed once per session and opened as `qa` opens them: read it, never change it."""
    root = tmp_path_factory.mktemp("seed-qa")
    shutil.copytree(SEEDS, root / "articles")
    settings = Settings(index=root / "index", articles=root / "articles", uploads=root / "uploads")
    build(settings, embedder=embedder)
    return QA.open(settings, embedder=embedder)


@pytest.fixture(scope="session")
def squad() -> Path:
    """The squad-dev16 folder (articles/, questions.jsonl), outside the project; the test is skipped without it."""
    folder = sets.find("squad-dev16")
    if folder is None:
        pytest.skip(sets.missing("squad-dev16"))
    return folder


# ---- the local LLM -------------------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def llm_server() -> Iterator[LocalServer]:
    """llama.cpp's OpenAI-compatible server on 127.0.0.1 serving Qwen2.5-Coder-0.5B-Instruct (threads: half the
    cores, which on 2 shared cores is 1: two threads that wait on each other crawl when another process runs)."""
    from qa.llm.gguf import is_complete
    from qa.llm.local import local_server

    if not is_complete(GGUF):
        pytest.skip(f"the test model is not at {GGUF}: run `make llm` (python -m qa.llm.gguf) to fetch it")
    yield local_server(GGUF, n_ctx=4096)


# ---- the browser ---------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Debian's chromium driven by Playwright (which never downloads a browser of its own); one per test module, so
    Playwright's event loop is gone before other tests run."""
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: apt-get install chromium (make test does it)")
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM,
            args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update"],
        )  # fmt: skip
        yield browser
        browser.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    from playwright.sync_api import expect

    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    page.set_default_timeout(WAIT_MS)
    expect.set_options(timeout=WAIT_MS)
    yield page
    context.close()
