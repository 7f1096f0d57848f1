"""What the model sees of a long branch: the system prompt, its summary, the newest turns.

A pure function beside :mod:`parlour.context`, with the same rules (the new turn is
never cut, roles alternate, the history starts with a user turn), plus a running
summary of the branch's older exchanges. A summary names the last message it covers
(an assistant message's id): since a conversation is a tree, the messages before
that one are the same on every branch that passes through it, so a summary applies
to a branch exactly when the branch holds that message. Of the summaries that apply,
the one covering the most is used.

The exchanges after the summary's last message are kept newest first while they
fit; those that do not fit and are not summarized are *dropped* - trimmed, as
without summaries - and are what the next fold takes in.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from parlour.context import PER_MESSAGE_OVERHEAD, TokenCounter, answered_pairs, check_fits
from parlour.domain import ChatTurn, Message

SUMMARY_HEADER = (
    "[Summary of the earlier part of this conversation, which is no longer shown in full. "
    "Treat it as what was said before.]\n"
)

Pair = tuple[Message, Message]


@dataclass(frozen=True, slots=True)
class Summary:
    """A running summary of a branch, through message ``covers`` (inclusive)."""

    text: str
    covers: str  # the id of the last (assistant) message folded in
    messages: int  # how many messages it covers
    model: str = ""
    edited: bool = False  # changed by its reader since a model last wrote it
    updated_at: float = 0.0


@dataclass(frozen=True, slots=True)
class Window:
    turns: list[ChatTurn]
    summary: Summary | None  # the summary sent, if any
    dropped: list[Pair]  # exchanges neither sent nor summarized, oldest first
    kept: list[Pair]  # exchanges sent in full, oldest first

    @property
    def first_kept(self) -> str | None:
        """The id of the first message the model sees in full (None: only the new turn)."""
        return self.kept[0][0].id if self.kept else None


def summary_turn(summary: Summary) -> ChatTurn:
    return ChatTurn("system", SUMMARY_HEADER + summary.text)


def applicable(summaries: Sequence[Summary], pairs: Sequence[Pair]) -> tuple[Summary | None, int]:
    """The summary covering the most of this branch, and the index of the last exchange
    it covers (-1: none applies)."""
    where = {assistant.id: i for i, (_user, assistant) in enumerate(pairs)}
    best: tuple[Summary | None, int] = (None, -1)
    for summary in summaries:
        index = where.get(summary.covers, -1)
        if index > best[1]:
            best = (summary, index)
    return best


def plan_window(
    system_prompt: str,
    history: Sequence[Message],
    new_turn: str,
    budget: int,
    count_tokens: TokenCounter,
    summaries: Sequence[Summary] = (),
) -> Window:
    """The messages to send for ``new_turn`` within ``budget`` tokens, using the best
    of ``summaries`` that applies to this branch (none: plain trimming)."""

    def cost(text: str) -> int:
        return count_tokens(text) + PER_MESSAGE_OVERHEAD

    remaining = budget - check_fits(system_prompt, new_turn, budget, count_tokens)
    pairs = answered_pairs(history)
    summary, covered = applicable(summaries, pairs)
    extra: list[ChatTurn] = []
    if summary is not None:
        turn = summary_turn(summary)
        if cost(turn.content) <= remaining:
            remaining -= cost(turn.content)
            extra.append(turn)
        else:  # too long for this model's window: trimming takes over
            summary, covered = None, -1
    rest = pairs[covered + 1 :]
    kept: list[Pair] = []
    for user, assistant in reversed(rest):
        pair_cost = cost(user.content) + cost(assistant.content)
        if pair_cost > remaining:
            break
        remaining -= pair_cost
        kept.append((user, assistant))
    kept.reverse()
    turns = [ChatTurn("system", system_prompt), *extra]
    for user, assistant in kept:
        turns.append(ChatTurn("user", user.content))
        turns.append(ChatTurn("assistant", assistant.content))
    turns.append(ChatTurn("user", new_turn))
    return Window(turns, summary, list(rest[: len(rest) - len(kept)]), kept)
