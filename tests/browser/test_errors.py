"""Failures are explained in the page, politely, and nothing is lost."""

from __future__ import annotations

import pytest
from playwright.sync_api import BrowserContext, Page, expect

from tests.browser.chat import chat, last_reply, open_app, send, wait_idle
from tests.browser.conftest import PageLog
from tests.conftest import ServerFactory
from tests.upstream import Reply, ScriptedUpstream, Status

pytestmark = pytest.mark.browser


def test_model_not_configured_explains_how_to_configure(
    page: Page, make_server: ServerFactory, page_log: PageLog
) -> None:
    bare = make_server(openai_api_key=None, openai_base_url=None, local_enabled=False)
    open_app(page, bare.url)
    banner = page.locator("#banner")
    expect(banner).to_be_visible()
    expect(banner).to_contain_text("No model is configured")
    expect(banner).to_contain_text("OPENAI_API_KEY")
    send(page, "hello?")
    wait_idle(page)
    expect(page.get_by_role("alert").filter(has_text="OPENAI_API_KEY").first).to_be_visible()
    assert not page_log.errors


def test_rate_limited_upstream(app: Page, upstream: ScriptedUpstream) -> None:
    upstream.enqueue(*[Status(429, retry_after="0") for _ in range(3)])
    chat(app, "Are you busy?")
    error = app.locator(".msg-assistant .msg-error")
    expect(error).to_have_text(
        "The model service is receiving too many requests. Please wait a moment and try again."
    )
    expect(error).to_have_attribute("role", "alert")
    # The failed turn can be tried again with one click.
    app.locator(".msg-assistant").last.get_by_role("button", name="Regenerate").click()
    expect(last_reply(app)).to_have_text("You said: Are you busy?")


def test_upstream_failure_mid_reply_keeps_the_text(app: Page, upstream: ScriptedUpstream) -> None:
    upstream.enqueue(
        Reply(deltas=["Half ", "an ", "answer"], cut=True),
        *[Status(503) for _ in range(3)],
    )
    chat(app, "Tell me everything")
    expect(last_reply(app)).to_contain_text("Half an answer")
    expect(app.locator(".msg-assistant .msg-error")).to_contain_text(
        "unavailable or the connection to it broke"
    )


def test_offline_is_explained_and_the_text_is_kept(
    app: Page, context: BrowserContext, page_log: PageLog
) -> None:
    chat(app, "online first")
    context.set_offline(True)
    send(app, "sent while offline")
    banner = app.locator("#banner")
    expect(banner).to_contain_text("offline")
    expect(app.locator("#input")).to_have_value("sent while offline")
    expect(app.locator(".msg-user")).to_have_count(1)
    context.set_offline(False)
    app.locator("#input").press("Enter")
    expect(last_reply(app)).to_have_text("You said: sent while offline")
    expect(banner).to_be_hidden()


def test_message_too_long(page: Page, make_server: ServerFactory) -> None:
    small = make_server(max_message_chars=20)
    open_app(page, small.url)
    send(page, "x" * 50)
    expect(page.locator("#banner")).to_contain_text("too long")
    expect(page.locator("#input")).to_have_value("x" * 50)
    expect(page.locator(".msg")).to_have_count(0)


def test_errors_in_chinese(app: Page, upstream: ScriptedUpstream) -> None:
    app.get_by_role("button", name="切换到中文").click()
    upstream.enqueue(*[Status(429) for _ in range(3)])
    chat(app, "你好")
    expect(app.locator(".msg-assistant .msg-error")).to_have_text(
        "模型服务当前请求过多，请稍等片刻再试。"
    )
