"""Row #9: search at scale - one account of SEARCH_OWN messages in a store of SEARCH_TOTAL.

Seeding writes the conversations straight into Redis (the layout of
:mod:`parlour.store.keys`: conversation hash, messages hash, active path, the owner's
list), then indexes them through :class:`SearchIndex` itself (``add_many``), so the
index is what the server builds. Text is synthetic but shaped like chat: English words
drawn from a Zipf-like vocabulary, Chinese from 3,000 characters, code identifiers.
Queries go over HTTP to a real ``parlour serve``; Redis's SLOWLOG (threshold 0.5 ms)
gives the slowest single command during them; a reply's first-token time is measured
alone and during a burst of searches from 4 threads.
"""

from __future__ import annotations

import asyncio
import random
import threading
import time
from typing import Any

import httpx
from redis import Redis as SyncRedis
from redis.asyncio import Redis

from bench.fixtures import OWNER
from bench.report import Row, fmt, pct
from parlour.domain import Message, new_id
from parlour.store import Keys
from parlour.store.conversations import message_json
from parlour.store.search import SearchIndex

_rng = random.Random(17)
_SYLL = ["ka", "lo", "mi", "ne", "ru", "ta", "so", "vi", "de", "pa", "xu", "bo", "li", "an", "er"]
WORDS = sorted({"".join(_rng.choices(_SYLL, k=_rng.randint(2, 4))) for _ in range(20_000)})
HANZI = [chr(0x4E00 + i * 7) for i in range(3_000)]
CODE = ["parse_json", "getUserName", "HTTPServer", "load_config", "retryPolicy", "to_dict"]
QUERIES = {
    "rare word": lambda r: r.choice(WORDS[-2000:]),
    "common word": lambda r: WORDS[r.randint(0, 5)],
    "prefix (3 letters)": lambda r: r.choice(WORDS)[:3],
    "two words": lambda r: f"{WORDS[r.randint(0, 50)]} {r.choice(WORDS[:2000])}",
    "Chinese, 2 characters": lambda r: r.choice(HANZI[:300]) + r.choice(HANZI[:300]),
    "Chinese, 4 characters": lambda r: "".join(r.choices(HANZI[:100], k=4)),
    "Chinese, 1 character": lambda r: r.choice(HANZI[:500]),
    "code identifier": lambda r: r.choice(["username", "parse_json", "httpserv", "retrypol"]),
}


def _zipf(r: random.Random, items: list[str], k: int) -> list[str]:
    n = len(items)
    return [items[min(n - 1, int(n * r.random() ** 3))] for _ in range(k)]


def text_for(r: random.Random) -> str:
    kind = r.random()
    if kind < 0.45:
        return " ".join(_zipf(r, WORDS, r.randint(8, 40))).capitalize() + "."
    if kind < 0.85:
        return "".join(_zipf(r, HANZI, r.randint(10, 60))) + "。"
    words = _zipf(r, WORDS, r.randint(5, 20))
    return f"Call {r.choice(CODE)}() then " + " ".join(words) + " " + "".join(_zipf(r, HANZI, 8))


async def _seed_owner(redis: Redis, keys: Keys, index: SearchIndex, owner: str, count: int,
                      per_conv: int, r: random.Random, t0: float) -> None:  # fmt: skip
    done = 0
    while done < count:
        n = min(per_conv, count - done)
        sid = new_id()
        msgs: list[Message] = []
        for i in range(n):
            role = "user" if i % 2 == 0 else "assistant"
            msgs.append(Message(new_id(), role, text_for(r), t0 + done + i, "assistant",
                                model="bench"))  # fmt: skip
        async with redis.pipeline(transaction=False) as pipe:
            pipe.hset(keys.conversation(sid), mapping={
                "id": sid, "owner": owner, "title": msgs[0].content[:60], "persona": "assistant",
                "model": "bench", "created_at": t0, "updated_at": t0 + done + n,
                "message_count": n, "active": msgs[-1].id, "indexed": "1",
            })  # fmt: skip
            pipe.hset(keys.messages(sid), mapping={m.id: message_json(m) for m in msgs})
            pipe.rpush(keys.path(sid), *[m.id for m in msgs])
            pipe.zadd(keys.user_sessions(owner), {sid: t0 + done + n})
            await pipe.execute()
        await index.add_many(owner, sid, msgs)
        done += n


