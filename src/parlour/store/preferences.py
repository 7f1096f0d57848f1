"""A user's own choices that are not a conversation's: the model new conversations use."""

from __future__ import annotations

from redis.asyncio import Redis

from parlour.store.keys import Keys


class Preferences:
    def __init__(self, redis: Redis, keys: Keys) -> None:
        self.redis = redis
        self.keys = keys

    async def default_model(self, owner: str) -> str | None:
        value = await self.redis.get(self.keys.user_default_model(owner))
        return str(value) if value else None

    async def set_default_model(self, owner: str, model: str | None) -> None:
        key = self.keys.user_default_model(owner)
        if model:
            await self.redis.set(key, model)
        else:
            await self.redis.delete(key)
