"""A refused message leaves nothing behind in Redis without an expiry (found by the soak:
every 409 left a reply-facts hash that never expired, one per refusal)."""

from __future__ import annotations

import httpx
from redis import Redis

from tests.live import sse
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
