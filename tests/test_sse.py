"""Reply events to SSE frames: a table of inputs and the bytes they become."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from parlour.config import Settings
from parlour.domain import EventKind, ReplyEvent
from parlour.web.app import STATIC_DIR as STATIC
from parlour.web.app import create_app
from parlour.web.sse import api_frame, tutorial_frame

RID = "ab12"


def wire(event: ReplyEvent, tutorial: bool = False) -> bytes | None:
    return tutorial_frame(event) if tutorial else api_frame(event, RID)


@pytest.mark.parametrize(
    ("event", "expected"),
    [
        (ReplyEvent(2, "delta", {"content": "Hi"}),
         b'event: delta\ndata: {"content":"Hi"}\nid: ab12:2\n\n'),
        (ReplyEvent(3, "delta", {"content": "a\nb"}),
         b'event: delta\ndata: {"content":"a\\nb"}\nid: ab12:3\n\n'),
        (ReplyEvent(3, "delta", {"content": "a\r\nb\rc\u2028"}),
         'event: delta\ndata: {"content":"a\\r\\nb\\rc\u2028"}\nid: ab12:3\n\n'.encode()),
        (ReplyEvent(4, "done", {"finish_reason": "stop"}),
         b'event: done\ndata: {"finish_reason":"stop"}\nid: ab12:4\n\n'),
        (ReplyEvent(2, "reasoning", {"content": "Hmm"}),
         b'event: reasoning\ndata: {"content":"Hmm"}\nid: ab12:2\n\n'),
        (ReplyEvent(5, "failure", {"code": "x", "message": "m"}),
         b'event: failure\ndata: {"code":"x","message":"m"}\nid: ab12:5\n\n'),
    ],
)  # fmt: skip
def test_api_frames(event: ReplyEvent, expected: bytes) -> None:
    assert wire(event) == expected


@pytest.mark.parametrize(
    ("event", "expected"),
    [
        (ReplyEvent(1, "start", {"reply_id": "r"}), None),
        (ReplyEvent(2, "delta", {"content": "你好"}),
         'data: {"content":"你好","type":"chunk"}\n\n'.encode()),
        (ReplyEvent(2, "reasoning", {"content": "Hmm"}), None),  # only the answer
        (ReplyEvent(3, "done", {}), b'data: {"type":"end"}\n\n'),
        (ReplyEvent(3, "failure", {"code": "c", "message": "went wrong"}),
         b'data: {"type":"error","content":"went wrong"}\n\n'),
    ],
)  # fmt: skip
def test_tutorial_frames(event: ReplyEvent, expected: bytes | None) -> None:
    assert wire(event, tutorial=True) == expected


def test_the_api_docs_say_how_a_stream_ends_and_when_not_to_reconnect(tmp_path: Path) -> None:
    spec = create_app(Settings(_env_file=None, data_dir=tmp_path)).openapi()  # type: ignore[call-arg]
    paths = spec["paths"]
    follow = paths["/api/v1/sessions/{session_id}/reply"]["get"]["responses"]
    assert "EventSource" in follow["204"]["description"]
    for path, method in (("/api/v1/sessions/{session_id}/messages", "post"),
                         ("/api/v1/sessions/{session_id}/reply", "get")):  # fmt: skip
        described = paths[path][method]["responses"]["200"]["description"]
        assert "`failure`" in described, path
        assert "retry_after" in described, path


def test_the_page_handles_every_kind_of_event() -> None:
    """A new event kind is not done until the page's reply reader knows it."""
    source = (STATIC / "js" / "reply.js").read_text()
    handled = set(re.findall(r'event === "([a-z_]+)"', source))
    assert {str(kind) for kind in EventKind} <= handled
