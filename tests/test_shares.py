"""Share links over real HTTP: a snapshot anyone with the link reads, nothing else of the
owner's; revoked or expired links answer 404 from every process; continuing copies it."""

from __future__ import annotations

import json
import logging

import httpx
import pytest
from redis import Redis

from parlour.store import Keys
from tests.accounts import PASSWORD_MODE, signed_up
from tests.conftest import PairFactory, ServerFactory
from tests.live import collect
from tests.security.test_history import fill
from tests.test_organise import new, ok


def token_of(share: dict[str, str]) -> str:
    return share["path"].removeprefix("/s/")


def test_a_share_is_a_snapshot_of_the_active_branch_for_anyone(
    make_server: ServerFactory,
) -> None:
    server = make_server(**PASSWORD_MODE)
    alice = signed_up(server.url, "alice")
    sid = new(alice, "Trip plans", "first question")
    collect(alice, "POST", f"/api/v1/sessions/{sid}/messages", json={"content": "second"})
    secret = new(alice, "my other secret conversation", "do not show this")
    # An edit makes another branch: only the active one is shared.
    first = alice.get(f"/api/v1/sessions/{sid}/messages").json()["items"][0]["id"]
    collect(alice, "POST", f"/api/v1/sessions/{sid}/messages",
            json={"content": "first question, edited", "replace_from": first})  # fmt: skip
    share = ok(alice.post(f"/api/v1/sessions/{sid}/shares", json={}), 201)
    assert share["message_count"] == 2
    assert share["show_name"] is False
    assert len(token_of(share)) == 32
    # Later messages are not in the snapshot.
    collect(alice, "POST", f"/api/v1/sessions/{sid}/messages", json={"content": "after"})
    with httpx.Client(base_url=server.url) as anyone:  # no account, no cookie
        shown = anyone.get(f"/api/v1/shared/{token_of(share)}")
        assert shown.status_code == 200, shown.text
        assert shown.headers["x-robots-tag"].startswith("noindex")
        body = shown.json()
        assert body["title"] == "Trip plans"
        assert body["author"] is None
        assert [m["content"] for m in body["messages"]] == [
            "first question, edited", "You said: first question, edited"]  # fmt: skip
        text = shown.text
        assert "alice" not in text
        assert sid not in text
        assert secret not in text
        assert "second" not in text
        assert "after" not in text
        page = anyone.get(share["path"])
        assert page.status_code == 200
        assert page.headers["x-robots-tag"].startswith("noindex")
        assert "script-src 'self'" in page.headers["content-security-policy"]
        assert '<meta name="robots" content="noindex' in page.text
        assert "alice" not in page.text
        for bad in ("x" * 32, "nope", "../../etc", "a" * 64):
            missing = anyone.get(f"/api/v1/shared/{bad}")
            assert missing.status_code in (404, 422), bad
            assert "Traceback" not in missing.text
        assert anyone.get("/api/v1/shares").status_code == 401  # the list is the owner's
    named = ok(alice.post(f"/api/v1/sessions/{sid}/shares", json={"show_name": True}), 201)
    assert httpx.get(f"{server.url}/api/v1/shared/{token_of(named)}").json()["author"] == "alice"
    listed = ok(alice.get("/api/v1/shares"))["shares"]
    assert [s["id"] for s in listed] == [named["id"], share["id"]]


def test_revoking_answers_404_at_once_on_every_process(
    server_pair: PairFactory, redis: Redis
) -> None:
    a, b = server_pair()
    with httpx.Client(base_url=a.url, timeout=30) as owner:
        sid = new(owner, "t", "hello")
        share = ok(owner.post(f"/api/v1/sessions/{sid}/shares", json={}), 201)
        url = f"/api/v1/shared/{token_of(share)}"
        assert httpx.get(b.url + url).status_code == 200
        assert owner.delete(f"/api/v1/shares/{share['id']}").status_code == 204
        assert httpx.get(b.url + url).status_code == 404
        assert httpx.get(a.url + url).status_code == 404
        page = httpx.get(b.url + share["path"])
        assert page.status_code == 404  # the page, saying the link is gone
        assert "noindex" in page.headers["x-robots-tag"]
        assert owner.get("/api/v1/shares").json()["shares"] == []
        assert owner.delete(f"/api/v1/shares/{share['id']}").status_code == 404
        # Deleting the conversation revokes its links too.
        again = ok(owner.post(f"/api/v1/sessions/{sid}/shares", json={}), 201)
        owner.delete(f"/api/v1/sessions/{sid}")
        assert httpx.get(b.url + f"/api/v1/shared/{token_of(again)}").status_code == 404


