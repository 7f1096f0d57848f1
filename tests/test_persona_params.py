"""A persona's own sampling parameters: checked as a conversation's are, kept with the
persona, and sent between the server's defaults and the conversation's own settings."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from pydantic import ValidationError
from redis import Redis

from tests.accounts import PASSWORD_MODE, signed_up
from tests.conftest import ServerFactory, make_settings
from tests.live import collect
from tests.upstream import ScriptedUpstream

CAREFUL = {
    "name_en": "Careful",
    "system_prompt": "You answer carefully.",
    "params": {"temperature": 0.2, "top_p": 0.5},
}
EVERY = {"temperature": 0.4, "top_p": 0.6, "max_tokens": 300, "presence_penalty": 0.3,
         "frequency_penalty": -0.4, "seed": 11}  # fmt: skip
SAMPLING = tuple(EVERY)


def create(client: httpx.Client, **body: Any) -> dict[str, Any]:
    response = client.post("/api/v1/personas", json={**CAREFUL, **body})
    assert response.status_code == 201, response.text
    return dict(response.json())


def chat_with(client: httpx.Client, persona: str) -> str:
    response = client.post("/api/v1/sessions", json={"persona": persona})
    return str(response.json()["id"])


def sent(client: httpx.Client, upstream: ScriptedUpstream, sid: str) -> dict[str, Any]:
    """What the model received for one message in the conversation."""
    events = collect(client, "POST", f"/api/v1/sessions/{sid}/messages", json={"content": "hi"})
    assert events[-1].event == "done", events[-1].data
    return dict(upstream.requests[-1])


def settings(client: httpx.Client, sid: str, **changes: Any) -> dict[str, Any]:
    url = f"/api/v1/sessions/{sid}/settings"
    response = client.patch(url, json=changes) if changes else client.get(url)
    assert response.status_code == 200, response.text
    return dict(response.json())


def test_every_parameter_of_a_persona_reaches_the_model(
    client: httpx.Client, upstream: ScriptedUpstream
) -> None:
    persona = create(client, params=EVERY)
    assert persona["params"] == EVERY
    assert client.get(f"/api/v1/personas/{persona['id']}").json()["params"] == EVERY
    body = sent(client, upstream, chat_with(client, persona["id"]))
    assert {k: body[k] for k in SAMPLING} == EVERY
    # Another persona's conversation is not touched.
    plain = sent(client, upstream, chat_with(client, "assistant"))
    assert (plain["temperature"], plain["max_tokens"]) == (0.7, 1024)
    assert "seed" not in plain
    assert "top_p" not in plain


def test_server_defaults_then_the_persona_then_the_conversation(
    make_server: ServerFactory, upstream: ScriptedUpstream
) -> None:
    server = make_server(temperature=0.3, top_p=0.8, seed=7)
    with httpx.Client(base_url=server.url, timeout=30) as client:
        persona = create(client)  # temperature 0.2 and top_p 0.5; nothing else
        sid = chat_with(client, persona["id"])
        body = sent(client, upstream, sid)
        assert (body["temperature"], body["top_p"]) == (0.2, 0.5)  # the persona's
        assert (body["seed"], body["max_tokens"]) == (7, 1024)  # the server's
        assert "presence_penalty" not in body  # set nowhere: not sent

        # The panel says where each value comes from.
        shown = settings(client, sid)
        assert (shown["persona"]["temperature"], shown["persona"]["seed"]) == (0.2, None)
        assert (shown["defaults"]["top_p"], shown["temperature"]) == (0.8, None)

        # The conversation's own setting wins; its other fields still fall through.
        assert settings(client, sid, top_p=0.9, seed=1)["persona"]["top_p"] == 0.5
        body = sent(client, upstream, sid)
        assert (body["temperature"], body["top_p"], body["seed"]) == (0.2, 0.9, 1)

        # The persona's parameters apply at send time: a change reaches its conversations.
        changed = client.patch(f"/api/v1/personas/{persona['id']}",
                               json={"params": {"temperature": 1.5, "max_tokens": 64}})  # fmt: skip
        assert changed.status_code == 200, changed.text
        assert changed.json()["params"]["top_p"] == 0.5  # fields not given stay
        body = sent(client, upstream, sid)
        assert (body["temperature"], body["max_tokens"], body["top_p"]) == (1.5, 64, 0.9)

        # Unset again (null) on both layers: the server's defaults are back.
        client.patch(f"/api/v1/personas/{persona['id']}", json={"params": {"temperature": None}})
        settings(client, sid, top_p=None)
        body = sent(client, upstream, sid)
        assert (body["temperature"], body["top_p"], body["max_tokens"]) == (0.3, 0.5, 64)


BAD = [
    ({"temperature": 2.5}, "temperature"),
    ({"temperature": -0.1}, "temperature"),
    ({"top_p": 1.5}, "top_p"),
    ({"max_tokens": 0}, "max_tokens"),
    ({"max_tokens": 131_073}, "max_tokens"),
    ({"max_tokens": "100"}, "max_tokens"),
    ({"max_tokens": 10.5}, "max_tokens"),
    ({"presence_penalty": 3}, "presence_penalty"),
    ({"frequency_penalty": -2.5}, "frequency_penalty"),
    ({"seed": -1}, "seed"),
    ({"seed": True}, "seed"),
    ({"colour": "blue"}, "colour"),
    ({"system_prompt": "Be rude."}, "system_prompt"),  # a persona has its own
]


@pytest.mark.parametrize(("params", "field"), BAD)
def test_a_bad_parameter_is_refused_naming_the_field(
    client: httpx.Client, params: dict[str, Any], field: str
) -> None:
    before = len(client.get("/api/v1/personas").json()["personas"])
    refused = client.post("/api/v1/personas", json={**CAREFUL, "params": params})
    assert refused.status_code == 422
    error = refused.json()["error"]
    assert error["code"] == "invalid_input"
    assert f"params.{field}" in error["message"]
    assert len(client.get("/api/v1/personas").json()["personas"]) == before

    # The same on a change, and on an import: nothing is stored.
    persona = create(client)
    changed = client.patch(f"/api/v1/personas/{persona['id']}", json={"params": params})
    assert changed.status_code == 422
    assert f"params.{field}" in changed.json()["error"]["message"]
    assert client.get(f"/api/v1/personas/{persona['id']}").json()["params"]["temperature"] == 0.2
    exported = client.get(f"/api/v1/personas/{persona['id']}/export").json()
    imported = client.post("/api/v1/personas/import", json={**exported, "params": params})
    assert imported.status_code == 422
    assert f"params.{field}" in imported.json()["error"]["message"]


def test_the_ranges_are_the_chat_settings_own(client: httpx.Client) -> None:
    """A persona and a conversation accept and refuse the same values."""
    persona = create(client)
    sid = chat_with(client, persona["id"])
    url = f"/api/v1/sessions/{sid}/settings"
    for params, _field in BAD[:-1]:
        assert client.patch(url, json=params).status_code == 422
    for edge in ({"temperature": 2}, {"top_p": 0}, {"max_tokens": 131_072}, {"seed": 2**53 - 1},
                 {"presence_penalty": -2}):  # fmt: skip
        assert client.patch(url, json=edge).status_code == 200
        changed = client.patch(f"/api/v1/personas/{persona['id']}", json={"params": edge})
        assert changed.status_code == 200, changed.text


def test_not_a_number_is_refused(client: httpx.Client) -> None:
    response = client.post(
        "/api/v1/personas",
        content=b'{"name_en": "A", "system_prompt": "x", "params": {"temperature": NaN}}',
        headers={"content-type": "application/json"},
    )
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "invalid_input"


def test_export_import_and_duplicate_keep_the_parameters(
    client: httpx.Client, upstream: ScriptedUpstream
) -> None:
    persona = create(client, params={"temperature": 0.2, "seed": 5})
    exported = client.get(f"/api/v1/personas/{persona['id']}/export").json()
    assert exported["params"] == {"temperature": 0.2, "seed": 5}
    imported = client.post("/api/v1/personas/import", json=exported)
    assert imported.status_code == 201, imported.text
    assert imported.json()["params"] == persona["params"]
    body = sent(client, upstream, chat_with(client, imported.json()["id"]))
    assert (body["temperature"], body["seed"]) == (0.2, 5)

    copy = client.post(f"/api/v1/personas/{persona['id']}/duplicate").json()
    assert copy["params"] == persona["params"]
    # The copy is its own: changing it leaves the original alone.
    client.patch(f"/api/v1/personas/{copy['id']}", json={"params": {"seed": 6}})
    assert client.get(f"/api/v1/personas/{persona['id']}").json()["params"]["seed"] == 5

    # A file exported before personas had parameters still imports, with none set.
    del exported["params"]
    older = client.post("/api/v1/personas/import", json=exported)
    assert older.status_code == 201, older.text
    assert set(older.json()["params"].values()) == {None}


def test_a_persona_stored_before_parameters_existed_loads_and_keeps_its_fields(
    client: httpx.Client, redis: Redis, upstream: ScriptedUpstream
) -> None:
    persona = create(client, starters=["Begin"], use_memory=False, icon="🧪")
    (key,) = redis.keys("*personas*")
    stored = orjson.loads(redis.hget(key, persona["id"]))  # type: ignore[arg-type]
    del stored["params"]  # as the release before this one wrote it
    redis.hset(key, persona["id"], orjson.dumps(stored))

    loaded = client.get(f"/api/v1/personas/{persona['id']}").json()
    assert set(loaded["params"].values()) == {None}
    assert {k: v for k, v in loaded.items() if k != "params"} == {
        k: v for k, v in persona.items() if k != "params"
    }
    body = sent(client, upstream, chat_with(client, persona["id"]))
    assert body["temperature"] == 0.7  # the server's default
    # Changing it keeps everything else it had.
    changed = client.patch(f"/api/v1/personas/{persona['id']}", json={"params": {"seed": 3}})
    assert changed.status_code == 200, changed.text
    after = changed.json()
    assert (after["starters"], after["use_memory"], after["icon"]) == (["Begin"], False, "🧪")
    assert after["params"]["seed"] == 3


def test_a_published_personas_parameters_apply_to_everyone(
    make_server: ServerFactory, upstream: ScriptedUpstream
) -> None:
    server = make_server(**PASSWORD_MODE)
    admin = signed_up(server.url, "ada")  # the first account is the administrator
    bob = signed_up(server.url, "bob")
    shared = create(admin, name_en="House style", params={"temperature": 0.1, "seed": 9})
    assert admin.put(f"/api/v1/personas/{shared['id']}/published").status_code == 200
    seen = {p["id"]: p for p in bob.get("/api/v1/personas").json()["personas"]}
    assert seen[shared["id"]]["params"]["temperature"] == 0.1
    refused = bob.patch(f"/api/v1/personas/{shared['id']}", json={"params": {"seed": 1}})
    assert refused.status_code == 403
    body = sent(bob, upstream, chat_with(bob, shared["id"]))
    assert (body["temperature"], body["seed"]) == (0.1, 9)


def test_the_tutorial_api_uses_the_personas_parameters(
    client: httpx.Client, upstream: ScriptedUpstream
) -> None:
    persona = create(client, params={"temperature": 0.25, "max_tokens": 99})
    start = client.post("/chat/start", params={"user_id": "local", "role": persona["id"]})
    assert start.status_code == 200, start.text
    events = collect(client, "GET", "/chat/stream", params={
        "user_id": "local", "session_id": start.json()["session_id"], "message": "salve",
    })  # fmt: skip
    assert events[-1].json() == {"type": "end"}
    body = upstream.requests[-1]
    assert (body["temperature"], body["max_tokens"]) == (0.25, 99)


def test_the_servers_defaults_have_the_same_ranges(tmp_path: Path) -> None:
    for bad in ({"temperature": 2.5}, {"max_tokens": 131_073}, {"top_p": -0.1}, {"seed": -1},
                {"presence_penalty": 2.5}):  # fmt: skip
        with pytest.raises(ValidationError, match=next(iter(bad))):
            make_settings(tmp_path, **bad)
    assert make_settings(tmp_path, max_tokens=131_072, seed=2**53 - 1).max_tokens == 131_072
