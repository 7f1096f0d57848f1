"""Replies run as tasks of their own, not tied to any HTTP connection.

Design note (concurrency)
-------------------------
A reply is produced by one task in one process (its *owner process*). Each job
of the reply path is its own part:

* :mod:`parlour.claims` - claiming the conversation (its reply lock, the owner's
  slot, the user's message stored); given back unless the reply starts;
* this module - running it: the provider's stream into events
  (:class:`~parlour.reply.Reply`), then the assistant message stored and the
  conversation freed, whatever failed, and a final event;
* :mod:`parlour.journal` - writing events to the reply's Redis Stream and
  keeping locks fresh; readers in this process are shown only what it wrote, so
  after a crash the text stored as interrupted is what every reader saw;
* :mod:`parlour.followers` - readers of replies written by other processes;
* :mod:`parlour.stops` - stopping a reply wherever it runs;
* :mod:`parlour.reaper` - storing the replies of processes that died.

A reader asks for the events after a sequence number and gets each one once,
in order, whichever way it reads. On shutdown (:meth:`ReplyManager.begin_shutdown`)
running replies get most of the grace period, then are stored as interrupted.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import AsyncIterator
from dataclasses import replace

from redis.exceptions import RedisError

from parlour.claims import Claims
from parlour.domain import (
    EventKind,
    Finish,
    Message,
    ReasoningDelta,
    ReplyEvent,
    ReplyFacts,
    ReplyStatus,
    TextDelta,
    Usage,
    new_id,
)
from parlour.errors import ParlourError, ProviderError, ReplyInterrupted, ServerRestarting
from parlour.followers import StreamReaders
from parlour.grace import hand_over_time
from parlour.journal import Journal
from parlour.metering import measure
from parlour.metrics import Metrics, Timer
from parlour.providers.base import ChatProvider, CompletionRequest
from parlour.reaper import Reaper
from parlour.reply import Heartbeat, Outcome, Persist, Reply, ReplyText, coalesce
from parlour.stops import Stops, cancel
from parlour.store import Finished, ReplyLedger

log = logging.getLogger(__name__)


_HANDED_OVER = (
    "The server restarted before this reply finished. The text so far was saved; "
    "send your message again to continue."
)
_PERSIST_BACKOFF = 0.25  # storing a finished reply: the first retry's wait, doubling to 2 s


class ReplyManager:
    def __init__(
        self,
        ledger: ReplyLedger,
        *,
        heartbeat: float = 15.0,
        flush_interval: float = 0.01,
        lock_ttl: int = 30,
        metrics: Metrics | None = None,
        max_per_owner: int = 0,
        redis_timeout: float = 5.0,
    ) -> None:
        self.ledger = ledger
        self.heartbeat = heartbeat
        self.flush_interval = flush_interval
        self.lock_ttl = lock_ttl
        self.metrics = metrics or Metrics()
        self.max_per_owner = max_per_owner
        # A blocking stream read must end well inside the Redis socket timeout.
        self.max_block = min(heartbeat, redis_timeout / 2)
        # Readers of replies written elsewhere share one reading task per reply.
        self.readers = StreamReaders(ledger, heartbeat=heartbeat, max_block=self.max_block)
        # Stored in each reply's facts: which process writes it (its pid, for people).
        self.worker_id = f"{os.getpid()}-{new_id()[:8]}"
        self._local: dict[str, Reply] = {}
        self._background: list[asyncio.Task[None]] = []
        self.claims = Claims(
            ledger,
            worker_id=self.worker_id,
            lock_ttl=lock_ttl,
            max_per_owner=max_per_owner,
            started=self._local.__contains__,
        )
        self.journal = Journal(
            ledger, lambda: self._local, flush_interval=flush_interval, lock_ttl=lock_ttl
        )
        self.stops = Stops(ledger, self._local.get)
        self._draining: asyncio.Task[None] | None = None
        self._closing = False  # readers of other processes' replies are let go

    # --- starting -------------------------------------------------------------

    def start(
        self,
        facts: ReplyFacts,
        *,
        start_data: dict[str, object],
        provider: ChatProvider,
        request: CompletionRequest,
        persist: Persist,
    ) -> Reply:
        rid = facts.id
        reply = Reply(facts)
        self._local[rid] = reply
        self.journal.watch(reply)
        reply.emit(EventKind.START, {"reply_id": rid, "session_id": facts.session, **start_data})
        reply.task = asyncio.create_task(
            self._run(reply, provider, request, persist), name=f"reply-{rid}"
        )
        return reply

    async def _run(
        self,
        reply: Reply,
        provider: ChatProvider,
        request: CompletionRequest,
        persist: Persist,
    ) -> None:
        timer = Timer()
        text = ReplyText(reply, timer)
        finish = Finish()
        error: ParlourError | None = None
        message_id: str | None = None
        m = self.metrics
        m.active.inc()
        try:
            try:
                reply.generating = True
                if reply.stopped:  # stopped before it began
                    raise asyncio.CancelledError
                async for item in provider.stream(request):
                    if isinstance(item, TextDelta | ReasoningDelta):
                        if not text.seen:
                            m.first_token.observe(timer.elapsed())
                        text.add(item)
                    else:
                        finish = item
                text.end()
            except asyncio.CancelledError:
                finish = Finish("stopped")
                if reply.interrupted:
                    error = ReplyInterrupted(_HANDED_OVER, retry_after=5)
            except ProviderError as exc:
                error = exc
            except Exception:
                log.exception("reply %s failed", reply.id)
                error = ParlourError()
            finally:
                reply.generating = False
                m.active.dec()
                m.deltas.inc(text.deltas)
                if error is not None:
                    m.upstream_errors.labels(error.code).inc()
            # The message is stored and the session freed together, before the client
            # hears the end: a client that sends its next message at once is not refused.
            # The journal goes on renewing the lock until then (storing may be retried).
            try:
                answer, reasoning = text.answer(), text.reasoning()
                if error is not None:
                    kept = answer or reasoning  # what was thought is kept, too
                    status = ReplyStatus.PARTIAL if kept else ReplyStatus.ERROR
                else:
                    stopped = finish.reason == "stopped"
                    status = ReplyStatus.PARTIAL if stopped else ReplyStatus.COMPLETE
                usage = await measure(
                    provider, request.model, finish, request.messages, answer + reasoning
                )
                finish = replace(finish, usage=usage or Usage())
                outcome = Outcome(
                    answer, status, error, finish.reason, reasoning, text.seconds(), usage,
                    round(timer.elapsed(), 3),
                )  # fmt: skip
                message = persist(outcome)
                # The daily quota counts what the model wrote (its thinking included).
                tokens = (usage.completion_tokens or 0) if usage else 0
                m.tokens.inc(tokens)
                message_id = await self._finish(reply, message, status, tokens)
            except Exception:
                # Not a Redis outage (``_finish`` waits those out) but a bug or data that
                # cannot be stored: the reply still ends and frees its conversation.
                log.exception("reply %s: its message could not be stored", reply.id)
                error = ParlourError("The reply could not be saved.")
                await self._release_after_failure(reply)
        finally:
            # Whatever happened above, the reply ends: a final event, the journal told to
            # write it, and the process's bookkeeping left once it is written.
            reply.releasing = True
            m.reply_duration.observe(timer.elapsed())
            if not reply.finished:
                self._emit_final(reply, finish, error, message_id, text.seconds())
            self.journal.write_now()
            try:
                await reply.all_journaled.wait()
            finally:
                self._local.pop(reply.id, None)

    @staticmethod
    def _emit_final(
        reply: Reply,
        finish: Finish,
        error: ParlourError | None,
        message_id: str | None,
        thought: float | None = None,
    ) -> None:
        extra: dict[str, object] = {} if thought is None else {"reasoning_seconds": thought}
        if error is not None:
            reply.emit(
                EventKind.FAILURE,
                {"code": error.code, "message": error.message, "message_id": message_id}
                | ({"retry_after": error.retry_after} if error.retry_after is not None else {})
                | extra,
            )
            return
        usage = {
            k: v
            for k, v in (
                ("prompt_tokens", finish.usage.prompt_tokens),
                ("completion_tokens", finish.usage.completion_tokens),
            )
            if v is not None
        }
        reply.emit(
            EventKind.DONE,
            {"finish_reason": finish.reason, "usage": usage, "message_id": message_id} | extra,
        )

    async def _release_after_failure(self, reply: Reply) -> None:
        try:
            await self.ledger.release(reply.facts, ReplyStatus.ERROR)
        except Exception:  # Redis away too: the lock expires once it is no longer renewed
            log.warning("reply %s: could not free its session; its lock will expire", reply.id)

    async def _finish(
        self, reply: Reply, message: Message, status: ReplyStatus, tokens: int
    ) -> str | None:
        """Store the reply's message and free its session; the message's id if stored.

        While Redis is away the finished reply is kept here and stored when it returns,
        however long that takes, unless the process is stopping: then the reply is left
        to the reaper's path (stored as interrupted from its journal, by whichever
        process looks next).
        """
        attempt = 0
        while True:
            try:
                result = await self.ledger.finish(reply.facts, message, status, tokens)
                # Stored now, or before (a retried write; the reaper's close uses the same
                # id); not stored when the conversation was deleted meanwhile.
                if attempt:
                    log.info("reply %s: stored after %d failed tries", reply.id, attempt)
                return None if result == Finished.NO_CONVERSATION else message.id
            except RedisError:
                attempt += 1
                if attempt == 1 or attempt % 30 == 0:
                    log.warning("reply %s: storing it waits for Redis (try %d)", reply.id, attempt)
                if self._draining is not None:
                    return None
                await asyncio.sleep(min(_PERSIST_BACKOFF * 2 ** (attempt - 1), 2.0))

    # --- reading --------------------------------------------------------------

    async def follow(self, sid: str, rid: str, after: int = 0) -> AsyncIterator[ReplyEvent | None]:
        """The reply's events after sequence number ``after``; ``None`` while silent."""
        reply = self._local.get(rid)
        if reply is not None:
            async for event in self._follow_local(reply, after):
                yield event
            return
        async for event in self._follow_stream(sid, rid, after):
            yield event

    async def _follow_local(self, reply: Reply, after: int) -> AsyncIterator[ReplyEvent | None]:
        index = after
        while True:
            if reply.finished and index >= len(reply.events):
                return  # resumed at or after the end: nothing more will come
            if not await reply.wait_beyond(index, self.heartbeat):
                yield Heartbeat
                continue
            # Only what is journaled: after a crash, the text stored as interrupted is
            # exactly what any reader was shown.
            ready = reply.events[index : reply.journaled]
            index += len(ready)
            for event in coalesce(ready):
                yield event
                if event.final:
                    return

    async def _follow_stream(
        self, sid: str, rid: str, after: int
    ) -> AsyncIterator[ReplyEvent | None]:
        async for event in self.readers.follow(sid, rid, after):
            yield event

    # --- stopping -------------------------------------------------------------

    async def stop(self, rid: str) -> None:
        """Stop the reply wherever it runs; its partial text is stored."""
        await self.stops.stop(rid)

    def begin_shutdown(self, grace: float) -> None:
        """The process is stopping and must be gone ``grace`` seconds from now.

        Running replies get most of it to finish; then the rest are handed over
        (stored as interrupted, their readers told so) and readers of other
        processes' replies are let go (told to reconnect), early enough that every
        stream ends with a final event before the server closes the connections.
        """
        if self._draining is None:
            self._draining = asyncio.create_task(self._drain(grace), name="reply-drain")

    async def _drain(self, grace: float) -> None:
        hand_over = hand_over_time(grace)  # storing, the journal, readers' last frames
        tasks = [r.task for r in self._local.values() if r.task is not None]
        if tasks:
            wait = max(0.0, grace - hand_over)
            log.info("waiting up to %.1f s for %d running replies", wait, len(tasks))
            await asyncio.wait(tasks, timeout=wait)
        self._closing = True
        self.readers.close(ServerRestarting(retry_after=1))
        running = [r for r in self._local.values() if r.task is not None]
        for reply in running:
            cancel(reply, interrupt=True)
        if running:
            log.info("%d replies stopped by the shutdown; stored as interrupted", len(running))
            tasks = [r.task for r in running if r.task is not None]
            await asyncio.wait(tasks, timeout=max(0.1, hand_over))

    async def shutdown(self, grace: float) -> None:
        """Let running replies finish for ``grace`` seconds (counted from
        :meth:`begin_shutdown` if that came first), then stop and store them."""
        self.begin_shutdown(grace)
        assert self._draining is not None
        await self._draining
        for task in self._background:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self.journal.aclose()

    def start_background(self) -> None:
        """Start listening for stops and looking for interrupted replies."""
        self._background = [
            asyncio.create_task(self.stops.listen(), name="stop-listener"),
            asyncio.create_task(
                Reaper(self.ledger, self.lock_ttl, self._local.__contains__).run(),
                name="reply-reaper",
            ),
        ]
