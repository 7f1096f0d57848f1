"""ConversationStore: everything Parlour keeps in Redis. Every key is built here.

Layout (``P`` is the configured key prefix)::

    P:session:{sid}              hash  id owner title persona model created_at updated_at count
    P:session:{sid}:messages     list  JSON messages, chronological (RPUSH), trimmed to the newest N
    P:user:{owner}:sessions      zset  session ids scored by last activity
    P:session:{sid}:reply        str   id of the reply running in the session (the 409 lock)
    P:reply:{rid}                hash  session owner status worker started_at
    P:reply:{rid}:events         stream  the reply's events, each entry a JSON batch of events
    P:replies:running            zset  running reply ids scored by their last heartbeat
    P:reply:{rid}:reaper         str   claims the clean-up of a reply whose process died
    P:stop                       pub/sub channel carrying reply ids to stop
    P:user:{owner}:replies       set   the owner's running replies (concurrency limit)
    P:user:{owner}:usage:{day}   str   tokens streamed to the owner that day (quota)
    P:account:{uid}              hash  id username password_hash is_admin disabled created_at
    P:accounts:names             hash  lower-cased username -> uid
    P:accounts                   zset  uids by creation time
    P:accounts:first             str   set once: the first account (the admin) was claimed
    P:login:{digest}             hash  a signed-in browser: uid csrf created_at (TTL)
    P:account:{uid}:logins       set   digests of the account's sign-ins
    P:token:{digest}             hash  an API token: id uid name created_at
    P:account:{uid}:tokens       hash  token id -> digest
    P:invite:{digest}            str   an unused invitation (TTL)

Writes that touch several keys run as Lua scripts, so they are atomic.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Sequence
from dataclasses import asdict
from typing import Any, cast

import orjson
from redis.asyncio import Redis
from redis.typing import EncodableT, FieldT

from parlour.domain import Message, ReplyEvent, SessionInfo, new_id, now
from parlour.errors import InvalidInput, NotFound

Fields = dict[FieldT, EncodableT]

_APPEND_MESSAGE = """
-- KEYS: session hash, messages list, user's sessions zset
-- ARGV: message json, max messages, ttl seconds (0 = none), timestamp, session id, title if empty
-- Returns the message count, or -1 if the session does not exist.
if redis.call('EXISTS', KEYS[1]) == 0 then return -1 end
redis.call('RPUSH', KEYS[2], ARGV[1])
redis.call('LTRIM', KEYS[2], -tonumber(ARGV[2]), -1)
local count = redis.call('LLEN', KEYS[2])
redis.call('HSET', KEYS[1], 'updated_at', ARGV[4], 'message_count', count)
if ARGV[6] ~= '' and redis.call('HGET', KEYS[1], 'title') == '' then
  redis.call('HSET', KEYS[1], 'title', ARGV[6])
end
redis.call('ZADD', KEYS[3], ARGV[4], ARGV[5])
local ttl = tonumber(ARGV[3])
if ttl > 0 then
  redis.call('EXPIRE', KEYS[1], ttl)
  redis.call('EXPIRE', KEYS[2], ttl)
end
return count
"""

_TRUNCATE = """
-- Cut the conversation at a user message: keep it (ARGV[2] = '1') or drop it too.
-- KEYS: messages list, session hash; ARGV: message id, keep, how far back to look
local n = redis.call('LLEN', KEYS[1])
local start = math.max(0, n - tonumber(ARGV[3]))
local items = redis.call('LRANGE', KEYS[1], start, -1)
for i = #items, 1, -1 do
  local message = cjson.decode(items[i])
  if message['id'] == ARGV[1] then
    if message['role'] ~= 'user' then return -2 end
    local last = start + i - 1
    if ARGV[2] ~= '1' then last = last - 1 end
    if last < 0 then redis.call('DEL', KEYS[1]) else redis.call('LTRIM', KEYS[1], 0, last) end
    redis.call('HSET', KEYS[2], 'message_count', redis.call('LLEN', KEYS[1]))
    return 1
  end
