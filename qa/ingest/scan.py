"""Find the article files in a folder (recursive): supported files with the stat the listing gave, and one
Problem for each file of another type."""

from __future__ import annotations

import os
from pathlib import Path
from typing import NamedTuple

from qa.errors import ArticlesError
from qa.types import Problem

SUFFIXES = frozenset({".txt", ".md", ".markdown", ".html", ".htm", ".jsonl"})


class Listed(NamedTuple):
    """A supported file found by scan_files, with what os.scandir's stat said of it (-1: could not stat)."""

    rel: str
    path: str
    size: int
    mtime_ns: int


def list_files(folder: Path) -> tuple[list[tuple[str, Path]], list[Problem]]:
    """Supported files under `folder` (recursive, sorted) as (relative id, path), and skipped ones."""
    files, problems = scan_files(folder)
    return [(f.rel, Path(f.path)) for f in files], problems


def scan_files(folder: Path) -> tuple[list[Listed], list[Problem]]:
    """list_files with each file's size and mtime: an update of a large folder stats every file, and
    strings with the scan's own stat cost a fraction of Path objects and a stat call each."""
    if not folder.exists():
        raise ArticlesError(f"articles folder {folder} does not exist: create it or pass --articles DIR")
    if not folder.is_dir():
        raise ArticlesError(f"{folder} is not a folder: pass --articles DIR with a folder of articles")
    files: list[Listed] = []
    problems: list[Problem] = []
    # os.scandir and string paths: pathlib's rglob/sort/relative_to cost more than the rest of a small update.
    stack = [(str(folder), "")]
    while stack:
        root, prefix = stack.pop()
        with os.scandir(root) as entries:
            for entry in entries:
                if entry.name.startswith("."):
                    continue  # hidden files and folders (.DS_Store, .git) hold no articles
                rel = prefix + entry.name
                if entry.is_dir():
                    stack.append((entry.path, rel + "/"))
                elif os.path.splitext(entry.name)[1].lower() in SUFFIXES:
                    try:
                        st = entry.stat()
                        files.append(Listed(rel, entry.path, st.st_size, st.st_mtime_ns))
                    except OSError:  # a dangling link: reading it will say what is wrong
                        files.append(Listed(rel, entry.path, -1, -1))
                else:
                    suffix = os.path.splitext(entry.name)[1] or "(none)"
                    problems.append(Problem(rel, f"unsupported file type {suffix}: use .txt, .md, .html or .jsonl"))
    files.sort()
    problems.sort(key=lambda p: p.path)
    if not files:
        raise ArticlesError(f"no articles in {folder}: add .txt, .md, .html or .jsonl files, or pass --articles DIR")
    return files, problems
