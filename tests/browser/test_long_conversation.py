"""A conversation of hundreds of messages: only those near the view are built, the
reader's place holds while the others are built and loaded, and a search still jumps
to an old one."""

from __future__ import annotations

import asyncio
import re
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from playwright.sync_api import Page, expect
from redis.asyncio import Redis

from parlour.domain import Message, new_id, now
from parlour.store import ConversationStore, Keys
from tests.browser.chat import open_app
from tests.browser.conftest import PageLog
from tests.live import LiveServer
from tests.test_branches import branch, new_session, say
from tests.test_search import eventually, found

pytestmark = pytest.mark.browser

BUILT = "#messages li.msg .bubble"  # a built message has its bubble; a light one has none


def text_of(i: int) -> str:
    """Messages of varied heights: short questions, replies with lists, some with code."""
    if i % 2 == 0:
        return f"Question {i}: " + "how do I sort these totals? " * (1 + i % 7)
    text = f"Answer {i}: use **sorted**.\n\n- group by region\n- sum the totals\n"
    if i % 6 == 1:
        text += "\n```python\nrows = sorted(rows, key=lambda r: r.total)\nprint(rows)\n```\n"
    return text


def fill(
    server: LiveServer,
    redis_url: str,
    session_id: str,
    count: int,
    parent: str | None,
    special: dict[int, dict[str, object]] | None = None,
) -> list[str]:
    """Append `count` messages to the session's branch (written by the store); their ids.
    ``special``: fields of some of them (by index), e.g. a reply's thinking."""
    ids: list[str] = []

    async def go() -> None:
        nonlocal parent
        async with Redis.from_url(redis_url, decode_responses=True) as redis:
            store = ConversationStore(redis, Keys(server.settings.redis_key_prefix))
            session = await store.get_session("local", session_id)
            for i in range(count):
                role = "user" if i % 2 == 0 else "assistant"
                extra: dict[str, object] = (special or {}).get(i, {})
                message = Message(new_id(), role, text_of(i), now(), session.persona,
                                  parent=parent, **extra)  # type: ignore[arg-type]  # fmt: skip
                await store.append_message(session, message)
                parent = message.id
                ids.append(message.id)

    with ThreadPoolExecutor(1) as pool:  # Playwright's loop runs in this thread
        pool.submit(asyncio.run, go()).result()
    return ids


def load_all(page: Page) -> None:
    """Click "Load earlier" until all are loaded; each time, the message at the top of the
    view stays where it was."""
    earlier = page.locator("#load-earlier")
    while earlier.is_visible():
        page.evaluate(TO_TOP)
        mark = first_in_view(page)
        at = top_of(page, mark)
        count = page.locator("#messages li.msg").count()
        earlier.click()
        page.wait_for_function(
            f"() => document.querySelectorAll('#messages li.msg').length > {count}"
        )
        page.evaluate(FRAMES)
        assert abs(top_of(page, mark) - at) <= 2


def top_of(page: Page, message_id: str) -> float:
    """Where the message's item begins, relative to the top of the scroller's viewport."""
    return float(page.evaluate(
        """(id) => document.querySelector(`[data-id="${id}"]`).getBoundingClientRect().top
                   - document.getElementById("scroller").getBoundingClientRect().top""",
        message_id,
    ))  # fmt: skip


def first_in_view(page: Page) -> str:
    return str(page.evaluate("""() => {
      const box = document.getElementById("scroller").getBoundingClientRect();
      const li = [...document.querySelectorAll("#messages li.msg")]
        .find((li) => li.getBoundingClientRect().top >= box.top);
      return li.dataset.id;
    }"""))  # fmt: skip


FRAMES = """async () => {
  for (let i = 0; i < 3; i++) await new Promise((r) => requestAnimationFrame(r));
}"""
TO_TOP = """async () => {
  document.getElementById("scroller").scrollTop = 0;
  for (let i = 0; i < 3; i++) await new Promise((r) => requestAnimationFrame(r));
}"""
TO_BOTTOM = """async () => {
  const s = document.getElementById("scroller");
  s.scrollTop = s.scrollHeight;
  for (let i = 0; i < 3; i++) await new Promise((r) => requestAnimationFrame(r));
}"""
SCROLL_UP = """async ([px, steps]) => {
  const s = document.getElementById("scroller");
  const frame = () => new Promise((r) => requestAnimationFrame(r));
  for (let i = 0; i < steps; i++) {
    s.scrollTop -= px;
    await frame();
  }
  await frame();
}"""


