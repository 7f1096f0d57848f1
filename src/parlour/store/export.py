"""Reading a whole conversation tree a page at a time, for exports in constant memory.

Only the ids and timestamps of every message are held at once (to put them in the
order they were written); their content is read and handed on a page at a time.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import cast

import orjson
from redis.asyncio import Redis

from parlour.domain import Message
from parlour.store.conversations import messages_from_json
from parlour.store.keys import Keys


async def tree_order(redis: Redis, keys: Keys, sid: str, scan: int = 500) -> tuple[list[str], str]:
    """Every message id of the conversation (any branch) in the order they were written,
    and the active leaf."""
    stamped: list[tuple[float, str]] = []
    cursor = 0
    while True:
        cursor, page = await redis.hscan(keys.messages(sid), cursor, count=scan)
        for mid, raw in cast(dict[str, str], page).items():
            stamped.append((float(orjson.loads(raw)["timestamp"]), mid))
        if cursor == 0:
            break
    stamped.sort(key=lambda pair: pair[0])
    leaf = cast(str | None, await redis.lindex(keys.path(sid), -1))
    return [mid for _ts, mid in stamped], leaf or ""


async def tree_pages(
    redis: Redis, keys: Keys, sid: str, ids: list[str], page: int = 200
) -> AsyncIterator[list[Message]]:
    """The messages with these ids, in this order, ``page`` at a time."""
    for start in range(0, len(ids), page):
        chunk = ids[start : start + page]
        async with redis.pipeline(transaction=False) as pipe:
            pipe.hmget(keys.messages(sid), chunk)
            pipe.hmget(keys.tree(sid), [f"u:{i}" for i in chunk])
            raw, parents = await pipe.execute()
        yield messages_from_json(raw, [p or "" for p in parents])
