"""A reasoning model's thinking on the page: open while it streams, then folded as
"Thought for N s" above the answer, and the same after a reload."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import BrowserContext, Page, expect

from tests.browser.chat import last_reply, open_app, reload, send, wait_idle
from tests.browser.conftest import ContextFactory
from tests.live import LiveServer
from tests.upstream import Reply, ScriptedUpstream

pytestmark = pytest.mark.browser


def test_thinking_streams_open_then_folds_above_the_answer(
    app: Page, upstream: ScriptedUpstream
) -> None:
    thought = [f"step {i}. " for i in range(30)]
    upstream.enqueue(Reply(["The answer", " is 42."], reasoning=thought, delay=0.05))
    send(app, "what is the answer?")
    block = app.locator(".msg-assistant").last.locator("details.thinking")
    # While it thinks: open, growing, and saying so.
    expect(block).to_have_attribute("open", "")
    expect(block.locator("summary")).to_have_text("Thinking…")
    expect(block.locator(".thinking-text")).to_contain_text("step 3.")
    wait_idle(app)
    expect(last_reply(app)).to_have_text("The answer is 42.")
    expect(block.locator("summary")).to_have_text(re.compile(r"^Thought for \d+ s$"))
    expect(block).not_to_have_attribute("open", "")
    expect(block.locator(".thinking-text")).to_be_hidden()
    expect(last_reply(app)).not_to_contain_text("step")
    # The reader unfolds it.
    block.locator("summary").click()
    expect(block.locator(".thinking-text")).to_have_text("".join(thought).strip())
    # After a reload it is still there, folded, apart from the answer.
    reload(app)
    block = app.locator(".msg-assistant").last.locator("details.thinking")
    expect(block).not_to_have_attribute("open", "")
    expect(block.locator("summary")).to_contain_text("Thought for")
    expect(last_reply(app)).to_have_text("The answer is 42.")
    block.locator("summary").click()
    expect(block.locator(".thinking-text")).to_contain_text("step 29.")


def test_stopped_while_thinking_the_thought_stays_and_in_chinese(
    make_context: ContextFactory, server: LiveServer, upstream: ScriptedUpstream
) -> None:
    context: BrowserContext = make_context(locale="zh-CN")
    page = open_app(context.new_page(), server.url)
    upstream.enqueue(Reply([], reasoning=["先想一想。", "再想一想。"], delay=0.05, hold=60))
    send(page, "你好")
    block = page.locator(".msg-assistant").last.locator("details.thinking")
    expect(block.locator("summary")).to_have_text("正在思考…")
    expect(block.locator(".thinking-text")).to_have_text("先想一想。再想一想。")
    page.locator("#stop").click()
    wait_idle(page)
    expect(block.locator("summary")).to_contain_text("已思考")
    expect(page.locator(".msg-assistant").last.locator(".msg-partial")).to_be_visible()
    reload(page)
    block = page.locator(".msg-assistant").last.locator("details.thinking")
    expect(block.locator("summary")).to_contain_text("已思考")
    block.locator("summary").click()
    expect(block.locator(".thinking-text")).to_have_text("先想一想。再想一想。")
