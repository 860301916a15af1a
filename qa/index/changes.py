"""What changed in the articles folder since the index was built: the first half of a build (qa.index.build).

Files whose size and mtime are the ones the manifest recorded are taken as they are (as git does); the others are
hashed, and parsed only when their bytes changed. The same text in two files is indexed once. The result says
which articles are new, changed, removed or unchanged, and which need embedding.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

from qa.errors import ArticlesError
from qa.index.manifest import ArticleEntry, FileEntry, Manifest
from qa.ingest.read import FileRead, content_hash, file_digest, read_file, text_hash
from qa.ingest.scan import Listed
from qa.types import Article, Problem


@dataclass
class Changes:
    """The folder against the old manifest. `entries` are the live articles' manifest entries; those of the
    articles in `to_embed` have no segment yet."""

    entries: dict[str, ArticleEntry] = field(default_factory=dict)
    files: dict[str, FileEntry] = field(default_factory=dict)
    to_embed: list[Article] = field(default_factory=list)
    added: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    unchanged: int = 0
    duplicates: dict[str, list[str]] = field(default_factory=dict)  # indexed id -> other ids, same text
    problems: list[Problem] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)  # articles of unreadable files, kept from the old index
    large: list[str] = field(default_factory=list)  # "file: size" of article files over the size limit, read

    @property
    def none(self) -> bool:
        return not (self.added or self.changed or self.removed)


def read_here(files: list[Listed]) -> list[FileRead]:
    """Each file read and parsed here, in turn."""
    return [read_file(f.rel, Path(f.path)) for f in files]


def find_changes(
    folder: Path,
    files: list[Listed],
    old: Manifest | None,
    scan_ns: int,
    large: int = 5 << 20,
    read: Callable[[list[Listed]], list[FileRead]] = read_here,
) -> Changes:
    """Read what changed in `folder` (its listing `files`, made at `scan_ns`) against `old`; files over `large`
    bytes that are read are named in `large`. `read` parses the files that need it, all in one call (a cluster
    build's parses them on the cluster)."""
    old_articles = old.articles if old else {}
    old_files = old.files if old else {}
    paths = {f.rel: Path(f.path) for f in files}
    out = Changes()

    # 1. Read what changed; reuse what the manifest already knows for files whose bytes are the same.
    current: dict[str, ArticleEntry] = {}
    parsed: dict[str, Article] = {}
    pending: list[tuple[Listed, FileEntry | None, tuple[int, int] | None]] = []
    for listed in files:
        known = old_files.get(listed.rel)
        stat = _stat(listed, scan_ns)
        reused = known if known is not None and stat is not None and known.stat == stat else None
        if reused is not None and all(aid in old_articles for aid in reused.articles):  # nothing to read
            out.files[listed.rel] = reused
            for aid in reused.articles:
                current[aid] = old_articles[aid]
        else:
            pending.append((listed, known, stat))
    reads: dict[str, FileRead] = {}
    for listed, known, _ in pending:
        if (same := _same_bytes(listed, known, old_articles)) is not None:
            reads[listed.rel] = same
    to_parse = [f for f, _, _ in pending if f.rel not in reads]
    reads.update(zip([f.rel for f in to_parse], read(to_parse), strict=True))
    for listed, known, stat in pending:
        rel = listed.rel
        got = reads[rel]
        out.problems.extend(got.problems)
        if listed.size > large and any(a.text for a in got.articles):
            out.large.append(f"{rel}: {listed.size / 2**20:.1f} MB")
        if got.digest is None:  # unreadable now: keep what was indexed from it
            if known:
                out.files[rel] = known
                for aid in known.articles:
                    if aid in old_articles:
                        current[aid] = old_articles[aid]
                        out.kept.append(aid)
            continue
        out.files[rel] = FileEntry(got.digest, tuple(a.id for a in got.articles), stat)
        for a in got.articles:
            if a.text:  # a stub from the manifest has no text; a parsed article does
                parsed[a.id] = a
            # a stub (file unchanged) stands for an article the manifest already holds
            current[a.id] = _entry(a, rel) if a.text else old_articles[a.id]
    if not current:
        raise ArticlesError(
            f"nothing readable in {folder} ({len(out.problems)} files or lines skipped): fix the files named above"
        )

    # 2. The same text in two files is indexed once; prefer the copy already in the index.
    canonical: dict[str, str] = {}
    for aid in sorted(current, key=lambda a: (a not in old_articles, a)):
        th = current[aid].text_hash
        if th in canonical:
            out.duplicates.setdefault(canonical[th], []).append(aid)
        else:
            canonical[th] = aid

    # 3. Diff against the old manifest.
    for aid in sorted(canonical.values()):
        entry, prev = current[aid], old_articles.get(aid)
        if prev is not None and prev.hash == entry.hash and prev.segment:
            new = prev
            out.unchanged += 1
        else:
            article = parsed.get(aid) or _reparse(paths.get(entry.file, folder / entry.file), entry.file, aid)
            out.to_embed.append(article)
            (out.changed if prev is not None else out.added).append(aid)
            new = _entry(article, entry.file)
        also = out.duplicates.get(aid)
        out.entries[aid] = replace(new, also=tuple(sorted(also)) if also else ())
    out.removed = sorted(set(old_articles) - set(out.entries))
    return out


def same_aliases(old: Manifest, changes: Changes) -> bool:
    return all(old.articles[aid].also == entry.also for aid, entry in changes.entries.items())


def _stat(listed: Listed, scan_ns: int) -> tuple[int, int] | None:
    """(size, mtime) of a file old enough to be trusted: one written within the last second may change
    again without its mtime moving (coarse kernel clocks), so it is always hashed (git's "racy clean")."""
    if listed.mtime_ns < 0:
        return None
    return (listed.size, listed.mtime_ns) if listed.mtime_ns < scan_ns - 1_000_000_000 else None


def _same_bytes(listed: Listed, known: FileEntry | None, old_articles: dict[str, ArticleEntry]) -> FileRead | None:
    """A file whose size or mtime is not the one recorded (the same ones mean the same file, as git assumes:
    find_changes skips those) is parsed, unless its bytes hash the same as last time: then stubs (id only) stand
    for its articles, and this returns them (None: parse it)."""
    if known is not None and all(aid in old_articles for aid in known.articles):
        stubs = [Article(id=aid, title="", text="") for aid in known.articles]
        try:
            digest = file_digest(Path(listed.path).read_bytes())
        except OSError:
            digest = None
        if digest == known.hash:
            return FileRead(listed.rel, digest, stubs)
    return None


def _reparse(path: Path, rel: str, aid: str) -> Article:
    """An article known only by its manifest entry (an alias whose original went away) needs its text."""
    for a in read_file(rel, path).articles:
        if a.id == aid:
            return a
    raise ArticlesError(f"{path} changed while the index was being built: run the build again")


def _entry(a: Article, rel: str) -> ArticleEntry:
    return ArticleEntry(
        hash=content_hash(a),
        text_hash=text_hash(a.text),
        file=rel,
        title=a.title,
        date=a.date,
        source=a.source,
        url=a.url,
    )
