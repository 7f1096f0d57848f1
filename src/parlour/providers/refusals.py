"""Telling a refusal "too long for the context window" from other refusals.

Servers say it differently: OpenAI and llama-cpp-python's server with the code
``context_length_exceeded`` ("This model's maximum context length is 2048 tokens.
However, you requested 2100 tokens (2000 in the messages, 100 in the
completion)"), vLLM with the same sentence and no code, llama.cpp's own server
with the type ``exceed_context_size_error`` and the numbers as fields
(``n_ctx``, ``n_prompt_tokens``). What can be read of the window and of the
prompt's real size is kept: the next turn is trimmed to fit.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

_SAYS_TOO_LONG = re.compile(
    r"maximum context length|context length exceeded|exceeds? (the )?(available )?context"
    r"|context window|context size|prompt is too long|too many tokens",
    re.I,
)
_WINDOW = re.compile(
    r"maximum context length is (\d+)|context window of (\d+)|context size \(?(\d+)", re.I
)
_PROMPT = re.compile(
    r"\((\d+) in the messages|resulted in (\d+) tokens|requested tokens \((\d+)\)"
    r"|prompt has (\d+) tokens",
    re.I,
)


@dataclass(frozen=True, slots=True)
class TooLong:
    window: int | None = None  # the context window the server stated
    prompt_tokens: int | None = None  # the request's size in the server's tokens


def _number(pattern: re.Pattern[str], text: str) -> int | None:
    match = pattern.search(text)
    if match is None:
        return None
    return int(next(g for g in match.groups() if g is not None))


def _int(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else None


def too_long(status: int, body: Any) -> TooLong | None:
    """What a 400/413 error body says of a too-long request (None: it says something else)."""
    if status not in (400, 413, 422):
        return None
    error = body.get("error", body) if isinstance(body, dict) else body
    if isinstance(error, str):
        error = {"message": error}
    if not isinstance(error, dict):
        return None
    message = error.get("message")
    text = message if isinstance(message, str) else ""
    flagged = error.get("code") == "context_length_exceeded" or error.get("type") in (
        "exceed_context_size_error",
        "context_length_exceeded",
    )
    if not flagged and not _SAYS_TOO_LONG.search(text):
        return None
    return TooLong(
        window=_int(error.get("n_ctx")) or _number(_WINDOW, text),
        prompt_tokens=_int(error.get("n_prompt_tokens")) or _number(_PROMPT, text),
    )
