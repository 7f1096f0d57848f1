"""Conversation titles written by a model, after the first exchange - never on the way
to a reply.

Until then a conversation is called by the first words of its first message (stored
with that message, see :mod:`parlour.store.conversations`). Once the first reply has
ended (stored, its final event sent), a background task asks a model for a short
title in the conversation's language and cleans what comes back: reasoning blocks,
markdown, quotes, a "Title:" prefix and anything past the first line go, and a title
that is empty, far too long or in another script than the conversation (the bundled
model answers in English whatever it is asked in) gives way to the first words of
the first message, without their markdown.

The title is written only if the conversation is still called by those first words:
a rename made meanwhile (or before the first message) wins. Writing it tells the
user's open pages (the live channel's ``updated``), which read the new title.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Callable
from typing import cast

from redis.asyncio import Redis

from parlour.domain import ChatTurn, Message, ModelInfo, SessionInfo, TextDelta
from parlour.errors import ParlourError
from parlour.providers.base import ChatProvider, CompletionRequest
from parlour.providers.registry import ModelRegistry
from parlour.store import ConversationStore, Keys
from parlour.store.conversations import title_from

log = logging.getLogger(__name__)

MAX_TITLE_CHARS = 60
MAX_WORDS = 10
_SHOWN = 1_500  # characters of each message the titling model reads
_TIMEOUT = 60.0  # seconds a title may take before the first words stay

TITLE_PROMPT = (
    "Write a title for this conversation: at most six words, in the language the "
    "user writes in, plain text, no quotes, no markdown, no full stop. Answer with "
    "the title alone."
)

# Compare-and-set: the title changes only while it is still the first words.
_SET_TITLE = """
if (redis.call('HGET', KEYS[1], 'title') or '') ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], 'title', ARGV[2])
return 1
"""

_THINKING = re.compile(r"<think>.*?(</think>|$)", re.DOTALL | re.IGNORECASE)
_FENCE = re.compile(r"^\s*(```|~~~).*?(^\s*\1\s*$|\Z)", re.DOTALL | re.MULTILINE)
_IMAGE = re.compile(r"!\[([^\]]*)\]\([^)]*\)")
_LINK = re.compile(r"\[([^\]]*)\]\([^)]*\)")
_LINE_MARK = re.compile(r"^\s*(#{1,6}\s+|>\s*|[-*+]\s+(\[[ xX]\]\s+)?|\d+[.)]\s+)")
_EMPHASIS = re.compile(r"(\*\*|__|\*|~~|`+|(?<!\w)_|_(?!\w))")
_PREFIX = re.compile(r"^\s*(title|conversation title|标题|題目|标题是)\s*[:：]\s*", re.I)
_QUOTES = "\"'“”‘’「」『』《》«»`"
_TRAILING = ".。!！?？,，;；:：-–— "
# Scripts told apart when checking a title is in the conversation's language.
_CJK = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff]")
_LETTER = re.compile(r"\w")


def plain_text(text: str) -> str:
    """``text`` with its markdown taken off (code blocks dropped), on one line."""
    text = _FENCE.sub(" ", _THINKING.sub(" ", text))
    text = _LINK.sub(r"\1", _IMAGE.sub(r"\1", text))
    lines = [_LINE_MARK.sub("", line) for line in text.splitlines()]
    return " ".join(_EMPHASIS.sub("", " ".join(lines)).split())


def _cut(text: str, limit: int = MAX_TITLE_CHARS) -> str:
    if len(text) <= limit:
        return text
    head = text[:limit]
    if " " in head:
        head = head[: head.rindex(" ")]
    return head.rstrip(_TRAILING)


def first_words(message: str) -> str:
    """The title a conversation falls back to: its first message's words, plain."""
    words = plain_text(message)
    return _cut(words) + ("…" if len(words) > MAX_TITLE_CHARS else "") if words else ""


def _same_script(title: str, conversation: str) -> bool:
    return bool(_CJK.search(title)) == bool(_CJK.search(conversation))


