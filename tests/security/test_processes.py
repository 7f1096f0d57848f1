"""Across two ``parlour serve`` processes: the sign-in guard holds (a concurrency test of
the limits), and finding 10: disabling a user stops their replies wherever they run."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from redis import Redis

from tests.accounts import PASSWORD, SECRET_KEY, signed_up
from tests.live import sse, text_of
from tests.processes import ServerProcess
from tests.security.helpers import client_from, server_processes
from tests.upstream import Reply, ScriptedUpstream

ENV = {"AUTH_MODE": "password", "SECRET_KEY": SECRET_KEY, "OPENAI_MODEL": "scripted-model",
       "RATE_LOGIN_IP": "1000/minute", "RATE_LOGIN_FAILURES": "5/15minutes",
       "HEARTBEAT_SECONDS": "1"}  # fmt: skip
WORDS = [f"w{i} " for i in range(400)]


@pytest.fixture
def pair(
    tmp_path: Path, redis: Redis, redis_url: str, upstream: ScriptedUpstream
) -> Iterator[list[ServerProcess]]:
    env = {**ENV, "REDIS_URL": redis_url, "OPENAI_BASE_URL": upstream.url}
    with server_processes(env, tmp_path, count=2) as servers:
        yield servers


def test_concurrent_guesses_on_two_processes_verify_at_most_the_limit(
    pair: list[ServerProcess],
) -> None:
    a, b = pair
    signed_up(a.url, "ada")

    def guess(i: int) -> int:
        url = (a, b)[i % 2].url
        with client_from("127.0.0.2", url) as client:
            body = {"username": "ada", "password": f"wrong-{i:04d}"}
            return client.post("/api/v1/auth/login", json=body).status_code

    with ThreadPoolExecutor(max_workers=16) as pool:
        codes = list(pool.map(guess, range(40)))
    assert codes.count(401) <= 5
    assert codes.count(401) + codes.count(429) == 40
    with client_from("127.0.0.2", b.url) as client:
        body = {"username": "ada", "password": PASSWORD}
        assert client.post("/api/v1/auth/login", json=body).status_code == 429
    with client_from("127.0.0.3", a.url) as client:  # the owner, elsewhere, gets in
        body = {"username": "ada", "password": PASSWORD}
        assert client.post("/api/v1/auth/login", json=body).status_code == 200


def test_finding_10_disabling_a_user_stops_their_replies_in_every_process(
    pair: list[ServerProcess], upstream: ScriptedUpstream
) -> None:
    a, b = pair
    admin = signed_up(a.url, "ada")
    bob = signed_up(b.url, "bob")
    bob_id = bob.get("/api/v1/auth/me").json()["id"]
    sid = bob.post("/api/v1/sessions", json={}).json()["id"]
    upstream.enqueue(Reply(WORDS, delay=0.05))
    with httpx.Client(base_url=a.url, cookies=bob.cookies, timeout=60) as on_a:
        with sse(bob, "POST", f"/api/v1/sessions/{sid}/messages",
                 json={"content": "go"}) as (_r, written):  # fmt: skip
            received = [next(e for e in written if e.event == "delta")]
            with sse(on_a, "GET", f"/api/v1/sessions/{sid}/reply") as (_r2, followed):
                next(e for e in followed if e.event == "delta")
                disabled = admin.post(f"/api/v1/admin/users/{bob_id}/disable")
                assert disabled.status_code == 200
                rest_a = list(followed)  # the stream on the other process ends
            received += list(written)  # and so does the one where the reply runs
    assert received[-1].event == "done"
    assert received[-1].json()["finish_reason"] == "stopped"
    assert rest_a[-1].event == "done"
    assert len(text_of(received)) < len("".join(WORDS))
    assert bob.get("/api/v1/auth/me").status_code == 401
