"""Parlour's own JSON export imports back: the same conversation, every branch included."""

from __future__ import annotations

import json

import httpx

from tests.importing import imported, report, sessions, tree
from tests.live import collect
from tests.upstream import Reply, ScriptedUpstream


def test_export_then_import_gives_the_same_tree(
    client: httpx.Client, upstream: ScriptedUpstream
) -> None:
    sid = client.post("/api/v1/sessions", json={"title": "Round trip 往返"}).json()["id"]
    upstream.enqueue(Reply(["first ", "answer"]), Reply(["second answer"]),
                     Reply(["answer to the edit"]), Reply(["regenerated"]))  # fmt: skip
    url = f"/api/v1/sessions/{sid}/messages"
    collect(client, "POST", url, json={"content": "hello 你好"})
    collect(client, "POST", url, json={"content": "tell me more"})
    second = client.get(url).json()["items"][2]["id"]
    collect(client, "POST", url, json={"content": "tell me less", "replace_from": second})
    collect(client, "POST", f"/api/v1/sessions/{sid}/reply/regenerate")
    before_shape, before_active = tree(client, sid)
    assert len(before_active) == 4
    exported = client.get(f"/api/v1/sessions/{sid}/export").content

    done = imported(client, exported, "conversation.json")
    assert (done["status"], done["imported"], done["messages"]) == ("done", 1, 7)
    [entry] = report(client, done["id"])
    copy = entry["session_id"]
    assert copy != sid
    after_shape, after_active = tree(client, copy)
    assert after_shape == before_shape  # every branch, siblings in order
    assert after_active == before_active  # the same version shown
    info = client.get(f"/api/v1/sessions/{copy}").json()
    assert info["title"] == "Round trip 往返"
    assert info["message_count"] == 7
    page = client.get(f"/api/v1/sessions/{copy}/messages").json()["items"]
    assert [len(m["siblings"]) for m in page] == [1, 1, 2, 2]
    # The copy goes on like any conversation.
    collect(client, "POST", f"/api/v1/sessions/{copy}/messages", json={"content": "and now?"})
    assert client.get(f"/api/v1/sessions/{copy}/messages").json()["total"] == 6

    again = imported(client, exported, "conversation.json")
    assert (again["imported"], again["duplicates"]) == (0, 1)
    assert len(sessions(client)) == 2


def test_a_list_of_parlour_exports_imports_each(client: httpx.Client) -> None:
    ids = []
    for title in ("one", "two"):
        sid = client.post("/api/v1/sessions", json={"title": title}).json()["id"]
        collect(client, "POST", f"/api/v1/sessions/{sid}/messages", json={"content": title})
        ids.append(sid)
    both = [client.get(f"/api/v1/sessions/{sid}/export").json() for sid in ids]
    done = imported(client, json.dumps(both).encode(), "exports.json")
    assert done["imported"] == 2
    assert sorted(s["title"] for s in sessions(client)) == ["one", "one", "two", "two"]
