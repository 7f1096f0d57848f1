"""What a reply cost: prompt and completion tokens, as the provider reports them, else
counted with the model's tokenizer (the local model) or estimated (an API that does not
report usage, such as llama.cpp's server, or a reply stopped before its usage came)."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from parlour.context import PER_MESSAGE_OVERHEAD
from parlour.domain import ChatTurn, Finish, Usage
from parlour.providers.base import ChatProvider, TokenCount, token_counter


def _prompt_tokens(count: TokenCount, turns: Sequence[ChatTurn]) -> int:
    return sum(count(t.content) + PER_MESSAGE_OVERHEAD for t in turns)


async def _off_loop(provider: ChatProvider, fn: object, *args: object) -> int:
    assert callable(fn)
    if getattr(provider, "tokenizer_blocks", False):  # the local tokenizer calls into C
        return int(await asyncio.to_thread(fn, *args))
    return int(fn(*args))


async def measure(
    provider: ChatProvider, model: str, finish: Finish, turns: Sequence[ChatTurn], text: str
) -> Usage | None:
    """The reply's usage; None when nothing was spent (no text and nothing reported).

    ``text`` is everything the model wrote (its thinking too: it is billed as output).
    """
    prompt, completion = finish.usage.prompt_tokens, finish.usage.completion_tokens
    if prompt is None and completion is None and not text:
        return None
    count = token_counter(provider, model)
    if completion is None:
        completion = await _off_loop(provider, count, text) if text else 0
    if prompt is None:
        prompt = await _off_loop(provider, _prompt_tokens, count, turns)
    return Usage(prompt, completion)
