"""Backfill: index the messages stored before the search index existed.

Resumable and bounded: each :meth:`Backfill.step` does one small piece (one SCAN page
of owners, one conversation's next page of messages) and records where it stopped in
``P:{search}:fill``, so a restart carries on. Several processes may run it: only the
holder of ``P:{search}:fill:lock`` steps. Messages stored since ``P:{search}:since``
are indexed as they are stored, so the backfill skips them; a conversation it has
finished carries ``indexed`` in its hash and is not read again when its activity moves
it up the owner's list. Owners are found by SCAN; a cluster's cursor belongs to one node,
so there its primaries are scanned one after another and the state names the node too.
"""

from __future__ import annotations

from typing import Any, cast

import orjson
from redis.asyncio import Redis
from redis.asyncio.cluster import RedisCluster
from redis.typing import EncodableT, FieldT

from parlour.domain import Message, now
from parlour.store.keys import Keys
from parlour.store.search import SearchIndex

_MARK = """
-- KEYS: conversation; only an existing conversation is marked (never re-created).
if redis.call('EXISTS', KEYS[1]) == 1 then redis.call('HSET', KEYS[1], 'indexed', '1') end
return 1
"""

_HOLD = """
-- KEYS: lock; ARGV: token ms. Take the lock, or renew it if it is ours.
local holder = redis.call('GET', KEYS[1])
if holder == false then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 1
end
if holder == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
return 0
"""


class Backfill:
    def __init__(self, redis: Redis, keys: Keys, index: SearchIndex, *, page: int = 100) -> None:
        self.redis = redis
        self.keys = keys
        self.index = index
        self.page = page
        self._mark = redis.register_script(_MARK)
        self._hold = redis.register_script(_HOLD)
        self.since = 0.0
        self.pattern = keys.user_sessions_pattern()

    async def begin(self) -> float:
        """Fix when indexing began (the first process to start with search sets it)."""
        await self.redis.set(self.keys.search_since(), repr(now()), nx=True)
        self.since = float(cast(str, await self.redis.get(self.keys.search_since())))
        return self.since

    async def done(self) -> bool:
        return bool(await self.redis.hget(self.keys.search_fill(), "done"))

    async def hold(self, token: str, ttl_ms: int) -> bool:
        return bool(await self._hold(keys=[self.keys.search_fill_lock()], args=[token, ttl_ms]))

    async def step(self) -> bool:
        """Do one bounded piece of the backfill; False once everything is indexed."""
        fill = self.keys.search_fill()
        state = cast(dict[str, str], await self.redis.hgetall(fill))
        if state.get("done"):
            return False
        owner = cast(str | None, await self.redis.lindex(self.keys.search_fill_owners(), 0))
        if owner is None:
            return await self._find_owners(state)
        if state.get("sid"):
            await self._index_page(owner, state["sid"], state.get("hcursor", "0"))
            return True
        after = state.get("score", "-inf")
        nxt = cast(
            list[tuple[str, float]],
            await self.redis.zrangebyscore(
                self.keys.user_sessions(owner), f"({after}" if after != "-inf" else after,
                "+inf", start=0, num=1, withscores=True,
            ),
        )  # fmt: skip
        if not nxt:
            async with self.redis.pipeline(transaction=True) as pipe:
                pipe.lpop(self.keys.search_fill_owners())
                pipe.hdel(fill, "score", "sid", "hcursor")
                await pipe.execute()
            return True
        sid, score = nxt[0]
        mapping: dict[FieldT, EncodableT] = {"score": repr(score)}
        if not await self.redis.hget(self.keys.conversation(sid), "indexed"):
            mapping |= {"sid": sid, "hcursor": "0"}
        await self.redis.hset(fill, mapping=mapping)
        return True

    async def _find_owners(self, state: dict[str, str]) -> bool:
        fill = self.keys.search_fill()
        # A scan begun before nodes were recorded ended with cursor "0".
        legacy_end = state.get("started") and state.get("cursor") == "0" and "node" not in state
        if state.get("scanned") or legacy_end:
            await self.redis.hset(fill, "done", "1")
            return False
        node, cursor, found = await self._scan(state.get("node", ""), int(state.get("cursor", "0")))
        owners = [o for k in found if (o := self.keys.owner_of_sessions_key(str(k))) is not None]
        mapping: dict[FieldT, EncodableT] = {"node": node or "", "cursor": str(cursor),
                                             "started": "1"}  # fmt: skip
        if node is None:
            mapping["scanned"] = "1"
        async with self.redis.pipeline(transaction=True) as pipe:
            if owners:
                pipe.rpush(self.keys.search_fill_owners(), *owners)
            pipe.hset(fill, mapping=mapping)
            await pipe.execute()
        return True

    async def _scan(self, node: str, cursor: int) -> tuple[str | None, int, list[str]]:
        """One SCAN page of owners' lists: (where the next page is, as node and cursor -
        node None when there is none; the keys found). A single server is one node named
        ""; a cluster's primaries are scanned one after another, each with its own
        cursor, in the order of their names."""
        client: object = self.redis
        if not isinstance(client, RedisCluster):
            nxt, found = await self.redis.scan(cursor, match=self.pattern, count=200)
            return ("" if int(nxt) else None), int(nxt), [str(k) for k in found]
        names = sorted(n.name for n in client.get_primaries())
        if node not in names:  # just begun, or that node is gone: (re)start from the first
            node, cursor = names[0], 0
        target = client.get_node(node_name=node)
        # A cluster's SCAN answers with {node name: cursor} (one node asked here).
        answer: Any = await client.scan(cursor, match=self.pattern, count=200, target_nodes=target)
        reply, found = answer
        nxt = int(reply[node] if isinstance(reply, dict) else reply)
        if nxt:
            return node, nxt, [str(k) for k in found]
        later = names.index(node) + 1
        return (names[later] if later < len(names) else None), 0, [str(k) for k in found]

    async def _index_page(self, owner: str, sid: str, hcursor: str) -> None:
        cursor, raw = await self.redis.hscan(self.keys.messages(sid), int(hcursor), count=self.page)
        conv_owner = await self.redis.hget(self.keys.conversation(sid), "owner")
        if conv_owner == owner:
            rows = [orjson.loads(v) for v in cast(dict[str, str], raw).values()]
            rows.sort(key=lambda r: float(r.get("timestamp", 0)))
            older = [Message(**fields) for fields in rows]
            older = [m for m in older if m.timestamp < self.since and m.content]
            if older:
                await self.index.add_many(owner, sid, older)
        fill = self.keys.search_fill()
        if int(cursor) == 0 or conv_owner != owner:
            await self._mark(keys=[self.keys.conversation(sid)])
            await self.redis.hdel(fill, "sid", "hcursor")
        else:
            await self.redis.hset(fill, "hcursor", str(cursor))
