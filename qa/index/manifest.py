"""manifest.json: what an index holds and what is live in it, read through one validated loader.

    {"format": 2, "qa_version", "model": {"id", "dim"}, "chunker": {...}, "next_chunk_id", "next_segment",
     "segments": [seg...], "segment_rows": {seg: rows stored}, "built_at", "counts": {"articles", "chunks", "files"},
     "articles": {id: {"hash", "text_hash", "file", "title", "date", "source", "url", "segment", "chunks": [lo, hi],
                       "also": [ids of files with the same text]}},
     "files": {relative path: {"hash", "articles": [ids], "stat": [size, mtime_ns] (when old enough to trust)}}}

A chunk is live while the manifest lists its id inside a live article's range in that article's segment. The
manifest is the commit point of a build: it is replaced atomically, last (qa.index.build).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from qa.config import DEFAULT_MODEL
from qa.errors import IndexMismatchError, IndexMissingError
from qa.files import fsync_dir, write_atomic

FORMAT = 2
MANIFEST = "manifest.json"
_REBUILD = "run `qa index build --rebuild`"


@dataclass(frozen=True, slots=True)
class ArticleEntry:
    hash: str  # of everything that goes into the article's chunks and vectors
    text_hash: str  # of its words alone: the same story saved twice has the same one
    file: str
    title: str
    date: str | None = None
    source: str | None = None
    url: str | None = None
    segment: str = ""  # "" until its chunks are written
    chunks: tuple[int, int] = (0, 0)  # its chunk ids, lo <= id < hi
    also: tuple[str, ...] = ()  # other article ids with the same text, indexed once as this one

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "hash": self.hash,
            "text_hash": self.text_hash,
            "file": self.file,
            "title": self.title,
            "date": self.date,
            "source": self.source,
            "url": self.url,
        }
        if self.segment:
            out.update(segment=self.segment, chunks=list(self.chunks), also=list(self.also))
        return out


@dataclass(frozen=True, slots=True)
class FileEntry:
    hash: str  # sha256 of the file's bytes
    articles: tuple[str, ...]
    stat: tuple[int, int] | None = None  # (size, mtime_ns), when old enough to be trusted (qa.index.build)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"hash": self.hash, "articles": list(self.articles)}
        if self.stat is not None:
            out["stat"] = list(self.stat)
        return out


@dataclass(slots=True)
class Manifest:
    model_id: str
    dim: int
    chunker: dict[str, Any]
    next_chunk_id: int = 0
    next_segment: int = 0
    segments: list[str] = field(default_factory=list)
    segment_rows: dict[str, int] = field(default_factory=dict)
    articles: dict[str, ArticleEntry] = field(default_factory=dict)
    files: dict[str, FileEntry] = field(default_factory=dict)
    built_at: str = ""
    qa_version: str = ""
    format: int = FORMAT
    file_sizes: dict[str, int] = field(default_factory=dict)  # each segment file's size as written

    @property
    def chunks(self) -> int:
        return sum(e.chunks[1] - e.chunks[0] for e in self.articles.values())

    def counts(self) -> dict[str, int]:
        return {"articles": len(self.articles), "chunks": self.chunks, "files": len(self.files)}

    def aliases(self) -> dict[str, str]:
        """Each article id indexed under another (a file with the same text as it) -> the id it is indexed as."""
        return {alias: aid for aid, e in self.articles.items() for alias in e.also}

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": self.format,
            "qa_version": self.qa_version,
            "model": {"id": self.model_id, "dim": self.dim},
            "chunker": self.chunker,
            "next_chunk_id": self.next_chunk_id,
            "next_segment": self.next_segment,
            "segments": self.segments,
            "segment_rows": self.segment_rows,
            "articles": {aid: e.to_dict() for aid, e in self.articles.items()},
            "files": {rel: f.to_dict() for rel, f in self.files.items()},
            "built_at": self.built_at,
            "counts": self.counts(),
            "file_sizes": self.file_sizes,
        }

    @classmethod
    def from_dict(cls, raw: Any, where: Path) -> Manifest:
        """The manifest in `raw` (parsed JSON); IndexMismatchError naming the first key that is missing or of the
        wrong type, and the fix."""
        doc = _Checked(raw, str(where))
        found = doc.get("format", int)
        if found != FORMAT:
            raise IndexMismatchError(
                f"{where.parent} has index format {found}, this qa reads format {FORMAT}: {_REBUILD}"
            )
        model = doc.sub("model")
        articles = {
            aid: ArticleEntry(
                hash=e.get("hash", str),
                text_hash=e.get("text_hash", str),
                file=e.get("file", str),
                title=e.get("title", str),
                date=e.opt("date", str),
                source=e.opt("source", str),
                url=e.opt("url", str),
                segment=e.get("segment", str),
                chunks=e.pair("chunks"),
                also=tuple(e.strings("also")),
            )
            for aid, e in doc.entries("articles")
        }
        files = {
            rel: FileEntry(
                hash=f.get("hash", str),
                articles=tuple(f.strings("articles")),
                stat=f.pair("stat") if f.has("stat") else None,
            )
            for rel, f in doc.entries("files")
        }
        return cls(
            model_id=model.get("id", str),
            dim=model.get("dim", int),
            chunker=doc.get("chunker", dict),
            next_chunk_id=doc.get("next_chunk_id", int),
            next_segment=doc.get("next_segment", int),
            segments=doc.strings("segments"),
            segment_rows={k: int(v) for k, v in doc.get("segment_rows", dict).items()},
            articles=articles,
            files=files,
            built_at=doc.get("built_at", str),
            qa_version=doc.get("qa_version", str),
            format=found,
            file_sizes={k: int(v) for k, v in doc.get("file_sizes", dict).items()} if doc.has("file_sizes") else {},
        )


class _Checked:
    """A JSON object read key by key: a missing key or a value of another type is one line naming it."""

    def __init__(self, raw: Any, where: str) -> None:
        if not isinstance(raw, dict):
            raise IndexMismatchError(f"{where} is not a JSON object: {_REBUILD}")
        self.raw, self.where = raw, where

    def has(self, key: str) -> bool:
        return self.raw.get(key) is not None

    def get(self, key: str, kind: type) -> Any:
        value = self.raw.get(key)
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            what = "missing" if key not in self.raw else f"not a{'n' if kind is int else ''} {kind.__name__}"
            raise IndexMismatchError(f"{self.where}: key {key!r} is {what}: the manifest is damaged, {_REBUILD}")
        return value

    def opt(self, key: str, kind: type) -> Any:
        return self.get(key, kind) if self.has(key) else None

    def strings(self, key: str) -> list[str]:
        values = self.get(key, list)
        if not all(isinstance(v, str) for v in values):
            raise IndexMismatchError(f"{self.where}: key {key!r} is not a list of strings: {_REBUILD}")
        return values

    def pair(self, key: str) -> tuple[int, int]:
        values = self.get(key, list)
        if len(values) != 2 or not all(isinstance(v, int) for v in values):
            raise IndexMismatchError(f"{self.where}: key {key!r} is not a pair of numbers: {_REBUILD}")
        return int(values[0]), int(values[1])

    def sub(self, key: str) -> _Checked:
        return _Checked(self.get(key, dict), f"{self.where} {key}")

    def entries(self, key: str) -> list[tuple[str, _Checked]]:
        return [(k, _Checked(v, f"{self.where} {key}[{k!r}]")) for k, v in self.get(key, dict).items()]


def read_manifest(index_dir: Path) -> Manifest | None:
    """The index's manifest, or None when there is no index in `index_dir`."""
    path = index_dir / MANIFEST
    if not path.exists():
        return None
    try:
        raw = orjson.loads(path.read_bytes())
    except (OSError, ValueError) as e:
        raise IndexMismatchError(f"{path} cannot be read ({type(e).__name__}): {_REBUILD}") from None
    return Manifest.from_dict(raw, path)


