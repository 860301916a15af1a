"""Build or update the index from an articles folder: only new and changed articles are embedded.

The folder is scanned and compared with the manifest (qa.index.changes); the new articles are chunked and embedded
into one new segment; then the manifest is replaced, atomically and last. A build that fails or is killed at any
step leaves the previous manifest pointing at files it never touched.
"""

from __future__ import annotations

import contextlib
import fcntl
import functools
import os
import secrets
import signal
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from qa import __version__
from qa.config import Settings
from qa.embed.base import model_id
from qa.embed.embedder import Embedder, embedder_for
from qa.errors import IndexBusyError
from qa.index.changes import Changes, find_changes, read_here, same_aliases
from qa.index.lexical import has_runs
from qa.index.manifest import Manifest, check_compatible, now, read_manifest, require_manifest, write_manifest
from qa.index.store import Index, damaged, remove_orphans, seg_files, write_segment
from qa.ingest.chunk import chunk_article
from qa.ingest.read import FileRead
from qa.ingest.scan import Listed, scan_files
from qa.text import TOKENIZER, tokenize
from qa.types import Article, Problem

# Rewrite everything into one segment when the index has this many segments, or when less than
# this share of the stored vectors is still live: keeps loading fast without making small adds slow.
_MAX_SEGMENTS = 16
_MIN_LIVE_SHARE = 0.5


@dataclass(frozen=True, slots=True)
class BuildReport:
    """What a build did (`qa index build --json`)."""

    index: str
    added: tuple[str, ...] = ()
    changed: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()
    unchanged: int = 0
    duplicates: dict[str, list[str]] = field(default_factory=dict)  # indexed id -> other ids, same text
    problems: tuple[Problem, ...] = ()
    kept: tuple[str, ...] = ()  # articles of unreadable files, kept from the old index
    chunks_embedded: int = 0
    articles: int = 0
    chunks: int = 0
    compacted: bool = False
    seconds: float = 0.0
    repaired: tuple[str, ...] = ()  # damaged segments whose articles were embedded again: what was wrong
    large: tuple[str, ...] = ()  # "file: size" of the article files over the size limit that were read

    @property
    def up_to_date(self) -> bool:
        return not (self.added or self.changed or self.removed or self.repaired)

    @classmethod
    def of(cls, index: Path, changes: Changes, manifest: Manifest, **more: Any) -> BuildReport:
        return cls(
            index=str(index),
            added=tuple(changes.added),
            changed=tuple(changes.changed),
            removed=tuple(changes.removed),
            unchanged=changes.unchanged,
            duplicates=changes.duplicates,
            problems=tuple(changes.problems),
            kept=tuple(changes.kept),
            large=tuple(changes.large),
            articles=len(manifest.articles),
            chunks=manifest.chunks,
            **more,
        )

    def warnings(self, large_article_mb: float) -> list[str]:
        """One line for each file skipped or kept, each large article and each repaired segment: what `qa index
        build` and `qa serve` print on stderr."""
        lines = [f"warning: skipped {problem}" for problem in self.problems]
        lines += [f"warning: kept the indexed version of {aid} (its file could not be read)" for aid in self.kept]
        lines += [
            f"warning: {line}, over the {large_article_mb:g} MB an article usually is: indexed, but an article this "
            "long takes minutes to embed (QA_LARGE_ARTICLE_MB sets the limit)"
            for line in self.large
        ]
        lines += [
            f"warning: the index was damaged ({line}): its articles were embedded again" for line in self.repaired
        ]
        return lines

    def to_dict(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "articles": self.articles,
            "chunks": self.chunks,
            "added": list(self.added),
            "changed": list(self.changed),
            "removed": list(self.removed),
            "unchanged": self.unchanged,
            "chunks_embedded": self.chunks_embedded,
            "duplicates": self.duplicates,
            "kept": list(self.kept),
            "skipped": [str(p) for p in self.problems],
            "seconds": round(self.seconds, 3),
            **({"repaired": list(self.repaired)} if self.repaired else {}),
            **({"large": list(self.large)} if self.large else {}),
        }


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


def _reader(settings: Settings, progress: bool) -> Callable[[list[Listed]], list[FileRead]]:
    """How the new and changed files are parsed: on the cluster the settings name, else here."""
    if not settings.ray_address:
        return read_here
    from qa.index.cluster import read_on_cluster

    return functools.partial(read_on_cluster, progress=progress)


