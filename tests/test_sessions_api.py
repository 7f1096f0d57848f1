"""/api/v1 sessions and messages, over real HTTP with real Redis."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import httpx

from parlour.personas import BUILTIN_PERSONAS
from tests.conftest import ServerFactory
from tests.live import collect


def new_session(client: httpx.Client, **body: object) -> dict[str, object]:
    response = client.post("/api/v1/sessions", json=body)
    assert response.status_code == 201, response.text
    return dict(response.json())


def test_personas_have_zh_and_en_names(client: httpx.Client) -> None:
    body = client.get("/api/v1/personas").json()
    names = {p["id"]: (p["name_zh"], p["name_en"]) for p in body["personas"]}
    assert names == {
        "assistant": ("智能助手", "Assistant"),
        "teacher": ("AI老师", "Teacher"),
        "programmer": ("编程专家", "Programmer"),
    }
    assert body["default"] == "assistant"


def test_models_lists_the_configured_api(client: httpx.Client) -> None:
    body = client.get("/api/v1/models").json()
    assert body["default"] == "scripted-model"
    # The fields of before, unchanged (more stand beside them now).
    before = ("id", "provider", "context_window", "description")
    assert [{k: m[k] for k in before} for m in body["models"]] == [
        {"id": "scripted-model", "provider": "openai", "context_window": 128000,
         "description": "OpenAI-compatible API"}
    ]  # fmt: skip


def test_session_lifecycle(client: httpx.Client) -> None:
    created = new_session(client, persona="teacher", title="Physics")
    sid = created["id"]
    assert len(str(sid)) == 32  # 128 random bits
    assert created["persona"] == "teacher"
    assert created["title"] == "Physics"

    renamed = client.patch(
        f"/api/v1/sessions/{sid}", json={"title": "Optics", "persona": "programmer"}
    )
    assert renamed.status_code == 200
    assert renamed.json()["title"] == "Optics"
    assert renamed.json()["persona"] == "programmer"
    assert client.get(f"/api/v1/sessions/{sid}").json()["title"] == "Optics"

    assert client.delete(f"/api/v1/sessions/{sid}").status_code == 204
    assert client.get(f"/api/v1/sessions/{sid}").status_code == 404
    assert client.get("/api/v1/sessions").json()["total"] == 0


def test_sessions_are_listed_newest_activity_first_and_paginated(client: httpx.Client) -> None:
    ids = [new_session(client)["id"] for _ in range(3)]
    collect(client, "POST", f"/api/v1/sessions/{ids[0]}/messages", json={"content": "bump"})
    page = client.get("/api/v1/sessions", params={"limit": 2}).json()
    assert page["total"] == 3
    assert [s["id"] for s in page["items"]] == [ids[0], ids[2]]
    rest = client.get("/api/v1/sessions", params={"offset": 2, "limit": 2}).json()
    assert [s["id"] for s in rest["items"]] == [ids[1]]


def test_first_message_titles_the_session(client: httpx.Client) -> None:
    sid = new_session(client)["id"]
    collect(client, "POST", f"/api/v1/sessions/{sid}/messages",
            json={"content": "How do   rainbows\nform?"})  # fmt: skip
    assert client.get(f"/api/v1/sessions/{sid}").json()["title"] == "How do rainbows form?"


def test_messages_oldest_first_paginated_and_cleared(client: httpx.Client) -> None:
    sid = new_session(client)["id"]
    for text in ("one", "two", "three"):
        collect(client, "POST", f"/api/v1/sessions/{sid}/messages", json={"content": text})
    page = client.get(f"/api/v1/sessions/{sid}/messages").json()
    assert page["total"] == 6
    contents = [m["content"] for m in page["items"]]
    assert contents == [
        "one", "You said: one", "two", "You said: two", "three", "You said: three"
    ]  # fmt: skip
    assert [m["role"] for m in page["items"]] == ["user", "assistant"] * 3
    assert all(m["status"] == "complete" for m in page["items"])
    second = client.get(f"/api/v1/sessions/{sid}/messages", params={"offset": 2, "limit": 2})
    assert [m["content"] for m in second.json()["items"]] == ["two", "You said: two"]
    assert client.get(f"/api/v1/sessions/{sid}").json()["message_count"] == 6

    assert client.delete(f"/api/v1/sessions/{sid}/messages").status_code == 204
    assert client.get(f"/api/v1/sessions/{sid}/messages").json()["total"] == 0
    assert client.get(f"/api/v1/sessions/{sid}").status_code == 200  # the session stays


def test_persona_switch_per_message_is_remembered(client: httpx.Client, upstream) -> None:  # type: ignore[no-untyped-def]
    sid = new_session(client)["id"]
    collect(client, "POST", f"/api/v1/sessions/{sid}/messages",
            json={"content": "hi", "persona": "programmer"})  # fmt: skip
    programmer = next(p for p in BUILTIN_PERSONAS if p.id == "programmer")
    assert upstream.requests[-1]["messages"][0] == {
        "role": "system", "content": programmer.system_prompt
    }  # fmt: skip
    assert client.get(f"/api/v1/sessions/{sid}").json()["persona"] == "programmer"


def test_openapi_page_documents_the_api(client: httpx.Client) -> None:
    schema = client.get("/openapi.json").json()
    assert "/api/v1/sessions/{session_id}/messages" in schema["paths"]
    assert "SessionOut" in schema["components"]["schemas"]
    streaming = [
        ("post", "/api/v1/sessions/{session_id}/messages"),
        ("post", "/api/v1/sessions/{session_id}/reply/regenerate"),
        ("get", "/api/v1/sessions/{session_id}/reply"),
        ("get", "/chat/stream"),
    ]
    for method, path in streaming:  # the docs say what these answer with
        content = schema["paths"][path][method]["responses"]["200"]["content"]
        assert list(content) == ["text/event-stream"], path
    page = client.get("/docs")
    assert page.status_code == 200
    assert "/vendor/swagger-ui/swagger-ui-bundle.js" in page.text  # served here: works offline
    assert "cdn." not in page.text


def test_a_burst_beyond_the_redis_pool_waits_instead_of_failing(
    make_server: ServerFactory,
) -> None:
    server = make_server(redis_max_connections=4)
    with (
        httpx.Client(
            base_url=server.url, timeout=30, limits=httpx.Limits(max_connections=80)
        ) as client,
        ThreadPoolExecutor(max_workers=80) as pool,
    ):
        codes = list(pool.map(lambda _: client.post("/api/v1/sessions", json={}).status_code,
                              range(80)))  # fmt: skip
        assert codes == [201] * 80
        assert client.get("/api/v1/sessions").json()["total"] == 80
