"""Sessions and their stored messages."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Response, status
from fastapi.responses import StreamingResponse

from parlour.errors import MessageTooLong
from parlour.web.deps import Caller, Conversation, ServicesDep, limit_writes
from parlour.web.export import json_export, markdown_export
from parlour.web.schemas import (
    BranchIn,
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
    own = await services.preferences.default_model(caller) if services.preferences else None
    info = await services.chat.create_session(
        caller, persona=body.persona, title=body.title, model=body.model, user_default=own
    )
    return SessionOut.of(info)


@router.get("")
async def list_sessions(
    caller: Caller,
    services: ServicesDep,
    offset: Offset = 0,
    limit: Limit = 50,
    view: Annotated[
        Literal["main", "archived"],
        Query(
            description="main: pinned first, then the rest by last activity (archived "
            "ones left out); archived: the archive, most recently archived first."
        ),
    ] = "main",
) -> SessionPage:
    """The caller's conversations. A folder's: GET /api/v1/folders/{id}/sessions; deleted
    ones: GET /api/v1/trash."""
    sessions, total = await services.organise.listing(caller, view, offset=offset, limit=limit)
    return SessionPage(
        items=[SessionOut.of(s) for s in sessions], total=total, offset=offset, limit=limit
    )


@router.get("/{session_id}")
async def get_session(conversation: Conversation, services: ServicesDep) -> SessionOut:
    return SessionOut.of(conversation, await services.store.running_reply(conversation.id))


@router.patch("/{session_id}")
async def update_session(
    conversation: Conversation, body: SessionPatch, services: ServicesDep
) -> SessionOut:
    info = await services.chat.update_session(
        conversation, title=body.title, persona=body.persona, model=body.model
    )
    return SessionOut.of(info)


@router.delete("/{session_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_session(conversation: Conversation, services: ServicesDep) -> Response:
    """Move the conversation to the trash (restorable for TRASH_SECONDS, then gone; with
    TRASH_SECONDS=0 at once); a reply being written in it is stopped and not stored. Its
    share links are revoked."""
    running = await services.store.running_reply(conversation.id)
    await services.organise.delete(conversation)
    await services.sharing.revoke_conversation(conversation.owner, conversation.id)
    if running is not None:
        await services.replies.stop(running)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/{session_id}/messages")
async def list_messages(
    conversation: Conversation,
    services: ServicesDep,
    offset: Offset = 0,
    limit: Limit = 100,
    through: Annotated[
        str | None,
        Query(
            max_length=64,
            description="Read the branch through this message (first message to its newest "
            "leaf) instead of the active one, without switching.",
        ),
    ] = None,
) -> MessagePage:
    """The active branch, oldest first: each message with its parent and its siblings."""
    store = services.store
    if through is not None:
        nodes, total = await store.branch(conversation.id, through, offset=offset, limit=limit)
    else:
        nodes, total = await store.messages(conversation.id, offset=offset, limit=limit)
    return MessagePage(
        items=[MessageOut.of(n.message, n.siblings) for n in nodes],
        total=total,
        offset=offset,
        limit=limit,
    )


@router.put("/{session_id}/branch")
async def switch_branch(
    conversation: Conversation, body: BranchIn, services: ServicesDep
) -> SessionOut:
    """Show another branch: the one through ``message_id``, down to its newest leaf.

    Refused (409) while a reply is being written. Then read it with GET .../messages.
    """
    await services.store.select(conversation, body.message_id, descend=True)
    return SessionOut.of(await services.store.get_session(conversation.owner, conversation.id))


@router.delete("/{session_id}/messages/{message_id}")
async def delete_branch(
    conversation: Conversation, message_id: str, services: ServicesDep
) -> SessionOut:
    """Delete a message and everything that follows it (one branch). If it was shown, the
    conversation shows its previous version (else the next one) instead."""
    await services.store.delete_branch(conversation, message_id)
    return SessionOut.of(await services.store.get_session(conversation.owner, conversation.id))


@router.delete("/{session_id}/messages", status_code=status.HTTP_204_NO_CONTENT)
async def clear_messages(conversation: Conversation, services: ServicesDep) -> Response:
    """Delete every message, on every branch (refused while a reply is being written).
    Undo with POST .../messages/restore for TRASH_SECONDS, until a new message is sent."""
    await services.organise.clear(conversation)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


async def limit_exports(owner: Caller, services: ServicesDep) -> None:
    if services.limiter is not None:
        await services.limiter.hit("export", owner)


@router.get("/{session_id}/export", dependencies=[Depends(limit_exports)])
async def export_session(
    conversation: Conversation,
    services: ServicesDep,
    format: Annotated[Literal["json", "markdown"], Query()] = "json",
) -> Response:
    """The conversation as a download: JSON holds every branch (the README documents the
    format), Markdown the active branch. Streamed: memory does not grow with the history."""
    info = conversation
    most = services.settings.export_max_messages
    if info.message_count > most:  # refused before anything is read
        raise MessageTooLong(
            f"This conversation has {info.message_count} messages; at most {most} can be "
            "exported at once. Use GET .../messages with offset and limit instead."
        )
    name = f"parlour-{info.id[:8]}"
    if format == "markdown":
        download = {"Content-Disposition": f'attachment; filename="{name}.md"'}
        return StreamingResponse(
            markdown_export(services.store, info),
            media_type="text/markdown; charset=utf-8",
            headers=download,
        )
    download = {"Content-Disposition": f'attachment; filename="{name}.json"'}
    summaries = await services.summaries.store.all(info.id) if services.summaries else []
    return StreamingResponse(
        json_export(services.store, info, summaries),
        media_type="application/json",
        headers=download,
    )
