"""Finding replies whose process died, and closing them.

A process writing a reply renews its heartbeat (a score in a sorted set) every
third of the lock TTL. Every process looks, every sixth of it, for replies whose
heartbeat is older than two thirds of the TTL; the first to claim one stores the reply's text so far
as ``partial`` (``reply_interrupted``), ends its stream with an ``error`` event
and frees the session, so no reply stays "generating" for ever.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

from redis.exceptions import RedisError

from parlour.domain import Message, ReplyEvent, new_id, now
from parlour.errors import NotFound, ReplyInterrupted
from parlour.store import ConversationStore

log = logging.getLogger(__name__)


class Reaper:
    def __init__(
        self, store: ConversationStore, lock_ttl: int, is_local: Callable[[str], bool]
    ) -> None:
        self.store = store
        self.lock_ttl = lock_ttl
        self.is_local = is_local  # replies of this process are alive by definition

    async def run(self) -> None:
        """Look for replies whose process stopped renewing its heartbeat."""
        while True:
            await asyncio.sleep(self.lock_ttl / 6)
            try:
                await self.once()
            except RedisError:
                log.warning("could not look for interrupted replies (Redis unavailable)")

    async def once(self) -> int:
        count = 0
        # Heartbeats come every third of the lock's TTL: two missed ones mean the process
        # is gone, and acting then (checking every sixth) beats the session lock's expiry,
        # so no new message can slip in before the interrupted reply is stored.
        for rid in await self.store.stale_replies(time.time() - self.lock_ttl * 2 / 3):
            if self.is_local(rid) or not await self.store.claim_cleanup(rid, self.lock_ttl * 4):
                continue
            await self._mark_interrupted(rid)
            count += 1
        return count

    async def _mark_interrupted(self, rid: str) -> None:
        meta = await self.store.reply_meta(rid)
        events = await self.store.all_events(rid)
        if meta and not (events and events[-1].final):
            text = "".join(str(e.data["content"]) for e in events if e.kind == "delta")
            error = ReplyInterrupted()
            message_id: str | None = None
            try:
                session = await self.store.get_session(meta["owner"], meta["session"])
            except NotFound:
                session = None  # deleted meanwhile: nothing to store
            if session is not None:
                message = Message(new_id(), "assistant", text, now(), meta.get("persona", ""),
                                  status="partial" if text else "error",
                                  model=meta.get("model") or None, error=error.code)  # fmt: skip
                await self.store.append_message(session, message)
                message_id = message.id
            seq = events[-1].seq + 1 if events else 1
            final = ReplyEvent(seq, "error", {"code": error.code, "message": error.message,
                                              "message_id": message_id})  # fmt: skip
            await self.store.append_events(rid, [final], final=True)
            await self.store.release_reply(
                meta["session"], meta["owner"], rid, status="interrupted"
            )
            log.warning("reply %s was interrupted: its process stopped", rid)
        await self.store.forget_running(rid)
