"""Pure values: messages, personas, sessions and the events of a reply.

Nothing here does I/O; identity and storage live in ``store.py``.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Literal

Role = Literal["user", "assistant"]
MessageStatus = Literal["complete", "partial", "error"]


class ReplyStatus(StrEnum):
    """Where a reply stands (kept in its facts in Redis)."""

    RUNNING = "running"
    COMPLETE = "complete"
    PARTIAL = "partial"
    ERROR = "error"
    INTERRUPTED = "interrupted"  # its process died; closed by another one


def new_id() -> str:
    """A random 128-bit id, URL-safe (32 hex digits)."""
    return secrets.token_hex(16)


def now() -> float:
    return time.time()


@dataclass(frozen=True, slots=True)
class ChatParams:
    """A conversation's own sampling parameters and extra system prompt (None: not set;
    the server's default applies, or the provider's own when the server has none)."""

    temperature: float | None = None
    top_p: float | None = None
    max_tokens: int | None = None
    presence_penalty: float | None = None
    frequency_penalty: float | None = None
    seed: int | None = None
    system_prompt: str | None = None  # added after the persona's


@dataclass(frozen=True, slots=True)
class Persona:
    id: str
    name_en: str
    name_zh: str
    description_en: str
    description_zh: str
    system_prompt: str
    icon: str = ""
    owner: str | None = None  # who made it; None: built in
    published: bool = False  # an administrator shares it with everyone (read-only to them)
    model: str | None = None  # the model new conversations with it start on
    starters: tuple[str, ...] = ()  # prompts offered on an empty conversation
    use_memory: bool = True  # the user's memory goes into its system prompt (when on)
    # Its sampling parameters: between the server's defaults and a conversation's own.
    params: ChatParams = ChatParams()
    created_at: float = 0.0
    updated_at: float = 0.0

    @property
    def builtin(self) -> bool:
        return self.owner is None


@dataclass(slots=True)  # not frozen: a frozen dataclass is built field by field, slowly,
class Message:  # and a turn decodes hundreds of these
    id: str
    role: Role
    content: str
    timestamp: float
    persona: str
    status: MessageStatus = "complete"
    model: str | None = None
    error: str | None = None
    # A reasoning model's thinking, kept apart from the answer (never sent back to it),
    # and how long it thought, in seconds.
    reasoning: str = ""
    reasoning_seconds: float | None = None
    # What the reply cost (as the provider reported it, else counted) and how long it took.
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    duration: float | None = None
    # The message it follows (None: a first message). Kept in the conversation's tree,
    # not in the stored message.
    parent: str | None = None


@dataclass(slots=True)
class MessageNode:
    """A message of the active branch, with its siblings (its parent's children, oldest
    first, itself included)."""

    message: Message
    siblings: list[str]


@dataclass(frozen=True, slots=True)
class ReplyFacts:
    """What is known of a reply while it runs (and for a while after)."""

    id: str
    session: str
    owner: str
    status: ReplyStatus
    parent: str  # the user message it answers ("": the active branch's leaf)
    persona: str = ""
    model: str = ""
    worker: str = ""
    started_at: float = 0.0


@dataclass(frozen=True, slots=True)
class SessionInfo:
    id: str
    owner: str
    title: str
    persona: str
    model: str
    created_at: float
    updated_at: float
    message_count: int = 0
    active: str = ""  # the active branch's leaf ("" when empty)
    params: ChatParams = ChatParams()
    pinned: float = 0.0  # when it was pinned (0: not pinned)
    archived: float = 0.0  # when it was archived (0: not archived)
    folder: str = ""  # the folder it is in ("" for none)
    deleted: float = 0.0  # when it went to the trash (0: not deleted)


@dataclass(slots=True)
class ChatTurn:
    """One message as the model sees it."""

    role: Literal["system", "user", "assistant"]
    content: str


@dataclass(frozen=True, slots=True)
class ModelInfo:
    id: str
    provider: str
    context_window: int
    description: str = ""
    name: str = ""  # a display name, where one is configured
    reasoning: bool = False
    source: str = "config"  # config, discovery (the provider's own list), or local
    available: bool = True
    reason: str = ""  # why it is unavailable
    window_source: str = "config"  # where context_window comes from: config, server, default


@dataclass(frozen=True, slots=True)
class Usage:
    prompt_tokens: int | None = None
    completion_tokens: int | None = None


# --- what a provider yields ---------------------------------------------------


@dataclass(frozen=True, slots=True)
class TextDelta:
    text: str


@dataclass(frozen=True, slots=True)
class ReasoningDelta:
    """Thinking that the provider sends apart from the answer (``reasoning_content``)."""

    text: str


@dataclass(frozen=True, slots=True)
class Finish:
    reason: str = "stop"
    usage: Usage = field(default_factory=Usage)


ProviderEvent = TextDelta | ReasoningDelta | Finish


# --- what a reply stream carries (SSE event names) ----------------------------


class EventKind(StrEnum):
    """The kinds of event a reply's stream carries: one definition, from the provider's
    output to the stored journal, the SSE ``event:`` name and the page (``reply.js``).

    A new kind touches: this enum; the provider that produces it (``providers/``);
    ``ReplyText`` (``reply.py``), which turns provider output into events; and
    the page's handler in ``web/static/js/reply.js``. The SSE frame needs nothing (the
    kind is the event's name), the tutorial's stream leaves unknown kinds out, and
    ``tests/test_sse.py`` fails until the page handles every kind.
    """

    START = "start"
    DELTA = "delta"
    # A reasoning model's thinking: ``{"content"}``, appended to the reasoning so far;
    # with ``"replace_answer": true`` the answer streamed so far was thinking too (its
    # opening tag was in the prompt) and ``content`` holds all of it: the answer starts
    # again from empty.
    REASONING = "reasoning"
    DONE = "done"
    # Not ``error``: a browser's EventSource fires its own ``error`` for connection errors.
    FAILURE = "failure"


FINAL_KINDS = frozenset({EventKind.DONE, EventKind.FAILURE})


@dataclass(frozen=True, slots=True)
class ReplyEvent:
    """One event of a reply, numbered from 1 within the reply.

    ``kind`` is an :class:`EventKind` (its SSE ``event:`` name); ``data`` is the JSON
    payload the client receives.
    """

    seq: int
    kind: EventKind
    data: dict[str, object]

    @property
    def final(self) -> bool:
        return self.kind in FINAL_KINDS
