"""ChatService: sessions, and sending a message - build the context, run the reply, store it."""

from __future__ import annotations

import asyncio
import time

from parlour.context import build_context
from parlour.domain import Message, ModelInfo, Persona, SessionInfo, new_id, now
from parlour.errors import InvalidInput, MessageTooLong, ParlourError, RateLimited
from parlour.personas import PersonaCatalog
from parlour.providers.base import ChatProvider, CompletionRequest
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
        self,
        owner: str,
        sid: str,
        content: str,
        *,
        persona: str | None = None,
        replace_from: str | None = None,
    ) -> Reply:
        """Store the user's message and start the reply; returns it as it begins.

        With ``replace_from`` (the id of one of the user's recent messages), that
        message and everything after it are replaced: edit and resend.
        """
        check_text(content, what="message", max_chars=self.max_message_chars)
        return await self._begin(owner, sid, persona, content, replace_from=replace_from)

    async def regenerate(self, owner: str, sid: str, *, persona: str | None = None) -> Reply:
        """Answer the last user message again, replacing the reply that followed it."""
        return await self._begin(owner, sid, persona, None)

    async def _begin(
        self,
        owner: str,
        sid: str,
        persona: str | None,
        content: str | None,
        *,
        replace_from: str | None = None,
    ) -> Reply:
        session = await self.store.get_session(owner, sid)
        chosen: Persona = self.personas.get(persona or session.persona or self.default_persona)
        if self.daily_token_quota:
            used = await self.store.usage_today(owner)
            if used >= self.daily_token_quota:
                raise RateLimited(
                    f"You have used today's quota of {self.daily_token_quota} tokens. "
                    "It renews at midnight UTC.",
                    retry_after=_seconds_to_midnight(),
                )
        info, provider = self.models.resolve(session.model)
        rid, history = await self.replies.claim(
            sid, owner, persona=chosen.id, model=info.id, history=self.context_messages
        )
        try:
            if chosen.id != session.persona:  # only once the message is accepted
                session = await self.store.update_session(owner, sid, persona=chosen.id)
            return await self._start(
                session, chosen, info, provider, history, content, rid, replace_from
            )
        except BaseException:
            await self.replies.release(sid, owner, rid)
            raise

    async def _start(
        self,
        session: SessionInfo,
        persona: Persona,
        info: ModelInfo,
        provider: ChatProvider,
        history: list[Message],
        content: str | None,
        rid: str,
        replace_from: str | None,
    ) -> Reply:
        # Work out the turn and its history before anything is changed, so a refusal
        # (say, a message too long for the context) loses nothing.
        cut = replace_from
        if content is None:  # regenerate: the last user message, answered anew
            last = next((m for m in reversed(history) if m.role == "user"), None)
            if last is None:
                raise InvalidInput("There is no message to answer again.")
            content, cut = last.content, last.id
        if cut is not None:
            index = next((i for i, m in enumerate(history) if m.id == cut), None)
            if index is None or history[index].role != "user":
                raise InvalidInput("That is not one of your recent messages in this conversation.")
            history = history[:index]
        budget = info.context_window - self.reply_reserve_tokens
        args = (persona.system_prompt, history, content, budget, provider.count_tokens)
        if getattr(provider, "tokenizer_blocks", False):
            turns = await asyncio.to_thread(build_context, *args)
        else:
            turns = build_context(*args)
        if cut is not None and replace_from is None:  # regenerate: keep the user message
            await self.store.truncate_at(session.id, cut, keep=True)
            user_id = cut
        else:
            if replace_from is not None:
                await self.store.truncate_at(session.id, replace_from, keep=False)
            user = Message(new_id(), "user", content, now(), persona.id, model=info.id)
            await self.store.append_message(session, user)
            user_id = user.id
        request = CompletionRequest(
            model=info.id,
            messages=turns,
            max_tokens=self.max_tokens,
            temperature=self.temperature,
            stop=self.stop,
        )

        def persist(text: str, status: str, error: ParlourError | None, _reason: str) -> Message:
            # A reply stopped before any text is kept too (empty, "partial"): the page
            # shows that it was stopped, and the model never sees an empty turn.
            return Message(
                new_id(),
                "assistant",
                text,
                now(),
                persona.id,
                status=status,  # type: ignore[arg-type]
                model=info.id,
                error=error.code if error else None,
            )

        return self.replies.start(
            rid,
            session_id=session.id,
            owner=session.owner,
            start_data={"user_message_id": user_id, "model": info.id, "persona": persona.id},
            provider=provider,
            request=request,
            persist=persist,
        )
