"""A reply in memory while it runs: its numbered events, its text, how it ended.

A reply's events are numbered from 1 (``start``, ``delta``/``reasoning``..., then
``done`` or ``error``). :class:`Reply` holds them in order and tells the journal
(``on_event``) of each new one; readers in this process are shown only what the
journal has written (:meth:`Reply.mark_journaled`). :class:`ReplyText` turns the
provider's pieces into answer and thinking events. :func:`coalesce` merges runs of
deltas that are ready at once, for readers that fell behind.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field

from parlour.domain import (
    EventKind,
    Message,
    ReasoningDelta,
    ReplyEvent,
    ReplyFacts,
    TextDelta,
    Usage,
)
from parlour.errors import ParlourError
from parlour.metrics import Timer
from parlour.reasoning import MOVED, REASONING, Piece, ThinkSplitter


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


class ReplyText:
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
