"""The context builder: what the model sees for a new turn (table tests)."""

from __future__ import annotations

import pytest

from parlour.context import PER_MESSAGE_OVERHEAD, build_context
from parlour.domain import ChatTurn, Message
from parlour.errors import MessageTooLong


def words(text: str) -> int:
    return len(text.split())


def msg(role: str, content: str, status: str = "complete") -> Message:
    return Message(id=content, role=role, content=content, timestamp=0.0, persona="assistant",
                   status=status)  # type: ignore[arg-type]  # fmt: skip


def roles(turns: list[ChatTurn]) -> list[str]:
    return [t.role for t in turns]


def test_system_then_history_in_order_then_new_turn() -> None:
    history = [msg("user", "my name is Ann"), msg("assistant", "hello Ann")]
    turns = build_context("be nice", history, "what is my name", 1000, words)
    assert turns == [
        ChatTurn("system", "be nice"),
        ChatTurn("user", "my name is Ann"),
        ChatTurn("assistant", "hello Ann"),
        ChatTurn("user", "what is my name"),
    ]


def test_trims_oldest_exchanges_first_to_fit_the_budget() -> None:
    history = []
    for i in range(10):
        history += [msg("user", f"question {i} a b c"), msg("assistant", f"answer {i} d e f")]
    pair = 2 * (5 + PER_MESSAGE_OVERHEAD)
    fixed = (1 + PER_MESSAGE_OVERHEAD) * 2
    turns = build_context("sys", history, "new", fixed + 3 * pair, words)
    kept = [t.content for t in turns[1:-1]]
    assert kept == [
        "question 7 a b c", "answer 7 d e f",
        "question 8 a b c", "answer 8 d e f",
        "question 9 a b c", "answer 9 d e f",
    ]  # fmt: skip


def test_the_new_turn_is_never_cut_and_too_long_is_refused() -> None:
    long_turn = "word " * 50
    turns = build_context("sys", [msg("user", "old"), msg("assistant", "x")], long_turn, 60, words)
    assert turns[-1] == ChatTurn("user", long_turn)
    assert roles(turns) == ["system", "user"]  # history dropped, new turn whole
    with pytest.raises(MessageTooLong):
        build_context("sys", [], "word " * 100, 60, words)


@pytest.mark.parametrize(
    ("history", "expected_roles"),
    [
        # a failed reply (error, no text): its user turn is dropped, roles still alternate
        ([msg("user", "a"), msg("assistant", "", "error")], ["system", "user"]),
        # a failed reply, then a successful exchange
        (
            [msg("user", "a"), msg("assistant", "", "error"), msg("user", "b"),
             msg("assistant", "B")],
            ["system", "user", "assistant", "user"],
        ),
        # a user turn whose reply never came (two user turns in a row)
        ([msg("user", "a"), msg("user", "b"), msg("assistant", "B")],
         ["system", "user", "assistant", "user"]),
        # a stopped reply keeps its partial text
        ([msg("user", "a"), msg("assistant", "half", "partial")],
         ["system", "user", "assistant", "user"]),
        # an assistant message with no user before it (e.g. history trimmed) is skipped
        ([msg("assistant", "orphan"), msg("user", "a"), msg("assistant", "A")],
         ["system", "user", "assistant", "user"]),
    ],
)  # fmt: skip
def test_turns_alternate_after_failures(history: list[Message], expected_roles: list[str]) -> None:
    turns = build_context("sys", history, "next", 10_000, words)
    assert roles(turns) == expected_roles
    assert turns[-1].content == "next"


def test_partial_reply_text_is_what_the_model_sees() -> None:
    turns = build_context(
        "sys", [msg("user", "a"), msg("assistant", "half", "partial")], "n", 100, words
    )
    assert ChatTurn("assistant", "half") in turns


def test_coalescing_ready_deltas_keeps_numbers_exact() -> None:
    from parlour.domain import ReplyEvent
    from parlour.reply import coalesce

    events = [
        ReplyEvent(1, "start", {"reply_id": "r"}),
        ReplyEvent(2, "delta", {"content": "a"}),
        ReplyEvent(3, "delta", {"content": "b"}),
        ReplyEvent(4, "delta", {"content": "c"}),
        ReplyEvent(5, "done", {"finish_reason": "stop"}),
    ]
    assert coalesce(events) == [
        events[0],
        ReplyEvent(4, "delta", {"content": "abc"}),  # resuming after 4 misses nothing
        events[4],
    ]
    assert coalesce(events[1:2]) == events[1:2]  # a reader that keeps up sees each delta
    assert coalesce([]) == []
