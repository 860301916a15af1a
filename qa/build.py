"""Build or update the index from an articles folder: only new and changed articles are embedded."""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import os
import secrets
import signal
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from qa import __version__
from qa.chunk import chunk_article
from qa.config import Settings
from qa.embed import Embedder, load_embedder, model_id
from qa.errors import ArticlesError, IndexBusyError
from qa.ingest import FileRead, Listed, content_hash, file_digest, read_file, scan_files, text_hash
from qa.lexical import TOKENIZER, tokenize
from qa.store import (
    FORMAT,
    Index,
    check_compatible,
    read_manifest,
    remove_orphans,
    require_manifest,
    write_manifest,
    write_segment,
)
from qa.types import Article, Problem

# Rewrite everything into one segment when the index has this many segments, or when less than
# this share of the stored vectors is still live: keeps loading fast without making small adds slow.
_MAX_SEGMENTS = 16
_MIN_LIVE_SHARE = 0.5


@dataclass
class BuildReport:
    added: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    unchanged: int = 0
    duplicates: dict[str, list[str]] = field(default_factory=dict)  # indexed id -> other ids, same text
    problems: list[Problem] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)  # articles of unreadable files, kept from the old index
    chunks_embedded: int = 0
    articles: int = 0
    chunks: int = 0
    compacted: bool = False
    seconds: float = 0.0

    @property
    def up_to_date(self) -> bool:
        return not (self.added or self.changed or self.removed)


def chunker_settings(settings: Settings) -> dict[str, Any]:
    return {
        "size": settings.chunk_size,
        "overlap": settings.chunk_overlap,
        "splitter": "blingfire",
        "embed": "title+text",
        "tokenizer": TOKENIZER,
    }


def embed_text(article: Article, text: str) -> str:
    """What the model reads for a chunk: the title gives context; what is stored and shown is the text alone."""
    return f"{article.title}\n{text}"


def check_index(settings: Settings) -> None:
    """Refuse to search an index built with other settings than these (model, chunker, format)."""
    manifest = require_manifest(settings.index)
    check_compatible(manifest, model_id(settings.model), chunker_settings(settings), settings.index)


def _failpoint(name: str) -> None:
    # Lets the crash-safety tests kill a build at an exact step (QA_TEST_KILL_AT=<name>).
    if os.environ.get("QA_TEST_KILL_AT") == name:
        os.kill(os.getpid(), signal.SIGKILL)


@contextlib.contextmanager
def _locked(index_dir: Path) -> Iterator[None]:
    index_dir.mkdir(parents=True, exist_ok=True)
    with open(index_dir / ".lock", "a") as lock:  # "a": never truncates, leaves mtime alone
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise IndexBusyError(f"another build is updating {index_dir}: wait for it to finish") from None
        yield


