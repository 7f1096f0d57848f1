"""User B, holding user A's ids, gets exactly what an unknown id gets: 404, nothing leaked.

The matrix is built from the app's OpenAPI document, so a new route that takes an id
is covered the day it is added; one whose id this test does not know fails it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from parlour.config import Settings
from parlour.web.app import create_app
from tests.accounts import PASSWORD_MODE, signed_up
from tests.conftest import ServerFactory
from tests.fixtures.chatgpt import Conversation, conversations_json
from tests.importing import imported
from tests.live import collect, sse
from tests.upstream import Reply, ScriptedUpstream
from tests.waiting import wait_until

# Routes whose ids anyone may use: none yet. A route added here says why it is public.
PUBLIC: dict[tuple[str, str], str] = {}
MISSING = "f" * 32
METHODS = ("get", "post", "put", "patch", "delete")
NO_LIMITS = {f"rate_{name}": "10000/minute" for name in
             ("messages", "messages_ip", "writes", "writes_ip")}  # fmt: skip


@dataclass(frozen=True)
class Call:
    method: str
    url: str
    params: dict[str, str]
    body: object

    def send(self, client: httpx.Client) -> httpx.Response:
        body = {} if self.body is None else {"json": self.body}
        return client.request(self.method, self.url, params=self.params, **body)  # type: ignore[arg-type]


def _example(schema: dict[str, Any], spec: dict[str, Any], ids: dict[str, str]) -> object:
    """A smallest valid value for ``schema``: required fields only (ids from ``ids``)."""
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        return _example(spec["components"]["schemas"][name], spec, ids)
    for key in ("anyOf", "oneOf", "allOf"):
        if key in schema:
            return _example(next(s for s in schema[key] if s.get("type") != "null"), spec, ids)
    if "enum" in schema:
        return schema["enum"][0]
    kind = schema.get("type", "string")
    if kind == "object":
        # A body's id is Alice's (a message's, unless this test knows the name).
        return {
            field: ids.get(field)
            or (ids["message_id"] if field.endswith("_id") else None)
            or _example(schema["properties"][field], spec, ids)
            for field in schema.get("required", [])
        }
    return {"integer": 1, "number": 1, "boolean": False, "array": []}.get(kind, "hi")


def _id_params(op: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        p for p in op.get("parameters", [])
        if p["in"] in ("path", "query") and p["name"].endswith("_id")
        and not (p["in"] == "query" and p["name"] == "user_id")  # the tutorial's caller, not an id
    ]  # fmt: skip


def routes_with_ids(spec: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    """Every operation of the API that takes an id, from its OpenAPI document."""
    found = []
    for path, item in spec["paths"].items():
        for method, op in item.items():
            public = (method.upper(), path) in PUBLIC
            if method in METHODS and not public and _id_params(op):
                found.append((method.upper(), path, op))
    return found


def calls(
    spec: dict[str, Any], method: str, path: str, op: dict[str, Any], ids: dict[str, str],
    caller: str,
) -> list[Call]:  # fmt: skip
    """The route called with ``ids``: without and with its optional id parameters."""
    params: dict[str, str] = {}
    for p in op.get("parameters", []):
        if p["in"] == "query" and p.get("required") and p not in _id_params(op):
            params[p["name"]] = (
                caller if p["name"] == "user_id" else str(_example(p["schema"], spec, ids))
            )
    body = None
    content = op.get("requestBody", {}).get("content", {}).get("application/json")
    if content is not None:
        body = _example(content["schema"], spec, ids)
    url = path
    required = dict(params)
    optional: dict[str, str] = {}
    for p in _id_params(op):
        value = ids[p["name"]]
        if p["in"] == "path":
            url = url.replace("{" + p["name"] + "}", value)
        elif p.get("required"):
            required[p["name"]] = value
        else:
            optional[p["name"]] = value
    variants = [Call(method, url, required, body)]
    if optional:
        variants.append(Call(method, url, {**required, **optional}, body))
    return variants


def test_isolation_matrix(make_server: ServerFactory, upstream: ScriptedUpstream) -> None:
    """Every route with an id, from the OpenAPI document: Bob with Alice's ids gets what
    an unknown id gets (a 404; a 403 on routes for administrators), and nothing of
    Alice's changes or leaks."""
    server = make_server(**PASSWORD_MODE, **NO_LIMITS)
    spec = server.app.openapi()
    alice = signed_up(server.url, "alice")  # the first account: an administrator
    bob = signed_up(server.url, "bob")
    sid = alice.post("/api/v1/sessions", json={"title": "alice's secret plans"}).json()["id"]
    done = collect(alice, "POST", f"/api/v1/sessions/{sid}/messages",
                   json={"content": "my bank pin is 1234"})  # fmt: skip
    finished_reply = done[0].json()["reply_id"]
    first_message = alice.get(f"/api/v1/sessions/{sid}/messages").json()["items"][0]["id"]
    token = alice.post("/api/v1/auth/tokens", json={"name": "laptop"}).json()
    persona = alice.post("/api/v1/personas", json={
        "name_en": "secret agent", "name_zh": "secret", "system_prompt": "my bank pin is 1234"
    })  # fmt: skip
    assert persona.status_code == 201, persona.text
    alice_id = alice.get("/api/v1/auth/me").json()["id"]
    secret = Conversation("alice's secret import")
    secret.turn("my bank pin is 1234", "noted")
    alice_import = imported(alice, conversations_json([secret.export()]), "c.json")["id"]
    fact = alice.post("/api/v1/memory/facts", json={"text": "my secret pin is 1234"})
    assert fact.status_code == 201, fact.text
    fact_id = fact.json()["facts"][0]["id"]
    folder = alice.post("/api/v1/folders", json={"name": "secret folder"}).json()
    alice.put(f"/api/v1/sessions/{sid}/folder", json={"folder_id": folder["id"]})
    share = alice.post(f"/api/v1/sessions/{sid}/shares", json={}).json()
    bobs_sid = bob.post("/api/v1/sessions", json={}).json()["id"]
    routes = routes_with_ids(spec)
    paths = {path for _m, path, _op in routes}
    assert {"/api/v1/sessions/{session_id}", "/api/v1/auth/tokens/{token_id}"} <= paths

    upstream.enqueue(Reply([f"w{i} " for i in range(50)], delay=0.05))
    with sse(alice, "POST", f"/api/v1/sessions/{sid}/messages", json={"content": "more"}) as (
        _r,
        events,
    ):
        running = next(events).json()["reply_id"]
        for reply in (running, finished_reply):
            alices = {"session_id": sid, "reply_id": reply, "message_id": first_message,
                      "token_id": token["id"], "user_id": alice_id,
                      "persona_id": persona.json()["id"], "import_id": alice_import,
                      "fact_id": fact_id, "folder_id": folder["id"],
                      "share_id": share["id"]}  # fmt: skip
            unknown = dict.fromkeys(alices, MISSING)
            # Ids that go with a conversation are also tried in Bob's own conversation.
            mixed = {**alices, "session_id": bobs_sid}
            mixed_unknown = {**unknown, "session_id": bobs_sid}
            for method, path, op in routes:
                names = {p["name"] for p in _id_params(op)}
                if missing := names - alices.keys():
                    pytest.fail(f"{method} {path}: which of Alice's ids is {sorted(missing)}? "
                                "Add it to the ids this test tries.")  # fmt: skip
                pairs = [(alices, unknown)]
                if "session_id" in names and len(names) > 1:
                    pairs.append((mixed, mixed_unknown))
                for theirs_ids, unknown_ids in pairs:
                    theirs_calls = calls(spec, method, path, op, theirs_ids, "bob")
                    unknown_calls = calls(spec, method, path, op, unknown_ids, "bob")
                    for call, control in zip(theirs_calls, unknown_calls, strict=True):
                        theirs, missing_one = call.send(bob), control.send(bob)
                        where = (method, call.url, call.params)
                        # 404 as for a missing id; 403 where only an administrator may
                        # call (whatever the id); the same answer either way.
                        expected = {403, 404}
                        if method == "GET":
                            expected.add(204)  # nothing to follow, as for an unknown reply
                        assert theirs.status_code in expected, (*where, theirs.text)
                        assert theirs.status_code == missing_one.status_code, where
                        assert theirs.content == missing_one.content, where
                        assert "secret" not in theirs.text
                        assert "1234" not in theirs.text
        rest = list(events)

    assert rest[-1].event == "done"  # Bob's stop attempts did nothing
    assert rest[-1].json()["finish_reason"] == "stop"
    assert bob.get("/api/v1/sessions").json()["total"] == 1  # his own, nothing of Alice's
    # Search: Alice finds her words (once indexed); Bob, searching for them, finds nothing.
    wait_until(lambda: alice.get("/api/v1/search", params={"q": "bank pin"}).json()["items"],
               what="Alice's message indexed")  # fmt: skip
    # With every filter too: each one finds Alice's message for her, nothing for Bob.
    hers = alice.get("/api/v1/search", params={"q": "bank pin"}).json()["items"][0]
    filters: list[dict[str, Any]] = [
        {}, {"persona": hers["persona"]}, {"model": hers["model"]}, {"from": 0},
        {"to": hers["timestamp"] + 1}, {"pinned": "false"}, {"archived": "false"},
        {"persona": hers["persona"], "model": hers["model"], "from": 0, "archived": "false"},
    ]  # fmt: skip
    for params in filters:
        mine = alice.get("/api/v1/search", params={"q": "bank pin", **params})
        assert mine.json()["items"], params
        for q in ("bank pin", "1234", "secret", "my"):
            found = bob.get("/api/v1/search", params={"q": q, **params})
            assert found.status_code == 200
            assert found.json()["items"] == [], (q, params)
    assert bob.get("/chat/sessions", params={"user_id": "bob"}).json()["total"] == 1
    assert alice.get("/api/v1/sessions").json()["total"] == 2  # hers and her import
    mine = alice.get(f"/api/v1/sessions/{sid}").json()
    assert mine["title"] == "alice's secret plans"
    assert (mine["folder_id"], mine["pinned"], mine["archived"]) == (folder["id"], False, False)
    assert alice.get("/api/v1/folders").json()["folders"][0]["name"] == "secret folder"
    assert httpx.get(server.url + "/api/v1/shared/" + share["path"][3:]).status_code == 200
    assert alice.get(f"/api/v1/sessions/{sid}/messages").json()["total"] == 4
    assert alice.get("/api/v1/auth/me").json()["disabled"] is False
    with httpx.Client(base_url=server.url) as by_token:
        me = by_token.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {token['token']}"})
    assert me.status_code == 200  # her token was not revoked
    kept = alice.get(f"/api/v1/personas/{persona.json()['id']}")
    assert kept.json()["name_en"] == "secret agent"  # her persona was not changed
    facts = alice.get("/api/v1/memory").json()["facts"]
    assert [f["text"] for f in facts] == ["my secret pin is 1234"]  # nor her memory


