"""Read a folder of articles: .txt/.md (optional front matter), .html (trafilatura), .jsonl (one a line).

Bad files never stop a build: each is reported as a Problem and skipped, and the rest is read.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from qa.ingest.clean import leftover_spans
from qa.ingest.dates import infer_date
from qa.types import Article, Problem

_FRONT_MATTER = re.compile(r"\A---[ \t]*\n(.*?)\n---[ \t]*(?:\n|\Z)", re.DOTALL)
_TITLE_MAX = 200


@dataclass
class FileRead:
    """What one file gave: its articles, the problems met, and the hash of its bytes."""

    path: str
    digest: str | None  # None when the file could not be read at all
    articles: list[Article] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)


def file_digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def read_file(rel: str, path: Path) -> FileRead:
    """Read one file into articles; any problem is reported, never raised."""
    try:
        data = path.read_bytes()
    except OSError as e:
        return FileRead(
            rel, None, problems=[Problem(rel, f"cannot read file ({e.strerror or e}): check it exists and is readable")]
        )
    return read_bytes(rel, data, path.suffix)


def read_bytes(rel: str, data: bytes, suffix: str | None = None) -> FileRead:
    """The articles of a file's bytes, its kind by `suffix` (default: that of `rel`, where it is in the articles
    folder); any problem is reported, never raised. A cluster build parses here, on its nodes (qa.index.cluster)."""
    digest = file_digest(data)
    if b"\x00" in data[:8192]:
        return FileRead(rel, digest, problems=[Problem(rel, "binary file, not text: remove it or export it as .txt")])
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        return FileRead(rel, digest, problems=[Problem(rel, f"not UTF-8 (byte {e.start}): re-save the file as UTF-8")])
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    out = FileRead(rel, digest)
    suffix = (Path(rel).suffix if suffix is None else suffix).lower()
    if suffix == ".jsonl":
        _read_jsonl(rel, text, out)
    elif suffix in {".html", ".htm"}:
        _add(out, _read_html(rel, text))
    else:
        _add(out, _read_text(rel, text, markdown=suffix != ".txt"))
    return out


def _add(out: FileRead, result: Article | Problem) -> None:
    (out.articles if isinstance(result, Article) else out.problems).append(result)  # type: ignore[arg-type]


def _read_text(rel: str, raw: str, *, markdown: bool) -> Article | Problem:
    meta: dict[str, Any] = {}
    body = raw
    m = _FRONT_MATTER.match(raw)
    if m:
        try:
            import yaml

            loaded = yaml.safe_load(m.group(1))
        except Exception as e:  # yaml.YAMLError and friends: any malformed header
            return Problem(rel, f"malformed front matter ({type(e).__name__}): fix the header between the --- lines")
        if loaded is not None and not isinstance(loaded, dict):
            return Problem(rel, "front matter is not a mapping of key: value lines: fix the header")
        meta = loaded or {}
        body = raw[m.end() :]
    return _article(rel, body, meta, markdown=markdown)


def _read_html(rel: str, raw: str) -> Article | Problem:
    import trafilatura

    doc = trafilatura.bare_extraction(raw, with_metadata=True, include_comments=False, include_tables=False)
    data: dict[str, Any] = {} if doc is None else doc if isinstance(doc, dict) else doc.as_dict()
    body: str = data.get("text") or ""
    if not body.strip():
        return Problem(rel, "no article text found in the HTML: check it is an article page")
    # trafilatura separates paragraphs with one newline; a blank line keeps them paragraphs for the chunker.
    text = "\n\n".join(p.strip() for p in body.split("\n") if p.strip())
    title = data.get("title")
    if title and not text.startswith(title):
        text = f"{title}\n\n{text}"
    meta = {
        "title": title,
        "date": data.get("date"),
        "source": data.get("sitename") or data.get("hostname"),
        "url": data.get("url"),
    }
    return _article(rel, text, meta)


def _read_jsonl(rel: str, raw: str, out: FileRead) -> None:
    for lineno, line in enumerate(raw.split("\n"), start=1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as e:
            out.problems.append(Problem(rel, f"malformed JSON ({e.msg}): fix or remove the line", lineno))
            continue
        if not isinstance(obj, dict) or not isinstance(obj.get("text"), str):
            out.problems.append(Problem(rel, 'no "text" string: each line needs {"text": ...}', lineno))
            continue
        key = obj.get("id")
        aid = f"{rel}#{key if key not in (None, '') else lineno}"
        result = _article(aid, obj["text"], obj)
        if isinstance(result, Problem):
            out.problems.append(Problem(rel, result.message, lineno))
        else:
            out.articles.append(result)


def _article(aid: str, body: str, meta: dict[str, Any], *, markdown: bool = False) -> Article | Problem:
    text = body.strip()
    if not text:
        return Problem(aid, "empty article: add text or remove the file")
    title = _clean_str(meta.get("title")) or _first_line(text, markdown=markdown)
    date = _iso_date(meta.get("date"))
    inferred = date is None and (date := infer_date(text)) is not None
    return Article(
        id=aid,
        title=title,
        text=text,
        date=date,
        date_inferred=inferred,
        source=_clean_str(meta.get("source")),
        url=_clean_str(meta.get("url")),
        skip=leftover_spans(text),
    )


def _first_line(text: str, *, markdown: bool) -> str:
    line = next(ln.strip() for ln in text.split("\n") if ln.strip())
    if markdown:
        line = line.lstrip("#").strip() or line
    return line[:_TITLE_MAX]


def _clean_str(value: Any) -> str | None:
    if value is None:
        return None
    s = str(value).strip()
    return s or None


def _iso_date(value: Any) -> str | None:
    """ISO-8601 date (or date-time) as a string; anything unparseable is dropped."""
    if isinstance(value, dt.datetime):
        return value.isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    s = _clean_str(value)
    if s is None:
        return None
    try:
        return (
            dt.datetime.fromisoformat(s.replace("Z", "+00:00")).isoformat()
            if "T" in s
            else dt.date.fromisoformat(s).isoformat()
        )
    except ValueError:
        return None


def text_hash(text: str) -> str:
    """Hash of an article's words: the same story saved twice gets the same hash."""
    return hashlib.sha256(" ".join(text.split()).encode()).hexdigest()


def content_hash(article: Article) -> str:
    """Hash of everything that goes into an article's chunks and embeddings."""
    payload = json.dumps([article.title, article.date, article.source, article.url, article.text])
    return hashlib.sha256(payload.encode()).hexdigest()
