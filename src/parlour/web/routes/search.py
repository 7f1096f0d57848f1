"""Search the caller's own conversations: every branch, words, prefixes and CJK text."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from parlour.errors import InvalidInput
from parlour.store.search import Filters, Hit
from parlour.store.tokenize import parse_query
from parlour.web.deps import Caller, ServicesDep
from parlour.web.schemas import ErrorOut

router = APIRouter(
    prefix="/api/v1/search",
    tags=["search"],
    responses={422: {"model": ErrorOut}, 429: {"model": ErrorOut}},
)


class SnippetOut(BaseModel):
    text: str = Field(description="Part of the message around its first match.")
    marks: list[list[int]] = Field(
        description="The matches in `text` as [start, end) offsets in UTF-16 code units "
        "(JavaScript string indexes)."
    )


class SearchHitOut(BaseModel):
    session_id: str
    title: str
    message_id: str = Field(description="The message that matched.")
    role: str
    timestamp: float
    persona: str
    model: str
    snippet: SnippetOut
    on_active_branch: bool = Field(
        description="Whether the message is on the conversation's active branch; if not, "
        "PUT /api/v1/sessions/{id}/branch with its id shows it, or read it with "
        "GET .../messages?through=ID."
    )
    pinned: bool = False
    archived: bool = Field(False, description="Archived conversations are searched too.")

    @classmethod
    def of(cls, hit: Hit) -> SearchHitOut:
        return cls(
            session_id=hit.session_id,
            title=hit.title,
            message_id=hit.message_id,
            role=hit.role,
            timestamp=hit.timestamp,
            persona=hit.persona,
            model=hit.model,
            snippet=SnippetOut(text=hit.snippet, marks=hit.marks),
            on_active_branch=hit.on_active_branch,
            pinned=hit.pinned,
            archived=hit.archived,
        )


class SearchPage(BaseModel):
    items: list[SearchHitOut] = Field(description="Newest first.")
    offset: int
    limit: int
    next_offset: int | None = Field(description="Where the next page starts; null at the end.")
    truncated: bool = Field(
        description="The search stopped after checking its bound of candidates: narrow the "
        "query (more words, a filter) to see older matches."
    )


@router.get("")
async def search(
    caller: Caller,
    services: ServicesDep,
    q: Annotated[str, Query(max_length=200, description="Words, prefixes or Chinese text.")],
    persona: Annotated[str | None, Query(max_length=64)] = None,
    model: Annotated[str | None, Query(max_length=200)] = None,
    since: Annotated[
        float | None, Query(alias="from", ge=0, description="Unix time: messages from then.")
    ] = None,
    until: Annotated[
        float | None, Query(alias="to", ge=0, description="Unix time: messages before then.")
    ] = None,
    pinned: Annotated[
        bool | None, Query(description="Only pinned (true) or unpinned (false) ones.")
    ] = None,
    archived: Annotated[
        bool | None, Query(description="Only archived (true) or unarchived (false) ones.")
    ] = None,
    offset: Annotated[int, Query(ge=0, le=1000)] = 0,
    limit: Annotated[int, Query(ge=1, le=50)] = 20,
) -> SearchPage:
    """The caller's messages matching every word (as a prefix, any case) and every
    Chinese/Japanese/Korean run (as a substring) of ``q``, newest first. Archived
    conversations are included unless ``archived=false``; deleted ones (in the trash)
    never are."""
    if services.search is None:
        raise InvalidInput("Search is not available on this server.")
    if not q.strip():
        raise InvalidInput("The search is empty: type a word or some Chinese text.")
    if parse_query(q).empty:
        raise InvalidInput("The search has no letters, digits or Chinese characters.")
    if since is not None and until is not None and until <= since:
        raise InvalidInput("'to' must be later than 'from'.")
    found = await services.search.search(
        caller,
        q,
        Filters(persona, model, since, until, pinned, archived),
        offset=offset,
        limit=limit,
    )
    return SearchPage(
        items=[SearchHitOut.of(h) for h in found.hits],
        offset=offset,
        limit=limit,
        next_offset=offset + limit if found.more else None,
        truncated=found.truncated,
    )
