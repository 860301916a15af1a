"""Serving the chat: `qa serve` and `python app.py` bring the index up to date, load it once and serve the app
(qa.app.web) on a port checked before anything is loaded."""

from __future__ import annotations

import os
import socket
import sys
from typing import TYPE_CHECKING

from qa.app.library import Library
from qa.app.render import CSS, LLM_CSS
from qa.app.uploads import MAX_UPLOAD_BYTES
from qa.app.web import build_app
from qa.config import Settings
from qa.errors import SettingsError

if TYPE_CHECKING:
    import gradio as gr  # imported by qa.app.web, after it turns Gradio's telemetry off


def launch(demo: gr.Blocks, host: str | None = None, port: int | None = None, *, block: bool = True) -> gr.Blocks:
    """Serve `demo` on host:port (Gradio's defaults when None: GRADIO_SERVER_NAME/PORT, else 127.0.0.1:7860);
    `block=False` returns once it is listening."""
    demo.launch(
        server_name=host,
        server_port=port,
        share=False,
        ssr_mode=False,
        css=CSS + LLM_CSS,
        prevent_thread_lock=not block,
        max_file_size=MAX_UPLOAD_BYTES,
        show_error=False,
        quiet=not block,
    )
    return demo


def check_port(host: str, port: int) -> None:
    """Fail fast, before the index and model are loaded, when host:port cannot be listened on."""
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as s:
        try:
            s.bind((host, port))
        except OSError as e:
            raise SettingsError(
                f"cannot listen on {host}:{port} ({e.strerror or e}): pass --port with a free port "
                "(or --host with an address of this machine)"
            ) from None


def serve(settings: Settings, host: str | None = None, port: int | None = None, replicas: int | None = None) -> None:
    """`qa serve` and `python app.py`: update the index from the articles and uploads folders (saying on stderr what
    the build skipped, kept, found large or repaired, as `qa index build` does), load it once, serve the chat. With
    `settings.ray_address`, the build runs on that Ray cluster and `replicas` Ray Serve replicas (default 1) answer
    the chat's questions (qa.app.replicas)."""
    host = host or os.environ.get("GRADIO_SERVER_NAME") or "127.0.0.1"
    port = port or int(os.environ.get("GRADIO_SERVER_PORT") or 7860)
    if replicas is not None and not settings.ray_address:
        raise SettingsError("--replicas needs a Ray cluster: pass --ray ADDRESS (or set QA_RAY_ADDRESS) as well")
    if replicas is not None and replicas < 1:
        raise SettingsError(f"--replicas must be 1 or more, got {replicas}: pass --replicas 2, say")
    check_port(host, port)
    uploads = f" and {settings.uploads}" if settings.uploads.is_dir() else ""
    print(f"qa: updating {settings.index} from {settings.articles}{uploads} …", file=sys.stderr)
    library, report = Library.open(settings, progress=True)
    for line in report.warnings(settings.large_article_mb):
        print(line, file=sys.stderr)
    print(
        f"qa: {report.articles} articles, {report.chunks} passages ({len(report.added)} added, "
        f"{len(report.changed)} changed, {len(report.removed)} removed); open http://{host}:{port}",
        file=sys.stderr,
    )
    if not settings.ray_address:
        launch(build_app(library), host, port)
        return
    from qa.app.replicas import ReplicatedLibrary, deploy, shutdown

    print(f"qa: starting {replicas or 1} answering replica(s) on the Ray cluster …", file=sys.stderr)
    try:
        handle = deploy(settings, replicas or 1)
        launch(build_app(ReplicatedLibrary(library.qa, handle, llm=library.llm)), host, port)
    finally:
        shutdown()  # stale Serve state would silently keep the old replicas
