"""Following replies written by another process, and the cap on streams per user.

Design note (concurrency)
-------------------------
A reply written in another process is read from its Redis Stream. Every reader
of that reply in this process shares **one** reading task (:class:`SharedStream`):
it holds one connection in a blocking read, keeps the events it has read in
memory, and wakes the readers, each of which walks the list from its own resume
point. So a thousand tabs following one reply cost one Redis connection, not a
thousand (which used to exhaust the pool and fail other people's requests). The
task starts with the first reader and is cancelled when the last one leaves.

A reader that joins late reads the events from memory; an error of the reading
task (the reply expired, Redis lost) reaches every reader, which ends its
stream with an ``error`` event.

:class:`FollowerLimit` caps the reply streams one user holds open in a process
(``MAX_FOLLOWERS_PER_USER``): past it, a new one is refused with 429 before
anything starts.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from parlour.domain import EventKind, ReplyEvent, ReplyStatus
from parlour.errors import NoReplyInProgress, NotFound, RateLimited, ReplyInterrupted
from parlour.reply import coalesce
from parlour.store import ReplyLedger

# A finished reply whose stream has had no final event for this long lost its process
# between storing and journaling its end (that takes one round trip when it lives).
ORPHAN_AFTER = 10.0


@dataclass(eq=False)
class SharedStream:
    """One reply's events as read from Redis, for every reader of it in this process."""

    sid: str
    rid: str
    events: list[ReplyEvent] = field(default_factory=list)
    ended: bool = False  # the final event has been read
    error: BaseException | None = None
    readers: int = 0
    task: asyncio.Task[None] | None = None
    _changed: asyncio.Event = field(default_factory=asyncio.Event)

    def notify(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()

    async def wait_beyond(self, count: int, wait: float) -> bool:
        """Wait until there are more than ``count`` events, or an end; False on timeout."""
        if len(self.events) > count or self.ended or self.error is not None:
            return True
        changed = self._changed
        try:
            async with asyncio.timeout(wait):
                await changed.wait()
        except TimeoutError:
            return False
        return True


class StreamReaders:
    """The shared reading tasks of this process, one per reply being followed."""

    def __init__(self, ledger: ReplyLedger, *, heartbeat: float, max_block: float) -> None:
        self.ledger = ledger
        self.heartbeat = heartbeat
        self.block_ms = max(1, int(max_block * 1000))
        self._shared: dict[tuple[str, str], SharedStream] = {}
        self._closed: BaseException | None = None

    @property
    def reading(self) -> int:
        """How many reading tasks run (one per reply followed from this process)."""
        return len(self._shared)

    def close(self, error: BaseException) -> None:
        """End every reader (this process stops): each gets ``error``, and so does any
        reader that comes later."""
        self._closed = error
        for shared in self._shared.values():
            shared.error = error
            shared.notify()

    async def follow(self, sid: str, rid: str, after: int) -> AsyncIterator[ReplyEvent | None]:
        """The reply's events after ``after``; ``None`` (a heartbeat) while it is silent."""
        if self._closed is not None:
            raise self._closed
        shared = self._shared.get((sid, rid))
        if shared is None:
            shared = SharedStream(sid, rid)
            self._shared[(sid, rid)] = shared
            shared.task = asyncio.create_task(self._read(shared), name=f"read-{rid}")
        shared.readers += 1
        try:
            index = 0
            while True:
                if index < len(shared.events):
                    ready = shared.events[index:]
                    index += len(ready)
                    fresh: list[ReplyEvent] = []
                    for event in ready:
                        if event.seq > after:
                            fresh.append(event)
                            after = event.seq
                    for event in coalesce(fresh):
                        yield event
                        if event.final:
                            return
                    continue
                if shared.error is not None:
                    raise shared.error
                if shared.ended:
                    return  # resumed at or after the end
                if not await shared.wait_beyond(index, self.heartbeat):
                    yield None
        finally:
            shared.readers -= 1
            if shared.readers == 0:
                if self._shared.get((sid, rid)) is shared:
                    del self._shared[(sid, rid)]
                if shared.task is not None:
                    shared.task.cancel()

    async def _read(self, shared: SharedStream) -> None:
        entry = "0"
        last = 0
        ended_quietly = 0.0  # when the reply was first seen finished with no final event
        try:
            while True:
                batches = await self.ledger.read_events(
                    shared.sid, shared.rid, entry, self.block_ms
                )
                if not batches:
                    facts = await self.ledger.facts(shared.sid, shared.rid)
                    if facts is None:
                        raise NotFound("This reply is no longer available.")
                    if facts.status != ReplyStatus.RUNNING and entry == "0":
                        # Finished, and its stream has expired: the text is in the history.
                        raise NoReplyInProgress(
                            "This reply has finished; its text is in the history."
                        )
                    if facts.status == ReplyStatus.RUNNING:
                        ended_quietly = 0.0
                    elif not ended_quietly:
                        ended_quietly = time.monotonic()
                    elif time.monotonic() - ended_quietly >= ORPHAN_AFTER:
                        await self._end_orphan(shared, entry, last)
                    continue
                entry = batches[-1][0]
                for _entry, batch in batches:
                    for event in batch:  # a batch written twice (a retried write) counts once
                        if event.seq > last:
                            shared.events.append(event)
                            last = event.seq
                        if event.final:
                            shared.ended = True
                shared.notify()
                if shared.ended:
                    return
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # every reader raises it and ends its stream
            shared.error = exc
            shared.notify()

    async def _end_orphan(self, shared: SharedStream, entry: str, last: int) -> None:
        """End a reply that was stored (or closed) but whose final event never came: its
        process died between the two. What was stored past the stream is sent as one
        last delta, then a final event, written to the stream for every reader."""
        sid, rid = shared.sid, shared.rid
        seen = "".join(str(e.data["content"]) for e in shared.events if e.kind == EventKind.DELTA)
        stored = await self.ledger.stored_reply(sid, rid)
        tail: list[ReplyEvent] = []
        content = str(stored["content"]) if stored else ""
        if content.startswith(seen) and len(content) > len(seen):
            tail.append(ReplyEvent(last + 1, EventKind.DELTA, {"content": content[len(seen) :]}))
        seq = last + len(tail) + 1
        code = stored.get("error") if stored else ReplyInterrupted.code
        if code:
            final = ReplyEvent(seq, EventKind.FAILURE, {
                "code": code, "message": ReplyInterrupted().message,
                "message_id": rid if stored else None})  # fmt: skip
        else:
            reason = "stop" if stored and stored.get("status") == "complete" else "stopped"
            done: dict[str, object] = {"finish_reason": reason, "usage": {}, "message_id": rid}
            final = ReplyEvent(seq, EventKind.DONE, done)
        await self.ledger.end_orphan(sid, rid, entry, [*tail, final])


@dataclass(eq=False)
class Ticket:
    """One open reply stream of ``owner``; released once, when the stream ends."""

    limit: FollowerLimit
    owner: str
    released: bool = False

    def release(self) -> None:
        if not self.released:
            self.released = True
            self.limit._release(self.owner)


class FollowerLimit:
    """At most ``most`` open reply streams (or ``what``) per user in this process."""

    def __init__(self, most: int, what: str = "reply streams") -> None:
        self.most = most
        self.what = what
        self._open: dict[str, int] = {}

    def open_for(self, owner: str) -> int:
        return self._open.get(owner, 0)

    def admit(self, owner: str) -> Ticket:
        if self._open.get(owner, 0) >= self.most:
            raise RateLimited(
                f"You have {self.most} {self.what} open already. Close one (another tab or "
                "window) and try again.",
                retry_after=5,
            )
        self._open[owner] = self._open.get(owner, 0) + 1
        return Ticket(self, owner)

    def _release(self, owner: str) -> None:
        left = self._open.get(owner, 0) - 1
        if left > 0:
            self._open[owner] = left
        else:
            self._open.pop(owner, None)

    @contextlib.asynccontextmanager
    async def held(self, owner: str) -> AsyncIterator[Ticket]:
        ticket = self.admit(owner)
        try:
            yield ticket
        finally:
            ticket.release()
