"""Replies: multi-turn context, streaming, storage of partial and failed replies,
replies that outlive their connection, stop, resume and the one-reply-at-a-time rule."""

from __future__ import annotations

import socket

import httpx

from parlour.personas import BUILTIN_PERSONAS
from parlour.store import Keys
from tests.conftest import ServerFactory
from tests.live import collect, sse, text_of
from tests.upstream import Reply, ScriptedUpstream, Status
from tests.waiting import wait_until


def new_session(client: httpx.Client, persona: str = "assistant") -> str:
    return str(client.post("/api/v1/sessions", json={"persona": persona}).json()["id"])


def send(client: httpx.Client, sid: str, content: str) -> list:  # type: ignore[type-arg]
    return collect(client, "POST", f"/api/v1/sessions/{sid}/messages", json={"content": content})


def history(client: httpx.Client, sid: str) -> list[dict[str, object]]:
    return list(client.get(f"/api/v1/sessions/{sid}/messages").json()["items"])


def test_reply_streams_start_deltas_done(client: httpx.Client, upstream: ScriptedUpstream) -> None:
    # Paced like a real model: a reader that keeps up gets each delta in its own event.
    usage = {"prompt_tokens": 9, "completion_tokens": 3}
    upstream.enqueue(Reply(["Hel", "lo", " there"], delay=0.05, usage=usage))
    sid = new_session(client)
    events = send(client, sid, "hi")
    assert [e.event for e in events] == ["start", "delta", "delta", "delta", "done"]
    rid = events[0].json()["reply_id"]
    assert [e.id for e in events] == [f"{rid}:{n}" for n in range(1, 6)]
    assert events[0].json()["session_id"] == sid
    assert text_of(events) == "Hello there"
    done = events[-1].json()
    assert done["finish_reason"] == "stop"
    assert done["usage"] == {"prompt_tokens": 9, "completion_tokens": 3}
    stored = history(client, sid)
    assert stored[-1]["content"] == "Hello there"
    assert stored[-1]["id"] == done["message_id"]


def test_second_turn_carries_the_first_in_order_with_the_system_prompt(
    client: httpx.Client, upstream: ScriptedUpstream
) -> None:
    sid = new_session(client, persona="teacher")
    upstream.enqueue(Reply(["Nice to meet you, Ann."]), Reply(["Your name is Ann."]))
    send(client, sid, "My name is Ann.")
    send(client, sid, "What is my name?")
    teacher = next(p for p in BUILTIN_PERSONAS if p.id == "teacher")
    assert upstream.requests[1]["messages"] == [
        {"role": "system", "content": teacher.system_prompt},
        {"role": "user", "content": "My name is Ann."},
        {"role": "assistant", "content": "Nice to meet you, Ann."},
        {"role": "user", "content": "What is my name?"},
    ]
    assert upstream.requests[1]["model"] == "scripted-model"
    assert upstream.requests[1]["stream"] is True


def test_history_is_trimmed_oldest_first_under_a_small_budget(
    make_server: ServerFactory, upstream: ScriptedUpstream
) -> None:
    # Without summaries (tests/test_summaries.py has them): the turns that do not fit go.
    server = make_server(openai_context_window=400, reply_reserve_tokens=100, summaries=False)
    with httpx.Client(base_url=server.url) as client:
        sid = new_session(client)
        for i in range(12):
            send(client, sid, f"message number {i} " + "padding " * 20)
        sent = upstream.requests[-1]["messages"]
    assert sent[0]["role"] == "system"
    assert sent[-1]["content"].startswith("message number 11 ")
    user_turns = [m["content"] for m in sent[1:-1] if m["role"] == "user"]
    assert 0 < len(user_turns) < 11  # older turns were dropped...
    numbers = [int(t.split()[2]) for t in user_turns]
    assert numbers == list(range(11 - len(numbers), 11))  # ...oldest first, the rest in order
    assert [m["role"] for m in sent[1:]] == ["user", "assistant"] * len(numbers) + ["user"]


