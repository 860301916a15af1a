"""A local GGUF model (QA_LLM_GGUF) served by xllamacpp, llama.cpp's server, in this process on a free loopback port:
one server per file and settings, started on first use and kept."""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Any

from qa.errors import SettingsError
from qa.llm.text import one_line

LOCAL_MODEL_NAME = "local-gguf"


class LocalServer:
    """A GGUF file served by xllamacpp (llama.cpp's server) in this process, on a free port of 127.0.0.1."""

    def __init__(self, path: Path, *, n_ctx: int = 4096, threads: int = 0) -> None:
        check_gguf(path)
        try:
            import xllamacpp
        except ImportError:
            raise SettingsError("QA_LLM_GGUF needs xllamacpp: pip install -e '.[llm]'") from None
        params = xllamacpp.CommonParams()
        params.model.path = str(path)
        params.n_ctx = n_ctx
        params.n_parallel = 1
        params.hostnames = ["127.0.0.1"]
        params.port = 0  # the system picks a free port
        params.verbosity = 0
        params.model_alias = LOCAL_MODEL_NAME
        params.cpuparams.n_threads = params.cpuparams_batch.n_threads = threads or default_threads()
        self.path = path
        try:
            self._server: Any = xllamacpp.Server(params)
        except Exception as e:  # llama.cpp's own message: a damaged file, an unknown architecture, no memory
            raise SettingsError(
                f"llama.cpp cannot serve {path} ({one_line(str(e))}): point QA_LLM_GGUF elsewhere"
            ) from None
        self.base_url = f"{self._server.listening_address.rstrip('/')}/v1"

    def close(self) -> None:
        self._server = None  # the server stops when its object goes


def default_threads() -> int:
    """Half the cores (at least 1): llama.cpp's threads wait on each other, and on a busy machine one starved
    thread stalls them all (measured on 2 shared cores: 1 thread 38 tokens/s, 2 threads 1 token/s)."""
    return max(1, (os.cpu_count() or 2) // 2)


def check_gguf(path: Path) -> None:
    if not path.is_file():
        raise SettingsError(
            f"QA_LLM_GGUF {path} is not a file: run `python -m qa.llm.gguf` or point it at a .gguf file"
        )
    with open(path, "rb") as f:
        if f.read(4) != b"GGUF":
            raise SettingsError(f"QA_LLM_GGUF {path} is not a GGUF file: point it at a .gguf model file")


_servers: dict[tuple[str, int, int], LocalServer] = {}
_servers_lock = threading.Lock()


def local_server(path: Path, *, n_ctx: int = 4096, threads: int = 0) -> LocalServer:
    """One server per GGUF file and settings in this process, started on first use and kept."""
    key = (str(path.resolve()), n_ctx, threads)
    with _servers_lock:
        server = _servers.get(key)
        if server is None:
            server = _servers[key] = LocalServer(path, n_ctx=n_ctx, threads=threads)
        return server
