"""Turning reply events into Server-Sent Events: pure functions, tested by tables."""

from __future__ import annotations

from collections.abc import AsyncIterator

import orjson
from fastapi.sse import ServerSentEvent
from redis.exceptions import RedisError

from parlour.domain import ReplyEvent
from parlour.errors import ParlourError, StorageUnavailable

HEARTBEAT = ServerSentEvent(comment="keep-alive")


def _json(data: object) -> str:
    # Encoded once here (orjson: compact UTF-8), not by FastAPI's generic encoder per frame.
    return orjson.dumps(data).decode()


def api_event(event: ReplyEvent) -> ServerSentEvent:
    """``/api/v1``: named events, each with the reply's sequence number as its id."""
    return ServerSentEvent(event=event.kind, raw_data=_json(event.data), id=str(event.seq))


def tutorial_event(event: ReplyEvent) -> ServerSentEvent | None:
    """The tutorial's unnamed events: ``chunk``, then ``end`` or ``error``."""
    if event.kind == "delta":
        return ServerSentEvent(raw_data=_json({"content": event.data["content"], "type": "chunk"}))
    if event.kind == "done":
        return ServerSentEvent(raw_data='{"type":"end"}')
    if event.kind == "error":
        return ServerSentEvent(raw_data=_json({"type": "error", "content": event.data["message"]}))
    return None


async def relay(
    events: AsyncIterator[ReplyEvent | None], *, tutorial: bool = False
) -> AsyncIterator[ServerSentEvent]:
    """SSE frames for a reply; a silent model yields comment heartbeats.

    An error while following (Redis lost, reply expired) ends the stream with an
    ``error`` event instead of a broken connection.
    """
    try:
        async for event in events:
            if event is None:
                yield HEARTBEAT
                continue
            frame = tutorial_event(event) if tutorial else api_event(event)
            if frame is not None:
                yield frame
    except (ParlourError, RedisError) as exc:
        if isinstance(exc, RedisError):
            exc = StorageUnavailable()
        data: dict[str, object] = {"code": exc.code, "message": exc.message}
        if tutorial:
            yield ServerSentEvent(data={"type": "error", "content": exc.message})
        else:
            yield ServerSentEvent(event="error", data=data)
