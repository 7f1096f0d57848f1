"""A conversation's model-made title reaches the page by itself: the sidebar and the
header show the first words, then the title, in every open tab, with no reload."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import expect

from parlour.titles import TITLE_PROMPT
from tests.browser.chat import open_app, send, sessions, wait_idle
from tests.browser.conftest import ContextFactory
from tests.conftest import ServerFactory
from tests.upstream import Reply, Script, ScriptedUpstream

pytestmark = pytest.mark.browser


def test_the_title_arrives_in_every_tab_after_the_reply(
    make_server: ServerFactory, make_context: ContextFactory, upstream: ScriptedUpstream
) -> None:
    def respond(body: dict[str, Any]) -> Script | None:
        if body["messages"][0]["content"] == TITLE_PROMPT:
            return Reply(deltas=["**Lisbon", " week plan**"], first_delay=1.5)
        return Reply(deltas=["Day one: ", "Alfama."], delay=0.05)

    upstream.responder = respond
    server = make_server(titles=True)
    context = make_context()
    page, other = context.new_page(), context.new_page()
    open_app(page, server.url)
    open_app(other, server.url)
    send(page, "Plan my week in **Lisbon**")
    wait_idle(page)
    # The first words until the model's title lands; then the title, cleaned, everywhere.
    expect(sessions(page).first).to_contain_text("Plan my week in")
    expect(sessions(page).first).to_contain_text("Lisbon week plan", timeout=10_000)
    expect(page.locator("#chat-title")).to_have_text("Lisbon week plan")
    expect(sessions(other).first).to_contain_text("Lisbon week plan")
    expect(sessions(page).first).not_to_contain_text("*")
