"""A process that dies after storing a reply but before writing its final event (found by
the soak, bench/soak.py): its readers elsewhere still get the end, and the stored text."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import replace

import httpx
from bench.soakclient import events
from redis.asyncio import Redis

from parlour.domain import EventKind, Message, ReplyEvent, ReplyFacts, ReplyStatus, new_id, now
from parlour.store import ConversationStore, Keys, ReplyLedger
from tests.aio import run_async
from tests.conftest import ServerFactory
from tests.live import collect
from tests.upstream import Reply, ScriptedUpstream
from tests.waiting import wait_until

STORED = "w0 w1 w2 "


def leave_a_stored_reply_without_its_end(redis_url: str, sid: str, persona: str) -> str:
    """What a writer leaves when SIGKILLed between storing its reply and journaling the
    end: two deltas in the stream, the whole text stored, the conversation freed."""

    async def go() -> str:
        async with Redis.from_url(redis_url, decode_responses=True) as redis:
            keys = Keys("parlour")
            ledger = ReplyLedger(redis, keys, ConversationStore(redis, keys), stream_ttl=600)
            facts = ReplyFacts(new_id(), sid, "local", ReplyStatus.RUNNING, "", persona)
            user = Message(new_id(), "user", "go", now(), persona)
            await ledger.claim(facts, 30, 10, user=user)
            facts = replace(facts, parent=user.id)
            rid = facts.id
            journaled = [
                ReplyEvent(1, EventKind.START, {"reply_id": rid, "session_id": sid}),
                ReplyEvent(2, EventKind.DELTA, {"content": "w0 "}),
                ReplyEvent(3, EventKind.DELTA, {"content": "w1 "}),
            ]
            await ledger.journal([(sid, rid, journaled, False)], [(sid, "local", rid)], 30)
            reply = Message(rid, "assistant", STORED, now(), persona, parent=user.id)
            await ledger.finish(facts, reply, ReplyStatus.COMPLETE, 3)
            return rid

    return run_async(go())


def read_to_the_end(client: httpx.Client, url: str, **kw: object) -> list[tuple[str, dict]]:
    """Named events up to the final one; fails if only keep-alives come for long."""
    got: list[tuple[str, dict]] = []
    quiet = 0
    with client.stream("GET", url, **kw) as r:  # type: ignore[arg-type]
        assert r.status_code == 200
        for event in events(r):
            if not event.name:
                quiet += 1
                assert quiet < 60, f"only keep-alives after {got}"  # heartbeat: 1 s
                continue
            got.append((event.name, event.data))
            if event.name in ("done", "failure"):
                return got
    raise AssertionError(f"the stream ended without a final event after {got}")


def test_readers_of_a_reply_whose_writer_died_before_its_end_get_the_end(
    make_server: ServerFactory, redis_url: str
) -> None:
    server = make_server()
    with httpx.Client(base_url=server.url, timeout=30) as client:
        session = client.post("/api/v1/sessions", json={}).json()
        sid = session["id"]
        rid = leave_a_stored_reply_without_its_end(redis_url, sid, session["persona"])
        url = f"/api/v1/sessions/{sid}/reply"
        resumed = read_to_the_end(client, url, headers={"Last-Event-ID": f"{rid}:3"})
        fresh = read_to_the_end(client, url, params={"reply_id": rid})
        stored = client.get(f"/api/v1/sessions/{sid}/messages").json()["items"][-1]
    assert stored["id"] == rid
    assert stored["content"] == STORED
    # The one who had w0 w1 gets the rest as stored, then the end naming the message.
    assert resumed == [
        ("delta", {"content": "w2 "}),
        ("done", {"finish_reason": "stop", "usage": {}, "message_id": rid}),
    ]
    # A reader from the start sees exactly what was stored.
    text = "".join(d["content"] for name, d in fresh if name == "delta")
    assert text == STORED
    assert fresh[-1] == resumed[-1]


_CLAIM_AND_DIE = """
import asyncio, os, sys
from redis.asyncio import Redis
from parlour.domain import Message, new_id, now
from parlour.replies import ReplyManager
from parlour.store import ConversationStore, Keys, ReplyLedger

async def go(url, sid, persona, ttl):
    redis = Redis.from_url(url, decode_responses=True)
    keys = Keys("parlour")
    ledger = ReplyLedger(redis, keys, ConversationStore(redis, keys), stream_ttl=600)
    user = Message(new_id(), "user", "are you there?", now(), persona)
    manager = ReplyManager(ledger, lock_ttl=ttl)
    async with manager.claims.hold(sid, "local", persona=persona, model="scripted-model",
                             history=10, parent=user.id, user=user):
        os._exit(0)  # dies holding the claim, before the reply starts

asyncio.run(go(sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])))
"""


def claim_and_die(redis_url: str, sid: str, persona: str) -> None:
    """A process that dies right after claiming a reply: the question stored, the
    conversation locked, no reply begun."""
    subprocess.run(
        [sys.executable, "-c", _CLAIM_AND_DIE, redis_url, sid, persona, str(LOCK_TTL)],
        check=True,
        timeout=60,
    )


LOCK_TTL = 3


def test_a_question_claimed_by_a_process_that_died_gets_an_interrupted_answer(
    make_server: ServerFactory, redis_url: str, upstream: ScriptedUpstream
) -> None:
    server = make_server(reply_lock_ttl_seconds=LOCK_TTL)
    with httpx.Client(base_url=server.url, timeout=30) as client:
        session = client.post("/api/v1/sessions", json={}).json()
        sid = session["id"]
        claim_and_die(redis_url, sid, session["persona"])

        def answered() -> list[dict[str, object]]:
            items = client.get(f"/api/v1/sessions/{sid}/messages").json()["items"]
            return items if items and items[-1]["role"] == "assistant" else []

        wait_until(lambda: answered(), timeout=60)  # the reaper closes it
        assert [(m["role"], m["error"]) for m in answered()] == [
            ("user", None),
            ("assistant", "reply_interrupted"),
        ]
        upstream.enqueue(Reply(["yes"]))
        events = collect(client, "POST", f"/api/v1/sessions/{sid}/messages",
                         json={"content": "and now?"})  # fmt: skip
        assert events[-1].event == "done"
        roles = [m["role"] for m in answered()]
    assert roles == ["user", "assistant", "user", "assistant"]  # alternating, nothing lost
