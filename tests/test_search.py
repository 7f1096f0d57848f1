"""Search over real HTTP with real Redis: words, prefixes, Chinese, code, every branch."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import httpx
from redis import Redis
from redis.cluster import RedisCluster

from parlour.cluster import open_cluster, parse_cluster_url
from parlour.domain import Message, new_id, now
from parlour.store import ConversationStore, Keys
from tests.accounts import PASSWORD_MODE, signed_up
from tests.aio import run_async
from tests.conftest import ServerFactory
from tests.test_branches import branch, new_session, say


def search(client: httpx.Client, q: str, **params: Any) -> dict[str, Any]:
    response = client.get("/api/v1/search", params={"q": q, **params})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def marked(item: dict[str, Any]) -> list[str]:
    units = item["snippet"]["text"].encode("utf-16-le")
    return [units[s * 2 : e * 2].decode("utf-16-le") for s, e in item["snippet"]["marks"]]


def eventually(check: Callable[[], Any], tries: int = 400) -> Any:
    """Poll ``check`` until it returns something truthy (indexing runs in the background)."""
    for _ in range(tries):
        result = check()
        if result:
            return result
        time.sleep(0.05)
    raise AssertionError("condition never held")


def found(client: httpx.Client, q: str, **params: Any) -> list[dict[str, Any]]:
    return list(search(client, q, **params)["items"])


def test_chinese_english_prefix_case_and_code(client: httpx.Client) -> None:
    sid = new_session(client)
    say(client, sid, "我最近在学习机器学习的基础知识")
    say(client, sid, "Tell me about PostgreSQL indexes")
    say(client, sid, "Why does parse_json_file call getUserName() twice?")

    chinese = eventually(lambda: found(client, "机器学习"))
    # The user's message and the reply that echoed it; newest first.
    assert [i["role"] for i in chinese] == ["assistant", "user"]
    assert all(marked(i) == ["机器学习"] for i in chinese)
    assert chinese[1]["session_id"] == sid
    assert chinese[1]["on_active_branch"]
    assert [marked(i) for i in found(client, "学")][-1] == ["学", "学"]
    assert found(client, "学机器") == []  # substring, not characters anywhere

    for q in ("postgre", "POSTGRESQL", "PostgreSQL index"):
        assert {tuple(marked(i)) for i in found(client, q)} <= {
            ("PostgreSQL",),
            ("PostgreSQL", "indexes"),
        }, q
        assert len(found(client, q)) == 2, q
    assert found(client, "greSQL") == []  # words match from their start

    for q, word in (("parse_json", "parse_json_file"), ("json_file", "json_file"),
                    ("username", "UserName"), ("getuser", "getUserName")):  # fmt: skip
        hits = found(client, q)
        assert len(hits) == 2, q
        assert marked(hits[1]) == [word], q

    item = found(client, "indexes")[1]
    assert item["title"] == "我最近在学习机器学习的基础知识"
    assert item["timestamp"] > 0


def test_filters_and_paging(client: httpx.Client) -> None:
    sid = new_session(client)
    for i in range(3):
        say(client, sid, f"note number {i} about llamas")
    every = eventually(lambda: len(found(client, "llama")) == 6 and found(client, "llama"))
    first = search(client, "llama", limit=4)
    assert [i["message_id"] for i in first["items"]] == [i["message_id"] for i in every[:4]]
    assert first["next_offset"] == 4
    rest = search(client, "llama", offset=4, limit=4)
    assert [i["message_id"] for i in rest["items"]] == [i["message_id"] for i in every[4:]]
    assert rest["next_offset"] is None
    assert len(found(client, "llama", model="scripted-model")) == 6
    assert found(client, "llama", model="another-model") == []
    middle = every[2]["timestamp"]
    assert [i["timestamp"] for i in found(client, "llama", **{"from": middle})] == [
        i["timestamp"] for i in every[:3]
    ]
    assert len(found(client, "llama", to=middle)) == 3


def test_other_users_never_find_my_messages(make_server: ServerFactory) -> None:
    server = make_server(**PASSWORD_MODE)
    alice = signed_up(server.url, "alice")
    bob = signed_up(server.url, "bob")
    sid = alice.post("/api/v1/sessions", json={}).json()["id"]
    say(alice, sid, "my secret recipe uses 花椒")
    eventually(lambda: found(alice, "花椒"))
    for q in ("花椒", "secret", "recipe uses", "my"):
        assert found(bob, q) == []
    anon = httpx.get(f"{server.url}/api/v1/search", params={"q": "secret"})
    assert anon.status_code == 401


def test_a_deleted_conversation_or_branch_is_gone_at_once(client: httpx.Client) -> None:
    sid = new_session(client)
    say(client, sid, "the zeppelin flies at dawn")
    keep = new_session(client)
    say(client, keep, "the zeppelin lands at dusk")
    eventually(lambda: len(found(client, "zeppelin")) == 4)
    assert client.delete(f"/api/v1/sessions/{sid}").status_code == 204
    assert {i["session_id"] for i in found(client, "zeppelin")} == {keep}
    first = branch(client, keep)[0]["id"]
    assert client.delete(f"/api/v1/sessions/{keep}/messages/{first}").status_code == 200
    assert found(client, "zeppelin") == []


def test_every_branch_is_found_and_opens_where_it_matched(client: httpx.Client) -> None:
    sid = new_session(client)
    say(client, sid, "the first draft mentions marmalade")
    old = branch(client, sid)[0]
    say(client, sid, "the second draft mentions treacle", replace_from=old["id"])
    eventually(lambda: len(found(client, "treacle")) == 2)
    hits = found(client, "marmalade")
    assert {i["message_id"] for i in hits} >= {old["id"]}
    assert all(not i["on_active_branch"] for i in hits)
    assert all(i["on_active_branch"] for i in found(client, "treacle"))
    # The old branch opens through the message that matched.
    target = next(i for i in hits if i["role"] == "assistant")
    shown = client.get(f"/api/v1/sessions/{sid}/messages", params={"through": target["message_id"]})
    assert [m["content"] for m in shown.json()["items"]] == [
        "the first draft mentions marmalade",
        "You said: the first draft mentions marmalade",
    ]


def test_messages_stored_before_the_index_existed_are_backfilled(
    make_server: ServerFactory, redis: Redis, redis_url: str
) -> None:
    async def seed() -> str:
        from redis.asyncio import Redis as AsyncRedis

        client: Any = (
            open_cluster(parse_cluster_url(redis_url), decode_responses=True)
            if isinstance(redis, RedisCluster)
            else AsyncRedis.from_url(redis_url, decode_responses=True)
        )
        store = ConversationStore(client, Keys("parlour"))  # no listener: no index yet
        session = await store.create_session("local", persona="assistant", model="m")
        parent = None
        for i in range(250):  # more than one backfill page
            message = Message(new_id(), "user", f"old note {i} about 古籍 and quokkas",
                              now(), "assistant", parent=parent)  # fmt: skip
            await store.append_message(session, message)
            parent = message.id
        await client.aclose()
        return session.id

    redis.set("parlour:format", "2")
    sid = run_async(seed())
    assert not redis.exists("parlour:u:{local}:s:docs")
    server = make_server()
    with httpx.Client(base_url=server.url, timeout=30) as client:
        eventually(lambda: len(found(client, "quokka", offset=200, limit=50)) == 50)
        hits = found(client, "quokka", limit=50)
        assert {i["session_id"] for i in hits} == {sid}
        assert marked(found(client, "古籍 note 249")[0]) == ["note", "249", "古籍"]
        assert redis.hget("parlour:{search}:fill", "done") == "1"


def test_bad_searches_get_a_clear_422(client: httpx.Client) -> None:
    for params in ({"q": ""}, {"q": "   "}, {"q": "?!…"}, {"q": "x" * 201},
                   {"q": "a", "limit": 0}, {"q": "a", "from": 10, "to": 5}, {}):  # fmt: skip
        response = client.get("/api/v1/search", params=params)
        assert response.status_code == 422, (params, response.text)
        body = response.json()
        assert body["detail"], params
        assert body["error"]["code"] == "invalid_input", params


def test_persona_and_conversation_filters_combine(client: httpx.Client) -> None:
    teacher = client.post("/api/v1/sessions", json={"persona": "teacher"}).json()["id"]
    plain = new_session(client)
    say(client, teacher, "the otter lesson")
    say(client, plain, "the otter notes")
    eventually(lambda: len(found(client, "otter")) == 4)
    by_teacher = found(client, "otter", persona="teacher")
    assert {i["session_id"] for i in by_teacher} == {teacher}
    assert {i["persona"] for i in by_teacher} == {"teacher"}
    assert {i["session_id"] for i in found(client, "otter", persona="assistant")} == {plain}
    assert client.put(f"/api/v1/sessions/{teacher}/pin").status_code == 200
    assert found(client, "otter", persona="teacher", pinned="false") == []
    assert len(found(client, "otter", persona="teacher", pinned="true", archived="false")) == 2
    assert found(client, "otter", persona="assistant", pinned="true") == []