def require_manifest(index_dir: Path) -> Manifest:
    manifest = read_manifest(index_dir)
    if manifest is None:
        raise IndexMissingError(f"no index in {index_dir}: run `qa index build` first (or pass --index DIR)")
    return manifest


def write_manifest(index_dir: Path, manifest: Manifest) -> None:
    """The commit point of a build: before this the old index is live, after it the new one."""
    # orjson: this file grows with the corpus (about 0.5 KB an article) and is read and written by every
    # update; json took 40 ms of a 2,000-article update, orjson 4 (bench/perf.py's add part).
    write_atomic(index_dir / MANIFEST, orjson.dumps(manifest.to_dict()))
    fsync_dir(index_dir)


def check_compatible(manifest: Manifest, model_id: str, chunker: dict[str, Any], index_dir: Path) -> None:
    """Refuse an index built with another model or chunker: its vectors would not match the queries."""
    if manifest.model_id != model_id:
        # the index's model is named as a fix only when it can be loaded here, offline: the packaged one, or a
        # folder that exists (a hub name would need the network)
        built = manifest.model_id
        usable = built == DEFAULT_MODEL or Path(built).expanduser().is_dir()
        back = f", or set QA_MODEL={built}" if usable else ""
        raise IndexMismatchError(
            f"{index_dir} was built with model {built!r}, the settings ask for {model_id!r}: "
            f"run `qa index build --rebuild` to re-embed{back}"
        )
    if manifest.chunker != chunker and {**manifest.chunker, "tokenizer": None} == {**chunker, "tokenizer": None}:
        raise IndexMismatchError(
            f"{index_dir} was built by an older qa (keyword tokenizer {manifest.chunker.get('tokenizer')!r}): "
            "run `qa index build` to update it (quick: nothing is re-embedded)"
        )
    if manifest.chunker != chunker:
        raise IndexMismatchError(
            f"{index_dir} was built with chunker settings {manifest.chunker}, the settings ask for {chunker}: "
            "run `qa index build --rebuild`, or set QA_CHUNK_SIZE/QA_CHUNK_OVERLAP back"
        )


