"""Organiser: pins, the archive, folders and the trash, over the conversation store.

The conversation's own hash (slot ``{SID}``) says what is true of it: ``pinned``,
``archived``, ``deleted`` (times) and ``folder``. The owner's sets (slot ``{OWNER}``)
are indexes for listing; a script never spans the two slots, so each change writes
the hash first, then the indexes, and every read checks what an index names against
the hash (a conversation an index names wrongly is skipped, never shown wrongly).

* ``convs`` (every live conversation, by activity) is unchanged: pinned and archived
  ones stay in it. The main list is the pinned ones (by activity) then the rest of
  ``convs`` that is neither pinned nor archived.
* Deleting moves a conversation to the trash: its keys get the trash's TTL (or keep a
  shorter one they had) and it leaves every list and search at once; restoring takes
  the TTL off again. Redis empties the trash itself. With ``trash_seconds`` 0 a delete
  is final.
* Clearing keeps the messages under ``cleared:*`` keys (same slot) for as long, so the
  clear can be undone until the conversation gets new messages.
"""

from __future__ import annotations

from typing import Literal, cast

import orjson
from redis.asyncio import Redis

from parlour.domain import SessionInfo, new_id, now
from parlour.errors import Conflict, InvalidInput, NotFound, ReplyInProgress
from parlour.store.conversations import ConversationStore, session_from
from parlour.store.keys import Keys, is_id

MAX_FOLDERS = 200
MAX_PINNED = 100
SCAN = 200  # ids read from an index per round trip while listing

_FLAGS = """
-- KEYS: conv; ARGV: n (fields to set), field value ..., fields to delete ...
-- Changes the conversation's own fields if it still exists; 1 done, 0 gone.
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
local n = tonumber(ARGV[1])
for i = 2, 2 * n, 2 do redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1]) end
for i = 2 * n + 2, #ARGV do redis.call('HDEL', KEYS[1], ARGV[i]) end
return 1
"""

_TRASH = """
-- KEYS: conv msgs tree path; ARGV: ts ttl. Marks it deleted and lets its keys expire.
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('HSET', KEYS[1], 'deleted', ARGV[1])
local ttl = tonumber(ARGV[2])
for _, k in ipairs(KEYS) do
  local left = redis.call('TTL', k)
  if left == -1 or left > ttl then redis.call('EXPIRE', k, ttl) end
end
return 1
"""

_UNTRASH = """
-- KEYS: conv msgs tree path; ARGV: ttl (0: none). 1 restored, 0 not in the trash.
if redis.call('HEXISTS', KEYS[1], 'deleted') == 0 then return 0 end
redis.call('HDEL', KEYS[1], 'deleted')
local ttl = tonumber(ARGV[1])
for _, k in ipairs(KEYS) do
  if ttl > 0 then redis.call('EXPIRE', k, ttl) else redis.call('PERSIST', k) end
end
return 1
"""

_CLEAR = """
-- KEYS: conv msgs tree path reply-lock stash-msgs stash-tree stash-path; ARGV: ts ttl.
-- 1 done, 0 a reply runs, -1 no conversation.
if redis.call('EXISTS', KEYS[1]) == 0 then return -1 end
if redis.call('EXISTS', KEYS[5]) == 1 then return 0 end
local kept = redis.call('HGET', KEYS[1], 'message_count') or '0'
if kept ~= '0' then
  redis.call('DEL', KEYS[6], KEYS[7], KEYS[8])
  for i = 2, 4 do
    if redis.call('EXISTS', KEYS[i]) == 1 then
      redis.call('RENAME', KEYS[i], KEYS[i + 4])
      redis.call('EXPIRE', KEYS[i + 4], ARGV[2])
    end
  end
  local before = {count = kept, active = redis.call('HGET', KEYS[1], 'active') or ''}
  redis.call('HSET', KEYS[1], 'cleared', cjson.encode(before))
end
redis.call('HSET', KEYS[1], 'message_count', 0, 'updated_at', ARGV[1], 'active', '')
return 1
"""

