"""Usage you can see: each reply's tokens and time, per user, per day, per model totals
(kept across processes), yours and (administrators) everyone's, and the quota."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import httpx

from tests.accounts import PASSWORD_MODE, signed_up
from tests.conftest import PairFactory, ServerFactory
from tests.live import collect
from tests.processes import ServerProcess
from tests.upstream import Reply, ScriptedUpstream


def new_session(client: httpx.Client) -> str:
    return str(client.post("/api/v1/sessions", json={}).json()["id"])


def send(client: httpx.Client, sid: str, content: str = "hi") -> list:  # type: ignore[type-arg]
    events = collect(client, "POST", f"/api/v1/sessions/{sid}/messages", json={"content": content})
    assert events[-1].event == "done", events[-1].data
    return events


def today(client: httpx.Client) -> dict[str, dict[str, object]]:
    day = client.get("/api/v1/usage", params={"days": 1}).json()["days"][0]
    return {row["model"]: row for row in day["models"]}


def test_reported_usage_is_stored_on_the_reply_and_added_up(
    client: httpx.Client, upstream: ScriptedUpstream
) -> None:
    assert today(client) == {}
    upstream.enqueue(
        Reply(["Hi"], usage={"prompt_tokens": 9, "completion_tokens": 3}),
        Reply(["Again"], usage={"prompt_tokens": 20, "completion_tokens": 5}),
    )
    sid = new_session(client)
    send(client, sid)
    send(client, sid)
    # The model was asked for its usage in the stream.
    assert upstream.requests[-1]["stream_options"] == {"include_usage": True}
    reply = client.get(f"/api/v1/sessions/{sid}/messages").json()["items"][-1]
    assert (reply["prompt_tokens"], reply["completion_tokens"]) == (20, 5)
    assert reply["duration"] is not None
    assert reply["duration"] >= 0
    row = today(client)["scripted-model"]
    assert (row["prompt_tokens"], row["completion_tokens"], row["replies"]) == (29, 8, 2)
    assert row["total_tokens"] == 37
    usage = client.get("/api/v1/usage").json()
    assert len(usage["days"]) == 7
    assert usage["quota"] == {"daily_limit": None, "used_today": 8}


def test_usage_not_reported_is_counted(client: httpx.Client, upstream: ScriptedUpstream) -> None:
    # llama.cpp's server, for one, ignores include_usage.
    upstream.enqueue(Reply(["a" * 40], reasoning=["b" * 40]))
    sid = new_session(client)
    done = send(client, sid)[-1].json()
    reply = client.get(f"/api/v1/sessions/{sid}/messages").json()["items"][-1]
    assert reply["completion_tokens"] == 20  # its thinking is output too (estimated: 4 a token)
    assert reply["prompt_tokens"] > 0
    assert done["usage"] == {
        "prompt_tokens": reply["prompt_tokens"],
        "completion_tokens": 20,
    }
    assert today(client)["scripted-model"]["completion_tokens"] == 20


def test_the_quota_counts_the_thinking_too(
    make_server: ServerFactory, upstream: ScriptedUpstream
) -> None:
    server = make_server(daily_token_quota=10)
    upstream.enqueue(Reply(["ok"], reasoning=["x" * 80]))  # about 20 tokens of thinking
    with httpx.Client(base_url=server.url) as client:
        sid = new_session(client)
        send(client, sid)
        refused = client.post(f"/api/v1/sessions/{sid}/messages", json={"content": "more"})
    assert refused.status_code == 429
    assert refused.json()["error"]["code"] == "rate_limited"


def test_totals_hold_across_processes_writing_at_once(
    server_pair: PairFactory, upstream: ScriptedUpstream
) -> None:
    a, b = server_pair(OPENAI_MODEL="scripted-model")
    per_reply = {"prompt_tokens": 10, "completion_tokens": 2}
    upstream.enqueue(*[Reply(["x"], delay=0.01, usage=per_reply) for _ in range(12)])

    def one(server: ServerProcess) -> None:
        with httpx.Client(base_url=server.url, timeout=60) as client:
            send(client, new_session(client))

    with ThreadPoolExecutor(max_workers=6) as pool:
        list(pool.map(one, [a, b] * 6))
    with httpx.Client(base_url=b.url) as client:
        row = today(client)["scripted-model"]
    assert (row["prompt_tokens"], row["completion_tokens"], row["replies"]) == (120, 24, 12)


def test_an_administrator_sees_everyones_usage_and_others_only_their_own(
    make_server: ServerFactory, upstream: ScriptedUpstream
) -> None:
    server = make_server(**PASSWORD_MODE)
    admin = signed_up(server.url, "ada")  # the first account is the administrator
    bob = signed_up(server.url, "bob")
    upstream.enqueue(
        Reply(["A"], usage={"prompt_tokens": 5, "completion_tokens": 1}),
        Reply(["B"], usage={"prompt_tokens": 50, "completion_tokens": 10}),
    )
    send(admin, new_session(admin))
    send(bob, new_session(bob))
    assert today(bob)["scripted-model"]["prompt_tokens"] == 50  # his own only
    assert today(admin)["scripted-model"]["prompt_tokens"] == 5
    everyone = admin.get("/api/v1/admin/usage").json()
    assert [(u["username"], u["models"][0]["total_tokens"]) for u in everyone["users"]] == [
        ("bob", 60),
        ("ada", 6),
    ]
    refused = bob.get("/api/v1/admin/usage")
    assert refused.status_code == 403
    bad_day = admin.get("/api/v1/admin/usage", params={"day": "yesterday"})
    assert bad_day.status_code == 422
    assert bad_day.json()["error"]["code"] == "invalid_input"
    assert admin.get("/api/v1/admin/usage", params={"day": "2001-01-01"}).json()["users"] == []
    assert bob.get("/api/v1/usage", params={"days": 0}).status_code == 422
