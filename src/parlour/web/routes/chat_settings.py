"""A conversation's own parameters: sampling and an extra system prompt."""

from __future__ import annotations

from dataclasses import asdict

from fastapi import APIRouter, Depends
from pydantic import BaseModel, ConfigDict, Field

from parlour.domain import ChatParams
from parlour.web.deps import Conversation, ServicesDep, limit_writes
from parlour.web.schemas import ErrorOut

router = APIRouter(
    prefix="/api/v1/sessions/{session_id}/settings",
    tags=["sessions"],
    dependencies=[Depends(limit_writes)],
    responses={404: {"model": ErrorOut}, 422: {"model": ErrorOut}, 429: {"model": ErrorOut}},
)

SYSTEM_PROMPT_CHARS = 8_000


class ChatSettingsPatch(BaseModel):
    """Only the fields given change; ``null`` unsets one (the default applies again)."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)
    temperature: float | None = Field(None, ge=0, le=2, description="0 to 2.")
    top_p: float | None = Field(None, ge=0, le=1, description="0 to 1.")
    max_tokens: int | None = Field(
        None, ge=1, le=131_072, strict=True, description="The longest reply, in tokens."
    )
    presence_penalty: float | None = Field(None, ge=-2, le=2, description="-2 to 2.")
    frequency_penalty: float | None = Field(None, ge=-2, le=2, description="-2 to 2.")
    seed: int | None = Field(
        None, ge=0, le=2**53 - 1, strict=True, description="For repeatable sampling."
    )
    system_prompt: str | None = Field(
        None,
        max_length=SYSTEM_PROMPT_CHARS,
        description="Added after the persona's system prompt.",
    )


class ChatDefaults(BaseModel):
    """What applies where the conversation sets nothing (``null``: not sent, the
    provider's own default applies)."""

    temperature: float | None
    top_p: float | None
    max_tokens: int | None
    presence_penalty: float | None
    frequency_penalty: float | None
    seed: int | None
    system_prompt: str | None


class ChatSettingsOut(BaseModel):
    temperature: float | None = None
    top_p: float | None = None
    max_tokens: int | None = None
    presence_penalty: float | None = None
    frequency_penalty: float | None = None
    seed: int | None = None
    system_prompt: str | None = None
    defaults: ChatDefaults = Field(description="The server's defaults, for unset fields.")

    @classmethod
    def of(cls, params: ChatParams, defaults: ChatParams) -> ChatSettingsOut:
        return cls(**asdict(params), defaults=ChatDefaults(**asdict(defaults)))


@router.get("")
async def get_chat_settings(conversation: Conversation, services: ServicesDep) -> ChatSettingsOut:
    """The conversation's own parameters (``null``: not set), and the defaults."""
    return ChatSettingsOut.of(conversation.params, services.chat.defaults)


@router.patch("")
async def update_chat_settings(
    conversation: Conversation, body: ChatSettingsPatch, services: ServicesDep
) -> ChatSettingsOut:
    """Change some of the conversation's parameters; they apply from its next reply on
    and are sent to the model only when set (here or as a server default)."""
    changes = {name: getattr(body, name) for name in body.model_fields_set}
    info = await services.chat.update_params(conversation, changes)
    return ChatSettingsOut.of(info.params, services.chat.defaults)
