"""Conversations as trees: edits and regenerations keep every version, over real HTTP."""

from __future__ import annotations

import json

import httpx

from tests.conftest import ServerFactory
from tests.live import collect, sse, text_of
from tests.upstream import Reply, ScriptedUpstream


def new_session(client: httpx.Client) -> str:
    response = client.post("/api/v1/sessions", json={})
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def say(client: httpx.Client, sid: str, content: str, **body: object) -> str:
    """Send a message; returns the reply's text."""
    events = collect(client, "POST", f"/api/v1/sessions/{sid}/messages",
                     json={"content": content, **body})  # fmt: skip
    return text_of(events)


def branch(client: httpx.Client, sid: str) -> list[dict[str, object]]:
    response = client.get(f"/api/v1/sessions/{sid}/messages", params={"limit": 500})
    assert response.status_code == 200, response.text
    return list(response.json()["items"])


def contents(items: list[dict[str, object]]) -> list[object]:
    return [m["content"] for m in items]


def switch(client: httpx.Client, sid: str, message_id: object) -> httpx.Response:
    return client.put(f"/api/v1/sessions/{sid}/branch", json={"message_id": message_id})


def test_editing_an_earlier_message_keeps_the_old_one_and_its_replies(
    client: httpx.Client, upstream: ScriptedUpstream
) -> None:
    sid = new_session(client)
    for text in ("one", "two", "three"):
        say(client, sid, text)
    first = branch(client, sid)
    two = first[2]
    say(client, sid, "TWO", replace_from=two["id"])

    now = branch(client, sid)
    assert contents(now) == ["one", "You said: one", "TWO", "You said: TWO"]
    edited = now[2]
    assert edited["parent_id"] == first[1]["id"]
    assert edited["siblings"] == [two["id"], edited["id"]]
    # The model saw the branch up to the edit, not what followed the old message.
    sent = [m["content"] for m in upstream.requests[-1]["messages"] if m["role"] != "system"]
    assert sent == ["one", "You said: one", "TWO"]

    # The old version is still there, with everything after it.
    assert switch(client, sid, two["id"]).status_code == 200
    assert contents(branch(client, sid)) == contents(first)
    assert client.get(f"/api/v1/sessions/{sid}").json()["message_count"] == 8


def test_regenerating_makes_a_sibling_reply_and_both_can_be_shown(
    client: httpx.Client, upstream: ScriptedUpstream
) -> None:
    sid = new_session(client)
    say(client, sid, "hello")
    old = branch(client, sid)[1]
    upstream.enqueue(Reply(["Another ", "answer"]))
    events = collect(client, "POST", f"/api/v1/sessions/{sid}/reply/regenerate")
    assert text_of(events) == "Another answer"

    now = branch(client, sid)
    assert contents(now) == ["hello", "Another answer"]
    assert now[1]["siblings"] == [old["id"], now[1]["id"]]
    assert now[1]["parent_id"] == now[0]["id"]
    sent = [m["content"] for m in upstream.requests[-1]["messages"] if m["role"] != "system"]
    assert sent == ["hello"]

    assert switch(client, sid, old["id"]).status_code == 200
    assert contents(branch(client, sid)) == ["hello", "You said: hello"]


def test_regenerating_an_earlier_reply_answers_its_own_question(
    client: httpx.Client, upstream: ScriptedUpstream
) -> None:
    sid = new_session(client)
    say(client, sid, "first")
    say(client, sid, "second")
    first_reply = branch(client, sid)[1]
    upstream.enqueue(Reply(["Again"]))
    collect(client, "POST", f"/api/v1/sessions/{sid}/reply/regenerate",
            json={"message_id": first_reply["id"]})  # fmt: skip
    assert contents(branch(client, sid)) == ["first", "Again"]
    sent = [m["content"] for m in upstream.requests[-1]["messages"] if m["role"] != "system"]
    assert sent == ["first"]


def test_switching_to_a_version_shows_its_newest_leaf(client: httpx.Client) -> None:
    sid = new_session(client)
    say(client, sid, "a")
    a = branch(client, sid)[0]
    say(client, sid, "b")
    say(client, sid, "A", replace_from=a["id"])
    assert contents(branch(client, sid)) == ["A", "You said: A"]
    # Back to the first version: down to its newest leaf ("b" and its reply).
    response = switch(client, sid, a["id"])
    assert response.status_code == 200
    assert contents(branch(client, sid)) == ["a", "You said: a", "b", "You said: b"]
    assert response.json()["active_leaf"] == branch(client, sid)[-1]["id"]


