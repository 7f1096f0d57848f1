"""Setting the stage before anything is timed: sessions, stored history, the shared Redis."""

from __future__ import annotations

import asyncio
import shutil
import tempfile
from pathlib import Path

import httpx
from redis.asyncio import Redis

from parlour.domain import Message, new_id, now
from parlour.embedded import EmbeddedRedis
from parlour.store import ConversationStore, Keys

OWNER = "local"  # the single local user every /api/v1 request acts as
FILLER = (
    "A stored message of ordinary length, so that reading and sending the history "
    "costs what it would in a real conversation about everyday things. "
)


class SharedRedis:
    """One redis-server for the whole run; every server and the seeding use it."""

    def __init__(self) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="parlour-bench-redis-"))
        self.embedded = EmbeddedRedis(self.dir)
        self.url = self.embedded.start()

    def pid(self) -> int | None:
        proc = self.embedded._proc
        return proc.pid if proc is not None else None

    def flush(self) -> None:
        async def go() -> None:
            async with Redis.from_url(self.url) as r:
                await r.flushall()

        asyncio.run(go())

    def stop(self) -> None:
        self.embedded.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


def create_sessions(port: int, count: int, *, concurrency: int = 16) -> list[str]:
    """``count`` new sessions through the API (untimed setup)."""

    async def go() -> list[str]:
        ids: list[str] = []
        gate = asyncio.Semaphore(concurrency)
        limits = httpx.Limits(max_connections=concurrency)
        async with httpx.AsyncClient(
            base_url=f"http://127.0.0.1:{port}", limits=limits, timeout=30
        ) as client:

            async def one() -> None:
                async with gate:
                    r = await client.post("/api/v1/sessions", json={})
                    r.raise_for_status()
                    ids.append(r.json()["id"])

            await asyncio.gather(*(one() for _ in range(count)))
        return ids

    return asyncio.run(go())


def seed_history(redis_url: str, sessions: list[str], messages: int, *, branches: int = 0) -> None:
    """Store ``messages`` alternating user/assistant messages in each session, as one
    branch; with ``branches``, that many side branches (an edited user message and its
    reply) leave it at evenly spaced points, and the long branch stays the active one."""

    async def go() -> None:
        async with Redis.from_url(redis_url, decode_responses=True) as redis:
            store = ConversationStore(
                redis, Keys("parlour"), max_messages=max(10_000, messages + 2 * branches)
            )
            for sid in sessions:
                session = await store.get_session(OWNER, sid)
                path: list[Message] = []
                for i in range(messages):
                    role = "user" if i % 2 == 0 else "assistant"
                    text = f"{i}: {FILLER}"
                    parent = path[-1].id if path else None
                    message = Message(new_id(), role, text, now(), session.persona,
                                      model="bench", parent=parent)  # fmt: skip
                    await store.append_message(session, message)
                    path.append(message)
                users = [m for m in path if m.role == "user"]
                step = max(1, len(users) // max(branches, 1))
                for fork in users[::step][:branches]:
                    edit = Message(new_id(), "user", f"edited: {FILLER}", now(), session.persona,
                                   model="bench", parent=fork.parent)  # fmt: skip
                    await store.append_message(session, edit)
                    answer = Message(new_id(), "assistant", FILLER, now(), session.persona,
                                     model="bench", parent=edit.id)  # fmt: skip
                    await store.append_message(session, answer)
                if branches and path:
                    await store.select(session, path[-1].id, descend=False)

    asyncio.run(go())
