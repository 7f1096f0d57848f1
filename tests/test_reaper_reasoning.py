"""A reply whose process died while the model was thinking: what was thought is stored."""

from __future__ import annotations

from redis import Redis

from parlour.domain import EventKind, ReplyEvent
from parlour.reaper import Reaper
from tests.test_store_scripts import Stores, facts_for, run


def test_the_reaper_stores_the_thinking_of_a_reply_cut_short(redis: Redis, redis_url: str) -> None:
    async def scenario(s: Stores) -> tuple[str, str, str, str | None]:
        session = await s.conversations.create_session("ann", persona="assistant", model="m")
        facts = facts_for(session)
        await s.ledger.claim(facts, 30, 0)
        events = [
            ReplyEvent(1, EventKind.START, {"reply_id": facts.id}),
            ReplyEvent(2, EventKind.DELTA, {"content": "Let me "}),
            # the lone </think> came: the answer so far was thinking
            ReplyEvent(3, EventKind.REASONING, {"content": "Let me see.", "replace_answer": True}),
            ReplyEvent(4, EventKind.REASONING, {"content": " Still"}),
        ]
        await s.ledger.append_events(session.id, facts.id, events, final=False)
        # Its heartbeat is long gone: the process died.
        await s.ledger.journal([], [(session.id, session.owner, facts.id)], 30)
        await s.ledger.redis.zadd(
            s.ledger.keys.running_replies(), {f"{session.id}:{facts.id}": 1.0}
        )
        assert await Reaper(s.ledger, 30, lambda _rid: False).once() == 1
        nodes, _ = await s.conversations.messages(session.id)
        stored = nodes[-1].message
        return stored.content, stored.reasoning, stored.status, stored.error

    assert run(scenario, redis_url) == ("", "Let me see. Still", "partial", "reply_interrupted")
