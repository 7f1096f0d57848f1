"""Long conversations written straight into Redis in the store's own layout, pipelined:
for tests and benchmarks that need thousands of messages fast (the store's own writes
are exercised elsewhere)."""

from __future__ import annotations

import json
from collections.abc import Callable

from redis import Redis

from parlour.store import Keys


def fill(redis: Redis, sid: str, count: int, text: Callable[[int], str]) -> None:
    """Append ``count`` messages (``text(i)`` each, user and assistant in turn) to the
    conversation's active branch."""
    keys = Keys("parlour")
    path = redis.lrange(keys.path(sid), 0, -1)
    parent = path[-1] if path else ""
    with redis.pipeline(transaction=False) as pipe:
        for i in range(count):
            mid = f"{len(path) + i + 1:032x}"
            message = {"id": mid, "role": "user" if i % 2 == 0 else "assistant",
                       "content": text(i), "timestamp": 1_700_000_000.0 + i,
                       "persona": "assistant", "status": "complete"}  # fmt: skip
            pipe.hset(keys.messages(sid), mid, json.dumps(message))
            pipe.hset(keys.tree(sid), f"u:{mid}", parent)
            pipe.hset(keys.tree(sid), f"k:{parent}", json.dumps([mid]))
            pipe.rpush(keys.path(sid), mid)
            parent = mid
            if i % 500 == 499:
                pipe.execute()
        total = len(path) + count
        pipe.hset(keys.conversation(sid), mapping={"message_count": total, "active": parent})
        pipe.execute()
