"""Running summaries: what falls out of the model's window, folded into a summary of
the branch by a model, after a reply - never on the way to a first token.

When a reply has ended (its message stored, its stream closed), a background task
plans the *next* turn's window (the same planning a turn does, with the last user
message standing in for the next one). The exchanges that would not fit and that
no summary covers yet are folded, a batch at a time, into the branch's summary: the
model is given the summary so far and those messages only (incremental), never the
persona's system prompt, and no reasoning text. Each fold is stored under the last
message it covers (see :mod:`parlour.window`), so every branch keeps its own.

One fold per conversation runs at a time in a process; a turn that starts meanwhile
uses the summary as it stands. If a fold fails, the reply is already complete: the
failure is recorded (the page says so), that turn's window is trimmed, and the next
reply's fold tries again.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

from parlour.context import PER_MESSAGE_OVERHEAD
from parlour.domain import ChatTurn, Message, ModelInfo, SessionInfo, TextDelta, now
from parlour.errors import NotFound, ParlourError, ProviderError
from parlour.providers.base import ChatProvider, CompletionRequest
from parlour.providers.registry import ModelRegistry
from parlour.store.summaries import SummaryStore
from parlour.window import Pair, Summary, Window

log = logging.getLogger(__name__)

MAX_SUMMARY_CHARS = 8_000
MAX_ROUNDS = 8  # folds one task runs back to back (replies that ended while it ran)
_THINKING = re.compile(r"<think>.*?(</think>|$)", re.DOTALL)

FOLD_PROMPT = (
    "You keep a running summary of a conversation between a user and an AI assistant. "
    "You get the summary so far and the next messages, which are about to leave the "
    "assistant's view. Write the updated summary. Keep every name, fact, number, "
    "preference, decision and open question; leave out greetings and any reasoning or "
    "thinking text. Write in the language the conversation uses, as short notes, in at "
    "most {words} words. Answer with the summary alone."
)


_Job = tuple[Callable[..., Any], Callable[[], "list[Message] | None"], ModelInfo, ChatProvider]


@dataclass(frozen=True, slots=True)
class SummaryView:
    """What the page shows about a conversation's summary, for its active branch."""

    enabled: bool  # summaries on for this conversation (and on this server)
    available: bool  # on this server
    summary: Summary | None
    first_kept: str | None  # the first message the model sees in full next
    trimmed: int  # messages cut without being summarized
    failed: str | None  # the code of the last fold's failure, until a fold succeeds
    pending: bool  # a fold is running


def _plain(text: str) -> str:
    """A message's text without reasoning blocks (which never go into a summary)."""
    return _THINKING.sub("", text).strip()


