"""The provider protocol: one streaming method, plus what it offers."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from parlour.domain import ChatTurn, ModelInfo, ProviderEvent


@dataclass(frozen=True, slots=True)
class CompletionRequest:
    model: str
    messages: Sequence[ChatTurn]
    max_tokens: int
    temperature: float
    stop: Sequence[str] = field(default_factory=tuple)
    # Sent only when set (a conversation's own, else the server's default).
    top_p: float | None = None
    presence_penalty: float | None = None
    frequency_penalty: float | None = None
    seed: int | None = None

    def optional(self) -> dict[str, float | int]:
        """The optional sampling parameters that are set, by their OpenAI names."""
        values = (
            ("top_p", self.top_p),
            ("presence_penalty", self.presence_penalty),
            ("frequency_penalty", self.frequency_penalty),
            ("seed", self.seed),
        )
        return {name: value for name, value in values if value is not None}


class ChatProvider(Protocol):
    """Streams a reply as :class:`TextDelta` events, then one :class:`Finish`.

    Failures are raised as :class:`~parlour.errors.ProviderError` subclasses.
    Closing the iterator early (``aclose``) must stop the generation promptly.
    """

    name: str

    def models(self) -> list[ModelInfo]: ...

    def count_tokens(self, text: str) -> int: ...

    def stream(self, request: CompletionRequest) -> AsyncIterator[ProviderEvent]: ...

    async def aclose(self) -> None: ...


TokenCount = Callable[[str], int]


def token_counter(provider: ChatProvider, model: str) -> TokenCount:
    """How to count ``model``'s tokens: a provider serving several models with their own
    tokenizers (the local GGUF files) offers ``counter_for(model)``; else ``count_tokens``."""
    counter_for = getattr(provider, "counter_for", None)
    if counter_for is not None:
        return counter_for(model)  # type: ignore[no-any-return]
    return provider.count_tokens


def estimate_tokens(text: str) -> int:
    """A cheap, conservative token estimate for APIs whose tokenizer we do not have.

    About four characters a token for English; CJK characters are closer to one
    token each, so they count in full.
    """
    if text.isascii():  # the common case, without a Python loop over characters
        return (len(text) + 3) // 4
    wide = sum(1 for ch in text if ord(ch) > 0x2E7F)
    return wide + (len(text) - wide + 3) // 4
