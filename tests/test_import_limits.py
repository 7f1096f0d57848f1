"""Hostile or malformed files: a clear 4xx (or a failed job) with a code, and nothing kept."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import httpx
import pytest
from redis import Redis

from tests.conftest import ServerFactory
from tests.fixtures.chatgpt import Conversation, conversations_json, write_zip
from tests.importing import imported, report, sessions, upload


def _client(make_server: ServerFactory, **limits: int) -> httpx.Client:
    return httpx.Client(base_url=make_server(**limits).url, timeout=60)


def _chat(title: str, text: str = "hi") -> dict[str, object]:
    c = Conversation(title)
    c.turn(text, "hello")
    return c.export()


def _refused(response: httpx.Response, status: int, code: str) -> None:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["error"]["code"] == code
    assert body["detail"]  # a sentence for people
    assert "Traceback" not in response.text


def test_a_zip_bomb_is_refused_before_it_is_unpacked(client: httpx.Client) -> None:
    bomb = io.BytesIO()
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("conversations.json", b"[" + b" " * (50 << 20) + b"]")  # 50 MB of spaces
    assert len(bomb.getvalue()) < 200_000
    _refused(upload(client, bomb.getvalue()), 413, "import_zip_bomb")
    assert sessions(client) == []


def test_a_zip_that_unpacks_past_the_limit_is_refused(
    make_server: ServerFactory, tmp_path: Path
) -> None:
    with _client(make_server, import_max_unpacked_bytes=2048) as client:
        big = write_zip(tmp_path / "e.zip", [_chat(f"c{n}") for n in range(10)])
        _refused(upload(client, big), 413, "import_too_large")
        assert sessions(client) == []


def test_an_upload_past_its_limit_is_refused(make_server: ServerFactory) -> None:
    with _client(make_server, import_max_upload_bytes=4096) as client:
        body = conversations_json([_chat(f"c{n}") for n in range(20)])
        assert len(body) > 4096
        assert upload(client, body, "conversations.json").status_code == 413
        assert sessions(client) == []


@pytest.mark.parametrize(
    ("body", "code"),
    [
        (b"hello, not an export", "import_unknown_format"),
        (b"PK\x03\x04 but not a zip at all", "import_bad_zip"),
        (b"", "import_empty_file"),
    ],
)
def test_a_file_that_is_no_export_is_refused_at_once(
    client: httpx.Client, body: bytes, code: str
) -> None:
    _refused(upload(client, body, "x.bin"), 422, code)


def _failed(client: httpx.Client, body: bytes, code: str) -> list[dict[str, object]]:
    """The import fails with ``code``, and what it had stored before is taken back."""
    done = imported(client, body, "conversations.json")
    assert done["status"] == "failed", done
    assert done["error"]["code"] == code
    assert done["error"]["message"]
    assert done["imported"] == 0
    assert sessions(client) == []
    assert client.get("/api/v1/search", params={"q": "hello"}).json()["items"] == []
    return report(client, done["id"])


def test_deep_nesting_fails_the_import_and_keeps_nothing(client: httpx.Client) -> None:
    good = conversations_json([_chat("fine")])
    deep = b'{"title": "deep", "mapping": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    entries = _failed(client, good[:-1] + b"," + deep + b"]", "import_too_deep")
    # The first conversation had been stored before the file's fault was found.
    assert [e["outcome"] for e in entries] == ["imported"]


def test_json_cut_off_half_way_fails_and_keeps_nothing(client: httpx.Client) -> None:
    body = conversations_json([_chat("one"), _chat("two"), _chat("three")])
    _failed(client, body[: len(body) * 2 // 3], "import_bad_json")


def test_a_huge_text_fails_the_import(make_server: ServerFactory) -> None:
    with _client(make_server, import_max_string_chars=1000) as client:
        body = conversations_json([_chat("fine"), _chat("huge", "x" * 5000)])
        assert len(_failed(client, body, "import_string_too_long")) == 1


def test_too_many_conversations_fail_the_import(make_server: ServerFactory) -> None:
    with _client(make_server, import_max_conversations=2) as client:
        body = conversations_json([_chat(f"c{n}") for n in range(3)])
        _failed(client, body, "import_too_many_conversations")


def test_a_conversation_with_too_many_messages_is_skipped(make_server: ServerFactory) -> None:
    with _client(make_server, import_max_messages=4) as client:
        long = Conversation("long")
        for n in range(3):
            long.turn(f"q{n}", f"a{n}")
        done = imported(client, conversations_json([_chat("short"), long.export()]), "c.json")
        assert (done["status"], done["imported"], done["skipped"]) == ("done", 1, 1)
        [kept] = sessions(client)
        assert kept["title"] == "short"
        entries = client.get(f"/api/v1/imports/{done['id']}/report").json()["items"]
        assert entries[1]["code"] == "import_too_many_messages"
        assert "4" in entries[1]["reason"]


def test_another_users_import_is_not_found(make_server: ServerFactory) -> None:
    from tests.accounts import PASSWORD_MODE, signed_up

    server = make_server(**PASSWORD_MODE)
    alice, bob = signed_up(server.url, "alice"), signed_up(server.url, "bob")
    done = imported(alice, conversations_json([_chat("alice's")]), "c.json")
    for path in (f"/api/v1/imports/{done['id']}", f"/api/v1/imports/{done['id']}/report"):
        _refused(bob.get(path), 404, "not_found")
    assert sessions(bob) == []
    imported(bob, conversations_json([_chat("alice's")]), "c.json")  # not a duplicate for Bob
    assert [s["title"] for s in sessions(bob)] == ["alice's"]


def test_a_second_import_waits_for_the_first(client: httpx.Client, redis: Redis) -> None:
    redis.set("parlour:u:{local}:import:lock", "f" * 32, ex=60)  # one of hers is running
    _refused(upload(client, conversations_json([_chat("later")]), "c.json"), 409,
             "import_in_progress")  # fmt: skip
    redis.delete("parlour:u:{local}:import:lock")
    assert imported(client, conversations_json([_chat("later")]), "c.json")["imported"] == 1


def test_an_import_whose_process_died_says_so(client: httpx.Client, redis: Redis) -> None:
    done = imported(client, conversations_json([_chat("one")]), "c.json")
    key = f"parlour:u:{{local}}:import:{done['id']}"
    redis.hset(key, "status", "running")  # as left by a process that died mid-way
    facts = client.get(f"/api/v1/imports/{done['id']}").json()
    assert (facts["status"], facts["error"]["code"]) == ("failed", "import_interrupted")
