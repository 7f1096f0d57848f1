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
from tests.security.helpers import Served


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
    settings_for: Callable[..., Settings],
) -> None:
    with Served(settings_for(max_connections=10, header_timeout_seconds=60)) as app:
        idle = [socket.create_connection(("127.0.0.1", app.port), timeout=30) for _ in range(10)]
        try:
            assert httpx.get(f"{app.url}/healthz").status_code == 503
        finally:
            for sock in idle:
                sock.close()
