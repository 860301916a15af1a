"""Files that appear whole or not at all: written under a temporary name beside their place, flushed to disk, then
renamed into place (a rename within a folder is atomic). A write that fails or is killed leaves the old file, and
at worst a hidden temporary one that the next write or build removes."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path


@contextlib.contextmanager
def atomic_path(path: Path) -> Iterator[Path]:
    """A temporary path to write `path`'s new content to; on leaving the block it is synced and renamed onto
    `path`, or removed when the block raised."""
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        yield tmp
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def write_atomic(path: Path, data: bytes) -> None:
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


def fsync_dir(path: Path) -> None:
    """Make a folder's renames durable (the new names, not only the files' bytes)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
