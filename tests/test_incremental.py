"""Incremental builds: only new chunks are embedded, and the result equals a full rebuild."""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path

import pytest

from qa.config import Settings
from qa.embed.embedder import Embedder
from qa.errors import ArticlesError
from qa.index.build import build
from qa.index.manifest import MANIFEST, require_manifest
from qa.index.store import Index
from tests.helpers import G8_2013, G20_2012, CountingEmbedder, news_corpus, write, write_story

QUESTIONS = [
    "Where did Obama meet Putin in 2013?",
    "How long did the meeting in Mexico last?",
    "Who won the Coastal Cup final?",
    "What is the capital of Westmark?",
    "How far did the Halvard glacier retreat last summer?",
    "What did Putin say about Syria?",
]


def top(index_dir: Path, embedder: Embedder, k: int = 8) -> list[list[tuple[str, int, int, float]]]:
    index = Index.load(index_dir)
    return [
        [
            (p.chunk.article, p.chunk.start, p.chunk.end, round(p.score, 4))
            for p in index.search(embedder.embed_query(q), k)
        ]
        for q in QUESTIONS
    ]


def fresh_build(folder: Path, tmp_path: Path, embedder: Embedder) -> Path:
    index_dir = tmp_path / f"fresh-{len(list(tmp_path.iterdir()))}"
    build(Settings(index=index_dir, articles=folder), embedder=embedder)
    return index_dir


def test_adding_an_article_embeds_only_its_chunks(settings: Settings, counting: CountingEmbedder) -> None:
    first = build(settings, embedder=counting)  # type: ignore[arg-type]
    assert first.added == tuple(sorted(first.added)) and len(first.added) == 2
    assert len(counting.embedded) == first.chunks_embedded == first.chunks
    counting.embedded.clear()
    news_corpus(settings.articles, 1, prefix="super")
    report = build(settings, embedder=counting)  # type: ignore[arg-type]
    assert report.added == ("super-001.txt",) and report.unchanged == 2
    assert report.chunks_embedded == len(counting.embedded) == report.chunks - first.chunks > 1
    title = "Geneva dispatch 1: Obama, Putin and Syria"
    assert all(t.startswith(f"{title}\n") for t in counting.embedded)  # the title rides along, nothing else


def test_add_change_and_remove_give_the_same_results_as_a_full_rebuild(
    settings: Settings, embedder: Embedder, tmp_path: Path
) -> None:
    folder = settings.articles
    build(settings, embedder=embedder)
    # add
    for name in ("cup-final.txt", "harbour-bridge.txt"):
        write_story(folder, name)
    write_story(folder, "glacier.txt", "nested/glacier.txt")
    report = build(settings, embedder=embedder)
    assert sorted(report.added) == ["cup-final.txt", "harbour-bridge.txt", "nested/glacier.txt"]
    assert top(settings.index, embedder) == top(fresh_build(folder, tmp_path, embedder), embedder)
    # change
    seed = folder / G8_2013
    seed.write_text(seed.read_text().replace("stretched two hours Monday", "stretched three hours Monday"))
    report = build(settings, embedder=embedder)
    assert report.changed == (G8_2013,) and not report.added and not report.removed
    assert top(settings.index, embedder) == top(fresh_build(folder, tmp_path, embedder), embedder)
    assert "three hours" in Index.load(settings.index).articles[G8_2013].text
    # remove
    (folder / "cup-final.txt").unlink()
    report = build(settings, embedder=embedder)
    assert report.removed == ("cup-final.txt",)
    after = top(settings.index, embedder)
    assert after == top(fresh_build(folder, tmp_path, embedder), embedder)
    assert all(hit[0] != "cup-final.txt" for hits in after for hit in hits)


def test_unchanged_folder_is_up_to_date_and_writes_nothing(settings: Settings, counting: CountingEmbedder) -> None:
    build(settings, embedder=counting)  # type: ignore[arg-type]
    before = {p.name: p.stat().st_mtime_ns for p in settings.index.iterdir()}
    counting.embedded.clear()
    report = build(settings, embedder=counting)  # type: ignore[arg-type]
    assert report.up_to_date and report.unchanged == 2 and counting.embedded == []
    assert {p.name: p.stat().st_mtime_ns for p in settings.index.iterdir()} == before


