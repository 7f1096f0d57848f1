"""Abuse limits hold across processes (they are counted in Redis)."""

from __future__ import annotations

import httpx
import pytest

from tests.accounts import PASSWORD, SECRET_KEY, signed_in, signed_up
from tests.conftest import PairFactory, ServerFactory
from tests.live import collect, sse
from tests.processes import ServerProcess
from tests.upstream import Reply, ScriptedUpstream


@pytest.fixture
def pair(server_pair: PairFactory) -> tuple[ServerProcess, ServerProcess]:
    return server_pair(AUTH_MODE="password", SECRET_KEY=SECRET_KEY, RATE_MESSAGES="3/minute",
                       RATE_LOGIN_FAILURES="3/15minutes")  # fmt: skip


def test_sign_in_lockout_holds_across_processes(pair: tuple[ServerProcess, ServerProcess]) -> None:
    a, b = pair
    signed_up(a.url, "ada")
    bad = {"username": "ada", "password": "not the password"}
    for url in (a.url, b.url, a.url):
        assert httpx.post(f"{url}/api/v1/auth/login", json=bad).status_code == 401
    locked = httpx.post(f"{b.url}/api/v1/auth/login",
                        json={"username": "ada", "password": PASSWORD})  # fmt: skip
    assert locked.status_code == 429  # even the right password, while locked
    assert int(locked.headers["retry-after"]) > 0
    assert "Too many failed sign-ins" in locked.json()["detail"]


def test_message_rate_holds_across_processes(pair: tuple[ServerProcess, ServerProcess]) -> None:
    a, b = pair
    on_a = signed_up(a.url, "ada")
    on_b = signed_in(b.url, "ada")
    sid = on_a.post("/api/v1/sessions", json={}).json()["id"]
    for client in (on_a, on_b, on_a):
        collect(client, "POST", f"/api/v1/sessions/{sid}/messages", json={"content": "hi"})
    refused = on_b.post(f"/api/v1/sessions/{sid}/messages", json={"content": "one more"})
    assert refused.status_code == 429
    assert "too quickly" in refused.json()["detail"]
    assert "3 per minute" in refused.json()["detail"]
    assert 0 < int(refused.headers["retry-after"]) <= 60
    # The body carries it too, as a stream's failure event does.
    assert refused.json()["error"]["code"] == "rate_limited"
    assert refused.json()["error"]["retry_after"] == int(refused.headers["retry-after"])
    assert on_a.get(f"/api/v1/sessions/{sid}/messages").json()["total"] == 6  # nothing lost


def test_concurrent_replies_per_user(
    make_server: ServerFactory, upstream: ScriptedUpstream
) -> None:
    server = make_server(auth_mode="password", secret_key=SECRET_KEY, max_concurrent_replies=1)
    ada = signed_up(server.url, "ada")
    first, second = (ada.post("/api/v1/sessions", json={}).json()["id"] for _ in range(2))
    upstream.enqueue(Reply(["slow ", "reply"], delay=0.5))
    with sse(ada, "POST", f"/api/v1/sessions/{first}/messages", json={"content": "a"}) as (
        _r,
        events,
    ):
        next(events)
        refused = ada.post(f"/api/v1/sessions/{second}/messages", json={"content": "b"})
        assert refused.status_code == 429
        assert "already have 1 replies" in refused.json()["detail"]
        list(events)
    ok = collect(ada, "POST", f"/api/v1/sessions/{second}/messages", json={"content": "b"})
    assert ok[-1].event == "done"


def test_daily_token_quota(make_server: ServerFactory, upstream: ScriptedUpstream) -> None:
    server = make_server(daily_token_quota=3)
    with httpx.Client(base_url=server.url) as client:
        sid = client.post("/api/v1/sessions", json={}).json()["id"]
        collect(client, "POST", f"/api/v1/sessions/{sid}/messages", json={"content": "a b c"})
        refused = client.post(f"/api/v1/sessions/{sid}/messages", json={"content": "more"})
    assert refused.status_code == 429
    assert "quota of 3 tokens" in refused.json()["detail"]


def test_the_daily_quota_counts_the_tokens_the_model_reports(
    make_server: ServerFactory, upstream: ScriptedUpstream
) -> None:
    server = make_server(daily_token_quota=5)
    # Two deltas each, reported as 3 tokens each: after two replies 6 tokens are used, so
    # the third message is refused (counting deltas would have let it in).
    for _ in range(2):
        upstream.enqueue(Reply(["Supercalifragilistic ", "expialidocious"],
                               usage={"prompt_tokens": 9, "completion_tokens": 3}))  # fmt: skip
    with httpx.Client(base_url=server.url) as client:
        sid = client.post("/api/v1/sessions", json={}).json()["id"]
        for _ in range(2):
            events = collect(client, "POST", f"/api/v1/sessions/{sid}/messages",
                             json={"content": "spell it"})  # fmt: skip
            assert events[-1].json()["usage"]["completion_tokens"] == 3
        refused = client.post(f"/api/v1/sessions/{sid}/messages", json={"content": "again"})
    assert refused.status_code == 429
    assert "quota of 5 tokens" in refused.json()["detail"]
