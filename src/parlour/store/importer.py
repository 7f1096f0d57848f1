"""Writing an imported conversation: all of it or none of it, once per source.

A conversation is written under a new id that nothing refers to yet, in short commands
(a few hundred fields each, so no command holds Redis up), with a one-hour expiry as a
guard against a process dying half-way. Only when every message is stored does it
become a conversation: its keys lose the guard (in one transaction: they share the
``{SID}`` hash tag), the owner's ``imported`` map records it under its source id (a
compare-and-set, so two imports of the same file at once store it once), and it joins
the owner's list. Until then nobody can see it; a loser of the race deletes its copy.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict
from typing import cast

from redis.asyncio import Redis

from parlour.domain import Message, SessionInfo, new_id
from parlour.importing.model import ImportedConversation
from parlour.store.conversations import ORGANISE, message_json, title_from
from parlour.store.keys import Keys, is_id
from parlour.store.search import SearchIndex

GUARD_SECONDS = 3600
CHUNK = 200

_CLAIM = """
-- KEYS: imported; ARGV: source, new sid, the sid it may replace ('' for none).
local cur = redis.call('HGET', KEYS[1], ARGV[1])
if cur and cur ~= ARGV[3] then return 0 end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
return 1
"""

_UNCLAIM = """
-- KEYS: imported; ARGV: source, sid. Forget the source if it still names this sid.
if redis.call('HGET', KEYS[1], ARGV[1]) == ARGV[2] then redis.call('HDEL', KEYS[1], ARGV[1]) end
return 1
"""


class ImportWriter:
    def __init__(
        self,
        redis: Redis,
        keys: Keys,
        *,
        persona: str,
        model: str,
        ttl_seconds: int = 0,
        search: SearchIndex | None = None,
        changed: Callable[[str, str, str], None] | None = None,
    ) -> None:
        self.redis = redis
        self.changed = changed  # told (owner, sid, kind) so open pages update
        self.keys = keys
        self.persona = persona
        self.model = model
        self.ttl_seconds = ttl_seconds
        self.search = search
        self._claim = redis.register_script(_CLAIM)
        self._unclaim = redis.register_script(_UNCLAIM)

    async def recorded(self, owner: str, source_id: str) -> tuple[str, bool]:
        """The session this source was imported as ("" if none), and whether it is still
        there (a deleted one may be imported again)."""
        sid = cast(str | None, await self.redis.hget(self.keys.imported(owner), source_id))
        if not sid:
            return "", False
        if not is_id(sid):
            return sid, False
        stored, deleted = await self.redis.hmget(self.keys.conversation(sid), ["owner", "deleted"])
        return sid, stored == owner and not float(deleted or 0)  # one in the trash counts gone

    async def write(self, owner: str, conv: ImportedConversation, replaces: str = "") -> str:
        """Store ``conv`` as a new conversation of ``owner``; returns its id, or "" when
        the same source was stored meanwhile (by another import)."""
        sid = new_id()
        ids = {m.key: new_id() for m in conv.messages}
        messages = [
            Message(
                id=ids[m.key], role=m.role, content=m.content, timestamp=m.timestamp,
                persona=self.persona, status=m.status,  # type: ignore[arg-type]
                model=m.model, error=m.error, parent=ids[m.parent] if m.parent else None,
            )
            for m in conv.messages
        ]  # fmt: skip
        kids: dict[str, list[str]] = {}
        for message in messages:
            kids.setdefault(message.parent or "", []).append(message.id)
        path = _active_path(messages, kids, ids.get(conv.active_leaf or ""))
        first_user = next((m.content for m in messages if m.role == "user"), "")
        updated = max([conv.updated_at, *(m.timestamp for m in messages)])
        info = SessionInfo(
            sid, owner, conv.title or title_from(first_user), self.persona, self.model,
            conv.created_at or updated, updated, len(messages), path[-1] if path else "",
        )  # fmt: skip
        await self._store(info, messages, kids, path)
        if not await self._claim(
            keys=[self.keys.imported(owner)], args=[conv.source_id, sid, replaces]
        ):
            await self.redis.delete(*self.keys.conversation_keys(sid))
            return ""
        await self.redis.zadd(self.keys.user_sessions(owner), {sid: updated})
        if self.changed is not None:
            self.changed(owner, sid, "created")
        if self.search is not None:
            await self._index(owner, sid, messages)
        return sid

    async def _index(self, owner: str, sid: str, messages: list[Message]) -> None:
        assert self.search is not None
        await self.search.add_many(owner, sid, messages)  # one script call per batch

    async def _store(
        self, info: SessionInfo, messages: list[Message], kids: dict[str, list[str]],
        path: list[str],
    ) -> None:  # fmt: skip
        conv, msgs, tree, line = self.keys.conversation_keys(info.id)
        # Pins, archive, folder and trash are set only when they apply (store/organise.py).
        fields = {k: str(v) for k, v in asdict(info).items() if k not in ORGANISE}
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.hset(conv, mapping=fields)  # type: ignore[arg-type]
            pipe.expire(conv, GUARD_SECONDS)
            await pipe.execute()
        for start in range(0, len(messages), CHUNK):
            chunk = messages[start : start + CHUNK]
            async with self.redis.pipeline(transaction=False) as pipe:
                pipe.hset(msgs, mapping={m.id: message_json(m) for m in chunk})
                pipe.hset(tree, mapping={f"u:{m.id}": m.parent or "" for m in chunk})
                pipe.expire(msgs, GUARD_SECONDS)
                pipe.expire(tree, GUARD_SECONDS)
                await pipe.execute()
        listed = list(kids.items())
        for start in range(0, len(listed), CHUNK):
            async with self.redis.pipeline(transaction=False) as pipe:
                pipe.hset(tree, mapping={
                    f"k:{parent}": _json_list(children)
                    for parent, children in listed[start : start + CHUNK]
                })  # fmt: skip
                await pipe.execute()
        for start in range(0, len(path), CHUNK * 2):
            async with self.redis.pipeline(transaction=False) as pipe:
                pipe.rpush(line, *path[start : start + CHUNK * 2])
                pipe.expire(line, GUARD_SECONDS)
                await pipe.execute()
        async with self.redis.pipeline(transaction=True) as pipe:
            for key in (conv, msgs, tree, line):
                if self.ttl_seconds:
                    pipe.expire(key, self.ttl_seconds)
                else:
                    pipe.persist(key)
            await pipe.execute()

    async def remove(self, owner: str, sid: str, source_id: str) -> None:
        """Undo :meth:`write` (an import that failed takes back what it stored)."""
        await self.redis.zrem(self.keys.user_sessions(owner), sid)
        await self.redis.delete(*self.keys.conversation_keys(sid))
        await self._unclaim(keys=[self.keys.imported(owner)], args=[source_id, sid])
        if self.changed is not None:
            self.changed(owner, sid, "deleted")


def _json_list(ids: list[str]) -> str:
    return "[" + ",".join(f'"{i}"' for i in ids) + "]"


def _active_path(
    messages: list[Message], kids: dict[str, list[str]], leaf: str | None
) -> list[str]:
    """First message to the active leaf: the given one, else the newest version down
    from the newest first message."""
    parent_of = {m.id: m.parent or "" for m in messages}
    if leaf is None:
        roots = kids.get("", [])
        if not roots:
            return []
        leaf = roots[-1]
        while kids.get(leaf):
            leaf = kids[leaf][-1]
    path: list[str] = []
    cur = leaf
    while cur:
        path.append(cur)
        cur = parent_of.get(cur, "")
    path.reverse()
    return path
