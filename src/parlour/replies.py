"""Replies run as tasks of their own, not tied to any HTTP connection.

Design note (concurrency)
-------------------------
A reply is produced by one task in one process (its *owner process*). Its
events are numbered from 1 (``start``, ``delta``..., then ``done`` or
``error``) and go two ways:

* into an in-memory list on the :class:`Reply`;
* into the reply's Redis Stream, in small batches, for readers in other
  processes and for resuming after a disconnect. One task per process (the
  *journal*) writes every running reply's new events each ``flush_interval``
  seconds (10 ms) in one pipelined round trip, and keeps their session locks
  fresh in the same trip; a reply's first events and its final event are
  written at once.

Readers in the same process follow the in-memory list, but only as far as the
journal has written it: what any reader is shown is in Redis, so after a crash
the text stored as interrupted is exactly what every reader saw, and the
reaper's final event comes after every number a reader has.

A reader asks for the events after a sequence number and gets each one once,
in order, whichever way it reads. The reply's task owns the session's reply
lock (a Redis key with a TTL that the task keeps fresh), writes the assistant
message when it ends - complete, stopped (``partial``) or failed - and then
releases the lock. Stopping cancels the task; cancellation reaches the provider
through the async generator, which closes the upstream request or stops local
generation. A stop asked in another process arrives by pub/sub.

If the owner process dies, its heartbeat stops; ``reaper.py`` then stores the
reply's text so far and ends its stream.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field, replace

from redis.exceptions import RedisError

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
from parlour.errors import (
    ConversationFull,
    InvalidInput,
    NotFound,
    ParlourError,
    ProviderError,
    RateLimited,
    ReplyInProgress,
    ReplyInterrupted,
    ServerRestarting,
)
from parlour.followers import StreamReaders
from parlour.grace import hand_over_time
from parlour.metering import measure
from parlour.metrics import Metrics, Timer
from parlour.providers.base import ChatProvider, CompletionRequest
from parlour.reaper import Reaper
from parlour.reasoning import MOVED, REASONING, Piece, ThinkSplitter
from parlour.store import Claim, Claimed, Finished, ReplyLedger

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Outcome:
    """How a reply ended: what :data:`Persist` turns into the assistant message."""

    text: str
    status: str
    error: ParlourError | None
    finish_reason: str
    reasoning: str = ""
    reasoning_seconds: float | None = None
    usage: Usage | None = None  # None: nothing was spent
    duration: float | None = None  # seconds, from the request to the end


# Called once when a reply ends, with its outcome -> the assistant message to store.
Persist = Callable[[Outcome], Message]

Heartbeat = None  # what a subscription yields while the model is silent
_HANDED_OVER = (
    "The server restarted before this reply finished. The text so far was saved; "
    "send your message again to continue."
)
_PERSIST_BACKOFF = 0.25  # storing a finished reply: the first retry's wait, doubling to 2 s


def coalesce(events: list[ReplyEvent]) -> list[ReplyEvent]:
    """Merge runs of deltas (or of reasoning) that are ready at once into one event with
    the last one's number.

    A reader that keeps up gets every delta as it comes; one that has fallen behind
    (a fast model, a slow network) gets fewer, larger frames. Resuming after a merged
    delta's number is exact: it covers every delta up to it. A reasoning event that
    replaces the answer starts a run of its own (it may follow deltas, never join them).
    """
    out: list[ReplyEvent] = []
    run: list[ReplyEvent] = []

    def close_run() -> None:
        if len(run) == 1:
            out.append(run[0])
        elif run:
            text = "".join(str(e.data["content"]) for e in run)
            out.append(ReplyEvent(run[-1].seq, run[0].kind, run[0].data | {"content": text}))
        run.clear()

    for event in events:
        if event.kind in _MERGED:
            fresh = event.data.get("replace_answer") is True
            if run and (run[0].kind != event.kind or fresh):
                close_run()
            run.append(event)
            continue
        close_run()
        out.append(event)
    close_run()
    return out


_MERGED = frozenset({EventKind.DELTA, EventKind.REASONING})


class _Text:
    """A reply's answer and thinking as they stream, each piece emitted as its event."""

    def __init__(self, reply: Reply, timer: Timer) -> None:
        self.reply = reply
        self.timer = timer
        self.splitter = ThinkSplitter()
        self.parts: list[str] = []
        self.thought: list[str] = []
        self.deltas = 0
        self.seen = False
        self._thought_for: float | None = None  # when the thinking ended

    def add(self, item: TextDelta | ReasoningDelta) -> None:
        self.seen = True
        self.deltas += 1
        if isinstance(item, ReasoningDelta):
            self.splitter.explicit()
            self._think(item.text)
        else:
            self._pieces(self.splitter.feed(item.text))

    def end(self) -> None:
        self._pieces(self.splitter.flush())

    def _pieces(self, pieces: list[Piece]) -> None:
        for kind, piece in pieces:
            if kind == REASONING:
                self._think(piece)
            elif kind == MOVED:
                moved = "".join(self.parts) + piece
                self.parts.clear()
                self.thought.append(moved)
                self._stop_thinking()
                self.reply.emit(EventKind.REASONING, {"content": moved, "replace_answer": True})
            elif piece:
                if self.thought:
                    self._stop_thinking()
                self.parts.append(piece)
                self.reply.emit(EventKind.DELTA, {"content": piece})

    def _think(self, piece: str) -> None:
        if piece:
            self.thought.append(piece)
            self.reply.emit(EventKind.REASONING, {"content": piece})

    def _stop_thinking(self) -> None:
        if self._thought_for is None:
            self._thought_for = self.timer.elapsed()

    def answer(self) -> str:
        return "".join(self.parts)

    def reasoning(self) -> str:
        return "".join(self.thought)

    def seconds(self) -> float | None:
        """How long it thought (until the answer began, or until now); None if it did not."""
        if not self.thought:
            return None
        end = self._thought_for if self._thought_for is not None else self.timer.elapsed()
        return round(end, 1)