class Summaries:
    def __init__(
        self,
        store: SummaryStore,
        models: ModelRegistry,
        *,
        enabled: bool = True,
        model: str = "",
        max_tokens: int = 400,
    ) -> None:
        self.store = store
        self.models = models
        self.enabled = enabled
        self.model = model
        self.max_tokens = max_tokens
        self._running: set[str] = set()
        self._waiting: dict[str, int] = {}  # folds scheduled per conversation, not yet ended
        self._again: dict[str, _Job] = {}  # the newest branch to fold once the running fold ends
        self._tasks: set[asyncio.Task[None]] = set()
        self._closed = False

    async def for_turn(self, sid: str) -> list[Summary]:
        """The summaries a turn may use (none when they are off)."""
        if not self.enabled:
            return []
        state, summaries = await self.store.for_turn(sid)
        return [] if state.get("off") == "1" else summaries

    # --- after a reply -------------------------------------------------------------------

    def after(self, reply: asyncio.Task[None] | None, sid: str, plan: Callable[..., Any],
              history: Callable[[], list[Message] | None], info: ModelInfo,
              provider: ChatProvider) -> None:  # fmt: skip
        """Once ``reply`` has ended, fold what the next turn's window leaves out.

        ``history()`` gives the branch as it is then (None: nothing to fold); ``plan``
        plans a window (``plan(history, new_turn, summaries)``) with the turn's budget.
        """
        if not self.enabled or reply is None:
            return
        self._waiting[sid] = self._waiting.get(sid, 0) + 1

        def folded(_task: asyncio.Task[None] | None = None) -> None:
            if _task is not None:
                self._tasks.discard(_task)
            left = self._waiting.pop(sid, 1) - 1
            if left:
                self._waiting[sid] = left

        def ended(_reply: asyncio.Task[None]) -> None:  # whatever its outcome
            # Started only now: an open reply holds no waiting task (or its memory).
            if self._closed:
                folded()
                return
            task = asyncio.create_task(self._after(sid, plan, history, info, provider),
                                       name=f"summary-{sid}")  # fmt: skip
            self._tasks.add(task)
            task.add_done_callback(folded)

        reply.add_done_callback(ended)

    async def _after(self, sid: str, plan: Callable[..., Any],
                     history: Callable[[], list[Message] | None], info: ModelInfo,
                     provider: ChatProvider) -> None:  # fmt: skip
        first: _Job = (plan, history, info, provider)
        if sid in self._running:  # the running fold takes this branch up when it is done
            self._again[sid] = first
            return
        job: _Job | None = first
        self._running.add(sid)
        try:
            for _ in range(MAX_ROUNDS):
                if job is None:
                    break
                await self._round(sid, *job)
                job = self._again.pop(sid, None)
        finally:
            self._running.discard(sid)
            self._again.pop(sid, None)

    async def _round(self, sid: str, plan: Callable[..., Any],
                     history: Callable[[], list[Message] | None], info: ModelInfo,
                     provider: ChatProvider) -> None:  # fmt: skip
        branch = history()
        if not branch:
            return
        try:
            last = next((m.content for m in reversed(branch) if m.role == "user"), "")
            if not (await plan(branch, last, [])).dropped:
                return  # the whole branch fits: nothing falls out, nothing to fold or read
            state, summaries = await self.store.for_turn(sid)
            if state.get("off") == "1":
                return
            window: Window = await plan(branch, last, summaries)
            if window.dropped:
                await self._fold(sid, window.summary, window.dropped, info, provider)
        except ParlourError as exc:
            log.warning("summary of %s failed: %s", sid, exc.code)
            await self._failed(sid, exc.code)
        except Exception:
            log.exception("summary of %s failed", sid)
            await self._failed(sid, "internal_error")

    async def _failed(self, sid: str, code: str) -> None:
        try:
            await self.store.failed(sid, code, now())
        except Exception:  # Redis away too: the next fold tries again all the same
            log.warning("summary of %s: could not record the failure", sid)

    async def _fold(self, sid: str, summary: Summary | None, dropped: Sequence[Pair],
                    info: ModelInfo, provider: ChatProvider) -> None:  # fmt: skip
        if self.model:
            info, provider = self.models.resolve(self.models.check(self.model))
        text = summary.text if summary else ""
        covered = summary.messages if summary else 0
        for batch in self._batches(dropped, info, provider, text):
            text = await self._write(text, batch, info, provider)
            if summary is not None and await self._edited_since(sid, summary):
                return  # its reader corrected it meanwhile: the next fold builds on that
            covered += 2 * len(batch)
            summary = Summary(text, batch[-1][1].id, covered, model=info.id, updated_at=now())
            await self.store.save(sid, summary)

    async def _edited_since(self, sid: str, base: Summary) -> bool:
        now_stored = next((s for s in await self.store.all(sid) if s.covers == base.covers), None)
        return now_stored is not None and now_stored.updated_at != base.updated_at

    def _batches(self, dropped: Sequence[Pair], info: ModelInfo, provider: ChatProvider,
                 text: str) -> list[list[Pair]]:  # fmt: skip
        """The exchanges in groups that fit the summarizing model's window (the summary
        so far counted at its longest; at least one exchange a group)."""
        room = info.context_window - self.max_tokens * 2 - 200  # the prompt, the summaries
        batches: list[list[Pair]] = [[]]
        used = 0
        for user, assistant in dropped:
            cost = 2 * PER_MESSAGE_OVERHEAD + (len(user.content) + len(assistant.content)) // 3
            if batches[-1] and used + cost > room:
                batches.append([])
                used = 0
            batches[-1].append((user, assistant))
            used += cost
        return [b for b in batches if b]

    async def _write(self, text: str, batch: Sequence[Pair], info: ModelInfo,
                     provider: ChatProvider) -> str:  # fmt: skip
        room = max(200, (info.context_window - self.max_tokens * 2) * 3 // max(1, 2 * len(batch)))
        lines = [f"Summary so far:\n{text or '(none yet)'}", "", "Messages to fold in:"]
        for user, assistant in batch:
            lines.append(f"User: {_plain(user.content)[:room]}")
            lines.append(f"Assistant: {_plain(assistant.content)[:room]}")
        words = max(60, self.max_tokens * 2 // 3)
        prompt = [ChatTurn("system", FOLD_PROMPT.format(words=words)),
                  ChatTurn("user", "\n".join(lines))]  # fmt: skip
        request = CompletionRequest(
            model=info.id, messages=prompt, max_tokens=self.max_tokens, temperature=0.2
        )
        stream = provider.stream(request)
        parts = [item.text async for item in stream if isinstance(item, TextDelta)]
        written = _plain("".join(parts))[:MAX_SUMMARY_CHARS]
        if not written:
            raise ProviderError("The model wrote an empty summary.", code="summary_empty")
        return written

    # --- reading and changing ------------------------------------------------------------

    async def view(self, session: SessionInfo, window: Window | None) -> SummaryView:
        state = await self.store.state(session.id)
        failed = state.get("failed") or None
        return SummaryView(
            enabled=self.enabled and state.get("off") != "1",
            available=self.enabled,
            summary=window.summary if window else None,
            first_kept=window.first_kept if window else None,
            trimmed=2 * len(window.dropped) if window else 0,
            failed=failed,
            pending=session.id in self._waiting or session.id in self._running,
        )

    async def edit(self, session: SessionInfo, window: Window | None, text: str) -> Summary:
        """Change the summary the active branch uses: the next turn sends it as written."""
        if window is None or window.summary is None:
            raise NotFound("This conversation has no summary yet.", code="no_summary")
        changed = replace(window.summary, text=text.strip(), edited=True, updated_at=now())
        await self.store.save(session.id, changed)
        return changed

    async def set_enabled(self, session: SessionInfo, on: bool) -> None:
        await self.store.set_off(session.id, not on)

    async def shutdown(self) -> None:
        self._closed = True  # replies ending from now on start no fold
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