def test_deleting_a_branch_shows_its_sibling_and_keeps_the_rest(client: httpx.Client) -> None:
    sid = new_session(client)
    say(client, sid, "q")
    q = branch(client, sid)[0]
    say(client, sid, "follow-up")
    say(client, sid, "Q", replace_from=q["id"])
    shown = branch(client, sid)
    response = client.delete(f"/api/v1/sessions/{sid}/messages/{shown[0]['id']}")
    assert response.status_code == 200, response.text
    assert contents(branch(client, sid)) == ["q", "You said: q", "follow-up", "You said: follow-up"]
    assert branch(client, sid)[0]["siblings"] == [q["id"]]
    assert client.get(f"/api/v1/sessions/{sid}").json()["message_count"] == 4
    missing = client.delete(f"/api/v1/sessions/{sid}/messages/{shown[0]['id']}")
    assert missing.status_code == 404


def test_switching_deleting_and_clearing_wait_for_a_running_reply(
    client: httpx.Client, upstream: ScriptedUpstream
) -> None:
    sid = new_session(client)
    say(client, sid, "one")
    first = branch(client, sid)[0]
    upstream.enqueue(Reply(["slow "] * 50, delay=0.1))
    with sse(client, "POST", f"/api/v1/sessions/{sid}/messages",
             json={"content": "two"}) as (_response, events):  # fmt: skip
        assert next(events).event == "start"
        for refused in (
            switch(client, sid, first["id"]),
            client.delete(f"/api/v1/sessions/{sid}/messages/{first['id']}"),
            client.delete(f"/api/v1/sessions/{sid}/messages"),
        ):
            assert refused.status_code == 409
            assert refused.json()["error"]["code"] == "reply_in_progress"
        client.post(f"/api/v1/sessions/{sid}/reply/stop")
        list(events)
    # Nothing was lost, and once the reply ended the switch goes through.
    assert contents(branch(client, sid))[:3] == ["one", "You said: one", "two"]
    assert switch(client, sid, first["id"]).status_code == 200


def test_an_edit_far_back_is_accepted_within_the_context_bound(
    make_server: ServerFactory, upstream: ScriptedUpstream
) -> None:
    server = make_server(context_messages=4)
    with httpx.Client(base_url=server.url, timeout=30) as client:
        sid = new_session(client)
        for i in range(6):
            say(client, sid, f"m{i}")
        oldest = branch(client, sid)[0]
        say(client, sid, "edited", replace_from=oldest["id"])
        assert contents(branch(client, sid)) == ["edited", "You said: edited"]
        sent = [m["content"] for m in upstream.requests[-1]["messages"] if m["role"] != "system"]
        assert sent == ["edited"]


def test_the_model_sees_only_the_active_branch_within_the_context_bound(
    make_server: ServerFactory, upstream: ScriptedUpstream
) -> None:
    server = make_server(context_messages=4)
    with httpx.Client(base_url=server.url, timeout=30) as client:
        sid = new_session(client)
        for i in range(3):
            say(client, sid, f"m{i}")
        m2 = branch(client, sid)[4]
        say(client, sid, "other", replace_from=m2["id"])
        say(client, sid, "next")
        sent = [m["content"] for m in upstream.requests[-1]["messages"] if m["role"] != "system"]
        # The newest four messages of the branch, then the new turn; never the old "m2".
        assert sent == ["m1", "You said: m1", "other", "You said: other", "next"][-len(sent) :]
        assert "m2" not in sent
        assert "You said: m2" not in sent


def test_an_edit_of_a_message_not_shown_is_refused_and_changes_nothing(
    client: httpx.Client,
) -> None:
    sid = new_session(client)
    say(client, sid, "a")
    a = branch(client, sid)[0]
    say(client, sid, "A", replace_from=a["id"])
    before = branch(client, sid)
    response = client.post(f"/api/v1/sessions/{sid}/messages",
                           json={"content": "x", "replace_from": a["id"]})  # fmt: skip
    assert response.status_code == 422
    assert "branch" in response.json()["error"]["message"]
    assert branch(client, sid) == before
    # Nor is a reply's id an edit target.
    reply = client.post(f"/api/v1/sessions/{sid}/messages",
                        json={"content": "x", "replace_from": before[1]["id"]})  # fmt: skip
    assert reply.status_code == 422


