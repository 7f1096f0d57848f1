"""The provider protocol: one streaming method, plus what it offers."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Mapping, Sequence
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
    # The optional sampling parameters that are set, by their OpenAI names (a
    # conversation's own, else its persona's, else the server's default).
    sampling: Mapping[str, float | int] = field(default_factory=dict)

    def optional(self) -> dict[str, float | int]:
        """The optional sampling parameters to send."""
        return dict(self.sampling)


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
