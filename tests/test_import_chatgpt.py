"""One ChatGPT conversation turned into Parlour's tree: pure, table-like cases."""

from __future__ import annotations

import io

import pytest

from parlour.domain import Message
from parlour.errors import ImportRejected
from parlour.importing import chatgpt
from parlour.importing.jsonstream import documents
from parlour.importing.limits import ImportLimits
from parlour.importing.model import ImportedConversation, Skipped
from parlour.store.importer import _active_path
from tests.fixtures.chatgpt import Conversation, branched

LIMITS = ImportLimits()


def _convert(raw: object) -> ImportedConversation:
    out = chatgpt.convert(raw, LIMITS)
    assert isinstance(out, ImportedConversation), out
    return out


def _active(conv: ImportedConversation) -> list[str]:
    by_key = {m.key: m for m in conv.messages}
    path, cur = [], conv.active_leaf
    while cur:
        path.append(by_key[cur].content)
        cur = by_key[cur].parent
    return path[::-1]


def test_the_active_branch_is_the_path_to_current_node() -> None:
    conv, ids = branched()
    out = _convert(conv.export(current=ids["a2a"]))
    assert _active(out) == [
        "What is Redis?",
        "An in-memory data store.",
        "Show me code",
        "```python\nimport redis\n```",
    ]


def test_a_current_node_below_skipped_nodes_lands_on_the_nearest_kept_message() -> None:
    conv = Conversation("tool at the end")
    conv.turn("run it", "running")
    tool = conv.add("tool", "", content={"content_type": "execution_output", "text": "ok"})
    out = _convert(conv.export(current=tool))
    assert _active(out) == ["run it", "running"]


def test_no_current_node_shows_the_newest_versions() -> None:
    conv, _ids = branched()
    raw = conv.export()
    raw["current_node"] = None
    out = _convert(raw)
    assert out.active_leaf is None
    messages = [
        Message(m.key, m.role, m.content, m.timestamp, "assistant", parent=m.parent)
        for m in out.messages
    ]
    kids: dict[str, list[str]] = {}
    for m in messages:
        kids.setdefault(m.parent or "", []).append(m.id)
    by_id = {m.id: m.content for m in messages}
    path = [by_id[i] for i in _active_path(messages, kids, None)]
    assert path[-2:] == ["Show me Python code", "Here: `redis.Redis()`"]


def test_a_loop_in_the_mapping_does_not_hang_or_break_the_tree() -> None:
    conv = Conversation("loop")
    a = conv.add("user", "a")
    b = conv.add("assistant", "b")
    conv.mapping[b]["children"].append(a)  # b -> a -> b ...
    out = _convert(conv.export())
    assert [m.content for m in out.messages] == ["a", "b"]


def test_hidden_context_and_custom_instructions_are_left_out() -> None:
    conv = Conversation("hidden")
    conv.add("user", "be brief", metadata={"is_user_system_message": True})
    conv.add("user", "hello")
    conv.add("assistant", "", content={"content_type": "reasoning_recap", "content": "thought"})
    conv.add("assistant", "hi")
    out = _convert(conv.export())
    assert [(m.role, m.content, m.model) for m in out.messages] == [
        ("user", "hello", None), ("assistant", "hi", "gpt-4o"),
    ]  # fmt: skip
    assert out.messages[1].parent == out.messages[0].key


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        ("a string", "import_not_a_conversation"),
        ({"title": "x"}, "import_empty"),
        ({"title": "x", "mapping": {"n": "not a node"}}, "import_empty"),
    ],
)
def test_what_is_not_a_conversation_is_skipped(raw: object, code: str) -> None:
    out = chatgpt.convert(raw, LIMITS)
    assert isinstance(out, Skipped)
    assert out.code == code


@pytest.mark.parametrize(
    ("text", "code"),
    [
        (b"[" * 65 + b"]" * 65, "import_too_deep"),
        (b'["' + b"x" * 2000 + b'"]', "import_string_too_long"),
        (b"[[" + b"1," * 200 + b"1]]", "import_too_many_items"),
        (b"[{}", "import_bad_json"),
        (b"[{}] trailing", "import_bad_json"),
        (b"\xff\xfe[]", "import_bad_json"),
    ],
)
def test_the_json_reader_refuses_past_its_limits(text: bytes, code: str) -> None:
    limits = ImportLimits(max_string_chars=1000, max_items=100)
    with pytest.raises(ImportRejected) as caught:
        list(documents(io.BytesIO(text), limits))
    assert caught.value.code == code


def test_a_deeply_nested_file_is_refused_without_building_it() -> None:
    # ijson's own builder needs memory growing with the square of the depth for this
    # (gigabytes); the reader stops at the limit.
    depth = 200_000
    with pytest.raises(ImportRejected):
        list(documents(io.BytesIO(b"[" * depth + b"]" * depth), LIMITS))
