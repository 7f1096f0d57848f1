"""Turning reply events into Server-Sent Events.

A reply's stream is FastAPI's :class:`~fastapi.sse.EventSourceResponse` over
frames encoded here, once each, straight to bytes. The route returns the
response instead of being a generator endpoint: FastAPI's generator path runs
a producer task and a keep-alive task joined by memory streams for every
response, a few task switches per frame, and the reply stream already sends
its own keep-alive comments while the model is silent.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import orjson
from fastapi.sse import EventSourceResponse, format_sse_event
from redis.exceptions import RedisError

from parlour.domain import EventKind, ReplyEvent
from parlour.errors import ParlourError, StorageUnavailable

HEARTBEAT = format_sse_event(comment="keep-alive")
STREAM_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}  # nginx: do not buffer

# For a route's ``responses=``: the schema of what it streams. (Such a route keeps the
# plain ``response_class``: FastAPI treats every ``EventSourceResponse`` route as a
# generator endpoint.)
STREAM_DESCRIPTION = (
    "A stream of Server-Sent Events (`text/event-stream`), each with an SSE `id` of the "
    "form `<reply_id>:<n>` (the reply, and the event's sequence number in it): "
    "`start` (`reply_id`, `session_id`, `user_message_id`, `model`, `persona`), "
    'then `delta` (`{"content"}`)..., then `done` (`finish_reason`, `usage`, `message_id`) '
    'or `failure` (`{"code", "message", "retry_after"?, "message_id"?}`). A reasoning '
    'model\'s thinking comes as `reasoning` events (`{"content"}`; with '
    '`"replace_answer": true` the answer streamed so far was thinking and starts again '
    "from empty); `done` or `failure` then carry `reasoning_seconds`. A failure "
    "has a name of its own because a browser's `EventSource` reserves `error` for its "
    "connection errors. Comment lines keep the connection alive while the model is silent."
)

OPENAPI: dict[int | str, dict[str, Any]] = {
    200: {
        "description": STREAM_DESCRIPTION,
        "content": {
            "text/event-stream": {
                "schema": {
                    "type": "object",
                    "properties": {
                        "data": {"type": "string"},
                        "event": {"type": "string"},
                        "id": {"type": "string"},
                    },
                }
            }
        },
    }
}


# For ``GET .../reply``: besides the stream, the answer that tells a client to stop.
FOLLOW_OPENAPI: dict[int | str, dict[str, Any]] = {
    **OPENAPI,
    204: {
        "description": (
            "Nothing to follow: the reply has finished (and the client has every event up to "
            "its end), or there is no such reply. An `EventSource` stops reconnecting on a 204."
        )
    },
}


def _frame(data: object, event: str | None = None, id: bytes | None = None) -> bytes:
    # orjson escapes every line break, so the JSON is one ``data:`` line as it is.
    head = b"event: " + event.encode() + b"\n" if event is not None else b""
    tail = b"\nid: " + id + b"\n\n" if id is not None else b"\n\n"
    return head + b"data: " + orjson.dumps(data) + tail


def event_id(reply_id: str, seq: int) -> str:
    """An event's SSE id: its reply and its number in it, so that a client resuming
    with ``Last-Event-ID`` alone is taken back to that reply and no other."""
    return f"{reply_id}:{seq}"


def api_frame(event: ReplyEvent, reply_id: str) -> bytes:
    """``/api/v1``: named events, each with :func:`event_id` as its id."""
    return _frame(event.data, str(event.kind), event_id(reply_id, event.seq).encode())


def tutorial_frame(event: ReplyEvent) -> bytes | None:
    """The tutorial's unnamed events: ``chunk``, then ``end`` or ``error``.

    Unnamed (``message``) events cannot collide with ``EventSource``'s own ``error``
    event, so the tutorial's documented shape stays as it was.
    """
    if event.kind == EventKind.DELTA:
        return _frame({"content": event.data["content"], "type": "chunk"})
    if event.kind == EventKind.DONE:
        return _frame({"type": "end"})
    if event.kind == EventKind.FAILURE:
        return _frame({"type": "error", "content": event.data["message"]})
    return None


async def frames(
    events: AsyncIterator[ReplyEvent | None], reply_id: str, *, tutorial: bool = False
) -> AsyncIterator[bytes]:
    """SSE frames for a reply; a silent model yields comment heartbeats.

    An error while following (Redis lost, reply expired) ends the stream with a
    ``failure`` event (the tutorial's: a ``{"type": "error"}`` one) instead of a
    broken connection.
    """
    try:
        async for event in events:
            if event is None:
                yield HEARTBEAT
                continue
            frame = tutorial_frame(event) if tutorial else api_frame(event, reply_id)
            if frame is not None:
                yield frame
    except (ParlourError, RedisError) as exc:
        if isinstance(exc, RedisError):
            exc = StorageUnavailable()
        if tutorial:
            yield _frame({"type": "error", "content": exc.message})
        else:
            yield _frame(failure_data(exc), EventKind.FAILURE)


def failure_data(exc: ParlourError) -> dict[str, object]:
    """What a ``failure`` event carries: the error contract's fields."""
    data: dict[str, object] = {"code": exc.code, "message": exc.message}
    if exc.retry_after is not None:
        data["retry_after"] = exc.retry_after
    return data


def event_stream(
    events: AsyncIterator[ReplyEvent | None], reply_id: str, *, tutorial: bool = False
) -> EventSourceResponse:
    """The response that streams a reply's events (see :func:`frames`)."""
    return EventSourceResponse(frames(events, reply_id, tutorial=tutorial), headers=STREAM_HEADERS)
