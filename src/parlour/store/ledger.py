"""ReplyLedger: the replies of every conversation - who writes one, its events, its end.

A reply's lock, facts and event stream share its conversation's hash tag, so claiming
a reply (and reading the context under the lock) and finishing it (storing its message
and freeing the conversation) are each one script in one slot. The owner's running
replies and usage, and the process-wide heartbeat set, live in other slots and are
updated beside those scripts; each of those updates is idempotent.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import IntEnum
from typing import Any, cast

import orjson
from redis.asyncio import Redis
from redis.typing import EncodableT

from parlour.domain import Message, ReplyEvent, ReplyFacts, ReplyStatus, now
from parlour.store.conversations import ConversationStore, check_added, today
from parlour.store.keys import Keys, is_id
from parlour.store.lua import TREE
from parlour.store.usage import record as record_usage

_TAKE_SLOT = """
-- The owner may run ``most`` replies at once. KEYS: the owner's running replies;
-- ARGV: reply id, most, ttl. Returns 1 (taken) or 0 (at the limit).
if redis.call('SCARD', KEYS[1]) >= tonumber(ARGV[2]) then return 0 end
redis.call('SADD', KEYS[1], ARGV[1])
redis.call('EXPIRE', KEYS[1], ARGV[3])
return 1
"""

_CLAIM = (
    TREE
    + """
-- Start a reply, all at once: take the conversation's lock, read the context, and store
-- the user message (or, to answer one again, move the active branch back to it).
-- KEYS: conv msgs tree path, the reply lock, the reply's facts, the reply's events
-- ARGV: 1 reply id, 2 lock ttl, 3 facts ttl, 4 how many messages of context,
--       5 where the reply starts: '' (after the active branch's leaf), a message id (an
--         edit: the new message is a sibling of that one), or with 6 = '1' the user
--         message to answer again (an id: it or the reply under it; '?': the branch's
--         last user message),
--       7 the user message's JSON ('' when answering again), 8 its id, 9 the most
--         messages a conversation holds, 10 timestamp, 11 title if the conversation has
--         none, 12 ttl (0: none), then the facts as field, value, ...
-- Returns -1 (no conversation), 0 (a reply is running), -2 (that message is not on the
-- active branch or not one to start from), -3 (the conversation is full), or {1, the
-- start message's JSON or '', its parent, the context's messages...} - the context as it
-- was before the user message, read under the lock.
if redis.call('EXISTS', KEYS[1]) == 0 or redis.call('HEXISTS', KEYS[1], 'deleted') == 1 then
  return -1
end
if redis.call('EXISTS', KEYS[5]) == 1 then return 0 end
local n = redis.call('LLEN', KEYS[4])
local last = n - 1
local start, parent, start_id = '', '', ''
local function role_at(i)
  local id = redis.call('LINDEX', KEYS[4], i)
  local raw = redis.call('HGET', KEYS[2], id)
  if not raw then return id, nil, nil end
  return id, raw, cjson.decode(raw)['role']
end
if ARGV[5] ~= '' then
  local at
  if ARGV[5] == '?' then
    for i = n - 1, 0, -1 do
      local _id, _raw, role = role_at(i)
      if role == 'user' then at = i break end
    end
  else
    at = redis.call('LPOS', KEYS[4], ARGV[5], 'RANK', -1)
  end
  if not at then return -2 end
  local id, raw, role = role_at(at)
  if ARGV[6] == '1' and role == 'assistant' and at > 0 then
    at = at - 1
    id, raw, role = role_at(at)
  end
  if role ~= 'user' then return -2 end
  last, start, start_id = at - 1, raw, id
  parent = redis.call('HGET', KEYS[3], 'u:' .. id) or ''
