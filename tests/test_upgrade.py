"""Upgrading data written by the previous release (0.1.0, storage format 1).

The data is written by 0.1.0's own code: its sources are taken from git at that
release's commit and run in a process of their own (tests/fixtures/v1/make.py).
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import tarfile
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from redis import Redis
from redis.asyncio import Redis as AsyncRedis

from parlour.store import Keys
from parlour.store.migrate import ensure_format
from tests.aio import run_async
from tests.conftest import ServerFactory
from tests.live import LiveServer
from tests.processes import free_port, running

RELEASE_0_1_0 = "aca80da"  # the commit of release 0.1.0
LANDED_WHOLE_SHARES = "a78e1e9"  # the last landed code: share snapshots stored whole
ROOT = Path(__file__).resolve().parent.parent


def source_of(commit: str, out: Path) -> Path:
    """The ``src`` folder of ``commit``, from git."""
    archive = subprocess.run(
        ["git", "archive", commit, "src"], cwd=ROOT, capture_output=True, check=True
    ).stdout
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(out, filter="data")
    return out / "src"


@pytest.fixture(scope="session")
def release_0_1_0(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Release 0.1.0's ``src`` folder, from git."""
    return source_of(RELEASE_0_1_0, tmp_path_factory.mktemp("parlour-0.1.0"))


@pytest.fixture
def v1(redis: Redis, redis_url: str, release_0_1_0: Path, tmp_path: Path) -> dict[str, Any]:
    """The test Redis filled by release 0.1.0; returns what that release read back."""
    manifest = tmp_path / "manifest.json"
    env = {**os.environ, "PYTHONPATH": str(release_0_1_0)}
    subprocess.run(
        [sys.executable, str(ROOT / "tests/fixtures/v1/make.py"), redis_url, str(manifest)],
        env=env, cwd=tmp_path, check=True, capture_output=True, timeout=120,
    )  # fmt: skip
    assert redis.get("parlour:format") is None  # format 1 has no marker
    return dict(json.loads(manifest.read_text()))


def password_server(make_server: ServerFactory, v1: dict[str, Any], **more: Any) -> LiveServer:
    return make_server(auth_mode="password", secret_key=v1["secret_key"], signup="invite",
                       reply_lock_ttl_seconds=3, **more)  # fmt: skip


def sessions_as_seen(client: httpx.Client) -> list[dict[str, Any]]:
    out = []
    for s in client.get("/api/v1/sessions", params={"limit": 100}).json()["items"]:
        items = client.get(f"/api/v1/sessions/{s['id']}/messages", params={"limit": 500}).json()
        out.append({"session": s, "messages": items["items"]})
    return out


def expected_for(v1: dict[str, Any], owner: str) -> list[dict[str, Any]]:
    return [s for s in v1["sessions"] if s["session"]["owner"] == owner]


def assert_same(seen: list[dict[str, Any]], old: list[dict[str, Any]]) -> None:
    assert [s["session"]["id"] for s in seen] == [s["session"]["id"] for s in old]
    for new, before in zip(seen, old, strict=True):
        for field in ("title", "persona", "model", "created_at", "message_count"):
            assert new["session"][field] == before["session"][field], field
        fields = ("id", "role", "content", "timestamp", "persona", "status", "model", "error")
        assert [{f: m[f] for f in fields} for m in new["messages"]] == [
            {f: m[f] for f in fields} for m in before["messages"]
        ]


def sign_in(client: httpx.Client, username: str, password: str) -> None:
    response = client.post("/api/v1/auth/login", json={"username": username, "password": password})
    assert response.status_code == 200, response.text


