"""Search in the browser: the sidebar box and the Ctrl/Cmd+K palette, zh and en."""

from __future__ import annotations

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.browser.chat import open_app, replies, user_messages
from tests.browser.conftest import ContextFactory, PageLog
from tests.live import LiveServer
from tests.test_branches import branch, new_session, say
from tests.test_search import eventually, found

pytestmark = pytest.mark.browser


def seeded(server: LiveServer) -> dict[str, str]:
    """Conversations made over the API, indexed before the page searches them."""
    with httpx.Client(base_url=server.url, timeout=30) as client:
        park = new_session(client)
        say(client, park, "我们明天去颐和园散步吧")
        for i in range(30):  # enough to push the first message off the first screen
            say(client, park, f"filler message number {i}")
        code = new_session(client)
        say(client, code, "the first draft mentions marmalade")
        old = branch(client, code)[0]["id"]
        say(client, code, "the second draft mentions treacle", replace_from=old)
        eventually(lambda: found(client, "颐和园") and found(client, "marmalade"))
        return {"park": park, "code": code, "old": old}


def test_the_sidebar_box_finds_chinese_and_opens_at_the_message(
    server: LiveServer, make_context: ContextFactory, page_log: PageLog
) -> None:
    ids = seeded(server)
    page = make_context(locale="zh-CN").new_page()
    open_app(page, server.url)
    box = page.locator("#sidebar-search")
    expect(box).to_have_attribute("placeholder", "搜索对话…")
    box.fill("颐和")
    hits = page.locator("#sidebar-results .search-hit")
    expect(hits).to_have_count(2)  # the message and the reply that echoed it
    expect(hits.first.locator("mark")).to_have_text(["颐和"])
    expect(page.locator("#session-nav")).to_be_hidden()
    hits.nth(1).click()
    expect(page).to_have_url(f"{server.url}/#/c/{ids['park']}")
    first = user_messages(page).first
    expect(first).to_have_text("我们明天去颐和园散步吧")
    expect(first).to_be_in_viewport()  # scrolled to it, though the branch is long
    box.fill("没有这个词")
    expect(page.locator("#sidebar-search-status")).to_have_text("没有找到“没有这个词”。")
    box.fill("")
    expect(page.locator("#session-nav")).to_be_visible()


def test_the_palette_opens_an_old_branch_at_the_match(
    app: Page, server: LiveServer, page_log: PageLog
) -> None:
    ids = seeded(server)
    app.keyboard.press("Control+K")
    palette = app.locator("#search-palette")
    expect(palette).to_be_visible()
    expect(app.locator("#palette-input")).to_be_focused()
    app.keyboard.type("MARMAL")
    hits = palette.locator(".search-hit")
    expect(hits).to_have_count(2)
    expect(hits.first).to_have_attribute("aria-selected", "true")
    expect(hits.first.locator("mark")).to_have_text(["marmalade"])
    app.keyboard.press("ArrowDown")
    expect(hits.nth(1)).to_have_attribute("aria-selected", "true")
    app.keyboard.press("Enter")
    expect(palette).to_be_hidden()
    expect(app).to_have_url(f"{server.url}/#/c/{ids['code']}")
    # The branch that matched is shown, not the newer edit.
    expect(user_messages(app)).to_have_text(["the first draft mentions marmalade"])
    expect(replies(app)).to_have_text(["You said: the first draft mentions marmalade"])
    expect(app.locator(f"[data-id='{ids['old']}'] .version-count")).to_have_text("1/2")
    # Escape closes it; Ctrl+K again reopens it with the last query.
    app.keyboard.press("Control+K")
    expect(palette).to_be_visible()
    expect(app.locator("#palette-input")).to_have_value("MARMAL")
    app.keyboard.press("Escape")
    expect(palette).to_be_hidden()
    assert not page_log.errors
    assert not page_log.failed_responses


def test_filters_narrow_the_results_to_pinned_archived_or_a_persona(
    app: Page, server: LiveServer, page_log: PageLog
) -> None:
    with httpx.Client(base_url=server.url, timeout=30) as client:
        sids = {}
        for name, persona in (("plain", "assistant"), ("pinned", "assistant"),
                              ("archived", "assistant"), ("teacher", "teacher")):  # fmt: skip
            sid = client.post("/api/v1/sessions", json={"title": name, "persona": persona})
            sids[name] = sid.json()["id"]
            say(client, sids[name], f"walrus notes in the {name} one")
        assert client.put(f"/api/v1/sessions/{sids['pinned']}/pin").status_code == 200
        assert client.put(f"/api/v1/sessions/{sids['archived']}/archive").status_code == 200
        eventually(lambda: len(found(client, "walrus")) == 8)
    box = app.locator("#sidebar-search")
    box.fill("walrus")
    hits = app.locator("#sidebar-results .search-hit")
    titles = hits.locator(".search-hit-title")
    expect(hits).to_have_count(8)
    toggle = app.locator("#sidebar-filters .search-filters-toggle")
    expect(toggle).to_have_text("Filters")
    toggle.click()
    state = app.locator("#sidebar-filters [data-filter='state']")
    state.select_option(label="Pinned only")
    expect(titles).to_have_text(["pinned", "pinned"])
    expect(toggle).to_have_text("Filters · 1")
    state.select_option(label="Archived only")
    expect(titles).to_have_text(["archived", "archived"])
    state.select_option(label="Not archived")
    expect(hits).to_have_count(6)
    expect(titles).not_to_contain_text(["archived"])
    state.select_option(label="All")
    app.locator("#sidebar-filters [data-filter='persona']").select_option("teacher")
    expect(titles).to_have_text(["teacher", "teacher"])
    # A date range after today finds nothing; clearing the filters finds everything again.
    app.locator("#sidebar-filters [data-filter='from']").fill("2099-01-01")
    expect(hits).to_have_count(0)
    expect(app.locator("#sidebar-search-status")).to_have_text("Nothing found for “walrus”.")
    app.locator("#sidebar-filters .search-filters-clear").click()
    expect(hits).to_have_count(8)
    expect(toggle).to_have_text("Filters")
    # The palette has filters of its own.
    app.keyboard.press("Control+K")
    palette_toggle = app.locator("#palette-filters .search-filters-toggle")
    expect(palette_toggle).to_be_visible()
    palette_toggle.click()
    app.locator("#palette-filters [data-filter='state']").select_option(label="Pinned only")
    app.locator("#palette-input").fill("walrus")
    expect(app.locator("#palette-results .search-hit-title")).to_have_text(["pinned", "pinned"])
    assert not page_log.errors
    assert not page_log.failed_responses
