"""Request and response bodies of the HTTP API (apart from the stored values)."""

from __future__ import annotations

from dataclasses import asdict
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from parlour.domain import Message, ModelInfo, Persona, SessionInfo
from parlour.memory import MemoryState
from parlour.sampling import SamplingParams
from parlour.summaries import SummaryView
from parlour.window import Summary


class ErrorBody(BaseModel):
    code: str = Field(description="Stable, for programs (and the page's choice of text).")
    message: str = Field(description="For people, in English.")
    retry_after: float | None = Field(
        default=None, description="Seconds to wait before trying again, when known."
    )


class ErrorOut(BaseModel):
    detail: str = Field(description="What went wrong, for people.")
    error: ErrorBody


class PersonaOut(BaseModel):
    id: str
    name: str = Field(description="English name (else the Chinese one)")
    name_zh: str
    name_en: str
    description: str = Field(description="English description (as description_en)")
    description_en: str
    description_zh: str
    icon: str
    system_prompt: str = Field(description="Shown only to those who may use the persona.")
    starters: list[str] = Field(default_factory=list, description="Offered on an empty chat.")
    model: str | None = Field(None, description="The model new conversations start on.")
    use_memory: bool = Field(True, description="The user's memory goes into its system prompt.")
    params: SamplingParams = Field(
        default_factory=SamplingParams,
        description="Its sampling parameters (null: not set): they apply where a "
        "conversation sets none, over the server's defaults.",
    )
    kind: Literal["builtin", "published", "own"] = Field(
        description="Built in and published personas are read-only: duplicate them to edit."
    )
    created_at: float = 0.0
    updated_at: float = 0.0

    @classmethod
    def of(cls, p: Persona, owner: str | None = None) -> PersonaOut:
        kind: Literal["builtin", "published", "own"] = (
            "builtin" if p.builtin else "own" if p.owner == owner and not p.published
            else "published"
        )  # fmt: skip
        return cls(
            id=p.id,
            name=p.name_en or p.name_zh,
            name_zh=p.name_zh,
            name_en=p.name_en,
            description=p.description_en,
            description_en=p.description_en,
            description_zh=p.description_zh,
            icon=p.icon,
            system_prompt=p.system_prompt,
            starters=list(p.starters),
            model=p.model,
            use_memory=p.use_memory,
            params=SamplingParams.of(p.params),
            kind=kind,
            created_at=p.created_at,
            updated_at=p.updated_at,
        )


class PersonaIn(BaseModel):
    """A persona of your own (every field optional when changing one)."""

    model_config = ConfigDict(extra="forbid")
    name_en: str | None = Field(None, max_length=200)
    name_zh: str | None = Field(None, max_length=200)
    description_en: str | None = Field(None, max_length=2_000)
    description_zh: str | None = Field(None, max_length=2_000)
    system_prompt: str | None = Field(
        None,
        max_length=20_000,
        description="May use {{date}}, {{time}} (UTC), {{weekday}}, {{user_name}} and "
        "{{language}}, filled in when a message is sent; others are left as written.",
    )
    icon: str | None = Field(None, max_length=64, description="An emoji or a few letters.")
    model: str | None = Field(None, max_length=200)
    starters: list[str] | None = Field(None, max_length=20)
    use_memory: bool | None = Field(None, description="False: never send the user's memory.")
    params: SamplingParams | None = Field(
        None,
        description="Its sampling parameters, with the ranges of a conversation's chat "
        "settings: only the fields given change, null unsets one.",
    )


class PersonaImport(PersonaIn):
    """A persona file as exported (``format`` parlour.persona)."""

    format: Literal["parlour.persona"]
    version: int = Field(1, ge=1, le=1)


class PromptPreviewIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    system_prompt: str = Field(max_length=20_000)
    language: str | None = Field(None, max_length=35, description="The page's language, zh or en.")


class PromptPreviewOut(BaseModel):
    filled: str = Field(description="The system prompt as the model would receive it now.")
    variables: list[str] = Field(description="The variables that are filled in.")


class PersonaList(BaseModel):
    personas: list[PersonaOut]
    default: str


class ModelOut(BaseModel):
    id: str = Field(description="What a conversation's `model` names: `provider/model` for "
                    "the providers of PROVIDERS_FILE, the model's own id otherwise.")  # fmt: skip
    provider: str
    context_window: int
    description: str = ""
    name: str = Field("", description="A display name, where one is configured.")
    reasoning: bool = Field(False, description="A reasoning (thinking) model, as far as known.")
    source: Literal["config", "discovery", "local"] = "config"
    context_window_source: Literal["config", "server", "default"] = "config"
    available: bool = True
    reason: str = Field("", description="Why it is unavailable now, if it is.")

    @classmethod
    def of(cls, m: ModelInfo) -> ModelOut:
        return cls(
            id=m.id, provider=m.provider, context_window=m.context_window,
            description=m.description, name=m.name, reasoning=m.reasoning,
            # The bundled and local GGUF files are the local provider's own.
            source="local" if m.provider == "local" else m.source,
            context_window_source=m.window_source,
            available=m.available, reason=m.reason,
        )  # fmt: skip