def test_exports_hold_the_tree_as_json_and_the_branch_as_markdown(client: httpx.Client) -> None:
    sid = new_session(client)
    say(client, sid, "a")
    a = branch(client, sid)[0]
    say(client, sid, "A", replace_from=a["id"])
    body = client.get(f"/api/v1/sessions/{sid}/export").json()
    assert body["format"] == "parlour.conversation"
    assert body["version"] == 2
    assert [m["content"] for m in body["messages"]] == ["a", "You said: a", "A", "You said: A"]
    parents = {m["content"]: m["parent_id"] for m in body["messages"]}
    assert parents["a"] is None
    assert parents["A"] is None
    assert parents["You said: A"] == next(m["id"] for m in body["messages"] if m["content"] == "A")
    assert body["active_leaf"] == body["items"][-1]["id"]
    assert [m["content"] for m in body["items"]] == ["A", "You said: A"]
    markdown = client.get(f"/api/v1/sessions/{sid}/export", params={"format": "markdown"}).text
    assert "You said: A" in markdown
    assert "You said: a" not in markdown


def test_the_tutorial_history_is_the_active_branch(client: httpx.Client) -> None:
    start = client.post("/chat/start", params={"user_id": "local"}).json()
    sid = start["session_id"]
    collect(client, "GET", "/chat/stream",
            params={"user_id": "local", "session_id": sid, "message": "a"})  # fmt: skip
    a = branch(client, sid)[0]
    say(client, sid, "A", replace_from=a["id"])
    history = client.get("/chat/history", params={"user_id": "local", "session_id": sid}).json()
    assert [m["content"] for m in history["messages"]] == ["A", "You said: A"]


def test_a_reload_sees_the_branch_another_tab_chose(client: httpx.Client) -> None:
    sid = new_session(client)
    say(client, sid, "a")
    a = branch(client, sid)[0]
    say(client, sid, "A", replace_from=a["id"])
    switch(client, sid, a["id"])
    with httpx.Client(base_url=client.base_url, timeout=30) as other:
        assert contents(branch(other, sid)) == ["a", "You said: a"]
        shown = other.get(f"/api/v1/sessions/{sid}").json()["active_leaf"]
        assert shown == branch(other, sid)[-1]["id"]


def test_deleting_a_conversation_mid_reply_stops_it_and_leaves_nothing(
    client: httpx.Client, upstream: ScriptedUpstream, redis: object
) -> None:
    sid = new_session(client)
    upstream.enqueue(Reply(["word "] * 100, delay=0.05))
    with sse(client, "POST", f"/api/v1/sessions/{sid}/messages",
             json={"content": "long"}) as (_response, events):  # fmt: skip
        assert next(events).event == "start"
        assert client.delete(f"/api/v1/sessions/{sid}").status_code == 204
        rest = list(events)
    # The reply stopped long before its 100 words, and nothing of it was stored.
    assert rest[-1].event in ("done", "failure")
    assert len(text_of(rest).split()) < 100
    assert client.get(f"/api/v1/sessions/{sid}").status_code == 404
    # In the trash it holds the message sent and nothing of the reply; emptied, nothing.
    stored = redis.hvals(f"parlour:c:{{{sid}}}:msgs")  # type: ignore[attr-defined]
    assert [json.loads(m)["content"] for m in stored] == ["long"]
    assert client.delete(f"/api/v1/trash/{sid}").status_code == 204
    leftover = [k for k in redis.scan_iter(f"parlour:c:{{{sid}}}*")  # type: ignore[attr-defined]
                if ":reply:" not in k]  # fmt: skip
    assert leftover == []


def test_any_branch_can_be_read_without_switching(client: httpx.Client) -> None:
    sid = new_session(client)
    say(client, sid, "a")
    a = branch(client, sid)[0]
    say(client, sid, "b")
    say(client, sid, "A", replace_from=a["id"])
    old = client.get(f"/api/v1/sessions/{sid}/messages", params={"through": a["id"]}).json()
    assert contents(old["items"]) == ["a", "You said: a", "b", "You said: b"]
    assert old["total"] == 4
    assert old["items"][0]["siblings"] == branch(client, sid)[0]["siblings"]
    page = client.get(f"/api/v1/sessions/{sid}/messages",
                      params={"through": a["id"], "offset": 2, "limit": 1}).json()  # fmt: skip
    assert contents(page["items"]) == ["b"]
    assert page["items"][0]["parent_id"] == old["items"][1]["id"]
    # The active branch has not moved.
    assert contents(branch(client, sid)) == ["A", "You said: A"]
    unknown = client.get(f"/api/v1/sessions/{sid}/messages", params={"through": "0" * 32})
    assert unknown.status_code == 404
