"""Redis going away while a reply runs: killed and restarted from its AOF, or paused.

Each test has a redis-server of its own, so the outage touches nothing else.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from redis import Redis

from parlour.embedded import EmbeddedRedis
from tests.conftest import ServerFactory
from tests.live import sse, text_of
from tests.upstream import Reply, ScriptedUpstream
from tests.waiting import wait_until

WORDS = [f"w{i} " for i in range(12)]
OUTAGE_SECONDS = 20  # longer than the old code kept a finished reply (~15 s)
PAUSE_SECONDS = 12  # longer than a Redis command's timeout (5 s)


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[EmbeddedRedis]:
    server = EmbeddedRedis(tmp_path / "own-redis")
    server.start()
    yield server
    server.stop()


def redis_pid(url: str) -> int:
    with Redis.from_url(url) as client:
        return int(client.info("server")["process_id"])


def assistant_messages(client: httpx.Client, sid: str) -> list[dict[str, object]]:
    items = client.get(f"/api/v1/sessions/{sid}/messages").json()["items"]
    return [m for m in items if m["role"] == "assistant"]


def test_a_reply_that_ends_while_redis_is_down_is_stored_once_when_it_returns(
    make_server: ServerFactory, upstream: ScriptedUpstream, own_redis: EmbeddedRedis
) -> None:
    server = make_server(redis_url=own_redis.url)
    upstream.enqueue(Reply(WORDS, delay=0.05))
    with httpx.Client(base_url=server.url, timeout=60) as client:
        sid = client.post("/api/v1/sessions", json={}).json()["id"]
        with sse(client, "POST", f"/api/v1/sessions/{sid}/messages",
                 json={"content": "go"}) as (_response, events):  # fmt: skip
            seen = [next(e for e in events if e.event == "delta")]
            os.kill(redis_pid(own_redis.url), signal.SIGKILL)  # mid-reply
            wait_until(lambda: len(upstream.ended) >= 1, timeout=30)  # it ends with Redis away
            assert client.get("/api/v1/sessions").status_code == 503
            time.sleep(OUTAGE_SECONDS)  # the outage lasts
            own_redis.stop()
            own_redis.start()  # from its AOF
            seen += list(events)
        assert seen[-1].event == "done"
        assert seen[-1].json()["message_id"] is not None
        assert text_of(seen) == "".join(WORDS)  # the reader was shown all of it
        stored = assistant_messages(client, sid)
        assert [(m["content"], m["status"]) for m in stored] == [("".join(WORDS), "complete")]
        upstream.enqueue(Reply(["again"]))
        with sse(client, "POST", f"/api/v1/sessions/{sid}/messages",
                 json={"content": "and now?"}) as (response, more):  # fmt: skip
            assert response.status_code == 200
            assert [e.event for e in more][-1] == "done"


def test_a_reply_that_ends_while_redis_is_paused_is_stored_exactly_once(
    make_server: ServerFactory, upstream: ScriptedUpstream, own_redis: EmbeddedRedis
) -> None:
    server = make_server(redis_url=own_redis.url)
    upstream.enqueue(Reply(WORDS, delay=0.05))
    pid = redis_pid(own_redis.url)
    with httpx.Client(base_url=server.url, timeout=60) as client:
        sid = client.post("/api/v1/sessions", json={}).json()["id"]
        with sse(client, "POST", f"/api/v1/sessions/{sid}/messages",
                 json={"content": "go"}) as (_response, events):  # fmt: skip
            seen = [next(e for e in events if e.event == "delta")]
            os.kill(pid, signal.SIGSTOP)
            try:
                wait_until(lambda: len(upstream.ended) >= 1, timeout=30)
                time.sleep(PAUSE_SECONDS)  # storing it times out, and is tried again
            finally:
                os.kill(pid, signal.SIGCONT)
            seen += list(events)
        assert seen[-1].event == "done"
        assert seen[-1].json()["message_id"] is not None
        stored = assistant_messages(client, sid)
        assert [m["content"] for m in stored] == ["".join(WORDS)]  # once, not twice
        with Redis.from_url(own_redis.url, decode_responses=True) as redis:
            keys = [k for k in redis.scan_iter("*:msgs")]
            assert len(keys) == 1
            assert redis.hlen(keys[0]) == 2  # the question and one answer
