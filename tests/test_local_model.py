"""The bundled local model (SmolLM2-135M-Instruct through llama-cpp-python), for real."""

from __future__ import annotations

import json
import logging
import signal
import threading
from pathlib import Path

import httpx
import pytest
from redis import Redis

from parlour.providers.local import bundled_model_path, runtime_available
from tests.conftest import ServerFactory
from tests.live import LiveServer, collect, seq, sse, text_of
from tests.processes import ServerProcess, stored_last

pytestmark = [
    pytest.mark.local_model,
    pytest.mark.skipif(
        not runtime_available() or bundled_model_path() is None,
        reason="the local model extra is not installed",
    ),
]

LOCAL = {
    "openai_base_url": None,
    "openai_api_key": None,
    "local_enabled": True,
    "temperature": 0.0,
    "max_tokens": 40,
    "local_context_window": 2048,
    "reply_reserve_tokens": 256,
}


@pytest.fixture
def local_server(make_server: ServerFactory) -> LiveServer:
    return make_server(**LOCAL)


def new_session(client: httpx.Client) -> str:
    return str(client.post("/api/v1/sessions", json={}).json()["id"])


def test_answers_with_no_openai_settings_at_all(local_server: LiveServer) -> None:
    with httpx.Client(base_url=local_server.url, timeout=60) as client:
        models = client.get("/api/v1/models").json()
        assert models["default"] == "SmolLM2-135M-Instruct.Q4_1"
        assert models["models"][0]["provider"] == "local"
        assert models["models"][0]["context_window"] == 2048
        sid = new_session(client)
        events = collect(client, "POST", f"/api/v1/sessions/{sid}/messages",
                         json={"content": "Say hello."})  # fmt: skip
    assert events[-1].event == "done"
    assert len([e for e in events if e.event == "delta"]) > 1  # streamed, token by token
    assert text_of(events).strip()


def test_the_second_prompt_contains_the_first_turn(
    local_server: LiveServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="parlour.providers.local")
    with httpx.Client(base_url=local_server.url, timeout=60) as client:
        sid = new_session(client)
        first = collect(client, "POST", f"/api/v1/sessions/{sid}/messages",
                        json={"content": "My name is Zorblax."})  # fmt: skip
        collect(client, "POST", f"/api/v1/sessions/{sid}/messages",
                json={"content": "What is my name?"})  # fmt: skip
    prompts = [
        json.loads(r.getMessage().removeprefix("local prompt: "))
        for r in caplog.records
        if r.getMessage().startswith("local prompt: ")
    ]
    assert len(prompts) == 2
    assert [(m["role"], m["content"]) for m in prompts[1][1:]] == [
        ("user", "My name is Zorblax."),
        ("assistant", text_of(first)),
        ("user", "What is my name?"),
    ]
    assert prompts[1][0]["role"] == "system"