def test_everything_written_by_0_1_0_is_there_after_the_upgrade(
    make_server: ServerFactory, v1: dict[str, Any], redis: Redis
) -> None:
    server = password_server(make_server, v1)
    accounts = v1["accounts"]
    with httpx.Client(base_url=server.url, timeout=30) as ann:
        sign_in(ann, "ann", accounts["ann"]["password"])
        me = ann.get("/api/v1/auth/me").json()
        assert me["is_admin"] is True
        seen = sessions_as_seen(ann)
        # The cut-off reply's conversation changes as the reaper closes it: compared below.
        dying = v1["dying_reply"]["session"]
        assert_same(
            [s for s in seen if s["session"]["id"] != dying],
            [s for s in expected_for(v1, accounts["ann"]["id"]) if s["session"]["id"] != dying],
        )
        # Another user, through the API token 0.1.0 issued.
        token = {"Authorization": f"Bearer {v1['token']['value']}"}
        bob = sessions_as_seen(httpx.Client(base_url=server.url, headers=token, timeout=30))
        assert_same(bob, expected_for(v1, accounts["bob"]["id"]))
        assert bob[0]["messages"][-1]["error"] == "upstream_unavailable"

    # The sign-in cookie 0.1.0 set still works, with its CSRF token.
    cookie = v1["cookie"]
    with httpx.Client(base_url=server.url, cookies={"parlour_session": cookie["value"]},
                      timeout=30) as browser:  # fmt: skip
        assert browser.get("/api/v1/auth/me").json()["username"] == "ann"
        created = browser.post("/api/v1/sessions", json={}, headers={
            "X-CSRF-Token": cookie["csrf"], "Origin": server.url})  # fmt: skip
        assert created.status_code == 201, created.text

    # The invitation 0.1.0 made can still be used, once.
    with httpx.Client(base_url=server.url, timeout=30) as newcomer:
        body = {"username": "cleo", "password": "cleo-password-3", "invite": v1["invite"]}
        assert newcomer.post("/api/v1/auth/signup", json=body).status_code == 201
        again = {**body, "username": "dora"}
        assert newcomer.post("/api/v1/auth/signup", json=again).status_code in (400, 403, 422)

    # Nothing of the old layout is left, and the data is marked with its format.
    assert redis.get("parlour:format") == "2"
    v1_heads = ("session", "user", "account", "accounts", "login", "token", "invite", "reply")
    old = [k for k in redis.scan_iter("parlour:*") if k.split(":")[1] in v1_heads]
    assert old == []


def test_a_reply_cut_off_under_0_1_0_is_stored_as_interrupted(
    make_server: ServerFactory, v1: dict[str, Any]
) -> None:
    server = password_server(make_server, v1)
    dying = v1["dying_reply"]
    with httpx.Client(base_url=server.url, timeout=30) as ann:
        sign_in(ann, "ann", v1["accounts"]["ann"]["password"])
        url = f"/api/v1/sessions/{dying['session']}/messages"
        deadline = time.monotonic() + 30
        items: list[dict[str, Any]] = []
        while time.monotonic() < deadline:
            items = ann.get(url).json()["items"]
            if len(items) == 2:
                break
            time.sleep(0.2)
        assert [m["role"] for m in items] == ["user", "assistant"]
        assert items[1]["content"] == dying["text"]
        assert items[1]["status"] == "partial"
        assert items[1]["error"] == "reply_interrupted"
        # The conversation is free again.
        sent = ann.post(url, json={"content": "Go on"},
                        headers={"X-CSRF-Token": ann.cookies.get("parlour_csrf", "")})  # fmt: skip
        assert sent.status_code == 200, sent.text


def test_single_user_and_tutorial_conversations_survive(
    make_server: ServerFactory, v1: dict[str, Any]
) -> None:
    server = make_server()  # AUTH_MODE=none: the local user
    with httpx.Client(base_url=server.url, timeout=30) as client:
        assert_same(sessions_as_seen(client), expected_for(v1, "local"))
        old = expected_for(v1, "tutorial-user")[0]
        history = client.get("/chat/history", params={
            "user_id": "tutorial-user", "session_id": old["session"]["id"]}).json()  # fmt: skip
        assert [m["content"] for m in history["messages"]] == [
            m["content"] for m in old["messages"]
        ]


