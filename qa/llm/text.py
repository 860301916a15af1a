"""Small text helpers of the LLM path."""

from __future__ import annotations


def one_line(text: str, n: int = 160) -> str:
    """`text` on one line of at most `n` characters (an error message from a server, a library)."""
    text = " ".join(str(text).split())
    return text if len(text) <= n else text[: n - 1] + "…"
