"""Personas people make: their own, duplicated, published, exported, in the tutorial API."""

from __future__ import annotations

import time

import httpx

from tests.accounts import PASSWORD_MODE, signed_up
from tests.conftest import ServerFactory
from tests.live import collect
from tests.upstream import ScriptedUpstream

TUTOR = {
    "name_en": "Latin tutor",
    "name_zh": "拉丁语老师",
    "description_en": "Drills declensions.",
    "system_prompt": "You teach Latin.",
    "icon": "🏛️",
    "starters": ["Decline rosa", "Conjugate amare"],
}


def create(client: httpx.Client, **body: object) -> dict[str, object]:
    response = client.post("/api/v1/personas", json={**TUTOR, **body})
    assert response.status_code == 201, response.text
    return dict(response.json())


def system_prompt_sent(upstream: ScriptedUpstream) -> str:
    return str(upstream.requests[-1]["messages"][0]["content"])


def test_a_persona_of_your_own_is_made_used_changed_and_deleted(
    client: httpx.Client, upstream: ScriptedUpstream
) -> None:
    tutor = create(client)
    assert tutor["kind"] == "own"
    assert tutor["starters"] == ["Decline rosa", "Conjugate amare"]
    listed = client.get("/api/v1/personas").json()["personas"]
    assert [p["id"] for p in listed][:3] == ["assistant", "teacher", "programmer"]
    assert tutor["id"] in [p["id"] for p in listed]

    sid = client.post("/api/v1/sessions", json={"persona": tutor["id"]}).json()["id"]
    collect(client, "POST", f"/api/v1/sessions/{sid}/messages", json={"content": "Salve"})
    assert system_prompt_sent(upstream) == "You teach Latin."

    changed = client.patch(f"/api/v1/personas/{tutor['id']}",
                           json={"system_prompt": "You teach Latin, gently."})  # fmt: skip
    assert changed.status_code == 200
    collect(client, "POST", f"/api/v1/sessions/{sid}/messages", json={"content": "Vale"})
    assert system_prompt_sent(upstream) == "You teach Latin, gently."

    assert client.delete(f"/api/v1/personas/{tutor['id']}").status_code == 204
    assert client.get(f"/api/v1/personas/{tutor['id']}").status_code == 404
    # Its conversation goes on, with the default persona.
    events = collect(client, "POST", f"/api/v1/sessions/{sid}/messages", json={"content": "?"})
    assert events[-1].event == "done"
    assert "friendly and professional" in system_prompt_sent(upstream)


def test_built_in_personas_are_read_only_and_can_be_duplicated(client: httpx.Client) -> None:
    refused = client.patch("/api/v1/personas/teacher", json={"system_prompt": "Be rude."})
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "persona_read_only"
    assert "Duplicate" in refused.json()["error"]["message"]
    copy = client.post("/api/v1/personas/teacher/duplicate")
    assert copy.status_code == 201
    body = copy.json()
    assert body["kind"] == "own"
    assert body["name_en"] == "Teacher (copy)"
    assert body["name_zh"] == "AI老师（副本）"
    edited = client.patch(f"/api/v1/personas/{body['id']}", json={"system_prompt": "Be brief."})
    assert edited.json()["system_prompt"] == "Be brief."
    assert client.get("/api/v1/personas/teacher").json()["system_prompt"] != "Be brief."


def test_bad_personas_get_clear_errors(client: httpx.Client) -> None:
    for body, words in (
        ({"name_en": "", "name_zh": "", "system_prompt": "x"}, "needs a name"),
        ({"name_en": "A", "system_prompt": "  "}, "needs a system prompt"),
        ({"name_en": "A", "system_prompt": "x", "starters": ["a", "b", "c", "d", "e"]},
         "at most 4 starter prompts"),
        ({"name_en": "A" * 61, "system_prompt": "x"}, "too long"),
        ({"name_en": "A", "system_prompt": "x", "model": "no-such-model"}, "Unknown model"),
    ):  # fmt: skip
        response = client.post("/api/v1/personas", json=body)
        assert response.status_code == 422, body
        assert words in response.json()["error"]["message"]


def test_system_prompt_variables_are_filled_when_sent(
    client: httpx.Client, upstream: ScriptedUpstream
) -> None:
    tutor = create(client, system_prompt=(
        "Date {{date}}, a {{weekday}}, {{ time }}; user '{{user_name}}'; "
        "answer in {{language}}; keep {{unknown}}."))  # fmt: skip
    sid = client.post("/api/v1/sessions", json={"persona": tutor["id"]}).json()["id"]
    collect(client, "POST", f"/api/v1/sessions/{sid}/messages",
            json={"content": "hi", "language": "zh-CN"})  # fmt: skip
    sent = system_prompt_sent(upstream)
    today = time.strftime("%Y-%m-%d", time.gmtime())
    weekday = time.strftime("%A", time.gmtime())
    assert sent.startswith(f"Date {today}, a {weekday}, ")
    assert "UTC; user ''; answer in Chinese; keep {{unknown}}." in sent
    # What is stored is the persona as written.
    assert "{{date}}" in client.get(f"/api/v1/personas/{tutor['id']}").json()["system_prompt"]