def clean_title(raw: str, conversation: str) -> str:
    """What a model wrote, as a title; "" when it will not do (use the first words)."""
    text = _THINKING.sub("", raw)
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if len(lines) > 1 and lines[0].endswith((":", "：")):  # "Here is a title:"
        lines = lines[1:]
    if not lines:
        return ""
    title = _PREFIX.sub("", plain_text(lines[0]))
    title = title.strip(_QUOTES + _TRAILING).strip()
    title = title.strip(_QUOTES).strip()
    if not _LETTER.search(title) or not _same_script(title, conversation):
        return ""
    words = title.split()
    if len(words) > MAX_WORDS:
        title = " ".join(words[:MAX_WORDS])
    return _cut(title)


class Titles:
    """Titles each conversation once its first exchange has ended (see the module)."""

    def __init__(
        self,
        store: ConversationStore,
        redis: Redis,
        keys: Keys,
        models: ModelRegistry,
        *,
        enabled: bool = True,
        model: str = "",
        max_tokens: int = 24,
    ) -> None:
        self.store = store
        self.keys = keys
        self.models = models
        self.enabled = enabled
        self.model = model
        self.max_tokens = max_tokens
        self._set = redis.register_script(_SET_TITLE)
        self._tasks: set[asyncio.Task[None]] = set()
        self._closed = False

    def after(
        self,
        reply: asyncio.Task[None] | None,
        session: SessionInfo,
        exchange: Callable[[], tuple[Message, Message] | None],
        info: ModelInfo,
        provider: ChatProvider,
    ) -> None:
        """Once ``reply`` has ended, title the conversation from ``exchange()`` (the
        first question and its stored answer; None: nothing to title from)."""
        if not self.enabled or reply is None:
            return

        def ended(_reply: asyncio.Task[None]) -> None:  # whatever its outcome
            # Started only now: an open reply holds no waiting task (or its memory).
            if self._closed:
                return
            task = asyncio.create_task(
                self._after(session, exchange, info, provider), name=f"title-{session.id}"
            )
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

        reply.add_done_callback(ended)

    async def _after(
        self,
        session: SessionInfo,
        exchange: Callable[[], tuple[Message, Message] | None],
        info: ModelInfo,
        provider: ChatProvider,
    ) -> None:
        pair = exchange()
        if pair is None:
            return
        question, answer = pair
        if answer.status == "error" or not answer.content.strip():
            return  # nothing was answered: the first words stay
        try:
            raw = await asyncio.wait_for(self._ask(question, answer, info, provider), _TIMEOUT)
            title = clean_title(raw, question.content)
        except (ParlourError, TimeoutError) as exc:
            log.warning("title of %s failed: %s", session.id, getattr(exc, "code", "timeout"))
            title = ""
        except Exception:
            log.exception("title of %s failed", session.id)
            title = ""
        await self._write(session, question.content, title or first_words(question.content))

    async def _ask(self, question: Message, answer: Message, info: ModelInfo,
                   provider: ChatProvider) -> str:  # fmt: skip
        if self.model:
            info, provider = self.models.resolve(self.models.check(self.model))
        shown = (
            f"User: {plain_text(question.content)[:_SHOWN]}\n"
            f"Assistant: {plain_text(answer.content)[:_SHOWN]}"
        )
        request = CompletionRequest(
            model=info.id,
            messages=[ChatTurn("system", TITLE_PROMPT), ChatTurn("user", shown)],
            max_tokens=self.max_tokens,
            temperature=0.2,
        )
        parts = [item.text async for item in provider.stream(request)
                 if isinstance(item, TextDelta)]  # fmt: skip
        return "".join(parts)

    async def _write(self, session: SessionInfo, first_message: str, title: str) -> None:
        expected = title_from(first_message)  # what storing the first message wrote
        if not title or title == expected:
            return
        try:
            done = await self._set(keys=[self.keys.conversation(session.id)],
                                   args=[expected, title])  # fmt: skip
        except Exception:  # Redis away: the first words stay, which is no harm
            log.warning("title of %s could not be stored", session.id)
            return
        if cast(int, done):
            self.store.changed(session.owner, session.id, "updated")

    async def shutdown(self) -> None:
        self._closed = True  # replies ending from now on are not titled
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