end
local result = {1, start, parent}
local count = tonumber(ARGV[4])
if last >= 0 and count > 0 then
  local ids = redis.call('LRANGE', KEYS[4], math.max(0, last - count + 1), last)
  for _, m in ipairs(hmget_all(KEYS[2], ids)) do result[#result + 1] = m end
end
if ARGV[6] == '1' then
  path_to(KEYS[3], KEYS[4], start_id)  -- the old reply stays, off the active branch
  redis.call('HSET', KEYS[1], 'active', start_id)
elseif ARGV[7] ~= '' then
  local under = parent
  if start_id == '' then under = redis.call('LINDEX', KEYS[4], -1) or '' end
  local added = add_child(KEYS[1], KEYS[2], KEYS[3], KEYS[4], ARGV[7], ARGV[8], under,
                          ARGV[9], ARGV[10], ARGV[11], ARGV[12])
  if added < 0 then return added end
  result[3] = under
end
redis.call('SET', KEYS[5], ARGV[1], 'EX', ARGV[2])
-- The reply's stream is made here with its expiry, with an opening entry that holds no
-- event; the journal only appends to it (NOMKSTREAM), so no stream is ever without one.
redis.call('XADD', KEYS[7], '*', 'b', '[]')
redis.call('EXPIRE', KEYS[7], ARGV[3])
redis.call('HSET', KEYS[1], 'last_reply', ARGV[1])  -- resumable after it ends
redis.call('HSET', KEYS[6], unpack(ARGV, 13))
if ARGV[6] == '1' then redis.call('HSET', KEYS[6], 'parent', start_id) end
redis.call('EXPIRE', KEYS[6], ARGV[3])
return result
"""
)

_RELEASE = """
-- KEYS: the reply lock, the reply's facts; ARGV: reply id, its final status.
-- A refused claim stored no facts: none are made here (they would never expire).
if redis.call('EXISTS', KEYS[2]) == 1 then redis.call('HSET', KEYS[2], 'status', ARGV[2]) end
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""

_FINISH = (
    TREE
    + """
-- Store a reply's message (its id is the reply's) and free the conversation, once.
-- KEYS: conv msgs tree path, the reply lock, the reply's facts
-- ARGV: json id parent most ts title ttl (as add_child), then the final status, and
--       '1' if only a reply still running may be closed (the reaper's way).
-- Returns add_child's result; -4 when the reply was stored already (nothing done),
-- -5 when it is no longer running and ARGV[9] asked for a running one.
local status = redis.call('HGET', KEYS[6], 'status')
if ARGV[9] == '1' and status ~= 'running' then return -5 end
if status == 'interrupted' then return -4 end
local count = add_child(KEYS[1], KEYS[2], KEYS[3], KEYS[4], unpack(ARGV, 1, 7))
if count == -4 then return -4 end
redis.call('HSET', KEYS[6], 'status', ARGV[8])
if redis.call('GET', KEYS[5]) == ARGV[2] then redis.call('DEL', KEYS[5]) end
return count
"""
)


_END_ORPHAN = """
-- Add a reply's last events, unless anything was added since the caller read its stream.
-- KEYS: the reply's events; ARGV: the last entry id read, the batch, its expiry.
local last = redis.call('XREVRANGE', KEYS[1], '+', '-', 'COUNT', 1)
if #last == 0 or last[1][1] ~= ARGV[1] then return 0 end
redis.call('XADD', KEYS[1], '*', 'b', ARGV[2])
redis.call('EXPIRE', KEYS[1], ARGV[3])
return 1
"""


class Claim(IntEnum):
    """The claim script's refusals."""

    NO_CONVERSATION = -1
    NOT_ON_BRANCH = -2
    FULL = -3
    BUSY = 0


@dataclass(frozen=True, slots=True)
class Claimed:
    """A claimed reply's context: the newest messages before where it starts, oldest
    first; the message it starts from (an edit's original, or the message answered
    again); and the parent the new user message was stored under."""

    history: list[Message]
    start: Message | None
    parent: str


class Finished(IntEnum):
    STORED = 1
    NO_CONVERSATION = -1  # deleted meanwhile: nothing to store, the lock is gone with it
    ALREADY = -4  # stored before (a retried write) or closed as interrupted
    NOT_RUNNING = -5


class ReplyLedger:
    def __init__(
        self, redis: Redis, keys: Keys, conversations: ConversationStore, *, stream_ttl: int
    ) -> None:
        self.redis = redis
        self.keys = keys
        self.conversations = conversations
        self.stream_ttl = stream_ttl
        self.facts_ttl = max(stream_ttl, 86_400)
        self._take_slot = redis.register_script(_TAKE_SLOT)
        self._claim = redis.register_script(_CLAIM)
        self._release = redis.register_script(_RELEASE)
        self._finish = redis.register_script(_FINISH)
        self._end_orphan = redis.register_script(_END_ORPHAN)

    # --- starting -----------------------------------------------------------------

    async def take_owner_slot(self, owner: str, rid: str, most: int, ttl: int) -> bool:
        """Count the reply against the owner's limit of ``most`` at once."""
        return bool(await self._take_slot(keys=[self.keys.user_replies(owner)],
                                          args=[rid, most, ttl]))  # fmt: skip

    async def claim(
        self,
        facts: ReplyFacts,
        ttl: int,
        history: int,
        start_from: str | None = None,
        *,
        answer_again: bool = False,
        user: Message | None = None,
    ) -> Claim | Claimed:
        """Start a reply in one script: take the conversation's lock, read the context
        under it, and store ``user`` (the new message) - or, with ``answer_again``, move
        the active branch back to the message answered again.

        ``start_from`` is the message an edit is a sibling of, or with ``answer_again``
        the user message (or the reply below it; "?" for the last one) to answer once
        more; the context is what comes before it on the active branch.
        """
        sid = facts.session
        keys = [
            *self.keys.conversation_keys(sid),
            self.keys.session_reply(sid),
            self.keys.reply(sid, facts.id),
            self.keys.reply_events(sid, facts.id),
        ]
        if user is not None:
            _keys, add = self.conversations.append_args(sid, user, "")
            json, uid, _parent, most, ts, title, seconds = add
        else:
            json, uid, most, ts, title, seconds = "", "", 0, 0, "", 0
        args: list[EncodableT] = [
            facts.id,
            ttl,
            self.facts_ttl,
            history,
            start_from or "",
            "1" if answer_again else "0",
            json,
            uid,
            most,
            ts,
            title,
            seconds,
        ]
        for name, value in facts_fields(facts).items():
            args += [name, value]
        result = await self._claim(keys=keys, args=args)
        if not isinstance(result, list):
            return Claim(int(result))
        if user is not None:
            self.conversations.stored(facts.owner, sid, user)
        else:  # answered again: the active branch moved back to the question
            self.conversations.changed(facts.owner, sid, "branch")
        start_raw, parent, raw = result[1], result[2], result[3:]
        messages = [Message(**f) for f in orjson.loads("[" + ",".join(raw) + "]")]
        start = Message(**orjson.loads(start_raw), parent=parent or None) if start_raw else None
        return Claimed(messages, start, str(parent))

    async def release(self, facts: ReplyFacts, status: ReplyStatus) -> None:
        """Free the conversation: the reply ended with ``status`` and stored nothing."""
        sid, rid = facts.session, facts.id
        await self._release(
            keys=[self.keys.session_reply(sid), self.keys.reply(sid, rid)], args=[rid, status]
        )
        await self._forget(facts, 0)

    async def finish(
        self,
        facts: ReplyFacts,
        message: Message,
        status: ReplyStatus,
        tokens: int,
        *,
        only_running: bool = False,
    ) -> Finished:
        """Store the reply's message (its id is the reply's id, so a retry stores it once)
        and free the conversation."""
        sid = facts.session
        keys, args = self.conversations.append_args(sid, message, facts.parent or "*")
        args[3] = 2**31  # a reply is stored whatever the size: its user message was let in
        keys += [self.keys.session_reply(sid), self.keys.reply(sid, facts.id)]
        args += [status, "1" if only_running else "0"]
        result = int(await self._finish(keys=keys, args=args))
        if result in (Finished.ALREADY, Finished.NOT_RUNNING):
            return Finished(result)
        if result == Finished.NO_CONVERSATION:
            await self._forget(facts, 0)
            return Finished.NO_CONVERSATION
        check_added(result)
        self.conversations.stored(facts.owner, sid, message)
        await self._forget(facts, tokens, touched=message.timestamp, message=message)
        return Finished.STORED

    async def _forget(
        self,
        facts: ReplyFacts,
        tokens: int,
        touched: float = 0.0,
        message: Message | None = None,
    ) -> None:
        """The owner's and the process-wide bookkeeping, each idempotent."""
        owner = facts.owner
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.srem(self.keys.user_replies(owner), facts.id)
            pipe.zrem(self.keys.running_replies(), running_member(facts.session, facts.id))
            if touched:
                pipe.zadd(self.keys.user_sessions(owner), {facts.session: touched})
            if tokens > 0:
                usage = self.keys.user_usage(owner, today())
                pipe.incrby(usage, tokens)
                pipe.expire(usage, 172_800)
            if message is not None:
                record_usage(pipe, self.keys, owner, message, today())
            await pipe.execute()

    # --- facts --------------------------------------------------------------------

    async def facts(self, sid: str, rid: str) -> ReplyFacts | None:
        if not (is_id(sid) and is_id(rid)):
            return None
        raw = cast(dict[str, str], await self.redis.hgetall(self.keys.reply(sid, rid)))
        return facts_from(raw) if raw else None

    async def running_reply(self, sid: str) -> str | None:
        return cast(str | None, await self.redis.get(self.keys.session_reply(sid)))

    async def latest_reply(self, sid: str) -> str | None:
        """The reply running in the conversation, else the one that ran last."""
        running = await self.running_reply(sid)
        if running is not None:
            return running
        return cast(str | None, await self.redis.hget(self.keys.conversation(sid), "last_reply"))

    async def stale_replies(self, older_than: float) -> list[tuple[str, str]]:
        """(conversation, reply) of running replies whose heartbeat is older than
        ``older_than`` (a timestamp)."""
        members = cast(
            list[str],
            await self.redis.zrangebyscore(self.keys.running_replies(), "-inf", older_than),
        )
        return [tuple(m.split(":", 1)) for m in members if ":" in m]  # type: ignore[misc]

    async def claim_cleanup(self, sid: str, rid: str, ttl: int) -> bool:
        """One process only cleans up after a dead reply."""
        key = self.keys.reaper(sid, rid)
        return bool(await self.redis.set(key, "1", nx=True, ex=ttl))

    async def beat(self, sid: str, rid: str) -> None:
        """The reply's first heartbeat, before it is claimed: a process killed right after
        the claim stored the question still leaves the reaper a reply to close."""
        await self.redis.zadd(self.keys.running_replies(), {running_member(sid, rid): now()})

    async def forget_running(self, sid: str, rid: str) -> None:
        await self.redis.zrem(self.keys.running_replies(), running_member(sid, rid))

    # --- events ---------------------------------------------------------------------

    async def append_events(
        self, sid: str, rid: str, events: Sequence[ReplyEvent], *, final: bool
    ) -> None:
        """Add a batch of events to the reply's stream; a final batch sets its expiry."""
        await self.journal([(sid, rid, events, final)], [], 0)

    async def journal(
        self,
        batches: Sequence[tuple[str, str, Sequence[ReplyEvent], bool]],
        renew: Sequence[tuple[str, str, str]],
        lock_ttl: int,
    ) -> None:
        """In one round trip: event batches for several replies (sid, rid, events, final),
        and the locks of running replies (sid, owner, rid) renewed for ``lock_ttl``, their
        event streams with them (a finished stream is kept ``stream_ttl``)."""
        async with self.redis.pipeline(transaction=False) as pipe:
            for sid, rid, events, final in batches:
                key = self.keys.reply_events(sid, rid)
                batch = orjson.dumps([[e.seq, e.kind, e.data] for e in events])
                # Made by the claim with its expiry: never made here (a write cut between
                # the two commands would leave a stream that never expires).
                pipe.xadd(key, {"b": batch}, nomkstream=True)
                if final:  # kept a while for late readers; a running one is kept below
                    pipe.expire(key, self.stream_ttl)
            stamp = now()
            for sid, owner, rid in renew:
                pipe.expire(self.keys.reply_events(sid, rid), self.facts_ttl)
                pipe.expire(self.keys.session_reply(sid), lock_ttl)
                pipe.expire(self.keys.user_replies(owner), lock_ttl)
                pipe.zadd(self.keys.running_replies(), {running_member(sid, rid): stamp})
            await pipe.execute()

    async def read_events(
        self, sid: str, rid: str, after_entry: str, block_ms: int
    ) -> list[tuple[str, list[ReplyEvent]]]:
        """Stream entries after ``after_entry`` ('0' for all), waiting up to ``block_ms``."""
        key = self.keys.reply_events(sid, rid)
        result: Any = await self.redis.xread({key: after_entry}, block=block_ms, count=100)
        out: list[tuple[str, list[ReplyEvent]]] = []
        for _stream, entries in result or []:
            for entry_id, fields in entries:
                batch = orjson.loads(fields["b"])
                out.append((entry_id, [ReplyEvent(seq, kind, data) for seq, kind, data in batch]))
        return out

    async def has_events(self, sid: str, rid: str) -> bool:
        """Whether the reply's stream still exists (finished streams expire)."""
        return bool(await self.redis.exists(self.keys.reply_events(sid, rid)))

    async def all_events(self, sid: str, rid: str) -> list[ReplyEvent]:
        """Every event stored for the reply, in order, each once (a batch written twice
        by a retried write counts once)."""
        entries: Any = await self.redis.xrange(self.keys.reply_events(sid, rid))
        out: list[ReplyEvent] = []
        for _entry_id, fields in entries:
            for seq, kind, data in orjson.loads(fields["b"]):
                if not out or seq > out[-1].seq:
                    out.append(ReplyEvent(seq, kind, data))
        return out

    async def stored_reply(self, sid: str, rid: str) -> dict[str, Any] | None:
        """The message a reply stored (its id is the reply's), as stored; None if none."""
        raw = await self.redis.hget(self.keys.messages(sid), rid)
        return cast(dict[str, Any], orjson.loads(raw)) if raw else None

    async def end_orphan(
        self, sid: str, rid: str, after_entry: str, events: Sequence[ReplyEvent]
    ) -> bool:
        """Append a reply's last events if its stream still ends at ``after_entry``."""
        batch = orjson.dumps([[e.seq, e.kind, e.data] for e in events])
        key = self.keys.reply_events(sid, rid)
        return bool(await self._end_orphan(keys=[key], args=[after_entry, batch,
                                                            self.stream_ttl]))  # fmt: skip

    async def usage_today(self, owner: str) -> int:
        return int(await self.redis.get(self.keys.user_usage(owner, today())) or 0)

    async def owner_replies(self, owner: str) -> list[str]:
        """Ids of the owner's running replies (kept with ``MAX_CONCURRENT_REPLIES``)."""
        return sorted(cast(set[str], await self.redis.smembers(self.keys.user_replies(owner))))

    async def publish_stop(self, rid: str) -> None:
        await self.redis.publish(self.keys.stop_channel(), rid)


def running_member(sid: str, rid: str) -> str:
    return f"{sid}:{rid}"


def facts_fields(facts: ReplyFacts) -> dict[str, str]:
    return {
        "id": facts.id,
        "session": facts.session,
        "owner": facts.owner,
        "status": str(facts.status),
        "parent": facts.parent,
        "persona": facts.persona,
        "model": facts.model,
        "worker": facts.worker,
        "started_at": repr(facts.started_at),
    }


def facts_from(raw: dict[str, str]) -> ReplyFacts:
    try:
        status = ReplyStatus(raw.get("status", "running"))
    except ValueError:
        status = ReplyStatus.ERROR
    return ReplyFacts(
        id=raw.get("id", ""),
        session=raw.get("session", ""),
        owner=raw.get("owner", ""),
        status=status,
        parent=raw.get("parent", ""),
        persona=raw.get("persona", ""),
        model=raw.get("model", ""),
        worker=raw.get("worker", ""),
        started_at=float(raw.get("started_at") or 0),
    )
