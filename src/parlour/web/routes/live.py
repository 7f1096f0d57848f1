"""One live channel per open page: what changed in the caller's conversations."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, Request, Response
from fastapi.sse import EventSourceResponse
from redis.exceptions import RedisError

from parlour.errors import Forbidden, NotFound, Unauthorized
from parlour.followers import Ticket
from parlour.live import Change
from parlour.web.deps import Caller, Services, ServicesDep, current_principal
from parlour.web.schemas import ErrorOut
from parlour.web.sse import HEARTBEAT, STREAM_HEADERS

router = APIRouter(prefix="/api/v1", tags=["live"], responses={429: {"model": ErrorOut}})

_OPENAPI: dict[int | str, dict[str, Any]] = {
    200: {
        "description": (
            "A stream of Server-Sent Events named `change`, each "
            '`{"kind", "session_id"}`: `created`, `updated` (renamed, persona or model), '
            "`deleted`, `message` (a message stored: a reply starting or ending), `branch` "
            "(another branch shown, or one deleted), `cleared`; and `resync` (changes may "
            "have been missed: read the list again). Comment lines keep it open."
        ),
        "content": {"text/event-stream": {"schema": {"type": "string"}}},
    }
}


def _frame(change: Change) -> bytes:
    return b"event: change\ndata: " + orjson.dumps(change.data()) + b"\n\n"


async def live_ticket(owner: Caller, services: ServicesDep) -> AsyncIterator[Ticket]:
    """A place among the caller's open channels, held until the response has been sent."""
    assert services.live is not None  # opened in the lifespan
    async with services.live.limit.held(owner) as ticket:
        yield ticket


async def _still_signed_in(request: Request, services: Services, owner: str) -> bool:
    """Whether the sign-in or token this channel was opened with still holds: a channel
    outlives neither a disabled account nor a password change, logout or revoked token."""
    if services.settings.auth_mode == "none":
        return True
    try:
        return (await current_principal(request, services)).id == owner
    except (Unauthorized, Forbidden, NotFound):  # NotFound: the account is gone
        return False
    except RedisError:
        return True  # cannot tell now; asked again at the next heartbeat


@router.get("/events", response_class=Response, responses=_OPENAPI)
async def follow_changes(
    request: Request,
    owner: Caller,
    services: ServicesDep,
    _ticket: Annotated[Ticket, Depends(live_ticket)],
) -> Response:
    """Hear what changes in your conversations, from any tab, device or process.

    Meant for the browser's `EventSource`: it reconnects by itself, and each (re)connect
    begins with a `resync`. The channel ends when its account is disabled, and at the
    next heartbeat once its sign-in or token no longer holds.
    """
    live = services.live
    assert live is not None

    async def frames() -> AsyncIterator[bytes]:
        yield _frame(Change("resync", ""))
        async for change in live.changes(owner):
            if change is not None:
                yield _frame(change)
            elif await _still_signed_in(request, services, owner):
                yield HEARTBEAT
            else:
                return

    return EventSourceResponse(frames(), headers=STREAM_HEADERS)
