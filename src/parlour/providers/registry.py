"""Which models are available, which provider serves each, and the default one.

The providers' lists change while the app runs (discovery, a window learned from a
refusal), so nothing here is computed once: each call reads the providers as they
are now. A model id ``name/model`` of a known provider is routed to it even while
its list is not known (the provider was down at start): the reply then says the
provider is unavailable instead of going, unasked, to another one.
"""

from __future__ import annotations

from parlour.domain import ModelInfo
from parlour.errors import UnknownModel
from parlour.providers.base import ChatProvider
from parlour.providers.unconfigured import UnconfiguredProvider


class ModelRegistry:
    """Maps model ids to providers. Without ``default``, the first provider's first
    model is the default one."""

    def __init__(
        self, providers: list[ChatProvider], *, default: str = "", default_window: int = 8192
    ) -> None:
        self.providers = providers
        self.default = default
        self.default_window = default_window
        self._fallback = UnconfiguredProvider()
        # Every id ever offered, with its provider: a model that left a list (a file
        # removed, a provider that stopped listing it) still goes where it went, whose
        # answer then says what is wrong, instead of to another model unasked.
        self._seen: dict[str, ChatProvider] = {}

    def _index(self) -> dict[str, tuple[ModelInfo, ChatProvider]]:
        by_model: dict[str, tuple[ModelInfo, ChatProvider]] = {}
        for provider in self.providers:
            for info in provider.models():
                by_model.setdefault(info.id, (info, provider))  # the first one keeps an id
        for model, (_, provider) in by_model.items():
            self._seen.setdefault(model, provider)
        return by_model

    @property
    def configured(self) -> bool:
        return bool(self._index())

    def models(self) -> list[ModelInfo]:
        return [info for info, _ in self._index().values()]

    def grouped(self) -> list[tuple[ChatProvider, list[ModelInfo]]]:
        """Each provider with the models it serves here (an id shadowed by an earlier
        provider's is left out of the later one)."""
        index = self._index()
        return [
            (p, [i for i in p.models() if index.get(i.id, (None, None))[1] is p])
            for p in self.providers
        ]

    @property
    def default_model(self) -> str:
        index = self._index()
        if self.default in index:
            return self.default
        available = (m for m, (info, _) in index.items() if info.available)
        return next(available, next(iter(index), self._fallback.model_id))

    def known(self, model: str) -> bool:
        return model in self._index()

    def check(self, model: str) -> str:
        """``model`` if it is available; raises :class:`UnknownModel` otherwise."""
        index = self._index()
        if model not in index:
            raise UnknownModel(model, list(index))
        return model

    def resolve(self, model: str) -> tuple[ModelInfo, ChatProvider]:
        """The provider for ``model``; a model no longer configured falls back to the default."""
        index = self._index()
        found = index.get(model)
        if found is not None:
            return found
        gone = self._seen.get(model)
        if gone is not None:
            return ModelInfo(model, gone.name, self.default_window, window_source="default"), gone
        head, _, rest = model.partition("/")
        for provider in self.providers:
            if rest and provider.name == head and getattr(provider, "catalogue", None):
                # Its provider's list is not known now: it still answers for it.
                info = ModelInfo(model, head, self.default_window, window_source="default")
                return info, provider
        found = index.get(self.default_model)
        if found is None:
            return ModelInfo("none", "none", 4096), self._fallback
        return found

    async def aclose(self) -> None:
        for provider in self.providers:
            await provider.aclose()
