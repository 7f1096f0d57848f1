"""Importing a large ChatGPT export: peak memory stays flat as the file grows.

``python -m bench.import_memory [MB ...]`` makes a ChatGPT-shaped export ZIP of each
size (tests/fixtures/chatgpt.py: 20-turn conversations, ~400-character messages, every
third reply regenerated), then imports each in a fresh child process through the
server's own job (:class:`~parlour.importing.jobs.ImportJobs`: parse, write, index for
search) against the bundled redis-server, and reports the child's peak RSS, its RSS
sampled as the import goes, the time taken and the messages imported. Constant memory
means the 200 MB file peaks where the 20 MB one does.
"""

from __future__ import annotations

import asyncio
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from redis.asyncio import Redis
from tests.fixtures.chatgpt import write_large_export

from parlour.embedded import EmbeddedRedis
from parlour.importing.jobs import ImportJobs
from parlour.importing.limits import ImportLimits
from parlour.store import Keys
from parlour.store.importer import ImportWriter
from parlour.store.search import SearchIndex

RESULTS = Path(__file__).parent / "results" / "import_memory.json"


def _rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


async def _child(path: Path, size: int, url: str) -> dict[str, object]:
    redis = Redis.from_url(url, decode_responses=True)
    keys = Keys("parlour")
    writer = ImportWriter(
        redis, keys, persona="assistant", model="m", search=SearchIndex(redis, keys)
    )
    jobs = ImportJobs(redis, keys, writer, ImportLimits(max_upload_bytes=2**40))
    start = time.perf_counter()
    facts = await jobs.start("bench", path, path.name, size)
    samples: list[tuple[float, float]] = []
    while True:
        facts = await jobs.get("bench", facts["id"])
        done = int(facts["done_bytes"]) / max(int(facts["total_bytes"]), 1)
        samples.append((round(done, 2), round(_rss_mb(), 1)))
        if facts["status"] != "running":
            break
        await asyncio.sleep(0.5)
    seconds = time.perf_counter() - start
    await redis.aclose()
    return {
        "status": facts["status"], "error": facts.get("error_code"),
        "conversations": int(facts["imported"]), "messages": int(facts["messages"]),
        "seconds": round(seconds, 1),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "rss_samples": samples[:: max(1, len(samples) // 10)] + samples[-1:],
    }  # fmt: skip


def main(sizes: list[int]) -> None:
    work = Path(tempfile.mkdtemp(prefix="parlour-bench-import-"))
    redis = EmbeddedRedis(work / "redis")
    url = redis.start()
    rows = []
    try:
        for mb in sizes:
            export = work / f"export-{mb}.zip"
            made = write_large_export(export, mb * 2**20)
            zipped = export.stat().st_size >> 20
            print(f"{mb} MB export: {made} conversations, {zipped} MB zipped", flush=True)
            run = subprocess.run(
                [sys.executable, "-m", "bench.import_memory", "--child", str(export), url],
                capture_output=True, text=True, check=True,
            )  # fmt: skip
            row = {"export_mb": mb, "zip_mb": zipped,
                   **json.loads(run.stdout.strip().splitlines()[-1])}  # fmt: skip
            print(json.dumps(row), flush=True)
            rows.append(row)
            export.unlink(missing_ok=True)
            asyncio.run(_flush(url))
    finally:
        redis.stop()
        shutil.rmtree(work, ignore_errors=True)
    RESULTS.write_text(json.dumps(rows, indent=1) + "\n")


async def _flush(url: str) -> None:
    async with Redis.from_url(url) as r:
        await r.flushall()


if __name__ == "__main__":
    if sys.argv[1:2] == ["--child"]:
        upload = Path(sys.argv[2])
        print(json.dumps(asyncio.run(_child(upload, upload.stat().st_size, sys.argv[3]))))
    else:
        main([int(a) for a in sys.argv[1:]] or [20, 200])
