"""User B, holding user A's ids, gets exactly what an unknown id gets: 404, nothing leaked."""

from __future__ import annotations

import httpx

from tests.accounts import PASSWORD_MODE, signed_up
from tests.conftest import ServerFactory
from tests.live import collect, sse
from tests.test_replies import wait_for
from tests.upstream import Reply, ScriptedUpstream


def test_isolation_matrix(make_server: ServerFactory, upstream: ScriptedUpstream) -> None:
    server = make_server(**PASSWORD_MODE)
    alice = signed_up(server.url, "alice")
    bob = signed_up(server.url, "bob")
    sid = alice.post("/api/v1/sessions", json={"title": "alice's secret plans"}).json()["id"]
    done = collect(alice, "POST", f"/api/v1/sessions/{sid}/messages",
                   json={"content": "my bank pin is 1234"})  # fmt: skip
    finished_reply = done[0].json()["reply_id"]
    missing = "f" * 32

    upstream.enqueue(Reply([f"w{i} " for i in range(50)], delay=0.05))
    with sse(alice, "POST", f"/api/v1/sessions/{sid}/messages", json={"content": "more"}) as (
        _r,
        events,
    ):
        running = next(events).json()["reply_id"]

        def attempts(target: str, reply: str) -> list[tuple[str, str, dict[str, object]]]:
            return [
                ("GET", f"/api/v1/sessions/{target}", {}),
                ("PATCH", f"/api/v1/sessions/{target}", {"json": {"title": "pwned"}}),
                ("GET", f"/api/v1/sessions/{target}/messages", {}),
                ("GET", f"/api/v1/sessions/{target}/export", {}),
                ("POST", f"/api/v1/sessions/{target}/messages", {"json": {"content": "hi"}}),
                ("GET", f"/api/v1/sessions/{target}/reply", {}),
                ("GET", f"/api/v1/sessions/{target}/reply", {"params": {"reply_id": reply}}),
                ("POST", f"/api/v1/sessions/{target}/reply/stop", {}),
                ("DELETE", f"/api/v1/sessions/{target}/messages", {}),
                ("DELETE", f"/api/v1/sessions/{target}", {}),
                ("GET", "/chat/history", {"params": {"user_id": "bob", "session_id": target}}),
                ("GET", "/chat/stream", {"params": {"user_id": "bob", "session_id": target,
                                                    "message": "hi"}}),
                ("DELETE", f"/chat/history/{target}", {"params": {"user_id": "bob"}}),
                ("DELETE", f"/chat/session/{target}", {"params": {"user_id": "bob"}}),
            ]  # fmt: skip

        for reply in (running, finished_reply):
            for (method, url, kwargs), (_m, unknown_url, unknown_kwargs) in zip(
                attempts(sid, reply), attempts(missing, reply), strict=True
            ):
                theirs = bob.request(method, url, **kwargs)  # type: ignore[arg-type]
                unknown = bob.request(method, unknown_url, **unknown_kwargs)  # type: ignore[arg-type]
                assert theirs.status_code == 404, (method, url, theirs.text)
                assert theirs.json() == unknown.json(), (method, url)
                assert "secret" not in theirs.text
                assert "1234" not in theirs.text
        rest = list(events)

    assert rest[-1].event == "done"  # Bob's stop attempts did nothing
    assert rest[-1].json()["finish_reason"] == "stop"
    assert bob.get("/api/v1/sessions").json()["total"] == 0
    # Search: Alice finds her words (once indexed); Bob, searching for them, finds nothing.
    wait_for(lambda: alice.get("/api/v1/search", params={"q": "bank pin"}).json()["items"])
    for q in ("bank pin", "1234", "secret", "my"):
        theirs = bob.get("/api/v1/search", params={"q": q})
        assert theirs.status_code == 200
        assert theirs.json()["items"] == [], q
    assert bob.get("/chat/sessions", params={"user_id": "bob"}).json()["total"] == 0
    mine = alice.get(f"/api/v1/sessions/{sid}").json()
    assert mine["title"] == "alice's secret plans"
    assert alice.get(f"/api/v1/sessions/{sid}/messages").json()["total"] == 4


def test_export_is_the_owners_and_bounded(make_server: ServerFactory) -> None:
    server = make_server(**PASSWORD_MODE, export_max_messages=3)
    alice = signed_up(server.url, "alice")
    sid = alice.post("/api/v1/sessions", json={"title": "Notes"}).json()["id"]
    collect(alice, "POST", f"/api/v1/sessions/{sid}/messages", json={"content": "one"})
    exported = alice.get(f"/api/v1/sessions/{sid}/export", params={"format": "markdown"})
    assert exported.status_code == 200
    assert exported.text.startswith("# Notes")
    assert "You said: one" in exported.text
    assert "attachment" in exported.headers["content-disposition"]
    as_json = alice.get(f"/api/v1/sessions/{sid}/export").json()
    assert [m["content"] for m in as_json["items"]] == ["one", "You said: one"]
    collect(alice, "POST", f"/api/v1/sessions/{sid}/messages", json={"content": "two"})
    too_big = alice.get(f"/api/v1/sessions/{sid}/export")
    assert too_big.status_code == 413
    assert "at most 3" in too_big.json()["detail"]
    assert httpx.get(f"{server.url}/api/v1/sessions/{sid}/export").status_code == 401
