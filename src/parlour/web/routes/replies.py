"""Sending a message and following its reply as Server-Sent Events; resuming and stopping."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Depends, Header, Query, Response, status
from fastapi.sse import EventSourceResponse

from parlour.domain import ReplyEvent, ReplyStatus
from parlour.errors import BadRequest, NoReplyInProgress
from parlour.reply import Reply
from parlour.web.deps import (
    Conversation,
    CurrentPrincipal,
    FollowerTicket,
    ServicesDep,
    limit_messages,
    limit_writes,
)
from parlour.web.schemas import ErrorOut, MessageCreate, RegenerateIn, StopOut
from parlour.web.sse import FOLLOW_OPENAPI, OPENAPI, event_stream

router = APIRouter(
    prefix="/api/v1/sessions/{session_id}",
    tags=["replies"],
    responses={404: {"model": ErrorOut}, 409: {"model": ErrorOut}, 422: {"model": ErrorOut}},
)


async def start_reply(
    _ticket: FollowerTicket,  # first: a refused stream starts no reply
    conversation: Conversation,
    body: MessageCreate,
    principal: CurrentPrincipal,
    services: ServicesDep,
    _limited: Annotated[None, Depends(limit_messages)],
) -> Reply:
    """Runs before the response starts, so bad input still gets a 4xx, not a broken stream."""
    return await services.chat.send(
        conversation,
        body.content,
        persona=body.persona,
        edit_of=body.replace_from,
        user_name=principal.display_name,
        language=body.language or "",
    )


@router.post("/messages", response_class=Response, responses=OPENAPI)
async def send_message(
    reply: Annotated[Reply, Depends(start_reply)], services: ServicesDep
) -> EventSourceResponse:
    """Send a message; the reply streams back as ``start``, ``delta``..., ``done`` or ``failure``.

    Each event carries an SSE ``id`` (its sequence number in the reply), which
    ``GET .../reply`` accepts as ``Last-Event-ID`` to resume after a disconnect.
    The reply keeps running if the client goes away.
    """
    return event_stream(services.replies.follow(reply.session_id, reply.id), reply.id)


async def start_regeneration(
    _ticket: FollowerTicket,
    conversation: Conversation,
    principal: CurrentPrincipal,
    services: ServicesDep,
    _limited: Annotated[None, Depends(limit_messages)],
    body: RegenerateIn | None = None,
) -> Reply:
    body = body or RegenerateIn()
    return await services.chat.regenerate(
        conversation,
        persona=body.persona,
        message_id=body.message_id,
        user_name=principal.display_name,
        language=body.language or "",
    )


@router.post("/reply/regenerate", response_class=Response, responses=OPENAPI)
async def regenerate_reply(
    reply: Annotated[Reply, Depends(start_regeneration)], services: ServicesDep
) -> EventSourceResponse:
    """Write a reply again (by default to the last message); the old reply is kept as a
    sibling of the new one.

    Streams like ``POST .../messages``.
    """
    return event_stream(services.replies.follow(reply.session_id, reply.id), reply.id)


async def _known(services: ServicesDep, sid: str, rid: str) -> tuple[str, str]:
    facts = await services.ledger.facts(sid, rid)
    if facts is None:
        raise NoReplyInProgress("This reply does not exist or has expired.")
    running = facts.status == ReplyStatus.RUNNING
    if not running and not await services.ledger.has_events(sid, rid):
        raise NoReplyInProgress("This reply has finished; its text is in the history.")
    return sid, rid


async def find_reply(
    conversation: Conversation,
    services: ServicesDep,
    reply_id: Annotated[str | None, Query(max_length=64)] = None,
) -> tuple[str, str]:
    sid = conversation.id
    if reply_id is not None:
        return await _known(services, sid, reply_id)
    rid = await services.ledger.running_reply(sid)
    if rid is None:
        raise NoReplyInProgress()
    return sid, rid


_EVENT_ID = re.compile(r"(?:([0-9a-f]{32}):)?([0-9]{1,9})")


def _resume_point(header: str | None, query: int | None) -> tuple[str | None, int]:
    """The reply (when the id names it) and the event to resume after."""
    if query is not None:
        return None, query
    if header is None or not header.strip():
        return None, 0
    # ASCII digits only: str.isdigit() accepts "²", which int() refuses.
    found = _EVENT_ID.fullmatch(header.strip())
    if found is None:
        raise BadRequest(
            "Last-Event-ID must be the id of an event of this reply, as it was sent.",
            code="invalid_event_id",
        )
    return found[1], int(found[2])


async def reply_to_follow(
    conversation: Conversation,
    services: ServicesDep,
    reply_id: Annotated[str | None, Query(max_length=64)] = None,
    last_event_id: Annotated[str | None, Header()] = None,
    after: Annotated[
        int | None, Query(ge=0, le=999_999_999, description="Resume after this event id.")
    ] = None,
) -> tuple[str, str, int] | None:
    """The reply to follow and where to resume, or None when it has finished or never
    was (an unknown conversation is still a 404).

    An event id names its reply, so a resume goes back to that reply and never joins
    another one started meanwhile; a client that has events of a reply which ended
    since is given the rest of it.
    """
    named, point = _resume_point(last_event_id, after)
    if reply_id is not None and named is not None and named != reply_id:
        raise BadRequest(
            "Last-Event-ID belongs to another reply than reply_id.", code="invalid_event_id"
        )
    sid = conversation.id
    try:
        if reply_id is not None or named is not None:
            return (*await _known(services, sid, reply_id or named or ""), point)
        rid = await (
            services.ledger.latest_reply(sid) if point else services.ledger.running_reply(sid)
        )
        if rid is None:
            return None
        return (*await _known(services, sid, rid), point)
    except NoReplyInProgress:
        return None


async def _unless_empty(
    events: AsyncIterator[ReplyEvent | None],
) -> AsyncIterator[ReplyEvent | None] | None:
    """``events``, or None when they end before the first one."""
    try:
        first = await anext(events)
    except StopAsyncIteration:
        return None

    async def chained() -> AsyncIterator[ReplyEvent | None]:
        yield first
        async for event in events:
            yield event

    return chained()


@router.get("/reply", response_class=Response, responses=FOLLOW_OPENAPI)
async def follow_reply(
    _ticket: FollowerTicket,
    found: Annotated[tuple[str, str, int] | None, Depends(reply_to_follow)],
    services: ServicesDep,
) -> Response:
    """Attach to the reply in progress (or ``reply_id``); resume after ``Last-Event-ID``
    (or ``after``).

    ``Last-Event-ID`` is the id of the last event received, as sent
    (``<reply_id>:<n>``): it takes the client back to that reply, even if it has
    ended meanwhile (within ``REPLY_STREAM_TTL_SECONDS``) or another one has started.
    A finished reply whose events the client already has, or a reply that does not
    exist, answers 204 No Content: an ``EventSource`` takes it as "do not reconnect".
    """
    if found is None:
        return Response(status_code=status.HTTP_204_NO_CONTENT)
    sid, rid, point = found
    events = services.replies.follow(sid, rid, point)
    facts = await services.ledger.facts(sid, rid)
    if facts is None or facts.status != ReplyStatus.RUNNING:
        # Finished: its events are all stored, so this answers at once.
        try:
            rest = await _unless_empty(events)
        except NoReplyInProgress:  # its stream expired just now
            rest = None
        if rest is None:
            return Response(status_code=status.HTTP_204_NO_CONTENT)
        events = rest
    return event_stream(events, rid)


@router.post(
    "/reply/stop", status_code=status.HTTP_202_ACCEPTED, dependencies=[Depends(limit_writes)]
)
async def stop_reply(
    found: Annotated[tuple[str, str], Depends(find_reply)], services: ServicesDep
) -> StopOut:
    """Stop the reply in progress; the text written so far is stored as ``partial``."""
    _sid, rid = found
    await services.replies.stop(rid)
    return StopOut(reply_id=rid)
