"""Sessions and their stored messages."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Response, status
from fastapi.responses import JSONResponse

from parlour.errors import MessageTooLong
from parlour.web.deps import Caller, ServicesDep, limit_writes
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
    dependencies=[Depends(limit_writes)],
    responses={404: {"model": ErrorOut}, 422: {"model": ErrorOut}, 429: {"model": ErrorOut}},
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
    info = await services.store.get_session(caller, session_id)
    return SessionOut.of(info, await services.store.running_reply(session_id))


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


@router.get("/{session_id}/export")
async def export_session(
    session_id: str,
    caller: Caller,
    services: ServicesDep,
    format: Annotated[Literal["json", "markdown"], Query()] = "json",
) -> Response:
    """The whole conversation as a JSON or Markdown download."""
    info = await services.store.get_session(caller, session_id)
    most = services.settings.export_max_messages
    if info.message_count > most:  # refused before anything is read
        raise MessageTooLong(
            f"This conversation has {info.message_count} messages; at most {most} can be "
            "exported at once. Use GET .../messages with offset and limit instead."
        )
    messages, _total = await services.store.messages(session_id, offset=0, limit=most)
    name = f"parlour-{session_id[:8]}"
    if format == "markdown":
        lines = [f"# {info.title or 'Conversation'}", ""]
        for m in messages:
            lines += [f"**{m.role}**", "", m.content, ""]
        download = {"Content-Disposition": f'attachment; filename="{name}.md"'}
        return Response(
            "\n".join(lines), media_type="text/markdown; charset=utf-8", headers=download
        )
    body = {
        "session": SessionOut.of(info).model_dump(),
        "items": [MessageOut.of(m).model_dump() for m in messages],
        "total": len(messages),
    }
    download = {"Content-Disposition": f'attachment; filename="{name}.json"'}
    return JSONResponse(body, headers=download)
