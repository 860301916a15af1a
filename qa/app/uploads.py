"""Articles added from the chat: each upload is checked before anything is written (type, size, a bare file name,
readable as an article), and is only ever written straight into the uploads folder (Settings.uploads, outside the
project: never its tracked seeds/), under the name it came with."""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from qa.errors import UploadError
from qa.ingest.read import read_file

UPLOAD_TYPES = (".txt", ".md", ".html", ".jsonl")
MAX_UPLOAD_BYTES = 5 * 1024 * 1024
_MAX_NAME = 200


@dataclass
class Saved:
    """What an upload did: the files written into the uploads folder, and one line per refused file."""

    names: list[str] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)


def check_name(name: str) -> str:
    """`name` if it is a bare file name of an accepted type; else UploadError naming the problem and fix."""
    if not name or name != os.path.basename(name) or "\\" in name or "\x00" in name:
        raise UploadError(f"{name!r} has folder parts: upload the file itself, with a plain name")
    if name.startswith("."):
        raise UploadError(f"{name!r} is a hidden name (starts with a dot): rename the file")
    if len(name) > _MAX_NAME or any(ord(c) < 32 for c in name):
        raise UploadError(f"{name!r} is not a usable file name: rename it to plain words of at most {_MAX_NAME} chars")
    if os.path.splitext(name)[1].lower() not in UPLOAD_TYPES:
        raise UploadError(f"{name} is not an article file: upload {', '.join(UPLOAD_TYPES)} files")
    return name


def save(folder: Path, files: Sequence[tuple[str, Path]], max_bytes: int = MAX_UPLOAD_BYTES) -> Saved:
    """Copy uploaded files (name as uploaded, where the upload is now) into `folder`, created when missing. Each
    file is checked first; a refused one is reported on one line and nothing of it is written (nor `folder`, when
    nothing was saved into it)."""
    missing = []  # the folders made here, deepest first: removed again when nothing was saved
    at = folder
    while not at.exists() and at != at.parent:
        missing.append(at)
        at = at.parent
    folder.mkdir(parents=True, exist_ok=True)
    out = Saved()
    try:
        for name, path in files:
            try:
                out.names.append(_save_one(folder, name, Path(path), max_bytes))
            except UploadError as e:
                out.refused.append(str(e))
    finally:
        if not out.names:
            for made in missing:
                with contextlib.suppress(OSError):  # not empty: another upload saved into it meanwhile
                    made.rmdir()
    return out


def _save_one(folder: Path, name: str, path: Path, max_bytes: int) -> str:
    check_name(name)
    try:
        size = path.stat().st_size
    except FileNotFoundError:  # e.g. the same file uploaded twice at once: Gradio keeps one copy of it
        raise UploadError(f"{name} was not received: upload it again") from None
    if size > max_bytes:
        raise UploadError(
            f"{name} is {size / 1e6:.1f} MB, over the {max_bytes / 1e6:.1f} MB limit: split it into smaller files"
        )
    folder = folder.resolve()
    dest = folder / name
    if dest.parent != folder:  # belt and braces: check_name already allows no folder parts
        raise UploadError(f"{name!r} would be written outside the uploads folder: rename the file")
    if os.path.lexists(dest):
        raise UploadError(f"{name} was uploaded before: rename the file to add it as another")
    # A hidden temporary name in the same folder: the build skips hidden files, and link() below makes
    # the real name appear complete, or not at all when it was taken meanwhile.
    tmp = folder / f".upload-{secrets.token_hex(4)}-{name}"
    try:
        shutil.copyfile(path, tmp)
        read = read_file(name, tmp)
        if not read.articles:
            problem = read.problems[0].message if read.problems else "no article in it"
            raise UploadError(f"{name}: {problem}")
        try:
            os.link(tmp, dest)
        except FileExistsError:
            raise UploadError(f"{name} was uploaded before: rename the file to add it as another") from None
    finally:
        tmp.unlink(missing_ok=True)
    return name