def test_export_is_the_owners_and_bounded(make_server: ServerFactory) -> None:
    server = make_server(**PASSWORD_MODE, export_max_messages=3)
    alice = signed_up(server.url, "alice")
    sid = alice.post("/api/v1/sessions", json={"title": "Notes"}).json()["id"]
    collect(alice, "POST", f"/api/v1/sessions/{sid}/messages", json={"content": "one"})
    exported = alice.get(f"/api/v1/sessions/{sid}/export", params={"format": "markdown"})
    assert exported.status_code == 200
    assert exported.text.startswith("# Notes")
    assert "You said: one" in exported.text
    assert "attachment" in exported.headers["content-disposition"]
    as_json = alice.get(f"/api/v1/sessions/{sid}/export").json()
    assert [m["content"] for m in as_json["items"]] == ["one", "You said: one"]
    collect(alice, "POST", f"/api/v1/sessions/{sid}/messages", json={"content": "two"})
    too_big = alice.get(f"/api/v1/sessions/{sid}/export")
    assert too_big.status_code == 413
    assert "at most 3" in too_big.json()["detail"]
    assert httpx.get(f"{server.url}/api/v1/sessions/{sid}/export").status_code == 401


def test_the_matrix_takes_in_a_new_route_by_itself(tmp_path: Path) -> None:
    app = create_app(Settings(_env_file=None, data_dir=tmp_path))  # type: ignore[call-arg]

    @app.get("/api/v1/sessions/{session_id}/messages/{message_id}")
    async def one_message(session_id: str, message_id: str) -> dict[str, str]:
        return {}

    covered = {(m, p) for m, p, _op in routes_with_ids(app.openapi())}
    assert ("GET", "/api/v1/sessions/{session_id}/messages/{message_id}") in covered
    assert ("GET", "/api/v1/personas") not in covered  # no id: nothing to take
