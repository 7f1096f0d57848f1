"""The original tutorial's endpoints keep their paths and shapes."""

from __future__ import annotations

import httpx

from tests.live import collect
from tests.upstream import Reply, ScriptedUpstream


def start(client: httpx.Client, user: str, **params: str) -> str:
    body = client.post("/chat/start", params={"user_id": user, **params}).json()
    assert set(body) == {"session_id", "welcome_message"}
    assert "你好" in body["welcome_message"]
    return str(body["session_id"])


def test_a_full_tutorial_conversation(client: httpx.Client, upstream: ScriptedUpstream) -> None:
    sid = start(client, "xiaoming")
    upstream.enqueue(Reply(["你好", "小明"], delay=0.05))
    events = collect(client, "GET", "/chat/stream",
                     params={"user_id": "xiaoming", "session_id": sid, "message": "我叫小明",
                             "role": "teacher"})  # fmt: skip
    assert [e.json() for e in events] == [
        {"content": "你好", "type": "chunk"},
        {"content": "小明", "type": "chunk"},
        {"type": "end"},
    ]
    assert all(e.event == "message" for e in events)  # unnamed events, as in the tutorial

    hist = client.get("/chat/history", params={"user_id": "xiaoming", "session_id": sid}).json()
    assert hist["total"] == 2
    assert [(m["role"], m["content"]) for m in hist["messages"]] == [
        ("user", "我叫小明"),
        ("assistant", "你好小明"),
    ]
    assert set(hist["messages"][0]) == {"role", "content", "timestamp"}
    assert hist["messages"][0]["timestamp"] <= hist["messages"][1]["timestamp"]

    sessions = client.get("/chat/sessions", params={"user_id": "xiaoming"}).json()
    assert sessions["total"] == 1
    assert sessions["sessions"][0]["session_id"] == sid
    assert sessions["sessions"][0]["role"] == "teacher"

    cleared = client.delete(f"/chat/history/{sid}", params={"user_id": "xiaoming"})
    assert cleared.json() == {"message": "对话历史已清除"}
    assert client.get(
        "/chat/history", params={"user_id": "xiaoming", "session_id": sid}
    ).json() == {
        "messages": [],
        "total": 0,
    }
    deleted = client.delete(f"/chat/session/{sid}", params={"user_id": "xiaoming"})
    assert deleted.status_code == 200
    assert client.get("/chat/sessions", params={"user_id": "xiaoming"}).json()["total"] == 0


def test_stream_error_uses_the_tutorial_shape(
    client: httpx.Client, upstream: ScriptedUpstream
) -> None:
    from tests.upstream import Status

    upstream.enqueue(Status(400))
    sid = start(client, "u1")
    events = collect(client, "GET", "/chat/stream",
                     params={"user_id": "u1", "session_id": sid, "message": "hi"})  # fmt: skip
    assert events[-1].json()["type"] == "error"
    assert "refused" in events[-1].json()["content"]


def test_one_user_id_never_sees_another_users_sessions(client: httpx.Client) -> None:
    sid = start(client, "alice")
    assert client.get("/chat/sessions", params={"user_id": "bob"}).json()["total"] == 0
    for method, url, params in [
        ("GET", "/chat/history", {"session_id": sid}),
        ("DELETE", f"/chat/history/{sid}", {}),
        ("DELETE", f"/chat/session/{sid}", {}),
        ("GET", "/chat/stream", {"session_id": sid, "message": "hi"}),
    ]:
        response = client.request(method, url, params={"user_id": "bob", **params})
        assert response.status_code == 404, (url, response.text)
    assert client.get("/chat/sessions", params={"user_id": "alice"}).json()["total"] == 1


def test_roles_lists_the_three_personas(client: httpx.Client) -> None:
    body = client.get("/roles").json()
    assert body["default_role"] == "assistant"
    assert {k: v["name"] for k, v in body["roles"].items()} == {
        "assistant": "智能助手",
        "teacher": "AI老师",
        "programmer": "编程专家",
    }
