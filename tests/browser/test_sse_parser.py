"""The page's SSE parser (js/sse.js), run in the browser on a table of inputs."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import Page

pytestmark = pytest.mark.browser

PARSE = """async (chunks) => {
  const { SSEParser } = await import("/js/sse.js");
  const parser = new SSEParser();
  const events = [];
  for (const chunk of chunks) events.push(...parser.feed(chunk));
  return events;
}"""

CASES: list[tuple[str, list[str], list[dict[str, Any]]]] = [
    (
        "named event with id",
        ['event: delta\ndata: {"content": "hi"}\nid: 3\n\n'],
        [{"event": "delta", "data": '{"content": "hi"}', "id": "3"}],
    ),
    ("no event name is 'message'", ["data: x\n\n"], [{"event": "message", "data": "x", "id": ""}]),
    (
        "comment lines are ignored",
        [": keep-alive\n\n", "data: a\n\n"],
        [
            {"event": "message", "data": "a", "id": ""},
        ],
    ),
    (
        "split anywhere",
        ["ev", "ent: st", "art\nda", "ta: 1\nid:", " 1\n", "\n"],
        [
            {"event": "start", "data": "1", "id": "1"},
        ],
    ),
    (
        "CRLF, and CR LF split across chunks",
        ["data: a\r", "\n\r\ndata: b\r\r"],
        [
            {"event": "message", "data": "a", "id": ""},
            {"event": "message", "data": "b", "id": ""},
        ],
    ),
    (
        "multi-line data joins with newline",
        ["data: one\ndata: two\n\n"],
        [
            {"event": "message", "data": "one\ntwo", "id": ""},
        ],
    ),
    (
        "id persists to later events",
        ["id: 7\ndata: a\n\ndata: b\n\n"],
        [
            {"event": "message", "data": "a", "id": "7"},
            {"event": "message", "data": "b", "id": "7"},
        ],
    ),
    (
        "an event without data is not dispatched",
        ["event: x\nid: 2\n\ndata: y\n\n"],
        [
            {"event": "message", "data": "y", "id": "2"},
        ],
    ),
    (
        "only one leading space is dropped",
        ["data:  two spaces\n\n"],
        [
            {"event": "message", "data": " two spaces", "id": ""},
        ],
    ),
    ("incomplete event waits", ["data: not yet\n"], []),
    (
        "non-ASCII text",
        ["data: 你好，世界\n\n"],
        [{"event": "message", "data": "你好，世界", "id": ""}],
    ),
]


def test_sse_parser(app: Page) -> None:
    """All cases in one page (starting the app per case would dominate the time)."""
    results = {name: app.evaluate(PARSE, chunks) for name, chunks, _ in CASES}
    assert results == {name: expected for name, _, expected in CASES}
