"""Token usage per user, per day, per model, kept in Redis.

Each stored reply adds its tokens, its duration and one reply to its owner's totals
for the day (``HINCRBY``: atomic, so processes writing at once never lose a count) and
names the owner in the day's set, which lets an administrator read everyone's. The
totals are kept for :data:`KEEP_DAYS` days. The daily quota has its own counter
(``P:u:{OWNER}:usage:DAY``, see the ledger).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, cast

from redis.asyncio import Redis
from redis.asyncio.client import Pipeline

from parlour.domain import Message
from parlour.store.keys import Keys

KEEP_DAYS = 32
_KEEP_SECONDS = KEEP_DAYS * 86_400
_COUNTS = ("prompt", "completion", "replies", "ms")


@dataclass(frozen=True, slots=True)
class ModelUsage:
    model: str
    prompt_tokens: int = 0
    completion_tokens: int = 0
    replies: int = 0
    seconds: float = 0.0

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


def day_of(ts: float) -> str:
    return time.strftime("%Y-%m-%d", time.gmtime(ts))


def last_days(count: int, now: float | None = None) -> list[str]:
    """The last ``count`` days (UTC), today first."""
    now = time.time() if now is None else now
    return [day_of(now - i * 86_400) for i in range(count)]


def record(pipe: Pipeline | Any, keys: Keys, owner: str, message: Message, day: str) -> None:
    """Add a stored reply's usage to its owner's day (in the caller's pipeline)."""
    if message.prompt_tokens is None and message.completion_tokens is None:
        return  # nothing was spent (it failed before the model answered)
    key = keys.user_usage_models(owner, day)
    model = message.model or "?"
    pipe.hincrby(key, f"prompt:{model}", message.prompt_tokens or 0)
    pipe.hincrby(key, f"completion:{model}", message.completion_tokens or 0)
    pipe.hincrby(key, f"replies:{model}", 1)
    pipe.hincrby(key, f"ms:{model}", round((message.duration or 0.0) * 1000))
    pipe.expire(key, _KEEP_SECONDS)
    owners = keys.usage_owners(day)
    pipe.sadd(owners, owner)
    pipe.expire(owners, _KEEP_SECONDS)


def models_from(raw: dict[str, str]) -> list[ModelUsage]:
    """A day's hash as one row per model, the most tokens first."""
    counts: dict[str, dict[str, int]] = {}
    for field, value in raw.items():
        kind, _, model = field.partition(":")
        if kind in _COUNTS and model:
            counts.setdefault(model, {})[kind] = int(value)
    rows = [
        ModelUsage(
            model,
            c.get("prompt", 0),
            c.get("completion", 0),
            c.get("replies", 0),
            c.get("ms", 0) / 1000,
        )
        for model, c in counts.items()
    ]
    return sorted(rows, key=lambda r: (-r.total_tokens, r.model))


class UsageStore:
    def __init__(self, redis: Redis, keys: Keys) -> None:
        self.redis = redis
        self.keys = keys

    async def of_owner(self, owner: str, days: list[str]) -> list[tuple[str, list[ModelUsage]]]:
        """The owner's totals for each of ``days``."""
        async with self.redis.pipeline(transaction=False) as pipe:
            for day in days:
                pipe.hgetall(self.keys.user_usage_models(owner, day))
            rows = cast(list[dict[str, str]], await pipe.execute())
        return [(day, models_from(raw)) for day, raw in zip(days, rows, strict=True)]

    async def of_everyone(self, day: str) -> list[tuple[str, list[ModelUsage]]]:
        """Every owner's totals for ``day``, the most tokens first."""
        owners = sorted(cast(set[str], await self.redis.smembers(self.keys.usage_owners(day))))
        if not owners:
            return []
        async with self.redis.pipeline(transaction=False) as pipe:
            for owner in owners:
                pipe.hgetall(self.keys.user_usage_models(owner, day))
            rows = cast(list[dict[str, str]], await pipe.execute())
        found = [(o, models_from(raw)) for o, raw in zip(owners, rows, strict=True) if raw]
        return sorted(found, key=lambda r: -sum(m.total_tokens for m in r[1]))
