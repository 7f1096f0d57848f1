"""The chat settings panel: a conversation's parameters set on the page, sent with its
next reply, and still there after a reload."""

from __future__ import annotations

import pytest
from playwright.sync_api import BrowserContext, Page, expect

from tests.browser.chat import chat, open_app, reload
from tests.browser.conftest import ContextFactory
from tests.live import LiveServer
from tests.upstream import Reply, ScriptedUpstream

pytestmark = pytest.mark.browser


def test_settings_are_saved_sent_and_kept_across_a_reload(
    app: Page, upstream: ScriptedUpstream
) -> None:
    chat(app, "hello")
    assert "seed" not in upstream.requests[-1]
    app.locator("#chat-settings-open").click()
    panel = app.locator("#chat-settings")
    expect(panel).to_be_visible()
    expect(panel.locator("#param-temperature")).to_have_attribute("placeholder", "default 0.7")
    expect(panel.locator("#param-seed")).to_have_attribute("placeholder", "model's default")
    # A value out of range is refused, with the reason, and the panel stays open.
    panel.locator("#param-temperature").fill("5")
    panel.locator("#chat-settings-save").click()
    expect(panel.locator("#chat-settings-error")).to_contain_text("temperature")
    expect(panel).to_be_visible()
    panel.locator("#param-temperature").fill("0.3")
    panel.locator("#param-seed").fill("5")
    panel.locator("#param-system_prompt").fill("Be brief.")
    panel.locator("#chat-settings-save").click()
    expect(panel).to_be_hidden()
    expect(app.locator("#toast")).to_have_text("Chat settings saved")
    chat(app, "again")
    body = upstream.requests[-1]
    assert (body["temperature"], body["seed"]) == (0.3, 5)
    assert "top_p" not in body
    assert body["messages"][0]["content"].endswith("\n\nBe brief.")
    reload(app)
    app.locator("#chat-settings-open").click()
    expect(panel.locator("#param-temperature")).to_have_value("0.3")
    expect(panel.locator("#param-seed")).to_have_value("5")
    expect(panel.locator("#param-system_prompt")).to_have_value("Be brief.")
    expect(panel.locator("#param-top_p")).to_have_value("")
    # Reset: everything back to the defaults.
    panel.locator("#chat-settings-reset").click()
    expect(panel).to_be_hidden()
    chat(app, "third")
    assert "seed" not in upstream.requests[-1]
    assert upstream.requests[-1]["temperature"] == 0.7


def test_the_panel_speaks_chinese_and_waits_for_a_conversation(
    make_context: ContextFactory, server: LiveServer
) -> None:
    context: BrowserContext = make_context(locale="zh-CN")
    page = open_app(context.new_page(), server.url)
    page.locator("#chat-settings-open").click()
    panel = page.locator("#chat-settings")
    expect(panel.locator("#chat-settings-title")).to_have_text("对话设置")
    expect(panel.locator("#chat-settings-note")).to_contain_text("先发一条消息")
    expect(panel.locator("#param-temperature")).to_be_disabled()
    page.keyboard.press("Escape")
    expect(panel).to_be_hidden()


def test_the_panel_shows_todays_usage(app: Page, upstream: ScriptedUpstream) -> None:
    app.locator("#chat-settings-open").click()
    panel = app.locator("#chat-settings")
    expect(panel.locator("#usage-table")).to_have_text("No usage yet today.")
    app.keyboard.press("Escape")
    upstream.enqueue(
        Reply(["Hi"], usage={"prompt_tokens": 1200, "completion_tokens": 3}),
        Reply(["Again"], usage={"prompt_tokens": 1300, "completion_tokens": 4}),
    )
    chat(app, "one")
    chat(app, "two")
    app.locator("#chat-settings-open").click()
    rows = panel.locator("#usage-table tr")
    expect(rows).to_have_count(2)
    expect(rows.nth(0)).to_have_text("ModelPrompt tokensCompletion tokensReplies")
    expect(rows.nth(1)).to_have_text("scripted-model2,50072")
