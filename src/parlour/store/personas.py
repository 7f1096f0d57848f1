"""PersonaStore: the personas people make, and those an administrator publishes.

A user's own personas live in one hash per owner; published ones in one hash for
everyone (a copy, read-only to all but administrators). Built-in personas are not
stored (:mod:`parlour.personas`).
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any, cast

import orjson
from redis.asyncio import Redis

from parlour.domain import Persona
from parlour.sampling import params_of
from parlour.store.keys import Keys


def persona_json(persona: Persona) -> str:
    return orjson.dumps(asdict(persona)).decode()


def persona_from(raw: str) -> Persona:
    """A stored persona; one stored before personas had parameters has none set."""
    fields: dict[str, Any] = orjson.loads(raw)
    fields["starters"] = tuple(fields.get("starters") or ())
    fields["params"] = params_of(fields.get("params"))
    return Persona(**fields)


class PersonaStore:
    def __init__(self, redis: Redis, keys: Keys) -> None:
        self.redis = redis
        self.keys = keys

    async def own(self, owner: str) -> list[Persona]:
        raw = cast(dict[str, str], await self.redis.hgetall(self.keys.user_personas(owner)))
        return sorted((persona_from(v) for v in raw.values()), key=lambda p: -p.updated_at)

    async def published(self) -> list[Persona]:
        raw = cast(dict[str, str], await self.redis.hgetall(self.keys.published_personas()))
        return sorted((persona_from(v) for v in raw.values()), key=lambda p: -p.updated_at)

    async def get_own(self, owner: str, pid: str) -> Persona | None:
        raw = await self.redis.hget(self.keys.user_personas(owner), pid)
        return persona_from(cast(str, raw)) if raw else None

    async def get_published(self, pid: str) -> Persona | None:
        raw = await self.redis.hget(self.keys.published_personas(), pid)
        return persona_from(cast(str, raw)) if raw else None

    async def count_own(self, owner: str) -> int:
        return int(await self.redis.hlen(self.keys.user_personas(owner)))

    async def save_own(self, persona: Persona) -> None:
        assert persona.owner is not None
        await self.redis.hset(
            self.keys.user_personas(persona.owner), persona.id, persona_json(persona)
        )

    async def delete_own(self, owner: str, pid: str) -> bool:
        return bool(await self.redis.hdel(self.keys.user_personas(owner), pid))

    async def publish(self, persona: Persona) -> None:
        await self.redis.hset(self.keys.published_personas(), persona.id, persona_json(persona))

    async def unpublish(self, pid: str) -> bool:
        return bool(await self.redis.hdel(self.keys.published_personas(), pid))
