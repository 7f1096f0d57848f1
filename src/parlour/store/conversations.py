"""ConversationStore: conversations and their trees of messages, in Redis.

Editing a message or answering it again never deletes anything: the new message
becomes a sibling of the old one (same parent), and the *active branch* moves to
it. Only an explicit delete removes messages (a branch, or the whole conversation).
Key layout: :mod:`parlour.store.keys`; the tree scripts: :mod:`parlour.store.lua`.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable
from dataclasses import asdict
from dataclasses import fields as dataclass_fields
from typing import Any, cast

import orjson
from redis.asyncio import Redis
from redis.typing import EncodableT, FieldT

from parlour.domain import ChatParams, Message, MessageNode, SessionInfo, new_id, now
from parlour.errors import ConversationFull, InvalidInput, NotFound, ReplyInProgress
from parlour.sampling import params_of
from parlour.store.keys import Keys, is_id
from parlour.store.lua import TREE

Fields = dict[FieldT, EncodableT]
# SessionInfo's fields kept only while set (see store/organise.py).
ORGANISE = frozenset({"pinned", "archived", "folder", "deleted"})

_APPEND = (
    TREE
    + """
-- KEYS: conv msgs tree path; ARGV: json id parent most ts title ttl
return add_child(KEYS[1], KEYS[2], KEYS[3], KEYS[4], unpack(ARGV, 1, 7))
"""
)

_SELECT = (
    TREE
    + """
-- Make message ARGV[1] active; with ARGV[2] = '1', down to the newest leaf below it.
-- KEYS: conv msgs tree path reply-lock; ARGV[3]: the reply that may hold the lock.
-- Returns the active leaf's id, or -1 (no conversation), -2 (no such message), 0 (a
-- reply is running).
if redis.call('EXISTS', KEYS[1]) == 0 then return -1 end
local holder = redis.call('GET', KEYS[5])
if holder and holder ~= ARGV[3] then return 0 end
if redis.call('HEXISTS', KEYS[2], ARGV[1]) == 0 then return -2 end
path_to(KEYS[3], KEYS[4], ARGV[1])
local leaf = ARGV[1]
if ARGV[2] == '1' then leaf = descend(KEYS[3], KEYS[4], ARGV[1]) end
redis.call('HSET', KEYS[1], 'active', leaf)
return leaf
"""
)

_DELETE_BRANCH = (
    TREE
    + """
