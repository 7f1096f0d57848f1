"""Memory across conversations: facts the user keeps, in every system prompt while on."""

from __future__ import annotations

import httpx

from parlour.memory import MEMORY_HEADER, PROPOSE
from tests.conftest import ServerFactory
from tests.live import collect
from tests.upstream import ScriptedUpstream


def system_sent(upstream: ScriptedUpstream) -> str:
    return str(upstream.requests[-1]["messages"][0]["content"])


def say(client: httpx.Client, sid: str, text: str) -> None:
    events = collect(client, "POST", f"/api/v1/sessions/{sid}/messages", json={"content": text})
    assert events[-1].event == "done"


def test_facts_go_into_every_conversation_while_memory_is_on(
    client: httpx.Client, upstream: ScriptedUpstream
) -> None:
    empty = client.get("/api/v1/memory").json()
    assert empty["enabled"] is False
    assert empty["facts"] == []
    added = client.post("/api/v1/memory/facts", json={"text": "  My name is  小明 "})
    assert added.status_code == 201
    fact = added.json()["facts"][0]
    assert fact["text"] == "My name is 小明"
    client.post("/api/v1/memory/facts", json={"text": "I prefer Python"})

    sid = client.post("/api/v1/sessions", json={}).json()["id"]
    say(client, sid, "Hi")
    assert MEMORY_HEADER not in system_sent(upstream)  # off: nothing is sent

    assert client.patch("/api/v1/memory", json={"enabled": True}).json()["enabled"] is True
    other = client.post("/api/v1/sessions", json={"persona": "programmer"}).json()["id"]
    say(client, other, "Hi")
    system = system_sent(upstream)
    assert system.startswith("You are an expert software engineer.")
    assert f"{MEMORY_HEADER}\n- My name is 小明\n- I prefer Python" in system
    assert system.endswith(PROPOSE)  # it may propose a fact; only the user stores one

    edited = client.patch(f"/api/v1/memory/facts/{fact['id']}", json={"text": "My name is 大明"})
    assert edited.status_code == 200
    say(client, sid, "Again")
    assert "- My name is 大明" in system_sent(upstream)
    assert client.delete(f"/api/v1/memory/facts/{fact['id']}").status_code == 200
    assert client.delete(f"/api/v1/memory/facts/{fact['id']}").status_code == 404
    say(client, sid, "Once more")
    assert "大明" not in system_sent(upstream)
    assert "- I prefer Python" in system_sent(upstream)


def test_a_persona_can_opt_out_of_memory(client: httpx.Client, upstream: ScriptedUpstream) -> None:
    client.patch("/api/v1/memory", json={"enabled": True})
    client.post("/api/v1/memory/facts", json={"text": "I like tea"})
    persona = client.post("/api/v1/personas", json={
        "name_en": "Stranger", "system_prompt": "You know nothing of me.", "use_memory": False,
    }).json()  # fmt: skip
    assert persona["use_memory"] is False
    sid = client.post("/api/v1/sessions", json={"persona": persona["id"]}).json()["id"]
    say(client, sid, "Hello")
    assert system_sent(upstream) == "You know nothing of me."
    exported = client.get(f"/api/v1/personas/{persona['id']}/export").json()
    assert exported["use_memory"] is False


def test_memory_is_bounded_and_says_so(make_server: ServerFactory) -> None:
    server = make_server(memory_max_facts=2, memory_max_chars=120)
    with httpx.Client(base_url=server.url, timeout=30) as client:
        client.post("/api/v1/memory/facts", json={"text": "a" * 50})
        state = client.post("/api/v1/memory/facts", json={"text": "b" * 50}).json()
        assert (state["used_chars"], state["max_chars"], state["max_facts"]) == (100, 120, 2)
        third = client.post("/api/v1/memory/facts", json={"text": "c"})
        assert third.status_code == 422
        assert third.json()["error"]["code"] == "memory_full"
        assert "at most 2 facts" in third.json()["detail"]
        fid = state["facts"][0]["id"]
        longer = client.patch(f"/api/v1/memory/facts/{fid}", json={"text": "a" * 80})
        assert longer.status_code == 422
        assert "120 characters" in longer.json()["detail"]
        for bad in ("", "   ", "x" * 301):
            response = client.post("/api/v1/memory/facts", json={"text": bad})
            assert response.status_code == 422
            assert response.json()["error"]["code"]