def test_context_reads_at_most_context_messages(
    make_server: ServerFactory, upstream: ScriptedUpstream
) -> None:
    server = make_server(context_messages=4)
    with httpx.Client(base_url=server.url) as client:
        sid = new_session(client)
        for i in range(5):
            send(client, sid, f"message number {i}")
        sent = upstream.requests[-1]["messages"]
        stored = history(client, sid)
    assert len(stored) == 10  # everything is kept...
    # ...but the model sees only the newest stored messages: two exchanges, then the new turn.
    assert [m["content"] for m in sent if m["role"] == "user"] == [
        "message number 2",
        "message number 3",
        "message number 4",
    ]


def test_cut_off_mid_stream_stores_the_partial_reply(
    client: httpx.Client, upstream: ScriptedUpstream
) -> None:
    upstream.enqueue(Reply(["The answer ", "is for"], cut=True))
    sid = new_session(client)
    events = send(client, sid, "question")
    assert text_of(events) == "The answer is for"
    assert events[-1].event == "failure"
    assert events[-1].json()["code"] == "upstream_unavailable"
    assert len(upstream.requests) == 1  # no retry once text was streamed
    stored = history(client, sid)[-1]
    assert stored["status"] == "partial"
    assert stored["content"] == "The answer is for"
    assert stored["error"] == "upstream_unavailable"


def test_in_band_error_ends_the_reply_with_an_error_event(
    client: httpx.Client, upstream: ScriptedUpstream
) -> None:
    upstream.enqueue(Reply(["Partial"], error_event="overloaded"))
    sid = new_session(client)
    events = send(client, sid, "q")
    assert events[-1].event == "failure"
    assert history(client, sid)[-1]["status"] == "partial"


def test_reply_completes_in_history_when_the_client_leaves_after_the_first_delta(
    client: httpx.Client, upstream: ScriptedUpstream
) -> None:
    upstream.enqueue(Reply(["one ", "two ", "three ", "four"], delay=0.15))
    sid = new_session(client)
    with sse(client, "POST", f"/api/v1/sessions/{sid}/messages", json={"content": "count"}) as (
        _response,
        events,
    ):
        for event in events:
            if event.event == "delta":
                break  # the reader goes away here
    stored = wait_until(lambda: [m for m in history(client, sid) if m["role"] == "assistant"])
    assert stored[0]["content"] == "one two three four"
    assert stored[0]["status"] == "complete"


def test_a_second_message_while_replying_is_refused_with_409(
    client: httpx.Client, upstream: ScriptedUpstream
) -> None:
    upstream.enqueue(Reply(["slow ", "reply"], delay=0.5))
    sid, other = new_session(client), new_session(client)
    with sse(client, "POST", f"/api/v1/sessions/{sid}/messages", json={"content": "a"}) as (
        _response,
        events,
    ):
        next(events)
        refused = client.post(f"/api/v1/sessions/{sid}/messages", json={"content": "b"})
        assert refused.status_code == 409
        assert "still being written" in refused.json()["detail"]
        # another session is not blocked
        assert text_of(send(client, other, "parallel")) == "You said: parallel"
        list(events)
    contents = [m["content"] for m in history(client, sid)]
    assert contents == ["a", "slow reply"]  # nothing interleaved, nothing lost


def test_deleting_the_conversation_mid_reply_stores_nothing(
    client: httpx.Client, upstream: ScriptedUpstream
) -> None:
    upstream.enqueue(Reply(["one ", "two ", "three"], delay=0.2))
    sid = new_session(client)
    with sse(client, "POST", f"/api/v1/sessions/{sid}/messages", json={"content": "go"}) as (
        _response,
        events,
    ):
        next(e for e in events if e.event == "delta")
        assert client.delete(f"/api/v1/sessions/{sid}").status_code == 204
        final = next(e for e in events if e.event in ("done", "failure"))
    assert final.json()["message_id"] is None  # nowhere to store it
    assert client.get(f"/api/v1/sessions/{sid}").status_code == 404
    assert client.get(f"/api/v1/sessions/{sid}/messages").status_code == 404
    # and the server goes on answering
    other = new_session(client)
    assert text_of(send(client, other, "again")) == "You said: again"


