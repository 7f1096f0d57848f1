"""The Redis scripts that start and finish a reply, against a real Redis."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable
from typing import TypeVar

from redis import Redis
from redis.asyncio import Redis as AsyncRedis

from parlour.domain import Message, new_id, now
from parlour.store import ConversationStore

T = TypeVar("T")


def run(make: Callable[[ConversationStore], Awaitable[T]], url: str) -> T:
    """Run against an async store in a thread of its own (the browser tests own a loop here)."""
    out: list[T] = []

    async def main() -> None:
        async with AsyncRedis.from_url(url, decode_responses=True) as client:
            out.append(await make(ConversationStore(client)))

    thread = threading.Thread(target=asyncio.run, args=(main(),))
    thread.start()
    thread.join(30)
    return out[0]


def reply_message(text: str) -> Message:
    return Message(new_id(), "assistant", text, now(), "assistant")


def test_the_claim_returns_the_newest_messages_and_a_second_claim_is_refused(
    redis: Redis, redis_url: str
) -> None:
    async def scenario(store: ConversationStore) -> tuple[int, list[str], int]:
        session = await store.create_session("ann", persona="assistant", model="m")
        for i in range(5):
            await store.append_message(
                session, Message(new_id(), "user", f"m{i}", now(), "assistant")
            )
        facts = {"session": session.id, "owner": "ann", "status": "running"}
        claimed, history = await store.try_lock_reply(session.id, "ann", new_id(), 30, 0, facts, 3)
        again, _ = await store.try_lock_reply(session.id, "ann", new_id(), 30, 0, facts, 3)
        return claimed, [m.content for m in history], again

    assert run(scenario, redis_url) == (1, ["m2", "m3", "m4"], 0)


def test_finishing_stores_the_message_frees_the_session_and_counts_tokens(
    redis: Redis, redis_url: str
) -> None:
    async def scenario(store: ConversationStore) -> tuple[bool, list[str], int, str | None]:
        session = await store.create_session("ann", persona="assistant", model="m")
        rid = new_id()
        facts = {"session": session.id, "owner": "ann", "status": "running"}
        await store.try_lock_reply(session.id, "ann", rid, 30, 0, facts, 0)
        stored = await store.finish_reply(
            session.id, "ann", rid, reply_message("done"), status="complete", tokens=7
        )
        messages, _ = await store.messages(session.id)
        return (
            stored,
            [m.content for m in messages],
            await store.usage_today("ann"),
            (await store.running_reply(session.id)),
        )

    assert run(scenario, redis_url) == (True, ["done"], 7, None)


def test_a_reply_already_closed_as_interrupted_is_not_stored_twice(
    redis: Redis, redis_url: str
) -> None:
    async def scenario(store: ConversationStore) -> tuple[bool, list[str]]:
        session = await store.create_session("ann", persona="assistant", model="m")
        rid = new_id()
        facts = {"session": session.id, "owner": "ann", "status": "running"}
        await store.try_lock_reply(session.id, "ann", rid, 30, 0, facts, 0)
        # another process took the reply for dead and stored its text so far
        await store.append_message(session, reply_message("so far"))
        await store.release_reply(session.id, "ann", rid, status="interrupted")
        stored = await store.finish_reply(
            session.id, "ann", rid, reply_message("so far, and the rest"), status="complete",
            tokens=3,
        )  # fmt: skip
        messages, _ = await store.messages(session.id)
        return stored, [m.content for m in messages]

    assert run(scenario, redis_url) == (False, ["so far"])


def test_finishing_after_the_conversation_was_deleted_stores_nothing(
    redis: Redis, redis_url: str
) -> None:
    async def scenario(store: ConversationStore) -> tuple[bool, str | None]:
        session = await store.create_session("ann", persona="assistant", model="m")
        rid = new_id()
        facts = {"session": session.id, "owner": "ann", "status": "running"}
        await store.try_lock_reply(session.id, "ann", rid, 30, 0, facts, 0)
        await store.delete_session("ann", session.id)
        stored = await store.finish_reply(
            session.id, "ann", rid, reply_message("late"), status="complete", tokens=1
        )
        return stored, await store.running_reply(session.id)

    assert run(scenario, redis_url) == (False, None)