end
return -1
"""

_CLAIM_REPLY = """
-- KEYS: the session's reply lock, the owner's running replies, the reply's facts,
--       the conversation's messages
-- ARGV: reply id, ttl, most replies the owner may run at once (0: any number),
--       facts' ttl, how many of the newest messages to return,
--       then the facts as field, value, ...
-- Returns 0 (a reply is running), -1 (the owner runs ``most``), or {1, messages...}
-- read under the lock, so no reply can add to them meanwhile. (The reply's heartbeat
-- starts once it runs: a claimed reply is not yet the reaper's business.)
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
local most = tonumber(ARGV[3])
if most > 0 and redis.call('SCARD', KEYS[2]) >= most then return -1 end
redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2])
redis.call('SADD', KEYS[2], ARGV[1])
redis.call('EXPIRE', KEYS[2], ARGV[2])
redis.call('HSET', KEYS[3], unpack(ARGV, 6))
redis.call('EXPIRE', KEYS[3], ARGV[4])
local result = {1}
local count = tonumber(ARGV[5])
if count > 0 then
  for _, item in ipairs(redis.call('LRANGE', KEYS[4], -count, -1)) do
    result[#result + 1] = item
  end
end
return result
"""

_RELEASE_REPLY = """
-- KEYS: the session's reply lock, the owner's running replies, the running replies,
--       the reply's facts, the owner's usage today
-- ARGV: reply id, its final status, tokens to count
redis.call('SREM', KEYS[2], ARGV[1])
redis.call('ZREM', KEYS[3], ARGV[1])
redis.call('HSET', KEYS[4], 'status', ARGV[2])
if tonumber(ARGV[3]) > 0 then
  redis.call('INCRBY', KEYS[5], ARGV[3])
  redis.call('EXPIRE', KEYS[5], 172800)
end
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""

# Storing a finished reply's message and freeing its session, as one script (one round
# trip, all or nothing). KEYS: the append's three, then the release's five; ARGV: the
# append's six, then the release's three. Returns the append's result, or -2 (nothing
# done) if the reaper already closed the reply as interrupted.
_FINISH_REPLY = f"""
if redis.call('HGET', KEYS[7], 'status') == 'interrupted' then return -2 end
local function append(KEYS, ARGV)
{_APPEND_MESSAGE}
end
local function release(KEYS, ARGV)
{_RELEASE_REPLY}
end
local count = append({{KEYS[1], KEYS[2], KEYS[3]}}, {{unpack(ARGV, 1, 6)}})
release({{KEYS[4], KEYS[5], KEYS[6], KEYS[7], KEYS[8]}}, {{ARGV[7], ARGV[8], ARGV[9]}})
return count
"""


_ID = re.compile(r"[0-9a-f]{32}")


def is_id(value: str) -> bool:
    """Whether ``value`` has the shape of the ids Parlour makes (128 random bits, hex)."""
    return _ID.fullmatch(value) is not None


def _today() -> str:
    return time.strftime("%Y-%m-%d", time.gmtime())


def _title_from(text: str, limit: int = 60) -> str:
    line = " ".join(text.split())
    return line if len(line) <= limit else line[: limit - 1].rstrip() + "…"


def _messages_from_json(raw: list[str]) -> list[Message]:
    # One parse for the whole page: far cheaper than one call per message.
    return [Message(**fields) for fields in orjson.loads("[" + ",".join(raw) + "]")]


class Keys:
    """Builds every Redis key Parlour uses."""

    def __init__(self, prefix: str) -> None:
        self.p = prefix

    def session(self, sid: str) -> str:
        return f"{self.p}:session:{sid}"

    def messages(self, sid: str) -> str:
        return f"{self.p}:session:{sid}:messages"

    def user_sessions(self, owner: str) -> str:
        return f"{self.p}:user:{owner}:sessions"

    def session_reply(self, sid: str) -> str:
        return f"{self.p}:session:{sid}:reply"

    def reply(self, rid: str) -> str:
        return f"{self.p}:reply:{rid}"

    def reply_events(self, rid: str) -> str:
        return f"{self.p}:reply:{rid}:events"

    def running_replies(self) -> str:
        return f"{self.p}:replies:running"

    def reaper(self, rid: str) -> str:
        return f"{self.p}:reply:{rid}:reaper"

    def user_replies(self, owner: str) -> str:
        return f"{self.p}:user:{owner}:replies"

    def user_usage(self, owner: str, day: str) -> str:
        return f"{self.p}:user:{owner}:usage:{day}"

    def account(self, uid: str) -> str:
        return f"{self.p}:account:{uid}"

    def account_names(self) -> str:
        return f"{self.p}:accounts:names"

    def accounts(self) -> str:
        return f"{self.p}:accounts"

    def first_account(self) -> str:
        return f"{self.p}:accounts:first"

    def login(self, digest: str) -> str:
        return f"{self.p}:login:{digest}"

    def account_logins(self, uid: str) -> str:
        return f"{self.p}:account:{uid}:logins"

    def token(self, digest: str) -> str:
        return f"{self.p}:token:{digest}"

    def account_tokens(self, uid: str) -> str:
        return f"{self.p}:account:{uid}:tokens"

    def invite(self, digest: str) -> str:
        return f"{self.p}:invite:{digest}"

    def stop_channel(self) -> str:
        return f"{self.p}:stop"


class ConversationStore:
    """Sessions, messages and reply streams, for owners identified by a string."""

    def __init__(
        self,
        redis: Redis,
        *,
        prefix: str = "parlour",
        max_messages: int = 10_000,
        ttl_seconds: int = 0,
        reply_stream_ttl: int = 600,
    ) -> None:
        self.redis = redis
        self.keys = Keys(prefix)
        self.max_messages = max_messages
        self.ttl_seconds = ttl_seconds
        self.reply_stream_ttl = reply_stream_ttl
        self._append = redis.register_script(_APPEND_MESSAGE)
        self._claim = redis.register_script(_CLAIM_REPLY)
        self._truncate = redis.register_script(_TRUNCATE)
        self._release = redis.register_script(_RELEASE_REPLY)
        self._finish = redis.register_script(_FINISH_REPLY)

    # --- sessions -----------------------------------------------------------

    async def create_session(
        self, owner: str, *, persona: str, model: str, title: str = ""
    ) -> SessionInfo:
        ts = now()
        info = SessionInfo(
            id=new_id(),
            owner=owner,
            title=title,
            persona=persona,
            model=model,
            created_at=ts,
            updated_at=ts,
            message_count=0,
        )
        mapping: Fields = {k: str(v) for k, v in asdict(info).items()}
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.hset(self.keys.session(info.id), mapping=mapping)
            if self.ttl_seconds:
                pipe.expire(self.keys.session(info.id), self.ttl_seconds)
            pipe.zadd(self.keys.user_sessions(owner), {info.id: ts})
            await pipe.execute()
        return info

    async def get_session(self, owner: str, sid: str) -> SessionInfo:
        """The session, if it exists and belongs to ``owner``; else :class:`NotFound`."""
        if not is_id(sid):  # never let a crafted id name another key
            raise NotFound("This conversation does not exist.")
        raw = cast(dict[str, str], await self.redis.hgetall(self.keys.session(sid)))
        if not raw or raw.get("owner") != owner:
            raise NotFound("This conversation does not exist.")
        return self._session_from(raw)

    @staticmethod
    def _session_from(raw: dict[str, str]) -> SessionInfo:
        return SessionInfo(
            id=raw["id"],
            owner=raw["owner"],
            title=raw.get("title", ""),
            persona=raw.get("persona", ""),
            model=raw.get("model", ""),
            created_at=float(raw.get("created_at", 0)),
            updated_at=float(raw.get("updated_at", 0)),
            message_count=int(raw.get("message_count", 0)),
        )

    async def list_sessions(
        self, owner: str, *, offset: int = 0, limit: int = 50
    ) -> tuple[list[SessionInfo], int]:
        """The owner's sessions, most recently active first, and how many there are."""
        zkey = self.keys.user_sessions(owner)
        ids = cast(list[str], await self.redis.zrevrange(zkey, offset, offset + limit - 1))
        total = int(await self.redis.zcard(zkey))
        if not ids:
            return [], total
        async with self.redis.pipeline(transaction=False) as pipe:
            for sid in ids:
                pipe.hgetall(self.keys.session(sid))
            rows = cast(list[dict[str, str]], await pipe.execute())
        sessions: list[SessionInfo] = []
        gone: list[str] = []
        for sid, raw in zip(ids, rows, strict=True):
            if raw and raw.get("owner") == owner:
                sessions.append(self._session_from(raw))
            else:
                gone.append(sid)  # expired: forget it
        if gone:
            await self.redis.zrem(zkey, *gone)
            total -= len(gone)
        return sessions, total

    async def update_session(
        self,
        owner: str,
        sid: str,
        *,
        title: str | None = None,
        persona: str | None = None,
        model: str | None = None,
    ) -> SessionInfo:
        await self.get_session(owner, sid)
        changes: Fields = {
            k: v
            for k, v in (("title", title), ("persona", persona), ("model", model))
            if v is not None
        }
        if changes:
            await self.redis.hset(self.keys.session(sid), mapping=changes)
        return await self.get_session(owner, sid)

    async def delete_session(self, owner: str, sid: str) -> None:
        await self.get_session(owner, sid)
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.delete(self.keys.session(sid), self.keys.messages(sid))
            pipe.zrem(self.keys.user_sessions(owner), sid)
            await pipe.execute()

    # --- messages -------------------------------------------------------------

    def _append_args(self, sid: str, owner: str, message: Message) -> dict[str, Any]:
        title = _title_from(message.content) if message.role == "user" else ""
        return {
            "keys": [
                self.keys.session(sid),
                self.keys.messages(sid),
                self.keys.user_sessions(owner),
            ],
            "args": [
                json.dumps(asdict(message), ensure_ascii=False),
                self.max_messages,
                self.ttl_seconds,
                repr(message.timestamp),
                sid,
                title,
            ],
        }

    async def append_message(self, session: SessionInfo, message: Message) -> int:
        """Store ``message`` at the end of the conversation; returns the message count."""
        count = await self._append(**self._append_args(session.id, session.owner, message))
        if int(count) < 0:
            raise NotFound("This conversation does not exist.")
        return int(count)

    async def messages(
        self, sid: str, *, offset: int = 0, limit: int = 100
    ) -> tuple[list[Message], int]:
        """A page of messages, oldest first, and the total stored."""
        key = self.keys.messages(sid)
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.lrange(key, offset, offset + limit - 1)
            pipe.llen(key)
            raw, total = await pipe.execute()
        return _messages_from_json(raw), int(total)

    async def truncate_at(self, sid: str, message_id: str, *, keep: bool, depth: int = 200) -> None:
        """Remove everything after a recent user message (and the message too unless ``keep``)."""
        done = int(
            await self._truncate(
                keys=[self.keys.messages(sid), self.keys.session(sid)],
                args=[message_id, "1" if keep else "0", depth],
            )
        )
        if done == -2:
            raise InvalidInput("Only one of your own messages can be edited.")
        if done < 0:
            raise InvalidInput(
                "That message is not among the recent messages of this conversation."
            )

    async def clear_messages(self, owner: str, sid: str) -> None:
        await self.get_session(owner, sid)
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.delete(self.keys.messages(sid))
            pipe.hset(self.keys.session(sid), mapping={"message_count": 0, "updated_at": now()})
            await pipe.execute()

    # --- replies --------------------------------------------------------------

    async def try_lock_reply(
        self, sid: str, owner: str, rid: str, ttl: int, most: int, facts: Fields, history: int
    ) -> tuple[int, list[Message]]:
        """Claim the session for a new reply: 1 done, 0 one is running, -1 owner at ``most``.

        A claimed reply's ``facts`` are stored; the newest ``history`` messages come
        back with the claim (oldest first).
        """
        keys = [
            self.keys.session_reply(sid),
            self.keys.user_replies(owner),
            self.keys.reply(rid),
            self.keys.messages(sid),
        ]
        args: list[EncodableT] = [rid, ttl, most, max(self.reply_stream_ttl, 86_400), history]
        for name, value in facts.items():
            args += [name, value]
        result = await self._claim(keys=keys, args=args)
        if not isinstance(result, list):
            return int(result), []
        return 1, _messages_from_json(result[1:])

    async def running_reply(self, sid: str) -> str | None:
        return cast(str | None, await self.redis.get(self.keys.session_reply(sid)))

    def _release_args(self, sid: str, owner: str, rid: str, status: str, tokens: int) -> Any:
        keys = [
            self.keys.session_reply(sid),
            self.keys.user_replies(owner),
            self.keys.running_replies(),
            self.keys.reply(rid),
            self.keys.user_usage(owner, _today()),
        ]
        return {"keys": keys, "args": [rid, status, tokens]}

    async def release_reply(
        self, sid: str, owner: str, rid: str, *, status: str, tokens: int = 0
    ) -> None:
        """Free the session: the reply ended with ``status``; count its ``tokens``."""
        await self._release(**self._release_args(sid, owner, rid, status, tokens))

    async def finish_reply(
        self, sid: str, owner: str, rid: str, message: Message, *, status: str, tokens: int
    ) -> bool:
        """Store a reply's message and free its session, in one transaction.

        False if the conversation was deleted meanwhile (the session is freed anyway), or
        if the reply was already closed as interrupted (by another process that took it
        for dead).
        """
        append = self._append_args(sid, owner, message)
        release = self._release_args(sid, owner, rid, status, tokens)
        count = await self._finish(
            keys=append["keys"] + release["keys"], args=append["args"] + release["args"]
        )
        return int(count) >= 0

    async def stale_replies(self, older_than: float) -> list[str]:
        """Running replies whose heartbeat is older than ``older_than`` (a timestamp)."""
        return cast(
            list[str],
            await self.redis.zrangebyscore(self.keys.running_replies(), "-inf", older_than),
        )

    async def claim_cleanup(self, rid: str, ttl: int) -> bool:
        """One process only cleans up after a dead reply."""
        return bool(await self.redis.set(self.keys.reaper(rid), "1", nx=True, ex=ttl))

    async def forget_running(self, rid: str) -> None:
        await self.redis.zrem(self.keys.running_replies(), rid)

    async def reply_meta(self, rid: str) -> dict[str, str]:
        if not is_id(rid):
            return {}
        return cast(dict[str, str], await self.redis.hgetall(self.keys.reply(rid)))

    async def append_events(self, rid: str, events: Sequence[ReplyEvent], *, final: bool) -> None:
        """Add a batch of events to the reply's stream; a final batch sets its expiry."""
        await self.journal([(rid, events, final)], [], 0)

    async def journal(
        self,
        batches: Sequence[tuple[str, Sequence[ReplyEvent], bool]],
        renew: Sequence[tuple[str, str, str]],
        lock_ttl: int,
    ) -> None:
        """In one round trip: event batches for several replies (rid, events, final), and
        the session locks of running replies (session, owner, rid) renewed for ``lock_ttl``."""
        async with self.redis.pipeline(transaction=False) as pipe:
            for rid, events, final in batches:
                key = self.keys.reply_events(rid)
                pipe.xadd(key, {"b": orjson.dumps([[e.seq, e.kind, e.data] for e in events])})
                ttl = self.reply_stream_ttl if final else max(self.reply_stream_ttl, 86_400)
                pipe.expire(key, ttl)
            stamp = now()
            for sid, owner, rid in renew:
                pipe.expire(self.keys.session_reply(sid), lock_ttl)
                pipe.expire(self.keys.user_replies(owner), lock_ttl)
                pipe.zadd(self.keys.running_replies(), {rid: stamp})
            await pipe.execute()

    async def read_events(
        self, rid: str, after_entry: str, block_ms: int
    ) -> list[tuple[str, list[ReplyEvent]]]:
        """Stream entries after ``after_entry`` ('0' for all), waiting up to ``block_ms``."""
        key = self.keys.reply_events(rid)
        result: Any = await self.redis.xread({key: after_entry}, block=block_ms, count=100)
        out: list[tuple[str, list[ReplyEvent]]] = []
        for _stream, entries in result or []:
            for entry_id, fields in entries:
                batch = orjson.loads(fields["b"])
                out.append((entry_id, [ReplyEvent(seq, kind, data) for seq, kind, data in batch]))
        return out

    async def has_events(self, rid: str) -> bool:
        """Whether the reply's stream still exists (finished streams expire)."""
        return bool(await self.redis.exists(self.keys.reply_events(rid)))

    async def all_events(self, rid: str) -> list[ReplyEvent]:
        """Every event stored for the reply, in order."""
        entries: Any = await self.redis.xrange(self.keys.reply_events(rid))
        return [
            ReplyEvent(seq, kind, data)
            for _entry_id, fields in entries
            for seq, kind, data in orjson.loads(fields["b"])
        ]

    async def usage_today(self, owner: str) -> int:
        return int(await self.redis.get(self.keys.user_usage(owner, _today())) or 0)

    async def publish_stop(self, rid: str) -> None:
        await self.redis.publish(self.keys.stop_channel(), rid)