def test_stop_keeps_the_partial_text(client: httpx.Client, upstream: ScriptedUpstream) -> None:
    upstream.enqueue(Reply([f"w{i} " for i in range(100)], delay=0.05))
    sid = new_session(client)
    with sse(client, "POST", f"/api/v1/sessions/{sid}/messages", json={"content": "go"}) as (
        _response,
        events,
    ):
        seen = []
        for event in events:
            if event.event == "delta":
                seen.append(event)
                if len(seen) == 3:
                    stopped = client.post(f"/api/v1/sessions/{sid}/reply/stop")
                    assert stopped.status_code == 202
            if event.event in ("done", "failure"):
                final = event
                break
    assert final.event == "done"
    assert final.json()["finish_reason"] == "stopped"
    stored = history(client, sid)[-1]
    assert stored["status"] == "partial"
    assert 3 <= len(stored["content"].split()) < 20
    assert wait_until(lambda: upstream.disconnects >= 1)  # the upstream request was closed
    assert client.post(f"/api/v1/sessions/{sid}/reply/stop").status_code == 404


def _first_deltas(client: httpx.Client, sid: str, count: int) -> tuple[str, str]:
    """Send a message, read ``count`` deltas and hang up: (their text, the last id)."""
    seen: list[str] = []
    last_id = ""
    with sse(client, "POST", f"/api/v1/sessions/{sid}/messages", json={"content": "go"}) as (
        _response,
        events,
    ):
        for event in events:
            if event.event == "delta":
                seen.append(event.json()["content"])
                last_id = event.id
                if len(seen) == count:
                    break
    return "".join(seen), last_id


def test_resume_after_last_event_id_gets_exactly_the_rest(
    client: httpx.Client, upstream: ScriptedUpstream
) -> None:
    words = [f"w{i} " for i in range(30)]
    upstream.enqueue(Reply(words, delay=0.03))
    sid = new_session(client)
    first, last_id = _first_deltas(client, sid, 5)
    rest = collect(client, "GET", f"/api/v1/sessions/{sid}/reply",
                   headers={"Last-Event-ID": last_id})  # fmt: skip
    assert first + text_of(rest) == "".join(words)
    assert rest[-1].event == "done"


def test_a_reply_that_ended_before_the_reconnect_is_resumed_to_its_end(
    client: httpx.Client, upstream: ScriptedUpstream
) -> None:
    words = [f"w{i} " for i in range(12)]
    upstream.enqueue(Reply(words, delay=0.02))
    sid = new_session(client)
    shown, last_id = _first_deltas(client, sid, 3)
    wait_until(lambda: client.get(f"/api/v1/sessions/{sid}").json()["reply_id"] is None)
    # Only Last-Event-ID, as an EventSource (or the README's curl) sends it.
    rest = collect(client, "GET", f"/api/v1/sessions/{sid}/reply",
                   headers={"Last-Event-ID": last_id})  # fmt: skip
    assert shown + text_of(rest) == "".join(words)
    assert rest[-1].event == "done"
    at_end = client.get(f"/api/v1/sessions/{sid}/reply", headers={"Last-Event-ID": rest[-1].id})
    assert at_end.status_code == 204


def test_a_resume_never_joins_a_reply_started_since(
    client: httpx.Client, upstream: ScriptedUpstream
) -> None:
    first = [f"a{i} " for i in range(10)]
    second = [f"b{i} " for i in range(400)]
    upstream.enqueue(Reply(first, delay=0.02))
    upstream.enqueue(Reply(second, delay=0.05))
    sid = new_session(client)
    shown, last_id = _first_deltas(client, sid, 2)
    wait_until(lambda: client.get(f"/api/v1/sessions/{sid}").json()["reply_id"] is None)
    with sse(client, "POST", f"/api/v1/sessions/{sid}/messages", json={"content": "more"}) as (
        _response,
        events,
    ):
        next(e for e in events if e.event == "delta")  # another tab's reply is running
        rest = collect(client, "GET", f"/api/v1/sessions/{sid}/reply",
                       headers={"Last-Event-ID": last_id})  # fmt: skip
        client.post(f"/api/v1/sessions/{sid}/reply/stop")
    assert shown + text_of(rest) == "".join(first)
    assert rest[-1].event == "done"