def build(
    settings: Settings, *, rebuild: bool = False, embedder: Embedder | None = None, progress: bool = False
) -> BuildReport:
    """Bring the index in `settings.index` up to date with `settings.articles`."""
    t0 = time.perf_counter()
    scan_ns = time.time_ns()
    files, problems = scan_files(settings.articles)  # fails before touching the index
    index_dir = settings.index
    mid = model_id(settings.model)
    chunker = chunker_settings(settings)
    with _locked(index_dir):
        old = None if rebuild else read_manifest(index_dir)
        # An index whose only difference is the keyword tokenizer (a qa upgrade) keeps its vectors: its stored
        # chunk texts are tokenized again below, nothing is re-embedded.
        retokenize = old is not None and old["chunker"] != chunker and _tokenizer_only(old["chunker"], chunker)
        if old is not None:
            check_compatible(old, mid, old["chunker"] if retokenize else chunker, index_dir)
        report = BuildReport(problems=problems)
        old_articles: dict[str, dict[str, Any]] = old["articles"] if old else {}
        old_files: dict[str, dict[str, Any]] = old["files"] if old else {}

        # 1. Read what changed; reuse what the manifest already knows for files whose bytes are the same.
        current: dict[str, dict[str, Any]] = {}  # article id -> entry (hash, text_hash, file, ...)
        parsed: dict[str, Article] = {}
        files_out: dict[str, dict[str, Any]] = {}
        for listed in files:
            rel = listed.rel
            known = old_files.get(rel)
            stat = _stat(listed, scan_ns)
            reused = known if known is not None and stat is not None and known.get("stat") == stat else None
            if reused is not None and all(aid in old_articles for aid in reused["articles"]):  # nothing to read
                files_out[rel] = reused
                for aid in reused["articles"]:
                    current[aid] = old_articles[aid]
                continue
            got = _read_or_reuse(listed, known, old_articles)
            report.problems.extend(got.problems)
            if got.digest is None:  # unreadable now: keep what was indexed from it
                if known:
                    files_out[rel] = known
                    for aid in known["articles"]:
                        if aid in old_articles:
                            current[aid] = old_articles[aid]
                            report.kept.append(aid)
                continue
            files_out[rel] = {"hash": got.digest, "articles": [a.id for a in got.articles]}
            if stat is not None:
                files_out[rel]["stat"] = stat
            for a in got.articles:
                if a.text:  # a stub from the manifest has no text; a parsed article does
                    parsed[a.id] = a
                # a stub (file unchanged) stands for an article the manifest already holds
                current[a.id] = _entry(a, rel) if a.text else old_articles[a.id]
        if not current:
            raise ArticlesError(
                f"nothing readable in {settings.articles} ({len(report.problems)} files or lines skipped): "
                "fix the files named above"
            )

        # 2. The same text in two files is indexed once; prefer the copy already in the index.
        canonical: dict[str, str] = {}
        for aid in sorted(current, key=lambda a: (a not in old_articles, a)):
            th = current[aid]["text_hash"]
            if th in canonical:
                report.duplicates.setdefault(canonical[th], []).append(aid)
            else:
                canonical[th] = aid
        live_ids = sorted(canonical.values())

        # 3. Diff against the old manifest.
        to_embed: list[Article] = []
        new_entries: dict[str, dict[str, Any]] = {}
        for aid in live_ids:
            entry, prev = current[aid], old_articles.get(aid)
            if prev is not None and prev["hash"] == entry["hash"] and "segment" in prev:
                new_entries[aid] = dict(prev)
                report.unchanged += 1
                continue
            article = parsed.get(aid) or _reparse(settings.articles, entry["file"], aid)
            to_embed.append(article)
            (report.changed if prev is not None else report.added).append(aid)
            new_entries[aid] = _entry(article, entry["file"])
        report.removed = sorted(set(old_articles) - set(new_entries))
        for aid, entry in new_entries.items():
            also = report.duplicates.get(aid)
            entry["also"] = sorted(also) if also else []

        if old is not None and report.up_to_date and not retokenize and _same_aliases(old_articles, new_entries):
            report.articles, report.chunks = old["counts"]["articles"], old["counts"]["chunks"]
            report.seconds = time.perf_counter() - t0
            return report

        # 4. Chunk and embed only what is new, into a new segment.
        manifest = _next_manifest(old, mid, chunker)
        next_id: int = manifest["next_chunk_id"]
        if to_embed:
            emb = embedder or load_embedder(settings.model, settings.batch_size)
            manifest["model"] = {"id": mid, "dim": emb.dim}
            chunks, texts, owners = [], [], []
            for article in to_embed:
                for c in chunk_article(article, settings.chunk_size, settings.chunk_overlap):
                    chunks.append(c)
                    texts.append(embed_text(article, c.text))
                    owners.append(article.id)
            vectors = emb.embed_documents(texts, progress=progress)
            tokens = tokenize(texts)
            report.chunks_embedded = len(chunks)
            ids = np.arange(next_id, next_id + len(chunks), dtype=np.int64)
            seg = _new_segment(manifest, len(chunks))
            write_segment(index_dir, seg, ids, chunks, vectors, tokens, to_embed)
            _failpoint("segment-written")
            manifest["segments"].append(seg)
            for article in to_embed:
                n = owners.count(article.id)
                new_entries[article.id].update(segment=seg, chunks=[next_id, next_id + n])
                next_id += n
            manifest["next_chunk_id"] = next_id
        manifest["articles"] = new_entries
        manifest["files"] = files_out
        _finish(manifest, report)
        if retokenize or _needs_compaction(manifest):
            _compact(index_dir, manifest, retokenize=retokenize)
            report.compacted = True
        _failpoint("before-manifest")
        write_manifest(index_dir, manifest)
        _failpoint("after-manifest")
        remove_orphans(index_dir, manifest)
    report.seconds = time.perf_counter() - t0
    return report


def _stat(listed: Listed, scan_ns: int) -> list[int] | None:
    """(size, mtime) of a file old enough to be trusted: one written within the last second may change
    again without its mtime moving (coarse kernel clocks), so it is always hashed (git's "racy clean")."""
    if listed.mtime_ns < 0:
        return None
    return [listed.size, listed.mtime_ns] if listed.mtime_ns < scan_ns - 1_000_000_000 else None


