"""Reading a large share link: the server's peak memory with three readers at once.

``python -m bench.share_memory [--src DIR] [MB]`` starts the bundled redis-server and a
fresh ``parlour serve`` per case, makes a conversation of about MB (default 30) of
messages (10,000 messages, the most a link shares), shares it through the API, then has
three clients read ``GET /api/v1/shared/TOKEN`` at once, to the end. It reports the
server's RSS before the reads and its peak during them (``VmHWM``, reset just before).

Cases: the snapshot as this code stores it (in pieces), and the same snapshot rewritten
as earlier releases stored it (one ``messages`` field). ``--src DIR`` serves another
checkout's ``src`` instead (the code before the pieces: its own layout, one case).
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
from redis import Redis
from tests import stored
from tests.processes import ServerProcess

from parlour.embedded import EmbeddedRedis
from parlour.store import Keys

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results" / "share_memory.json"
MESSAGES = 10_000
READERS = 3


def _status(pid: int, field: str) -> float:
    """A ``/proc/PID/status`` size in MB (VmRSS, VmHWM)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    raise KeyError(field)


def _fill(redis: Redis, sid: str, size: int) -> None:
    """``MESSAGES`` messages of ``size`` characters, written the way the store writes them."""
    filler = "lorem ipsum dolor sit amet, " * (size // 28)
    stored.fill(redis, sid, MESSAGES, lambda i: f"message {i} {filler}")


def _as_before(redis: Redis, token: str) -> str:
    """A copy of the snapshot at ``token`` in the layout stored before the pieces."""
    keys = Keys("parlour")
    raw = redis.hgetall(keys.share(token))
    if "parts" not in raw:
        return token
    messages = [m for i in range(int(raw["parts"])) for m in json.loads(raw[f"m:{i}"])]
    old = secrets.token_urlsafe(24)
    head = {k: raw[k] for k in ("id", "owner", "title", "author", "created_at")}
    redis.hset(keys.share(old), mapping={**head, "messages": json.dumps(messages)})
    return old


def _read_at_once(url: str) -> list[int]:
    sizes = [0] * READERS
    start = threading.Barrier(READERS)

    def read(n: int) -> None:
        start.wait()
        with httpx.stream("GET", url, timeout=300) as response:
            response.raise_for_status()
            for chunk in response.iter_bytes():
                sizes[n] += len(chunk)

    threads = [threading.Thread(target=read, args=(n,)) for n in range(READERS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return sizes


def _case(name: str, work: Path, env: dict[str, str], redis: Redis, mb: int) -> dict[str, object]:
    redis.flushall()
    server = ServerProcess(env, work).wait_ready()
    try:
        with httpx.Client(base_url=server.url, timeout=300) as client:
            sid = client.post("/api/v1/sessions", json={"title": "big"}).json()["id"]
            _fill(redis, sid, mb * 2**20 // MESSAGES)
            share = client.post(f"/api/v1/sessions/{sid}/shares", json={})
            share.raise_for_status()
            token = share.json()["path"].removeprefix("/s/")
            if name == "stored whole (before the pieces)":
                token = _as_before(redis, token)
            client.get("/api/v1/shared/" + "x" * 32)  # the route's code is loaded
        time.sleep(1)
        before = _status(server.proc.pid, "VmRSS")
        Path(f"/proc/{server.proc.pid}/clear_refs").write_text("5")  # resets VmHWM
        started = time.perf_counter()
        sizes = _read_at_once(f"{server.url}/api/v1/shared/{token}")
        seconds = time.perf_counter() - started
        peak = _status(server.proc.pid, "VmHWM")
    finally:
        server.stop()
    return {"case": name, "snapshot_mb": round(sizes[0] / 2**20, 1), "readers": READERS,
            "rss_before_mb": round(before, 1), "peak_rss_mb": round(peak, 1),
            "growth_mb": round(peak - before, 1), "seconds": round(seconds, 1),
            "load_average": [round(x, 2) for x in os.getloadavg()]}  # fmt: skip


def main(args: list[str]) -> None:
    src = None
    if args[:1] == ["--src"]:
        src, args = Path(args[1]).resolve(), args[2:]
    mb = int(args[0]) if args else 30
    work = Path(tempfile.mkdtemp(prefix="parlour-bench-share-"))
    embedded = EmbeddedRedis(work / "redis")
    url = embedded.start()
    env = {"REDIS_URL": url, "RATE_EXPORTS": "1000/minute", "LOG_LEVEL": "WARNING"}
    cases = ["stored in pieces", "stored whole (before the pieces)"]
    if src is not None:
        env["PYTHONPATH"] = os.pathsep.join([str(src), str(ROOT)])
        cases = [f"served from {src}"]
    rows = []
    try:
        with Redis.from_url(url, decode_responses=True) as redis:
            for name in cases:
                row = _case(name, work, env, redis, mb)
                print(json.dumps(row), flush=True)
                rows.append(row)
    finally:
        embedded.stop()
        shutil.rmtree(work, ignore_errors=True)
    if src is None:
        RESULTS.write_text(json.dumps(rows, indent=1) + "\n")


if __name__ == "__main__":
    main(sys.argv[1:])