def test_an_event_id_of_another_reply_than_reply_id_is_refused(
    client: httpx.Client, upstream: ScriptedUpstream
) -> None:
    upstream.enqueue(Reply(["one ", "two "], delay=0.01))
    sid = new_session(client)
    _shown, last_id = _first_deltas(client, sid, 1)
    response = client.get(f"/api/v1/sessions/{sid}/reply", params={"reply_id": "e" * 32},
                          headers={"Last-Event-ID": last_id})  # fmt: skip
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_event_id"
    assert "another reply" in response.json()["error"]["message"]


def test_following_with_no_reply_running_says_there_is_nothing_to_follow(
    client: httpx.Client,
) -> None:
    sid = new_session(client)
    response = client.get(f"/api/v1/sessions/{sid}/reply")
    # 204 No Content: what tells an EventSource not to reconnect.
    assert response.status_code == 204
    assert response.content == b""
    unknown = client.get(f"/api/v1/sessions/{sid}/reply", params={"reply_id": "f" * 32})
    assert unknown.status_code == 204
    # Stopping is not following: with nothing to stop, that is still said in words.
    stop = client.post(f"/api/v1/sessions/{sid}/reply/stop")
    assert stop.status_code == 404
    assert stop.json()["error"]["code"] == "no_reply_in_progress"


def test_heartbeat_comments_while_the_model_is_silent(
    client: httpx.Client, upstream: ScriptedUpstream
) -> None:
    upstream.enqueue(Reply(["late"], first_delay=2.5))
    sid = new_session(client)
    raw = b""
    with client.stream("POST", f"/api/v1/sessions/{sid}/messages", json={"content": "q"}) as r:
        assert r.headers["content-type"].startswith("text/event-stream")
        assert r.headers["cache-control"] == "no-cache"
        assert r.headers["x-accel-buffering"] == "no"
        for chunk in r.iter_bytes():
            raw += chunk
    assert b": keep-alive" in raw
    assert b'"late"' in raw


def test_rate_limit_before_the_first_token_is_retried_after_retry_after(
    client: httpx.Client, upstream: ScriptedUpstream
) -> None:
    upstream.enqueue(Status(429, retry_after="1"), Reply(["fine"]))
    sid = new_session(client)
    events = send(client, sid, "q")
    assert text_of(events) == "fine"
    assert len(upstream.requests) == 2
    # Retry-After was honoured: the retry came no sooner than asked. (A floor the server
    # itself guarantees, as the upstream saw it; a slow machine only makes the gap longer.)
    first, second = upstream.arrivals
    assert second - first >= 1.0


def test_upstream_failing_every_try_gives_a_readable_error(
    client: httpx.Client, upstream: ScriptedUpstream
) -> None:
    upstream.enqueue(Status(500), Status(502), Status(503))
    sid = new_session(client)
    events = send(client, sid, "q")
    assert len(upstream.requests) == 3  # bounded retries
    error = events[-1]
    assert error.event == "failure"
    assert error.json()["code"] == "upstream_unavailable"
    assert "model service" in error.json()["message"]
    stored = history(client, sid)
    assert stored[-1]["role"] == "assistant"
    assert stored[-1]["status"] == "error"
    # the next turn works and the failed exchange is not sent as a model turn
    events = send(client, sid, "again")
    assert text_of(events) == "You said: again"
    assert [m["role"] for m in upstream.requests[-1]["messages"]] == ["system", "user"]


