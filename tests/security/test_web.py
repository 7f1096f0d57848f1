"""Findings 3, 7, 8, 12, 13: hosts, the docs page's CSP, origins, sign-in for data, 500s."""

from __future__ import annotations

import logging

import httpx
import pytest
from redis import Redis

from parlour.store import Keys
from tests.accounts import PASSWORD_MODE, signed_up
from tests.conftest import ServerFactory
from tests.live import LiveServer, sse
from tests.upstream import Reply, ScriptedUpstream

REBOUND = "rebind.attacker.test:8000"


def strict_script_src(response: httpx.Response) -> bool:
    policy = response.headers["content-security-policy"]
    return "'unsafe-inline'" not in policy.split("script-src", 1)[1].split(";", 1)[0]


def test_finding_03_a_rebound_host_name_is_refused_before_any_route(server: LiveServer) -> None:
    rebound = {"Host": REBOUND, "Origin": f"http://{REBOUND}"}
    listing = httpx.get(f"{server.url}/api/v1/sessions", headers=rebound)
    assert listing.status_code == 421
    assert listing.json()["error"]["code"] == "host_not_allowed"
    assert "content-security-policy" in listing.headers
    made = httpx.post(f"{server.url}/api/v1/sessions", json={}, headers=rebound)
    assert made.status_code == 421
    assert httpx.get(f"{server.url}/api/v1/sessions").json()["total"] == 0  # nothing written
    for host in ("localhost:8000", "127.0.0.1", "[::1]:8000"):
        ok = httpx.get(f"{server.url}/api/v1/sessions", headers={"Host": host})
        assert ok.status_code == 200, host
    # A loopback name followed by something that is not a port names no host.
    for host in ("localhost:8000@rebind.attacker.test", "127.0.0.1:x", "[::1]rebind"):
        odd = httpx.get(f"{server.url}/api/v1/sessions", headers={"Host": host})
        assert odd.status_code == 421, host


def test_finding_03_other_host_names_are_a_setting(make_server: ServerFactory) -> None:
    server = make_server(allowed_hosts=["chat.example.com"])
    named = httpx.get(f"{server.url}/api/v1/sessions", headers={"Host": "chat.example.com"})
    assert named.status_code == 200
    assert httpx.get(f"{server.url}/api/v1/personas", headers={"Host": REBOUND}).status_code == 421
    # Health checks are answered whatever the Host (orchestrators probe by address).
    assert httpx.get(f"{server.url}/healthz", headers={"Host": "10.1.2.3:8000"}).status_code == 200


def test_finding_07_the_docs_csp_is_for_the_docs_path_only(server: LiveServer) -> None:
    assert not strict_script_src(httpx.get(f"{server.url}/docs"))  # Swagger UI needs it
    for path in ("/docs%2f..%2findex.html", "/docs/../index.html", "/docsx", "/docs/x"):
        response = httpx.get(f"{server.url}{path}")
        assert strict_script_src(response), path


@pytest.fixture
def ada(make_server: ServerFactory) -> tuple[LiveServer, httpx.Client]:
    server = make_server(**PASSWORD_MODE)
    return server, signed_up(server.url, "ada")


def test_finding_08_a_sibling_port_page_cannot_start_the_tutorial_stream(
    ada: tuple[LiveServer, httpx.Client], upstream: ScriptedUpstream
) -> None:
    server, client = ada
    sid = client.post("/chat/start", params={"user_id": "ada"}).json()["session_id"]
    params = {"user_id": "ada", "session_id": sid, "message": "hi",
              "csrf_token": client.headers["X-CSRF-Token"]}  # fmt: skip
    sibling = "http://127.0.0.1:9"  # another port of the same host: same-site, not same-origin
    for headers in ({"Origin": sibling}, {"Sec-Fetch-Site": "same-site"},
                    {"Sec-Fetch-Site": "cross-site"}):  # fmt: skip
        refused = client.get("/chat/stream", params=params, headers=headers)
        assert refused.status_code == 403, headers
        assert refused.json()["error"]["code"] == "cross_origin"
    assert client.get(f"/api/v1/sessions/{sid}/messages").json()["total"] == 0
    upstream.enqueue(Reply(["hello"]))
    own = client.get(
        "/chat/stream",
        params=params,
        headers={"Origin": server.url, "Sec-Fetch-Site": "same-origin"},
    )
    assert own.status_code == 200


