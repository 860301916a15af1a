"""Find the article files in a folder (recursive): supported files with the stat the listing gave, and one
Problem for each entry that is skipped. Nothing a folder can hold stops the scan: a folder that cannot be read, a
link that loops, dangles or leads out of the folder (unless links are followed), a socket or a device is one warning,
and the rest is read."""

from __future__ import annotations

import os
import stat as st
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


def list_files(folder: Path, follow_links: bool = False) -> tuple[list[tuple[str, Path]], list[Problem]]:
    """Supported files under `folder` (recursive, sorted) as (relative id, path), and skipped ones."""
    files, problems = scan_files(folder, follow_links)
    return [(f.rel, Path(f.path)) for f in files], problems


def scan_files(
    folder: Path, follow_links: bool = False, prefix: str = "", required: bool = True
) -> tuple[list[Listed], list[Problem]]:
    """list_files with each file's size and mtime: an update of a large folder stats every file, and
    strings with the scan's own stat cost a fraction of Path objects and a stat call each. A link to a file inside
    `folder` is read; a link to a folder inside it is skipped (the folder is read under its own name), and a link out
    of it too, with a warning, unless `follow_links` (then loops are skipped). Ids start with `prefix`; a folder with
    no article is an error unless not `required`."""
    if not folder.exists():
        raise ArticlesError(f"articles folder {folder} does not exist: create it or pass --articles DIR")
    if not folder.is_dir():
        raise ArticlesError(f"{folder} is not a folder: pass --articles DIR with a folder of articles")
    top = os.path.realpath(folder)
    files: list[Listed] = []
    problems: list[Problem] = []
    seen = {_key(os.stat(top))}  # folders read, by device and inode: a link back into one is a loop
    # os.scandir and string paths: pathlib's rglob/sort/relative_to cost more than the rest of a small update.
    stack = [(str(folder), prefix)]
    while stack:
        root, prefix = stack.pop()
        try:  # real entries first: a folder is read under its own name before any link to it
            entries = sorted(os.scandir(root), key=lambda e: (e.is_symlink(), e.name))
        except OSError as e:
            where = prefix.rstrip("/") or str(folder)  # the folder given, or its subfolder's id
            problems.append(Problem(where, f"cannot read this folder ({e.strerror or e}): check its permissions"))
            continue
        for entry in entries:
            if entry.name.startswith("."):
                continue  # hidden files and folders (.DS_Store, .git) hold no articles
            rel = prefix + entry.name
            problem = _listed(entry, rel, top, follow_links, seen, files, stack)
            if problem is not None:
                problems.append(Problem(rel, problem))
    files.sort()
    problems.sort(key=lambda p: p.path)
    if not files and required:
        raise ArticlesError(f"no articles in {folder}: add .txt, .md, .html or .jsonl files, or pass --articles DIR")
    return files, problems


def _listed(
    entry: os.DirEntry[str],
    rel: str,
    top: str,
    follow_links: bool,
    seen: set[tuple[int, int]],
    files: list[Listed],
    stack: list[tuple[str, str]],
) -> str | None:
    """Add one directory entry to `files` or `stack`; or say why it is skipped."""
    try:
        info = entry.stat()  # follows a link
    except OSError as e:
        if os.path.splitext(entry.name)[1].lower() in SUFFIXES:
            # an article file that cannot be read now: the build reads it, says why, and keeps what it indexed of it
            files.append(Listed(rel, entry.path, -1, -1))
            return None
        if entry.is_symlink():
            why = "a link that loops" if e.errno == 40 else "a link to nothing"  # ELOOP
            return f"{why} ({e.strerror or e}): remove it or point it at an article"
        return f"cannot read it ({e.strerror or e}): check its permissions"
    if entry.is_symlink() and not follow_links:
        target = os.path.realpath(entry.path)
        if os.path.commonpath([top, target]) != top:
            return f"a link out of the articles folder (to {target}): skipped; pass --follow-links to read it"
        if st.S_ISDIR(info.st_mode):
            return "a link to a folder of the articles folder: skipped (the folder is read under its own name)"
    if st.S_ISDIR(info.st_mode):
        if _key(info) in seen:
            return "a folder already read through another path (a loop): skipped"
        seen.add(_key(info))
        stack.append((entry.path, rel + "/"))
        return None
    if not st.S_ISREG(info.st_mode):
        return "not a regular file (a socket, pipe or device): remove it from the articles folder"
    suffix = os.path.splitext(entry.name)[1]
    if suffix.lower() not in SUFFIXES:
        return f"unsupported file type {suffix or '(none)'}: use .txt, .md, .html or .jsonl"
    files.append(Listed(rel, entry.path, info.st_size, info.st_mtime_ns))
    return None


def _key(info: os.stat_result) -> tuple[int, int]:
    return info.st_dev, info.st_ino
