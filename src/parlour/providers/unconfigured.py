"""The provider used when no model is configured: every reply says how to set one up."""

from __future__ import annotations

from collections.abc import AsyncIterator

from parlour.domain import ModelInfo, ProviderEvent
from parlour.errors import ModelNotConfigured
from parlour.providers.base import CompletionRequest, estimate_tokens


class UnconfiguredProvider:
    name = "none"
    model_id = "none"

    def models(self) -> list[ModelInfo]:
        return []

    def count_tokens(self, text: str) -> int:
        return estimate_tokens(text)

    async def aclose(self) -> None:
        return None

    async def stream(self, request: CompletionRequest) -> AsyncIterator[ProviderEvent]:
        raise ModelNotConfigured()
        yield  # type: ignore[unreachable]  # makes this an async generator