def test_same_text_in_two_files_is_indexed_once_and_both_ids_are_reported(
    settings: Settings, counting: CountingEmbedder
) -> None:
    build(settings, embedder=counting)  # type: ignore[arg-type]
    original = G20_2012
    shutil.copy(settings.articles / original, settings.articles / "copy" / "again.txt") if (
        settings.articles / "copy"
    ).mkdir() is None else None
    counting.embedded.clear()
    report = build(settings, embedder=counting)  # type: ignore[arg-type]
    assert report.duplicates == {original: ["copy/again.txt"]}
    assert counting.embedded == [] and report.articles == 2
    assert require_manifest(settings.index).articles[original].also == ("copy/again.txt",)
    # the original goes away: the copy, unchanged on disk, is now the one indexed
    (settings.articles / original).unlink()
    report = build(settings, embedder=counting)  # type: ignore[arg-type]
    assert report.added == ("copy/again.txt",) and report.removed == (original,)
    assert "copy/again.txt" in Index.load(settings.index).articles


def test_unreadable_or_emptied_input_loses_nothing_from_the_index(settings: Settings, embedder: Embedder) -> None:
    build(settings, embedder=embedder)
    seed = settings.articles / G20_2012
    before = top(settings.index, embedder)
    seed.unlink()
    seed.symlink_to(settings.articles / "missing-target.txt")  # now unreadable
    report = build(settings, embedder=embedder)
    assert report.kept == (G20_2012,) and not report.removed
    assert "cannot read" in str(report.problems[0])
    assert top(settings.index, embedder) == before
    # a folder that holds nothing readable any more is an error, and the index stays as it was
    manifest = (settings.index / MANIFEST).read_text()
    for p in settings.articles.iterdir():
        p.unlink()
    write(settings.articles, "broken.txt", b"\x00\x01binary")
    with pytest.raises(ArticlesError, match="nothing readable"):
        build(settings, embedder=embedder)
    shutil.rmtree(settings.articles)
    with pytest.raises(ArticlesError, match="does not exist"):
        build(settings, embedder=embedder)
    assert (settings.index / MANIFEST).read_text() == manifest
    assert top(settings.index, embedder) == before


def test_removals_that_leave_mostly_dead_vectors_compact_without_changing_results(
    settings: Settings, embedder: Embedder, tmp_path: Path
) -> None:
    for i in range(30):
        write(
            settings.articles, f"note{i}.txt", f"Note {i}\n\nThe committee met {i + 2} times in Geneva on the treaty."
        )
    build(settings, embedder=embedder)
    for i in range(25):
        (settings.articles / f"note{i}.txt").unlink()
    report = build(settings, embedder=embedder)  # 16 of 41 vectors still live
    assert report.compacted and len(report.removed) == 25
    m = require_manifest(settings.index)
    assert sum(m.segment_rows.values()) == m.counts()["chunks"] == m.chunks
    assert len(list(settings.index.glob("*.faiss"))) == len(m.segments) == 1  # old segments are deleted
    assert top(settings.index, embedder) == top(fresh_build(settings.articles, tmp_path, embedder), embedder)


def test_many_small_adds_are_merged_into_one_segment(settings: Settings, embedder: Embedder) -> None:
    build(settings, embedder=embedder)
    for i in range(17):
        write(settings.articles, f"brief{i}.txt", f"Brief {i}\n\nCouncil item number {i} was approved.")
        build(settings, embedder=embedder)
    m = require_manifest(settings.index)
    assert len(m.segments) <= 16
    assert m.counts()["articles"] == 19
    index = Index.load(settings.index)
    assert len(index) == m.counts()["chunks"] and len(index.articles) == 19


