"""Model providers: everything that can stream a reply sits behind :class:`ChatProvider`."""

from parlour.providers.base import ChatProvider, CompletionRequest

__all__ = ["ChatProvider", "CompletionRequest"]
