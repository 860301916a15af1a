"""A build killed with SIGKILL at any moment leaves the previous index loadable and whole."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from qa.config import Settings
from qa.embed.embedder import Embedder
from qa.index.build import build
from qa.index.manifest import require_manifest
from qa.index.store import Index
from tests.helpers import G20_2012, news_corpus

pytestmark = pytest.mark.slow


def run_build(settings: Settings, **env: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "qa.cli",
            "index",
            "build",
            "--articles",
            str(settings.articles),
            "--index",
            str(settings.index),
        ],
        env={**os.environ, **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def snapshot(index_dir: Path) -> tuple[dict[str, str], int]:
    index = Index.load(index_dir)
    return {aid: a.text for aid, a in index.articles.items()}, len(index)


ADDED = [f"story-{n:03d}.txt" for n in range(1, 13)]


def add_and_change(folder: Path) -> None:
    """Twelve new articles (some 40 chunks to embed: a build long enough to be killed midway) and a changed one."""
    assert news_corpus(folder, len(ADDED)) == ADDED
    seed = folder / G20_2012
    seed.write_text(seed.read_text() + "\n\nA late paragraph was added.\n")


@pytest.mark.parametrize("step", ["segment-written", "before-manifest"])
def test_killed_before_the_manifest_switch_leaves_the_old_index(
    settings: Settings, embedder: Embedder, step: str
) -> None:
    build(settings, embedder=embedder)
    before = snapshot(settings.index)
    add_and_change(settings.articles)
    proc = run_build(settings, QA_TEST_KILL_AT=step)
    proc.wait(timeout=300)
    assert proc.returncode == -signal.SIGKILL
    assert snapshot(settings.index) == before
    # the next build finishes the job and sweeps up what the killed one left
    report = build(settings, embedder=embedder)
    assert sorted(report.added) == ADDED
    assert report.changed == (G20_2012,)
    m = require_manifest(settings.index)
    on_disk = {p.name for p in settings.index.iterdir()} - {"manifest.json", ".lock"}
    assert on_disk == {
        f"{s}{ext}" for s in m.segments for ext in (".faiss", ".chunks.jsonl", ".articles.jsonl", ".tokens.npz")
    }


def test_killed_after_the_manifest_switch_leaves_the_new_index(settings: Settings, embedder: Embedder) -> None:
    build(settings, embedder=embedder)
    add_and_change(settings.articles)
    proc = run_build(settings, QA_TEST_KILL_AT="after-manifest")
    proc.wait(timeout=300)
    assert proc.returncode == -signal.SIGKILL
    texts, _ = snapshot(settings.index)
    assert ADDED[-1] in texts and texts[G20_2012].endswith("A late paragraph was added.")
    assert build(settings, embedder=embedder).up_to_date


def test_killed_at_random_moments_the_index_is_always_the_old_or_the_new_one(
    settings: Settings, embedder: Embedder, tmp_path: Path
) -> None:
    build(settings, embedder=embedder)
    saved = tmp_path / "saved-index"
    shutil.copytree(settings.index, saved)
    before = snapshot(settings.index)
    add_and_change(settings.articles)
    t0 = time.perf_counter()
    assert run_build(settings).wait(timeout=300) == 0
    full = time.perf_counter() - t0
    after = snapshot(settings.index)
    outcomes = []
    for fraction in (0.2, 0.5, 0.7, 0.85, 0.95, 1.0):
        shutil.rmtree(settings.index)
        shutil.copytree(saved, settings.index)
        proc = run_build(settings)
        time.sleep(full * fraction)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=60)
        state = snapshot(settings.index)  # loads every time: never a half-written index
        assert state in (before, after)
        outcomes.append(state == after)
    assert not outcomes[0]  # killed early: still the old index
