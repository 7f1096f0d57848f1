"""Imports run as background jobs: progress and a report in Redis, one at a time per user.

The upload is read in a worker thread (:func:`~parlour.importing.reader.read_upload`),
one conversation at a time; each is written by :class:`~parlour.store.importer.ImportWriter`
(all of it or none of it) and its outcome appended to the job's report. A file that
turns out to be malformed or hostile part-way (bad JSON, too deep, too many
conversations...) fails the whole import: the conversations it had stored are taken
back, so a failed import leaves nothing behind. So does a shutdown in the middle.

The job's facts live under the owner's hash tag with a TTL, so any process can answer
for its progress; the owner's lock (renewed while the job runs) keeps a second import
from starting. A job whose lock is gone while it says "running" died with its process:
it is reported as failed (``import_interrupted``); what it had stored stays, each
conversation whole, and importing the file again adds only the rest.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import orjson
from redis.asyncio import Redis

from parlour.domain import new_id
from parlour.errors import ImportInProgress, ImportRejected, NotFound
from parlour.importing.limits import ImportLimits
from parlour.importing.model import Skipped
from parlour.importing.reader import Item, read_upload
from parlour.store.importer import ImportWriter
from parlour.store.keys import Keys, is_id

log = logging.getLogger(__name__)

LOCK_SECONDS = 60
MAX_NAMED = 20  # images and files named per conversation in the report


@dataclass(slots=True)
class _Progress:
    done: int = 0
    total: int = 0

    def __call__(self, done: int, total: int) -> None:  # told from the reading thread
        self.done, self.total = done, total


class ImportJobs:
    def __init__(
        self, redis: Redis, keys: Keys, writer: ImportWriter, limits: ImportLimits,
        *, report_ttl: int = 86_400,
    ) -> None:  # fmt: skip
        self.redis = redis
        self.keys = keys
        self.writer = writer
        self.limits = limits
        self.report_ttl = report_ttl
        self._tasks: set[asyncio.Task[None]] = set()

    async def start(self, owner: str, upload: Path, filename: str, size: int) -> dict[str, Any]:
        """Begin importing ``upload`` (which the job then owns and deletes)."""
        job = new_id()
        lock = self.keys.import_lock(owner)
        if not await self.redis.set(lock, job, nx=True, ex=LOCK_SECONDS):
            await asyncio.to_thread(upload.unlink, True)
            raise ImportInProgress()
        facts = {
            "id": job, "status": "running", "filename": filename, "created_at": time.time(),
            "finished_at": 0, "done_bytes": 0, "total_bytes": size, "conversations": 0,
            "imported": 0, "skipped": 0, "duplicates": 0, "messages": 0, "not_imported": 0,
            "error_code": "", "error_message": "",
        }  # fmt: skip
        key = self.keys.import_job(owner, job)
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.hset(key, mapping=facts)  # type: ignore[arg-type]
            pipe.expire(key, self.report_ttl)
            await pipe.execute()
        task = asyncio.create_task(self._run(owner, job, upload), name=f"import-{job}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return await self.get(owner, job)

    async def get(self, owner: str, job: str) -> dict[str, Any]:
        if not is_id(job):
            raise NotFound("This import does not exist.")
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.hgetall(self.keys.import_job(owner, job))
            pipe.get(self.keys.import_lock(owner))
            raw, holder = await pipe.execute()
        if not raw:
            raise NotFound("This import does not exist.")
        facts: dict[str, Any] = dict(raw)
        if facts["status"] == "running" and holder != job:
            facts.update(status="failed", error_code="import_interrupted",
                         error_message="The server stopped during this import.")  # fmt: skip
        return facts

    async def report(
        self, owner: str, job: str, offset: int, limit: int
    ) -> tuple[list[dict[str, Any]], int]:
        await self.get(owner, job)
        key = self.keys.import_report(owner, job)
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.lrange(key, offset, offset + limit - 1)
            pipe.llen(key)
            rows, total = await pipe.execute()
        return [orjson.loads(r) for r in rows], int(total)

    async def stop(self) -> None:
        """Cancel running imports (each takes back what it stored) and wait for them."""
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(asyncio.CancelledError):
                await task

    # --- running -------------------------------------------------------------------------

    async def _run(self, owner: str, job: str, upload: Path) -> None:
        progress = _Progress()
        items = read_upload(upload, self.limits, progress)
        key = self.keys.import_job(owner, job)
        made: list[tuple[str, str]] = []
        counts = {"conversations": 0, "imported": 0, "skipped": 0, "duplicates": 0,
                  "messages": 0, "not_imported": 0}  # fmt: skip
        outcome: dict[str, Any] = {"status": "done"}
        try:
            while (item := await asyncio.to_thread(next, items, None)) is not None:
                counts["conversations"] += 1
                entry = await self._one(owner, item, counts, made)
                async with self.redis.pipeline(transaction=False) as pipe:
                    pipe.rpush(self.keys.import_report(owner, job), orjson.dumps(entry))
                    pipe.expire(self.keys.import_report(owner, job), self.report_ttl)
                    done = {"done_bytes": progress.done, "total_bytes": progress.total}
                    pipe.hset(key, mapping={**counts, **done})  # type: ignore[dict-item]
                    pipe.expire(self.keys.import_lock(owner), LOCK_SECONDS)
                    await pipe.execute()
        except ImportRejected as exc:
            outcome = {"status": "failed", "error_code": exc.code, "error_message": exc.message}
        except asyncio.CancelledError:
            outcome = {"status": "failed", "error_code": "server_restarting",
                       "error_message": "The server stopped during this import."}  # fmt: skip
            raise
        except Exception:
            log.exception("an import failed")
            outcome = {"status": "failed", "error_code": "internal_error",
                       "error_message": "The import failed on the server."}  # fmt: skip
        finally:
            await asyncio.shield(self._finish(owner, job, items, upload, made, counts, outcome))

    async def _one(
        self, owner: str, item: Item, counts: dict[str, int], made: list[tuple[str, str]]
    ) -> dict[str, Any]:
        if isinstance(item, Skipped):
            counts["skipped"] += 1
            return {"outcome": "skipped", "title": item.title, "source_id": item.source_id,
                    "code": item.code, "reason": item.reason}  # fmt: skip
        entry: dict[str, Any] = {"title": item.title, "source_id": item.source_id,
                                 "messages": len(item.messages)}  # fmt: skip
        before, alive = await self.writer.recorded(owner, item.source_id)
        sid = "" if alive else await self.writer.write(owner, item, replaces=before)
        if not sid:
            counts["duplicates"] += 1
            return {**entry, "outcome": "duplicate", "code": "import_duplicate",
                    "reason": "It was imported before.", "session_id": before}  # fmt: skip
        made.append((sid, item.source_id))
        counts["imported"] += 1
        counts["messages"] += len(item.messages)
        counts["not_imported"] += len(item.not_imported)
        return {**entry, "outcome": "imported", "session_id": sid, "title": item.title,
                "not_imported": item.not_imported[:MAX_NAMED],
                "not_imported_count": len(item.not_imported)}  # fmt: skip

    async def _finish(
        self, owner: str, job: str, items: Any, upload: Path, made: list[tuple[str, str]],
        counts: dict[str, int], outcome: dict[str, Any],
    ) -> None:  # fmt: skip
        try:
            await asyncio.to_thread(items.close)
            await asyncio.to_thread(upload.unlink, True)
            if outcome["status"] == "failed":
                for sid, source in reversed(made):
                    await self.writer.remove(owner, sid, source)
                counts = {**counts, "imported": 0, "messages": 0, "not_imported": 0}
            fields = {**counts, **outcome, "finished_at": time.time()}
            await self.redis.hset(self.keys.import_job(owner, job), mapping=fields)  # type: ignore[arg-type]
        finally:
            lock = self.keys.import_lock(owner)
            if cast(str | None, await self.redis.get(lock)) == job:
                await self.redis.delete(lock)


def is_finished(facts: dict[str, Any]) -> bool:
    return facts.get("status") in ("done", "failed")
