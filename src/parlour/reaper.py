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

from parlour.domain import EventKind, Message, MessageStatus, ReplyEvent, ReplyStatus, now
from parlour.errors import ReplyInterrupted
from parlour.reasoning import split_events
from parlour.store import Finished, ReplyLedger

log = logging.getLogger(__name__)


class Reaper:
    def __init__(self, ledger: ReplyLedger, lock_ttl: int, is_local: Callable[[str], bool]) -> None:
        self.ledger = ledger
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
        for sid, rid in await self.ledger.stale_replies(time.time() - self.lock_ttl * 2 / 3):
            if self.is_local(rid):
                continue
            if not await self.ledger.claim_cleanup(sid, rid, self.lock_ttl * 4):
                continue
            await self._mark_interrupted(sid, rid)
            count += 1
        return count

    async def _mark_interrupted(self, sid: str, rid: str) -> None:
        facts = await self.ledger.facts(sid, rid)
        events = await self.ledger.all_events(sid, rid)
        if facts is not None and not (events and events[-1].final):
            text, reasoning = split_events(events)
            error = ReplyInterrupted()
            # The reply's own id: storing it twice (a retry, or the process coming
            # back) stores it once.
            status: MessageStatus = "partial" if text or reasoning else "error"
            message = Message(rid, "assistant", text, now(), facts.persona, status=status,
                              model=facts.model or None, error=error.code,
                              reasoning=reasoning)  # fmt: skip
            result = await self.ledger.finish(
                facts, message, ReplyStatus.INTERRUPTED, 0, only_running=True
            )
            if result == Finished.NOT_RUNNING:
                await self.ledger.forget_running(sid, rid)
                return  # it ended after all
            message_id = rid if result in (Finished.STORED, Finished.ALREADY) else None
            seq = events[-1].seq + 1 if events else 1
            data: dict[str, object] = {
                "code": error.code,
                "message": error.message,
                "message_id": message_id,
            }
            final = ReplyEvent(seq, EventKind.FAILURE, data)
            await self.ledger.append_events(sid, rid, [final], final=True)
            log.warning("reply %s was interrupted: its process stopped", rid)
        await self.ledger.forget_running(sid, rid)
