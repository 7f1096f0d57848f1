"""A conversation exported by Parlour (format ``parlour.conversation``), read back.

Every message of every branch is in ``messages`` with its ``parent_id``; the active
branch ends at ``active_leaf``. Ids are the file's own: the import gives the
conversation and its messages new ones (a file cannot name stored keys).
"""

from __future__ import annotations

from typing import Any

from parlour.importing.limits import ImportLimits
from parlour.importing.model import ImportedConversation, ImportedMessage, Skipped, order_tree

FORMAT = "parlour.conversation"


def is_parlour(raw: Any) -> bool:
    return isinstance(raw, dict) and raw.get("format") == FORMAT


def _num(value: Any, default: float = 0.0) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or value != value:
        return default
    return float(value)


def convert(raw: dict[str, Any], limits: ImportLimits) -> ImportedConversation | Skipped:
    session = raw.get("session")
    session = session if isinstance(session, dict) else {}
    sid = session.get("id")
    title = session.get("title")
    title = " ".join(title.split())[:200] if isinstance(title, str) else ""
    if not isinstance(sid, str) or not sid:
        return Skipped("", title, "import_not_a_conversation", "It has no session id.")
    source = "parlour:" + sid[:100]
    if raw.get("version") not in (1, 2):
        return Skipped(source, title, "import_unknown_version", "Its format version is unknown.")
    listed = raw.get("messages")
    if not isinstance(listed, list):
        return Skipped(source, title, "import_not_a_conversation", "It has no message list.")
    if len(listed) > limits.max_messages:
        return Skipped(
            source, title, "import_too_many_messages",
            f"It has more than {limits.max_messages} messages.",
        )  # fmt: skip
    messages: list[ImportedMessage] = []
    seen: set[str] = set()
    for item in listed:
        if not isinstance(item, dict):
            continue
        key, role, content = item.get("id"), item.get("role"), item.get("content")
        parent = item.get("parent_id")
        if not isinstance(key, str) or key in seen or role not in ("user", "assistant"):
            continue
        if not isinstance(content, str):
            continue
        seen.add(key)
        status = item.get("status")
        model, error = item.get("model"), item.get("error")
        messages.append(
            ImportedMessage(
                key=key,
                role=role,
                content=content,
                timestamp=_num(item.get("timestamp")),
                parent=parent if isinstance(parent, str) else None,
                model=model[:100] if isinstance(model, str) else None,
                status=status if status in ("complete", "partial", "error") else "complete",
                error=error[:100] if isinstance(error, str) else None,
            )
        )
    messages = order_tree(messages)
    if not messages:
        return Skipped(source, title, "import_empty", "It has no messages.")
    leaf = raw.get("active_leaf")
    created = _num(session.get("created_at"))
    return ImportedConversation(
        source_id=source,
        title=title,
        created_at=created,
        updated_at=_num(session.get("updated_at"), created),
        messages=messages,
        active_leaf=leaf if isinstance(leaf, str) and leaf in seen else None,
    )
