"""The chat's answering as Ray Serve replicas (`qa serve --ray ADDRESS --replicas N`, the `ray` extra).

Each replica loads the index and the models once and answers questions as the next turn of a conversation; the
Gradio app stays in front, in the process that serves it, and keeps what is the same for every session (the index
line, uploads, the sources panel's article texts). A replica reloads the index when its manifest changes, so an
upload the app indexes, or a build on the cluster, is picked up by all of them; the front does the same. Plain
`qa serve` (no --ray) is unchanged.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from qa.answer.conversation import Conversation
from qa.app.library import _KEEP_TURNS, Library, Turn
from qa.config import Settings
from qa.index.manifest import MANIFEST
from qa.index.store import Index
from qa.pipeline import QA
from qa.types import Answer

APPLICATION = "qa"  # the Ray Serve application's name


def manifest_stamp(index: Path) -> tuple[int, int]:
    """(mtime in ns, size) of the index's manifest: it changes with every build that changes the index."""
    st = (index / MANIFEST).stat()
    return st.st_mtime_ns, st.st_size


class Answering:
    """A replica: the index and models loaded once, reloaded when the manifest changes."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings.with_(ray_address="")  # a replica answers from the index; it never builds
        self._load()

    def _load(self) -> None:
        self.stamp = manifest_stamp(self.settings.index)
        self.qa = QA.open(self.settings)

    def ask(
        self, question: str, k: int | None, history: list[Turn], as_of: dt.date | None = None
    ) -> tuple[Answer, list[Turn]]:
        """The answer to `question` as the next turn after `history`, asked on `as_of`, and the turns to keep."""
        if manifest_stamp(self.settings.index) != self.stamp:
            self._load()
        turns = list(history)
        answer = Conversation(self.qa.answerer, turns).ask(question, k, as_of=as_of)
        return answer, turns[-_KEEP_TURNS:]


def deploy(settings: Settings, replicas: int) -> Any:
    """`replicas` replicas of Answering on the cluster `settings.ray_address` names (joined first); returns the
    deployment's handle. serve.shutdown() (shutdown below) ends them."""
    from qa.index.cluster import connect

    connect(settings.ray_address)
    from ray import serve

    serve.start(http_options={"location": "NoServer"})  # the app is Gradio's: no Ray HTTP proxies
    # No CPU reserved: a replica waits for questions most of the time, and a build on the same cluster (an upload,
    # `qa index build --ray`) must still find CPUs for its embedding actors.
    options: dict[str, Any] = {"name": "answering", "num_replicas": replicas, "ray_actor_options": {"num_cpus": 0}}
    deployment: Any = serve.deployment(Answering, **options)
    return serve.run(deployment.bind(settings), name=APPLICATION, route_prefix=None)


def shutdown() -> None:
    from ray import serve

    serve.shutdown()


class ReplicatedLibrary(Library):
    """The app's Library with its questions answered by the replicas behind `handle`."""

    def __init__(self, qa: QA, handle: Any, **kw: Any) -> None:
        super().__init__(qa, **kw)
        self.handle = handle
        self._stamp = manifest_stamp(qa.settings.index)

    def ask(
        self, question: str, k: int | None = None, history: list[Turn] | None = None, as_of: dt.date | None = None
    ) -> tuple[Answer, Index]:
        """A replica's answer (history is updated in place), and the index as this process has it now (the app
        reloads it when a build elsewhere changed the manifest, so the sources panel reads the same articles)."""
        history = [] if history is None else history
        answer, turns = self.handle.ask.remote(question, k, list(history), as_of).result()
        history[:] = turns
        stamp = manifest_stamp(self.settings.index)
        if stamp != self._stamp:
            self._stamp = stamp
            self._qa = QA.open(self.settings, embedder=self.embedder)
        return answer, self.index