@dataclass(eq=False)
class Reply:
    facts: ReplyFacts
    events: list[ReplyEvent] = field(default_factory=list)
    task: asyncio.Task[None] | None = None
    stopped: bool = False
    generating: bool = False  # only then may a stop cancel the task
    interrupted: bool = False  # stopped by a shutdown, not by the user
    releasing: bool = False  # its lock is being given up: the journal stops renewing it
    journaled: int = 0  # events written to the Redis Stream so far
    beat: float = 0.0  # when the lock was last renewed (0: the journal renews it at once)
    all_journaled: asyncio.Event = field(default_factory=asyncio.Event)
    _changed: asyncio.Event = field(default_factory=asyncio.Event)
    # Told of each new event (the journal: it has something to write).
    on_event: Callable[[Reply, ReplyEvent], None] | None = None

    @property
    def id(self) -> str:
        return self.facts.id

    @property
    def session_id(self) -> str:
        return self.facts.session

    @property
    def owner(self) -> str:
        return self.facts.owner

    def emit(self, kind: EventKind, data: dict[str, object]) -> ReplyEvent:
        event = ReplyEvent(len(self.events) + 1, kind, data)
        self.events.append(event)
        if self.on_event is not None:
            self.on_event(self, event)
        return event

    def mark_journaled(self, count: int) -> None:
        """The first ``count`` events are in Redis: readers may be shown them."""
        self.journaled = count
        self._changed.set()
        self._changed = asyncio.Event()
        if self.finished and count == len(self.events):
            self.all_journaled.set()

    @property
    def finished(self) -> bool:
        return bool(self.events) and self.events[-1].final

    async def wait_beyond(self, count: int, wait: float) -> bool:
        """Wait until more than ``count`` events are journaled; False on timeout."""
        if self.journaled > count:
            return True
        changed = self._changed
        try:
            async with asyncio.timeout(wait):
                await changed.wait()
        except TimeoutError:
            return False
        return True


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
        self.worker_id = new_id()[:12]
        self._local: dict[str, Reply] = {}
        self._background: list[asyncio.Task[None]] = []
        self._journal_task: asyncio.Task[None] | None = None
        # Something waits for the journal (a reply's first events, or its last): write
        # without waiting for the interval.
        self._urgent = asyncio.Event()
        self._dirty: dict[str, Reply] = {}  # replies with events not yet journaled
        self._renewed = 0.0  # when the journal last looked for locks to renew
        self._draining: asyncio.Task[None] | None = None
        self._closing = False  # readers of other processes' replies are let go

    # --- starting -------------------------------------------------------------

    async def claim(
        self,
        session_id: str,
        owner: str,
        *,
        persona: str,
        model: str,
        history: int,
        parent: str = "",
        start_from: str | None = None,
        answer_again: bool = False,
        user: Message | None = None,
    ) -> tuple[ReplyFacts, Claimed]:
        """Take the conversation's reply lock for a new reply and store ``user`` (see
        :meth:`ReplyLedger.claim`); returns its facts and its context, read under the lock.
        Either the reply starts, or :meth:`release` gives the lock back."""
        facts = ReplyFacts(
            id=new_id(),
            session=session_id,
            owner=owner,
            status=ReplyStatus.RUNNING,
            parent=parent,
            persona=persona,
            model=model,
            worker=self.worker_id,
            started_at=time.time(),
        )
        most = self.max_per_owner
        if most and not await self.ledger.take_owner_slot(owner, facts.id, most, self.lock_ttl):
            raise RateLimited(
                f"You already have {most} replies being written. Wait for one to finish or "
                "stop it.",
                retry_after=5,
            )
        try:
            await self.ledger.beat(session_id, facts.id)
            claimed = await self.ledger.claim(
                facts, self.lock_ttl, history, start_from, answer_again=answer_again, user=user
            )
        except BaseException:
            await self.release(facts)
            raise
        if isinstance(claimed, Claim):
            await self.release(facts)
            if claimed == Claim.BUSY:
                raise ReplyInProgress()
            if claimed == Claim.FULL:
                raise ConversationFull()
            if claimed == Claim.NOT_ON_BRANCH and start_from == "?":
                raise InvalidInput("There is no message to answer again.")
            if claimed == Claim.NOT_ON_BRANCH:
                raise InvalidInput(
                    "That is not one of your messages on the branch shown in this conversation."
                )
            raise NotFound("This conversation does not exist.")
        if answer_again and claimed.start is not None:
            facts = replace(facts, parent=claimed.start.id)
        return facts, claimed

    async def release(self, facts: ReplyFacts) -> None:
        await self.ledger.release(facts, ReplyStatus.ERROR)
        await self.ledger.forget_running(facts.session, facts.id)

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
        reply = Reply(facts, on_event=self._journal_soon)
        reply.emit(EventKind.START, {"reply_id": rid, "session_id": facts.session, **start_data})
        self._local[rid] = reply
        if self._journal_task is None or self._journal_task.done():
            self._journal_task = asyncio.create_task(self._journal(), name="reply-journal")
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
        text = _Text(reply, timer)
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
                usage = await measure(provider, finish, request.messages, answer + reasoning)
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
            self._urgent.set()
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

    def _journal_soon(self, reply: Reply, event: ReplyEvent) -> None:
        self._dirty[reply.id] = reply
        # A reply's start and first text, and its end, are written at once: a reader is
        # shown nothing that is not in Redis, and these are what people wait for.
        if event.seq <= 2 or event.final:
            self._urgent.set()

    async def _journal(self) -> None:
        """Write new events of every local reply to Redis, one round trip per interval."""
        while self._local:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.flush_interval):
                    await self._urgent.wait()
            self._urgent.clear()
            try:
                await self._journal_once()
            except RedisError:
                log.warning("could not write reply events to Redis; will retry")
                await asyncio.sleep(0.5)
            except Exception:
                log.exception("writing reply events failed; will retry")
                await asyncio.sleep(0.5)

    async def _journal_once(self) -> None:
        batches: list[tuple[Reply, int]] = []
        renew: list[Reply] = []
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
            renew += [r for r in self._local.values() if 0 < r.beat < due and not r.releasing]
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
        reply = self._local.get(rid)
        if reply is not None:
            self._cancel(reply)
        else:
            await self.ledger.publish_stop(rid)

    def _cancel(self, reply: Reply, *, interrupt: bool = False) -> None:
        if reply.stopped or reply.finished:
            return
        reply.stopped = True  # checked before generation starts, too
        reply.interrupted = interrupt
        if reply.task is not None and reply.generating:
            reply.task.cancel()

    async def listen_for_stops(self) -> None:
        """Stop local replies when another process asks (runs for the app's lifetime)."""
        while True:
            try:
                async with self.ledger.redis.pubsub() as pubsub:
                    await pubsub.subscribe(self.ledger.keys.stop_channel())
                    async for message in pubsub.listen():
                        if message.get("type") != "message":
                            continue
                        reply = self._local.get(str(message["data"]))
                        if reply is not None:
                            self._cancel(reply)
            except RedisError:
                await asyncio.sleep(1.0)

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
            self._cancel(reply, interrupt=True)
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
        for task in [*self._background, self._journal_task]:
            if task is None:
                continue
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    def start_background(self) -> None:
        """Start listening for stops and looking for interrupted replies."""
        self._background = [
            asyncio.create_task(self.listen_for_stops(), name="stop-listener"),
            asyncio.create_task(
                Reaper(self.ledger, self.lock_ttl, self._local.__contains__).run(),
                name="reply-reaper",
            ),
        ]