def test_only_messages_near_the_view_are_built_and_the_place_holds(
    page: Page, server: LiveServer, redis_url: str, page_log: PageLog
) -> None:
    session_id = str(httpx.post(f"{server.url}/api/v1/sessions", json={}).json()["id"])
    ids = fill(server, redis_url, session_id, 400, None)
    open_app(page, server.url, f"/#/c/{session_id}")
    expect(page.locator(f"[data-id='{ids[-1]}'] .content")).to_contain_text("Answer 399")
    load_all(page)
    expect(page.locator("#messages li.msg")).to_have_count(400)
    assert page.locator(BUILT).count() <= 60
    page.evaluate(TO_BOTTOM)
    expect(page.locator(f"[data-id='{ids[-2]}'] .content")).to_contain_text("Question 398")
    # Scrolling up a screen at a time: what the reader looks at moves by the scroll alone,
    # though the messages coming into view above it are being built.
    for _ in range(6):
        mark = first_in_view(page)
        at = top_of(page, mark)
        page.evaluate(SCROLL_UP, [100, 5])
        assert abs(top_of(page, mark) - (at + 500)) <= 3
        assert page.locator(BUILT).count() <= 60
    # At the top, the first message is built and shown; the last few stay built.
    page.evaluate(TO_TOP)
    first = page.locator(f"[data-id='{ids[0]}']")
    expect(first.locator(".content")).to_have_text(text_of(0).strip())
    expect(first).to_be_in_viewport()
    expect(page.locator(f"[data-id='{ids[-1]}'] .content")).to_contain_text("Answer 399")
    assert page.locator(BUILT).count() <= 60
    # A selection keeps its message built while the reader scrolls away and back.
    picked = page.locator(f"[data-id='{ids[2]}'] .content")
    picked.evaluate("""(el) => {
      const range = document.createRange();
      range.selectNodeContents(el);
      getSelection().removeAllRanges();
      getSelection().addRange(range);
    }""")  # fmt: skip
    page.evaluate(TO_BOTTOM)
    assert page.locator(BUILT).count() <= 60
    assert page.evaluate("() => getSelection().toString()") == text_of(2)
    page.evaluate(TO_TOP)
    expect(picked).to_have_text(text_of(2).strip())
    # Every message keeps its heading and its place.
    expect(page.locator("#messages li.msg h2")).to_have_count(400)
    order = "() => [...document.querySelectorAll('#messages li.msg')].map((li) => li.dataset.id)"
    assert page.evaluate(order) == ids
    assert not page_log.errors


def test_a_search_jumps_to_an_old_message_of_a_long_conversation(
    page: Page, server: LiveServer, redis_url: str, page_log: PageLog
) -> None:
    with httpx.Client(base_url=server.url, timeout=30) as client:
        session_id = new_session(client)
        fill(server, redis_url, session_id, 150, None)
        say(client, session_id, "the marmalade recipe from grandmother")
        eventually(lambda: found(client, "marmalade"))
        shown = branch(client, session_id)
    target = next(m["id"] for m in shown if m["content"] == "the marmalade recipe from grandmother")
    fill(server, redis_url, session_id, 300, str(shown[-1]["id"]))
    open_app(page, server.url)
    page.locator("#sidebar-search").fill("marmalade")
    page.locator(f"#sidebar-results .search-hit[data-message='{target}']").click()
    message = page.locator(f"[data-id='{target}']")
    expect(message.locator(".content")).to_have_text("the marmalade recipe from grandmother")
    expect(message).to_have_class(re.compile(r"\bsearch-found\b"))  # highlighted
    expect(message).to_be_in_viewport()
    middle = page.evaluate("""(id) => {
      const box = document.getElementById("scroller").getBoundingClientRect();
      const li = document.querySelector(`[data-id="${id}"]`).getBoundingClientRect();
      return [(li.top + li.bottom) / 2 - box.top, box.height];
    }""", target)  # fmt: skip
    assert abs(middle[0] - middle[1] / 2) <= 30  # centred, though the pages above it were guesses
    assert page.locator("#messages li.msg").count() >= 302  # pages were loaded to reach it
    assert page.locator(BUILT).count() <= 60
    assert not page_log.errors


def test_a_message_built_again_is_as_the_reader_left_it(
    page: Page, server: LiveServer, redis_url: str, page_log: PageLog
) -> None:
    session_id = str(httpx.post(f"{server.url}/api/v1/sessions", json={}).json()["id"])
    thought = {"reasoning": "Weighing the totals first.", "reasoning_seconds": 3.0,
               "status": "partial"}  # fmt: skip
    ids = fill(server, redis_url, session_id, 300, None, special={1: thought})
    open_app(page, server.url, f"/#/c/{session_id}")
    load_all(page)
    page.evaluate(TO_TOP)
    reply = page.locator(f"[data-id='{ids[1]}']")
    reply.locator("details.thinking summary").click()  # the reader opens its thinking
    expect(reply.locator(".thinking-text")).to_have_text("Weighing the totals first.")
    expect(reply.locator(".msg-note")).to_contain_text("Generation stopped")
    page.evaluate("() => document.activeElement.blur()")  # (the focus keeps it built)
    page.evaluate(TO_BOTTOM)
    expect(reply.locator(".bubble")).to_have_count(0)  # far away: light
    page.evaluate(TO_TOP)
    # Built again: its thinking still open, how it ended still said, its buttons back.
    expect(reply.locator("details.thinking")).to_have_attribute("open", "")
    expect(reply.locator(".thinking-text")).to_have_text("Weighing the totals first.")
    expect(reply.locator(".msg-note")).to_contain_text("Generation stopped")
    expect(reply.locator("button[data-action='copy']")).to_have_count(1)
    expect(reply.locator(".content")).to_contain_text("Answer 1: use sorted.")
    assert not page_log.errors