class ProviderOut(BaseModel):
    name: str
    available: bool
    reason: str = ""
    checked_at: float | None = Field(None, description="When its model list was last read.")
    listed: bool = Field(False, description="Whether that list came from the provider.")
    models: list[ModelOut]


class ModelList(BaseModel):
    models: list[ModelOut]
    default: str | None = Field(description="The server's default model.")
    user_default: str | None = Field(
        None, description="The caller's own default, used for new conversations."
    )
    providers: list[ProviderOut] = Field(default_factory=list)


class DefaultModelIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    model: str | None = Field(None, max_length=300, description="None: the server's default.")


class SessionOut(BaseModel):
    id: str
    title: str
    persona: str
    model: str
    created_at: float
    updated_at: float
    message_count: int = Field(description="Messages stored, on every branch.")
    active_leaf: str | None = Field(
        None, description="The last message of the branch shown (the active branch)."
    )
    reply_id: str | None = Field(
        None, description="The reply being written now, if any (GET of one session only)."
    )
    pinned: bool = False
    archived: bool = False
    folder_id: str | None = Field(None, description="The folder it is in, if any.")
    deleted_at: float | None = Field(None, description="When it went to the trash (if so).")

    @classmethod
    def of(cls, s: SessionInfo, reply_id: str | None = None) -> SessionOut:
        return cls(
            pinned=bool(s.pinned),
            archived=bool(s.archived),
            folder_id=s.folder or None,
            deleted_at=s.deleted or None,
            reply_id=reply_id,
            active_leaf=s.active or None,
            id=s.id,
            title=s.title,
            persona=s.persona,
            model=s.model,
            created_at=s.created_at,
            updated_at=s.updated_at,
            message_count=s.message_count,
        )


class SessionPage(BaseModel):
    items: list[SessionOut]
    total: int
    offset: int
    limit: int


class SessionCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    persona: str | None = None
    title: str = ""
    model: str | None = None


class SessionPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")
    title: str | None = None
    persona: str | None = None
    model: str | None = None


class MessageOut(BaseModel):
    id: str
    role: Literal["user", "assistant"]
    content: str
    timestamp: float
    persona: str
    status: Literal["complete", "partial", "error"]
    model: str | None = None
    error: str | None = None
    reasoning: str = Field(
        "",
        description="A reasoning model's thinking before its answer (empty: none). Kept "
        "apart from `content` and never sent back to the model.",
    )
    reasoning_seconds: float | None = Field(
        None, description="How long the model thought, in seconds (with `reasoning`)."
    )
    prompt_tokens: int | None = Field(
        None,
        description="A reply's prompt tokens, as the model service reported them, else counted.",
    )
    completion_tokens: int | None = Field(None, description="A reply's tokens (its thinking too).")
    duration: float | None = Field(None, description="A reply's time, request to end, in seconds.")
    parent_id: str | None = Field(None, description="The message this one follows.")
    siblings: list[str] = Field(
        default_factory=list,
        description="The ids of every message with the same parent (versions made by edits "
        "and regenerations), oldest first, this one included: show `< n/m >` when there "
        "are several, and switch with PUT .../branch.",
    )

    @classmethod
    def of(cls, m: Message, siblings: list[str] | None = None) -> MessageOut:
        return cls(
            parent_id=m.parent,
            siblings=siblings if siblings is not None else [m.id],
            id=m.id,
            role=m.role,
            content=m.content,
            timestamp=m.timestamp,
            persona=m.persona,
            status=m.status,
            model=m.model,
            error=m.error,
            reasoning=m.reasoning,
            reasoning_seconds=m.reasoning_seconds,
            prompt_tokens=m.prompt_tokens,
            completion_tokens=m.completion_tokens,
            duration=m.duration,
        )


class MessagePage(BaseModel):
    items: list[MessageOut]
    total: int
    offset: int
    limit: int


class SummaryOut(BaseModel):
    text: str
    covers: str = Field(description="The id of the last message the summary covers.")
    messages: int = Field(description="How many messages it covers.")
    model: str = Field(description="The model that last wrote it.")
    edited: bool = Field(description="Changed by its reader since a model last wrote it.")
    updated_at: float

    @classmethod
    def of(cls, s: Summary) -> SummaryOut:
        return cls(text=s.text, covers=s.covers, messages=s.messages, model=s.model,
                   edited=s.edited, updated_at=s.updated_at)  # fmt: skip


class SummaryStateOut(BaseModel):
    """What the model is shown of the active branch's older messages."""

    enabled: bool = Field(description="Summaries are on for this conversation.")
    available: bool = Field(description="Summaries are on on this server (SUMMARIES).")
    summary: SummaryOut | None = Field(description="The summary the next turn sends, if any.")
    first_kept: str | None = Field(
        description="The first message the model sees in full; before it, messages are "
        "summarized (up to `summary.covers`) or trimmed."
    )
    trimmed: int = Field(description="Messages left out without being summarized.")
    failed: str | None = Field(description="Why the last summarizing failed (until one works).")
    pending: bool = Field(description="A summary is being written now.")

    @classmethod
    def of(cls, v: SummaryView) -> SummaryStateOut:
        return cls(
            enabled=v.enabled, available=v.available,
            summary=SummaryOut.of(v.summary) if v.summary else None, first_kept=v.first_kept,
            trimmed=v.trimmed, failed=v.failed, pending=v.pending,
        )  # fmt: skip


class SummaryIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    text: str = Field(min_length=1, max_length=8_000)


class SummarySwitchIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    enabled: bool


class FactOut(BaseModel):
    id: str
    text: str
    created_at: float
    updated_at: float


class MemoryOut(BaseModel):
    enabled: bool = Field(description="The facts go into your conversations' system prompts.")
    facts: list[FactOut]
    used_chars: int = Field(description="Characters the facts take, of `max_chars`.")
    max_chars: int
    max_facts: int

    @classmethod
    def of(cls, m: MemoryState) -> MemoryOut:
        return cls(
            enabled=m.enabled, facts=[FactOut(**asdict(f)) for f in m.facts],
            used_chars=m.used_chars, max_chars=m.max_chars, max_facts=m.max_facts,
        )  # fmt: skip


class MemorySwitchIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    enabled: bool


class FactIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    text: str = Field(max_length=1_000, description="One fact, at most 300 characters.")


class ExportOut(BaseModel):
    """A conversation as exported (and, later, imported): format ``parlour.conversation``."""

    format: Literal["parlour.conversation"] = "parlour.conversation"
    version: int = Field(2, description="The export format's version.")
    session: SessionOut
    active_leaf: str | None = Field(None, description="The last message of the active branch.")
    messages: list[MessageOut] = Field(
        description="Every message on every branch, oldest first; `parent_id` links them "
        "into a tree (null: a first message)."
    )
    items: list[MessageOut] = Field(description="The active branch, oldest first.")
    summaries: list[SummaryOut] = Field(
        default_factory=list,
        description="Running summaries of older messages, one per branch point (`covers`).",
    )
    total: int = Field(description="How many messages the active branch has.")


class MessageCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    content: str = Field(description="The user's message.")
    language: str | None = Field(
        None, max_length=35, description="The writer's language (fills {{language}})."
    )
    persona: str | None = Field(None, description="Switch the session's persona for this turn on.")
    replace_from: str | None = Field(
        None,
        max_length=64,
        description="Edit and resend: the id of one of your messages on the active branch. "
        "The new message becomes its sibling (same parent) with a reply of its own; the old "
        "one and everything after it are kept on their own branch.",
    )


class RegenerateIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    persona: str | None = None
    language: str | None = Field(None, max_length=35)
    message_id: str | None = Field(
        None,
        max_length=64,
        description="The reply to write again (or the user message to answer again); by "
        "default the active branch's last user message. The new reply is a sibling of the "
        "old one, which is kept.",
    )


class BranchIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    message_id: str = Field(
        max_length=64,
        description="Any message of the conversation: its branch becomes the active one, "
        "down to its newest leaf.",
    )


class StopOut(BaseModel):
    reply_id: str
    stopping: bool = True


# --- the tutorial's shapes --------------------------------------------------


class StartChatOut(BaseModel):
    session_id: str
    welcome_message: str


class HistoryItem(BaseModel):
    role: Literal["user", "assistant"]
    content: str
    timestamp: float


class HistoryOut(BaseModel):
    messages: list[HistoryItem]
    total: int


class RoleOut(BaseModel):
    name: str
    name_en: str
    description: str
    system_prompt: str


class RolesOut(BaseModel):
    roles: dict[str, RoleOut]
    default_role: str


class TutorialSession(BaseModel):
    session_id: str
    title: str
    role: str
    created_at: float
    updated_at: float
    message_count: int


class TutorialSessions(BaseModel):
    sessions: list[TutorialSession]
    total: int


class Notice(BaseModel):
    message: str


# --- accounts -------------------------------------------------------------------


class Credentials(BaseModel):
    model_config = ConfigDict(extra="forbid")
    username: str = Field(max_length=64)
    password: str = Field(max_length=256)


class SignupIn(Credentials):
    invite: str | None = Field(None, max_length=64)


class PasswordChange(BaseModel):
    model_config = ConfigDict(extra="forbid")
    current_password: str = Field(max_length=256)
    new_password: str = Field(max_length=256)
    keep_sign_ins: bool = Field(False, description="Keep your other signed-in browsers.")
    keep_tokens: bool = Field(False, description="Keep your API tokens.")


class UserOut(BaseModel):
    id: str
    username: str
    is_admin: bool
    disabled: bool = False
    auth_mode: str = "password"


class SignedIn(BaseModel):
    user: UserOut
    csrf_token: str = Field(description="Echo it in X-CSRF-Token on changes made with the cookie.")


class TokenCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=100)


class TokenOut(BaseModel):
    id: str
    name: str
    created_at: float


class NewToken(TokenOut):
    token: str = Field(description="Shown once: send it as 'Authorization: Bearer <token>'.")


class TokenList(BaseModel):
    tokens: list[TokenOut]


class UserList(BaseModel):
    users: list[UserOut]


class InviteOut(BaseModel):
    code: str
