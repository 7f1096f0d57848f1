"""The Redis scripts that claim, finish and close a reply, against a real Redis."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

from redis import Redis
from redis.asyncio import Redis as AsyncRedis

from parlour.domain import Message, ReplyFacts, ReplyStatus, SessionInfo, new_id, now
from parlour.store import Claimed, ConversationStore, Finished, Keys, ReplyLedger

T = TypeVar("T")


@dataclass
class Stores:
    conversations: ConversationStore
    ledger: ReplyLedger


def run(make: Callable[[Stores], Awaitable[T]], url: str) -> T:
    """Run against real stores in a thread of its own (the browser tests own a loop here)."""
    out: list[T] = []

    async def main() -> None:
        async with AsyncRedis.from_url(url, decode_responses=True) as client:
            keys = Keys("parlour")
            conversations = ConversationStore(client, keys)
            ledger = ReplyLedger(client, keys, conversations, stream_ttl=60)
            out.append(await make(Stores(conversations, ledger)))

    thread = threading.Thread(target=asyncio.run, args=(main(),))
    thread.start()
    thread.join(30)
    return out[0]


def facts_for(session: SessionInfo, parent: str = "") -> ReplyFacts:
    return ReplyFacts(new_id(), session.id, session.owner, ReplyStatus.RUNNING, parent)


def reply_message(facts: ReplyFacts, text: str) -> Message:
    return Message(facts.id, "assistant", text, now(), "assistant", parent=facts.parent or None)


async def texts(stores: Stores, sid: str) -> list[str]:
    nodes, _ = await stores.conversations.messages(sid)
    return [n.message.content for n in nodes]


def test_the_claim_returns_the_newest_messages_and_a_second_claim_is_refused(
    redis: Redis, redis_url: str
) -> None:
    async def scenario(s: Stores) -> tuple[list[str], object]:
        session = await s.conversations.create_session("ann", persona="assistant", model="m")
        parent = None
        for i in range(5):
            message = Message(new_id(), "user", f"m{i}", now(), "assistant", parent=parent)
            await s.conversations.append_message(session, message)
            parent = message.id
        claimed = await s.ledger.claim(facts_for(session), 30, 3)
        again = await s.ledger.claim(facts_for(session), 30, 3)
        assert isinstance(claimed, Claimed)
        return [m.content for m in claimed.history], again

    assert run(scenario, redis_url) == (["m2", "m3", "m4"], 0)


def test_finishing_stores_the_message_once_frees_the_session_and_counts_tokens(
    redis: Redis, redis_url: str
) -> None:
    async def scenario(s: Stores) -> tuple[object, object, list[str], int, str | None]:
        session = await s.conversations.create_session("ann", persona="assistant", model="m")
        facts = facts_for(session)
        await s.ledger.claim(facts, 30, 0)
        message = reply_message(facts, "done")
        first = await s.ledger.finish(facts, message, ReplyStatus.COMPLETE, 7)
        # A retried write (the first one went through, its answer was lost) stores nothing.
        second = await s.ledger.finish(facts, message, ReplyStatus.COMPLETE, 7)
        return (
            first,
            second,
            await texts(s, session.id),
            await s.ledger.usage_today("ann"),
            await s.ledger.running_reply(session.id),
        )

    assert run(scenario, redis_url) == (Finished.STORED, Finished.ALREADY, ["done"], 7, None)


def test_a_reply_already_closed_as_interrupted_is_not_stored_twice(
    redis: Redis, redis_url: str
) -> None:
    async def scenario(s: Stores) -> tuple[object, list[str]]:
        session = await s.conversations.create_session("ann", persona="assistant", model="m")
        facts = facts_for(session)
        await s.ledger.claim(facts, 30, 0)
        # another process took the reply for dead and stored its text so far
        closed = await s.ledger.finish(facts, reply_message(facts, "so far"),
                                       ReplyStatus.INTERRUPTED, 0, only_running=True)  # fmt: skip
        assert closed == Finished.STORED
        late = await s.ledger.finish(
            facts, reply_message(facts, "so far, and the rest"), ReplyStatus.COMPLETE, 3
        )
        return late, await texts(s, session.id)

    assert run(scenario, redis_url) == (Finished.ALREADY, ["so far"])


def test_the_reaper_leaves_a_reply_that_finished_meanwhile(redis: Redis, redis_url: str) -> None:
    async def scenario(s: Stores) -> tuple[object, list[str]]:
        session = await s.conversations.create_session("ann", persona="assistant", model="m")
        facts = facts_for(session)
        await s.ledger.claim(facts, 30, 0)
        await s.ledger.finish(facts, reply_message(facts, "all"), ReplyStatus.COMPLETE, 1)
        late = await s.ledger.finish(facts, reply_message(facts, "al"),
                                     ReplyStatus.INTERRUPTED, 0, only_running=True)  # fmt: skip
        return late, await texts(s, session.id)

    assert run(scenario, redis_url) == (Finished.NOT_RUNNING, ["all"])


def test_finishing_after_the_conversation_was_deleted_stores_nothing(
    redis: Redis, redis_url: str
) -> None:
    async def scenario(s: Stores) -> tuple[object, str | None, list[str]]:
        session = await s.conversations.create_session("ann", persona="assistant", model="m")
        facts = facts_for(session)
        await s.ledger.claim(facts, 30, 0)
        await s.conversations.delete_session(session)
        stored = await s.ledger.finish(facts, reply_message(facts, "late"),
                                       ReplyStatus.COMPLETE, 1)  # fmt: skip
        keys = await s.ledger.redis.keys(f"parlour:c:{{{session.id}}}*")
        # The reply's own facts and stream stay until they expire.
        own = f":reply:{facts.id}"
        left = [k for k in keys if own not in k]
        for key in keys:
            if own in key:
                assert await s.ledger.redis.ttl(key) > 0
        return stored, await s.ledger.running_reply(session.id), left

    assert run(scenario, redis_url) == (Finished.NO_CONVERSATION, None, [])


def test_every_script_touches_keys_of_one_slot(redis: Redis, redis_url: str) -> None:
    """Each script's keys share a hash tag: the layout works on a Redis Cluster."""
    keys = Keys("parlour")
    sid, rid, owner = new_id(), new_id(), "ann"

    def tag(key: str) -> str:
        return key[key.index("{") + 1 : key.index("}")]

    conversation = [*keys.conversation_keys(sid), keys.session_reply(sid), keys.reply(sid, rid),
                    keys.reply_events(sid, rid), keys.reaper(sid, rid)]  # fmt: skip
    assert {tag(k) for k in conversation} == {sid}
    owner_keys = [keys.user_sessions(owner), keys.user_replies(owner), keys.user_usage(owner, "d")]
    assert {tag(k) for k in owner_keys} == {owner}
    accounts = [keys.account("u"), keys.account_logins("u"), keys.account_tokens("u"),
                keys.account_names(), keys.accounts(), keys.first_account(), keys.login("d"),
                keys.token("d"), keys.invite("d")]  # fmt: skip
    assert {tag(k) for k in accounts} == {"acct"}
