"""Stopping replies wherever they run.

A stop asked in the process that runs the reply cancels its task at once; a stop
asked elsewhere is published on one pub/sub channel, which every process listens
to for the app's lifetime. Cancelling reaches the provider through its async
generator, which closes the upstream request or stops local generation; the reply
then stores what it had as ``partial``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from redis.exceptions import RedisError

from parlour.reply import Reply
from parlour.store import ReplyLedger


def cancel(reply: Reply, *, interrupt: bool = False) -> None:
    """Stop ``reply`` (``interrupt``: for a shutdown, not by its user)."""
    if reply.stopped or reply.finished:
        return
    reply.stopped = True  # checked before generation starts, too
    reply.interrupted = interrupt
    if reply.task is not None and reply.generating:
        reply.task.cancel()


class Stops:
    def __init__(self, ledger: ReplyLedger, local: Callable[[str], Reply | None]) -> None:
        self.ledger = ledger
        self._local = local  # this process's running reply with that id, if any

    async def stop(self, rid: str) -> None:
        """Stop the reply wherever it runs; its partial text is stored."""
        reply = self._local(rid)
        if reply is not None:
            cancel(reply)
        else:
            await self.ledger.publish_stop(rid)

    async def listen(self) -> None:
        """Stop local replies when another process asks (runs for the app's lifetime)."""
        while True:
            try:
                async with self.ledger.redis.pubsub() as pubsub:
                    await pubsub.subscribe(self.ledger.keys.stop_channel())
                    async for message in pubsub.listen():
                        if message.get("type") != "message":
                            continue
                        reply = self._local(str(message["data"]))
                        if reply is not None:
                            cancel(reply)
            except RedisError:
                await asyncio.sleep(1.0)