def seed(redis_url: str, own: int, total: int) -> dict[str, float]:
    """Store and index ``own`` messages for the local user and ``total - own`` for
    others (1,000 each); returns memory figures and seeding time."""

    async def go() -> dict[str, float]:
        async with Redis.from_url(redis_url, decode_responses=True) as redis:
            keys = Keys("parlour")
            index = SearchIndex(redis, keys)
            await redis.set(keys.search_since(), "0")  # nothing older to backfill
            await redis.hset(keys.search_fill(), "done", "1")
            r = random.Random(1)
            t0 = time.time() - 86_400 * 365
            started = time.monotonic()
            before = int((await redis.info("memory"))["used_memory"])
            await _seed_owner(redis, keys, index, OWNER, own, 200, r, t0)
            after_own = int((await redis.info("memory"))["used_memory"])
            others = total - own
            for j in range(others // 1000):
                await _seed_owner(redis, keys, index, f"user{j}", 1000, 100, r, t0)
            after = int((await redis.info("memory"))["used_memory"])
            # The index alone, for the local user: its keys' own sizes.
            index_bytes = 0
            async for key in redis.scan_iter(match="parlour:u:{local}:s:*", count=1000):
                index_bytes += int(await redis.memory_usage(key, samples=0) or 0)
            return {
                "seed_seconds": time.monotonic() - started,
                "own_bytes_per_message": (after_own - before) / own,
                "all_bytes_per_message": (after - before) / total,
                "index_bytes_per_message": index_bytes / own,
            }

    return asyncio.run(go())


def _first_token(client: httpx.Client, sid: str) -> float:
    start = time.perf_counter()
    with client.stream("POST", f"/api/v1/sessions/{sid}/messages",
                       json={"content": "[pace 20ms x 3] hello"}) as response:  # fmt: skip
        response.raise_for_status()
        first = None
        for line in response.iter_lines():
            if first is None and line.startswith("event: delta"):
                first = time.perf_counter() - start
        return first if first is not None else float("nan")


def measure(url: str, redis_url: str, queries: int, replies: int) -> dict[str, Any]:
    r = random.Random(5)
    plan = [
        (name, make(r)) for _ in range(queries // len(QUERIES)) for name, make in QUERIES.items()
    ]
    redis = SyncRedis.from_url(redis_url, decode_responses=True)
    redis.config_set("slowlog-log-slower-than", 500)
    redis.config_set("slowlog-max-len", 10_000)
    with httpx.Client(base_url=url, timeout=60) as client:
        for _name, q in plan[:20]:  # warm-up
            client.get("/api/v1/search", params={"q": q})
        redis.slowlog_reset()
        times: dict[str, list[float]] = {}
        hits: dict[str, list[int]] = {}
        for name, q in plan:
            start = time.perf_counter()
            resp = client.get("/api/v1/search", params={"q": q})
            times.setdefault(name, []).append(time.perf_counter() - start)
            resp.raise_for_status()
            hits.setdefault(name, []).append(len(resp.json()["items"]))
        slow = redis.slowlog_get(10_000)
        sid = client.post("/api/v1/sessions", json={}).json()["id"]
        alone = [_first_token(client, sid) for _ in range(replies)]
        stop = threading.Event()
        burst_count = [0]

        def burst() -> None:
            with httpx.Client(base_url=url, timeout=60) as c:
                i = 0
                while not stop.is_set():
                    c.get("/api/v1/search", params={"q": plan[i % len(plan)][1]})
                    burst_count[0] += 1
                    i += 1

        threads = [threading.Thread(target=burst) for _ in range(4)]
        for t in threads:
            t.start()
        burst_started = time.perf_counter()
        try:
            during = [_first_token(client, sid) for _ in range(replies)]
        finally:
            stop.set()
            for t in threads:
                t.join()
        burst_rate = burst_count[0] / (time.perf_counter() - burst_started)
    everything = [x for v in times.values() for x in v]
    slowest = max((e["duration"] for e in slow), default=0)
    slowest_cmd = next((e["command"] for e in slow if e["duration"] == slowest), "")
    redis.config_set("slowlog-log-slower-than", 10_000)
    redis.close()
    return {
        "p50_ms": pct(everything, 50) * 1e3,
        "p99_ms": pct(everything, 99) * 1e3,
        "by_kind_p50_ms": {k: round(pct(v, 50) * 1e3, 2) for k, v in times.items()},
        "by_kind_p99_ms": {k: round(pct(v, 99) * 1e3, 2) for k, v in times.items()},
        "by_kind_hits": {k: round(sum(v) / len(v), 1) for k, v in hits.items()},
        "slowest_command_ms": slowest / 1e3,
        "slowest_command": str(slowest_cmd)[:80],
        "slow_commands_over_0_5ms": len(slow),
        "ttft_alone_ms": pct(alone, 50) * 1e3,
        "ttft_during_burst_ms": pct(during, 50) * 1e3,
        "ttft_during_burst_p99_ms": pct(during, 99) * 1e3,
        "burst_searches_per_s": burst_rate,
    }


def search_at_scale(stage: Any) -> Row:
    s = stage.sizes
    own, total = s.search_own, s.search_total
    row = Row(
        9,
        f"search: {own:,} messages in one account, {total:,} in the store",
        "p50 ≤ 50 ms, p99 ≤ 200 ms; every Redis command ≤ 5 ms",
    )
    runs: dict[str, list[float]] = {}
    detail: dict[str, Any] = {}
    with stage.serving() as server:  # started on an empty store: nothing to backfill
        seeded = seed(stage.redis.url, own, total)
        for _ in range(s.repeats):
            m = measure(
                f"http://127.0.0.1:{server.port}",
                stage.redis.url,
                s.search_queries,
                s.search_replies,
            )
            for k, v in m.items():
                if isinstance(v, float | int):
                    runs.setdefault(k, []).append(float(v))
                else:
                    detail[k] = v
    row.runs = runs
    row.detail.update(detail | {k: round(v, 1) for k, v in seeded.items()})
    row.figure = (
        f"p50 {fmt(runs['p50_ms'], 'ms')}; p99 {fmt(runs['p99_ms'], 'ms')}; slowest Redis "
        f"command {fmt(runs['slowest_command_ms'], 'ms')}"
    )
    row.passed = (
        pct(runs["p50_ms"], 50) <= 50
        and pct(runs["p99_ms"], 50) <= 200
        and max(runs["slowest_command_ms"]) <= 5
    )
    row.note = (
        f"reply first token {fmt(runs['ttft_alone_ms'], 'ms')} alone vs. "
        f"{fmt(runs['ttft_during_burst_ms'], 'ms')} during "
        f"{fmt(runs['burst_searches_per_s'], '/s', 0)} searches from 4 threads; memory per "
        f"message: index {seeded['index_bytes_per_message']:.0f} B, stored + indexed "
        f"{seeded['all_bytes_per_message']:.0f} B; seeding took {seeded['seed_seconds']:.0f} s."
    )
    return row
