"""Sending a message and following its reply as Server-Sent Events; resuming and stopping."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Header, Query, Response, status
from fastapi.sse import EventSourceResponse

from parlour.errors import NoReplyInProgress
from parlour.replies import Reply
from parlour.web.deps import Caller, ServicesDep, limit_messages, limit_writes
from parlour.web.schemas import ErrorOut, MessageCreate, RegenerateIn, StopOut
from parlour.web.sse import OPENAPI, event_stream

router = APIRouter(
    prefix="/api/v1/sessions/{session_id}",
    tags=["replies"],
    responses={404: {"model": ErrorOut}, 409: {"model": ErrorOut}, 422: {"model": ErrorOut}},
)


async def start_reply(
    session_id: str,
    body: MessageCreate,
    caller: Caller,
    services: ServicesDep,
    _limited: Annotated[None, Depends(limit_messages)],
) -> Reply:
    """Runs before the response starts, so bad input still gets a 4xx, not a broken stream."""
    return await services.chat.send(
        caller, session_id, body.content, persona=body.persona, replace_from=body.replace_from
    )


@router.post("/messages", response_class=Response, responses=OPENAPI)
async def send_message(
    reply: Annotated[Reply, Depends(start_reply)], services: ServicesDep
) -> EventSourceResponse:
    """Send a message; the reply streams back as ``start``, ``delta``..., ``done`` or ``error``.

    Each event carries an SSE ``id`` (its sequence number in the reply), which
    ``GET .../reply`` accepts as ``Last-Event-ID`` to resume after a disconnect.
    The reply keeps running if the client goes away.
    """
    return event_stream(services.replies.follow(reply.id))


async def start_regeneration(
    session_id: str,
    caller: Caller,
    services: ServicesDep,
    _limited: Annotated[None, Depends(limit_messages)],
    body: RegenerateIn | None = None,
) -> Reply:
    persona = body.persona if body is not None else None
    return await services.chat.regenerate(caller, session_id, persona=persona)


@router.post("/reply/regenerate", response_class=Response, responses=OPENAPI)
async def regenerate_reply(
    reply: Annotated[Reply, Depends(start_regeneration)], services: ServicesDep
) -> EventSourceResponse:
    """Answer the last message again; the reply that followed it is replaced.

    Streams like ``POST .../messages``.
    """
    return event_stream(services.replies.follow(reply.id))


async def find_reply(
    session_id: str,
    caller: Caller,
    services: ServicesDep,
    reply_id: Annotated[str | None, Query(max_length=64)] = None,
) -> str:
    await services.store.get_session(caller, session_id)
    if reply_id is not None:
        meta = await services.store.reply_meta(reply_id)
        if meta.get("session") != session_id:
            raise NoReplyInProgress("This reply does not exist or has expired.")
        if meta.get("status") != "running" and not await services.store.has_events(reply_id):
            raise NoReplyInProgress("This reply has finished; its text is in the history.")
        return reply_id
    running = await services.store.running_reply(session_id)
    if running is None:
        raise NoReplyInProgress()
    return running


def _resume_point(header: str | None, query: int | None) -> int:
    if query is not None:
        return query
    if header is not None and header.strip().isdigit():
        return int(header.strip())
    return 0


@router.get("/reply", response_class=Response, responses=OPENAPI)
async def follow_reply(
    rid: Annotated[str, Depends(find_reply)],
    services: ServicesDep,
    last_event_id: Annotated[str | None, Header()] = None,
    after: Annotated[int | None, Query(ge=0, description="Resume after this event id.")] = None,
) -> EventSourceResponse:
    """Attach to the reply in progress (or ``reply_id``); resume after ``Last-Event-ID``."""
    return event_stream(services.replies.follow(rid, _resume_point(last_event_id, after)))


@router.post(
    "/reply/stop", status_code=status.HTTP_202_ACCEPTED, dependencies=[Depends(limit_writes)]
)
async def stop_reply(rid: Annotated[str, Depends(find_reply)], services: ServicesDep) -> StopOut:
    """Stop the reply in progress; the text written so far is stored as ``partial``."""
    await services.replies.stop(rid)
    return StopOut(reply_id=rid)
