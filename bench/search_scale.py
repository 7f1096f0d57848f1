"""Search at scale, on its own: ``python -m bench.search_scale [--reuse] [--own N] [--total N]``.

One account of ``--own`` messages (100,000) in a store of ``--total`` (1,000,000; the
rest in accounts of 1,000), held by a redis-server of its own on ``--port``, with its
data in ``--dir``. Seeding writes every conversation through Parlour's own import path
(:class:`ImportWriter`: pipelines of a few hundred fields, then the search index's bulk
script), then saves an RDB snapshot; ``--reuse`` starts the server from that snapshot
instead, so the store is built once. Texts are English, Chinese, mixed and code.

Then, against a real ``parlour serve`` (one worker) on that Redis and the scripted
upstream (``bench.upstream``, its own process): queries of 10 kinds over HTTP, one at a
time (p50 / p99); every Redis command they run, from SLOWLOG with its threshold at
0.5 ms (the slowest, and how many took over 5 ms); a reply's time to first token alone
and during a burst of searches (``--burst`` clients searching back to back, in a process
of their own); and the index's memory per message (INFO used_memory around the big
account's seeding, MEMORY USAGE of its index keys).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import multiprocessing
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import orjson
from redis import Redis as SyncRedis
from redis.asyncio import Redis

from bench.fixtures import OWNER
from bench.procs import PYTHON, ROOT, Server, Upstream
from bench.report import pct
from parlour.domain import Role
from parlour.embedded import redis_server_binary
from parlour.importing.model import ImportedConversation, ImportedMessage
from parlour.store import Keys
from parlour.store.importer import ImportWriter
from parlour.store.keys import FORMAT_VERSION
from parlour.store.search import SearchIndex

_rng = random.Random(17)
_SYLL = ["ka", "lo", "mi", "ne", "ru", "ta", "so", "vi", "de", "pa", "xu", "bo", "li", "an", "er"]
WORDS = sorted({"".join(_rng.choices(_SYLL, k=_rng.randint(2, 4))) for _ in range(20_000)})
_rng.shuffle(WORDS)  # frequency rank is not alphabetical order
HANZI = [chr(0x4E00 + i * 7) for i in range(3_000)]
# Chinese "words" of 1-3 characters, so that phrases recur as they do in real text.
ZH_WORDS = list(dict.fromkeys(
    "".join(_rng.choices(HANZI[: 300 * k], k=k)) for k in _rng.choices([1, 2, 2, 3], k=12_000)
))  # fmt: skip
CODE = ["parse_json", "getUserName", "HTTPServer", "load_config", "retryPolicy", "to_dict",
        "asyncio.gather", "useEffect", "np.array", "SELECT * FROM users"]  # fmt: skip
CODE_QUERIES = ["username", "parse_json", "httpserv", "retrypol", "useeff", "np.array"]
MARKER = "parlour:bench:search-seeded"


def _zipf(r: random.Random, items: list[str], k: int) -> list[str]:
    n = len(items)
    return [items[min(n - 1, int(n * r.random() ** 3))] for _ in range(k)]


def text_for(r: random.Random) -> str:
    kind = r.random()
    if kind < 0.4:  # English
        return " ".join(_zipf(r, WORDS, r.randint(8, 40))).capitalize() + "."
    if kind < 0.75:  # Chinese
        return "".join(_zipf(r, ZH_WORDS, r.randint(6, 30))) + "。"
    if kind < 0.9:  # mixed
        return (" ".join(_zipf(r, WORDS, r.randint(3, 10))) + " "
                + "".join(_zipf(r, ZH_WORDS, r.randint(3, 12))) + " ok")  # fmt: skip
    words = " ".join(_zipf(r, WORDS, r.randint(5, 15)))  # code
    return f"```python\nresult = {r.choice(CODE)}(x)\n```\nthen {words}"


def conversation(r: random.Random, n: int, t0: float, number: int) -> ImportedConversation:
    roles: list[Role] = ["user", "assistant"]
    msgs = [
        ImportedMessage(str(i), roles[i % 2], text_for(r), t0 + i * 30, str(i - 1) if i else None)
        for i in range(n)
    ]
    return ImportedConversation(f"bench-{number}", msgs[0].content[:60], t0, t0 + n * 30,
                                msgs, str(n - 1))  # fmt: skip


class BenchRedis:
    """A redis-server of this bench's own, on ``port``, its snapshot in ``home``."""

    def __init__(self, port: int, home: Path) -> None:
        self.port = port
        self.home = home
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self, fresh: bool) -> None:
        if fresh:
            shutil.rmtree(self.home, ignore_errors=True)
        self.home.mkdir(parents=True, exist_ok=True)
        args = [str(redis_server_binary()), "--port", str(self.port), "--bind", "127.0.0.1",
                "--dir", str(self.home), "--dbfilename", "dump.rdb", "--save", "",
                "--appendonly", "no", "--maxmemory-policy", "noeviction"]  # fmt: skip
        log = (self.home / "redis.log").open("ab")
        self.proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 600  # loading a large snapshot takes a while
        with SyncRedis(port=self.port) as r:
            while time.monotonic() < deadline:
                with contextlib.suppress(Exception):  # loading, or not up yet
                    if r.ping():
                        return
                time.sleep(0.2)
        raise RuntimeError("the bench's redis-server did not start")

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait(timeout=60)


