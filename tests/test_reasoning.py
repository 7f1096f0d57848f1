"""Telling a model's thinking from its answer: a table of streams and what they become."""

from __future__ import annotations

import pytest

from parlour.domain import EventKind, ReplyEvent
from parlour.reasoning import ThinkSplitter, split_events
from parlour.reply import coalesce


def split(deltas: list[str]) -> tuple[str, str]:
    """(answer, reasoning) as a reader that applies the pieces in order sees them."""
    splitter = ThinkSplitter()
    answer, reasoning = "", ""
    for piece_list in [*(splitter.feed(d) for d in deltas), splitter.flush()]:
        for kind, text in piece_list:
            if kind == "answer":
                answer += text
            elif kind == "reasoning":
                reasoning += text
            else:  # moved: the answer so far was thinking
                reasoning += answer + text
                answer = ""
    return answer, reasoning


@pytest.mark.parametrize(
    ("deltas", "expected"),
    [
        (["Hello", " there"], ("Hello there", "")),
        (["<think>Hmm, sums.</think>", "4"], ("4", "Hmm, sums.")),
        # tags cut anywhere across deltas
        (["<", "thi", "nk>\nHm", "m.</th", "ink>", "\n\nFour."], ("Four.", "Hmm.")),
        (["\n", "  <think>", "a", "</think>b"], ("b", "a")),
        # only the closing tag: the chat template opened it in the prompt
        (["Let me ", "think.", "</think>", "\n\nFive."], ("Five.", "Let me think.")),
        (["Let me think.</thi", "nk>Five."], ("Five.", "Let me think.")),
        # stopped (or cut) while thinking: what was thought is kept
        (["<think>still ", "going"], ("", "still going")),
        (["<think>held <", "/thi"], ("", "held </thi")),
        # an answer that mentions the tags is left as it is
        (["Use <think> tags", " like <b>."], ("Use <think> tags like <b>.", "")),
        (["<think>a</think>Write </think> to close."], ("Write </think> to close.", "a")),
        (["<b>bold</b>"], ("<b>bold</b>", "")),
        (["a <", "3"], ("a <3", "")),
        (["  "], ("  ", "")),
        (["<think></think>", "Only the answer."], ("Only the answer.", "")),
    ],
)  # fmt: skip
def test_splitting(deltas: list[str], expected: tuple[str, str]) -> None:
    assert split(deltas) == expected


def test_reasoning_in_a_field_of_its_own_leaves_the_content_as_it_is() -> None:
    splitter = ThinkSplitter()
    splitter.explicit()
    assert splitter.feed("A </think> in text") == [("answer", "A </think> in text")]


def test_events_are_read_back_as_answer_and_reasoning() -> None:
    events = [
        ReplyEvent(1, EventKind.START, {}),
        ReplyEvent(2, EventKind.DELTA, {"content": "Let me "}),
        ReplyEvent(3, EventKind.REASONING, {"content": "Let me see.", "replace_answer": True}),
        ReplyEvent(4, EventKind.REASONING, {"content": " More."}),
        ReplyEvent(5, EventKind.DELTA, {"content": "Six."}),
    ]
    assert split_events(events) == ("Six.", "Let me see. More.")


def test_coalescing_keeps_kinds_apart_and_a_move_first_in_its_run() -> None:
    events = [
        ReplyEvent(1, EventKind.REASONING, {"content": "a"}),
        ReplyEvent(2, EventKind.REASONING, {"content": "b"}),
        ReplyEvent(3, EventKind.DELTA, {"content": "c"}),
        ReplyEvent(4, EventKind.REASONING, {"content": "cd", "replace_answer": True}),
        ReplyEvent(5, EventKind.REASONING, {"content": "e"}),
        ReplyEvent(6, EventKind.DELTA, {"content": "f"}),
        ReplyEvent(7, EventKind.DELTA, {"content": "g"}),
    ]
    assert [(e.seq, e.kind, e.data) for e in coalesce(events)] == [
        (2, EventKind.REASONING, {"content": "ab"}),
        (3, EventKind.DELTA, {"content": "c"}),
        (5, EventKind.REASONING, {"content": "cde", "replace_answer": True}),
        (7, EventKind.DELTA, {"content": "fg"}),
    ]
    assert split_events(coalesce(events)) == split_events(events) == ("fg", "abcde")
