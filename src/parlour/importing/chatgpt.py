"""One conversation of a ChatGPT data export (``conversations.json``), as Parlour keeps it.

A conversation's ``mapping`` is its tree: node id -> ``{"message", "parent",
"children"}``. An edited prompt or a regenerated reply is another child of the same
parent, so versions become siblings here too, in the export's order; the active branch
is the path to ``current_node``. Only user and assistant messages that a person saw
are kept: the root, system prompts, tool calls and their output, hidden context and
reasoning summaries are left out, and the messages below them hang from the nearest
kept message above. An assistant message followed by only another assistant message
(a reply interrupted by a tool) becomes one message. Images, audio and attached files
cannot be imported: they are named in the report (and marked in the text). Every field
is checked for its type; a message without metadata or times is accepted.
"""

from __future__ import annotations

import hashlib
from typing import Any

from parlour.domain import Role
from parlour.importing.limits import ImportLimits
from parlour.importing.model import ImportedConversation, ImportedMessage, Skipped

_HIDDEN_TYPES = frozenset({
    "thoughts", "reasoning_recap", "user_editable_context", "model_editable_context",
    "tether_browsing_display", "tether_quote", "system_error", "execution_output",
})  # fmt: skip
_PARTIAL = frozenset({"in_progress", "finished_partial_completion"})
IMAGE_MARK = "[image not imported]"