def test_links_can_expire(client: httpx.Client, redis: Redis) -> None:
    sid = new(client, "t", "hello")
    share = ok(client.post(f"/api/v1/sessions/{sid}/shares", json={"expires_in": 3600}), 201)
    assert share["expires_at"] - share["created_at"] == 3600
    key = Keys("parlour").share(token_of(share))
    assert 0 < redis.ttl(key) <= 3600
    redis.delete(key)  # what Redis does when the hour is up
    assert client.get(f"/api/v1/shared/{token_of(share)}").status_code == 404
    too_short = client.post(f"/api/v1/sessions/{sid}/shares", json={"expires_in": 1})
    assert too_short.status_code == 422


def test_continuing_copies_it_into_the_viewers_account(make_server: ServerFactory) -> None:
    server = make_server(**PASSWORD_MODE)
    alice, bob = signed_up(server.url, "alice"), signed_up(server.url, "bob")
    sid = new(alice, "Recipe", "how do I bake bread")
    share = ok(alice.post(f"/api/v1/sessions/{sid}/shares", json={}), 201)
    token = token_of(share)
    assert httpx.post(f"{server.url}/api/v1/shared/{token}/continue").status_code == 401
    copy = ok(bob.post(f"/api/v1/shared/{token}/continue"), 201)
    assert copy["id"] != sid
    assert copy["title"] == "Recipe"
    assert copy["message_count"] == 2
    items = bob.get(f"/api/v1/sessions/{copy['id']}/messages").json()["items"]
    assert [m["content"] for m in items] == ["how do I bake bread", "You said: how do I bake bread"]
    events = collect(bob, "POST", f"/api/v1/sessions/{copy['id']}/messages",
                     json={"content": "and rye?"})  # fmt: skip
    assert events[-1].event == "done"
    assert alice.get(f"/api/v1/sessions/{sid}/messages").json()["total"] == 2  # hers unchanged
    assert bob.post("/api/v1/shared/" + "x" * 32 + "/continue").status_code == 404


def test_a_large_share_is_read_piece_by_piece(make_server: ServerFactory, redis: Redis) -> None:
    # About 1.2 MB of messages: read and copied a piece at a time, never whole.
    server = make_server(**PASSWORD_MODE)
    alice, bob = signed_up(server.url, "alice"), signed_up(server.url, "bob")
    sid = new(alice, "Long one")
    fill(redis, sid, 300, pad=2000)
    share = ok(alice.post(f"/api/v1/sessions/{sid}/shares", json={}), 201)
    assert share["message_count"] == 300
    url = f"{server.url}/api/v1/shared/{token_of(share)}"
    with httpx.stream("GET", url) as shown:
        assert shown.status_code == 200
        assert shown.headers.get("transfer-encoding") == "chunked"  # not one buffered body
        assert "content-length" not in shown.headers
        assert shown.headers["x-robots-tag"].startswith("noindex")
        assert shown.headers["content-type"] == "application/json"
        body = shown.read()
    shared = json.loads(body)
    assert list(shared) == ["title", "author", "created_at", "messages"]
    assert shared["title"] == "Long one"
    assert [m["content"] for m in shared["messages"]] == [
        f"message {i}" + "é" * 2000 for i in range(300)
    ]
    assert set(shared["messages"][0]) == {"role", "content", "timestamp"}
    copy = ok(bob.post(f"/api/v1/shared/{token_of(share)}/continue"), 201)
    assert copy["message_count"] == 300
    items = bob.get(f"/api/v1/sessions/{copy['id']}/export").json()["items"]
    assert [m["content"] for m in items] == [m["content"] for m in shared["messages"]]
    # Revoking takes every piece with it.
    assert alice.delete(f"/api/v1/shares/{share['id']}").status_code == 204
    assert redis.exists(Keys("parlour").share(token_of(share))) == 0
    assert httpx.get(url).status_code == 404