async def _seed_owner(writer: ImportWriter, owner: str, count: int, per_conv: int,
                      r: random.Random, t0: float, at_once: int = 8) -> None:  # fmt: skip
    """``count`` messages in conversations of ``per_conv``, ``at_once`` written at a
    time (so round trips overlap: on a busy machine each costs a few milliseconds)."""
    convs = [conversation(r, min(per_conv, count - done), t0 + done * 30, number)
             for number, done in enumerate(range(0, count, per_conv))]  # fmt: skip
    for start in range(0, len(convs), at_once):
        await asyncio.gather(*(writer.write(owner, c) for c in convs[start : start + at_once]))


async def _used(redis: Redis) -> int:
    return int((await redis.info("memory"))["used_memory"])


async def _seed_others(url: str, first: int, last: int) -> None:
    async with Redis.from_url(url, decode_responses=True) as redis:
        keys = Keys("parlour")
        writer = ImportWriter(redis, keys, persona="assistant", model="bench",
                              search=SearchIndex(redis, keys))  # fmt: skip
        t0 = time.time() - 86_400 * 365
        gate = asyncio.Semaphore(2)

        async def other(j: int) -> None:
            async with gate:
                await _seed_owner(writer, f"user{j}", 1000, 50, random.Random(j), t0)

        await asyncio.gather(*(other(j) for j in range(first, last)))


def _others_job(job: tuple[str, int, int]) -> int:
    asyncio.run(_seed_others(*job))
    return job[2] - job[1]


async def _memory_of(redis: Redis, pattern: str) -> int:
    total = 0
    batch: list[str] = []
    async for key in redis.scan_iter(match=pattern, count=1000):
        batch.append(key)
        if len(batch) >= 1000:
            total += await _usage(redis, batch)
            batch = []
    return total + await _usage(redis, batch)


async def _usage(redis: Redis, keys: list[str]) -> int:
    async with redis.pipeline(transaction=False) as pipe:
        for key in keys:
            pipe.memory_usage(key, samples=0)
        return sum(int(n or 0) for n in await pipe.execute())


