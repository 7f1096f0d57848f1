"""Versions of a message in the browser: `< n/m >` after edits and regenerations."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from tests.browser.chat import chat, last_reply, open_app, reload, replies, user_messages, wait_idle
from tests.browser.conftest import ContextFactory
from tests.live import LiveServer
from tests.upstream import Reply, ScriptedUpstream

pytestmark = pytest.mark.browser


def edit(page: Page, index: int, text: str) -> None:
    message = page.locator(".msg-user").nth(index)
    message.hover()
    message.get_by_role("button", name="Edit").click()
    page.get_by_role("textbox", name="Edit message").fill(text)
    page.get_by_role("button", name="Save and send").click()
    wait_idle(page)


def test_editing_an_earlier_message_keeps_the_old_version_one_click_away(app: Page) -> None:
    chat(app, "first question")
    chat(app, "second question")
    edit(app, 0, "better question")
    expect(user_messages(app)).to_have_text(["better question"])
    expect(replies(app)).to_have_text(["You said: better question"])
    versions = app.get_by_role("group", name="Version 2 of 2")
    expect(versions).to_be_visible()
    expect(versions.get_by_role("button", name="Next version")).to_be_disabled()

    # The old version comes back with everything that followed it.
    versions.get_by_role("button", name="Previous version").click()
    expect(user_messages(app)).to_have_text(["first question", "second question"])
    expect(app.get_by_role("group", name="Version 1 of 2")).to_be_visible()
    # A reload (or another tab) shows the branch chosen last.
    reload(app)
    expect(user_messages(app)).to_have_text(["first question", "second question"])


def test_regenerating_keeps_the_first_answer(app: Page, upstream: ScriptedUpstream) -> None:
    upstream.enqueue(Reply(["First ", "answer"]), Reply(["Second ", "answer"]))
    chat(app, "What is a monad?")
    app.locator(".msg-assistant").last.get_by_role("button", name="Regenerate").click()
    expect(last_reply(app)).to_have_text("Second answer")
    wait_idle(app)
    group = app.get_by_role("group", name="Version 2 of 2")
    expect(group).to_be_visible()
    # Keyboard: the switcher's buttons are reachable and work with Enter.
    group.get_by_role("button", name="Previous version").focus()
    app.keyboard.press("Enter")
    expect(last_reply(app)).to_have_text("First answer")
    expect(app.get_by_role("group", name="Version 1 of 2")).to_be_visible()


def test_versions_cannot_be_switched_while_a_reply_runs(
    app: Page, upstream: ScriptedUpstream
) -> None:
    chat(app, "one")
    edit(app, 0, "uno")
    upstream.enqueue(Reply(["slow "] * 40, delay=0.1))
    box = app.locator("#input")
    box.fill("and then?")
    box.press("Enter")
    expect(app.locator(".msg.streaming")).to_have_count(1)
    group = app.get_by_role("group", name="Version 2 of 2")
    expect(group.get_by_role("button", name="Previous version")).to_be_disabled()
    app.locator("#stop").click()
    wait_idle(app)
    expect(group.get_by_role("button", name="Previous version")).to_be_enabled()


def test_deleting_a_version_asks_first_and_shows_the_other(app: Page) -> None:
    chat(app, "draft")
    edit(app, 0, "final")
    message = app.locator(".msg-user").first
    message.hover()
    message.get_by_role("button", name="Delete this version").click()
    dialog = app.get_by_role("dialog")
    expect(dialog).to_contain_text("The other versions are kept")
    dialog.get_by_role("button", name="Delete").click()
    expect(user_messages(app)).to_have_text(["draft"])
    expect(app.locator(".versions")).to_have_count(0)
    reload(app)
    expect(user_messages(app)).to_have_text(["draft"])


def test_the_switcher_speaks_chinese(make_context: ContextFactory, server: LiveServer) -> None:
    page = make_context(locale="zh-CN").new_page()
    open_app(page, server.url)
    chat(page, "你好")
    page.locator(".msg-assistant").last.get_by_role("button", name="重新生成").click()
    wait_idle(page)
    group = page.get_by_role("group", name="第 2 个版本，共 2 个")
    expect(group.get_by_role("button", name="上一个版本")).to_be_visible()
