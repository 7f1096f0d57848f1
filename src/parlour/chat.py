"""ChatService: sessions, and sending a message - build the context, run the reply, store it."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import TypeVar

from parlour.context import check_fits
from parlour.domain import (
    ChatParams,
    Message,
    ModelInfo,
    Persona,
    ReplyFacts,
    SessionInfo,
    new_id,
    now,
)
from parlour.errors import InvalidInput, MessageTooLong, RateLimited, UnknownPersona
from parlour.memory import Memory
from parlour.personas import Personas, fill_prompt
from parlour.providers.base import ChatProvider, CompletionRequest, token_counter
from parlour.providers.registry import ModelRegistry
from parlour.replies import ReplyManager
from parlour.reply import Outcome, Reply
from parlour.sampling import layered, optional_values
from parlour.store import Claimed, ConversationStore
from parlour.summaries import Summaries
from parlour.titles import Titles
from parlour.window import Summary, Window, plan_window

T = TypeVar("T")


async def _nothing(value: T) -> T:
    return value


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
        personas: Personas,
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
        sampling: ChatParams | None = None,
        summaries: Summaries | None = None,
        memory: Memory | None = None,
        titles: Titles | None = None,
    ) -> None:
        self.store = store
        self.models = models
        self.personas = personas
        self.replies = replies
        self.default_persona = personas.catalog.get(default_persona).id
        self.max_message_chars = max_message_chars
        self.reply_reserve_tokens = reply_reserve_tokens
        self.max_tokens = max_tokens
        self.temperature = temperature
        self.stop = stop
        self.context_messages = context_messages
        self.daily_token_quota = daily_token_quota
        # What applies where a conversation sets nothing (None: not sent at all).
        self.defaults = replace(
            sampling or ChatParams(), temperature=temperature, max_tokens=max_tokens
        )
        self.summaries = summaries
        self.memory = memory
        self.titles = titles

    async def create_session(
        self, owner: str, *, persona: str | None = None, title: str = "", model: str | None = None,
        user_default: str | None = None,
    ) -> SessionInfo:  # fmt: skip
        chosen = await self.personas.get(owner, persona or self.default_persona)
        persona_id = chosen.id
        if model:
            model_id = self.models.check(model)
        elif chosen.model and self.models.known(chosen.model):
            model_id = chosen.model  # the persona's own default
        elif user_default and self.models.known(user_default):
            model_id = user_default  # the user's own default
        else:
            model_id = self.models.default_model
        title = check_text(title, what="title", max_chars=200, allow_empty=True).strip()
        return await self.store.create_session(
            owner, persona=persona_id, model=model_id, title=title
        )

    async def update_session(
        self,
        session: SessionInfo,
        *,
        title: str | None = None,
        persona: str | None = None,
        model: str | None = None,
    ) -> SessionInfo:
        if title is not None:
            title = check_text(title, what="title", max_chars=200).strip()
        if persona is not None:
            persona = (await self.personas.get(session.owner, persona)).id
        if model is not None:
            model = self.models.check(model)
        return await self.store.update_session(session, title=title, persona=persona, model=model)

    async def update_params(self, session: SessionInfo, changes: dict[str, object]) -> SessionInfo:
        """Change some of the conversation's parameters (None unsets one); the ranges
        were checked by the request's schema."""
        prompt = changes.get("system_prompt")
        if isinstance(prompt, str):
            check_text(prompt, what="system prompt", max_chars=8_000, allow_empty=True)
            changes["system_prompt"] = prompt if prompt.strip() else None
        return await self.store.set_params(session, replace(session.params, **changes))  # type: ignore[arg-type]

    def _budget(self, info: ModelInfo, session: SessionInfo, persona: Persona) -> int:
        """Tokens the context may take: the window less what the reply may write."""
        most = layered(persona.params, session.params).max_tokens or 0
        return info.context_window - max(self.reply_reserve_tokens, most)

    async def persona_params(self, session: SessionInfo) -> ChatParams:
        """The parameters of the persona the conversation's next reply would use."""
        return (await self._persona(session, None)).params

    async def send(
        self,
        session: SessionInfo,
        content: str,
        *,
        persona: str | None = None,
        edit_of: str | None = None,
        user_name: str = "",
        language: str = "",
    ) -> Reply:
        """Store the user's message and start the reply; returns it as it begins.

        With ``edit_of`` (one of the user's messages on the active branch), the new
        message becomes its sibling - an edit - and the old one is kept, with
        everything that followed it, on a branch of its own.
        """
        check_text(content, what="message", max_chars=self.max_message_chars)
        return await self._begin(
            session, persona, content, start_from=edit_of, user_name=user_name, language=language
        )

    async def regenerate(
        self,
        session: SessionInfo,
        *,
        persona: str | None = None,
        message_id: str | None = None,
        user_name: str = "",
        language: str = "",
    ) -> Reply:
        """Answer a user message again (``message_id``: it or the reply under it; by
        default the branch's last one). The new reply is a sibling of the old one."""
        return await self._begin(
            session, persona, None, start_from=message_id or "?", user_name=user_name,
            language=language,
        )  # fmt: skip

    async def _persona(self, session: SessionInfo, persona: str | None) -> Persona:
        if persona:
            return await self.personas.get(session.owner, persona)
        try:  # the conversation's own, unless it was deleted since
            return await self.personas.get(session.owner, session.persona or self.default_persona)
        except UnknownPersona:
            return self.personas.catalog.get(self.default_persona)

    async def _begin(
        self,
        session: SessionInfo,
        persona: str | None,
        content: str | None,
        *,
        start_from: str | None,
        user_name: str,
        language: str,
    ) -> Reply:
        owner = session.owner
        chosen = await self._persona(session, persona)
        prompt = fill_prompt(chosen.system_prompt, user_name=user_name, language=language)
        if session.params.system_prompt:  # the conversation's own, after the persona's
            prompt = (
                f"{prompt}\n\n{session.params.system_prompt}"
                if prompt
                else session.params.system_prompt
            )
        # The user's facts (when on) and the conversation's summaries, read together.
        remembered: Awaitable[str] = (
            self.memory.prompt_for(owner) if self.memory is not None and chosen.use_memory
            else _nothing("")
        )  # fmt: skip
        folded: Awaitable[list[Summary]] = (
            self.summaries.for_turn(session.id) if self.summaries else _nothing([])
        )
        memory, summaries = await asyncio.gather(remembered, folded)
        prompt += memory
        chosen = replace(chosen, system_prompt=prompt)
        if self.daily_token_quota:
            used = await self.replies.ledger.usage_today(owner)
            if used >= self.daily_token_quota:
                raise RateLimited(
                    f"You have used today's quota of {self.daily_token_quota} tokens. "
                    "It renews at midnight UTC.",
                    retry_after=_seconds_to_midnight(),
                )
        info, provider = self.models.resolve(session.model)
        budget = self._budget(info, session, chosen)
        again = content is None
        user: Message | None = None
        if not again:
            assert content is not None
            # Refused before anything is stored: a turn that cannot fit beside the system
            # prompt (what build_context would refuse, whatever the history).
            await self._count(provider, info.id, check_fits, chosen.system_prompt, content, budget)
            user = Message(new_id(), "user", content, now(), chosen.id, model=info.id)
        # Inside the block the message is accepted: the reply starts, or the claim is
        # given back.
        async with self.replies.claims.hold(
            session.id,
            owner,
            persona=chosen.id,
            model=info.id,
            history=self.context_messages,
            parent=user.id if user else "",
            start_from=start_from,
            answer_again=again,
            user=user,
        ) as held:
            claimed, facts = held.claimed, held.facts
            return await self._start(session, chosen, info, provider, claimed, user, facts,
                                     summaries)  # fmt: skip

    @staticmethod
    async def _count(provider: ChatProvider, model: str, fn: Callable[..., T], *args: object) -> T:
        """Run ``fn`` (which counts tokens) off the event loop if the tokenizer blocks."""
        count = token_counter(provider, model)
        if getattr(provider, "tokenizer_blocks", False):
            return await asyncio.to_thread(fn, *args, count)
        return fn(*args, count)

    async def _start(
        self,
        session: SessionInfo,
        persona: Persona,
        info: ModelInfo,
        provider: ChatProvider,
        claimed: Claimed,
        user: Message | None,
        facts: ReplyFacts,
        summaries: list[Summary],
    ) -> Reply:
        if user is None:  # answering again: the message it answers is the new turn
            if claimed.start is None:
                raise InvalidInput("There is no message to answer again.")
            content, user_id = claimed.start.content, claimed.start.id
        else:
            content, user_id = user.content, user.id
        budget = self._budget(info, session, persona)
        window = await self._plan(
            provider, info.id, persona.system_prompt, claimed.history, content, budget, summaries
        )
        if persona.id != session.persona:  # saved only once the message is accepted
            session = await self.store.update_session(session, persona=persona.id)
        # The server's defaults, under the persona's parameters, under the conversation's.
        params = layered(self.defaults, persona.params, session.params)
        request = CompletionRequest(
            model=info.id,
            messages=window.turns,
            max_tokens=params.max_tokens or self.max_tokens,
            temperature=self.temperature if params.temperature is None else params.temperature,
            stop=self.stop,
            sampling=optional_values(params),
        )

        stored: list[Message] = []

        def persist(outcome: Outcome) -> Message:
            # A reply stopped before any text is kept too (empty, "partial"): the page
            # shows that it was stopped, and the model never sees an empty turn. Its id
            # is the reply's, so storing it twice stores it once.
            message = Message(
                facts.id,
                "assistant",
                outcome.text,
                now(),
                persona.id,
                status=outcome.status,  # type: ignore[arg-type]
                model=info.id,
                error=outcome.error.code if outcome.error else None,
                reasoning=outcome.reasoning,
                reasoning_seconds=outcome.reasoning_seconds,
                prompt_tokens=outcome.usage.prompt_tokens if outcome.usage else None,
                completion_tokens=outcome.usage.completion_tokens if outcome.usage else None,
                duration=outcome.duration,
                parent=user_id,
            )
            stored.append(message)
            return message

        reply = self.replies.start(
            facts,
            start_data={
                "user_message_id": user_id,
                "model": info.id,
                "persona": persona.id,
            },
            provider=provider,
            request=request,
            persist=persist,
        )
        if self.summaries is not None:  # after the reply: what the next turn leaves out
            asked = user or claimed.start
            prompt = persona.system_prompt
            self.summaries.after(
                reply.task, session.id,
                lambda h, t, s: self._plan(provider, info.id, prompt, h, t, budget, s),
                lambda: [*claimed.history, asked, *stored] if stored and asked else None,
                info, provider,
            )  # fmt: skip
        if self.titles is not None and user is not None and not claimed.history:
            first = user  # the first exchange: titled once its reply has ended
            self.titles.after(reply.task, session, lambda: (first, stored[0]) if stored else None,
                              info, provider)  # fmt: skip
        return reply

    async def _plan(self, provider: ChatProvider, model: str, prompt: str,
                    history: list[Message], turn: str, budget: int,
                    summaries: list[Summary]) -> Window:  # fmt: skip
        count = token_counter(provider, model)

        def run() -> Window:
            return plan_window(prompt, history, turn, budget, count, summaries)

        if getattr(provider, "tokenizer_blocks", False):  # off the event loop
            return await asyncio.to_thread(run)
        return run()

    async def window(self, session: SessionInfo) -> Window | None:
        """What the model would see of the active branch next (None: nothing yet)."""
        _nodes, total = await self.store.messages(session.id, offset=0, limit=1)
        if total == 0:
            return None
        most = self.context_messages
        nodes, _ = await self.store.messages(session.id, offset=max(0, total - most), limit=most)
        persona = await self._persona(session, None)
        info, provider = self.models.resolve(session.model)
        summaries = await self.summaries.for_turn(session.id) if self.summaries else []
        budget = self._budget(info, session, persona)
        history = [n.message for n in nodes]
        try:
            return await self._plan(
                provider, info.id, persona.system_prompt, history, "", budget, summaries
            )
        except MessageTooLong:
            return None