def test_without_any_model_each_reply_explains_how_to_configure_one(
    make_server: ServerFactory,
) -> None:
    server = make_server(openai_base_url=None, openai_api_key=None, local_enabled=False)
    with httpx.Client(base_url=server.url) as client:
        listed = client.get("/api/v1/models").json()
        assert (listed["models"], listed["default"]) == ([], None)
        sid = new_session(client)
        events = send(client, sid, "hello?")
    assert events[-1].event == "failure"
    body = events[-1].json()
    assert body["code"] == "model_not_configured"
    assert "OPENAI_API_KEY" in body["message"]


def test_finished_reply_streams_expire(
    make_server: ServerFactory, upstream: ScriptedUpstream, redis
) -> None:  # type: ignore[no-untyped-def]
    server = make_server(reply_stream_ttl_seconds=2)
    with httpx.Client(base_url=server.url) as client:
        sid = new_session(client)
        rid = send(client, sid, "hi")[0].json()["reply_id"]
    key = Keys("parlour").reply_events(sid, rid)
    wait_until(lambda: 0 < redis.ttl(key) <= 2)  # the final batch set the expiry
    wait_until(lambda: not redis.exists(key))


def test_a_silent_upstream_times_out_before_the_first_token(
    make_server: ServerFactory, upstream: ScriptedUpstream
) -> None:
    server = make_server(upstream_first_token_timeout=0.5, upstream_attempts=1)
    upstream.enqueue(Reply(["too late"], first_delay=3))
    with httpx.Client(base_url=server.url) as client:
        sid = new_session(client)
        events = send(client, sid, "hello?")
    # It gave up before the upstream's first token: no text, a timeout.
    assert text_of(events) == ""
    assert events[-1].event == "failure"
    assert events[-1].json()["code"] == "upstream_timeout"


def test_an_upstream_silent_between_tokens_times_out_and_keeps_the_text(
    make_server: ServerFactory, upstream: ScriptedUpstream
) -> None:
    server = make_server(upstream_idle_timeout=0.5)
    upstream.enqueue(Reply(["first ", "much later"], delay=3))
    with httpx.Client(base_url=server.url) as client:
        sid = new_session(client)
        events = send(client, sid, "hello?")
        stored = history(client, sid)[-1]
    assert text_of(events) == "first "  # it did not wait for "much later"
    assert events[-1].event == "failure"
    assert events[-1].json()["code"] == "upstream_timeout"
    assert (stored["status"], stored["content"]) == ("partial", "first ")
    assert len(upstream.requests) == 1  # text was streamed: no retry


def test_an_upstream_sending_only_comments_times_out_too(
    make_server: ServerFactory, upstream: ScriptedUpstream
) -> None:
    server = make_server(upstream_idle_timeout=1)
    upstream.enqueue(Reply(["first ", "much later"], delay=4, keepalive=0.2))
    with httpx.Client(base_url=server.url) as client:
        sid = new_session(client)
        events = send(client, sid, "hello?")
    assert text_of(events) == "first "  # the comments did not keep it waiting
    assert events[-1].json()["code"] == "upstream_timeout"


def test_lines_cut_across_reads_with_crlf_arrive_whole(
    client: httpx.Client, upstream: ScriptedUpstream
) -> None:
    upstream.enqueue(Reply(["Grüße, ", "世界", "!"], ragged=True, usage={"completion_tokens": 3}))
    sid = new_session(client)
    events = send(client, sid, "hi")
    assert text_of(events) == "Grüße, 世界!"
    assert events[-1].json()["usage"]["completion_tokens"] == 3
    assert history(client, sid)[-1]["content"] == "Grüße, 世界!"


def test_an_unreachable_model_service_says_so(make_server: ServerFactory) -> None:
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        closed = s.getsockname()[1]
    server = make_server(openai_base_url=f"http://127.0.0.1:{closed}/v1", upstream_attempts=1)
    with httpx.Client(base_url=server.url) as client:
        events = send(client, new_session(client), "anyone there?")
    assert events[-1].event == "failure"
    assert events[-1].json()["code"] == "upstream_unavailable"


