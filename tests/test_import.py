"""Importing a ChatGPT data export over the API: conversations keep their branches."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import httpx

from tests.fixtures.chatgpt import Conversation, branched, conversations_json, write_zip
from tests.importing import imported, report, sessions, tree, upload
from tests.live import LiveServer
from tests.test_live import channel
from tests.waiting import wait_until


def test_a_chatgpt_zip_keeps_titles_times_and_branches(
    client: httpx.Client, tmp_path: Path
) -> None:
    conv, _ids = branched("Redis questions")
    done = imported(client, write_zip(tmp_path / "export.zip", [conv.export()]))
    assert done["status"] == "done", done
    assert (done["imported"], done["skipped"], done["messages"]) == (1, 0, 7)
    [info] = sessions(client)
    assert info["title"] == "Redis questions"
    assert info["created_at"] == conv.created
    shape, active = tree(client, info["id"])
    assert active == [
        "What is Redis?", "An in-memory data store.", "Show me Python code",
        "```python\nr = redis.Redis()\n```",
    ]  # fmt: skip
    [(role, _text, after_q1)] = shape
    assert role == "user"
    [(_r, _t, prompts)] = after_q1
    assert [p[1] for p in prompts] == ["Show me code", "Show me Python code"]  # the edit
    assert [a[1] for a in prompts[1][2]] == [
        "```python\nr = redis.Redis()\n```", "Here: `redis.Redis()`",
    ]  # the regenerated reply: two versions  # fmt: skip
    page = client.get(f"/api/v1/sessions/{info['id']}/messages").json()["items"]
    assert [len(m["siblings"]) for m in page] == [1, 1, 2, 2]


def test_imported_messages_are_found_by_search(client: httpx.Client, tmp_path: Path) -> None:
    conv = Conversation("Tuning")
    conv.turn("我的数据库很慢", "Try an index on postgresql_tuning columns")
    assert (
        imported(client, conversations_json([conv.export()]), "conversations.json")["imported"] == 1
    )
    found = client.get("/api/v1/search", params={"q": "数据库"}).json()["items"]
    assert [hit["title"] for hit in found] == ["Tuning"]
    assert client.get("/api/v1/search", params={"q": "postgresql"}).json()["items"]


def test_system_and_tool_nodes_are_left_out_without_breaking_the_tree(
    client: httpx.Client, tmp_path: Path
) -> None:
    conv = Conversation("Tools")
    conv.add("user", "Plot it", bare=True)  # no metadata, no times
    conv.add("assistant", "", content={"content_type": "code", "language": "python",
                                       "text": "print(1)"})  # fmt: skip
    conv.add("tool", "", content={"content_type": "execution_output", "text": "1"})
    conv.add("assistant", "It printed 1.")
    conv.add("user", "", content={"content_type": "multimodal_text", "parts": [
        {"content_type": "image_asset_pointer", "asset_pointer": "file-service://file-XYZ",
         "size_bytes": 100, "width": 10, "height": 10},
        "What is in this picture?",
    ]}, metadata={"attachments": [{"id": "file-9", "name": "notes.pdf"}]})  # fmt: skip
    conv.add("assistant", "", content={"content_type": "thoughts", "thoughts": []})
    conv.add("assistant", "A cat.")
    done = imported(client, write_zip(tmp_path / "e.zip", [conv.export()]))
    assert (done["imported"], done["not_imported"]) == (1, 2)
    [info] = sessions(client)
    _shape, active = tree(client, info["id"])
    assert active == [
        "Plot it",
        "```python\nprint(1)\n```\n\nIt printed 1.",  # the tool call and its answer: one reply
        "[image not imported]\n\nWhat is in this picture?",
        "A cat.",
    ]
    [entry] = report(client, done["id"])
    assert entry["outcome"] == "imported"
    assert entry["not_imported"] == ["image file-XYZ", "file notes.pdf"]


def test_the_sharded_form_is_read_in_the_manifests_order(
    client: httpx.Client, tmp_path: Path
) -> None:
    convs = []
    for n in range(5):
        c = Conversation(f"Chat {n}", created=1_700_000_000.0 + n)
        c.turn(f"question {n}", f"answer {n}")
        convs.append(c.export())
    done = imported(client, write_zip(tmp_path / "e.zip", convs, shards=2))
    assert done["imported"] == 5
    # Shard 0 holds chats 0, 2, 4; shard 1 holds 1, 3: the report follows the files.
    assert [e["title"] for e in report(client, done["id"])] == [
        "Chat 0", "Chat 2", "Chat 4", "Chat 1", "Chat 3",
    ]  # fmt: skip
    assert sorted(s["title"] for s in sessions(client)) == [f"Chat {n}" for n in range(5)]


def test_importing_the_same_file_twice_adds_nothing(client: httpx.Client, tmp_path: Path) -> None:
    conv, _ = branched()
    other = Conversation("Second")
    other.turn("hi", "hello")
    path = write_zip(tmp_path / "e.zip", [conv.export(), other.export()])
    assert imported(client, path)["imported"] == 2
    again = imported(client, path)
    assert (again["imported"], again["duplicates"]) == (0, 2)
    assert len(sessions(client)) == 2
    # A conversation deleted since is imported again; the other one is not duplicated.
    gone = next(s for s in sessions(client) if s["title"] == "Second")
    assert client.delete(f"/api/v1/sessions/{gone['id']}").status_code == 204
    third = imported(client, path)
    assert (third["imported"], third["duplicates"]) == (1, 1)
    assert sorted(s["title"] for s in sessions(client)) == ["Branches", "Second"]


def test_entries_that_are_not_conversations_are_skipped_with_a_reason(
    client: httpx.Client,
) -> None:
    good = Conversation("Good")
    good.turn("a", "b")
    empty = Conversation("Only a system prompt")
    body = conversations_json([
        good.export(), {"title": "Broken", "mapping": "not a tree"}, 42, empty.export(),
        {"title": ["wrong"], "mapping": {"x": {"message": {"author": {"role": 7},
                                                            "content": {"parts": [1, None]}}}}},
    ])  # fmt: skip
    done = imported(client, body, "conversations.json")
    assert (done["status"], done["imported"], done["skipped"]) == ("done", 1, 4)
    codes = [(e["outcome"], e.get("code")) for e in report(client, done["id"])]
    assert codes == [("imported", None), ("skipped", "import_empty"),
                     ("skipped", "import_not_a_conversation"), ("skipped", "import_empty"),
                     ("skipped", "import_empty")]  # fmt: skip


def test_shards_without_a_manifest_are_read_by_number(client: httpx.Client, tmp_path: Path) -> None:
    convs = [Conversation(f"Chat {n}", created=1_700_000_000.0 + n) for n in range(4)]
    for c in convs:
        c.turn("q", "a")
    path = write_zip(tmp_path / "e.zip", [c.export() for c in convs], shards=2, manifest=False)
    done = imported(client, path)
    assert [e["title"] for e in report(client, done["id"])] == [
        "Chat 0",
        "Chat 2",
        "Chat 1",
        "Chat 3",
    ]


def test_a_manifest_naming_a_missing_shard_is_refused(client: httpx.Client, tmp_path: Path) -> None:
    path = tmp_path / "e.zip"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("conversations-000.json", conversations_json([]))
        z.writestr(
            "manifest.json", json.dumps(["conversations-000.json", "conversations-001.json"])
        )
    refused = upload(client, path)
    assert refused.status_code == 422
    assert refused.json()["error"]["code"] == "import_missing_shard"
    assert sessions(client) == []


def test_open_pages_hear_of_imported_conversations(server: LiveServer) -> None:
    with channel(server.url) as heard, httpx.Client(base_url=server.url, timeout=30) as client:
        conv = Conversation("Heard")
        conv.turn("q", "a")
        done = imported(client, conversations_json([conv.export()]), "c.json")
        sid = report(client, done["id"])[0]["session_id"]
        wait_until(lambda: heard.about(sid) == ["created"], what="the page told")
