"""The shared page in the browser: a snapshot anyone with the link reads, sanitized like
the chat; continuing copies it into the reader's account; a revoked link shows nothing."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from tests.accounts import PASSWORD_MODE, signed_up
from tests.browser.chat import chat, open_app, reload, sessions
from tests.browser.conftest import ContextFactory, PageLog, watch
from tests.conftest import ServerFactory
from tests.live import collect
from tests.upstream import Reply, ScriptedUpstream

pytestmark = pytest.mark.browser

HOSTILE = (
    '**bold** text <img src=x onerror="window.__pwned=1"> <script>window.__pwned=2</script>'
    "\n\n```python\nprint('hi')\n```\n"
)


def test_a_shared_link_shows_the_snapshot_and_can_be_continued_and_revoked(
    app: Page, make_context: ContextFactory, upstream: ScriptedUpstream, page_log: PageLog
) -> None:
    upstream.enqueue(Reply(deltas=[HOSTILE]))
    chat(app, "show me something")
    app.get_by_role("button", name="Share", exact=True).click()
    dialog = app.locator("#share-dialog")
    expect(dialog).to_contain_text("Anyone with the link")
    dialog.get_by_role("button", name="Create link").click()
    link = dialog.locator("#share-link")
    expect(link).to_have_value(re.compile(r"/s/[A-Za-z0-9_-]{32}$"))
    url = link.input_value()
    dialog.get_by_role("button", name="Close").click()
    chat(app, "a later message")  # not in the snapshot

    reader_log = PageLog()
    reader = watch(make_context().new_page(), reader_log)
    reader.goto(url)
    reader.wait_for_selector("body[data-ready='true']")
    expect(reader.locator("#shared-title")).to_have_text("show me something")
    expect(reader.locator(".msg-user .content")).to_have_text(["show me something"])
    reply = reader.locator(".msg-assistant .content")
    expect(reply.locator("strong")).to_have_text("bold")
    expect(reply.locator(".hljs-built_in, .hljs-string").first).to_be_visible()
    expect(reader.locator("script:not([src])")).to_have_count(0)
    assert reader.evaluate("window.__pwned") is None
    assert reader.locator('meta[name="robots"]').get_attribute("content", timeout=1000) == (
        "noindex, nofollow, noarchive"
    )
    expect(reader.locator("body")).not_to_contain_text("a later message")
    assert not reader_log.errors
    assert not reader_log.dialogs

    # Continue: a copy in the reader's own list (here, the one local user's), opened.
    reader.get_by_role("button", name="Continue this conversation").click()
    reader.wait_for_url(re.compile(r"/#/c/[0-9a-f]{32}$"))
    reader.wait_for_selector("body[data-ready='true']")
    expect(reader.locator("#messages .msg-user .content")).to_have_text(["show me something"])
    expect(sessions(reader)).to_have_count(2)

    # Revoked from the list of links: the page shows nothing of it any more.
    reload(app)
    app.get_by_role("button", name="Shared links").click()
    links = app.locator("#list-dialog")
    links.get_by_role("button", name="Revoke link: show me something").click()
    expect(links).to_contain_text("No shared links yet.")
    gone = make_context().new_page()
    gone.goto(url)
    gone.wait_for_selector("body[data-ready='true']")
    expect(gone.locator("#shared-missing")).to_be_visible()
    expect(gone.locator(".msg")).to_have_count(0)
    assert not page_log.errors


def test_the_shared_page_needs_no_account_and_shows_only_the_snapshot(
    make_server: ServerFactory, make_context: ContextFactory
) -> None:
    server = make_server(**PASSWORD_MODE)
    alice = signed_up(server.url, "alice")
    sid = alice.post("/api/v1/sessions", json={"title": "周末计划"}).json()["id"]
    collect(alice, "POST", f"/api/v1/sessions/{sid}/messages", json={"content": "去爬山"})
    alice.post("/api/v1/sessions", json={"title": "private diary"})
    hidden = alice.post(f"/api/v1/sessions/{sid}/shares", json={}).json()
    named = alice.post(f"/api/v1/sessions/{sid}/shares", json={"show_name": True}).json()

    page = make_context(locale="zh-CN").new_page()
    open_app(page, server.url, hidden["path"])
    expect(page.locator(".shared-badge")).to_have_text("分享的对话")
    expect(page.locator("#shared-title")).to_have_text("周末计划")
    expect(page.locator(".msg-user .content")).to_have_text(["去爬山"])
    expect(page.locator("#shared-meta")).to_contain_text("分享于")
    expect(page.locator("body")).not_to_contain_text("alice")
    expect(page.locator("body")).not_to_contain_text("private diary")
    expect(page.get_by_role("link", name="登录后继续这个对话")).to_be_visible()
    expect(page.get_by_role("button", name="继续这个对话")).to_be_hidden()

    open_app(page, server.url, named["path"])
    expect(page.locator("#shared-meta")).to_contain_text("alice 分享于")
