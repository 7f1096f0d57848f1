"""Claiming a conversation for a new reply: the claim's whole lifecycle in one place.

A claim takes the conversation's reply lock (and one of the owner's reply slots),
stores the user's message and reads the context under the lock
(:meth:`ReplyLedger.claim`). It is used as a block::

    async with claims.hold(session_id, owner, ...) as held:
        ...                        # build the request
        replies.start(held.facts, ...)

Leaving the block without the reply having started - an error, a cancelled
request, a refusal found while building the request - gives the lock and the slot
back. Once the reply has started, its task owns the lock and frees it when it ends.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace

from parlour.domain import Message, ReplyFacts, ReplyStatus, new_id
from parlour.errors import ConversationFull, InvalidInput, NotFound, RateLimited, ReplyInProgress
from parlour.store import Claim, Claimed, ReplyLedger


@dataclass(frozen=True, slots=True)
class Held:
    """A claim that holds its conversation: the new reply's facts and its context."""

    facts: ReplyFacts
    claimed: Claimed


class Claims:
    """Takes and gives back conversations' reply locks for this process's replies."""

    def __init__(
        self,
        ledger: ReplyLedger,
        *,
        worker_id: str,
        lock_ttl: int,
        max_per_owner: int,
        started: Callable[[str], bool],
    ) -> None:
        self.ledger = ledger
        self.worker_id = worker_id
        self.lock_ttl = lock_ttl
        self.max_per_owner = max_per_owner
        self._started = started  # has the reply with this id started (its task owns it)?

    @asynccontextmanager
    async def hold(
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
    ) -> AsyncIterator[Held]:
        """Claim the conversation for a new reply (refusals raise before the block runs);
        released on leaving the block unless the reply started inside it."""
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
        held = await self._take(facts, history, start_from, answer_again, user)
        try:
            yield held
        finally:
            if not self._started(held.facts.id):
                await self.release(held.facts)

    async def _take(
        self,
        facts: ReplyFacts,
        history: int,
        start_from: str | None,
        answer_again: bool,
        user: Message | None,
    ) -> Held:
        most = self.max_per_owner
        if most and not await self.ledger.take_owner_slot(
            facts.owner, facts.id, most, self.lock_ttl
        ):
            raise RateLimited(
                f"You already have {most} replies being written. Wait for one to finish or "
                "stop it.",
                retry_after=5,
            )
        try:
            # The first heartbeat comes before the claim: a process that dies right
            # after claiming leaves a reply the reaper recognises as dead.
            await self.ledger.beat(facts.session, facts.id)
            claimed = await self.ledger.claim(
                facts, self.lock_ttl, history, start_from, answer_again=answer_again, user=user
            )
        except BaseException:
            await self.release(facts)
            raise
        if isinstance(claimed, Claim):
            await self.release(facts)
            raise _refusal(claimed, start_from)
        if answer_again and claimed.start is not None:
            facts = replace(facts, parent=claimed.start.id)
        return Held(facts, claimed)

    async def release(self, facts: ReplyFacts) -> None:
        """Give the conversation's lock and the owner's slot back (the reply never ran)."""
        await self.ledger.release(facts, ReplyStatus.ERROR)
        await self.ledger.forget_running(facts.session, facts.id)


def _refusal(claim: Claim, start_from: str | None) -> Exception:
    if claim == Claim.BUSY:
        return ReplyInProgress()
    if claim == Claim.FULL:
        return ConversationFull()
    if claim == Claim.NOT_ON_BRANCH and start_from == "?":
        return InvalidInput("There is no message to answer again.")
    if claim == Claim.NOT_ON_BRANCH:
        return InvalidInput(
            "That is not one of your messages on the branch shown in this conversation."
        )
    return NotFound("This conversation does not exist.")