def test_a_link_revoked_while_it_is_read_cuts_the_answer_short_quietly(
    make_server: ServerFactory, redis: Redis, caplog: pytest.LogCaptureFixture
) -> None:
    server = make_server(**PASSWORD_MODE)
    alice = signed_up(server.url, "alice")
    sid = new(alice, "Big one")
    fill(redis, sid, 1500, pad=5000)  # ~15 MB: more than the sockets hold unread
    share = ok(alice.post(f"/api/v1/sessions/{sid}/shares", json={}), 201)
    url = f"{server.url}/api/v1/shared/{token_of(share)}"
    caplog.set_level(logging.INFO)
    with httpx.stream("GET", url) as shown:
        assert shown.status_code == 200
        parts = shown.iter_raw()
        first = next(parts)  # the reader has begun; the rest waits in the server
        assert alice.delete(f"/api/v1/shares/{share['id']}").status_code == 204
        body = first + b"".join(parts)
    with pytest.raises(json.JSONDecodeError):
        json.loads(body)  # never passed off as the whole conversation
    assert "revoked while being read" in caplog.text
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR], caplog.text


def test_a_share_made_before_the_pieces_still_works(
    make_server: ServerFactory, redis: Redis
) -> None:
    # A snapshot as earlier releases stored it: one hash, the messages one JSON field.
    server = make_server(**PASSWORD_MODE)
    alice, bob = signed_up(server.url, "alice"), signed_up(server.url, "bob")
    sid = new(alice, "Older")
    share = ok(alice.post(f"/api/v1/sessions/{sid}/shares", json={"show_name": True}), 201)
    key = Keys("parlour").share(token_of(share))
    messages = [
        {"role": "user", "content": "an old question", "timestamp": 1_700_000_000.0},
        {"role": "assistant", "content": "an old answer ✓", "timestamp": 1_700_000_001.5},
    ]
    owner = redis.hget(key, "owner")
    redis.delete(key)
    redis.hset(
        key,
        mapping={
            "id": share["id"],
            "owner": owner,
            "title": "Older",
            "author": "alice",
            "created_at": repr(1_700_000_002.25),
            "messages": json.dumps(messages, separators=(",", ":")),
        },
    )
    url = f"{server.url}/api/v1/shared/{token_of(share)}"
    shown = httpx.get(url)
    assert shown.status_code == 200
    assert shown.json() == {
        "title": "Older",
        "author": "alice",
        "created_at": 1_700_000_002.25,
        "messages": messages,
    }
    assert httpx.get(f"{server.url}{share['path']}").status_code == 200  # the page
    copy = ok(bob.post(f"/api/v1/shared/{token_of(share)}/continue"), 201)
    items = bob.get(f"/api/v1/sessions/{copy['id']}/messages").json()["items"]
    assert [m["content"] for m in items] == ["an old question", "an old answer ✓"]
    assert copy["title"] == "Older"
    assert alice.delete(f"/api/v1/shares/{share['id']}").status_code == 204
    assert redis.exists(key) == 0
    assert httpx.get(url).status_code == 404


def test_a_conversation_too_long_to_share_leaves_nothing_behind(
    make_server: ServerFactory, redis: Redis
) -> None:
    server = make_server(**PASSWORD_MODE, export_max_messages=250)
    alice = signed_up(server.url, "alice")
    sid = new(alice, "Too long")
    fill(redis, sid, 300, pad=2000)  # pieces are written before the 251st message is met
    refused = alice.post(f"/api/v1/sessions/{sid}/shares", json={})
    assert refused.status_code == 413
    assert "At most 250 messages" in refused.json()["detail"]
    assert list(redis.scan_iter("parlour:share:*")) == []
    assert alice.get("/api/v1/shares").json()["shares"] == []
