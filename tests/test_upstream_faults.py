"""Hostile or broken upstreams: every reply still ends, in a bounded time, and frees
its conversation; a misbehaving stream never stalls the others."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from typing import Any

import httpx
import pytest
from redis.asyncio import Redis as AsyncRedis

from parlour.domain import ChatTurn, Message, new_id, now
from parlour.errors import ParlourError
from parlour.providers.base import CompletionRequest
from parlour.providers.openai_compat import OpenAICompatProvider
from parlour.replies import ReplyManager
from parlour.store import ConversationStore, Keys, ReplyLedger
from tests.conftest import ServerFactory
from tests.upstream import Raw, Reply, ScriptedUpstream, Silent, Status, chunk_frame

Event = tuple[str, dict[str, Any]]


def read_reply(
    client: httpx.Client,
    method: str,
    url: str,
    within: float = 30,
    seen: list[Event] | None = None,
    **kw: Any,
) -> list[Event]:
    """The events of a reply stream up to its final one (also appended to ``seen`` as
    they come); fails if none comes ``within`` seconds (the stream's keep-alive
    comments let the deadline be checked)."""
    events: list[Event] = seen if seen is not None else []
    deadline = time.monotonic() + within
    with client.stream(method, url, **kw) as response:
        assert response.status_code == 200, response.read()
        name = "message"
        for line in response.iter_lines():
            if line.startswith("event: "):
                name = line.removeprefix("event: ")
            elif line.startswith("data: "):
                events.append((name, json.loads(line.removeprefix("data: "))))
                if name in ("done", "failure"):
                    return events
                name = "message"
            assert time.monotonic() < deadline, f"no final event; got {events}"
    raise AssertionError(f"the stream ended without a final event: {events}")


def send(client: httpx.Client, sid: str, content: str = "go") -> list[Event]:
    return read_reply(client, "POST", f"/api/v1/sessions/{sid}/messages", json={"content": content})


def new_session(client: httpx.Client) -> str:
    return str(client.post("/api/v1/sessions", json={}).json()["id"])


def last_message(client: httpx.Client, sid: str) -> dict[str, Any]:
    return dict(client.get(f"/api/v1/sessions/{sid}/messages").json()["items"][-1])


def wait_for(predicate: Any, within: float = 10.0) -> Any:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if value := predicate():
            return value
        time.sleep(0.05)
    raise AssertionError("condition not met in time")


ROLE = chunk_frame({"role": "assistant", "content": ""})


# --- a reply always ends ------------------------------------------------------------


@pytest.mark.parametrize("content", [42, ["a", "b"], {"text": "x"}])
def test_a_non_string_delta_ends_the_reply_with_an_error_and_frees_the_session(
    client: httpx.Client, upstream: ScriptedUpstream, content: object
) -> None:
    upstream.enqueue(
        Raw([ROLE, chunk_frame({"content": "Hello "}), chunk_frame({"content": content})])
    )
    sid = new_session(client)
    events = send(client, sid)
    name, data = events[-1]
    assert name == "failure"
    assert data["code"] == "upstream_unavailable"
    assert "malformed" in data["message"]
    stored = last_message(client, sid)
    assert (stored["content"], stored["status"]) == ("Hello ", "partial")
    # The conversation is free: the next message is answered.
    assert send(client, sid, "again")[-1][0] == "done"


def test_a_reply_whose_message_cannot_be_stored_still_ends(
    redis_url: str, redis: Any, upstream: ScriptedUpstream
) -> None:
    upstream.enqueue(Reply(["fine ", "text"]))

    def unstorable(text: str, status: str, error: ParlourError | None, _reason: str) -> Message:
        # A lone surrogate cannot be encoded for Redis: storing raises a non-Redis error.
        return Message(new_id(), "assistant", text + "\ud800", now(), "assistant", status=status)  # type: ignore[arg-type]

    async def scenario() -> tuple[list[str], str | None, bool, str]:
        client = AsyncRedis.from_url(redis_url, decode_responses=True)
        provider = OpenAICompatProvider(
            api_key=None, base_url=upstream.url, model="m", context_window=4096
        )
        try:
            keys = Keys("parlour")
            conversations = ConversationStore(client, keys)
            ledger = ReplyLedger(client, keys, conversations, stream_ttl=60)
            replies = ReplyManager(ledger)
            session = await conversations.create_session("u", persona="assistant", model="m")
            user = Message(new_id(), "user", "hi", now(), "assistant")
            request = CompletionRequest("m", [ChatTurn("user", "hi")], 50, 0.0, [])
            async with replies.claims.hold(
                session.id, "u", persona="assistant", model="m", history=10, user=user
            ) as held:
                facts = held.facts
                reply = replies.start(
                    facts, start_data={}, provider=provider, request=request, persist=unstorable
                )
            assert reply.task is not None
            async with asyncio.timeout(30):
                await reply.task
            kinds = [e.kind for e in reply.events]
            code = str(reply.events[-1].data.get("code"))
            running = await ledger.running_reply(session.id)
            return kinds, running, facts.id in replies._local, code
        finally:
            await provider.aclose()
            await client.aclose()

    out: list[tuple[list[str], str | None, bool, str]] = []
    # In a thread of its own: the browser tests own an event loop in this one.
    thread = threading.Thread(target=lambda: out.append(asyncio.run(scenario())))
    thread.start()
    thread.join(60)
    kinds, running, still_local, code = out[0]
    assert kinds[-1] == "failure"  # readers hear the end
    assert code == "internal_error"
    assert running is None  # the conversation is free
    assert not still_local  # and the process forgot it


# --- bounded time for a silent upstream; stop at any moment ------------------------------


def test_a_server_that_never_answers_is_retried_within_one_total_bound(
    make_server: ServerFactory, upstream: ScriptedUpstream
) -> None:
    upstream.enqueue(*[Silent() for _ in range(5)])
    server = make_server(
        upstream_attempts=5, upstream_first_byte_timeout=1.0, upstream_first_token_timeout=3.0
    )
    with httpx.Client(base_url=server.url, timeout=30) as client:
        sid = new_session(client)
        name, data = send(client, sid)[-1]
        assert (name, data["code"]) == ("failure", "upstream_timeout")
        # Tried again after each silent second, but not five times: the total bound ended it.
        assert 2 <= len(upstream.requests) < 5
        assert last_message(client, sid)["error"] == "upstream_timeout"
        upstream.reset()  # the tries left unused
        upstream.enqueue(Reply(["back"]))
        assert send(client, sid)[-1][0] == "done"


def test_an_opening_chunk_then_only_comments_times_out_at_the_first_token_bound(
    make_server: ServerFactory, upstream: ScriptedUpstream
) -> None:
    comments = Raw([ROLE], repeat=b": keep-alive\n\n", every=0.2, hold=120)
    upstream.enqueue(comments, comments, comments)
    server = make_server(upstream_first_token_timeout=2.0, upstream_idle_timeout=600.0)
    with httpx.Client(base_url=server.url, timeout=30) as client:
        sid = new_session(client)
        name, data = send(client, sid)[-1]
    assert (name, data["code"]) == ("failure", "upstream_timeout")


@pytest.mark.parametrize("script", ["silent", "backoff"])
def test_stop_frees_the_conversation_while_waiting_for_the_upstream(
    make_server: ServerFactory, upstream: ScriptedUpstream, script: str
) -> None:
    if script == "silent":
        upstream.enqueue(Silent())
    else:  # the next try would come only after Retry-After
        upstream.enqueue(Status(429, retry_after="15"))
    server = make_server(upstream_first_byte_timeout=600.0, upstream_first_token_timeout=600.0)
    with httpx.Client(base_url=server.url, timeout=30) as client:
        sid = new_session(client)
        result: list[list[Event]] = []
        reader = threading.Thread(target=lambda: result.append(send(client, sid)))
        reader.start()
        wait_for(lambda: upstream.requests)
        wait_for(lambda: client.post(f"/api/v1/sessions/{sid}/reply/stop").status_code == 202)
        reader.join(timeout=30)
        assert result, "the stream did not end after the stop"
        name, data = result[0][-1]
        assert (name, data["finish_reason"]) == ("done", "stopped")
        assert len(upstream.requests) == 1  # no try after the stop
        assert last_message(client, sid)["status"] == "partial"
        assert send(client, sid, "next")[-1][0] == "done"


# --- giant lines ------------------------------------------------------------------------------

PIECE = b"a" * 65_536
GIANT = 800  # pieces: ~50 MB


@pytest.mark.parametrize("ended", [False, True], ids=["line-without-end", "50-MB-line"])
def test_a_giant_line_is_refused_and_other_streams_keep_flowing(
    make_server: ServerFactory, upstream: ScriptedUpstream, ended: bool
) -> None:
    head = [ROLE, b'data: {"choices":[{"index":0,"delta":{"content":"']
    tail = [b'"},"finish_reason":null}]}\n\n'] if ended else []
    upstream.enqueue(Raw([*head, *([PIECE] * GIANT), *tail], hold=120))
    upstream.enqueue(Reply([f"w{i} " for i in range(20)], delay=0.02))
    server = make_server(upstream_idle_timeout=600.0)
    with httpx.Client(base_url=server.url, timeout=30) as client:
        giant, other = new_session(client), new_session(client)
        result: list[list[Event]] = []
        reader = threading.Thread(target=lambda: result.append(send(client, giant)))
        reader.start()
        wait_for(lambda: upstream.requests)
        assert client.get("/healthz").status_code == 200
        assert "".join(d["content"] for n, d in send(client, other) if n == "delta") == "".join(
            f"w{i} " for i in range(20)
        )
        reader.join(timeout=60)
        assert result, "the giant line's reply did not end"
        name, data = result[0][-1]
        assert (name, data["code"]) == ("failure", "upstream_unavailable")
        assert "longer than 1048576 bytes" in data["message"]
        assert send(client, giant, "next")[-1][0] == "done"
