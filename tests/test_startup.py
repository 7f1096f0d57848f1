"""Starting, stopping and restarting real server processes."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import httpx

from parlour.config import Settings
from tests.processes import ServerProcess, free_port
from tests.upstream import ScriptedUpstream


def test_conversations_survive_a_restart_with_the_embedded_redis(
    tmp_path: Path, upstream: ScriptedUpstream
) -> None:
    env = {"DATA_DIR": str(tmp_path / "data"), "OPENAI_BASE_URL": upstream.url}
    first = ServerProcess(env, tmp_path).wait_ready()
    try:
        sid = httpx.post(f"{first.url}/api/v1/sessions", json={}).json()["id"]
        reply = httpx.post(f"{first.url}/api/v1/sessions/{sid}/messages", json={"content": "keep"})
        assert reply.status_code == 200
        assert "event: done" in reply.text
    finally:
        first.stop()  # SIGTERM: a graceful shutdown
    assert "embedded redis-server started" in first.output()
    assert "embedded redis-server stopped" in first.output()
    assert (tmp_path / "data" / "redis").exists()

    second = ServerProcess(env, tmp_path).wait_ready()
    try:
        items = httpx.get(f"{second.url}/api/v1/sessions/{sid}/messages").json()["items"]
        assert [m["content"] for m in items] == ["keep", "You said: keep"]
    finally:
        second.stop()


def test_an_unreachable_redis_stops_start_up_with_a_clear_message(tmp_path: Path) -> None:
    port = free_port()  # nothing listens here
    env = {"REDIS_URL": f"redis://:hunter2@127.0.0.1:{port}/0", "LOCAL_ENABLED": "false"}
    result = subprocess.run(
        [sys.executable, "-m", "parlour", "serve", "--port", str(free_port())],
        cwd=tmp_path,
        env={**env, "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 1
    assert f"cannot reach Redis at redis://:***@127.0.0.1:{port}/0" in result.stderr
    assert "hunter2" not in result.stderr + result.stdout
    assert "Traceback" not in result.stderr


def test_tutorial_redis_variables_build_the_url() -> None:
    settings = Settings(  # type: ignore[call-arg]
        _env_file=None, redis_host="cache", redis_port=6380, redis_db=2, redis_password="p@ss"
    )
    assert settings.redis_connection_url() == "redis://:p%40ss@cache:6380/2"
    assert Settings(_env_file=None).redis_connection_url() is None  # type: ignore[call-arg]


def test_access_logs_leave_out_query_strings(tmp_path: Path, upstream: ScriptedUpstream) -> None:
    env = {"DATA_DIR": str(tmp_path / "data"), "OPENAI_BASE_URL": upstream.url}
    server = ServerProcess(env, tmp_path).wait_ready()
    try:
        sid = httpx.post(f"{server.url}/chat/start", params={"user_id": "u"}).json()["session_id"]
        params = {"user_id": "u", "session_id": sid, "message": "my secret plan"}
        reply = httpx.get(f"{server.url}/chat/stream", params=params)
        assert reply.status_code == 200
    finally:
        server.stop()
    log = server.output()
    assert "GET /chat/stream HTTP/1.1" in log  # the request is logged...
    assert "secret" not in log  # ...without the message


def test_invalid_settings_are_explained_without_their_values(tmp_path: Path) -> None:
    env = {"PATH": "/usr/bin:/bin", "AUTH_MODE": "password", "SECRET_KEY": "short",
           "OPENAI_API_KEY": "sk-should-never-be-printed"}  # fmt: skip
    result = subprocess.run([sys.executable, "-m", "parlour", "serve"], cwd=tmp_path, env=env,
                            capture_output=True, text=True, timeout=30, check=False)  # fmt: skip
    assert result.returncode == 2
    assert "SECRET_KEY" in result.stderr
    assert "sk-should-never-be-printed" not in result.stderr + result.stdout
