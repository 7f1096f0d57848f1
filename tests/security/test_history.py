"""Finding 11: tutorial history is paged, exports stream, and exports and reads of shared
conversations are rate-limited."""

from __future__ import annotations

import json

import httpx
from redis import Redis

from tests import stored
from tests.accounts import PASSWORD_MODE, signed_up
from tests.conftest import ServerFactory
from tests.live import LiveServer, collect
from tests.security.helpers import client_from
from tests.upstream import Reply, ScriptedUpstream

MESSAGE_FIELDS = ("id", "role", "content", "timestamp", "persona", "status")


def fill(redis: Redis, sid: str, count: int, pad: int = 0) -> None:
    """``count`` messages: ``message I``, then ``pad`` more characters."""
    stored.fill(redis, sid, count, lambda i: f"message {i}" + "é" * pad)


def test_finding_11_tutorial_history_is_paged_with_a_bounded_default(
    client: httpx.Client, redis: Redis
) -> None:
    sid = client.post("/chat/start", params={"user_id": "u1"}).json()["session_id"]
    fill(redis, sid, 450)
    page = client.get("/chat/history", params={"user_id": "u1", "session_id": sid}).json()
    assert page["total"] == 450
    assert len(page["messages"]) == 200  # the newest 200, oldest first
    assert page["messages"][-1]["content"] == "message 449"
    assert page["messages"][0]["content"] == "message 250"
    assert set(page["messages"][0]) == {"role", "content", "timestamp"}
    first = client.get("/chat/history", params={"user_id": "u1", "session_id": sid,
                                                "offset": 0, "limit": 3}).json()  # fmt: skip
    assert [m["content"] for m in first["messages"]] == ["message 0", "message 1", "message 2"]
    too_many = client.get("/chat/history", params={"user_id": "u1", "session_id": sid,
                                                   "limit": 100_000})  # fmt: skip
    assert too_many.status_code == 422


def test_finding_11_exports_stream_the_same_document(
    client: httpx.Client, upstream: ScriptedUpstream
) -> None:
    sid = client.post("/api/v1/sessions", json={"title": "Ünïcode ✓"}).json()["id"]
    for text in ("one", "two"):
        upstream.enqueue(Reply([f"re {text}"]))
        collect(client, "POST", f"/api/v1/sessions/{sid}/messages", json={"content": text})
    upstream.enqueue(Reply(["again"]))
    collect(client, "POST", f"/api/v1/sessions/{sid}/reply/regenerate", json={})
    with client.stream("GET", f"/api/v1/sessions/{sid}/export") as response:
        assert response.headers.get("transfer-encoding") == "chunked"  # not one buffered body
        assert "content-length" not in response.headers
        body = response.read()
    document = json.loads(body)
    assert list(document) == ["format", "version", "session", "active_leaf", "messages",
                              "items", "summaries", "total"]  # fmt: skip
    assert document["format"] == "parlour.conversation"
    assert document["version"] == 2
    assert document["session"]["title"] == "Ünïcode ✓"
    assert len(document["messages"]) == 5  # both versions of the last reply
    assert [m["content"] for m in document["items"]] == ["one", "re one", "two", "again"]
    assert document["total"] == 4
    assert document["active_leaf"] == document["items"][-1]["id"]
    page = client.get(f"/api/v1/sessions/{sid}/messages").json()["items"]
    assert [m["id"] for m in page] == [m["id"] for m in document["items"]]
    for message in document["messages"]:
        assert all(field in message for field in MESSAGE_FIELDS)
    markdown = client.get(f"/api/v1/sessions/{sid}/export", params={"format": "markdown"}).text
    assert markdown.startswith("# Ünïcode ✓\n\n**user**\n\none\n")
    assert markdown.endswith("**assistant**\n\nagain\n")


def test_finding_11_exports_are_rate_limited(make_server: ServerFactory) -> None:
    server: LiveServer = make_server(**PASSWORD_MODE, rate_exports="2/minute")
    user = signed_up(server.url, "ada")
    sid = user.post("/api/v1/sessions", json={}).json()["id"]
    codes = [user.get(f"/api/v1/sessions/{sid}/export").status_code for _ in range(3)]
    assert codes == [200, 200, 429]


def test_finding_11_reading_a_shared_conversation_is_limited_per_address(
    make_server: ServerFactory, redis: Redis
) -> None:
    # A share link needs no account, and its snapshot can be as large as an export.
    server: LiveServer = make_server(**PASSWORD_MODE, rate_exports="3/minute")
    owner = signed_up(server.url, "ada")
    sid = owner.post("/api/v1/sessions", json={}).json()["id"]
    fill(redis, sid, 40)
    path = owner.post(f"/api/v1/sessions/{sid}/shares", json={}).json()["path"]
    token = path.removeprefix("/s/")
    with client_from("127.0.0.2", server.url) as reader:
        answers = [reader.get(f"/api/v1/shared/{token}") for _ in range(4)]
    assert [a.status_code for a in answers] == [200, 200, 200, 429]
    shown = answers[0].json()
    assert [m["content"] for m in shown["messages"]] == [f"message {i}" for i in range(40)]
    assert shown["author"] is None
    assert answers[0].headers["x-robots-tag"].startswith("noindex")
    with client_from("127.0.0.3", server.url) as elsewhere:  # another reader: their own
        assert elsewhere.get(f"/api/v1/shared/{token}").status_code == 200
