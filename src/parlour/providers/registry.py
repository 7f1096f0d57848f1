"""Which models are available, which provider serves each, and the default one."""

from __future__ import annotations

from parlour.domain import ModelInfo
from parlour.errors import UnknownModel
from parlour.providers.base import ChatProvider
from parlour.providers.unconfigured import UnconfiguredProvider


class ModelRegistry:
    """Maps model ids to providers. The first provider given serves the default model."""

    def __init__(self, providers: list[ChatProvider]) -> None:
        self.providers = providers
        self._by_model: dict[str, tuple[ModelInfo, ChatProvider]] = {}
        for provider in providers:
            for info in provider.models():
                self._by_model.setdefault(info.id, (info, provider))
        self._fallback = UnconfiguredProvider()

    @property
    def configured(self) -> bool:
        return bool(self._by_model)

    def models(self) -> list[ModelInfo]:
        return [info for info, _ in self._by_model.values()]

    @property
    def default_model(self) -> str:
        return next(iter(self._by_model), self._fallback.model_id)

    def check(self, model: str) -> str:
        """``model`` if it is available; raises :class:`UnknownModel` otherwise."""
        if model not in self._by_model:
            raise UnknownModel(model, list(self._by_model))
        return model

    def resolve(self, model: str) -> tuple[ModelInfo, ChatProvider]:
        """The provider for ``model``; a model no longer configured falls back to the default."""
        found = self._by_model.get(model) or self._by_model.get(self.default_model)
        if found is None:
            return ModelInfo("none", "none", 4096), self._fallback
        return found

    async def aclose(self) -> None:
        for provider in self.providers:
            await provider.aclose()
