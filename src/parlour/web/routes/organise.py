"""Organising conversations: pins, the archive, folders, several at once, and the trash."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Response, status
from pydantic import BaseModel, ConfigDict, Field, field_validator

from parlour.domain import SessionInfo
from parlour.errors import InvalidInput, NotFound
from parlour.web.deps import Caller, Conversation, Services, ServicesDep, limit_writes
from parlour.web.schemas import ErrorOut, SessionOut, SessionPage

router = APIRouter(
    prefix="/api/v1",
    tags=["organise"],
    dependencies=[Depends(limit_writes)],
    responses={404: {"model": ErrorOut}, 422: {"model": ErrorOut}, 429: {"model": ErrorOut}},
)

Offset = Annotated[int, Query(ge=0, le=1_000_000)]
Limit = Annotated[int, Query(ge=1, le=500)]


class FolderIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(max_length=100)

    @field_validator("name")
    @classmethod
    def named(cls, value: str) -> str:
        value = " ".join(value.split())
        if not value:
            raise ValueError("A folder needs a name.")
        return value


class FolderOut(BaseModel):
    id: str
    name: str
    created_at: float
    count: int = Field(0, description="How many conversations it holds (archived included).")


class FolderList(BaseModel):
    folders: list[FolderOut]


class MoveIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    folder_id: str | None = Field(max_length=64, description="null: out of any folder.")


class BulkIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    action: Literal["archive", "unarchive", "pin", "unpin", "move", "delete"]
    session_ids: list[Annotated[str, Field(max_length=64)]] = Field(min_length=1, max_length=200)
    folder_id: str | None = Field(
        None, max_length=64, description="For move: the folder (null: out of any folder)."
    )


class BulkOut(BaseModel):
    action: str
    count: int = Field(description="How many conversations it was done to.")


# --- pins and the archive --------------------------------------------------------------


@router.put("/sessions/{session_id}/pin")
async def pin(conversation: Conversation, services: ServicesDep) -> SessionOut:
    """Pin it: the main list shows pinned conversations first (pinning unarchives)."""
    return SessionOut.of(await services.organise.pin(conversation, True))


@router.delete("/sessions/{session_id}/pin")
async def unpin(conversation: Conversation, services: ServicesDep) -> SessionOut:
    return SessionOut.of(await services.organise.pin(conversation, False))


@router.put("/sessions/{session_id}/archive")
async def archive(conversation: Conversation, services: ServicesDep) -> SessionOut:
    """Archive it: off the main list (and unpinned), still searchable, restorable."""
    return SessionOut.of(await services.organise.archive(conversation, True))


@router.delete("/sessions/{session_id}/archive")
async def unarchive(conversation: Conversation, services: ServicesDep) -> SessionOut:
    return SessionOut.of(await services.organise.archive(conversation, False))


@router.put("/sessions/{session_id}/folder")
async def move(conversation: Conversation, body: MoveIn, services: ServicesDep) -> SessionOut:
    """Put it in a folder (one at a time), or out of any with ``folder_id`` null."""
    return SessionOut.of(await services.organise.move(conversation, body.folder_id))


@router.post("/sessions/{session_id}/messages/restore")
async def restore_messages(conversation: Conversation, services: ServicesDep) -> SessionOut:
    """Undo the last clear: possible for TRASH_SECONDS, while no new message was sent."""
    return SessionOut.of(await services.organise.unclear(conversation))


async def _apply(services: Services, session: SessionInfo, body: BulkIn) -> None:
    organise = services.organise
    if body.action in ("archive", "unarchive"):
        await organise.archive(session, body.action == "archive")
    elif body.action in ("pin", "unpin"):
        await organise.pin(session, body.action == "pin")
    elif body.action == "move":
        await organise.move(session, body.folder_id)
    else:
        running = await services.store.running_reply(session.id)
        await organise.delete(session)
        await services.sharing.revoke_conversation(session.owner, session.id)
        if running is not None:
            await services.replies.stop(running)


@router.post("/sessions/bulk")
async def bulk(body: BulkIn, owner: Caller, services: ServicesDep) -> BulkOut:
    """Archive, unarchive, pin, unpin, move or delete several conversations at once. If
    any of them is not the caller's (or does not exist), nothing is done (404)."""
    ids = list(dict.fromkeys(body.session_ids))
    sessions = [await services.store.get_session(owner, sid) for sid in ids]
    if body.action == "move" and body.folder_id:
        await services.organise.folder(owner, body.folder_id)
    elif body.folder_id is not None and body.action != "move":
        raise InvalidInput("folder_id goes only with the move action.")
    for session in sessions:
        try:
            await _apply(services, session, body)
        except NotFound:
            continue  # deleted meanwhile
    return BulkOut(action=body.action, count=len(sessions))


# --- folders ---------------------------------------------------------------------------


@router.get("/folders")
async def list_folders(owner: Caller, services: ServicesDep) -> FolderList:
    """The caller's folders by name (a folder's conversations: GET .../folders/ID/sessions)."""
    found = await services.organise.folders(owner)
    return FolderList(folders=[FolderOut.model_validate(f) for f in found])


@router.get("/folders/{folder_id}/sessions")
async def folder_sessions(
    folder_id: str, owner: Caller, services: ServicesDep, offset: Offset = 0, limit: Limit = 50
) -> SessionPage:
    """A folder's conversations (archived ones left out), by last activity."""
    rows, total = await services.organise.listing(
        owner, offset=offset, limit=limit, folder=folder_id
    )
    return SessionPage(
        items=[SessionOut.of(s) for s in rows], total=total, offset=offset, limit=limit
    )


@router.post("/folders", status_code=status.HTTP_201_CREATED)
async def create_folder(body: FolderIn, owner: Caller, services: ServicesDep) -> FolderOut:
    return FolderOut.model_validate(await services.organise.create_folder(owner, body.name))


@router.patch("/folders/{folder_id}")
async def rename_folder(
    folder_id: str, body: FolderIn, owner: Caller, services: ServicesDep
) -> FolderOut:
    return FolderOut.model_validate(
        await services.organise.rename_folder(owner, folder_id, body.name)
    )


@router.delete("/folders/{folder_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_folder(folder_id: str, owner: Caller, services: ServicesDep) -> Response:
    """Delete the folder; its conversations are kept, out of any folder."""
    await services.organise.delete_folder(owner, folder_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


# --- the trash -------------------------------------------------------------------------


@router.get("/trash")
async def list_trash(
    owner: Caller, services: ServicesDep, offset: Offset = 0, limit: Limit = 50
) -> SessionPage:
    """Deleted conversations, most recently deleted first; each goes for good
    TRASH_SECONDS after it was deleted (see ``deleted_at``)."""
    rows, total = await services.organise.trash(owner, offset=offset, limit=limit)
    return SessionPage(
        items=[SessionOut.of(s) for s in rows], total=total, offset=offset, limit=limit
    )


@router.post("/trash/{session_id}/restore")
async def restore(session_id: str, owner: Caller, services: ServicesDep) -> SessionOut:
    """Undo a delete: back in its lists, pin, archive and folder as they were."""
    return SessionOut.of(await services.organise.restore(owner, session_id))


@router.delete("/trash/{session_id}", status_code=status.HTTP_204_NO_CONTENT)
async def purge(session_id: str, owner: Caller, services: ServicesDep) -> Response:
    """Delete a conversation in the trash for good, now."""
    await services.organise.purge(owner, session_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.delete("/trash")
async def empty_trash(owner: Caller, services: ServicesDep) -> BulkOut:
    return BulkOut(action="empty", count=await services.organise.empty_trash(owner))
