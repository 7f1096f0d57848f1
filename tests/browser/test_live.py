"""Every open page stays current: what one tab (or the API) changes, the others show."""

from __future__ import annotations

import httpx
from playwright.sync_api import Page, expect

from tests.browser.chat import chat, open_app, replies, sessions, user_messages
from tests.browser.conftest import PageLog, watch
from tests.live import LiveServer
from tests.upstream import Reply, ScriptedUpstream


def test_a_second_tab_shows_what_the_first_one_sends(
    app: Page, server: LiveServer, upstream: ScriptedUpstream, page_log: PageLog
) -> None:
    chat(app, "Hello from the first tab")
    other = open_app(watch(app.context.new_page(), page_log), server.url)
    expect(user_messages(other)).to_have_text(["Hello from the first tab"])
    upstream.enqueue(Reply([f"part {i} " for i in range(20)], delay=0.05))
    chat(app, "And a second question")
    expect(user_messages(other)).to_have_text(["Hello from the first tab", "And a second question"])
    expect(replies(other)).to_have_count(2)
    expect(replies(other).last).to_contain_text("part 19")  # followed to its end
    assert not page_log.errors


def test_conversations_made_renamed_or_deleted_elsewhere_show_in_the_list(
    app: Page, server: LiveServer, page_log: PageLog
) -> None:
    chat(app, "The one on screen")
    expect(sessions(app)).to_have_count(1)
    with httpx.Client(base_url=server.url, timeout=30) as api:
        made = api.post("/api/v1/sessions", json={}).json()["id"]
        api.patch(f"/api/v1/sessions/{made}", json={"title": "Made through the API"})
        expect(sessions(app)).to_have_count(2)
        expect(app.locator("#session-list")).to_contain_text("Made through the API")
        open_id = api.get("/api/v1/sessions").json()["items"][-1]["id"]
        api.delete(f"/api/v1/sessions/{open_id}")
    expect(sessions(app)).to_have_count(1)
    expect(user_messages(app)).to_have_count(0)  # the deleted one is no longer shown
    expect(app.locator("#toast")).to_have_text("This conversation was deleted elsewhere.")
    assert not page_log.errors