def test_rebuild_re_embeds_everything_and_cleans_old_segments(settings: Settings, counting: CountingEmbedder) -> None:
    build(settings, embedder=counting)  # type: ignore[arg-type]
    old_segments = set(require_manifest(settings.index).segments)
    counting.embedded.clear()
    report = build(settings, rebuild=True, embedder=counting)  # type: ignore[arg-type]
    assert len(counting.embedded) == report.chunks
    assert not old_segments & set(require_manifest(settings.index).segments)
    assert not any(p.name.startswith(tuple(old_segments)) for p in settings.index.iterdir())
    assert json.loads((settings.index / MANIFEST).read_text())["counts"]["articles"] == 2
    assert not [p for p in os.listdir(settings.index) if ".tmp-" in p]


def test_files_older_than_a_second_with_the_same_size_and_mtime_are_not_read_again(
    settings: Settings, embedder: Embedder, monkeypatch: pytest.MonkeyPatch
) -> None:
    import qa.index.changes

    hour_ago = time.time() - 3600
    for p in settings.articles.iterdir():
        os.utime(p, (hour_ago, hour_ago))
    build(settings, embedder=embedder)
    hashed: list[int] = []
    real_digest = qa.index.changes.file_digest
    monkeypatch.setattr(qa.index.changes, "file_digest", lambda data: hashed.append(len(data)) or real_digest(data))
    assert build(settings, embedder=embedder).up_to_date and hashed == []
    seed = settings.articles / G20_2012
    os.utime(seed, (hour_ago + 5, hour_ago + 5))  # touched, same bytes: hashed, found unchanged
    assert build(settings, embedder=embedder).up_to_date and len(hashed) == 1
    seed.write_text(seed.read_text().replace("two hours", "six hours"))  # same size, new bytes
    os.utime(seed, (hour_ago + 9, hour_ago + 9))
    assert build(settings, embedder=embedder).changed == (G20_2012,)


def test_an_index_written_without_sentence_runs_gets_them_on_the_next_build_without_re_embedding(
    settings: Settings, counting: CountingEmbedder, embedder: Embedder, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import qa.index.store

    with monkeypatch.context() as old_qa:  # what qa wrote before the runs were stored
        old_qa.setattr(qa.index.store, "sentence_runs", lambda titles, texts, tokens: None)
        build(settings, embedder=counting)  # type: ignore[arg-type]
    assert set(Index.load(settings.index).runs) == {None}
    counting.embedded.clear()
    report = build(settings, embedder=counting)  # type: ignore[arg-type]
    assert counting.embedded == [] and report.compacted and not report.added
    updated = Index.load(settings.index)
    fresh = Index.load(fresh_build(settings.articles, tmp_path, embedder))
    assert None not in updated.runs and updated.runs == fresh.runs and updated.tokens == fresh.tokens
    assert top(settings.index, embedder) == top(fresh.dir, embedder)
    assert build(settings, embedder=counting).up_to_date  # type: ignore[arg-type]


def test_an_index_from_an_older_tokenizer_is_updated_in_place_without_re_embedding(
    settings: Settings, counting: CountingEmbedder, embedder: Embedder, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import qa.index.build
    import qa.text
    from qa.errors import IndexMismatchError
    from qa.index.build import check_index

    with monkeypatch.context() as old_qa:  # what qa wrote before irregular verbs were read as their base form
        old_qa.setattr(qa.index.build, "TOKENIZER", "bm25s-en-snowball")
        old_qa.setattr(qa.text, "_IRREGULAR", {})
        build(settings, embedder=counting)  # type: ignore[arg-type]
    assert "said" in {t for toks in Index.load(settings.index).tokens for t in toks}
    with pytest.raises(IndexMismatchError, match=r"older qa .* run `qa index build` to update it"):
        check_index(settings)
    counting.embedded.clear()
    report = build(settings, embedder=counting)  # type: ignore[arg-type]
    assert counting.embedded == [] and report.compacted and not report.added
    check_index(settings)
    updated = Index.load(settings.index)
    fresh = Index.load(fresh_build(settings.articles, tmp_path, embedder))
    assert "said" not in {t for toks in updated.tokens for t in toks}
    assert updated.tokens == fresh.tokens
    assert top(settings.index, embedder) == top(fresh.dir, embedder)