_UNCLEAR = """
-- KEYS: as for the clear; ARGV: ttl (0: none). 1 restored, 0 a reply runs, -1 nothing
-- to restore, -2 the conversation has new messages.
local before = redis.call('HGET', KEYS[1], 'cleared')
if not before or redis.call('EXISTS', KEYS[6]) == 0 then return -1 end
if redis.call('EXISTS', KEYS[5]) == 1 then return 0 end
if redis.call('EXISTS', KEYS[2]) == 1 then return -2 end
local ttl = tonumber(ARGV[1])
for i = 2, 4 do
  if redis.call('EXISTS', KEYS[i + 4]) == 1 then
    redis.call('RENAME', KEYS[i + 4], KEYS[i])
    if ttl > 0 then redis.call('EXPIRE', KEYS[i], ttl) else redis.call('PERSIST', KEYS[i]) end
  end
end
local was = cjson.decode(before)
redis.call('HSET', KEYS[1], 'message_count', was.count, 'active', was.active)
redis.call('HDEL', KEYS[1], 'cleared')
return 1
"""

_DELETE_FOLDER = """
-- KEYS: folders members; ARGV: folder id. Returns the ids that were in it, or -1.
if redis.call('HDEL', KEYS[1], ARGV[1]) == 0 then return -1 end
local ids = redis.call('SMEMBERS', KEYS[2])
redis.call('DEL', KEYS[2])
return ids
"""

View = Literal["main", "archived"]


