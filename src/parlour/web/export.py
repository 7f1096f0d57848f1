"""A conversation's export, streamed: the same document as one JSON body, in constant memory.

The JSON is written piece by piece in the order of :class:`~parlour.web.schemas.ExportOut`
(``format, version, session, active_leaf, messages, items, summaries, total``), each piece
encoded as ``JSONResponse`` encodes a whole body, so the bytes are the same.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

from parlour.domain import SessionInfo
from parlour.store import ConversationStore
from parlour.store.export import tree_order, tree_pages
from parlour.web.schemas import ExportOut, MessageOut, SessionOut, SummaryOut
from parlour.window import Summary


def _dump(value: Any) -> bytes:
    return json.dumps(
        value, ensure_ascii=False, allow_nan=False, indent=None, separators=(",", ":")
    ).encode("utf-8")


async def json_export(
    store: ConversationStore, info: SessionInfo, summaries: list[Summary] | None = None
) -> AsyncIterator[bytes]:
    ids, leaf = await tree_order(store.redis, store.keys, info.id)
    head = ExportOut(
        session=SessionOut.of(info), active_leaf=leaf or None, messages=[], items=[], total=0
    ).model_dump(include={"format", "version", "session", "active_leaf"})
    yield _dump(head)[:-1] + b',"messages":['
    first = True
    async for page in tree_pages(store.redis, store.keys, info.id, ids):
        for message in page:
            yield (b"" if first else b",") + _dump(MessageOut.of(message).model_dump())
            first = False
    del ids
    yield b'],"items":['
    total = 0
    async for nodes in store.walk(info.id):
        for node in nodes:
            piece = _dump(MessageOut.of(node.message).model_dump())
            yield piece if total == 0 else b"," + piece
            total += 1
    kept = [SummaryOut.of(s).model_dump() for s in summaries or []]
    yield b'],"summaries":' + _dump(kept) + b',"total":' + _dump(total) + b"}"


async def markdown_export(store: ConversationStore, info: SessionInfo) -> AsyncIterator[bytes]:
    lines = [f"# {info.title or 'Conversation'}", ""]
    yield "\n".join(lines).encode()
    async for nodes in store.walk(info.id):
        for node in nodes:
            message = node.message
            lines = ["", f"**{message.role}**", ""]
            if message.reasoning:
                lines += thought_block(message.reasoning, message.reasoning_seconds)
            yield "\n".join([*lines, message.content, ""]).encode()


def thought_block(reasoning: str, seconds: float | None) -> list[str]:
    """The thinking, folded (``<details>``, which Markdown viewers show closed) and quoted."""
    summary = "Thought" if seconds is None else f"Thought for {seconds:g} s"
    quoted = [f"> {line}" if line else ">" for line in reasoning.strip().splitlines()]
    return [f"<details><summary>{summary}</summary>", "", *quoted, "", "</details>", ""]