-- Delete message ARGV[1] and everything below it. KEYS: conv msgs tree path reply-lock.
-- Returns how many messages went, or -1 (no conversation), -2 (no such message), 0 (a
-- reply is running). If the active branch ran through it, the branch moves to the
-- previous sibling (else the next one), down to its newest leaf.
if redis.call('EXISTS', KEYS[1]) == 0 then return -1 end
if redis.call('EXISTS', KEYS[5]) == 1 then return 0 end
local id = ARGV[1]
if redis.call('HEXISTS', KEYS[2], id) == 0 then return -2 end
local parent = redis.call('HGET', KEYS[3], 'u:' .. id) or ''
local stack, gone = {id}, 0
while #stack > 0 do
  local cur = table.remove(stack)
  for _, kid in ipairs(children(KEYS[3], cur)) do stack[#stack + 1] = kid end
  redis.call('HDEL', KEYS[2], cur)
  redis.call('HDEL', KEYS[3], 'u:' .. cur, 'k:' .. cur)
  gone = gone + 1
end
local rest, pos = {}, 0
for i, kid in ipairs(children(KEYS[3], parent)) do
  if kid == id then pos = i else rest[#rest + 1] = kid end
end
if #rest == 0 then redis.call('HDEL', KEYS[3], 'k:' .. parent)
else redis.call('HSET', KEYS[3], 'k:' .. parent, cjson.encode(rest)) end
if redis.call('LPOS', KEYS[4], id) then
  path_to(KEYS[3], KEYS[4], parent)
  local other = rest[pos - 1] or rest[pos]
  local leaf = parent
  if other then
    redis.call('RPUSH', KEYS[4], other)
    leaf = descend(KEYS[3], KEYS[4], other)
  end
  redis.call('HSET', KEYS[1], 'active', leaf)
end
local count = tonumber(redis.call('HGET', KEYS[1], 'message_count') or '0') - gone
redis.call('HSET', KEYS[1], 'message_count', math.max(count, 0), 'updated_at', ARGV[2])
return gone
"""
)

_CLEAR = """
-- KEYS: conv msgs tree path reply-lock; ARGV: timestamp. 1 done, 0 a reply runs, -1 none.
if redis.call('EXISTS', KEYS[1]) == 0 then return -1 end
if redis.call('EXISTS', KEYS[5]) == 1 then return 0 end
redis.call('DEL', KEYS[2], KEYS[3], KEYS[4])
redis.call('HSET', KEYS[1], 'message_count', 0, 'updated_at', ARGV[1], 'active', '')
return 1
"""

_READ_PATH = (
    TREE
    + """
-- A page of the active branch: KEYS msgs tree path; ARGV offset limit.
-- Returns {total, n, the first one's parent, n messages' JSON, n sibling lists' JSON}.
local total = redis.call('LLEN', KEYS[3])
local first = tonumber(ARGV[1])
local ids = redis.call('LRANGE', KEYS[3], first, first + tonumber(ARGV[2]) - 1)
local before = ''
if first > 0 then before = redis.call('LINDEX', KEYS[3], first - 1) or '' end
local out = {total, #ids, before}
if #ids == 0 then return out end
local parents = {}
for i, id in ipairs(ids) do
  parents[i] = 'k:' .. before
  before = id
end
for _, v in ipairs(hmget_all(KEYS[1], ids)) do out[#out + 1] = v end
for _, v in ipairs(hmget_all(KEYS[2], parents)) do out[#out + 1] = v end
return out
"""
)


_BRANCH_IDS = (
    TREE
    + """
-- The ids of the branch through message ARGV[1], first message to its newest leaf,
-- without changing which branch is active. KEYS: msgs tree. {} if there is no such message.
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 0 then return {} end
local up = {}
local cur = ARGV[1]
while cur and cur ~= '' do
  up[#up + 1] = cur
  cur = redis.call('HGET', KEYS[2], 'u:' .. cur)
end
local ids = {}
for i = #up, 1, -1 do ids[#ids + 1] = up[i] end
local leaf = ARGV[1]
while true do
  local kids = children(KEYS[2], leaf)
  if #kids == 0 then break end
  leaf = kids[#kids]
  ids[#ids + 1] = leaf
end
return ids
"""
)


_SET_PARAMS = """
-- KEYS: conv; ARGV: the parameters' JSON. 1 done, 0 no such conversation (not made anew).
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('HSET', KEYS[1], 'params', ARGV[1])
return 1
"""


def params_from(raw: str | None) -> ChatParams:
    """A conversation's stored parameters; fields this version does not know are ignored."""
    if not raw:
        return ChatParams()
    try:
        stored = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return ChatParams()
    return params_of(stored)


def title_from(text: str, limit: int = 60) -> str:
    line = " ".join(text.split())
    return line if len(line) <= limit else line[: limit - 1].rstrip() + "…"


def message_json(message: Message) -> str:
    """A message as stored: everything but its place in the tree (kept in the tree)."""
    # Plain values, read as they are (asdict would deep-copy each one).
    fields = {name: getattr(message, name) for name in _STORED}
    for name, empty in _UNSET:  # newer fields are left out until used: older ones
        if fields[name] == empty:  # decode as they did, and storage stays small
            del fields[name]
    return orjson.dumps(fields).decode()


_STORED = tuple(f.name for f in dataclass_fields(Message) if f.name != "parent")
_UNSET: tuple[tuple[str, object], ...] = (
    ("reasoning", ""),
    ("reasoning_seconds", None),
    ("prompt_tokens", None),
    ("completion_tokens", None),
    ("duration", None),
)


def messages_from_json(raw: list[str | None], parents: list[str]) -> list[Message]:
    """Decode stored messages (one parse for them all); ``parents`` in the same order."""
    present = [(r, p) for r, p in zip(raw, parents, strict=True) if r is not None]
    decoded = orjson.loads("[" + ",".join(r for r, _p in present) + "]")
    return [
        Message(**fields, parent=p or None)
        for fields, (_r, p) in zip(decoded, present, strict=True)
    ]


class ConversationStore:
    """Conversations and their message trees, for owners identified by a string."""

    def __init__(
        self,
        redis: Redis,
        keys: Keys,
        *,
        max_messages: int = 10_000,
        ttl_seconds: int = 0,
    ) -> None:
        self.redis = redis
        self.keys = keys
        self.max_messages = max_messages
        self.ttl_seconds = ttl_seconds
        self._append = redis.register_script(_APPEND)
        self._select = redis.register_script(_SELECT)
        self._delete_branch = redis.register_script(_DELETE_BRANCH)
        self._clear = redis.register_script(_CLEAR)
        self._read_path = redis.register_script(_READ_PATH)
        self._branch_ids = redis.register_script(_BRANCH_IDS)
        self._set_params = redis.register_script(_SET_PARAMS)
        # Told of every stored message (owner, conversation id, message): the search index.
        self.listeners: list[Callable[[str, str, Message], None]] = []
        # Told of every change (owner, conversation id, what): the pages kept live.
        self.watchers: list[Callable[[str, str, str], None]] = []

    def stored(self, owner: str, sid: str, message: Message) -> None:
        for listener in self.listeners:
            listener(owner, sid, message)
        self.changed(owner, sid, "message")

    def changed(self, owner: str, sid: str, kind: str) -> None:
        for watcher in self.watchers:
            watcher(owner, sid, kind)

    # --- conversations ----------------------------------------------------------

    async def create_session(
        self, owner: str, *, persona: str, model: str, title: str = ""
    ) -> SessionInfo:
        ts = now()
        info = SessionInfo(new_id(), owner, title, persona, model, ts, ts, 0, "")
        skip = {"params", *ORGANISE}  # written only when set
        mapping: Fields = {k: str(v) for k, v in asdict(info).items() if k not in skip}
        key = self.keys.conversation(info.id)
        # Two slots: the conversation first, then the owner's list (an unlisted
        # conversation is harmless; a listed missing one is dropped when listed).
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.hset(key, mapping=mapping)
            if self.ttl_seconds:
                pipe.expire(key, self.ttl_seconds)
            await pipe.execute()
        await self.redis.zadd(self.keys.user_sessions(owner), {info.id: ts})
        self.changed(owner, info.id, "created")
        return info

    async def get_session(self, owner: str, sid: str) -> SessionInfo:
        """The conversation, if it exists and belongs to ``owner``; else :class:`NotFound`."""
        if not is_id(sid):  # never let a crafted id name another key
            raise NotFound("This conversation does not exist.")
        raw = cast(dict[str, str], await self.redis.hgetall(self.keys.conversation(sid)))
        if not raw or raw.get("owner") != owner or float(raw.get("deleted") or 0):
            raise NotFound("This conversation does not exist.")
        return session_from(raw)

    async def list_sessions(
        self, owner: str, *, offset: int = 0, limit: int = 50
    ) -> tuple[list[SessionInfo], int]:
        """The owner's conversations, most recently active first, and how many there are."""
        zkey = self.keys.user_sessions(owner)
        ids = cast(list[str], await self.redis.zrevrange(zkey, offset, offset + limit - 1))
        total = int(await self.redis.zcard(zkey))
        if not ids:
            return [], total
        async with self.redis.pipeline(transaction=False) as pipe:
            for sid in ids:
                pipe.hgetall(self.keys.conversation(sid))
            rows = cast(list[dict[str, str]], await pipe.execute())
        sessions: list[SessionInfo] = []
        gone: list[str] = []
        for sid, raw in zip(ids, rows, strict=True):
            if raw and raw.get("owner") == owner and not float(raw.get("deleted") or 0):
                sessions.append(session_from(raw))
            else:
                gone.append(sid)  # expired: forget it
        if gone:
            await self.redis.zrem(zkey, *gone)
            total -= len(gone)
        return sessions, total

    async def update_session(
        self,
        session: SessionInfo,
        *,
        title: str | None = None,
        persona: str | None = None,
        model: str | None = None,
    ) -> SessionInfo:
        changes: Fields = {
            k: v
            for k, v in (("title", title), ("persona", persona), ("model", model))
            if v is not None
        }
        if changes:
            await self.redis.hset(self.keys.conversation(session.id), mapping=changes)
            self.changed(session.owner, session.id, "updated")
        return await self.get_session(session.owner, session.id)

    async def set_params(self, session: SessionInfo, params: ChatParams) -> SessionInfo:
        """Store the conversation's own parameters (all of them: unset ones are left out)."""
        values = {k: v for k, v in asdict(params).items() if v is not None}
        done = await self._set_params(
            keys=[self.keys.conversation(session.id)], args=[orjson.dumps(values).decode()]
        )
        if not done:
            raise NotFound("This conversation does not exist.")
        return await self.get_session(session.owner, session.id)

    async def delete_session(self, session: SessionInfo) -> None:
        sid, owner = session.id, session.owner
        async with self.redis.pipeline(transaction=False) as pipe:
            for key in (self.keys.user_sessions(owner), self.keys.user_pinned(owner),
                        self.keys.user_archived(owner), self.keys.user_trash(owner)):  # fmt: skip
                pipe.zrem(key, sid)
            if session.folder:
                pipe.srem(self.keys.folder_members(owner, session.folder), sid)
            await pipe.execute()
        await self.redis.delete(
            *self.keys.conversation_keys(sid),
            *self.keys.cleared_keys(sid),
            *self.keys.summary_keys(sid),
        )
        self.changed(owner, sid, "deleted")

    async def touch(self, session: SessionInfo, ts: float) -> None:
        """Move the conversation up the owner's list (it was active at ``ts``)."""
        await self.redis.zadd(self.keys.user_sessions(session.owner), {session.id: ts})

    # --- messages ---------------------------------------------------------------------

    def append_args(self, sid: str, message: Message, parent: str) -> tuple[list[str], list[Any]]:
        """KEYS and ARGV of the tree's ``add_child`` for ``message`` under ``parent``."""
        title = title_from(message.content) if message.role == "user" else ""
        args = [
            message_json(message),
            message.id,
            parent,
            self.max_messages,
            repr(message.timestamp),
            title,
            self.ttl_seconds,
        ]
        return self.keys.conversation_keys(sid), args

    async def append_message(self, session: SessionInfo, message: Message) -> int:
        """Store ``message`` under ``message.parent`` (None: a first message), making it
        the active leaf; returns the message count."""
        keys, args = self.append_args(session.id, message, message.parent or "")
        count = int(await self._append(keys=keys, args=args))
        check_added(count)
        self.stored(session.owner, session.id, message)
        await self.touch(session, message.timestamp)
        return count

    async def messages(
        self, sid: str, *, offset: int = 0, limit: int = 100
    ) -> tuple[list[MessageNode], int]:
        """A page of the active branch, oldest first, each message with its siblings; and
        the branch's length."""
        result = await self._read_path(
            keys=[self.keys.messages(sid), self.keys.tree(sid), self.keys.path(sid)],
            args=[offset, limit],
        )
        total, n, before = int(result[0]), int(result[1]), str(result[2])
        raw: list[str | None] = result[3 : 3 + n]
        kids: list[str | None] = result[3 + n : 3 + 2 * n]
        present = [(r, k) for r, k in zip(raw, kids, strict=True) if r is not None]
        decoded = orjson.loads("[" + ",".join(r for r, _k in present) + "]")
        nodes: list[MessageNode] = []
        for fields, (_r, k) in zip(decoded, present, strict=True):
            message = Message(**fields, parent=before or None)
            nodes.append(MessageNode(message, orjson.loads(k) if k else [message.id]))
            before = message.id
        return nodes, total

    async def branch(
        self, sid: str, through: str, *, offset: int = 0, limit: int = 100
    ) -> tuple[list[MessageNode], int]:
        """Like :meth:`messages`, for the branch through message ``through`` (first
        message to its newest leaf), active or not."""
        if not is_id(through):
            raise NotFound("This message does not exist.")
        ids = cast(
            list[str],
            await self._branch_ids(
                keys=[self.keys.messages(sid), self.keys.tree(sid)], args=[through]
            ),
        )
        if not ids:
            raise NotFound("This message does not exist.")
        page = ids[offset : offset + limit]
        if not page:
            return [], len(ids)
        parents = [ids[offset - 1] if offset > 0 else "", *page[:-1]]
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.hmget(self.keys.messages(sid), page)
            pipe.hmget(self.keys.tree(sid), [f"k:{p}" for p in parents])
            raw, kids = await pipe.execute()
        rows = [(r, p, k) for r, p, k in zip(raw, parents, kids, strict=True) if r is not None]
        messages = messages_from_json([r for r, _p, _k in rows], [p for _r, p, _k in rows])
        nodes = [
            MessageNode(message, orjson.loads(k) if k else [message.id])
            for message, (_r, _p, k) in zip(messages, rows, strict=True)
        ]
        return nodes, len(ids)

    async def walk(self, sid: str, page: int = 500) -> AsyncIterator[list[MessageNode]]:
        """The whole active branch, a page at a time (constant memory for exports)."""
        offset = 0
        while True:
            nodes, total = await self.messages(sid, offset=offset, limit=page)
            if nodes:
                yield nodes
            offset += page
            if offset >= total:
                return

    async def tree(self, sid: str) -> tuple[list[Message], str]:
        """Every message of the conversation (any branch) in the order they were written,
        and the active leaf."""
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.hgetall(self.keys.messages(sid))
            pipe.hgetall(self.keys.tree(sid))
            pipe.lindex(self.keys.path(sid), -1)
            raw, tree, leaf = await pipe.execute()
        ids = list(raw)
        messages = messages_from_json([raw[i] for i in ids], [tree.get(f"u:{i}", "") for i in ids])
        messages.sort(key=lambda m: m.timestamp)
        return messages, leaf or ""

    async def select(
        self, session: SessionInfo, message_id: str, *, descend: bool, holder: str = ""
    ) -> str:
        """Make the branch through ``message_id`` active (down to its newest leaf if
        ``descend``); returns the active leaf. Refused while a reply other than
        ``holder`` runs."""
        if not is_id(message_id):
            raise NotFound("This message does not exist.")
        result = await self._select(
            keys=[*self.keys.conversation_keys(session.id), self.keys.session_reply(session.id)],
            args=[message_id, "1" if descend else "0", holder],
        )
        if isinstance(result, str):
            self.changed(session.owner, session.id, "branch")
            return result
        code = int(result)
        if code == 0:
            raise ReplyInProgress(
                "A reply is being written in this conversation. Wait for it or stop it "
                "before switching branches."
            )
        if code == -2:
            raise NotFound("This message does not exist.")
        raise NotFound("This conversation does not exist.")

    async def delete_branch(self, session: SessionInfo, message_id: str) -> int:
        """Delete a message and everything below it; returns how many messages went."""
        if not is_id(message_id):
            raise NotFound("This message does not exist.")
        gone = int(
            await self._delete_branch(
                keys=[
                    *self.keys.conversation_keys(session.id),
                    self.keys.session_reply(session.id),
                ],
                args=[message_id, now()],
            )
        )
        if gone == 0:
            raise ReplyInProgress(
                "A reply is being written in this conversation. Wait for it or stop it first."
            )
        if gone == -2:
            raise NotFound("This message does not exist.")
        if gone < 0:
            raise NotFound("This conversation does not exist.")
        self.changed(session.owner, session.id, "branch")
        return gone

    async def clear_messages(self, session: SessionInfo) -> None:
        done = int(
            await self._clear(
                keys=[
                    *self.keys.conversation_keys(session.id),
                    self.keys.session_reply(session.id),
                ],
                args=[now()],
            )
        )
        if done == 0:
            raise ReplyInProgress(
                "A reply is being written in this conversation. Wait for it or stop it first."
            )
        if done < 0:
            raise NotFound("This conversation does not exist.")
        self.changed(session.owner, session.id, "cleared")

    async def running_reply(self, sid: str) -> str | None:
        return cast(str | None, await self.redis.get(self.keys.session_reply(sid)))


def check_added(count: int) -> None:
    """Raise for the error results of ``add_child``."""
    if count == -1:
        raise NotFound("This conversation does not exist.")
    if count == -2:
        raise InvalidInput("That message is not in this conversation.")
    if count == -3:
        raise ConversationFull()


def session_from(raw: dict[str, str]) -> SessionInfo:
    return SessionInfo(
        id=raw["id"],
        owner=raw["owner"],
        title=raw.get("title", ""),
        persona=raw.get("persona", ""),
        model=raw.get("model", ""),
        created_at=float(raw.get("created_at", 0)),
        updated_at=float(raw.get("updated_at", 0)),
        message_count=int(raw.get("message_count", 0)),
        active=raw.get("active", ""),
        params=params_from(raw.get("params")),
        pinned=float(raw.get("pinned") or 0),
        archived=float(raw.get("archived") or 0),
        folder=raw.get("folder", ""),
        deleted=float(raw.get("deleted") or 0),
    )


def today() -> str:
    return time.strftime("%Y-%m-%d", time.gmtime())