@dataclass(frozen=True, slots=True)
class IndexStatus:
    """`qa index status`: what the index holds."""

    index: str
    articles: int
    chunks: int
    files: int
    model: str
    dimensions: int
    built_at: str
    chunker: dict[str, Any]
    segments: int
    duplicates: dict[str, list[str]]
    format: int
    qa_version: str
    damaged: dict[str, str] = field(default_factory=dict)  # segment -> what is wrong with its files

    @classmethod
    def of(cls, index_dir: Path, manifest: Manifest, damaged: dict[str, str] | None = None) -> IndexStatus:
        counts = manifest.counts()
        return cls(
            index=str(index_dir),
            articles=counts["articles"],
            chunks=counts["chunks"],
            files=counts["files"],
            model=manifest.model_id,
            dimensions=manifest.dim,
            built_at=manifest.built_at,
            chunker=manifest.chunker,
            segments=len(manifest.segments),
            duplicates={aid: list(e.also) for aid, e in manifest.articles.items() if e.also},
            format=manifest.format,
            qa_version=manifest.qa_version,
            damaged=damaged or {},
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "articles": self.articles,
            "chunks": self.chunks,
            "files": self.files,
            "model": self.model,
            "dimensions": self.dimensions,
            "built_at": self.built_at,
            "chunker": self.chunker,
            "segments": self.segments,
            "duplicates": self.duplicates,
            "format": self.format,
            "qa_version": self.qa_version,
            **({"damaged": self.damaged} if self.damaged else {}),
        }


def now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
