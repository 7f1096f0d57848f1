"""Finding 6: followers of a reply written elsewhere share one reader; streams per user are
capped."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import httpx
import pytest
from redis import Redis

from tests.conftest import ServerFactory
from tests.live import LiveServer, sse
from tests.upstream import Reply, ScriptedUpstream

WORDS = [f"w{i} " for i in range(400)]
FOLLOWERS = 30


def busy_connections(server: LiveServer) -> int:
    """Connections of the app's Redis pool in use right now."""
    pool = server.app.state.services.store.redis.connection_pool
    return len(list(pool._get_in_use_connections()))


def wait_for(condition: object, what: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not condition():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


@pytest.fixture
def running_reply(
    make_server: ServerFactory, upstream: ScriptedUpstream
) -> Iterator[tuple[LiveServer, LiveServer, str]]:
    """A slow reply written by one app (a process), and another app on the same Redis."""
    writer, other = make_server(), make_server(max_followers_per_user=FOLLOWERS + 5)
    sid = httpx.post(f"{writer.url}/api/v1/sessions", json={}).json()["id"]
    upstream.enqueue(Reply(WORDS, delay=0.05))
    with httpx.Client(base_url=writer.url, timeout=60) as client:
        with sse(client, "POST", f"/api/v1/sessions/{sid}/messages",
                 json={"content": "go"}) as (_r, events):  # fmt: skip
            next(e for e in events if e.event == "delta")
            yield writer, other, sid
            client.post(f"/api/v1/sessions/{sid}/reply/stop")


def test_finding_06_followers_in_a_process_share_one_reader(
    running_reply: tuple[LiveServer, LiveServer, str], redis: Redis
) -> None:
    _writer, other, sid = running_reply
    seen = [0] * FOLLOWERS
    done = threading.Event()

    def follow(i: int) -> None:
        with httpx.Client(base_url=other.url, timeout=60) as client:
            with sse(client, "GET", f"/api/v1/sessions/{sid}/reply") as (_r, events):
                for event in events:
                    if event.event == "delta":
                        seen[i] += 1
                    if done.is_set() or event.event in ("done", "error"):
                        return

    # Held for the process's lifetime whoever follows: the pub/sub listeners (stops, live
    # changes).
    idle = min(busy_connections(other) for _ in range(20))
    threads = [threading.Thread(target=follow, args=(i,)) for i in range(FOLLOWERS)]
    for t in threads:
        t.start()
    try:
        wait_for(lambda: all(n >= 3 for n in seen), "every follower to receive deltas")
        # Each follower used to hold a connection in a blocking read: most were busy at any
        # moment. Now one reading task holds one.
        samples = []
        for _ in range(40):
            samples.append(busy_connections(other))
            time.sleep(0.02)  # spacing the samples (not waiting for anything)
        assert sorted(samples)[len(samples) // 2] <= idle + 1, (idle, samples)
        readers = other.app.state.services.replies.readers
        assert readers.reading == 1  # one reading task for the reply, for all 30
    finally:
        done.set()
        for t in threads:
            t.join(timeout=60)


def test_finding_06_streams_per_user_are_capped(
    make_server: ServerFactory, upstream: ScriptedUpstream
) -> None:
    server = make_server(max_followers_per_user=2)
    sid = httpx.post(f"{server.url}/api/v1/sessions", json={}).json()["id"]
    upstream.enqueue(Reply(WORDS, delay=0.05))
    with (
        httpx.Client(base_url=server.url, timeout=60) as a,
        httpx.Client(base_url=server.url, timeout=60) as b,
    ):
        with (
            sse(a, "POST", f"/api/v1/sessions/{sid}/messages", json={"content": "go"}) as (
                _r1,
                first,
            ),
            sse(b, "GET", f"/api/v1/sessions/{sid}/reply") as (_r2, second),
        ):
            next(e for e in first if e.event == "delta")
            next(e for e in second if e.event == "delta")
            third = httpx.get(f"{server.url}/api/v1/sessions/{sid}/reply")
            assert third.status_code == 429
            assert "reply streams open" in third.json()["detail"]
            # Another user is not affected (the tutorial's user_id names the owner).
            other = httpx.post(f"{server.url}/chat/start", params={"user_id": "bea"}).json()
            upstream.enqueue(Reply(["hi"]))
            params = {"user_id": "bea", "session_id": other["session_id"], "message": "hi"}
            stream = httpx.get(f"{server.url}/chat/stream", params=params)
            assert stream.status_code == 200
            a.post(f"/api/v1/sessions/{sid}/reply/stop")
    # Closed streams give their places back.
    wait_for(lambda: server.app.state.services.followers.open_for("local") == 0, "release")