class Organiser:
    def __init__(self, redis: Redis, keys: Keys, store: ConversationStore, *,
                 trash_seconds: int) -> None:  # fmt: skip
        self.redis = redis
        self.keys = keys
        self.store = store
        self.trash_seconds = trash_seconds
        self._flags = redis.register_script(_FLAGS)
        self._trash = redis.register_script(_TRASH)
        self._untrash = redis.register_script(_UNTRASH)
        self._clear = redis.register_script(_CLEAR)
        self._unclear = redis.register_script(_UNCLEAR)
        self._delete_folder = redis.register_script(_DELETE_FOLDER)

    async def _set(self, session: SessionInfo, sets: dict[str, str], dels: list[str]) -> None:
        args: list[str | int] = [len(sets), *(x for kv in sets.items() for x in kv), *dels]
        if not int(await self._flags(keys=[self.keys.conversation(session.id)], args=args)):
            raise NotFound("This conversation does not exist.")

    # --- pins and the archive -------------------------------------------------------

    async def pin(self, session: SessionInfo, on: bool) -> SessionInfo:
        """Pin (pinning takes it out of the archive) or unpin."""
        o, sid = session.owner, session.id
        if on:
            if session.pinned:
                return session
            if int(await self.redis.zcard(self.keys.user_pinned(o))) >= MAX_PINNED:
                raise InvalidInput(f"At most {MAX_PINNED} conversations can be pinned.",
                                   code="too_many_pinned")  # fmt: skip
            ts = now()
            await self._set(session, {"pinned": repr(ts)}, ["archived"])
            async with self.redis.pipeline(transaction=True) as pipe:
                pipe.zadd(self.keys.user_pinned(o), {sid: ts})
                pipe.zrem(self.keys.user_archived(o), sid)
                await pipe.execute()
        else:
            await self._set(session, {}, ["pinned"])
            await self.redis.zrem(self.keys.user_pinned(o), sid)
        self.store.changed(o, sid, "updated")
        return await self.store.get_session(o, sid)

    async def archive(self, session: SessionInfo, on: bool) -> SessionInfo:
        """Archive (off the main list, unpinned, still searchable) or restore."""
        o, sid = session.owner, session.id
        if on:
            ts = now()
            await self._set(session, {"archived": repr(ts)}, ["pinned"])
            async with self.redis.pipeline(transaction=True) as pipe:
                pipe.zadd(self.keys.user_archived(o), {sid: ts})
                pipe.zrem(self.keys.user_pinned(o), sid)
                await pipe.execute()
        else:
            await self._set(session, {}, ["archived"])
            await self.redis.zrem(self.keys.user_archived(o), sid)
        self.store.changed(o, sid, "updated")
        return await self.store.get_session(o, sid)

    # --- folders ------------------------------------------------------------------------

    async def folders(self, owner: str) -> list[dict[str, object]]:
        """The owner's folders, by name, each with how many conversations it holds."""
        raw = cast(dict[str, str], await self.redis.hgetall(self.keys.user_folders(owner)))
        found = sorted((orjson.loads(v) for v in raw.values()), key=lambda f: f["name"].lower())
        async with self.redis.pipeline(transaction=False) as pipe:
            for f in found:
                pipe.scard(self.keys.folder_members(owner, f["id"]))
            counts = await pipe.execute()
        return [{**f, "count": int(n)} for f, n in zip(found, counts, strict=True)]

    async def folder(self, owner: str, fid: str) -> dict[str, object]:
        raw = None
        if is_id(fid):
            raw = await self.redis.hget(self.keys.user_folders(owner), fid)
        if raw is None:
            raise NotFound("This folder does not exist.")
        return cast(dict[str, object], orjson.loads(raw))

    async def create_folder(self, owner: str, name: str) -> dict[str, object]:
        key = self.keys.user_folders(owner)
        if int(await self.redis.hlen(key)) >= MAX_FOLDERS:
            raise InvalidInput(f"At most {MAX_FOLDERS} folders can be made.",
                               code="too_many_folders")  # fmt: skip
        folder: dict[str, object] = {"id": new_id(), "name": name, "created_at": now()}
        await self.redis.hset(key, str(folder["id"]), orjson.dumps(folder).decode())
        return folder

    async def rename_folder(self, owner: str, fid: str, name: str) -> dict[str, object]:
        folder = {**await self.folder(owner, fid), "name": name}
        await self.redis.hset(self.keys.user_folders(owner), fid, orjson.dumps(folder).decode())
        return folder

    async def delete_folder(self, owner: str, fid: str) -> int:
        """Delete a folder; its conversations stay, out of any folder. Returns how many."""
        await self.folder(owner, fid)
        ids = await self._delete_folder(
            keys=[self.keys.user_folders(owner), self.keys.folder_members(owner, fid)], args=[fid]
        )
        if not isinstance(ids, list):
            raise NotFound("This folder does not exist.")
        unfold = "if redis.call('HGET', KEYS[1], 'folder') == ARGV[1] then " \
                 "redis.call('HDEL', KEYS[1], 'folder') end"  # fmt: skip
        async with self.redis.pipeline(transaction=False) as pipe:
            for sid in cast(list[str], ids):
                pipe.eval(unfold, 1, self.keys.conversation(sid), fid)
            await pipe.execute()
        return len(ids)

    async def move(self, session: SessionInfo, fid: str | None) -> SessionInfo:
        """Put the conversation in folder ``fid`` (None: out of any folder)."""
        o, sid = session.owner, session.id
        if fid:
            await self.folder(o, fid)
            await self._set(session, {"folder": fid}, [])
        else:
            await self._set(session, {}, ["folder"])
        async with self.redis.pipeline(transaction=True) as pipe:
            if session.folder and session.folder != fid:
                pipe.srem(self.keys.folder_members(o, session.folder), sid)
            if fid:
                pipe.sadd(self.keys.folder_members(o, fid), sid)
            await pipe.execute()
        self.store.changed(o, sid, "updated")
        return await self.store.get_session(o, sid)

    # --- lists -----------------------------------------------------------------------

    async def _rows(self, owner: str, ids: list[str]) -> list[SessionInfo]:
        async with self.redis.pipeline(transaction=False) as pipe:
            for sid in ids:
                pipe.hgetall(self.keys.conversation(sid))
            rows = cast(list[dict[str, str]], await pipe.execute())
        return [session_from(r) for r in rows if r and r.get("owner") == owner]

    async def listing(self, owner: str, view: View = "main", *, offset: int = 0, limit: int = 50,
                   folder: str | None = None) -> tuple[list[SessionInfo], int]:  # fmt: skip
        """A page of the owner's conversations and how many the list has in all.

        ``main``: pinned first, then the rest (not archived) by activity; ``archived``: by
        when they were archived; with ``folder``: that folder's (not archived), by activity.
        """
        if folder is not None:
            return await self._folder_list(owner, folder, offset, limit)
        if view == "archived":
            zkey = self.keys.user_archived(owner)
            ids = cast(list[str], await self.redis.zrevrange(zkey, offset, offset + limit - 1))
            rows = [s for s in await self._rows(owner, ids) if s.archived and not s.deleted]
            return rows, int(await self.redis.zcard(zkey))
        convs = self.keys.user_sessions(owner)
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.zrange(self.keys.user_pinned(owner), 0, -1)
            pipe.zcard(convs)
            pipe.zcard(self.keys.user_archived(owner))
            pinned_ids, n_all, n_archived = await pipe.execute()
        pinned = [s for s in await self._rows(owner, pinned_ids) if s.pinned and not s.deleted]
        pinned.sort(key=lambda s: s.updated_at, reverse=True)
        total = max(0, int(n_all) - int(n_archived))
        page = pinned[offset : offset + limit]
        want = offset + limit - len(pinned)  # rows of the rest up to the page's end
        if want <= 0:
            return page, total
        skip = set(pinned_ids)
        rest: list[str] = []
        start = 0
        while len(rest) < want:
            chunk = cast(list[str], await self.redis.zrevrange(convs, start, start + SCAN - 1))
            if not chunk:
                break
            start += SCAN
            scores = await self.redis.zmscore(self.keys.user_archived(owner), chunk)
            rest += [s for s, a in zip(chunk, scores, strict=True) if a is None and s not in skip]
        ids = rest[max(0, offset - len(pinned)) : want]
        found = await self._rows(owner, ids)
        # A reply that ended after its conversation was deleted may have listed it again.
        if gone := set(ids) - {s.id for s in found if not s.deleted}:
            await self.redis.zrem(convs, *gone)
        rows = [s for s in found if not s.deleted and not s.archived]
        return page + rows, total

    async def _folder_list(
        self, owner: str, fid: str, offset: int, limit: int
    ) -> tuple[list[SessionInfo], int]:
        await self.folder(owner, fid)
        ids = cast(set[str], await self.redis.smembers(self.keys.folder_members(owner, fid)))
        members = list(ids)
        if not members:
            return [], 0
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.zmscore(self.keys.user_sessions(owner), members)
            pipe.zmscore(self.keys.user_archived(owner), members)
            active, archived = await pipe.execute()
        live = [(a, s) for s, a, z in zip(members, active, archived, strict=True)
                if a is not None and z is None]  # fmt: skip
        live.sort(reverse=True)
        page = [s for _a, s in live[offset : offset + limit]]
        rows = [s for s in await self._rows(owner, page) if s.folder == fid and not s.deleted]
        return rows, len(live)

    # --- the trash ---------------------------------------------------------------------

    async def delete(self, session: SessionInfo) -> None:
        """Move the conversation to the trash (or delete it now, with no trash; an empty
        one, with nothing to bring back, too)."""
        o, sid = session.owner, session.id
        if self.trash_seconds <= 0 or (session.message_count == 0 and not session.title):
            await self._unlist(session)
            await self.store.delete_session(session)
            return
        ts = now()
        keys = [*self.keys.conversation_keys(sid), *self.keys.summary_keys(sid)]
        done = await self._trash(keys=keys, args=[repr(ts), self.trash_seconds])
        if not int(done):
            raise NotFound("This conversation does not exist.")
        await self._unlist(session)
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.zadd(self.keys.user_trash(o), {sid: ts})
            pipe.zremrangebyscore(self.keys.user_trash(o), "-inf", ts - self.trash_seconds)
            # The list outlives its newest entry by nothing: it empties itself as they do.
            pipe.expire(self.keys.user_trash(o), self.trash_seconds)
            await pipe.execute()
        self.store.changed(o, sid, "deleted")

    async def _unlist(self, session: SessionInfo) -> None:
        o, sid = session.owner, session.id
        async with self.redis.pipeline(transaction=True) as pipe:
            for key in (self.keys.user_sessions(o), self.keys.user_pinned(o),
                        self.keys.user_archived(o)):  # fmt: skip
                pipe.zrem(key, sid)
            if session.folder:
                pipe.srem(self.keys.folder_members(o, session.folder), sid)
            await pipe.execute()

    async def trashed(self, owner: str, sid: str) -> SessionInfo:
        """A conversation of the owner's in the trash; else :class:`NotFound`."""
        raw = {}
        if is_id(sid):
            raw = cast(dict[str, str], await self.redis.hgetall(self.keys.conversation(sid)))
        if not raw or raw.get("owner") != owner or not raw.get("deleted"):
            raise NotFound("This conversation is not in the trash.")
        return session_from(raw)

    async def trash(self, owner: str, *, offset: int = 0, limit: int = 50
                    ) -> tuple[list[SessionInfo], int]:  # fmt: skip
        """The trash, most recently deleted first (what expired meanwhile is dropped)."""
        zkey = self.keys.user_trash(owner)
        await self.redis.zremrangebyscore(zkey, "-inf", now() - self.trash_seconds)
        ids = cast(list[str], await self.redis.zrevrange(zkey, offset, offset + limit - 1))
        rows = [s for s in await self._rows(owner, ids) if s.deleted]
        if gone := set(ids) - {s.id for s in rows}:
            await self.redis.zrem(zkey, *gone)
        return rows, int(await self.redis.zcard(zkey))

    async def restore(self, owner: str, sid: str) -> SessionInfo:
        """Bring a conversation back from the trash, into its lists and folder."""
        session = await self.trashed(owner, sid)
        keys = [*self.keys.conversation_keys(sid), *self.keys.summary_keys(sid)]
        if not int(await self._untrash(keys=keys, args=[self.store.ttl_seconds])):
            raise NotFound("This conversation is not in the trash.")
        in_folder = session.folder and await self.redis.hexists(
            self.keys.user_folders(owner), session.folder
        )
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.zrem(self.keys.user_trash(owner), sid)
            pipe.zadd(self.keys.user_sessions(owner), {sid: session.updated_at})
            if session.pinned:
                pipe.zadd(self.keys.user_pinned(owner), {sid: session.pinned})
            if session.archived:
                pipe.zadd(self.keys.user_archived(owner), {sid: session.archived})
            if in_folder:
                pipe.sadd(self.keys.folder_members(owner, session.folder), sid)
            await pipe.execute()
        if session.folder and not in_folder:
            await self._flags(keys=[self.keys.conversation(sid)], args=[0, "folder"])
        self.store.changed(owner, sid, "created")
        return await self.store.get_session(owner, sid)

    async def purge(self, owner: str, sid: str) -> None:
        """Delete a conversation in the trash for good, now."""
        session = await self.trashed(owner, sid)
        await self.redis.zrem(self.keys.user_trash(owner), sid)
        await self.store.delete_session(session)

    async def empty_trash(self, owner: str) -> int:
        count = 0
        for _round in range(100):  # 10,000 at most per call
            ids = cast(list[str], await self.redis.zrange(self.keys.user_trash(owner), 0, 99))
            if not ids:
                break
            for sid in ids:
                try:
                    await self.purge(owner, sid)
                    count += 1
                except NotFound:
                    await self.redis.zrem(self.keys.user_trash(owner), sid)
        return count

    # --- clearing -------------------------------------------------------------------

    def _clear_keys(self, sid: str) -> list[str]:
        return [*self.keys.conversation_keys(sid), self.keys.session_reply(sid),
                *self.keys.cleared_keys(sid)]  # fmt: skip

    async def clear(self, session: SessionInfo) -> None:
        """Delete every message, keeping them for undo while the trash keeps things."""
        if self.trash_seconds <= 0:
            await self.store.clear_messages(session)
            return
        code = int(await self._clear(keys=self._clear_keys(session.id),
                                     args=[now(), self.trash_seconds]))  # fmt: skip
        if code == 0:
            raise ReplyInProgress(
                "A reply is being written in this conversation. Wait for it or stop it first."
            )
        if code < 0:
            raise NotFound("This conversation does not exist.")
        self.store.changed(session.owner, session.id, "cleared")

    async def unclear(self, session: SessionInfo) -> SessionInfo:
        """Undo the last clear, while the conversation has no new messages."""
        keys = self._clear_keys(session.id)
        code = int(await self._unclear(keys=keys, args=[self.store.ttl_seconds]))
        if code == -1:
            raise NotFound("There is no cleared history to bring back.",
                           code="nothing_to_restore")  # fmt: skip
        if code == -2:
            raise Conflict("This conversation has new messages since it was cleared, so its "
                           "old history cannot come back.")  # fmt: skip
        if code == 0:
            raise ReplyInProgress()
        self.store.changed(session.owner, session.id, "branch")
        return await self.store.get_session(session.owner, session.id)
