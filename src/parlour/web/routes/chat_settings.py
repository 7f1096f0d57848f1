"""A conversation's own parameters: sampling and an extra system prompt."""

from __future__ import annotations

from dataclasses import asdict

from fastapi import APIRouter, Depends
from pydantic import ConfigDict, Field

from parlour.domain import ChatParams
from parlour.sampling import SamplingParams
from parlour.web.deps import Conversation, ServicesDep, limit_writes
from parlour.web.schemas import ErrorOut

router = APIRouter(
    prefix="/api/v1/sessions/{session_id}/settings",
    tags=["sessions"],
    dependencies=[Depends(limit_writes)],
    responses={404: {"model": ErrorOut}, 422: {"model": ErrorOut}, 429: {"model": ErrorOut}},
)

SYSTEM_PROMPT_CHARS = 8_000


class ChatSettingsPatch(SamplingParams):
    """Only the fields given change; ``null`` unsets one (the persona's value or the
    server's default applies again). The ranges are those of :mod:`parlour.sampling`."""

    system_prompt: str | None = Field(
        None,
        max_length=SYSTEM_PROMPT_CHARS,
        description="Added after the persona's system prompt.",
    )


class ChatDefaults(SamplingParams):
    """What applies where the conversation sets nothing (``null``: not sent, the
    provider's own default applies)."""

    model_config = ConfigDict(strict=False)  # out: values the server holds
    system_prompt: str | None


class ChatSettingsOut(SamplingParams):
    model_config = ConfigDict(strict=False)
    system_prompt: str | None = None
    defaults: ChatDefaults = Field(description="The server's defaults, for unset fields.")
    persona: SamplingParams = Field(
        description="The conversation's persona's parameters (null: not set there): they "
        "apply where the conversation sets nothing, over the server's defaults."
    )

    @classmethod
    def layers(
        cls, params: ChatParams, defaults: ChatParams, persona: ChatParams
    ) -> ChatSettingsOut:
        return cls(**asdict(params), defaults=ChatDefaults(**asdict(defaults)),
                   persona=SamplingParams.of(persona))  # fmt: skip


@router.get("")
async def get_chat_settings(conversation: Conversation, services: ServicesDep) -> ChatSettingsOut:
    """The conversation's own parameters (``null``: not set), its persona's, and the
    server's defaults."""
    persona = await services.chat.persona_params(conversation)
    return ChatSettingsOut.layers(conversation.params, services.chat.defaults, persona)


@router.patch("")
async def update_chat_settings(
    conversation: Conversation, body: ChatSettingsPatch, services: ServicesDep
) -> ChatSettingsOut:
    """Change some of the conversation's parameters; they apply from its next reply on
    and are sent to the model only when set (here, by the persona or as a server
    default)."""
    info = await services.chat.update_params(conversation, body.changes())
    persona = await services.chat.persona_params(info)
    return ChatSettingsOut.layers(info.params, services.chat.defaults, persona)
