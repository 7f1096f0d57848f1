"""llama-cpp-python's own server, with the bundled GGUF, as a second provider beside the
scripted upstream: memory across turns, stop, usage, its context window and its
refusal of a conversation as too long, all through Parlour."""

from __future__ import annotations

import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import ServerFactory
from tests.live import LiveServer, collect, sse, text_of
from tests.llama_server import ALIAS, N_CTX, LlamaServer, start_llama_server
from tests.upstream import ScriptedUpstream
from tests.waiting import wait_until

MODEL = f"llama/{ALIAS}"

pytestmark = pytest.mark.local_model


@pytest.fixture(scope="session")
def llama(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LlamaServer]:
    server = start_llama_server(tmp_path_factory.mktemp("llama"))
    yield server
    server.stop()


@pytest.fixture
def parlour(
    tmp_path: Path, make_server: ServerFactory, llama: LlamaServer, upstream: ScriptedUpstream
) -> Iterator[httpx.Client]:
    """Parlour with two providers: the scripted one (OPENAI_*) and the llama.cpp server."""
    path = tmp_path / "providers.toml"
    path.write_text(textwrap.dedent(f"""
        [[provider]]
        name = "llama"
        base_url = "{llama.url}"
        """), encoding="utf-8")  # fmt: skip
    server: LiveServer = make_server(
        providers_file=path, reply_reserve_tokens=128, max_tokens=24, summaries=False,
        upstream_first_token_timeout=240, upstream_idle_timeout=240,
    )  # fmt: skip
    with httpx.Client(base_url=server.url, timeout=300) as client:
        wait_until(lambda: model_entry(client, MODEL), what="the llama server's models listed")
        yield client


def model_entry(client: httpx.Client, model: str) -> dict[str, Any] | None:
    models = client.get("/api/v1/models").json()["models"]
    return next((m for m in models if m["id"] == model), None)


def conversation(client: httpx.Client, **params: Any) -> str:
    sid = str(client.post("/api/v1/sessions", json={"model": MODEL}).json()["id"])
    # Greedy sampling: the same answer on every run.
    settings = client.patch(f"/api/v1/sessions/{sid}/settings", json={"temperature": 0, **params})
    assert settings.status_code == 200, settings.text
    return sid


def send(client: httpx.Client, sid: str, content: str) -> list[Any]:
    return collect(client, "POST", f"/api/v1/sessions/{sid}/messages", json={"content": content})


def test_it_is_listed_beside_the_scripted_provider_and_remembers_across_turns(
    parlour: httpx.Client,
) -> None:
    body = parlour.get("/api/v1/models").json()
    assert [p["name"] for p in body["providers"]] == ["openai", "llama"]
    entry = model_entry(parlour, MODEL)
    assert entry is not None
    assert (entry["source"], entry["available"]) == ("discovery", True)
    sid = conversation(parlour)
    first = send(parlour, sid, "Remember this: the secret word is pineapple.")
    assert first[-1].event == "done"
    second = send(parlour, sid, "What is the secret word?")
    assert second[-1].event == "done"
    assert "pineapple" in text_of(second).lower()
    # Asked without the first turn, it does not know it: the answer came from the history.
    alone = send(parlour, conversation(parlour), "What is the secret word?")
    assert "pineapple" not in text_of(alone).lower()
    # Usage: recorded for each reply and in the day's totals for this model (the server
    # reports none in a stream, so Parlour counts).
    items = parlour.get(f"/api/v1/sessions/{sid}/messages").json()["items"]
    replies = [m for m in items if m["role"] == "assistant"]
    assert all(m["model"] == MODEL for m in replies)
    assert all(m["prompt_tokens"] > 0 and m["completion_tokens"] > 0 for m in replies)
    assert replies[1]["prompt_tokens"] > replies[0]["prompt_tokens"]  # the history went along
    today = parlour.get("/api/v1/usage").json()["days"][0]["models"]
    row = next(r for r in today if r["model"] == MODEL)
    assert row["replies"] == 3
    assert row["completion_tokens"] >= sum(m["completion_tokens"] for m in replies)


def test_stop_ends_the_generation_on_the_server(parlour: httpx.Client, llama: LlamaServer) -> None:
    sid = conversation(parlour, max_tokens=400)
    runs_before = len(llama.eval_runs())
    deltas = 0
    url = f"/api/v1/sessions/{sid}/messages"
    body = {"content": "Count from 1 to 300, one number per line."}
    with sse(parlour, "POST", url, json=body) as (response, events):
        assert response.status_code == 200
        for event in events:
            if event.event == "delta":
                deltas += 1
                if deltas == 3:
                    stopped = parlour.post(f"/api/v1/sessions/{sid}/reply/stop")
                    assert stopped.status_code == 202
            if event.event in ("done", "failure"):
                assert (event.event, event.json()["finish_reason"]) == ("done", "stopped")
                break
    # The server saw the client go and stopped generating: it answers the next request
    # (it serves one at a time), and the stopped generation never ran to its end.
    wait_until(lambda: "Disconnected from client" in llama.output(), what="the server saw the stop")
    assert send(parlour, sid, "Say OK.")[-1].event == "done"
    runs = wait_until(
        lambda: (r := llama.eval_runs()) and len(r) > runs_before and r, what="its timings"
    )
    assert runs[runs_before:] == [runs[-1]]  # one finished generation: the short one
    assert runs[-1] <= 24
    stored = parlour.get(f"/api/v1/sessions/{sid}/messages").json()["items"]
    assert stored[1]["status"] == "partial"


def test_a_conversation_too_long_for_its_context_is_refused_as_such_and_goes_on(
    parlour: httpx.Client,
) -> None:
    entry = model_entry(parlour, MODEL)
    assert entry is not None
    # Its model list names no window: the conservative default stands until it says one.
    assert (entry["context_window"], entry["context_window_source"]) == (8192, "default")
    sid = conversation(parlour)
    digits = "7 " * 700  # ~350 tokens by Parlour's estimate, ~1400 in the model's tokenizer
    failure = send(parlour, sid, digits)[-1]
    assert failure.event == "failure"
    data = failure.json()
    assert data["code"] == "context_too_long"
    assert f"reads at most {N_CTX} tokens" in data["message"]
    entry = model_entry(parlour, MODEL)
    assert entry is not None
    assert (entry["context_window"], entry["context_window_source"]) == (N_CTX, "server")
    # The conversation is still usable: the next turn leaves the long one out.
    events = send(parlour, sid, "Say hello.")
    assert events[-1].event == "done"
    assert text_of(events).strip()
