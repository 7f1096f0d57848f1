"""The original tutorial's API, at its original paths and in its original shapes.

Here ``user_id`` (a query parameter) names whose sessions these are, as it did
in the tutorial; one ``user_id`` never sees another's sessions.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.sse import EventSourceResponse

from parlour.reply import Reply
from parlour.web.deps import (
    LOCAL_USER,
    ServicesDep,
    TutorialCaller,
    TutorialConversation,
    TutorialFollowerTicket,
    current_principal,
    limit_messages,
    limit_writes,
    tutorial_caller,
)
from parlour.web.schemas import (
    ErrorOut,
    HistoryItem,
    HistoryOut,
    Notice,
    RoleOut,
    RolesOut,
    StartChatOut,
    TutorialSession,
    TutorialSessions,
)
from parlour.web.sse import OPENAPI, event_stream

router = APIRouter(
    tags=["tutorial API"],
    responses={404: {"model": ErrorOut}, 409: {"model": ErrorOut}, 422: {"model": ErrorOut}},
)

HISTORY_PAGE = 200  # messages /chat/history returns unless asked for fewer or more
HISTORY_PAGE_MAX = 1000
WELCOME = "你好！我是你的{name}，有什么可以帮助你的吗？"


@router.post("/chat/start", dependencies=[Depends(limit_writes)])
async def start_chat(
    caller: TutorialCaller,
    services: ServicesDep,
    role: Annotated[str | None, Query(max_length=64)] = None,
) -> StartChatOut:
    info = await services.chat.create_session(caller, persona=role)
    persona = await services.personas.get(caller, info.persona)
    return StartChatOut(session_id=info.id, welcome_message=WELCOME.format(name=persona.name_zh))


async def start_tutorial_reply(
    _ticket: TutorialFollowerTicket,
    conversation: TutorialConversation,
    services: ServicesDep,
    message: Annotated[str, Query()],
    _limited: Annotated[None, Depends(limit_messages)],
    role: Annotated[str | None, Query(max_length=64)] = None,
) -> Reply:
    return await services.chat.send(conversation, message, persona=role)


@router.get("/chat/stream", response_class=Response, responses=OPENAPI)
async def chat_stream(
    reply: Annotated[Reply, Depends(start_tutorial_reply)], services: ServicesDep
) -> EventSourceResponse:
    """The reply as ``{"content", "type": "chunk"}`` events, then ``end`` or ``error``."""
    return event_stream(
        services.replies.follow(reply.session_id, reply.id), reply.id, tutorial=True
    )


@router.get("/chat/history")
async def chat_history(
    conversation: TutorialConversation,
    services: ServicesDep,
    limit: Annotated[int, Query(ge=1, le=HISTORY_PAGE_MAX)] = HISTORY_PAGE,
    offset: Annotated[int | None, Query(ge=0, le=1_000_000)] = None,
) -> HistoryOut:
    """The conversation's active branch, oldest first: ``limit`` messages from ``offset``;
    without ``offset``, the newest ``limit``. ``total`` counts the whole branch."""
    start = offset
    if start is None:
        _nodes, total = await services.store.messages(conversation.id, offset=0, limit=1)
        start = max(0, total - limit)
    nodes, total = await services.store.messages(conversation.id, offset=start, limit=limit)
    items = [
        HistoryItem(role=n.message.role, content=n.message.content, timestamp=n.message.timestamp)
        for n in nodes
    ]
    return HistoryOut(messages=items, total=total)


@router.get("/chat/sessions")
async def chat_sessions(caller: TutorialCaller, services: ServicesDep) -> TutorialSessions:
    sessions, total = await services.store.list_sessions(caller, offset=0, limit=500)
    return TutorialSessions(
        sessions=[
            TutorialSession(
                session_id=s.id,
                title=s.title,
                role=s.persona,
                created_at=s.created_at,
                updated_at=s.updated_at,
                message_count=s.message_count,
            )
            for s in sessions
        ],
        total=total,
    )


@router.delete("/chat/history/{session_id}", dependencies=[Depends(limit_writes)])
async def clear_history(session_id: str, caller: TutorialCaller, services: ServicesDep) -> Notice:
    await services.store.clear_messages(await services.store.get_session(caller, session_id))
    return Notice(message="对话历史已清除")


@router.delete("/chat/session/{session_id}", dependencies=[Depends(limit_writes)])
async def delete_session(session_id: str, caller: TutorialCaller, services: ServicesDep) -> Notice:
    await services.store.delete_session(await services.store.get_session(caller, session_id))
    return Notice(message="会话已删除")


async def roles_owner(
    services: ServicesDep,
    request: Request,
    user_id: Annotated[
        str | None, Query(description="Include this user's own personas.", max_length=64)
    ] = None,
) -> str:
    if user_id is None:
        return LOCAL_USER if services.settings.auth_mode == "none" else ""
    return await tutorial_caller(services, request, user_id)


@router.get("/roles", dependencies=[Depends(current_principal)])
async def roles(owner: Annotated[str, Depends(roles_owner)], services: ServicesDep) -> RolesOut:
    """The personas, in the tutorial's shape: built in, published, and (with ``user_id``,
    or the single local user) the user's own; ``role=`` takes any of their ids."""
    return RolesOut(
        roles={
            p.id: RoleOut(
                name=p.name_zh or p.name_en,
                name_en=p.name_en or p.name_zh,
                description=p.description_zh or p.description_en,
                system_prompt=p.system_prompt,
            )
            for p in await services.personas.visible(owner)
        },
        default_role=services.chat.default_persona,
    )
