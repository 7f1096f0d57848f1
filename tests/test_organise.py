"""Organising over real HTTP with real Redis: pins, the archive, folders, bulk, the trash."""

from __future__ import annotations

from typing import Any

import httpx
from redis import Redis

from tests.accounts import PASSWORD_MODE, signed_up
from tests.conftest import ServerFactory
from tests.live import collect
from tests.test_search import eventually, search


def new(client: httpx.Client, title: str, text: str | None = None) -> str:
    sid: str = client.post("/api/v1/sessions", json={"title": title}).json()["id"]
    if text:
        collect(client, "POST", f"/api/v1/sessions/{sid}/messages", json={"content": text})
    return sid


def titles(client: httpx.Client, folder_id: str | None = None, **params: Any) -> list[str]:
    path = f"/api/v1/folders/{folder_id}/sessions" if folder_id else "/api/v1/sessions"
    response = client.get(path, params=params)
    assert response.status_code == 200, response.text
    return [s["title"] for s in response.json()["items"]]


def ok(response: httpx.Response, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json() if response.content else None


def test_pinned_come_first_and_archived_leave_the_list_but_not_search(
    client: httpx.Client,
) -> None:
    for name in ("one", "two", "three", "four"):
        new(client, name, f"about {name} zebras")
    assert titles(client) == ["four", "three", "two", "one"]
    pinned = ok(client.put(f"/api/v1/sessions/{_id(client, 'one')}/pin"))
    assert pinned["pinned"] is True
    assert titles(client) == ["one", "four", "three", "two"]
    assert titles(client, offset=1, limit=2) == ["four", "three"]  # pages run on after pins
    assert titles(client, offset=0, limit=1) == ["one"]
    three = _id(client, "three")
    archived = ok(client.put(f"/api/v1/sessions/{three}/archive"))
    assert archived["archived"] is True
    page = client.get("/api/v1/sessions").json()
    assert [s["title"] for s in page["items"]] == ["one", "four", "two"]
    assert page["total"] == 3
    assert titles(client, view="archived") == ["three"]
    # Still searchable, marked archived; the filters pick either side.
    found = eventually(lambda: search(client, "zebras")["items"])
    assert {h["title"] for h in found} == {"one", "two", "three", "four"}
    assert {h["title"] for h in search(client, "zebras", archived="true")["items"]} == {"three"}
    assert "three" not in {h["title"] for h in search(client, "zebras", archived="false")["items"]}
    assert {h["title"] for h in search(client, "zebras", pinned="true")["items"]} == {"one"}
    # Restored: back in the list, where its activity puts it.
    ok(client.delete(f"/api/v1/sessions/{three}/archive"))
    assert titles(client) == ["one", "four", "three", "two"]
    assert titles(client, view="archived") == []
    # Archiving a pinned one unpins it; pinning an archived one brings it back.
    one = _id(client, "one")
    ok(client.put(f"/api/v1/sessions/{one}/archive"))
    assert titles(client) == ["four", "three", "two"]
    again = ok(client.put(f"/api/v1/sessions/{one}/pin"))
    assert (again["pinned"], again["archived"]) == (True, False)
    assert titles(client)[0] == "one"


def _id(client: httpx.Client, title: str) -> str:
    for view in ("main", "archived"):
        for s in client.get("/api/v1/sessions", params={"view": view, "limit": 500}).json()[
            "items"
        ]:
            if s["title"] == title:
                return str(s["id"])
    raise AssertionError(title)


def test_folders_hold_conversations_and_deleting_one_keeps_them(client: httpx.Client) -> None:
    a, b, c = (new(client, name) for name in ("a", "b", "c"))
    work = ok(client.post("/api/v1/folders", json={"name": "  Work   stuff "}), 201)
    assert work["name"] == "Work stuff"
    home = ok(client.post("/api/v1/folders", json={"name": "家里"}), 201)
    moved = ok(client.put(f"/api/v1/sessions/{a}/folder", json={"folder_id": work["id"]}))
    assert moved["folder_id"] == work["id"]
    ok(client.put(f"/api/v1/sessions/{b}/folder", json={"folder_id": work["id"]}))
    assert titles(client, folder_id=work["id"]) == ["b", "a"]
    # Moving to another folder takes it out of the first.
    ok(client.put(f"/api/v1/sessions/{b}/folder", json={"folder_id": home["id"]}))
    assert titles(client, folder_id=work["id"]) == ["a"]
    folders = ok(client.get("/api/v1/folders"))["folders"]
    assert [(f["name"], f["count"]) for f in folders] == [("Work stuff", 1), ("家里", 1)]
    renamed = ok(client.patch(f"/api/v1/folders/{work['id']}", json={"name": "Projects"}))
    assert renamed["name"] == "Projects"
    assert ok(client.get("/api/v1/folders"))["folders"][0]["name"] == "Projects"
    assert client.post("/api/v1/folders", json={"name": "   "}).status_code == 422
    # Deleting a folder keeps its conversations, out of any folder.
    assert client.delete(f"/api/v1/folders/{work['id']}").status_code == 204
    assert ok(client.get(f"/api/v1/sessions/{a}"))["folder_id"] is None
    assert set(titles(client)) == {"a", "b", "c"}
    gone = client.get(f"/api/v1/folders/{work['id']}/sessions")
    assert gone.status_code == 404
    assert gone.json()["error"]["code"] == "not_found"
    missing = client.put(f"/api/v1/sessions/{c}/folder", json={"folder_id": work["id"]})
    assert missing.status_code == 404
    ok(client.put(f"/api/v1/sessions/{b}/folder", json={"folder_id": None}))
    assert titles(client, folder_id=home["id"]) == []


def test_bulk_archive_move_and_delete(client: httpx.Client) -> None:
    ids = [new(client, f"c{i}") for i in range(5)]
    folder = ok(client.post("/api/v1/folders", json={"name": "F"}), 201)
    done = ok(client.post("/api/v1/sessions/bulk",
                          json={"action": "archive", "session_ids": ids[:2]}))  # fmt: skip
    assert done["count"] == 2
    assert titles(client) == ["c4", "c3", "c2"]
    ok(client.post("/api/v1/sessions/bulk", json={
        "action": "move", "session_ids": ids[2:4], "folder_id": folder["id"]}))  # fmt: skip
    assert titles(client, folder_id=folder["id"]) == ["c3", "c2"]
    ok(client.post("/api/v1/sessions/bulk", json={"action": "delete", "session_ids": ids[3:]}))
    assert titles(client) == ["c2"]
    trash = ok(client.get("/api/v1/trash"))
    assert {s["title"] for s in trash["items"]} == {"c3", "c4"}
    bad = client.post("/api/v1/sessions/bulk", json={"action": "explode", "session_ids": ids})
    assert bad.status_code == 422
    empty = client.post("/api/v1/sessions/bulk", json={"action": "pin", "session_ids": []})
    assert empty.status_code == 422


def test_delete_goes_to_the_trash_and_comes_back_as_it_was(client: httpx.Client) -> None:
    sid = new(client, "keep me", "the quokka file")
    folder = ok(client.post("/api/v1/folders", json={"name": "F"}), 201)
    ok(client.put(f"/api/v1/sessions/{sid}/folder", json={"folder_id": folder["id"]}))
    ok(client.put(f"/api/v1/sessions/{sid}/pin"))
    eventually(lambda: search(client, "quokka")["items"])
    assert client.delete(f"/api/v1/sessions/{sid}").status_code == 204
    # Gone from everywhere at once...
    assert client.get(f"/api/v1/sessions/{sid}").status_code == 404
    assert client.get(f"/api/v1/sessions/{sid}/messages").status_code == 404
    assert titles(client) == []
    assert search(client, "quokka")["items"] == []
    assert titles(client, folder_id=folder["id"]) == []
    trash = ok(client.get("/api/v1/trash"))["items"]
    assert [(s["title"], s["deleted_at"] is not None) for s in trash] == [("keep me", True)]
    # ...and back as it was: pinned, in its folder, its messages, searchable.
    back = ok(client.post(f"/api/v1/trash/{sid}/restore"))
    assert (back["pinned"], back["folder_id"], back["deleted_at"]) == (True, folder["id"], None)
    assert titles(client) == ["keep me"]
    assert titles(client, folder_id=folder["id"]) == ["keep me"]
    assert ok(client.get(f"/api/v1/sessions/{sid}/messages"))["total"] == 2
    assert search(client, "quokka")["items"]
    assert ok(client.get("/api/v1/trash"))["items"] == []
    assert client.post(f"/api/v1/trash/{sid}/restore").status_code == 404
    # Deleted for good from the trash.
    client.delete(f"/api/v1/sessions/{sid}")
    assert client.delete(f"/api/v1/trash/{sid}").status_code == 204
    assert client.post(f"/api/v1/trash/{sid}/restore").status_code == 404
    other = new(client, "other")
    client.delete(f"/api/v1/sessions/{other}")
    assert ok(client.delete("/api/v1/trash"))["count"] == 1
    assert ok(client.get("/api/v1/trash"))["total"] == 0


def test_the_trash_empties_itself(make_server: ServerFactory, redis: Redis) -> None:
    server = make_server(trash_seconds=60)
    with httpx.Client(base_url=server.url, timeout=30) as client:
        sid = new(client, "t", "hello")
        client.delete(f"/api/v1/sessions/{sid}")
        parts = ("", ":msgs", ":tree", ":path")
        ttls = [redis.ttl(k) for p in parts for k in redis.keys(f"*:c:{{{sid}}}{p}")]
        assert len(ttls) == 4
        assert all(0 < t <= 60 for t in ttls)  # Redis drops them when the trash ends
        (trash,) = redis.keys("*:trash")
        assert 0 < redis.ttl(trash) <= 60  # and the trash's own list with them
        client.post(f"/api/v1/trash/{sid}/restore")
        assert [redis.ttl(k) for p in parts for k in redis.keys(f"*:c:{{{sid}}}{p}")] == [-1] * 4
    final = make_server(trash_seconds=0)
    with httpx.Client(base_url=final.url, timeout=30) as client:
        sid = new(client, "t", "hello")
        client.delete(f"/api/v1/sessions/{sid}")
        assert [k for p in ("", ":msgs", ":tree", ":path")
                for k in redis.keys(f"*:c:{{{sid}}}{p}")] == []  # fmt: skip
        assert client.get("/api/v1/trash").json()["items"] == []


def test_a_clear_can_be_undone_until_new_messages(client: httpx.Client) -> None:
    sid = new(client, "c", "first words")
    assert client.delete(f"/api/v1/sessions/{sid}/messages").status_code == 204
    assert ok(client.get(f"/api/v1/sessions/{sid}/messages"))["total"] == 0
    back = ok(client.post(f"/api/v1/sessions/{sid}/messages/restore"))
    assert back["message_count"] == 2
    items = ok(client.get(f"/api/v1/sessions/{sid}/messages"))["items"]
    assert [m["content"] for m in items] == ["first words", "You said: first words"]
    again = client.post(f"/api/v1/sessions/{sid}/messages/restore")
    assert again.status_code == 404
    assert again.json()["error"]["code"] == "nothing_to_restore"
    client.delete(f"/api/v1/sessions/{sid}/messages")
    collect(client, "POST", f"/api/v1/sessions/{sid}/messages", json={"content": "new start"})
    late = client.post(f"/api/v1/sessions/{sid}/messages/restore")
    assert late.status_code == 409
    assert late.json()["error"]["code"] == "conflict"
    assert ok(client.get(f"/api/v1/sessions/{sid}/messages"))["total"] == 2


def test_another_users_conversations_cannot_be_organised(make_server: ServerFactory) -> None:
    server = make_server(**PASSWORD_MODE)
    alice, bob = signed_up(server.url, "alice"), signed_up(server.url, "bob")
    theirs = new(alice, "alice's")
    folder = ok(alice.post("/api/v1/folders", json={"name": "secret"}), 201)
    mine = new(bob, "bob's")
    for action in ("archive", "delete", "pin"):
        refused = bob.post("/api/v1/sessions/bulk",
                           json={"action": action, "session_ids": [mine, theirs]})  # fmt: skip
        assert refused.status_code == 404, action
    moved = bob.post("/api/v1/sessions/bulk", json={
        "action": "move", "session_ids": [mine], "folder_id": folder["id"]})  # fmt: skip
    assert moved.status_code == 404
    assert bob.put(f"/api/v1/sessions/{mine}/folder",
                   json={"folder_id": folder["id"]}).status_code == 404  # fmt: skip
    alice.delete(f"/api/v1/sessions/{theirs}")
    assert bob.post(f"/api/v1/trash/{theirs}/restore").status_code == 404
    assert bob.delete(f"/api/v1/trash/{theirs}").status_code == 404
    assert bob.get("/api/v1/trash").json()["items"] == []
    assert bob.get("/api/v1/folders").json()["folders"] == []
    assert titles(bob) == ["bob's"]  # nothing of his changed by the refused calls
    assert [s["title"] for s in alice.get("/api/v1/trash").json()["items"]] == ["alice's"]
