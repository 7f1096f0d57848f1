"""A conversation's running summary: read it, correct it, turn summaries off."""

from __future__ import annotations

from fastapi import APIRouter, Depends

from parlour.errors import NotFound
from parlour.summaries import Summaries
from parlour.web.deps import Conversation, Services, ServicesDep, limit_writes
from parlour.web.schemas import ErrorOut, SummaryIn, SummaryStateOut, SummarySwitchIn

router = APIRouter(
    prefix="/api/v1/sessions/{session_id}/summary",
    tags=["summaries"],
    dependencies=[Depends(limit_writes)],
    responses={404: {"model": ErrorOut}, 422: {"model": ErrorOut}},
)


def summaries_of(services: Services) -> Summaries:
    if services.summaries is None:
        raise NotFound("Summaries are not available on this server.")
    return services.summaries


async def _state(conversation: Conversation, services: Services) -> SummaryStateOut:
    summaries = summaries_of(services)
    window = await services.chat.window(conversation)
    return SummaryStateOut.of(await summaries.view(conversation, window))


@router.get("")
async def get_summary(conversation: Conversation, services: ServicesDep) -> SummaryStateOut:
    """Where the model's view of the active branch begins, and the summary before it."""
    return await _state(conversation, services)


@router.put("")
async def edit_summary(
    body: SummaryIn, conversation: Conversation, services: ServicesDep
) -> SummaryStateOut:
    """Correct the active branch's summary: the next turn sends it as written, and later
    summaries build on it."""
    window = await services.chat.window(conversation)
    await summaries_of(services).edit(conversation, window, body.text)
    return await _state(conversation, services)


@router.put("/enabled")
async def switch_summaries(
    body: SummarySwitchIn, conversation: Conversation, services: ServicesDep
) -> SummaryStateOut:
    """Turn summaries on or off for this conversation (off: older messages are trimmed)."""
    await summaries_of(services).set_enabled(conversation, body.enabled)
    return await _state(conversation, services)
