"""Finding 9: connections are bounded by uvicorn settings that come from Settings."""

from __future__ import annotations

import socket
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from parlour.config import Settings
from tests.conftest import make_settings
from tests.processes import ServerProcess
from tests.security.helpers import Served
from tests.waiting import wait_until


@pytest.fixture
def settings_for(tmp_path: Path, redis_url: str, redis: object) -> Callable[..., Settings]:
    def make(**overrides: Any) -> Settings:
        return make_settings(tmp_path, redis_url=redis_url, local_enabled=False, **overrides)

    return make


def test_finding_09_half_sent_headers_are_cut_off(settings_for: Callable[..., Settings]) -> None:
    with Served(settings_for(header_timeout_seconds=0.5)) as app:
        with socket.create_connection(("127.0.0.1", app.port), timeout=30) as slow:
            slow.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n")  # never finished
            assert slow.recv(1024) == b""  # the server closed it
        # A request that sends its headers is served as usual.
        assert httpx.get(f"{app.url}/healthz").status_code == 200


def test_finding_09_connections_past_the_limit_get_503(
    tmp_path: Path, redis_url: str, redis: object
) -> None:
    env = {"REDIS_URL": redis_url, "MAX_CONNECTIONS": "10", "HEADER_TIMEOUT_SECONDS": "60"}
    app = ServerProcess(env, tmp_path).wait_ready()  # `parlour serve`, as deployed
    try:
        idle = [socket.create_connection(("127.0.0.1", app.port), timeout=30) for _ in range(10)]
        try:
            busy = httpx.get(f"{app.url}/healthz")
        finally:
            for sock in idle:
                sock.close()
        assert busy.status_code == 503
        assert_like_the_apps_errors(busy, "too_many_connections")
        assert busy.headers["retry-after"] == "1"
        assert busy.json()["error"]["retry_after"] == 1
        assert busy.headers["connection"] == "close"
        # With the idle connections gone, requests are served again.
        wait_until(lambda: httpx.get(f"{app.url}/healthz").status_code == 200,
                   what="served again")  # fmt: skip
    finally:
        app.stop()


def test_finding_13_a_request_that_is_not_http_gets_the_headers_too(
    settings_for: Callable[..., Settings],
) -> None:
    with Served(settings_for()) as app:
        with socket.create_connection(("127.0.0.1", app.port), timeout=30) as raw:
            raw.sendall(b"NOT HTTP AT ALL\r\n\r\n")
            answer = b""
            while chunk := raw.recv(65536):  # the server closes the connection after it
                answer += chunk
        head, _, body = answer.partition(b"\r\n\r\n")
        status, *lines = head.decode("latin-1").split("\r\n")
        headers = [tuple(line.split(": ", 1)) for line in lines]
        assert status.startswith("HTTP/1.1 400")
        response = httpx.Response(400, headers=headers, content=body)
        assert_like_the_apps_errors(response, "bad_request")


def assert_like_the_apps_errors(response: httpx.Response, code: str) -> None:
    """The security headers every response carries, and the one error body."""
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["referrer-policy"] == "no-referrer"
    assert response.headers["content-security-policy"].startswith("default-src 'self'")
    assert response.headers["content-type"].startswith("application/json")
    error = response.json()["error"]
    assert error["code"] == code
    assert error["message"]