async def seed(url: str, own: int, total: int, jobs: int) -> dict[str, float]:
    """Store and index ``own`` messages for the local user and ``total - own`` for
    others (1,000 each, seeded by ``jobs`` processes); returns memory figures and
    seeding time."""
    async with Redis.from_url(url, decode_responses=True) as redis:
        keys = Keys("parlour")
        index = SearchIndex(redis, keys)
        writer = ImportWriter(redis, keys, persona="assistant", model="bench", search=index)
        await redis.set(keys.format(), FORMAT_VERSION)  # a store of this release's
        await redis.set(keys.search_since(), "0")  # nothing older to backfill
        await redis.hset(keys.search_fill(), "done", "1")
        r = random.Random(1)
        t0 = time.time() - 86_400 * 365
        started = time.monotonic()
        before = await _used(redis)
        await _seed_owner(writer, OWNER, own, 50, r, t0)
        after_own = await _used(redis)
        index_bytes = await _memory_of(redis, keys.search_docs(OWNER)[: -len("docs")] + "*")
        own_seconds = time.monotonic() - started
        print(f"  own account seeded in {own_seconds:.0f} s", file=sys.stderr)
        others = (total - own) // 1000
        step = max(1, -(-others // (jobs * 8)))
        parts = [(url, a, min(others, a + step)) for a in range(0, others, step)]
        done = 0
        with multiprocessing.get_context("spawn").Pool(jobs) as pool:
            for n in pool.imap_unordered(_others_job, parts):
                done += n
                print(f"  {done} / {others} other accounts "
                      f"[{time.monotonic() - started:.0f} s]", file=sys.stderr)  # fmt: skip
        after = await _used(redis)
        figures = {
            "seed_seconds": time.monotonic() - started,
            "own_seed_seconds": own_seconds,
            "own_bytes_per_message": (after_own - before) / own,
            "all_bytes_per_message": (after - before) / total,
            "index_bytes_per_message": index_bytes / own,
            "used_memory_mb": after / 2**20,
        }
        await redis.set(MARKER, orjson.dumps({"own": own, "total": total, **figures}))
        await redis.bgsave()  # a foreground SAVE of a large store outlasts the client's timeout
        while int((await redis.info("persistence"))["rdb_bgsave_in_progress"]):  # noqa: ASYNC110
            await asyncio.sleep(1)
        return figures


QUERIES = {
    "rare word": lambda r, s: r.choice(WORDS[-5000:]),
    "common word": lambda r, s: WORDS[r.randint(0, 5)],
    "prefix (3 letters)": lambda r, s: r.choice(WORDS)[:3],
    "two words": lambda r, s: f"{WORDS[r.randint(0, 50)]} {r.choice(WORDS[:2000])}",
    "Chinese word": lambda r, s: r.choice([w for w in ZH_WORDS[:3000] if len(w) > 1]),
    "Chinese, 1 character": lambda r, s: r.choice(HANZI[:500]),
    "Chinese, 4 characters": lambda r, s: "".join(r.choices(ZH_WORDS[:200], k=2))[:4],
    "phrase from a message": lambda r, s: _phrase(r, s),
    "code identifier": lambda r, s: r.choice(CODE_QUERIES),
    "no match": lambda r, s: "zzqx" + str(r.randint(0, 999)),
}


def _phrase(r: random.Random, sample: list[str]) -> str:
    text = r.choice(sample).strip("。.")
    if " " in text:
        words = text.split()
        i = r.randrange(max(1, len(words) - 1))
        return " ".join(words[i : i + 2])
    i = r.randrange(max(1, len(text) - 4))
    return text[i : i + 4]


def burst(url: str, queries: list[str], clients: int, out: str) -> None:
    """``clients`` searchers, back to back until killed (run in a process of its own);
    writes how many searches were answered, and when, to ``out`` every half second."""
    answered = [0]

    async def one(client: httpx.AsyncClient, k: int) -> None:
        i = k
        while True:
            r = await client.get("/api/v1/search", params={"q": queries[i % len(queries)]})
            r.raise_for_status()
            answered[0] += 1
            i += clients

    async def report() -> None:
        while True:
            Path(out).write_text(f"{answered[0]} {time.monotonic()}")  # noqa: ASYNC240 - tiny
            await asyncio.sleep(0.5)

    async def go() -> None:
        async with httpx.AsyncClient(base_url=url, timeout=60) as client:
            await asyncio.gather(report(), *(one(client, k) for k in range(clients)))

    asyncio.run(go())


def _answered(out: Path) -> tuple[int, float]:
    n, at = out.read_text().split()
    return int(n), float(at)


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


def measure(url: str, redis_url: str, queries: int, replies: int, clients: int) -> dict[str, Any]:
    r = random.Random(5)
    redis = SyncRedis.from_url(redis_url, decode_responses=True)
    sample = [str(v) for v in redis.hrandfield(_a_big_conversation(redis), 50, withvalues=True)
              [1::2]]  # fmt: skip
    sample = [orjson.loads(v)["content"] for v in sample]
    plan = [(name, make(r, sample)) for _ in range(queries // len(QUERIES))
            for name, make in QUERIES.items()]  # fmt: skip
    redis.config_set("slowlog-log-slower-than", 500)
    redis.config_set("slowlog-max-len", 100_000)
    times: dict[str, list[float]] = {}
    hits: dict[str, list[int]] = {}
    with httpx.Client(base_url=url, timeout=60) as client:
        for _name, q in plan[:30]:  # warm-up
            client.get("/api/v1/search", params={"q": q})
        redis.slowlog_reset()
        for name, q in plan:
            start = time.perf_counter()
            resp = client.get("/api/v1/search", params={"q": q})
            times.setdefault(name, []).append(time.perf_counter() - start)
            resp.raise_for_status()
            hits.setdefault(name, []).append(len(resp.json()["items"]))
        slow = [e for e in redis.slowlog_get(100_000) if "slowlog" not in str(e["command"]).lower()]
        sid = client.post("/api/v1/sessions", json={}).json()["id"]
        _first_token(client, sid)
        alone = [_first_token(client, sid) for _ in range(replies)]
        out = Path(tempfile.mkdtemp(prefix="parlour-burst-")) / "answered"
        code = (f"from bench.search_scale import burst; "
                f"burst({url!r}, {[q for _, q in plan]!r}, {clients}, {str(out)!r})")  # fmt: skip
        proc = subprocess.Popen([PYTHON, "-c", code], cwd=ROOT, env={**os.environ})
        time.sleep(3)  # the burst is under way
        before = _answered(out)
        try:
            during = [_first_token(client, sid) for _ in range(replies)]
        finally:
            time.sleep(0.6)
            after = _answered(out)
            proc.kill()
            proc.wait()
        rate = (after[0] - before[0]) / (after[1] - before[1])
    everything = [x for v in times.values() for x in v]
    slowest = max(slow, key=lambda e: e["duration"], default=None)
    redis.config_set("slowlog-log-slower-than", 10_000)
    redis.close()
    return {
        "queries": len(everything),
        "p50_ms": pct(everything, 50) * 1e3,
        "p99_ms": pct(everything, 99) * 1e3,
        "max_ms": max(everything) * 1e3,
        "by_kind_p50_ms": {k: round(pct(v, 50) * 1e3, 1) for k, v in times.items()},
        "by_kind_p99_ms": {k: round(pct(v, 99) * 1e3, 1) for k, v in times.items()},
        "by_kind_mean_hits": {k: round(sum(v) / len(v), 1) for k, v in hits.items()},
        "slowest_command_ms": (slowest["duration"] / 1e3) if slowest else 0.0,
        "slowest_command": str(slowest["command"])[:100] if slowest else "",
        "commands_over_0_5ms": len(slow),
        "commands_over_5ms": sum(1 for e in slow if e["duration"] > 5000),
        "ttft_alone_p50_ms": pct(alone, 50) * 1e3,
        "ttft_alone_p99_ms": pct(alone, 99) * 1e3,
        "ttft_burst_p50_ms": pct(during, 50) * 1e3,
        "ttft_burst_p99_ms": pct(during, 99) * 1e3,
        "burst_clients": clients,
        "burst_searches_per_s": rate,
    }


def _a_big_conversation(redis: SyncRedis) -> str:
    keys = Keys("parlour")
    sid = str(redis.zrange(keys.user_sessions(OWNER), -1, -1)[0])
    return keys.messages(sid)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.search_scale", description=__doc__)
    parser.add_argument("--own", type=int, default=100_000)
    parser.add_argument("--total", type=int, default=1_000_000)
    parser.add_argument("--port", type=int, default=6391)
    parser.add_argument(
        "--dir", type=Path, default=Path(tempfile.gettempdir()) / "parlour-search-bench"
    )
    parser.add_argument("--reuse", action="store_true", help="start from the saved store")
    parser.add_argument("--seed-only", action="store_true")
    parser.add_argument("--jobs", type=int, default=2, help="processes seeding other accounts")
    parser.add_argument("--queries", type=int, default=400)
    parser.add_argument("--replies", type=int, default=20)
    parser.add_argument("--burst", type=int, default=4, help="clients searching in the burst")
    parser.add_argument("--out", type=Path, default=ROOT / "bench/results/search-scale.json")
    args = parser.parse_args(argv)
    store = BenchRedis(args.port, args.dir)
    reuse = args.reuse and (args.dir / "dump.rdb").exists()
    store.start(fresh=not reuse)
    upstream = server = None
    try:
        with SyncRedis(port=args.port, decode_responses=True) as r:
            if reuse:
                seeded = orjson.loads(r.get(MARKER) or "{}")
                if (seeded.get("own"), seeded.get("total")) != (args.own, args.total):
                    raise SystemExit(f"the saved store holds {seeded}, not these sizes")
            else:
                seeded = asyncio.run(seed(store.url, args.own, args.total, args.jobs))
            print(f"  store: {seeded}", file=sys.stderr)
        if args.seed_only:
            return 0
        upstream = Upstream()
        server = Server({"REDIS_URL": store.url, "OPENAI_BASE_URL": upstream.base_url,
                         "OPENAI_API_KEY": "bench", "OPENAI_MODEL": "bench",
                         "LOCAL_ENABLED": "false"})  # fmt: skip
        result = measure(f"http://127.0.0.1:{server.port}", store.url, args.queries,
                         args.replies, args.burst)  # fmt: skip
        result["store"] = seeded
        result["load_average"] = os.getloadavg()
        args.out.write_bytes(orjson.dumps(result, option=orjson.OPT_INDENT_2))
        print(orjson.dumps(result, option=orjson.OPT_INDENT_2).decode())
        return 0
    finally:
        if server is not None:
            server.stop()
        if upstream is not None:
            upstream.stop()
        store.stop()


if __name__ == "__main__":
    raise SystemExit(main())
