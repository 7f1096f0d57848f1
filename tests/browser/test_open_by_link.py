"""Opening a conversation by its link fetches its messages once."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from playwright.sync_api import Page, Request, expect
from redis.asyncio import Redis

from parlour.domain import Message, new_id, now
from parlour.store import ConversationStore, Keys
from tests.browser.chat import open_app, replies
from tests.live import LiveServer

pytestmark = pytest.mark.browser


def stored_conversation(server: LiveServer, redis_url: str, count: int) -> str:
    """A session of the local user holding `count` messages (written by the store)."""
    session_id = str(httpx.post(f"{server.url}/api/v1/sessions", json={}).json()["id"])

    async def fill() -> None:
        async with Redis.from_url(redis_url, decode_responses=True) as redis:
            store = ConversationStore(redis, Keys(server.settings.redis_key_prefix))
            session = await store.get_session("local", session_id)
            parent = None
            for i in range(count):
                role = "user" if i % 2 == 0 else "assistant"
                message = Message(new_id(), role, f"message {i}", now(), session.persona,
                                  parent=parent)  # fmt: skip
                await store.append_message(session, message)
                parent = message.id

    with ThreadPoolExecutor(1) as pool:  # Playwright's loop runs in this thread
        pool.submit(asyncio.run, fill()).result()
    return session_id


@pytest.mark.parametrize("count", [4, 150])
def test_opening_a_link_downloads_the_messages_once(
    page: Page, server: LiveServer, redis_url: str, count: int
) -> None:
    session_id = stored_conversation(server, redis_url, count)
    fetched: list[str] = []

    def on_request(request: Request) -> None:
        if request.method == "GET" and f"/sessions/{session_id}/messages" in request.url:
            fetched.append(request.url)

    page.on("request", on_request)
    open_app(page, server.url, f"/#/c/{session_id}")
    expect(replies(page).last).to_have_text(f"message {count - 1}")
    shown = min(count, 100)
    expect(page.locator("#messages li.msg")).to_have_count(shown)
    # The first loaded message, shown once scrolled to (far ones are built as they come near).
    page.locator("#scroller").evaluate("s => { s.scrollTop = 0; }")
    expect(page.locator("#messages li.msg").first).to_contain_text(f"message {count - shown}")
    assert len(fetched) == 1, fetched
    expect(page.locator("#load-earlier")).to_be_visible(visible=count > 100)
