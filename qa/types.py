"""The values that flow through the pipeline: frozen, slotted dataclasses."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Article:
    """One article. `text` is what offsets point into; `skip` marks web leftovers in it."""

    id: str
    title: str
    text: str
    date: str | None = None
    source: str | None = None
    url: str | None = None
    # (start, end) spans of web-page leftovers (subscription lines, RELATED links...):
    # kept in `text` so offsets stay true, but never chunked, retrieved or quoted.
    skip: tuple[tuple[int, int], ...] = ()


@dataclass(frozen=True, slots=True)
class Chunk:
    """A retrievable span: `text == article_text[start:end]`."""

    article: str
    start: int
    end: int
    text: str


@dataclass(frozen=True, slots=True)
class Passage:
    """A chunk as retrieved for a question."""

    chunk: Chunk
    score: float
    rank: int


@dataclass(frozen=True, slots=True)
class Problem:
    """A skipped input: which file (and line), and why. Printed as a one-line warning."""

    path: str
    message: str
    line: int | None = None

    def __str__(self) -> str:
        where = self.path if self.line is None else f"{self.path}:{self.line}"
        return f"{where}: {self.message}"
