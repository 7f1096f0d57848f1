"""What a file to import turns into: conversations with their trees, or reasons to skip."""

from __future__ import annotations

from dataclasses import dataclass, field

from parlour.domain import Role


@dataclass(slots=True)
class ImportedMessage:
    key: str  # its id in the file (unique within the conversation)
    role: Role
    content: str
    timestamp: float
    parent: str | None  # the key of the message it follows; None: a first message
    model: str | None = None
    status: str = "complete"
    error: str | None = None


@dataclass(slots=True)
class ImportedConversation:
    source_id: str  # the file's id for it: importing it again finds it by this
    title: str
    created_at: float
    updated_at: float
    # Parents before children; siblings in their order (oldest version first).
    messages: list[ImportedMessage]
    active_leaf: str | None  # the key of the last message of the active branch
    # Images and files the conversation had that cannot be imported: "name (kind)".
    not_imported: list[str] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Skipped:
    """A conversation of the file that is not imported, and why (a code and a sentence)."""

    source_id: str
    title: str
    code: str
    reason: str


def order_tree(messages: list[ImportedMessage]) -> list[ImportedMessage]:
    """Parents before their children, each parent's children in the order given
    (without recursion; a message whose parent is unknown becomes a first message)."""
    known = {m.key for m in messages}
    kids: dict[str | None, list[ImportedMessage]] = {}
    for m in messages:
        if m.parent is not None and m.parent not in known:
            m.parent = None
        kids.setdefault(m.parent, []).append(m)
    out: list[ImportedMessage] = []
    stack = list(reversed(kids.get(None, [])))
    while stack:
        m = stack.pop()
        out.append(m)
        stack.extend(reversed(kids.get(m.key, [])))
    return out  # a cycle (no way to its top) is left out
