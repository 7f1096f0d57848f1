"""Reasoning models through the API: thinking streamed as its own events, stored apart
from the answer, kept when stopped, shown on resume and reload, exported, and never
sent back to the model."""

from __future__ import annotations

import json

import httpx
import pytest

from tests.live import collect, sse, text_of
from tests.upstream import Reply, ScriptedUpstream


def new_session(client: httpx.Client) -> str:
    return str(client.post("/api/v1/sessions", json={}).json()["id"])


def send(client: httpx.Client, sid: str, content: str) -> list:  # type: ignore[type-arg]
    return collect(client, "POST", f"/api/v1/sessions/{sid}/messages", json={"content": content})


def last_stored(client: httpx.Client, sid: str) -> dict[str, object]:
    return dict(client.get(f"/api/v1/sessions/{sid}/messages").json()["items"][-1])


def thought_of(events: list) -> str:  # type: ignore[type-arg]
    """The thinking as a reader applying the events in order ends up with."""
    thought = ""
    for e in events:
        if e.event == "reasoning":
            thought += e.json()["content"]
    return thought


@pytest.mark.parametrize("field", ["reasoning_content", "reasoning"])
def test_thinking_in_its_own_field_streams_apart_and_is_stored_apart(
    client: httpx.Client, upstream: ScriptedUpstream, field: str
) -> None:
    upstream.enqueue(
        Reply(["Four", "."], reasoning=["Two plus ", "two."], reasoning_field=field, delay=0.05)
    )
    sid = new_session(client)
    events = send(client, sid, "2+2?")
    kinds = [e.event for e in events]
    assert kinds == ["start", "reasoning", "reasoning", "delta", "delta", "done"]
    assert thought_of(events) == "Two plus two."
    assert text_of(events) == "Four."
    done = events[-1].json()
    assert done["reasoning_seconds"] >= 0
    stored = last_stored(client, sid)
    assert stored["content"] == "Four."
    assert stored["reasoning"] == "Two plus two."
    assert stored["reasoning_seconds"] == done["reasoning_seconds"]


def test_think_tags_cut_across_deltas_are_taken_out_of_the_answer(
    client: httpx.Client, upstream: ScriptedUpstream
) -> None:
    upstream.enqueue(Reply(["<thi", "nk>\nLet me", " count.</th", "ink>\n\n", "Three."]))
    sid = new_session(client)
    events = send(client, sid, "how many?")
    assert text_of(events) == "Three."
    assert thought_of(events) == "Let me count."
    assert "<" not in text_of(events)
    stored = last_stored(client, sid)
    assert (stored["content"], stored["reasoning"]) == ("Three.", "Let me count.")


def test_a_lone_closing_tag_turns_the_text_before_it_into_thinking(
    client: httpx.Client, upstream: ScriptedUpstream
) -> None:
    # The chat template wrote <think> into the prompt: the output only closes it.
    upstream.enqueue(Reply(["Hmm, ", "the user greets me.", "</think>", "Hello!"], delay=0.05))
    sid = new_session(client)
    events = send(client, sid, "hi")
    moved = [e.json() for e in events if e.event == "reasoning"]
    assert moved == [{"content": "Hmm, the user greets me.", "replace_answer": True}]
    # A reader applying the events in order: the answer restarts after the move.
    after = events[[e.event for e in events].index("reasoning") :]
    assert text_of(after) == "Hello!"
    stored = last_stored(client, sid)
    assert (stored["content"], stored["reasoning"]) == ("Hello!", "Hmm, the user greets me.")


def test_thinking_is_never_sent_back_to_the_model(
    client: httpx.Client, upstream: ScriptedUpstream
) -> None:
    upstream.enqueue(
        Reply(["Ann."], reasoning=["SECRET-THOUGHT"]),
        Reply(["<think>TAGGED-THOUGHT</think>Yes."]),
        Reply(["ok"]),
    )
    sid = new_session(client)
    send(client, sid, "My name?")
    send(client, sid, "Sure?")
    send(client, sid, "Bye")
    sent = json.dumps(upstream.requests[-1]["messages"])
    assert "SECRET-THOUGHT" not in sent
    assert "TAGGED-THOUGHT" not in sent
    assistant = [
        m["content"] for m in upstream.requests[-1]["messages"] if m["role"] == "assistant"
    ]
    assert assistant == ["Ann.", "Yes."]


def test_stop_while_thinking_keeps_the_thought_for_resume_and_reload(
    client: httpx.Client, upstream: ScriptedUpstream
) -> None:
    upstream.enqueue(Reply([], reasoning=[f"step {i}. " for i in range(3)], hold=60))
    sid = new_session(client)
    url = f"/api/v1/sessions/{sid}/messages"
    with sse(client, "POST", url, json={"content": "think hard"}) as (_response, events):
        thought = ""
        for event in events:
            if event.event == "reasoning":  # a reader that falls behind gets them merged
                thought += event.json()["content"]
                if thought.endswith("step 2. "):
                    assert client.post(f"/api/v1/sessions/{sid}/reply/stop").status_code == 202
            if event.event in ("done", "failure"):
                final = event
                break
    assert final.json()["finish_reason"] == "stopped"
    assert final.json()["reasoning_seconds"] >= 0
    stored = last_stored(client, sid)
    assert stored["status"] == "partial"
    assert stored["content"] == ""
    assert stored["reasoning"] == "step 0. step 1. step 2. "
    # Resuming after the start event gives the thinking again (the reply's events are
    # kept for a while after it ends; the reply's id is its message's).
    assert client.get(f"/api/v1/sessions/{sid}").json()["reply_id"] is None
    reply_id = final.json()["message_id"]
    rest = collect(
        client,
        "GET",
        f"/api/v1/sessions/{sid}/reply",
        params={"reply_id": reply_id},
        headers={"Last-Event-ID": "1"},
    )
    assert thought_of(rest) == "step 0. step 1. step 2. "
    assert rest[-1].event == "done"


def test_the_tutorial_stream_sends_only_the_answer(
    client: httpx.Client, upstream: ScriptedUpstream
) -> None:
    upstream.enqueue(Reply(["你好"], reasoning=["用户在打招呼。"]))
    sid = client.post("/chat/start", params={"user_id": "xiaoming"}).json()["session_id"]
    query = {"user_id": "xiaoming", "session_id": sid, "message": "嗨"}
    events = collect(client, "GET", "/chat/stream", params=query)
    assert [e.json() for e in events] == [{"content": "你好", "type": "chunk"}, {"type": "end"}]
    hist = client.get("/chat/history", params={"user_id": "xiaoming", "session_id": sid}).json()
    assert [m["content"] for m in hist["messages"]] == ["嗨", "你好"]


def test_exports_carry_the_thinking(client: httpx.Client, upstream: ScriptedUpstream) -> None:
    upstream.enqueue(Reply(["Paris."], reasoning=["France's capital.\nEasy."]))
    sid = new_session(client)
    send(client, sid, "Capital of France?")
    exported = client.get(f"/api/v1/sessions/{sid}/export").json()
    reply = exported["items"][-1]
    assert (reply["content"], reply["reasoning"]) == ("Paris.", "France's capital.\nEasy.")
    assert reply["reasoning_seconds"] is not None
    markdown = client.get(f"/api/v1/sessions/{sid}/export", params={"format": "markdown"}).text
    assert "<details><summary>Thought for" in markdown
    assert "> France's capital.\n> Easy." in markdown
    assert markdown.index("</details>") < markdown.index("Paris.")
    # A reply without thinking has no block.
    assert markdown.count("<details>") == 1
