"""The model picker: grouped by provider, filtered when long, unavailable models disabled
with the reason, a default model per user for new chats; the too-long error in words."""

from __future__ import annotations

import socket
import textwrap
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.browser.chat import chat, open_app, reload
from tests.browser.conftest import ContextFactory
from tests.conftest import ServerFactory
from tests.live import LiveServer
from tests.upstream import ScriptedUpstream, Status

pytestmark = pytest.mark.browser

TOO_LONG = {
    "error": {
        "message": "This model's maximum context length is 4096 tokens. However, you requested "
        "5000 tokens (4900 in the messages, 100 in the completion).",
        "code": "context_length_exceeded",
    }
}


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def three_providers(
    tmp_path: Path, make_server: ServerFactory, upstream: ScriptedUpstream,
    second: ScriptedUpstream,
) -> LiveServer:  # fmt: skip
    upstream.models = [{"id": "scripted-model"}, *({"id": f"gpt-{i}"} for i in range(8))]
    second.models = [{"id": "b-1"}, {"id": "b-2"}]
    path = tmp_path / "providers.toml"
    path.write_text(textwrap.dedent(f"""
        [[provider]]
        name = "beta"
        base_url = "{second.url}"
        [provider.display_names]
        "b-1" = "Beta One"
        [[provider]]
        name = "down"
        base_url = "http://127.0.0.1:{closed_port()}/v1"
        models = ["gone"]
    """), encoding="utf-8")  # fmt: skip
    return make_server(providers_file=path, models_discovery_timeout=1.0)


def wait_for_lists(page: Page, server: LiveServer) -> None:
    """Until discovery has read every list (it runs beside the page's start)."""
    for _ in range(100):
        body = page.request.get(server.url + "/api/v1/models").json()
        if all(p["checked_at"] for p in body["providers"]) and len(body["models"]) == 12:
            return
        page.wait_for_timeout(100)
    raise AssertionError("the model lists were not read")


def test_the_picker_groups_filters_and_remembers_a_default_model(
    tmp_path: Path, make_server: ServerFactory, make_context: ContextFactory,
    upstream: ScriptedUpstream, second_upstream: ScriptedUpstream,
) -> None:  # fmt: skip
    server = three_providers(tmp_path, make_server, upstream, second_upstream)
    page = make_context().new_page()
    page.goto(server.url)
    wait_for_lists(page, server)
    open_app(page, server.url)
    picker = page.locator("#model-select")
    groups = picker.locator("optgroup")
    expect(groups).to_have_count(3)
    assert groups.nth(0).get_attribute("label") == "openai"
    assert groups.nth(1).get_attribute("label") == "beta"
    assert (groups.nth(2).get_attribute("label") or "").startswith("down (unavailable: ")
    gone = picker.locator("option[value='down/gone']")
    expect(gone).to_be_disabled()
    expect(gone).to_contain_text("gone (unavailable: ")
    expect(picker.locator("option[value='beta/b-1']")).to_have_text("Beta One")
    expect(picker).to_have_value("scripted-model")  # the server's default
    # Eleven models: the filter is there, and narrows the list as one types.
    box = page.locator("#model-filter")
    expect(box).to_be_visible()
    box.fill("beta")
    expect(picker.locator("option:not([hidden])")).to_have_count(2)
    expect(groups.nth(0)).to_be_hidden()
    box.fill("")
    # Chosen for a new chat: its first message goes to that provider.
    picker.select_option("beta/b-1")
    chat(page, "hello beta")
    assert second_upstream.requests[-1]["model"] == "b-1"
    assert all(r["messages"][-1]["content"] != "hello beta" for r in upstream.requests)
    # Made the default for new chats: a reload and a new chat start on it.
    star = page.locator("#model-default")
    expect(star).to_have_attribute("aria-pressed", "false")
    star.click()
    expect(star).to_have_attribute("aria-pressed", "true")
    reload(page)
    page.locator("#new-chat").click()
    expect(picker).to_have_value("beta/b-1")
    chat(page, "second chat")
    assert second_upstream.requests[-1]["messages"][-1]["content"] == "second chat"
    # The conversation changes model; the next reply comes from there.
    picker.select_option("gpt-3")
    expect(star).to_have_attribute("aria-pressed", "false")
    page.wait_for_function("() => document.querySelector('#model-select').value === 'gpt-3'")
    chat(page, "now openai")
    assert upstream.requests[-1]["model"] == "gpt-3"


def test_the_picker_and_the_too_long_error_speak_chinese(
    tmp_path: Path, make_server: ServerFactory, make_context: ContextFactory,
    upstream: ScriptedUpstream, second_upstream: ScriptedUpstream,
) -> None:  # fmt: skip
    server = three_providers(tmp_path, make_server, upstream, second_upstream)
    page = make_context(locale="zh-CN").new_page()
    page.goto(server.url)
    wait_for_lists(page, server)
    open_app(page, server.url)
    expect(page.locator("#model-filter")).to_have_attribute("placeholder", "筛选模型…")
    expect(page.locator("option[value='down/gone']")).to_contain_text("不可用")
    star = page.locator("#model-default")
    expect(star).to_have_attribute("title", "已是新对话的默认模型")  # the server's default
    page.locator("#model-select").select_option("beta/b-2")
    expect(star).to_have_attribute("title", "新对话默认使用")
    second_upstream.enqueue(Status(400, body=TOO_LONG))  # the chat's model is beta's now
    chat(page, "很长的对话")
    expect(page.locator(".msg-assistant").last).to_contain_text("对话太长")
