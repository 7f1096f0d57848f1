"""Security headers, CORS, the loopback rule, and secrets that never leave the server."""

from __future__ import annotations

import logging
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from parlour.logs import quiet_http_clients
from tests.conftest import ServerFactory
from tests.live import collect
from tests.processes import free_port
from tests.upstream import Reply, ScriptedUpstream, Status

SECRET = "sk-test-secret-key-0123456789"


def test_every_response_carries_the_security_headers(client: httpx.Client) -> None:
    for path in ("/", "/api/v1/personas", "/api/v1/sessions/nope"):
        headers = client.get(path).headers
        csp = headers["content-security-policy"]
        assert "script-src 'self';" in csp
        assert "unsafe-inline' " not in csp.split("script-src")[1].split(";")[0]
        assert "frame-ancestors 'none'" in csp
        assert headers["x-content-type-options"] == "nosniff"
        assert headers["referrer-policy"] == "no-referrer"


def test_cors_is_off_by_default(client: httpx.Client) -> None:
    response = client.options(
        "/api/v1/sessions",
        headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"},
    )
    assert "access-control-allow-origin" not in response.headers
    plain = client.get("/api/v1/sessions", headers={"Origin": "https://evil.example"})
    assert "access-control-allow-origin" not in plain.headers


def test_cors_allow_list(make_server: ServerFactory) -> None:
    server = make_server(cors_origins=["https://chat.example"])
    ok = httpx.get(f"{server.url}/api/v1/personas", headers={"Origin": "https://chat.example"})
    assert ok.headers["access-control-allow-origin"] == "https://chat.example"
    assert ok.headers["access-control-allow-credentials"] == "true"
    other = httpx.get(f"{server.url}/api/v1/personas", headers={"Origin": "https://evil.example"})
    assert "access-control-allow-origin" not in other.headers


def test_a_wildcard_never_comes_with_credentials(make_server: ServerFactory) -> None:
    server = make_server(cors_origins=["*"])
    response = httpx.get(f"{server.url}/api/v1/personas", headers={"Origin": "https://x.example"})
    assert response.headers["access-control-allow-origin"] == "*"
    assert "access-control-allow-credentials" not in response.headers


def test_refuses_to_listen_beyond_loopback_without_sign_in(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "parlour", "serve", "--host", "0.0.0.0", "--port", str(free_port())],
        cwd=tmp_path, env={"PATH": "/usr/bin:/bin", "LOCAL_ENABLED": "false"},
        capture_output=True, text=True, timeout=30, check=False,
    )  # fmt: skip
    assert result.returncode == 2
    assert "refusing to listen on 0.0.0.0" in result.stderr
    assert "ALLOW_REMOTE" in result.stderr


def test_the_api_key_never_reaches_responses_streams_or_logs(
    client: httpx.Client, upstream: ScriptedUpstream, caplog: pytest.LogCaptureFixture
) -> None:
    quiet_http_clients()  # as the CLI's logging set-up does
    caplog.set_level(logging.DEBUG)
    sid = client.post("/api/v1/sessions", json={}).json()["id"]
    bodies: list[str] = []
    for script in (Status(401), Status(500), Status(429), Reply(["x"], cut=True),
                   Reply(["y"], error_event=f"bad key {SECRET}")):  # fmt: skip
        upstream.enqueue(script, script, script)
        events = collect(client, "POST", f"/api/v1/sessions/{sid}/messages", json={"content": "q"})
        bodies += [e.data for e in events]
    for path in ("/api/v1/models", "/readyz", "/metrics", "/openapi.json", "/"):
        bodies.append(client.get(path).text)
    bodies.append(client.get(f"/api/v1/sessions/{sid}/messages").text)
    assert upstream.headers[0]["authorization"] == f"Bearer {SECRET}"  # it was used upstream...
    everything = "\n".join(bodies) + "\n".join(r.getMessage() for r in caplog.records)
    assert SECRET not in everything  # ...and never shown anywhere
    assert upstream.url not in everything