def test_finding_08_the_csrf_token_in_the_query_is_only_for_the_tutorial_stream(
    ada: tuple[LiveServer, httpx.Client],
) -> None:
    _server, client = ada
    token = client.headers.pop("X-CSRF-Token")
    refused = client.post("/api/v1/sessions", json={}, params={"csrf_token": token})
    assert refused.status_code == 403
    assert client.post("/api/v1/sessions", json={}, headers={"X-CSRF-Token": token}).is_success


def test_finding_12_data_and_metrics_need_sign_in_with_accounts(
    make_server: ServerFactory,
) -> None:
    server = make_server(**PASSWORD_MODE)
    for path in ("/roles", "/api/v1/models", "/api/v1/personas"):
        assert httpx.get(f"{server.url}{path}").status_code == 401, path
    metrics = httpx.get(f"{server.url}/metrics")
    assert metrics.status_code == 403
    assert "METRICS_TOKEN" in metrics.json()["detail"]
    user = signed_up(server.url, "ada")
    assert "system_prompt" in user.get("/roles").json()["roles"]["assistant"]
    assert user.get("/api/v1/models").status_code == 200


def test_finding_12_metrics_behind_a_token(make_server: ServerFactory) -> None:
    server = make_server(**PASSWORD_MODE, metrics_token="scrape-token-0123456789")
    assert httpx.get(f"{server.url}/metrics").status_code == 401
    wrong = {"Authorization": "Bearer nope"}
    assert httpx.get(f"{server.url}/metrics", headers=wrong).status_code == 401
    right = {"Authorization": "Bearer scrape-token-0123456789"}
    scraped = httpx.get(f"{server.url}/metrics", headers=right)
    assert scraped.status_code == 200
    assert "parlour_" in scraped.text


def test_finding_13_a_bad_last_event_id_is_a_400_with_the_headers(
    client: httpx.Client, upstream: ScriptedUpstream, caplog: pytest.LogCaptureFixture
) -> None:
    sid = client.post("/api/v1/sessions", json={}).json()["id"]
    upstream.enqueue(Reply([f"w{i} " for i in range(200)], delay=0.05))
    with sse(client, "POST", f"/api/v1/sessions/{sid}/messages", json={"content": "go"}) as (
        _response,
        events,
    ):
        next(e for e in events if e.event == "delta")  # the reply is running
        with caplog.at_level(logging.INFO):
            for bad in ("²".encode("latin-1"), b"9" * 4300, b"-1", b"1e3"):
                response = client.get(f"/api/v1/sessions/{sid}/reply",
                                      headers={"Last-Event-ID": bad})  # fmt: skip
                assert response.status_code == 400, bad
                assert response.json()["error"]["code"] == "invalid_event_id"
                assert strict_script_src(response)
        assert not [r for r in caplog.records if r.exc_info or r.levelno >= logging.ERROR]
        client.post(f"/api/v1/sessions/{sid}/reply/stop")


def test_finding_13_an_unexpected_error_is_a_500_with_the_headers_logged_once(
    client: httpx.Client, redis: Redis, caplog: pytest.LogCaptureFixture
) -> None:
    sid = client.post("/api/v1/sessions", json={}).json()["id"]
    redis.hset(Keys("parlour").conversation(sid), "created_at", "not a number")  # corrupted
    with caplog.at_level(logging.INFO):
        response = client.get(f"/api/v1/sessions/{sid}")
    assert response.status_code == 500
    assert response.json()["error"]["code"] == "internal_error"
    assert "Traceback" not in response.text
    assert strict_script_src(response)
    assert response.headers["x-content-type-options"] == "nosniff"
    assert len([r for r in caplog.records if r.exc_info]) == 1


def test_finding_13_a_crafted_user_id_is_a_404(ada: tuple[LiveServer, httpx.Client]) -> None:
    _server, admin = ada
    uid = admin.get("/api/v1/auth/me").json()["id"]
    for crafted in (f"{uid}:tokens", f"{uid}:logins", "x" * 40):
        response = admin.post(f"/api/v1/admin/users/{crafted}/enable")
        assert response.status_code == 404, crafted