def build(
    settings: Settings, *, rebuild: bool = False, embedder: Embedder | None = None, progress: bool = False
) -> BuildReport:
    """Bring the index in `settings.index` up to date with `settings.articles`."""
    t0 = time.perf_counter()
    if settings.ray_address:
        from qa.index.cluster import connect

        connect(settings.ray_address)  # no cluster there: one line, before anything is read or written
    scan_ns = time.time_ns()
    files, problems = scan_folders(settings)  # fails before touching the index
    index_dir = settings.index
    mid = model_id(settings.model)
    chunker = chunker_settings(settings)
    with _locked(index_dir):
        old = None if rebuild else read_manifest(index_dir)
        # An index whose only difference is the keyword tokenizer (a qa upgrade) keeps its vectors: its stored
        # chunk texts are tokenized again below, nothing is re-embedded.
        retokenize = old is not None and old.chunker != chunker and _tokenizer_only(old.chunker, chunker)
        repaired: list[str] = []
        if old is not None:
            check_compatible(old, mid, old.chunker if retokenize else chunker, index_dir)
            old, repaired = _without_damaged(index_dir, old)
        large = int(settings.large_article_mb * 2**20)
        changes = find_changes(settings.articles, files, old, scan_ns, large, _reader(settings, progress))
        changes.problems[:0] = problems
        # An index written before the chunks' sentence runs were stored (qa.index.lexical) gets them the same way.
        runless = old is not None and not all(has_runs(index_dir / seg_files(seg)[3]) for seg in old.segments)
        if old is not None and changes.none and not (retokenize or runless or repaired) and same_aliases(old, changes):
            return BuildReport.of(index_dir, changes, old, seconds=time.perf_counter() - t0)

        manifest = _next_manifest(old, mid, chunker)
        embedded = 0
        if changes.to_embed:
            embedded = _embed_segment(index_dir, manifest, changes, embedder, settings, progress)
        manifest.articles = changes.entries
        manifest.files = changes.files
        _finish(manifest)
        compacted = retokenize or runless or _needs_compaction(manifest)
        if compacted:
            _compact(index_dir, manifest, retokenize=retokenize)
        _failpoint("before-manifest")
        write_manifest(index_dir, manifest)
        _failpoint("after-manifest")
        remove_orphans(index_dir, manifest)
    seconds = time.perf_counter() - t0
    return BuildReport.of(
        index_dir, changes, manifest, chunks_embedded=embedded, compacted=compacted, seconds=seconds,
        repaired=tuple(repaired),
    )  # fmt: skip


UPLOADS = "uploads/"  # the ids of articles uploaded from the chat (Settings.uploads) start with it


def scan_folders(settings: Settings) -> tuple[list[Listed], list[Problem]]:
    """The articles folder's files and, when it is there, the uploads folder's (ids "uploads/<name>")."""
    files, problems = scan_files(settings.articles, settings.follow_links)
    uploads = settings.uploads
    if uploads.is_dir() and uploads.resolve() != settings.articles.resolve():
        more, skipped = scan_files(uploads, settings.follow_links, prefix=UPLOADS, required=False)
        taken = {f.rel for f in files}
        files = sorted(files + [f for f in more if f.rel not in taken])
        problems += skipped
    return files, problems


def _without_damaged(index_dir: Path, old: Manifest) -> tuple[Manifest, list[str]]:
    """The old manifest without the segments whose files are damaged (qa.index.store.damaged): their articles are
    then new to the build, which embeds them again. Returns it and what was wrong, one line a segment."""
    bad = damaged(index_dir, old)
    if not bad:
        return old, []
    kept = replace(
        old,
        articles={aid: e for aid, e in old.articles.items() if e.segment not in bad},
        segments=[s for s in old.segments if s not in bad],
        segment_rows={s: n for s, n in old.segment_rows.items() if s not in bad},
    )
    # a file whose articles are to be read again must be hashed, not trusted by its size and time
    kept.files = {rel: f for rel, f in old.files.items() if all(a in kept.articles for a in f.articles)}
    return kept, [f"{seg}: {why}" for seg, why in bad.items()]


