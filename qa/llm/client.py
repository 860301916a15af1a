"""The chat model: LangChain's ChatOpenAI pointed at any OpenAI-compatible endpoint (QA_LLM_BASE_URL, QA_LLM_MODEL,
optional QA_LLM_API_KEY) or at a local GGUF file served in this process (qa.llm.local); its answer streamed, with a
deadline and one try. Nothing else is contacted."""

from __future__ import annotations

import importlib
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from qa.config import Settings
from qa.errors import LLMError, SettingsError
from qa.llm.local import LOCAL_MODEL_NAME, LocalServer, local_server
from qa.llm.text import one_line

if TYPE_CHECKING:
    from langchain_core.language_models.chat_models import BaseChatModel

CONNECT_TIMEOUT = 3.0  # seconds to open a connection to the endpoint


@dataclass
class LLM:
    """A streaming chat model and where it is: what LLMAnswerer talks to."""

    chat: BaseChatModel
    base_url: str
    model: str
    timeout: float  # seconds for a whole answer
    local: LocalServer | None = None
    recite: bool = True  # QA_LLM_RECITE: a sentence its citation does not support may be cited to another passage
    label: str = ""  # the model as shown (a local GGUF: its file name); `model` when empty

    @property
    def name(self) -> str:
        return self.label or self.model


def llm_configured(settings: Settings) -> bool:
    return bool(settings.llm_base_url or settings.llm_gguf)


def open_llm(settings: Settings) -> LLM:
    """The chat model the settings name: QA_LLM_BASE_URL (+ QA_LLM_MODEL) or QA_LLM_GGUF; SettingsError if neither."""
    local = None
    if settings.llm_base_url:
        if not settings.llm_model:
            raise SettingsError(
                "QA_LLM_MODEL is not set: set it to the model the endpoint serves (e.g. the name `ollama list` shows)"
            )
        base_url, model = settings.llm_base_url, settings.llm_model
    elif settings.llm_gguf:
        local = local_server(Path(settings.llm_gguf).expanduser(), threads=settings.llm_threads)
        base_url, model = local.base_url, LOCAL_MODEL_NAME
    else:
        raise SettingsError(
            "QA_ANSWERER=llm needs a model: set QA_LLM_BASE_URL and QA_LLM_MODEL (an OpenAI-compatible endpoint) "
            "or QA_LLM_GGUF (a local .gguf file)"
        )
    return LLM(
        chat_model(base_url, model, settings.llm_api_key, settings.llm_timeout, settings.llm_max_tokens),
        base_url,
        model,
        float(settings.llm_timeout),
        local,
        settings.llm_recite,
        local.path.name if local is not None else "",
    )


def chat_model(base_url: str, model: str, api_key: str, timeout: float, max_tokens: int) -> BaseChatModel:
    """LangChain's ChatOpenAI for an OpenAI-compatible endpoint: streaming, temperature 0, one try, bounded."""
    try:
        import openai
        from langchain_openai import ChatOpenAI
    except ImportError:
        raise SettingsError("QA_ANSWERER=llm needs langchain-openai: pip install -e '.[llm]'") from None
    return ChatOpenAI(
        model=model,
        base_url=base_url,
        # Always a key of our own: with none, the client would read OPENAI_API_KEY and send it to this endpoint.
        api_key=api_key or "unused",  # type: ignore[arg-type]
        # The SDK's own Timeout: httpx's before openai 3, httpx2's from it (it refuses the other's).
        timeout=openai.Timeout(timeout, connect=CONNECT_TIMEOUT),
        max_retries=0,
        streaming=True,
        stream_usage=False,
        temperature=0.0,
        max_tokens=max_tokens,  # type: ignore[call-arg]
    )


def stream_tokens(llm: LLM, prompt: list[Any]) -> Iterator[str]:
    """The model's answer as it comes; LLMError, with the fix, when the endpoint is down, slow or failing.
    The whole answer must come within llm.timeout seconds (checked between tokens; the client's read timeout
    covers a server that says nothing)."""
    import openai

    http_timeouts, http_transport = _http_errors()
    timeouts: tuple[type[Exception], ...] = (openai.APITimeoutError, *http_timeouts)
    unreachable: tuple[type[Exception], ...] = (openai.APIConnectionError, *http_transport)
    deadline = time.monotonic() + llm.timeout
    stream = llm.chat.stream(prompt)
    try:
        for chunk in stream:
            text = chunk.content if isinstance(chunk.content, str) else ""
            if text:
                yield text
            if time.monotonic() > deadline:
                raise LLMError(
                    f"the LLM at {llm.base_url} did not finish its answer within {llm.timeout:.0f} s: raise "
                    "QA_LLM_TIMEOUT, lower QA_LLM_MAX_TOKENS or use a faster model"
                )
    except timeouts:  # before the answer starts, or in the middle of it
        raise LLMError(
            f"the LLM at {llm.base_url} did not answer within {llm.timeout:.0f} s: raise QA_LLM_TIMEOUT or use a "
            "faster model"
        ) from None
    except unreachable as e:
        raise LLMError(
            f"cannot reach the LLM at {llm.base_url} ({_reason(e)}): start the server or fix QA_LLM_BASE_URL"
        ) from None
    except openai.AuthenticationError:
        raise LLMError(f"the LLM at {llm.base_url} refused the API key (401): set QA_LLM_API_KEY") from None
    except openai.NotFoundError:
        raise LLMError(
            f"the LLM at {llm.base_url} has no model {llm.model!r} (404): set QA_LLM_MODEL to one it serves"
        ) from None
    except openai.APIStatusError as e:
        raise LLMError(
            f"the LLM at {llm.base_url} failed ({e.status_code}: {one_line(e.message)}): check the server's log"
        ) from None
    except openai.OpenAIError as e:  # anything else the client raises: a malformed answer, a broken stream
        raise LLMError(
            f"the LLM at {llm.base_url} failed ({type(e).__name__}: {one_line(str(e))}): check the server's log"
        ) from None
    finally:
        close = getattr(stream, "close", None)
        if close is not None:
            close()


def _http_errors() -> tuple[tuple[type[Exception], ...], tuple[type[Exception], ...]]:
    """The timeout and transport errors of the HTTP libraries the openai SDK may stream through (httpx before
    openai 3, httpx2 from it), which reach us unwrapped when a stream breaks in the middle."""
    timeouts: list[type[Exception]] = []
    transport: list[type[Exception]] = []
    for name in ("httpx", "httpx2"):
        try:
            http = importlib.import_module(name)
        except ImportError:
            continue
        timeouts.append(http.TimeoutException)
        transport.append(http.TransportError)
    return tuple(timeouts), tuple(transport)


def _reason(e: BaseException) -> str:
    cause: BaseException | None = e
    while cause is not None and cause.__cause__ is not None:
        cause = cause.__cause__
    return one_line(str(cause or e)) or type(e).__name__
