"""Reading every provider's model list now and then, in the background.

One task, started by the lifespan, asks each provider that can list its models
(:class:`Discoverable`) at once, each within the discovery timeout, then sleeps
``every`` seconds. Requests never wait for it: they read the catalogues as the
last round left them, so a provider that is down or slow costs the list nothing
but its own models' "unavailable". An admin's refresh runs a round at once (one
round at a time: a refresh asked during one waits for it and is done by it).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from typing import Protocol, runtime_checkable

log = logging.getLogger(__name__)


@runtime_checkable
class Discoverable(Protocol):
    name: str

    async def discover(self, within: float) -> None: ...


class Discovery:
    def __init__(self, providers: Sequence[object], *, every: float, timeout: float) -> None:
        self.providers = [p for p in providers if isinstance(p, Discoverable)]
        self.every = every
        self.timeout = timeout
        self._lock = asyncio.Lock()
        self._task: asyncio.Task[None] | None = None
        self.rounds = 0

    def start(self) -> None:
        if self.providers:
            self._task = asyncio.create_task(self._run(), name="model-discovery")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def refresh(self) -> None:
        """One round now (or the end of the one under way, if it started after us)."""
        asked = self.rounds
        async with self._lock:
            if self.rounds > asked + 1:
                return  # a round that started after the request has finished meanwhile
            await self._round()

    async def _round(self) -> None:
        async def one(provider: Discoverable) -> None:
            try:
                # Each provider bounds itself; this is the backstop for a stuck one.
                async with asyncio.timeout(self.timeout + 1):
                    await provider.discover(self.timeout)
            except Exception:  # one provider's bug must not end discovery for all
                log.exception("model discovery failed for %s", provider.name)

        await asyncio.gather(*(one(p) for p in self.providers))
        self.rounds += 1

    async def _run(self) -> None:
        while True:
            async with self._lock:
                await self._round()
            if self.every <= 0:
                return
            await asyncio.sleep(self.every)