def test_an_upgrade_cut_short_is_finished_by_the_next_start(
    make_server: ServerFactory, v1: dict[str, Any], redis_url: str, redis: Redis
) -> None:
    async def partly() -> int:
        async with AsyncRedis.from_url(redis_url, decode_responses=True) as client:
            return await ensure_format(client, Keys("parlour"), stop_after=2)

    assert run_async(partly()) == 2
    assert redis.get("parlour:format") is None  # not finished: still to do
    server = make_server()
    with httpx.Client(base_url=server.url, timeout=30) as client:
        assert_same(sessions_as_seen(client), expected_for(v1, "local"))
    assert redis.get("parlour:format") == "2"
    server2 = password_server(make_server, v1)
    with httpx.Client(base_url=server2.url, timeout=30) as bob:
        sign_in(bob, "bob", v1["accounts"]["bob"]["password"])
        assert_same(sessions_as_seen(bob), expected_for(v1, v1["accounts"]["bob"]["id"]))


def test_processes_starting_together_upgrade_once(
    v1: dict[str, Any], redis_url: str, tmp_path: Path
) -> None:
    env = {"REDIS_URL": redis_url, "OPENAI_BASE_URL": "http://127.0.0.1:9"}
    with running(env, tmp_path, count=3) as servers:
        for server in servers:
            seen = sessions_as_seen(httpx.Client(base_url=server.url, timeout=30))
            assert_same(seen, expected_for(v1, "local"))
        logs = "".join(s.output() for s in servers)
    assert logs.count("stored data upgraded to format 2") == 1


def test_data_of_a_newer_format_is_refused_untouched(
    redis: Redis, redis_url: str, tmp_path: Path
) -> None:
    redis.set("parlour:format", "3")
    redis.hset("parlour:c:{x}", mapping={"future": "data"})
    result = subprocess.run(
        [sys.executable, "-m", "parlour", "serve", "--port", str(free_port())],
        cwd=tmp_path,
        env={"PATH": "/usr/bin:/bin", "REDIS_URL": redis_url, "LOCAL_ENABLED": "false"},
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert result.returncode == 1
    assert "storage format 3, written by a newer Parlour" in result.stderr
    assert "Traceback" not in result.stderr
    assert redis.hgetall("parlour:c:{x}") == {"future": "data"}
    assert redis.get("parlour:format") == "3"


def test_a_share_link_made_by_the_landed_code_still_reads_copies_and_revokes(
    redis: Redis, redis_url: str, tmp_path: Path, make_server: ServerFactory
) -> None:
    # The share, made by that code itself (its snapshot: one hash, the messages one field).
    manifest = tmp_path / "manifest.json"
    env = {**os.environ, "PYTHONPATH": str(source_of(LANDED_WHOLE_SHARES, tmp_path / "old"))}
    subprocess.run(
        [sys.executable, str(ROOT / "tests/fixtures/shares_v2/make.py"), redis_url,
         str(manifest)],
        env=env, cwd=tmp_path, check=True, capture_output=True, timeout=120,
    )  # fmt: skip
    made = json.loads(manifest.read_text())
    key = Keys("parlour").share(made["token"])
    assert redis.hexists(key, "messages")  # stored whole
    assert not redis.hexists(key, "parts")
    server = make_server()
    with httpx.Client(base_url=server.url, timeout=30) as client:
        shared = client.get(f"/api/v1/shared/{made['token']}")
        assert shared.status_code == 200, shared.text
        assert shared.json()["title"] == "Shared before the upgrade"
        assert [m["content"] for m in shared.json()["messages"]] == made["texts"]
        page = client.get(f"/s/{made['token']}")
        assert page.status_code == 200
        copy = client.post(f"/api/v1/shared/{made['token']}/continue")
        assert copy.status_code == 201, copy.text
        items = client.get(f"/api/v1/sessions/{copy.json()['id']}/messages",
                           params={"limit": 100}).json()["items"]  # fmt: skip
        assert [m["content"] for m in items] == made["texts"]
        links = client.get("/api/v1/shares").json()["shares"]
        assert [link["id"] for link in links] == [made["share_id"]]
        assert client.delete(f"/api/v1/shares/{made['share_id']}").status_code == 204
        assert client.get(f"/api/v1/shared/{made['token']}").status_code == 404
    assert redis.exists(key) == 0