def test_two_sessions_generating_at_once_both_complete(local_server: LiveServer) -> None:
    results: dict[str, list] = {}  # type: ignore[type-arg]

    def chat(name: str, prompt: str) -> None:
        with httpx.Client(base_url=local_server.url, timeout=120) as client:
            sid = new_session(client)
            events = collect(client, "POST", f"/api/v1/sessions/{sid}/messages",
                             json={"content": prompt})  # fmt: skip
            stored = client.get(f"/api/v1/sessions/{sid}/messages").json()["items"]
            results[name] = [events, stored]

    threads = [
        threading.Thread(target=chat, args=("a", "Name three colours.")),
        threading.Thread(target=chat, args=("b", "Write one sentence about the sea.")),
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    for name, prompt in (("a", "Name three colours."), ("b", "Write one sentence about the sea.")):
        events, stored = results[name]
        assert events[-1].event == "done"
        assert stored[0]["content"] == prompt
        assert stored[1]["content"] == text_of(events)
        assert stored[1]["status"] == "complete"
    assert text_of(results["a"][0]) != text_of(results["b"][0])


def test_a_stopped_reply_stops_generating_promptly_and_is_partial(
    make_server: ServerFactory,
) -> None:
    server = make_server(**{**LOCAL, "max_tokens": 400})
    with httpx.Client(base_url=server.url, timeout=60) as client:
        sid = new_session(client)
        deltas_after_stop = 0
        stop_at = None
        story = {"content": "Write a long story about a dragon."}
        with sse(client, "POST", f"/api/v1/sessions/{sid}/messages", json=story) as (_r, events):
            for event in events:
                if event.event == "delta":
                    if stop_at is None and seq(event) == 4:
                        assert client.post(f"/api/v1/sessions/{sid}/reply/stop").status_code == 202
                        stop_at = event.id
                    elif stop_at is not None:
                        deltas_after_stop += 1
                if event.event in ("done", "failure"):
                    final = event
                    break
        stored = client.get(f"/api/v1/sessions/{sid}/messages").json()["items"][-1]
    assert final.event == "done"
    assert final.json()["finish_reason"] == "stopped"
    assert stop_at is not None
    assert deltas_after_stop <= 2  # within a token or so of the stop
    assert stored["status"] == "partial"
    assert 0 < len(stored["content"]) < 200


# About 1,300 tokens: evaluating them takes the bundled model seconds on a small CPU.
LONG_PROMPT = " ".join(f"Line {i}: the sea is wide and the sky is grey." for i in range(90))


def test_stop_during_a_long_prompt_evaluation_ends_it_and_frees_the_session(
    local_server: LiveServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="parlour.providers.local")
    with httpx.Client(base_url=local_server.url, timeout=120) as client:
        sid = new_session(client)
        url = f"/api/v1/sessions/{sid}/messages"
        with sse(client, "POST", url, json={"content": LONG_PROMPT}) as (_r, events):
            assert next(events).event == "start"  # the prompt is being evaluated now
            assert client.post(f"/api/v1/sessions/{sid}/reply/stop").status_code == 202
            final = next(e for e in events if e.event in ("done", "failure"))
        assert (final.event, final.json()["finish_reason"]) == ("done", "stopped")
        # The evaluation was cut short, not waited out...
        assert "local generation stopped during prompt evaluation" in caplog.text
        stored = client.get(f"/api/v1/sessions/{sid}/messages").json()["items"][-1]
        assert (stored["status"], stored["content"]) == ("partial", "")
        # ...and the conversation takes the next message at once, the model still sound.
        again = collect(client, "POST", url, json={"content": "Say hello."})
    assert again[-1].event == "done"
    assert text_of(again).strip()


@pytest.mark.timeout(300)
def test_shutting_down_during_a_prompt_evaluation_exits_cleanly(
    tmp_path: Path, redis: Redis, redis_url: str
) -> None:
    env = {"REDIS_URL": redis_url, "LOCAL_ENABLED": "true", "LOCAL_CONTEXT_WINDOW": "2048",
           "REPLY_RESERVE_TOKENS": "256", "SHUTDOWN_GRACE_SECONDS": "2"}  # fmt: skip
    server = ServerProcess(env, tmp_path).wait_ready(timeout=120)
    try:
        with httpx.Client(base_url=server.url, timeout=120) as client:
            sid = new_session(client)
            url = f"/api/v1/sessions/{sid}/messages"
            with sse(client, "POST", url, json={"content": LONG_PROMPT}) as (_r, events):
                assert next(events).event == "start"
                server.proc.send_signal(signal.SIGTERM)
                final = next(e for e in events if e.event in ("done", "failure"))
        code = server.proc.wait(timeout=120)
    finally:
        server.stop()
    assert code == 0, server.output()  # no segfault, no abort
    assert final.json()["code"] == "reply_interrupted"
    stored = stored_last(redis, sid)
    assert (stored["status"], stored["error"]) == ("error", "reply_interrupted")
