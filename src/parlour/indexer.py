"""Indexer: keeps the search index current, off the request and reply paths.

The conversation store tells :meth:`Indexer.stored` of every message it stores (a
user's message once appended, a reply once finished); that only puts the message on
this process's queue, so a reply's first token never waits for indexing. One task
per process drains the queue; another runs the backfill of older messages in bounded
steps (see :mod:`parlour.store.backfill`), and gives way to the live queue.
A message still queued when its process dies is not indexed (the queue is in memory).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from redis.exceptions import RedisError

from parlour.domain import Message, new_id
from parlour.store.backfill import Backfill
from parlour.store.search import SearchIndex

log = logging.getLogger(__name__)

LOCK_MS = 30_000
_BATCH = 200  # messages taken off the queue at once


class Indexer:
    def __init__(
        self,
        index: SearchIndex,
        backfill: Backfill,
        *,
        queue_size: int = 10_000,
        pause: float = 0.005,
        retry: float = 5.0,
    ) -> None:
        self.index = index
        self.backfill = backfill
        self.queue: asyncio.Queue[tuple[str, str, Message]] = asyncio.Queue(queue_size)
        self.pause = pause
        self.retry = retry
        self.token = new_id()
        self._tasks: list[asyncio.Task[None]] = []
        self._dropped = 0

    def stored(self, owner: str, sid: str, message: Message) -> None:
        """Queue a stored message for indexing (never blocks)."""
        if not message.content:
            return
        try:
            self.queue.put_nowait((owner, sid, message))
        except asyncio.QueueFull:
            self._dropped += 1
            if self._dropped == 1 or self._dropped % 1000 == 0:
                log.warning("search index queue full: %d messages not indexed", self._dropped)

    async def start(self) -> None:
        await self.backfill.begin()
        self._tasks = [
            asyncio.create_task(self._drain(), name="search-index"),
            asyncio.create_task(self._fill(), name="search-backfill"),
        ]

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _drain(self) -> None:
        while True:
            # Whatever has queued up meanwhile goes with it: one script call per owner.
            items = [await self.queue.get()]
            while not self.queue.empty() and len(items) < _BATCH:
                items.append(self.queue.get_nowait())
            by_owner: dict[str, list[tuple[str, Message]]] = {}
            for owner, sid, message in items:
                by_owner.setdefault(owner, []).append((sid, message))
            try:
                for owner, messages in by_owner.items():
                    try:
                        await self.index.add_bulk(owner, messages)
                    except RedisError as exc:  # a lost message is unsearchable, not fatal
                        log.warning("could not index %d messages: %s", len(messages),
                                    type(exc).__name__)  # fmt: skip
            finally:
                for _ in items:
                    self.queue.task_done()

    async def _fill(self) -> None:
        while True:
            try:
                if await self.backfill.done():
                    return
                if not await self.backfill.hold(self.token, LOCK_MS):
                    await asyncio.sleep(self.retry)  # another process is backfilling
                    continue
                await self.queue.join()  # live messages first
                if not await self.backfill.step():
                    log.info("search backfill finished")
                    return
                await asyncio.sleep(self.pause)
            except RedisError as exc:
                log.warning("search backfill paused: %s", type(exc).__name__)
                await asyncio.sleep(self.retry)
