"""Shares: read-only snapshots of a conversation's active branch, behind unguessable links.

A snapshot is one hash, ``share:TOKEN`` (see :mod:`parlour.store.keys`), holding a copy
of the messages as they were when it was made: later messages, edits or a delete of
the conversation do not change it. The token (192 random bits) is the only way to it;
it names nothing of the owner's. Revoking deletes the hash, so every process answers
404 from that moment; an expiry is the hash's TTL. The owner's ``shares`` hash lists
their links (with the tokens, so they can copy a link again).

The messages are kept in pieces, fields ``m:0`` .. ``m:N-1`` of the same hash (``parts``
is N), each a JSON list of about :data:`PIECE_BYTES`: a read holds one piece at a time,
so a snapshot as large as an export costs a reader little memory, and one key still
holds it all (one DEL or TTL removes every piece at once). Making one writes a piece at
a time too, and the head fields (title, time, ``parts``) last: until then it reads as
missing. A snapshot made before the pieces has one ``messages`` field (the whole list)
and no ``parts``; it is read whole, :data:`READS_AT_ONCE` at a time per process.
"""

from __future__ import annotations

import asyncio
import re
import secrets
from collections.abc import AsyncIterator
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
# process loads this many snapshots of the old layout (one field) at once.
READS_AT_ONCE = 2
# About this much JSON per piece (a piece holds whole messages, at least one).
PIECE_BYTES = 128 * 1024
# A snapshot being written expires after this unless it is finished.
WRITING_TTL = 3600
_HEAD = ("title", "author", "created_at", "parts")
_GONE = "This shared conversation does not exist, or its link was revoked."


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
        token = secrets.token_urlsafe(24)
        key = self.keys.share(token)
        try:
            count, parts = await self._write_pieces(key, session.id, max_messages)
        except Exception:
            await self.redis.delete(key)  # else WRITING_TTL takes it away
            raise
        ts = now()
        expires_at = ts + expires_in if expires_in else None
        record = {"id": new_id(), "token": token, "session_id": session.id,
                  "title": session.title, "created_at": ts, "expires_at": expires_at,
                  "show_name": author is not None, "message_count": count}  # fmt: skip
        head: Fields = {"id": str(record["id"]), "owner": owner, "title": session.title,
                        "author": author or "", "created_at": repr(ts),
                        "parts": str(parts)}  # fmt: skip
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.hset(key, mapping=head)  # from now on it can be read
            if expires_in:
                pipe.expire(key, expires_in)
            else:
                pipe.persist(key)
            await pipe.execute()
        await self.redis.hset(
            self.keys.user_shares(owner), str(record["id"]), orjson.dumps(record).decode()
        )
        return record

    async def _write_pieces(self, key: str, sid: str, max_messages: int) -> tuple[int, int]:
        """Write the active branch's messages into ``key`` a piece at a time (unreadable
        until the head is written; gone after WRITING_TTL if this process dies first).
        Returns how many messages and pieces."""
        run: list[dict[str, Any]] = []
        size = count = parts = 0

        async def put() -> None:
            nonlocal run, size, parts
            async with self.redis.pipeline(transaction=True) as pipe:
                pipe.hset(key, f"m:{parts}", orjson.dumps(run).decode())
                pipe.expire(key, WRITING_TTL)
                await pipe.execute()
            run, size, parts = [], 0, parts + 1

        async for nodes in self.store.walk(sid):
            for node in nodes:
                m = node.message
                if m.status == "error" and not m.content:
                    continue
                run.append({"role": m.role, "content": m.content, "timestamp": m.timestamp})
                size += len(m.content) + 64
                count += 1
                if size >= PIECE_BYTES:
                    await put()
            if count > max_messages:
                raise MessageTooLong(f"At most {max_messages} messages can be shared at once.")
        if run:
            await put()
        return count, parts

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

    async def head(self, token: str) -> dict[str, Any]:
        """A snapshot's title, author (if shown) and time, without its messages;
        NotFound if there is none (revoked, expired, never made)."""
        values: list[str | None] = [None] * len(_HEAD)
        if is_token(token):
            values = cast(list[str | None], await self.redis.hmget(self.keys.share(token), _HEAD))
        title, author, created_at, parts = values
        if created_at is None:
            raise NotFound(_GONE)
        return {"title": title or "", "author": author or None,
                "created_at": float(created_at),
                "parts": None if parts is None else int(parts)}  # fmt: skip

    async def pieces(self, token: str, head: dict[str, Any]) -> AsyncIterator[str]:
        """The snapshot's messages, piece by piece, each a JSON list (a snapshot of the old
        layout: one piece). NotFound if it is revoked or expires while being read."""
        key = self.keys.share(token)
        if head["parts"] is None:
            async with self.reading:
                whole = cast(str | None, await self.redis.hget(key, "messages"))
            if whole is None:
                raise NotFound(_GONE)
            yield whole
            return
        for i in range(head["parts"]):
            piece = cast(str | None, await self.redis.hget(key, f"m:{i}"))
            if piece is None:
                raise NotFound(_GONE)
            yield piece

    async def view_json(
        self, token: str, head: dict[str, Any]
    ) -> AsyncIterator[bytes | memoryview]:
        """What anyone with the link sees, as JSON: title, author (if shown), time and
        messages, written piece by piece as stored (never turned into objects and back)."""
        shown = orjson.dumps({k: head[k] for k in ("title", "author", "created_at")})
        yield shown[:-1] + b',"messages":['
        first = True
        async for piece in self.pieces(token, head):
            if len(piece) > 2:  # not "[]"
                if not first:
                    yield b","
                yield memoryview(piece.encode())[1:-1]  # without a copy of its own
                first = False
        yield b"]}"

    async def copy_into(self, token: str, session: SessionInfo) -> SessionInfo:
        """Write a shared snapshot's messages into ``session`` (a new one of the viewer's)."""
        parent: str | None = None
        async for piece in self.pieces(token, await self.head(token)):
            for m in orjson.loads(piece):
                message = Message(new_id(), m["role"], m["content"], float(m["timestamp"]),
                                  session.persona, parent=parent)  # fmt: skip
                await self.store.append_message(session, message)
                parent = message.id
        await self.store.touch(session, now())  # a new conversation: at the top of the list
        return await self.store.get_session(session.owner, session.id)