def _embed_segment(
    index_dir: Path,
    manifest: Manifest,
    changes: Changes,
    embedder: Embedder | None,
    settings: Settings,
    progress: bool,
) -> int:
    """Chunk and embed the articles to embed into one new segment, here with `embedder` (default: the settings'
    model) or on the Ray cluster the settings name (qa.index.cluster); their entries get its chunk ids. Returns
    the number of chunks embedded."""
    if settings.ray_address:
        from qa.index.cluster import embed_on_cluster

        chunks, vectors, tokens = embed_on_cluster(changes.to_embed, settings, progress)
        if len(chunks):
            manifest.dim = int(vectors.shape[1])
    else:
        embedder = embedder or embedder_for(settings)
        manifest.dim = embedder.dim
        chunks, texts = [], []
        for article in changes.to_embed:
            for c in chunk_article(article, settings.chunk_size, settings.chunk_overlap):
                chunks.append(c)
                texts.append(embed_text(article, c.text))
        vectors = embedder.embed_documents(texts, progress=progress)
        tokens = tokenize(texts)
    owners = [c.article for c in chunks]
    next_id = manifest.next_chunk_id
    ids = np.arange(next_id, next_id + len(chunks), dtype=np.int64)
    seg = _new_segment(manifest, len(chunks))
    manifest.file_sizes.update(write_segment(index_dir, seg, ids, chunks, vectors, tokens, changes.to_embed))
    _failpoint("segment-written")
    manifest.segments.append(seg)
    counts = Counter(owners)
    for article in changes.to_embed:
        n = counts[article.id]
        changes.entries[article.id] = replace(changes.entries[article.id], segment=seg, chunks=(next_id, next_id + n))
        next_id += n
    manifest.next_chunk_id = next_id
    return len(chunks)


def _next_manifest(old: Manifest | None, mid: str, chunker: dict[str, Any]) -> Manifest:
    if old is None:
        return Manifest(model_id=mid, dim=0, chunker=chunker)
    return Manifest(
        model_id=old.model_id,
        dim=old.dim,
        chunker=chunker,
        next_chunk_id=old.next_chunk_id,
        next_segment=old.next_segment,
        segments=list(old.segments),
        segment_rows=dict(old.segment_rows),
        file_sizes=dict(old.file_sizes),
    )


def _finish(manifest: Manifest) -> None:
    used = {e.segment for e in manifest.articles.values()}
    manifest.segments = [s for s in manifest.segments if s in used]
    manifest.segment_rows = {s: manifest.segment_rows[s] for s in manifest.segments}
    names = {name for seg in manifest.segments for name in seg_files(seg)}
    manifest.file_sizes = {name: size for name, size in manifest.file_sizes.items() if name in names}
    manifest.built_at = now()
    manifest.qa_version = __version__


def _needs_compaction(manifest: Manifest) -> bool:
    if len(manifest.segments) > _MAX_SEGMENTS:
        return True
    return manifest.chunks < _MIN_LIVE_SHARE * sum(manifest.segment_rows.values())


def _tokenizer_only(old: dict[str, Any], new: dict[str, Any]) -> bool:
    return {**old, "tokenizer": None} == {**new, "tokenizer": None}


def _compact(index_dir: Path, manifest: Manifest, retokenize: bool = False) -> None:
    """Rewrite every live vector into one segment (no re-embedding: vectors are read back), with the chunks'
    sentence runs; with `retokenize`, the chunks' keyword tokens are made again from their stored text with the
    current tokenizer."""
    current = Index(index_dir, manifest)
    tokens = current.tokens
    if retokenize:
        tokens = tokenize([embed_text(current.articles[c.article], c.text) for c in current.chunks])
    seg = _new_segment(manifest, len(current.ids))
    written = write_segment(
        index_dir, seg, current.ids, current.chunks, current.vectors, tokens, list(current.articles.values())
    )
    manifest.file_sizes = written
    manifest.articles = {aid: replace(e, segment=seg) for aid, e in manifest.articles.items()}
    manifest.segments = [seg]
    manifest.segment_rows = {seg: len(current.ids)}


def _new_segment(manifest: Manifest, rows: int) -> str:
    # The random part keeps a name from ever matching a live file, even on --rebuild.
    seg = f"seg-{manifest.next_segment:06d}-{secrets.token_hex(3)}"
    manifest.next_segment += 1
    manifest.segment_rows[seg] = rows
    return seg
