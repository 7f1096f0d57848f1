"""Shares: read-only snapshots of a conversation's active branch, behind unguessable links.

A snapshot is one hash, ``share:TOKEN`` (see :mod:`parlour.store.keys`), holding a copy
of the messages as they were when it was made: later messages, edits or a delete of
the conversation do not change it. The token (192 random bits) is the only way to it;
it names nothing of the owner's. Revoking deletes the hash, so every process answers
404 from that moment; an expiry is the hash's TTL. The owner's ``shares`` hash lists
their links (with the tokens, so they can copy a link again).
"""

from __future__ import annotations

import asyncio
import re
import secrets
from typing import Any, cast

import orjson
from redis.asyncio import Redis

from parlour.domain import Message, SessionInfo, new_id, now
from parlour.errors import MessageTooLong, NotFound
from parlour.store.conversations import ConversationStore, Fields
from parlour.store.keys import Keys, is_id

_TOKEN = re.compile(r"[A-Za-z0-9_-]{32}")
MAX_SHARES = 500
# A snapshot can be as large as an export, and anyone with the link may read it: a
# process builds this many answers at once (the others wait their turn).
READS_AT_ONCE = 2


def is_token(value: str) -> bool:
    return _TOKEN.fullmatch(value) is not None


class Shares:
    def __init__(self, redis: Redis, keys: Keys, store: ConversationStore) -> None:
        self.redis = redis
        self.keys = keys
        self.store = store
        self.reading = asyncio.Semaphore(READS_AT_ONCE)

    async def create(
        self, session: SessionInfo, *, author: str | None, expires_in: int | None,
        max_messages: int,
    ) -> dict[str, Any]:  # fmt: skip
        """Snapshot the active branch now; returns the owner's record of the link."""
        owner = session.owner
        if int(await self.redis.hlen(self.keys.user_shares(owner))) >= MAX_SHARES:
            raise MessageTooLong(f"You have {MAX_SHARES} share links: revoke some first.",
                                 code="too_many_shares")  # fmt: skip
        messages: list[dict[str, Any]] = []
        async for nodes in self.store.walk(session.id):
            for node in nodes:
                m = node.message
                if m.status == "error" and not m.content:
                    continue
                messages.append({"role": m.role, "content": m.content, "timestamp": m.timestamp})
            if len(messages) > max_messages:
                raise MessageTooLong(f"At most {max_messages} messages can be shared at once.")
        token = secrets.token_urlsafe(24)
        ts = now()
        expires_at = ts + expires_in if expires_in else None
        record = {"id": new_id(), "token": token, "session_id": session.id,
                  "title": session.title, "created_at": ts, "expires_at": expires_at,
                  "show_name": author is not None, "message_count": len(messages)}  # fmt: skip
        snapshot: Fields = {"id": str(record["id"]), "owner": owner, "title": session.title,
                    "author": author or "", "created_at": repr(ts),
                    "messages": orjson.dumps(messages).decode()}  # fmt: skip
        key = self.keys.share(token)
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.hset(key, mapping=snapshot)
            if expires_in:
                pipe.expire(key, expires_in)
            await pipe.execute()
        await self.redis.hset(
            self.keys.user_shares(owner), str(record["id"]), orjson.dumps(record).decode()
        )
        return record

    async def links(self, owner: str) -> list[dict[str, Any]]:
        """The owner's live links, newest first (expired ones are forgotten)."""
        key = self.keys.user_shares(owner)
        raw = cast(dict[str, str], await self.redis.hgetall(key))
        records = [orjson.loads(v) for v in raw.values()]
        t = now()
        if gone := [r["id"] for r in records if r["expires_at"] and r["expires_at"] <= t]:
            await self.redis.hdel(key, *gone)
        live = [r for r in records if r["id"] not in gone]
        return sorted(live, key=lambda r: r["created_at"], reverse=True)

    async def revoke(self, owner: str, share_id: str) -> None:
        raw = None
        if is_id(share_id):
            raw = await self.redis.hget(self.keys.user_shares(owner), share_id)
        if raw is None:
            raise NotFound("This share link does not exist.")
        await self.redis.delete(self.keys.share(orjson.loads(raw)["token"]))
        await self.redis.hdel(self.keys.user_shares(owner), share_id)

    async def revoke_conversation(self, owner: str, sid: str) -> None:
        """Revoke every link to one conversation (it was deleted)."""
        for record in await self.links(owner):
            if record["session_id"] == sid:
                await self.revoke(owner, record["id"])

    async def exists(self, token: str) -> bool:
        return is_token(token) and bool(await self.redis.exists(self.keys.share(token)))

    async def _snapshot(self, token: str) -> dict[str, str]:
        raw: dict[str, str] = {}
        if is_token(token):
            raw = cast(dict[str, str], await self.redis.hgetall(self.keys.share(token)))
        if not raw:
            raise NotFound("This shared conversation does not exist, or its link was revoked.")
        return raw

    async def view(self, token: str) -> dict[str, Any]:
        """What anyone with the link sees: title, author (if shown), time and messages."""
        raw = await self._snapshot(token)
        return {"title": raw.get("title", ""), "author": raw.get("author") or None,
                "created_at": float(raw["created_at"]),
                "messages": orjson.loads(raw["messages"])}  # fmt: skip

    async def view_json(self, token: str) -> bytes:
        """:meth:`view` as JSON, with the stored messages as they are (never turned into
        objects and back: a big snapshot costs its size, not several times it)."""
        raw = await self._snapshot(token)
        head = orjson.dumps({"title": raw.get("title", ""), "author": raw.get("author") or None,
                             "created_at": float(raw["created_at"])})  # fmt: skip
        return b"".join((head[:-1], b',"messages":', raw["messages"].encode(), b"}"))

    async def copy_into(self, token: str, session: SessionInfo) -> SessionInfo:
        """Write a shared snapshot's messages into ``session`` (a new one of the viewer's)."""
        shared = await self.view(token)
        parent: str | None = None
        for m in shared["messages"]:
            message = Message(new_id(), m["role"], m["content"], float(m["timestamp"]),
                              session.persona, parent=parent)  # fmt: skip
            await self.store.append_message(session, message)
            parent = message.id
        await self.store.touch(session, now())  # a new conversation: at the top of the list
        return await self.store.get_session(session.owner, session.id)
