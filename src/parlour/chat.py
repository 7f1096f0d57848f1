"""ChatService: sessions, and sending a message - build the context, run the reply, store it."""

from __future__ import annotations

import asyncio
import time

from parlour.context import build_context
from parlour.domain import Message, Persona, SessionInfo, new_id, now
from parlour.errors import InvalidInput, MessageTooLong, ParlourError, RateLimited
from parlour.personas import PersonaCatalog
from parlour.providers.base import CompletionRequest
from parlour.providers.registry import ModelRegistry
from parlour.replies import Reply, ReplyManager
from parlour.store import ConversationStore


def _seconds_to_midnight() -> float:
    return 86_400 - time.time() % 86_400


def check_text(text: str, *, what: str, max_chars: int, allow_empty: bool = False) -> str:
    """Reject text a person would not mean to send, with a message saying why."""
    if not allow_empty and not text.strip():
        raise InvalidInput(f"The {what} is empty.")
    if len(text) > max_chars:
        raise MessageTooLong(
            f"The {what} is too long: {len(text)} characters, at most {max_chars}."
        )
    if "\x00" in text:
        raise InvalidInput(f"The {what} contains a NUL character.")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidInput(f"The {what} contains invalid Unicode (a lone surrogate).") from None
    return text


class ChatService:
    def __init__(
        self,
        store: ConversationStore,
        models: ModelRegistry,
        personas: PersonaCatalog,
        replies: ReplyManager,
        *,
        default_persona: str,
        max_message_chars: int,
        reply_reserve_tokens: int,
        max_tokens: int,
        temperature: float,
        stop: list[str],
        context_messages: int = 400,
        daily_token_quota: int = 0,
    ) -> None:
        self.store = store
        self.models = models
        self.personas = personas
        self.replies = replies
        self.default_persona = personas.get(default_persona).id
        self.max_message_chars = max_message_chars
        self.reply_reserve_tokens = reply_reserve_tokens
        self.max_tokens = max_tokens
        self.temperature = temperature
        self.stop = stop
        self.context_messages = context_messages
        self.daily_token_quota = daily_token_quota

    async def create_session(
        self, owner: str, *, persona: str | None = None, title: str = "", model: str | None = None
    ) -> SessionInfo:
        persona_id = self.personas.get(persona or self.default_persona).id
        model_id = self.models.check(model) if model else self.models.default_model
        title = check_text(title, what="title", max_chars=200, allow_empty=True).strip()
        return await self.store.create_session(
            owner, persona=persona_id, model=model_id, title=title
        )

    async def update_session(
        self,
        owner: str,
        sid: str,
        *,
        title: str | None = None,
        persona: str | None = None,
        model: str | None = None,
    ) -> SessionInfo:
        if title is not None:
            title = check_text(title, what="title", max_chars=200).strip()
        if persona is not None:
            persona = self.personas.get(persona).id
        if model is not None:
            model = self.models.check(model)
        return await self.store.update_session(
            owner, sid, title=title, persona=persona, model=model
        )

    async def send(
        self, owner: str, sid: str, content: str, *, persona: str | None = None
    ) -> Reply:
        """Store the user's message and start the reply; returns it as it begins."""
        check_text(content, what="message", max_chars=self.max_message_chars)
        session = await self.store.get_session(owner, sid)
        chosen: Persona = self.personas.get(persona or session.persona or self.default_persona)
        if chosen.id != session.persona:
            session = await self.store.update_session(owner, sid, persona=chosen.id)
        if self.daily_token_quota:
            used = await self.store.usage_today(owner)
            if used >= self.daily_token_quota:
                raise RateLimited(
                    f"You have used today's quota of {self.daily_token_quota} tokens. "
                    "It renews at midnight UTC.",
                    retry_after=_seconds_to_midnight(),
                )
        rid = await self.replies.claim(sid, owner)
        try:
            return await self._start(session, chosen, content, rid)
        except BaseException:
            await self.replies.release(sid, owner, rid)
            raise

    async def _start(self, session: SessionInfo, persona: Persona, content: str, rid: str) -> Reply:
        info, provider = self.models.resolve(session.model)
        history = await self.store.recent_messages(session.id, self.context_messages)
        budget = info.context_window - self.reply_reserve_tokens
        args = (persona.system_prompt, history, content, budget, provider.count_tokens)
        if getattr(provider, "tokenizer_blocks", False):
            turns = await asyncio.to_thread(build_context, *args)
        else:
            turns = build_context(*args)
        user = Message(new_id(), "user", content, now(), persona.id, model=info.id)
        await self.store.append_message(session, user)
        request = CompletionRequest(
            model=info.id,
            messages=turns,
            max_tokens=self.max_tokens,
            temperature=self.temperature,
            stop=self.stop,
        )

        async def persist(
            text: str, status: str, error: ParlourError | None, _reason: str
        ) -> str | None:
            if not text and error is None and status == "partial":
                return None  # stopped before any text: nothing worth keeping
            message = Message(
                new_id(),
                "assistant",
                text,
                now(),
                persona.id,
                status=status,  # type: ignore[arg-type]
                model=info.id,
                error=error.code if error else None,
            )
            await self.store.append_message(session, message)
            return message.id

        return self.replies.start(
            rid,
            session_id=session.id,
            owner=session.owner,
            start_data={"user_message_id": user.id, "model": info.id, "persona": persona.id},
            provider=provider,
            request=request,
            persist=persist,
        )
