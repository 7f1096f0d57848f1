"""LiveChannel: tells every open page of a user what changed in their conversations.

A change (a conversation made, renamed or deleted; a message stored, which is how a
reply starts and ends; a branch switched or deleted; a conversation cleared) is
published once on one Redis channel for all users. Each process has one subscriber,
which hands each change to the pages of that user open on this process. So a second
tab, another device, or a page served by another process hears it within a round trip.

Changes say only which conversation changed and how; a page reads what it needs
through the API, so nothing is shown to anyone the API would not show it to.

The same channel carries news for the processes themselves (:meth:`LiveChannel.broadcast`,
no owner): an administrator's model refresh on one process is run by every other one.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

import orjson
from redis.asyncio import Redis
from redis.exceptions import RedisError

from parlour.followers import FollowerLimit
from parlour.store import Keys

log = logging.getLogger(__name__)

_QUEUE = 256  # changes waiting for one page; beyond, it is told to read everything again
_PUBLISH_QUEUE = 10_000
_PUBLISH_BATCH = 100  # changes sent in one message at most


@dataclass(frozen=True, slots=True)
class Change:
    kind: str  # created, updated, deleted, message, branch, cleared, resync
    session_id: str

    def data(self) -> dict[str, str]:
        return {"kind": self.kind, "session_id": self.session_id}


RESYNC = Change("resync", "")
_END = Change("end", "")  # never sent to a page: tells its stream to end


class LiveChannel:
    def __init__(self, redis: Redis, keys: Keys, *, heartbeat: float, most_per_user: int):
        self.redis = redis
        self.channel = keys.changes_channel()
        self.heartbeat = heartbeat
        # Its own cap (MAX_FOLLOWERS_PER_USER as well): open pages never take the places
        # of reply streams.
        self.limit = FollowerLimit(most_per_user, what="live channels (one per open page)")
        self._pages: dict[str, set[asyncio.Queue[Change]]] = {}
        self._outbox: asyncio.Queue[bytes] = asyncio.Queue(_PUBLISH_QUEUE)
        self._tasks: list[asyncio.Task[None]] = []
        self._ended = False
        self._me = secrets.token_hex(8)  # this process, to skip its own broadcasts
        self._heard: dict[str, Callable[[], None]] = {}

    # --- telling -------------------------------------------------------------

    def changed(self, owner: str, sid: str, kind: str) -> None:
        """Tell ``owner``'s pages (never blocks the caller: published in the background)."""
        payload = orjson.dumps({"o": owner, "s": sid, "k": kind})
        try:
            self._outbox.put_nowait(payload)
        except asyncio.QueueFull:
            log.warning("live changes are not being published fast enough; one dropped")

    def broadcast(self, topic: str) -> None:
        """Tell every other process ``topic`` (see :meth:`on`); never blocks the caller."""
        try:
            self._outbox.put_nowait(orjson.dumps({"o": "", "k": topic, "s": "", "p": self._me}))
        except asyncio.QueueFull:
            log.warning("live changes are not being published fast enough; one dropped")

    def on(self, topic: str, act: Callable[[], None]) -> None:
        """Call ``act`` when another process broadcasts ``topic``."""
        self._heard[topic] = act

    async def _publish(self) -> None:
        while True:
            # What queued up meanwhile goes in the same message (a JSON list of them).
            payloads = [await self._outbox.get()]
            while not self._outbox.empty() and len(payloads) < _PUBLISH_BATCH:
                payloads.append(self._outbox.get_nowait())
            message = payloads[0] if len(payloads) == 1 else b"[" + b",".join(payloads) + b"]"
            try:
                await self.redis.publish(self.channel, message)
            except RedisError:
                await asyncio.sleep(0.5)  # Redis away: pages resync when they reconnect

    # --- hearing ---------------------------------------------------------------

    async def _listen(self) -> None:
        while True:
            try:
                async with self.redis.pubsub() as pubsub:
                    await pubsub.subscribe(self.channel)
                    self._tell_all(RESYNC)  # changes may have been missed while away
                    async for message in pubsub.listen():
                        if message.get("type") == "message":
                            self._deliver(message["data"])
            except RedisError:
                await asyncio.sleep(1.0)
            except Exception:  # a client without pub/sub: pages keep working, not live
                log.exception("live changes are off: could not listen for them")
                return

    def _deliver(self, raw: str | bytes) -> None:
        try:
            items = orjson.loads(raw)
        except orjson.JSONDecodeError:
            return
        for item in items if isinstance(items, list) else [items]:
            self._deliver_one(item)

    def _deliver_one(self, item: object) -> None:
        if not isinstance(item, dict):
            return
        try:
            owner, change = str(item["o"]), Change(str(item["k"]), str(item["s"]))
        except KeyError:
            return
        if not owner:  # news for the processes
            act = self._heard.get(change.kind)
            if act is not None and item.get("p") != self._me:
                act()
            return
        if change.kind == _END.kind:
            change = _END
        for queue in self._pages.get(owner, ()):
            self._put(queue, change)

    def _tell_all(self, change: Change) -> None:
        for queues in self._pages.values():
            for queue in queues:
                self._put(queue, change)

    def end_pages_of(self, owner: str) -> None:
        """End ``owner``'s streams in every process (the account was disabled: their
        reconnects are refused)."""
        self.changed(owner, "", _END.kind)

    def end(self) -> None:
        """End every page's stream (the process is stopping: the browser reconnects to
        another one); a stream opened from now on ends at once."""
        self._ended = True
        self._tell_all(_END)

    @staticmethod
    def _put(queue: asyncio.Queue[Change], change: Change) -> None:
        try:
            queue.put_nowait(change)
        except asyncio.QueueFull:  # a page that stopped reading: it reads everything anew
            while not queue.empty():
                queue.get_nowait()
            queue.put_nowait(_END if change is _END else RESYNC)

    async def changes(self, owner: str) -> AsyncIterator[Change | None]:
        """``owner``'s changes as they come; None when there were none for a while."""
        queue: asyncio.Queue[Change] = asyncio.Queue(_QUEUE)
        self._pages.setdefault(owner, set()).add(queue)
        try:
            while not self._ended:
                try:
                    async with asyncio.timeout(self.heartbeat):
                        change = await queue.get()
                except TimeoutError:
                    yield None
                    continue
                if change is _END:
                    return
                yield change
        finally:
            pages = self._pages.get(owner)
            if pages is not None:
                pages.discard(queue)
                if not pages:
                    del self._pages[owner]

    # --- lifetime ------------------------------------------------------------

    def start(self) -> None:
        self._tasks = [
            asyncio.create_task(self._publish(), name="live-publish"),
            asyncio.create_task(self._listen(), name="live-listen"),
        ]

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
