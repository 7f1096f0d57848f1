"""A conversation's own parameters: validated, stored, and sent to the model only where set."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from parlour.personas import BUILTIN_PERSONAS
from tests.conftest import ServerFactory
from tests.live import collect
from tests.upstream import ScriptedUpstream

OPTIONAL = ("top_p", "presence_penalty", "frequency_penalty", "seed")


def new_session(client: httpx.Client) -> str:
    return str(client.post("/api/v1/sessions", json={"persona": "assistant"}).json()["id"])


def send(client: httpx.Client, sid: str, content: str = "hi") -> None:
    events = collect(client, "POST", f"/api/v1/sessions/{sid}/messages", json={"content": content})
    assert events[-1].event == "done"


def settings_url(sid: str) -> str:
    return f"/api/v1/sessions/{sid}/settings"


def test_unset_parameters_are_not_sent_and_the_defaults_are(
    client: httpx.Client, upstream: ScriptedUpstream
) -> None:
    sid = new_session(client)
    shown = client.get(settings_url(sid)).json()
    assert {k: v for k, v in shown.items() if k not in ("defaults", "persona")} == dict.fromkeys(
        ("temperature", "top_p", "max_tokens", "presence_penalty", "frequency_penalty", "seed",
         "system_prompt"), None
    )  # fmt: skip
    assert shown["defaults"]["temperature"] == 0.7
    assert shown["defaults"]["max_tokens"] == 1024
    assert shown["defaults"]["top_p"] is None
    assert set(shown["persona"].values()) == {None}  # a built-in persona sets none
    send(client, sid)
    body = upstream.requests[-1]
    assert (body["temperature"], body["max_tokens"]) == (0.7, 1024)
    for name in OPTIONAL:
        assert name not in body


def test_set_parameters_are_stored_and_sent(
    client: httpx.Client, upstream: ScriptedUpstream
) -> None:
    sid = new_session(client)
    chosen: dict[str, Any] = {
        "temperature": 0.2, "top_p": 0.9, "max_tokens": 200, "presence_penalty": 0.5,
        "frequency_penalty": -0.5, "seed": 42, "system_prompt": "Answer in French.",
    }  # fmt: skip
    changed = client.patch(settings_url(sid), json=chosen)
    assert changed.status_code == 200, changed.text
    assert {k: changed.json()[k] for k in chosen} == chosen
    assert {k: client.get(settings_url(sid)).json()[k] for k in chosen} == chosen
    send(client, sid, "Bonjour?")
    body = upstream.requests[-1]
    sampling = {k: v for k, v in chosen.items() if k != "system_prompt"}
    assert {k: body[k] for k in sampling} == sampling
    persona = next(p for p in BUILTIN_PERSONAS if p.id == "assistant")
    assert body["messages"][0] == {
        "role": "system",
        "content": persona.system_prompt + "\n\nAnswer in French.",
    }
    # One of them unset again (null): it is no longer sent; the others stay.
    client.patch(settings_url(sid), json={"top_p": None, "system_prompt": ""})
    send(client, sid)
    body = upstream.requests[-1]
    assert "top_p" not in body
    assert body["seed"] == 42
    assert body["messages"][0]["content"] == persona.system_prompt
    # Other conversations are not touched.
    other = new_session(client)
    send(client, other)
    assert "seed" not in upstream.requests[-1]


def test_server_defaults_apply_where_the_conversation_sets_nothing(
    make_server: ServerFactory, upstream: ScriptedUpstream
) -> None:
    server = make_server(top_p=0.8, seed=7, temperature=0.3)
    with httpx.Client(base_url=server.url) as client:
        sid = new_session(client)
        assert client.get(settings_url(sid)).json()["defaults"]["top_p"] == 0.8
        send(client, sid)
        body = upstream.requests[-1]
        assert (body["top_p"], body["seed"], body["temperature"]) == (0.8, 7, 0.3)
        assert "presence_penalty" not in body
        client.patch(settings_url(sid), json={"top_p": 0.5, "temperature": 0})
        send(client, sid)
        body = upstream.requests[-1]
        assert (body["top_p"], body["seed"], body["temperature"]) == (0.5, 7, 0)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"temperature": 2.5}, "temperature"),
        ({"temperature": -0.1}, "temperature"),
        ({"top_p": 1.5}, "top_p"),
        ({"max_tokens": 0}, "max_tokens"),
        ({"max_tokens": "100"}, "max_tokens"),
        ({"max_tokens": 10.5}, "max_tokens"),
        ({"presence_penalty": 3}, "presence_penalty"),
        ({"frequency_penalty": -2.5}, "frequency_penalty"),
        ({"seed": -1}, "seed"),
        ({"seed": True}, "seed"),
        ({"system_prompt": "x" * 8001}, "system_prompt"),
        ({"colour": "blue"}, "colour"),
    ],
)
def test_out_of_range_values_are_refused_with_a_reason(
    client: httpx.Client, body: dict[str, Any], field: str
) -> None:
    sid = new_session(client)
    response = client.patch(settings_url(sid), json=body)
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "invalid_input"
    assert field in error["message"]
    # Nothing was stored.
    assert client.get(settings_url(sid)).json()[field if field != "colour" else "seed"] is None


def test_a_system_prompt_with_a_nul_is_refused(client: httpx.Client) -> None:
    sid = new_session(client)
    response = client.patch(settings_url(sid), json={"system_prompt": "a\x00b"})
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "invalid_input"
    assert "system prompt" in response.json()["error"]["message"]


def test_not_a_number_is_refused(client: httpx.Client) -> None:
    sid = new_session(client)
    response = client.patch(
        settings_url(sid),
        content=b'{"temperature": NaN}',
        headers={"content-type": "application/json"},
    )
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "invalid_input"


def test_an_unknown_conversation_has_no_settings(client: httpx.Client) -> None:
    missing = "f" * 32
    assert client.get(settings_url(missing)).status_code == 404
    assert client.patch(settings_url(missing), json={"seed": 1}).status_code == 404
