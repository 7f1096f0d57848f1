"""Parlour finds its Redis through Sentinel (a real redis-server and a real sentinel)."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from redis import Redis
from redis.exceptions import RedisError

from parlour.embedded import redis_server_binary
from tests.conftest import make_settings
from tests.live import LiveServer, collect
from tests.processes import free_port
from tests.upstream import ScriptedUpstream
from tests.waiting import wait_until


@pytest.fixture
def sentinel(tmp_path: Path) -> Iterator[int]:
    binary = str(redis_server_binary())
    master_port, sentinel_port = free_port(), free_port()
    master = subprocess.Popen(
        [binary, "--port", str(master_port), "--bind", "127.0.0.1", "--save", "",
         "--dir", str(tmp_path)], stdout=subprocess.DEVNULL,
    )  # fmt: skip
    conf = tmp_path / "sentinel.conf"
    conf.write_text(
        f"port {sentinel_port}\nbind 127.0.0.1\ndir {tmp_path}\n"
        f"sentinel monitor parlourmaster 127.0.0.1 {master_port} 1\n"
    )
    watcher = subprocess.Popen([binary, str(conf), "--sentinel"], stdout=subprocess.DEVNULL)
    try:
        up = {"timeout": 15, "ignore": (RedisError,)}  # not up yet
        wait_until(lambda: Redis(port=master_port).ping(), what="redis master", **up)
        wait_until(
            lambda: Redis(port=sentinel_port).execute_command(
                "SENTINEL", "get-master-addr-by-name", "parlourmaster"
            ),
            what="sentinel",
            **up,
        )
        yield sentinel_port
    finally:
        for proc in (watcher, master):
            proc.terminate()
            proc.wait(timeout=10)


def test_sessions_through_sentinel(
    sentinel: int, tmp_path: Path, upstream: ScriptedUpstream
) -> None:
    settings = make_settings(
        tmp_path, redis_sentinels=f"127.0.0.1:{sentinel}", redis_sentinel_master="parlourmaster",
        openai_base_url=upstream.url, local_enabled=False,
    )  # fmt: skip
    assert settings.embedded_redis is False
    server = LiveServer(settings).start()
    try:
        with httpx.Client(base_url=server.url, timeout=30) as client:
            sid = client.post("/api/v1/sessions", json={}).json()["id"]
            events = collect(client, "POST", f"/api/v1/sessions/{sid}/messages",
                             json={"content": "via sentinel"})  # fmt: skip
            assert events[-1].event == "done"
            assert client.get(f"/api/v1/sessions/{sid}/messages").json()["total"] == 2
    finally:
        server.stop()
