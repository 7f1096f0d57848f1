"""SummaryStore: each conversation's running summaries (one per branch point) and its
summary switch and last failure.

A summary is stored under the id of the last message it covers; a fold adds a new
one (the older ones stay, for the branches that leave before it) and the oldest are
let go past :data:`MAX_KEPT`.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import cast

import orjson
from redis.asyncio import Redis

from parlour.store.keys import Keys
from parlour.window import Summary

MAX_KEPT = 64


class SummaryStore:
    def __init__(self, redis: Redis, keys: Keys, *, ttl_seconds: int = 0) -> None:
        self.redis = redis
        self.keys = keys
        self.ttl_seconds = ttl_seconds

    async def all(self, sid: str) -> list[Summary]:
        return _parsed(await self.redis.hgetall(self.keys.summaries(sid)))

    async def save(self, sid: str, summary: Summary) -> None:
        key = self.keys.summaries(sid)
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.hset(key, summary.covers, orjson.dumps(asdict(summary)).decode())
            pipe.hset(self.keys.summary_state(sid), mapping={"failed": "", "failed_at": "0"})
            if self.ttl_seconds:
                pipe.expire(key, self.ttl_seconds)
                pipe.expire(self.keys.summary_state(sid), self.ttl_seconds)
            await pipe.execute()
        kept = await self.all(sid)
        if len(kept) > MAX_KEPT:
            oldest = sorted(kept, key=lambda s: s.updated_at)[: len(kept) - MAX_KEPT]
            await self.redis.hdel(key, *(s.covers for s in oldest))

    async def for_turn(self, sid: str) -> tuple[dict[str, str], list[Summary]]:
        """The state and the summaries, in one round trip (both on the conversation's slot)."""
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.hgetall(self.keys.summary_state(sid))
            pipe.hgetall(self.keys.summaries(sid))
            state, raw = await pipe.execute()
        return cast(dict[str, str], state), _parsed(raw)

    async def state(self, sid: str) -> dict[str, str]:
        return cast(dict[str, str], await self.redis.hgetall(self.keys.summary_state(sid)))

    async def set_off(self, sid: str, off: bool) -> None:
        await self.redis.hset(self.keys.summary_state(sid), "off", "1" if off else "")

    async def failed(self, sid: str, code: str, at: float) -> None:
        await self.redis.hset(
            self.keys.summary_state(sid), mapping={"failed": code, "failed_at": repr(at)}
        )


def _parsed(raw: object) -> list[Summary]:
    return [Summary(**orjson.loads(v)) for v in cast(dict[str, str], raw).values()]
