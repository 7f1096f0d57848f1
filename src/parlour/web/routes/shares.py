"""Share links: the owner makes, lists and revokes them; anyone with one reads it.

The public side (``/s/TOKEN``, the page, and ``GET /api/v1/shared/TOKEN``, its data)
needs no account and shows only the snapshot: its title, its messages, its time,
and the owner's username only if they chose to show it. Both answer with
``X-Robots-Tag: noindex`` (the page also says so in a meta tag).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Request, Response, status
from fastapi.responses import HTMLResponse, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field

from parlour.errors import NotFound
from parlour.web.assets import StaticAssets
from parlour.web.deps import (
    Caller,
    Conversation,
    CurrentPrincipal,
    ServicesDep,
    client_ip,
    limit_writes,
)
from parlour.web.schemas import ErrorOut, SessionOut

NOINDEX = {"X-Robots-Tag": "noindex, nofollow, noarchive", "Cache-Control": "no-store"}
ERRORS: dict[int | str, dict[str, Any]] = {
    404: {"model": ErrorOut}, 413: {"model": ErrorOut}, 422: {"model": ErrorOut},
    429: {"model": ErrorOut},
}  # fmt: skip

log = logging.getLogger(__name__)
router = APIRouter(prefix="/api/v1", tags=["shares"], responses=ERRORS)
page_router = APIRouter(include_in_schema=False)


class ShareIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    show_name: bool = Field(False, description="Show your username on the shared page.")
    expires_in: int | None = Field(
        None, ge=60, le=366 * 86_400, description="Seconds the link works for; null: until "
        "revoked.",
    )  # fmt: skip


class ShareOut(BaseModel):
    id: str
    session_id: str
    title: str
    path: str = Field(description="The link, relative to this server: /s/TOKEN.")
    created_at: float
    expires_at: float | None
    show_name: bool
    message_count: int

    @classmethod
    def of(cls, r: dict[str, Any]) -> ShareOut:
        return cls(
            id=r["id"], session_id=r["session_id"], title=r["title"], path=f"/s/{r['token']}",
            created_at=r["created_at"], expires_at=r["expires_at"], show_name=r["show_name"],
            message_count=r["message_count"],
        )  # fmt: skip


class ShareList(BaseModel):
    shares: list[ShareOut]


class SharedMessage(BaseModel):
    role: Literal["user", "assistant"]
    content: str
    timestamp: float


class SharedOut(BaseModel):
    title: str
    author: str | None = Field(description="The owner's username, only if they chose to show it.")
    created_at: float = Field(description="When the snapshot was taken.")
    messages: list[SharedMessage]


# --- the owner's side ----------------------------------------------------------------


@router.post(
    "/sessions/{session_id}/shares",
    status_code=status.HTTP_201_CREATED,
    dependencies=[Depends(limit_writes)],
)
async def create_share(
    conversation: Conversation, body: ShareIn, principal: CurrentPrincipal, services: ServicesDep
) -> ShareOut:
    """A read-only link to the active branch as it is now (later messages are not in it)."""
    author = principal.username if body.show_name and principal.via != "local" else None
    record = await services.sharing.create(
        conversation, author=author, expires_in=body.expires_in,
        max_messages=services.settings.export_max_messages,
    )  # fmt: skip
    return ShareOut.of(record)


@router.get("/shares")
async def list_shares(owner: Caller, services: ServicesDep) -> ShareList:
    """The caller's live share links, newest first."""
    return ShareList(shares=[ShareOut.of(r) for r in await services.sharing.links(owner)])


@router.delete(
    "/shares/{share_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    dependencies=[Depends(limit_writes)],
)
async def revoke_share(share_id: str, owner: Caller, services: ServicesDep) -> Response:
    """Revoke the link: it answers 404 from now on, on every server process."""
    await services.sharing.revoke(owner, share_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


# --- anyone with the link --------------------------------------------------------------


async def limit_shared_reads(request: Request, services: ServicesDep) -> None:
    """Reading a share costs what an export does, for anyone: counted per address as
    exports are (RATE_EXPORTS)."""
    if services.limiter is not None:
        await services.limiter.hit("export", "shared", client_ip(request))


@router.get("/shared/{token}", response_model=SharedOut,
            dependencies=[Depends(limit_shared_reads)])  # fmt: skip
async def read_shared(
    token: Annotated[str, Path(max_length=64)], services: ServicesDep
) -> Response:
    """A shared conversation, for anyone with its link (no account needed), streamed."""
    head = await services.sharing.head(token)  # 404 before the answer starts
    return StreamingResponse(_cut_short_if_revoked(services.sharing.view_json(token, head)),
                             media_type="application/json", headers=NOINDEX)  # fmt: skip


async def _cut_short_if_revoked(
    body: AsyncIterator[bytes | memoryview],
) -> AsyncIterator[bytes | memoryview]:
    """The answer as it comes; a link revoked (or expired) while it is read ends it
    there (the reader gets JSON that does not parse, never the rest): said in one line,
    it is no fault of the server's."""
    try:
        async for part in body:
            yield part
    except NotFound:
        log.info("a share link was revoked while being read: its answer was cut short")


@router.post(
    "/shared/{token}/continue",
    status_code=status.HTTP_201_CREATED,
    dependencies=[Depends(limit_writes)],
)
async def continue_shared(
    token: Annotated[str, Path(max_length=64)], owner: Caller, services: ServicesDep
) -> SessionOut:
    """Copy a shared conversation into a new conversation of the caller's, to go on with."""
    shared = await services.sharing.head(token)  # 404 before anything is made
    session = await services.chat.create_session(owner, title=shared["title"][:200])
    return SessionOut.of(await services.sharing.copy_into(token, session))


@page_router.get("/s/{token}")
async def shared_page(token: str, request: Request, services: ServicesDep) -> HTMLResponse:
    """The shared page (its script reads the snapshot): 404, with the page saying so, for
    a link that does not exist, was revoked or has expired."""
    assets: StaticAssets = request.app.state.assets
    asset = assets.files.get("share.html")
    if asset is None:
        raise NotFound()
    status = 200 if await services.sharing.exists(token) else 404
    return HTMLResponse(asset.body, status_code=status, headers=NOINDEX)
