"""Building what the model sees: a pure function, tested by tables.

The model receives the persona's system prompt, then the stored history in
chronological order, then the new user turn. History is trimmed oldest-first
so that everything fits ``budget`` tokens (context window minus the reply
reserve). Rules:

* the new user turn is never cut; if it cannot fit beside the system prompt,
  :class:`~parlour.errors.MessageTooLong` is raised;
* only ``user`` and ``assistant`` messages are sent; an assistant message that
  failed with no text is dropped, and so is the user turn it failed to answer,
  so roles always alternate user/assistant and end with the new user turn;
* a stopped or cut-off reply (status ``partial``) is kept with its text;
* the history sent always starts with a user turn.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from parlour.domain import ChatTurn, Message
from parlour.errors import MessageTooLong

TokenCounter = Callable[[str], int]

# Role markers and separators cost a few tokens per message in every chat template.
PER_MESSAGE_OVERHEAD = 4


def answered_pairs(history: Sequence[Message]) -> list[tuple[Message, Message]]:
    """The (user, assistant) exchanges worth sending, oldest first.

    A user message followed by another user message (its reply failed or never
    came) is left out, as is an assistant message without a user turn before it.
    """
    pairs: list[tuple[Message, Message]] = []
    pending_user: Message | None = None
    for message in history:
        if message.role == "user":
            pending_user = message
        elif message.role == "assistant":
            if message.status == "error" and not message.content:
                pending_user = None
                continue
            if pending_user is not None and message.content:
                pairs.append((pending_user, message))
            pending_user = None
    return pairs


def check_fits(system_prompt: str, new_turn: str, budget: int, count_tokens: TokenCounter) -> int:
    """The tokens the system prompt and the new turn take; :class:`MessageTooLong` if
    they cannot fit ``budget`` (whatever the history)."""
    fixed = count_tokens(system_prompt) + count_tokens(new_turn) + 2 * PER_MESSAGE_OVERHEAD
    if fixed > budget:
        raise MessageTooLong(
            f"This message is too long for the model's context window "
            f"(about {fixed} tokens; at most {budget} fit with the system prompt). "
            "Please shorten it."
        )
    return fixed


def build_context(
    system_prompt: str,
    history: Sequence[Message],
    new_turn: str,
    budget: int,
    count_tokens: TokenCounter,
) -> list[ChatTurn]:
    """The messages to send to the model for ``new_turn``, within ``budget`` tokens."""

    def cost(text: str) -> int:
        return count_tokens(text) + PER_MESSAGE_OVERHEAD

    fixed = check_fits(system_prompt, new_turn, budget, count_tokens)
    remaining = budget - fixed
    kept: list[tuple[Message, Message]] = []
    for user, assistant in reversed(answered_pairs(history)):
        pair_cost = cost(user.content) + cost(assistant.content)
        if pair_cost > remaining:
            break
        remaining -= pair_cost
        kept.append((user, assistant))
    kept.reverse()

    turns = [ChatTurn("system", system_prompt)]
    for user, assistant in kept:
        turns.append(ChatTurn("user", user.content))
        turns.append(ChatTurn("assistant", assistant.content))
    turns.append(ChatTurn("user", new_turn))
    return turns
