"""A model's real context window: from the server, and from its refusal of a request
as too long, which the user hears as that (not as a failure of the service), with the
conversation trimmed to fit from then on."""

from __future__ import annotations

from typing import Any

import httpx

from tests.conftest import ServerFactory
from tests.live import collect, text_of
from tests.upstream import Reply, ScriptedUpstream, Status
from tests.waiting import wait_until

OPENAI_REFUSAL = {
    "error": {
        "message": "This model's maximum context length is 2048 tokens. However, you "
        "requested 3100 tokens (3000 in the messages, 100 in the completion). Please reduce "
        "the length of the messages or completion.",
        "type": "invalid_request_error",
        "param": "messages",
        "code": "context_length_exceeded",
    }
}
LLAMA_CPP_REFUSAL = {
    "error": {
        "code": 400,
        "message": "the request exceeds the available context size, try increasing it",
        "type": "exceed_context_size_error",
        "n_prompt_tokens": 5000,
        "n_ctx": 4096,
    }
}


def send(client: httpx.Client, sid: str, content: str) -> list[Any]:
    return collect(client, "POST", f"/api/v1/sessions/{sid}/messages", json={"content": content})


def model_entry(client: httpx.Client, model: str) -> dict[str, Any]:
    return next(m for m in client.get("/api/v1/models").json()["models"] if m["id"] == model)


def test_a_refusal_as_too_long_is_said_so_and_the_next_turn_fits(
    client: httpx.Client, upstream: ScriptedUpstream
) -> None:
    sid = client.post("/api/v1/sessions", json={}).json()["id"]
    long_text = "word " * 600  # about 750 tokens by Parlour's estimate: fits 128k
    upstream.enqueue(Status(400, body=OPENAI_REFUSAL))
    events = send(client, sid, long_text)
    failure = events[-1]
    assert failure.event == "failure"
    data = failure.json()
    assert data["code"] == "context_too_long"
    assert "too long for the model scripted-model" in data["message"]
    assert "2048 tokens" in data["message"]
    assert len(upstream.requests) == 1  # not retried: the same request gets the same answer
    stored = client.get(f"/api/v1/sessions/{sid}/messages").json()["items"]
    assert (stored[-1]["status"], stored[-1]["error"]) == ("error", "context_too_long")
    # The window the server named is the model's now.
    entry = model_entry(client, "scripted-model")
    assert (entry["context_window"], entry["context_window_source"]) == (2048, "server")
    # The conversation goes on: the next turn leaves the long message out and is answered.
    upstream.enqueue(Reply(["fine"]))
    events = send(client, sid, "a short one")
    assert (events[-1].event, text_of(events)) == ("done", "fine")
    sent = [m["content"] for m in upstream.requests[-1]["messages"]]
    assert sent[-1] == "a short one"
    assert long_text not in sent


def test_llama_cpp_servers_window_comes_from_its_props_and_its_refusal_is_understood(
    make_server: ServerFactory, upstream: ScriptedUpstream
) -> None:
    upstream.models = [{"id": "model.gguf", "object": "model", "owned_by": "llamacpp",
                        "meta": {"n_ctx_train": 8192}}]  # fmt: skip
    upstream.props = {"default_generation_settings": {"n_ctx": 4096}}
    server = make_server(openai_model="model.gguf")
    with httpx.Client(base_url=server.url, timeout=30) as client:
        entry = wait_until(
            lambda: (m := model_entry(client, "model.gguf"))["context_window"] == 4096 and m,
            what="the window read from /props",
        )
        assert entry["context_window_source"] == "server"
        sid = client.post("/api/v1/sessions", json={}).json()["id"]
        upstream.enqueue(Status(400, body=LLAMA_CPP_REFUSAL))
        data = send(client, sid, "hello")[-1].json()
        assert data["code"] == "context_too_long"
        assert "4096 tokens" in data["message"]


def test_a_refusal_of_another_kind_is_still_a_refusal(
    client: httpx.Client, upstream: ScriptedUpstream
) -> None:
    sid = client.post("/api/v1/sessions", json={}).json()["id"]
    upstream.enqueue(Status(400, body={"error": {"message": "bad temperature", "type": "x"}}))
    data = send(client, sid, "hello")[-1].json()
    assert data["code"] == "upstream_rejected"
