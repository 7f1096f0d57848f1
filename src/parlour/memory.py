"""Memory across conversations: a short list of facts a user keeps about themselves.

The user adds, edits and deletes facts (the Memory page, ``/api/v1/memory``); while
their memory is on, the facts go into the system prompt of every conversation whose
persona has not opted out. Nothing is remembered silently: the model is told it may
*propose* a fact by ending a reply with a line ``[[remember: ...]]``; the page shows
that as "Remember that ...?" and only the user's click stores it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import cast

import orjson
from redis.asyncio import Redis

from parlour.domain import new_id, now
from parlour.errors import InvalidInput, NotFound
from parlour.store.keys import Keys

MAX_FACT = 300

MEMORY_HEADER = (
    "[Memory: facts the user asked you to remember about them. Use them where they help; "
    "do not recite this list unless asked.]"
)
PROPOSE = (
    "[If the user tells you something lasting about themselves that would help in later "
    "conversations, you may propose remembering it: end your reply with one line "
    '"[[remember: the fact, as one short sentence]]". It is kept only if the user confirms.]'
)


@dataclass(frozen=True, slots=True)
class Fact:
    id: str
    text: str
    created_at: float
    updated_at: float


@dataclass(frozen=True, slots=True)
class MemoryState:
    enabled: bool
    facts: list[Fact]
    used_chars: int
    max_chars: int
    max_facts: int


class Memory:
    def __init__(self, redis: Redis, keys: Keys, *, max_facts: int, max_chars: int) -> None:
        self.redis = redis
        self.keys = keys
        self.max_facts = max_facts
        self.max_chars = max_chars

    async def facts(self, owner: str) -> list[Fact]:
        raw = cast(dict[str, str], await self.redis.hgetall(self.keys.user_memory(owner)))
        return _sorted(raw)

    async def state(self, owner: str) -> MemoryState:
        """The switch and the facts, in one round trip (both keys are on the owner's slot)."""
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.hgetall(self.keys.user_memory(owner))
            pipe.get(self.keys.user_memory_on(owner))
            raw, on = await pipe.execute()
        facts = _sorted(cast(dict[str, str], raw))
        return MemoryState(bool(on), facts, sum(len(f.text) for f in facts), self.max_chars,
                           self.max_facts)  # fmt: skip

    async def set_enabled(self, owner: str, on: bool) -> None:
        if on:
            await self.redis.set(self.keys.user_memory_on(owner), "1")
        else:
            await self.redis.delete(self.keys.user_memory_on(owner))

    def _checked(self, text: str, facts: list[Fact], replacing: Fact | None = None) -> str:
        text = " ".join(text.split())
        if not text:
            raise InvalidInput("A fact cannot be empty.")
        if len(text) > MAX_FACT:
            raise InvalidInput(
                f"A fact is at most {MAX_FACT} characters; this one has {len(text)}."
            )
        if "\x00" in text:
            raise InvalidInput("The fact contains a NUL character.")
        others = [f for f in facts if replacing is None or f.id != replacing.id]
        if replacing is None and len(others) >= self.max_facts:
            raise InvalidInput(f"Your memory holds at most {self.max_facts} facts. Delete one "
                               "first.", code="memory_full")  # fmt: skip
        used = sum(len(f.text) for f in others) + len(text)
        if used > self.max_chars:
            raise InvalidInput(f"Your memory holds at most {self.max_chars} characters; this "
                               f"would make {used}. Shorten or delete a fact first.",
                               code="memory_full")  # fmt: skip
        return text

    async def add(self, owner: str, text: str) -> Fact:
        text = self._checked(text, await self.facts(owner))
        ts = now()
        fact = Fact(new_id(), text, ts, ts)
        await self._save(owner, fact)
        return fact

    async def edit(self, owner: str, fid: str, text: str) -> Fact:
        facts = await self.facts(owner)
        current = next((f for f in facts if f.id == fid), None)
        if current is None:
            raise NotFound("This fact does not exist.")
        fact = Fact(fid, self._checked(text, facts, current), current.created_at, now())
        await self._save(owner, fact)
        return fact

    async def delete(self, owner: str, fid: str) -> None:
        if not await self.redis.hdel(self.keys.user_memory(owner), fid):
            raise NotFound("This fact does not exist.")

    async def _save(self, owner: str, fact: Fact) -> None:
        await self.redis.hset(self.keys.user_memory(owner), fact.id, orjson.dumps(asdict(fact)))

    async def prompt_for(self, owner: str) -> str:
        """What goes after the system prompt ("" while the owner's memory is off)."""
        state = await self.state(owner)
        if not state.enabled:
            return ""
        lines = [MEMORY_HEADER, *(f"- {f.text}" for f in state.facts)] if state.facts else []
        return "\n\n" + "\n".join([*lines, PROPOSE])


def _sorted(raw: dict[str, str]) -> list[Fact]:
    return sorted((Fact(**orjson.loads(v)) for v in raw.values()), key=lambda f: f.created_at)
