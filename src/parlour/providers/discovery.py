"""Reading every provider's model list now and then, in the background.

One task, started by the lifespan, asks each provider that can list its models
(:class:`Discoverable`) at once, each within the discovery timeout, then sleeps
``every`` seconds. Requests never wait for it: they read the catalogues as the
last round left them, so a provider that is down or slow costs the list nothing
but its own models' "unavailable". An admin's refresh runs a round at once (one
round at a time: a refresh asked during one waits for it and is done by it). Another
process's refresh, heard on the live channel, runs one here too (:meth:`refresh_soon`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from typing import Protocol, runtime_checkable

log = logging.getLogger(__name__)

MODELS_REFRESHED = "models-refreshed"  # the live channel's word for "refresh yours too"


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
        self._asked: set[asyncio.Task[None]] = set()
        self.rounds = 0

    def start(self) -> None:
        if self.providers:
            self._task = asyncio.create_task(self._run(), name="model-discovery")

    async def stop(self) -> None:
        for task in [self._task, *self._asked]:
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task

    def refresh_soon(self) -> None:
        """A round in the background (another process was asked for one)."""
        if not self.providers:
            return
        task = asyncio.create_task(self.refresh(), name="model-discovery-refresh")
        self._asked.add(task)
        task.add_done_callback(self._asked.discard)

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