def _num(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if value == value and abs(value) < 1e12 else None


def _str(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _text(message: dict[str, Any], lost: list[str]) -> str | None:
    """The text a person saw, or None for a message to leave out."""
    content = _dict(message.get("content"))
    kind = _str(content.get("content_type"))
    if kind in _HIDDEN_TYPES:
        return None
    if kind == "code":
        language = _str(content.get("language"))
        language = "" if language == "unknown" else language
        return f"```{language}\n{_str(content.get('text'))}\n```"
    parts = content.get("parts")
    pieces: list[str] = []
    if isinstance(parts, list):
        for part in parts:
            if isinstance(part, str):
                if part:
                    pieces.append(part)
                continue
            part = _dict(part)
            kind_of_part = _str(part.get("content_type"))
            if isinstance(part.get("text"), str) and part["text"]:
                pieces.append(part["text"])  # a transcript, or text in an object
            elif "image" in kind_of_part:
                lost.append(f"image {_str(part.get('asset_pointer')).rsplit('/', 1)[-1]}".strip())
                pieces.append(IMAGE_MARK)
            elif kind_of_part:
                lost.append(kind_of_part.removesuffix("_asset_pointer").replace("_", " "))
    elif isinstance(content.get("text"), str):
        pieces.append(content["text"])
    for attachment in message_metadata(message).get("attachments") or []:
        name = _str(_dict(attachment).get("name")) or _str(_dict(attachment).get("id"))
        lost.append(f"file {name}".strip())
    text = "\n\n".join(pieces)
    return text if text.strip() else None


def message_metadata(message: dict[str, Any]) -> dict[str, Any]:
    return _dict(message.get("metadata"))


def _role(message: dict[str, Any]) -> Role | None:
    role = _str(_dict(message.get("author")).get("role"))
    meta = message_metadata(message)
    if meta.get("is_visually_hidden_from_conversation") or meta.get("is_user_system_message"):
        return None
    if role == "user":
        return "user"
    if role == "assistant":
        return "assistant"
    return None  # system, tool


def source_id(raw: dict[str, Any]) -> str:
    found = _str(raw.get("conversation_id")) or _str(raw.get("id"))
    if not found:  # no id: the same title and time are the same conversation
        seed = f"{_str(raw.get('title'))}\0{raw.get('create_time')!r}".encode()
        found = "h" + hashlib.sha256(seed).hexdigest()[:32]
    return "chatgpt:" + found[:100]


def convert(raw: Any, limits: ImportLimits) -> ImportedConversation | Skipped:
    if not isinstance(raw, dict):
        return Skipped("", "", "import_not_a_conversation", "An entry is not a conversation.")
    sid = source_id(raw)
    title = " ".join(_str(raw.get("title")).split())[:200]
    created = _num(raw.get("create_time")) or 0.0
    updated = _num(raw.get("update_time")) or created
    mapping = raw.get("mapping")
    if not isinstance(mapping, dict) or not mapping:
        return Skipped(sid, title, "import_empty", "It has no messages.")
    nodes = {k: v for k, v in mapping.items() if isinstance(v, dict)}
    kids: dict[str, list[str]] = {}
    roots: list[str] = []
    for key, node in nodes.items():
        parent = node.get("parent")
        if isinstance(parent, str) and parent in nodes and parent != key:
            kids.setdefault(parent, [])
        else:
            roots.append(key)
    for key, node in nodes.items():  # children in the export's order, then any it left out
        listed = node.get("children")
        if key in kids and isinstance(listed, list):
            kids[key] = [
                c
                for c in listed
                if isinstance(c, str) and _str(nodes.get(c, {}).get("parent")) == key
            ]
    for key, node in nodes.items():
        parent = _str(node.get("parent"))
        if parent in kids and key not in kids[parent]:
            kids[parent].append(key)
    lost: list[str] = []
    kept: dict[str, ImportedMessage] = {}
    out: list[ImportedMessage] = []
    seen: set[str] = set()
    # Depth first in the export's order; each entry: node, nearest kept message above.
    stack: list[tuple[str, str | None, float]] = [(r, None, created) for r in reversed(roots)]
    while stack:
        key, above, ts = stack.pop()
        if key in seen:
            continue  # a loop in the tree
        seen.add(key)
        message = _dict(nodes[key].get("message"))
        ts = _num(message.get("create_time")) or ts
        role = _role(message) if message else None
        text = _text(message, lost) if role else None
        here = above
        if role and text is not None:
            model = _str(message_metadata(message).get("model_slug"))[:100] or None
            status = "partial" if _str(message.get("status")) in _PARTIAL else "complete"
            item = ImportedMessage(
                key, role, text, ts, above, model if role == "assistant" else None, status
            )
            kept[key] = item
            out.append(item)
            if len(out) > limits.max_messages:
                return Skipped(
                    sid, title, "import_too_many_messages",
                    f"It has more than {limits.max_messages} messages.",
                )  # fmt: skip
            here = key
        stack.extend((c, here, ts) for c in reversed(kids.get(key, [])))
    if not out:
        return Skipped(sid, title, "import_empty", "It has no user or assistant messages.")
    leaf = _active(nodes, kept, _str(raw.get("current_node")))
    out, leaf = _join_replies(out, leaf)
    return ImportedConversation(sid, title, created, max(updated, created), out, leaf, lost)


def _active(nodes: dict[str, Any], kept: dict[str, ImportedMessage], current: str) -> str | None:
    """The nearest kept message at or above ``current_node``."""
    hops = 0
    while current and current not in kept and hops <= len(nodes):
        current = _str(_dict(nodes.get(current)).get("parent"))
        hops += 1
    return current if current in kept else None


def _join_replies(
    messages: list[ImportedMessage], leaf: str | None
) -> tuple[list[ImportedMessage], str | None]:
    """An assistant message whose one child is an assistant message takes its text."""
    kids: dict[str | None, list[ImportedMessage]] = {}
    for m in messages:
        kids.setdefault(m.parent, []).append(m)
    gone: set[str] = set()
    for m in messages:  # parents come first
        if m.key in gone or m.role != "assistant":
            continue
        while True:
            below = kids.get(m.key, [])
            if len(below) != 1 or below[0].role != "assistant":
                break
            child = below[0]
            m.content = f"{m.content}\n\n{child.content}"
            m.model = m.model or child.model
            gone.add(child.key)
            if leaf == child.key:
                leaf = m.key
            grandchildren = kids.pop(child.key, [])
            for grandchild in grandchildren:
                grandchild.parent = m.key
            kids[m.key] = grandchildren
    return [m for m in messages if m.key not in gone], leaf
