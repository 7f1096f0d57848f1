"""Sessions and their stored messages."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response, status

from parlour.web.deps import Caller, ServicesDep
from parlour.web.schemas import (
    ErrorOut,
    MessageOut,
    MessagePage,
    SessionCreate,
    SessionOut,
    SessionPage,
    SessionPatch,
)

router = APIRouter(
    prefix="/api/v1/sessions",
    tags=["sessions"],
    responses={404: {"model": ErrorOut}, 422: {"model": ErrorOut}},
)

Offset = Annotated[int, Query(ge=0, le=1_000_000)]
Limit = Annotated[int, Query(ge=1, le=500)]


@router.post("", status_code=status.HTTP_201_CREATED)
async def create_session(body: SessionCreate, caller: Caller, services: ServicesDep) -> SessionOut:
    info = await services.chat.create_session(
        caller, persona=body.persona, title=body.title, model=body.model
    )
    return SessionOut.of(info)


@router.get("")
async def list_sessions(
    caller: Caller, services: ServicesDep, offset: Offset = 0, limit: Limit = 50
) -> SessionPage:
    sessions, total = await services.store.list_sessions(caller, offset=offset, limit=limit)
    return SessionPage(
        items=[SessionOut.of(s) for s in sessions], total=total, offset=offset, limit=limit
    )


@router.get("/{session_id}")
async def get_session(session_id: str, caller: Caller, services: ServicesDep) -> SessionOut:
    return SessionOut.of(await services.store.get_session(caller, session_id))


@router.patch("/{session_id}")
async def update_session(
    session_id: str, body: SessionPatch, caller: Caller, services: ServicesDep
) -> SessionOut:
    info = await services.chat.update_session(
        caller, session_id, title=body.title, persona=body.persona, model=body.model
    )
    return SessionOut.of(info)


@router.delete("/{session_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_session(session_id: str, caller: Caller, services: ServicesDep) -> Response:
    await services.store.delete_session(caller, session_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/{session_id}/messages")
async def list_messages(
    session_id: str,
    caller: Caller,
    services: ServicesDep,
    offset: Offset = 0,
    limit: Limit = 100,
) -> MessagePage:
    await services.store.get_session(caller, session_id)
    messages, total = await services.store.messages(session_id, offset=offset, limit=limit)
    return MessagePage(
        items=[MessageOut.of(m) for m in messages], total=total, offset=offset, limit=limit
    )


@router.delete("/{session_id}/messages", status_code=status.HTTP_204_NO_CONTENT)
async def clear_messages(session_id: str, caller: Caller, services: ServicesDep) -> Response:
    await services.store.clear_messages(caller, session_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
