"""A reply cut by its server shutting down is stored as interrupted, not as stopped."""

from __future__ import annotations

import httpx

from tests.conftest import ServerFactory
from tests.live import collect, seq, sse
from tests.upstream import Reply, ScriptedUpstream

WORDS = [f"w{i} " for i in range(60)]


def test_a_reply_cut_by_a_shutdown_is_interrupted(
    make_server: ServerFactory, upstream: ScriptedUpstream
) -> None:
    first = make_server(shutdown_grace_seconds=0)
    upstream.enqueue(Reply(WORDS, delay=0.1))
    with httpx.Client(base_url=first.url, timeout=30) as client:
        sid = client.post("/api/v1/sessions", json={}).json()["id"]
        with sse(client, "POST", f"/api/v1/sessions/{sid}/messages", json={"content": "go"}) as (
            _response,
            events,
        ):
            for event in events:
                if event.event == "delta" and seq(event) == 4:
                    break  # the reader leaves; the reply goes on in the server
    first.stop()  # a restart: the server shuts down while the reply runs
    second = make_server()
    with httpx.Client(base_url=second.url, timeout=30) as client:
        stored = client.get(f"/api/v1/sessions/{sid}/messages").json()["items"][-1]
        assert stored["role"] == "assistant"
        assert stored["error"] == "reply_interrupted"
        assert stored["status"] == "partial"
        assert stored["content"].startswith("w0 w1 w2")
        # The conversation goes on as usual.
        again = collect(client, "POST", f"/api/v1/sessions/{sid}/messages", json={"content": "on"})
        assert again[-1].event == "done"


def test_a_stop_before_a_shutdown_stays_a_stop(
    make_server: ServerFactory, upstream: ScriptedUpstream
) -> None:
    server = make_server(shutdown_grace_seconds=0)
    upstream.enqueue(Reply(WORDS, delay=0.1))
    with httpx.Client(base_url=server.url, timeout=30) as client:
        sid = client.post("/api/v1/sessions", json={}).json()["id"]
        with sse(client, "POST", f"/api/v1/sessions/{sid}/messages", json={"content": "go"}) as (
            _response,
            events,
        ):
            for event in events:
                if event.event == "delta" and seq(event) == 3:
                    assert client.post(f"/api/v1/sessions/{sid}/reply/stop").status_code == 202
                if event.event in ("done", "error"):
                    final = event
                    break
        assert final.event == "done"
        assert final.json()["finish_reason"] == "stopped"
        stored = client.get(f"/api/v1/sessions/{sid}/messages").json()["items"][-1]
        assert stored["status"] == "partial"
        assert stored["error"] is None
