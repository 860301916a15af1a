"""The index on disk: manifest, search exactness, and refusing an index built with other settings."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from qa import __version__
from qa.config import Settings
from qa.embed.embedder import Embedder
from qa.errors import IndexMismatchError, IndexMissingError
from qa.index.build import build
from qa.index.manifest import MANIFEST, check_compatible, read_manifest, require_manifest
from qa.index.store import Index

QUESTIONS = [
    "Where did Obama meet Putin in 2013?",
    "How long did the G20 meeting last?",
    "How many deaths in the Syrian conflict?",
    "What did Hillary Clinton accuse Russia of?",
    "Who is the U.S. ambassador to Russia?",
]


def test_faiss_top_k_equals_brute_force_numpy_on_seeds(settings: Settings, embedder: Embedder) -> None:
    build(settings, embedder=embedder)
    index = Index.load(settings.index)
    assert len(index) == len(index.vectors) > 5
    assert np.allclose(np.linalg.norm(index.vectors, axis=1), 1.0, atol=1e-5)
    for q in QUESTIONS:
        qv = embedder.embed_query(q)
        got = index.search(qv, 5)
        scores = index.vectors @ qv
        order = np.argsort(-scores, kind="stable")[:5]
        assert [p.chunk for p in got] == [index.chunks[i] for i in order]
        assert np.allclose([p.score for p in got], scores[order], atol=1e-5)
        assert [p.rank for p in got] == [1, 2, 3, 4, 5]


def test_search_returns_passages_whose_text_is_the_article_slice(settings: Settings, embedder: Embedder) -> None:
    build(settings, embedder=embedder)
    index = Index.load(settings.index)
    top = index.search(embedder.embed_query("An estimated 92,000 deaths have occurred in the two-year conflict"), 3)
    assert top[0].chunk.article == "002_0691e4ad82986c2d.txt"
    assert "92,000 deaths" in top[0].chunk.text
    for p in top:
        assert index.articles[p.chunk.article].text[p.chunk.start : p.chunk.end] == p.chunk.text
    with pytest.raises(ValueError, match="k must be greater than 0"):
        index.search(embedder.embed_query("x"), 0)


def test_manifest_records_model_chunker_hashes_counts_and_version(settings: Settings, embedder: Embedder) -> None:
    build(settings, embedder=embedder)
    m = json.loads((settings.index / MANIFEST).read_text())
    assert m["format"] == 2
    assert m["qa_version"] == __version__
    assert m["model"] == {"id": "all-MiniLM-L6-v2", "dim": 384}
    assert m["chunker"]["size"] == settings.chunk_size and m["chunker"]["overlap"] == settings.chunk_overlap
    assert m["counts"] == {"articles": 2, "chunks": len(Index.load(settings.index)), "files": 2}
    assert m["built_at"].startswith("20")
    for entry in m["articles"].values():
        assert len(entry["hash"]) == 64 and len(entry["text_hash"]) == 64
        assert entry["chunks"][1] > entry["chunks"][0]


def test_other_model_or_chunker_is_refused_with_the_fix(settings: Settings, embedder: Embedder) -> None:
    build(settings, embedder=embedder)
    m = require_manifest(settings.index)
    with pytest.raises(IndexMismatchError, match=r"built with model 'all-MiniLM-L6-v2'.*--rebuild.*QA_MODEL"):
        check_compatible(m, "some/other-model", m.chunker, settings.index)
    with pytest.raises(IndexMismatchError, match=r"chunker settings.*--rebuild"):
        build(settings.with_(chunk_size=600, chunk_overlap=100), embedder=embedder)
    assert require_manifest(settings.index) == m  # the refused build changed nothing


def test_unknown_format_or_damaged_files_name_the_rebuild(settings: Settings, embedder: Embedder) -> None:
    build(settings, embedder=embedder)
    path = settings.index / MANIFEST
    m = json.loads(path.read_text())
    seg = m["segments"][0]
    (settings.index / f"{seg}.chunks.jsonl").write_text("{broken")
    with pytest.raises(IndexMismatchError, match=r"damaged.*--rebuild"):
        Index.load(settings.index)
    path.write_text(json.dumps({**m, "format": 99}))
    with pytest.raises(IndexMismatchError, match=r"format 99.*--rebuild"):
        read_manifest(settings.index)
    path.write_text("{not json")
    with pytest.raises(IndexMismatchError, match=r"cannot be read.*--rebuild"):
        read_manifest(settings.index)


def test_missing_index_names_the_build_command(tmp_path: Path) -> None:
    with pytest.raises(IndexMissingError, match="qa index build"):
        Index.load(tmp_path / "nothing")


def test_a_manifest_key_missing_or_of_the_wrong_type_is_named_with_the_fix(
    settings: Settings, embedder: Embedder
) -> None:
    build(settings, embedder=embedder)
    path = settings.index / MANIFEST
    good = json.loads(path.read_text())
    assert read_manifest(settings.index) == require_manifest(settings.index)  # one loader
    aid = next(iter(good["articles"]))
    cases = [
        (lambda m: m.pop("next_chunk_id"), r"key 'next_chunk_id' is missing"),
        (lambda m: m.update(segments="seg-1"), r"key 'segments' is not a list"),
        (lambda m: m["model"].update(dim="384"), r"model: key 'dim' is not an int"),
        (lambda m: m["articles"][aid].update(chunks=[3]), rf"articles\['{aid}'\]: key 'chunks' is not a pair"),
        (lambda m: m["articles"][aid].pop("hash"), r"key 'hash' is missing"),
        (lambda m: m.update(articles=[]), r"key 'articles' is not a dict"),
    ]
    for change, message in cases:
        broken = json.loads(json.dumps(good))
        change(broken)
        path.write_text(json.dumps(broken))
        with pytest.raises(IndexMismatchError, match=rf"{message}.*--rebuild"):
            read_manifest(settings.index)
        with pytest.raises(IndexMismatchError, match=message):
            Index.load(settings.index)
    path.write_text(json.dumps(good))
    assert read_manifest(settings.index) is not None and read_manifest(settings.index).to_dict() == good


@pytest.mark.parametrize(
    ("damage", "says"),
    [
        ("truncate", "bytes, the manifest recorded"),
        ("delete", "is missing"),
        ("garble", "is not a FAISS index"),
    ],
)
def test_a_damaged_segment_is_found_and_an_incremental_build_embeds_only_what_it_held_again(
    settings: Settings, embedder: Embedder, damage: str, says: str
) -> None:
    from qa.index.store import damaged

    build(settings, embedder=embedder)
    write_path = settings.articles / "extra.txt"
    write_path.write_text("Bridge Opens\n\nThe new bridge over the Erne opened on Monday, the council said.\n")
    build(settings, embedder=embedder)  # a second segment, of one article
    manifest = require_manifest(settings.index)
    assert damaged(settings.index, manifest) == {} and len(manifest.segments) == 2
    extra = manifest.articles["extra.txt"].segment
    faiss_file = settings.index / f"{extra}.faiss"
    if damage == "truncate":
        faiss_file.write_bytes(faiss_file.read_bytes()[:100])
    elif damage == "delete":
        faiss_file.unlink()
    else:  # the same size, other bytes
        faiss_file.write_bytes(b"x" * faiss_file.stat().st_size)
    found = damaged(settings.index, manifest)
    assert list(found) == [extra] and says in found[extra]
    with pytest.raises(IndexMismatchError, match="is damaged") as loading:
        Index.load(settings.index)
    # the same reason on loading as in `qa index status`, where the load fails at all (the same size, other bytes
    # may still read as a FAISS index)
    assert says in str(loading.value) and "run `qa index build`" in str(loading.value)
    report = build(settings, embedder=embedder)
    assert report.repaired and says in report.repaired[0] and not report.up_to_date
    assert report.added == ("extra.txt",) and report.chunks_embedded == 1  # only what the segment held
    assert damaged(settings.index, require_manifest(settings.index)) == {}
    assert (
        "bridge over the Erne"
        in Index.load(settings.index).search(embedder.embed_query("Erne bridge"), 1)[0].chunk.text
    )


def test_the_manifest_records_each_segment_files_size(settings: Settings, embedder: Embedder) -> None:
    build(settings, embedder=embedder)
    manifest = require_manifest(settings.index)
    (seg,) = manifest.segments
    for name, size in manifest.file_sizes.items():
        assert name.startswith(seg) and (settings.index / name).stat().st_size == size
    assert len(manifest.file_sizes) == 4