def _read_or_reuse(listed: Listed, known: dict[str, Any] | None, old_articles: dict[str, dict[str, Any]]) -> FileRead:
    """Parse a file whose size or mtime is not the one recorded (the same ones mean the same file, as git
    assumes: build() skips those), unless its bytes hash the same as last time: then stubs (id only) stand
    for its articles."""
    if known is not None and all(aid in old_articles for aid in known["articles"]):
        stubs = [Article(id=aid, title="", text="") for aid in known["articles"]]
        try:
            digest = file_digest(Path(listed.path).read_bytes())
        except OSError:
            digest = None
        if digest == known["hash"]:
            return FileRead(listed.rel, digest, stubs)
    return read_file(listed.rel, Path(listed.path))


def _reparse(folder: Path, rel: str, aid: str) -> Article:
    """An article known only by its manifest entry (an alias whose original went away) needs its text."""
    for a in read_file(rel, folder / rel).articles:
        if a.id == aid:
            return a
    raise ArticlesError(f"{folder / rel} changed while the index was being built: run the build again")


def _entry(a: Article, rel: str) -> dict[str, Any]:
    return {
        "hash": content_hash(a),
        "text_hash": text_hash(a.text),
        "file": rel,
        "title": a.title,
        "date": a.date,
        "source": a.source,
        "url": a.url,
    }


def _same_aliases(old: dict[str, dict[str, Any]], new: dict[str, dict[str, Any]]) -> bool:
    return all(old[aid].get("also", []) == entry["also"] for aid, entry in new.items())


def _next_manifest(old: dict[str, Any] | None, mid: str, chunker: dict[str, Any]) -> dict[str, Any]:
    base = {
        "format": FORMAT,
        "qa_version": __version__,
        "model": {"id": mid, "dim": 0},
        "chunker": chunker,
        "next_chunk_id": 0,
        "next_segment": 0,
        "segments": [],
        "segment_rows": {},
    }
    if old is not None:
        base.update(
            model=old["model"],
            next_chunk_id=old["next_chunk_id"],
            next_segment=old["next_segment"],
            segments=list(old["segments"]),
            segment_rows=dict(old["segment_rows"]),
        )
    return base


def _finish(manifest: dict[str, Any], report: BuildReport) -> None:
    entries = manifest["articles"]
    used = {e["segment"] for e in entries.values()}
    manifest["segments"] = [s for s in manifest["segments"] if s in used]
    manifest["segment_rows"] = {s: manifest["segment_rows"][s] for s in manifest["segments"]}
    report.articles = len(entries)
    report.chunks = sum(e["chunks"][1] - e["chunks"][0] for e in entries.values())
    manifest["built_at"] = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    manifest["counts"] = {"articles": report.articles, "chunks": report.chunks, "files": len(manifest["files"])}
    manifest["qa_version"] = __version__


def _needs_compaction(manifest: dict[str, Any]) -> bool:
    if len(manifest["segments"]) > _MAX_SEGMENTS:
        return True
    stored = sum(manifest["segment_rows"].values())
    return manifest["counts"]["chunks"] < _MIN_LIVE_SHARE * stored


def _tokenizer_only(old: dict[str, Any], new: dict[str, Any]) -> bool:
    return {**old, "tokenizer": None} == {**new, "tokenizer": None}


def _compact(index_dir: Path, manifest: dict[str, Any], retokenize: bool = False) -> None:
    """Rewrite every live vector into one segment (no re-embedding: vectors are read back); with `retokenize`,
    the chunks' keyword tokens are made again from their stored text with the current tokenizer."""
    current = Index(index_dir, manifest)
    tokens = current.tokens
    if retokenize:
        tokens = tokenize([embed_text(current.articles[c.article], c.text) for c in current.chunks])
    seg = _new_segment(manifest, len(current.ids))
    write_segment(index_dir, seg, current.ids, current.chunks, current.vectors, tokens, list(current.articles.values()))
    for entry in manifest["articles"].values():
        entry["segment"] = seg
    manifest["segments"] = [seg]
    manifest["segment_rows"] = {seg: len(current.ids)}


def _new_segment(manifest: dict[str, Any], rows: int) -> str:
    # The random part keeps a name from ever matching a live file, even on --rebuild.
    seg = f"seg-{manifest['next_segment']:06d}-{secrets.token_hex(3)}"
    manifest["next_segment"] += 1
    manifest["segment_rows"][seg] = rows
    return seg
