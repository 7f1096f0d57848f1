"""The journal: writes every running reply's new events to Redis, and keeps their locks.

One task per process writes the new events of all of its running replies each
``flush_interval`` seconds (10 ms) in one pipelined round trip, and renews due
reply locks in the same trip. A reply's first text and its final event are
written at once (what people wait for). Only then are they shown to readers in
this process (:meth:`Reply.mark_journaled`): after a crash, the text stored as
interrupted is exactly what any reader saw. The task runs while there are running
replies and is started again by the next one.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable

from redis.exceptions import RedisError

from parlour.domain import ReplyEvent
from parlour.reply import Reply
from parlour.store import ReplyLedger

log = logging.getLogger(__name__)


class Journal:
    def __init__(
        self,
        ledger: ReplyLedger,
        running: Callable[[], dict[str, Reply]],
        *,
        flush_interval: float,
        lock_ttl: int,
    ) -> None:
        self.ledger = ledger
        self._running = running  # this process's running replies, by id
        self.flush_interval = flush_interval
        self.lock_ttl = lock_ttl
        self._task: asyncio.Task[None] | None = None
        # Something waits for the journal (a reply's first events, or its last): write
        # without waiting for the interval.
        self._urgent = asyncio.Event()
        self._dirty: dict[str, Reply] = {}  # replies with events not yet journaled
        self._renewed = 0.0  # when the journal last looked for locks to renew

    def watch(self, reply: Reply) -> None:
        """Journal ``reply``'s events from now on (it is one of the running ones)."""
        reply.on_event = self._soon
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._run(), name="reply-journal")

    def write_now(self) -> None:
        """Write what is pending without waiting for the interval (a reply is ending)."""
        self._urgent.set()

    async def aclose(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    def _soon(self, reply: Reply, event: ReplyEvent) -> None:
        self._dirty[reply.id] = reply
        # A reply's first text (with its start) and its end are written at once: a
        # reader is shown nothing that is not in Redis, and these are what people wait
        # for. The start alone waits for the interval: the first text usually comes
        # within it, and both go in one round trip.
        if event.seq == 2 or event.final:
            self._urgent.set()

    async def _run(self) -> None:
        while self._running():
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.flush_interval):
                    await self._urgent.wait()
            self._urgent.clear()
            try:
                await self._once()
            except RedisError:
                log.warning("could not write reply events to Redis; will retry")
                await asyncio.sleep(0.5)
            except Exception:
                log.exception("writing reply events failed; will retry")
                await asyncio.sleep(0.5)

    async def _once(self) -> None:
        batches: list[tuple[Reply, int]] = []
        dirty, self._dirty = self._dirty, {}
        for reply in dirty.values():
            count = len(reply.events)
            if reply.journaled < count:
                batches.append((reply, count))
        # A new reply's heartbeat starts at once (the reaper looks for it from then on);
        # the others' locks last lock_ttl, so a look a second for due ones will do.
        renew = [r for r in dirty.values() if r.beat == 0 and not r.releasing]
        clock = time.monotonic()
        if clock - self._renewed >= 1.0:
            self._renewed = clock
            due = clock - self.lock_ttl / 3
            running = self._running().values()
            renew += [r for r in running if 0 < r.beat < due and not r.releasing]
        if not batches and not renew:
            return
        try:
            await self.ledger.journal(
                [
                    (r.session_id, r.id, r.events[r.journaled : n], r.events[n - 1].final)
                    for r, n in batches
                ],
                [(r.session_id, r.owner, r.id) for r in renew],
                self.lock_ttl,
            )
        except BaseException:
            for reply in dirty.values():  # written next time
                self._dirty.setdefault(reply.id, reply)
            raise
        for reply, count in batches:
            reply.mark_journaled(count)
        beat = time.monotonic()
        for reply in renew:
            reply.beat = beat
