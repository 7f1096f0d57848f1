"""Token usage: your own per day and model, and (administrators) everyone's."""

from __future__ import annotations

import re
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from parlour.errors import InvalidInput
from parlour.store.usage import KEEP_DAYS, ModelUsage, UsageStore, last_days
from parlour.web.deps import AdminPrincipal, Caller, ServicesDep
from parlour.web.schemas import ErrorOut

router = APIRouter(
    prefix="/api/v1",
    tags=["usage"],
    responses={403: {"model": ErrorOut}, 422: {"model": ErrorOut}},
)

_DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


class ModelUsageOut(BaseModel):
    model: str
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int
    replies: int
    seconds: float = Field(description="The replies' time, from request to end, in total.")

    @classmethod
    def of(cls, row: ModelUsage) -> ModelUsageOut:
        return cls(
            model=row.model,
            prompt_tokens=row.prompt_tokens,
            completion_tokens=row.completion_tokens,
            total_tokens=row.total_tokens,
            replies=row.replies,
            seconds=round(row.seconds, 3),
        )


class DayUsageOut(BaseModel):
    day: str = Field(description="UTC, YYYY-MM-DD.")
    models: list[ModelUsageOut]


class QuotaOut(BaseModel):
    daily_limit: int | None = Field(description="DAILY_TOKEN_QUOTA (null: none).")
    used_today: int = Field(description="Tokens the model wrote for you today (what it counts).")


class UsageOut(BaseModel):
    days: list[DayUsageOut] = Field(description="Today first.")
    quota: QuotaOut


class UserUsageOut(BaseModel):
    user_id: str
    username: str | None
    models: list[ModelUsageOut]


class EveryoneUsageOut(BaseModel):
    day: str
    users: list[UserUsageOut] = Field(description="The most tokens first.")


def _store(services: ServicesDep) -> UsageStore:
    assert services.usage is not None
    return services.usage


@router.get("/usage")
async def my_usage(
    caller: Caller,
    services: ServicesDep,
    days: Annotated[int, Query(ge=1, le=KEEP_DAYS, description="How many days back.")] = 7,
) -> UsageOut:
    """Your tokens per day and model (prompt and completion, as the model service reported
    them, else counted), replies and their time; and where you stand against the quota."""
    rows = await _store(services).of_owner(caller, last_days(days))
    quota = services.settings.daily_token_quota
    return UsageOut(
        days=[DayUsageOut(day=d, models=[ModelUsageOut.of(m) for m in ms]) for d, ms in rows],
        quota=QuotaOut(
            daily_limit=quota or None, used_today=await services.ledger.usage_today(caller)
        ),
    )


@router.get("/admin/usage")
async def everyones_usage(
    _admin: AdminPrincipal,
    services: ServicesDep,
    day: Annotated[str | None, Query(max_length=10, description="UTC, YYYY-MM-DD.")] = None,
) -> EveryoneUsageOut:
    """Administrators: every user's tokens per model for one day (default today), kept
    for the last 32 days."""
    if day is None:
        day = last_days(1)[0]
    elif not _DAY.fullmatch(day):
        raise InvalidInput("'day' must be a date written YYYY-MM-DD.")
    rows = await _store(services).of_everyone(day)
    names: dict[str, str] = {}
    if services.accounts is not None:
        names = {a.id: a.username for a in await services.accounts.all()}
    return EveryoneUsageOut(
        day=day,
        users=[
            UserUsageOut(
                user_id=owner,
                username=names.get(owner, owner if services.accounts is None else None),
                models=[ModelUsageOut.of(m) for m in models],
            )
            for owner, models in rows
        ],
    )