def test_export_and_import_give_the_same_persona(client: httpx.Client) -> None:
    tutor = create(client)
    exported = client.get(f"/api/v1/personas/{tutor['id']}/export").json()
    assert exported["format"] == "parlour.persona"
    imported = client.post("/api/v1/personas/import", json=exported)
    assert imported.status_code == 201, imported.text
    fields = ("name_en", "name_zh", "description_en", "system_prompt", "icon", "starters")
    assert {f: imported.json()[f] for f in fields} == {f: tutor[f] for f in fields}
    assert imported.json()["id"] != tutor["id"]
    wrong = client.post("/api/v1/personas/import", json={**exported, "format": "other"})
    assert wrong.status_code == 422


def test_the_tutorial_api_sees_a_users_personas(client: httpx.Client) -> None:
    tutor = create(client)
    roles = client.get("/roles").json()["roles"]  # the single local user's
    assert roles[tutor["id"]]["name"] == "拉丁语老师"
    start = client.post("/chat/start", params={"user_id": "local", "role": tutor["id"]})
    assert start.status_code == 200, start.text
    assert "拉丁语老师" in start.json()["welcome_message"]
    other = client.get("/roles", params={"user_id": "somebody"}).json()["roles"]
    assert tutor["id"] not in other
    refused = client.post("/chat/start", params={"user_id": "somebody", "role": tutor["id"]})
    assert refused.status_code == 422


def test_personas_are_private_and_an_admin_can_publish_one(
    make_server: ServerFactory, upstream: ScriptedUpstream
) -> None:
    server = make_server(**PASSWORD_MODE)
    admin = signed_up(server.url, "ada")  # the first account is the administrator
    bob = signed_up(server.url, "bob")
    secret = create(bob, name_en="Bob's", system_prompt="Bob's secret prompt")
    missing = admin.get("/api/v1/personas/" + "0" * 32)
    theirs = admin.get(f"/api/v1/personas/{secret['id']}")
    assert theirs.status_code == missing.status_code == 404
    assert theirs.json() == missing.json()
    listed = admin.get("/api/v1/personas").text
    assert "Bob's secret prompt" not in listed
    chosen = admin.post("/api/v1/sessions", json={"persona": secret["id"]})
    assert chosen.status_code == 422
    assert secret["id"] in chosen.json()["error"]["message"]
    assert "Bob's secret prompt" not in chosen.text

    shared = create(admin, name_en="House style", system_prompt="Write plainly.")
    assert bob.put(f"/api/v1/personas/{shared['id']}/published").status_code == 403
    published = admin.put(f"/api/v1/personas/{shared['id']}/published")
    assert published.status_code == 200
    seen = {p["id"]: p for p in bob.get("/api/v1/personas").json()["personas"]}
    assert seen[shared["id"]]["kind"] == "published"
    assert bob.patch(f"/api/v1/personas/{shared['id']}", json={"icon": "x"}).status_code == 403
    assert bob.post(f"/api/v1/personas/{shared['id']}/duplicate").status_code == 201
    sid = bob.post("/api/v1/sessions", json={"persona": shared["id"]}).json()["id"]
    collect(bob, "POST", f"/api/v1/sessions/{sid}/messages", json={"content": "hi"})
    assert system_prompt_sent(upstream) == "Write plainly."
    assert admin.delete(f"/api/v1/personas/{shared['id']}/published").status_code == 204
    assert bob.get(f"/api/v1/personas/{shared['id']}").status_code == 404


def test_a_persona_names_the_model_new_conversations_start_on(client: httpx.Client) -> None:
    tutor = create(client, model="scripted-model")
    session = client.post("/api/v1/sessions", json={"persona": tutor["id"]}).json()
    assert session["model"] == "scripted-model"


def test_the_editor_preview_fills_variables_as_sending_would(client: httpx.Client) -> None:
    weekday = time.strftime("%A", time.gmtime())
    response = client.post(
        "/api/v1/personas/preview",
        json={"system_prompt": "{{weekday}} in {{language}}, {{nope}}", "language": "zh-CN"},
    )
    assert response.status_code == 200
    assert response.json()["filled"] == f"{weekday} in Chinese, {{{{nope}}}}"
    assert "user_name" in response.json()["variables"]
    bad = client.post("/api/v1/personas/preview", json={"prompt": "x"})
    assert bad.status_code == 422
    assert bad.json()["error"]["code"]