def test_regenerate_answers_the_last_message_again_in_place_of_its_reply(
    client: httpx.Client, upstream: ScriptedUpstream
) -> None:
    sid = new_session(client)
    upstream.enqueue(Reply(["first answer"]), Reply(["second answer"]))
    send(client, sid, "question")
    events = collect(client, "POST", f"/api/v1/sessions/{sid}/reply/regenerate")
    assert text_of(events) == "second answer"
    stored = history(client, sid)
    assert [(m["role"], m["content"]) for m in stored] == [
        ("user", "question"),
        ("assistant", "second answer"),
    ]
    assert events[0].json()["user_message_id"] == stored[0]["id"]
    # the model saw the question once, without the replaced answer
    assert [m["role"] for m in upstream.requests[-1]["messages"]] == ["system", "user"]
    empty = new_session(client)
    nothing = client.post(f"/api/v1/sessions/{empty}/reply/regenerate")
    assert nothing.status_code == 422
    assert "no message to answer again" in nothing.json()["detail"]


def test_edit_and_resend_shows_the_new_version_in_place(
    client: httpx.Client, upstream: ScriptedUpstream
) -> None:
    sid = new_session(client)
    send(client, sid, "one")
    send(client, sid, "two with a typo")
    wrong = history(client, sid)[2]
    events = collect(client, "POST", f"/api/v1/sessions/{sid}/messages",
                     json={"content": "two", "replace_from": wrong["id"]})  # fmt: skip
    assert text_of(events) == "You said: two"
    assert [m["content"] for m in history(client, sid)] == [
        "one", "You said: one", "two", "You said: two"
    ]  # fmt: skip
    # The old version and its reply are kept: 6 messages on two branches.
    assert client.get(f"/api/v1/sessions/{sid}").json()["message_count"] == 6
    assistant_id = history(client, sid)[1]["id"]
    refused = client.post(f"/api/v1/sessions/{sid}/messages",
                          json={"content": "x", "replace_from": assistant_id})  # fmt: skip
    assert refused.status_code == 422
    assert len(history(client, sid)) == 4  # nothing lost


def test_a_session_says_which_reply_is_running(
    client: httpx.Client, upstream: ScriptedUpstream
) -> None:
    sid = new_session(client)
    assert client.get(f"/api/v1/sessions/{sid}").json()["reply_id"] is None
    upstream.enqueue(Reply(["a ", "b"], delay=0.4))
    with sse(client, "POST", f"/api/v1/sessions/{sid}/messages", json={"content": "q"}) as (
        _r,
        events,
    ):
        rid = next(events).json()["reply_id"]
        assert client.get(f"/api/v1/sessions/{sid}").json()["reply_id"] == rid
        list(events)


def test_a_reply_stopped_before_any_text_is_kept_as_stopped(
    client: httpx.Client, upstream: ScriptedUpstream
) -> None:
    upstream.enqueue(Reply(["late"], first_delay=2))
    sid = new_session(client)
    with sse(client, "POST", f"/api/v1/sessions/{sid}/messages", json={"content": "q"}) as (
        _r,
        events,
    ):
        next(events)
        assert client.post(f"/api/v1/sessions/{sid}/reply/stop").status_code == 202
        list(events)
    stored = history(client, sid)[-1]
    assert stored["role"] == "assistant"
    assert stored["status"] == "partial"
    assert stored["content"] == ""
    send(client, sid, "next")
    assert [m["role"] for m in upstream.requests[-1]["messages"]] == ["system", "user"]


def test_a_rate_limited_reply_says_when_to_retry(
    make_server: ServerFactory, upstream: ScriptedUpstream
) -> None:
    server = make_server(upstream_attempts=1)
    upstream.enqueue(Status(429, retry_after="7"))
    with httpx.Client(base_url=server.url) as client:
        events = send(client, new_session(client), "q")
    assert events[-1].event == "failure"
    assert events[-1].json()["code"] == "upstream_rate_limited"
    assert events[-1].json()["retry_after"] == 7
