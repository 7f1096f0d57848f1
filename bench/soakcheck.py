"""What a soak must leave behind: consistent conversations, every reply as its readers saw
it, and no Redis key without a TTL once every conversation is deleted.

Each check returns sentences describing what is wrong (empty: it holds).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from typing import Any

from redis import Redis

from bench.soakclient import Seen

INTERRUPTED = "reply_interrupted"


def check_conversation(
    sid: str, export: dict[str, Any], seen: Iterable[Seen]
) -> tuple[list[str], int]:
    """The problems of one conversation (its JSON export, every branch) and how many of
    its replies no client saw start (stored as interrupted, which is fine)."""
    problems: list[str] = []
    messages: list[dict[str, Any]] = export["messages"]
    items: list[dict[str, Any]] = export["items"]
    by_id = {m["id"]: m for m in messages}
    for mid, n in Counter(m["id"] for m in messages).items():
        if n > 1:
            problems.append(f"{sid}: message {mid} stored {n} times")
    for mid, n in Counter(m["id"] for m in items).items():
        if n > 1:
            problems.append(f"{sid}: message {mid} {n} times on the active branch")
    for i, m in enumerate(items):
        want = "user" if i % 2 == 0 else "assistant"
        if m["role"] != want:
            problems.append(f"{sid}: active branch item {i} is {m['role']}, not {want}")
            break
        parent = items[i - 1]["id"] if i else None
        if m["parent_id"] != parent:
            problems.append(f"{sid}: item {i}'s parent is {m['parent_id']}, not {parent}")
    if items and items[-1]["role"] == "user":
        problems.append(f"{sid}: the active branch ends with an unanswered message")
    for m in messages:
        parent = by_id.get(m["parent_id"]) if m["parent_id"] else None
        if m["parent_id"] and parent is None:
            problems.append(f"{sid}: message {m['id']}'s parent is not stored")
        if m["role"] == "assistant" and (parent is None or parent["role"] != "user"):
            problems.append(f"{sid}: reply {m['id']} does not follow a user message")
    known = {s.reply_id: s for s in seen}
    for rid, s in known.items():
        stored = by_id.get(rid)
        if stored is None:
            problems.append(f"{sid}: reply {rid} ({s.action}) was never stored")
            continue
        if not s.final:
            problems.append(f"{sid}: reply {rid} ({s.action}) got no final event")
            continue
        mid = s.final_data.get("message_id")
        if mid != rid:
            problems.append(f"{sid}: reply {rid}'s final event names message {mid}")
        if stored["content"] != s.text:
            problems.append(
                f"{sid}: reply {rid} ({s.action}, {s.resumes} resumes): stored "
                f"{stored['content']!r} but the reader assembled {s.text!r}"
            )
        interrupted = s.final == "failure" and s.final_data.get("code") == INTERRUPTED
        if interrupted and stored.get("error") != INTERRUPTED:
            problems.append(f"{sid}: interrupted reply {rid} stored as {stored['status']}")
    unseen = 0
    for m in messages:
        if m["role"] == "assistant" and m["id"] not in known:
            unseen += 1
            if m.get("error") != INTERRUPTED:
                problems.append(
                    f"{sid}: reply {m['id']} was stored ({m['status']}) but no client saw "
                    "it start, and it was not closed as interrupted"
                )
    return problems, unseen


# Keys that belong to the database, not to a conversation or a reply (see store/keys.py).
GLOBAL_SUFFIXES = (":format", ":{search}:since", ":{search}:fill", ":personas:published")


def untimed_keys(redis: Redis, prefix: str) -> tuple[list[str], list[str], int]:
    """Keys without a TTL: (documented ones, others), and how many keys have a TTL."""
    documented: list[str] = []
    others: list[str] = []
    timed = 0
    for raw in redis.scan_iter(match="*", count=1000):
        key = raw.decode() if isinstance(raw, bytes) else str(raw)
        if redis.ttl(key) >= 0:
            timed += 1
            continue
        if key.endswith(GLOBAL_SUFFIXES) or _owner_search_key(key, prefix):
            documented.append(key)
        else:
            others.append(key)
    return sorted(documented), sorted(others), timed


def _owner_search_key(key: str, prefix: str) -> bool:
    # The owner's search index keeps the postings of deleted messages (4 bytes each;
    # every result is checked against the stored message): per owner, by design.
    return key.startswith(f"{prefix}:u:{{") and ":s:" in key
