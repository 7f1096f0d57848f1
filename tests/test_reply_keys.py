"""A refused message leaves nothing behind in Redis without an expiry (found by the soak:
every 409 left a reply-facts hash that never expired, one per refusal)."""

from __future__ import annotations

import httpx
from redis import Redis

from parlour.domain import EventKind, ReplyEvent
from tests.live import sse
from tests.test_store_scripts import Stores, facts_for, run
from tests.upstream import Reply, ScriptedUpstream


def test_a_message_refused_while_a_reply_runs_leaves_no_key_without_a_ttl(
    client: httpx.Client, upstream: ScriptedUpstream, redis: Redis
) -> None:
    upstream.enqueue(Reply(["slow ", "reply"], delay=0.5))
    sid = client.post("/api/v1/sessions", json={}).json()["id"]
    url = f"/api/v1/sessions/{sid}/messages"
    with sse(client, "POST", url, json={"content": "a"}) as (_response, events):
        next(events)
        for _ in range(3):
            assert client.post(url, json={"content": "b"}).status_code == 409
        list(events)
    keys = list(redis.scan_iter(match=f"parlour:c:{{{sid}}}:reply*"))
    assert keys  # the reply that ran keeps its facts and events for a while
    assert {k: redis.ttl(k) for k in keys if redis.ttl(k) < 0} == {}


def test_a_reply_stream_exists_with_its_expiry_from_the_claim_and_is_never_made_without_one(
    redis: Redis, redis_url: str
) -> None:
    """A write of events cut between its XADD and its EXPIRE (a kill at that moment, seen
    once in the soak) used to leave a stream that never expired: the stream is now made,
    with its expiry, by the claim itself, and writing events never makes one."""

    async def scenario(s: Stores) -> tuple[int, int, bool]:
        session = await s.conversations.create_session("ann", persona="assistant", model="m")
        facts = facts_for(session)
        await s.ledger.claim(facts, 30, 0)
        key = s.ledger.keys.reply_events(session.id, facts.id)
        ttl_at_claim = int(await s.ledger.redis.ttl(key))
        # The conversation (and so the stream) is gone; a late write must not bring it back.
        await s.ledger.redis.delete(key)
        start = [ReplyEvent(1, EventKind.START, {"reply_id": facts.id})]
        await s.ledger.append_events(session.id, facts.id, start, final=False)
        made = bool(await s.ledger.redis.exists(key))
        return ttl_at_claim, len(await s.ledger.all_events(session.id, facts.id)), made

    ttl_at_claim, events, made = run(scenario, redis_url)
    assert ttl_at_claim > 0
    assert (events, made) == (0, False)
