"""Replies that replace others (regenerate, edit and resend), and replies followed from
a reloaded page or a second tab: what is shown always matches what is stored."""

from __future__ import annotations

import re
import time

import pytest
from playwright.sync_api import BrowserContext, Page, expect

from tests.browser.chat import (
    chat,
    last_reply,
    open_app,
    reload,
    replies,
    send,
    user_messages,
    wait_idle,
)
from tests.browser.conftest import PageLog, watch
from tests.live import LiveServer
from tests.upstream import Reply, ScriptedUpstream

pytestmark = pytest.mark.browser


def session_id(page: Page) -> str:
    match = re.search(r"#/c/([\w.-]+)$", page.url)
    assert match, page.url
    return match.group(1)


def stored(page: Page, url: str) -> list[tuple[str, str]]:
    """(role, content) of every stored message of the open session, asked of the API."""
    response = page.request.get(f"{url}/api/v1/sessions/{session_id(page)}/messages")
    assert response.ok, response.text()
    return [(m["role"], m["content"].strip()) for m in response.json()["items"]]


def shown(page: Page) -> list[tuple[str, str]]:
    return [
        ("user" if "msg-user" in cls else "assistant", text.strip())
        for cls, text in page.locator("#messages .msg").evaluate_all(
            "els => els.map(el => [el.className, el.querySelector('.content').innerText])"
        )
    ]


def test_regenerate_replaces_the_last_reply(
    app: Page, server: LiveServer, upstream: ScriptedUpstream, page_log: PageLog
) -> None:
    upstream.enqueue(
        Reply(["First ", "answer"]), Reply([f"new{i} " for i in range(10)], delay=0.05)
    )
    chat(app, "What is a monad?")
    expect(last_reply(app)).to_have_text("First answer")
    app.locator(".msg-assistant").last.get_by_role("button", name="Regenerate").click()
    # The old reply goes at once; the new one streams in its place.
    expect(app.locator("#messages")).not_to_contain_text("First answer")
    expect(replies(app)).to_have_count(1)
    wait_idle(app)
    expected = [("user", "What is a monad?"), ("assistant", "new0 new1 new2 new3 new4 new5 "
                "new6 new7 new8 new9")]  # fmt: skip
    assert shown(app) == expected
    assert stored(app, server.url) == expected
    # The model saw the question once, without the reply it replaced.
    assert [m["role"] for m in upstream.requests[-1]["messages"]] == ["system", "user"]
    reload(app)
    assert shown(app) == expected
    # And again: still one exchange.
    chat_again = app.locator(".msg-assistant").last.get_by_role("button", name="Regenerate")
    chat_again.click()
    expect(last_reply(app)).to_have_text("You said: What is a monad?")
    wait_idle(app)
    assert (
        stored(app, server.url)
        == shown(app)
        == [
            ("user", "What is a monad?"),
            ("assistant", "You said: What is a monad?"),
        ]
    )
    assert not page_log.failed_responses
    assert not page_log.errors


def test_edit_and_resend_replaces_the_last_exchange(
    app: Page, server: LiveServer, upstream: ScriptedUpstream, page_log: PageLog
) -> None:
    chat(app, "Translate bird to French")
    chat(app, "Translate cat to French")
    last_user = app.locator(".msg-user").last
    last_user.hover()
    last_user.get_by_role("button", name="Edit").click()
    editor = app.get_by_role("textbox", name="Edit message")
    expect(editor).to_have_value("Translate cat to French")
    editor.fill("Translate dog to French")
    editor.press("Enter")
    expect(last_reply(app)).to_have_text("You said: Translate dog to French")
    wait_idle(app)
    expected = [
        ("user", "Translate bird to French"),
        ("assistant", "You said: Translate bird to French"),
        ("user", "Translate dog to French"),
        ("assistant", "You said: Translate dog to French"),
    ]
    assert shown(app) == expected
    assert stored(app, server.url) == expected
    # The model saw the edited question, not the one it replaced.
    contents = [m["content"] for m in upstream.requests[-1]["messages"][1:]]
    assert contents == [c for _, c in expected[:-1]]
    reload(app)
    assert shown(app) == expected
    # Edit right after a reload (ids from the stored messages), then Escape cancels one.
    last_user.hover()
    last_user.get_by_role("button", name="Edit").click()
    editor.fill("Translate fish to French")
    app.get_by_role("button", name="Save and send").click()
    expect(last_reply(app)).to_have_text("You said: Translate fish to French")
    wait_idle(app)
    assert len(stored(app, server.url)) == 4
    last_user.hover()
    last_user.get_by_role("button", name="Edit").click()
    editor.fill("never sent")
    editor.press("Escape")
    expect(user_messages(app)).to_have_text(
        ["Translate bird to French", "Translate fish to French"]
    )
    assert len(upstream.requests) == 4
    assert not page_log.failed_responses
    assert not page_log.errors


def test_a_reply_stopped_before_any_text_shows_a_note_and_can_be_regenerated(
    app: Page, server: LiveServer, upstream: ScriptedUpstream
) -> None:
    upstream.enqueue(Reply(["too late"], first_delay=5))
    send(app, "Think hard")
    expect(app.locator("#stop")).to_be_visible()
    app.locator("#stop").click()
    wait_idle(app)
    note = app.locator(".msg-assistant .msg-partial")
    expect(note).to_have_text("Generation stopped")
    expect(app.locator(".msg-assistant .bubble")).to_be_hidden()
    reload(app)
    expect(note).to_have_text("Generation stopped")
    assert stored(app, server.url) == [("user", "Think hard"), ("assistant", "")]
    app.locator(".msg-assistant").last.get_by_role("button", name="Regenerate").click()
    expect(last_reply(app)).to_have_text("You said: Think hard")
    wait_idle(app)
    expect(note).to_have_count(0)
    assert stored(app, server.url) == [
        ("user", "Think hard"),
        ("assistant", "You said: Think hard"),
    ]


def watch_prefixes(page: Page, full: str, seconds: float) -> list[str]:
    """Sample the reply's text while it streams; every sample must start the full text."""
    seen: list[str] = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and page.locator(".msg.streaming").count():
        text = " ".join(last_reply(page).inner_text().split())
        assert full.startswith(text), f"{text!r} is not a start of the reply"
        seen.append(text)
        page.wait_for_timeout(150)
    return seen


WORDS = [f"part{i} " for i in range(40)]
FULL = "".join(WORDS).strip()


def test_reload_mid_reply_continues_without_loss_or_repeats(
    app: Page, server: LiveServer, upstream: ScriptedUpstream, page_log: PageLog
) -> None:
    upstream.enqueue(Reply(WORDS, delay=0.1))
    followed: list[str] = []
    follow = re.compile(r"/api/v1/sessions/[^/]+/reply(\?|$)")
    app.on("request", lambda r: followed.append(r.url) if follow.search(r.url) else None)
    send(app, "A reply I will not miss")
    expect(last_reply(app)).to_contain_text("part5")
    reload(app)
    expect(app.locator("#stop")).to_be_visible()
    seen = watch_prefixes(app, FULL, 10)
    assert len(set(seen)) > 2  # it was seen growing
    wait_idle(app)
    expect(last_reply(app)).to_have_text(FULL)
    assert shown(app) == [("user", "A reply I will not miss"), ("assistant", FULL)]
    assert stored(app, server.url) == shown(app)
    # The page attached by the reply's id (named by GET session), without probing.
    assert followed
    assert all("reply_id=" in url for url in followed)
    assert not page_log.failed_responses
    assert not page_log.errors

    # Once it has ended, a reload attaches to nothing.
    followed.clear()
    reload(app)
    assert shown(app) == [("user", "A reply I will not miss"), ("assistant", FULL)]
    assert followed == []


def test_a_second_tab_follows_the_same_reply_live(
    app: Page, context: BrowserContext, server: LiveServer, upstream: ScriptedUpstream
) -> None:
    upstream.enqueue(Reply(WORDS, delay=0.1))
    send(app, "Two tabs, one reply")
    expect(last_reply(app)).to_contain_text("part5")
    log = PageLog()
    second = watch(context.new_page(), log)
    open_app(second, app.url)
    expect(user_messages(second)).to_have_text(["Two tabs, one reply"])
    expect(second.locator("#stop")).to_be_visible()
    seen = watch_prefixes(second, FULL, 10)
    assert len(set(seen)) > 2  # live: seen growing
    for tab in (app, second):
        wait_idle(tab)
        expect(last_reply(tab)).to_have_text(FULL)
        assert shown(tab) == [("user", "Two tabs, one reply"), ("assistant", FULL)]
    assert stored(second, server.url) == shown(second)
    assert not log.failed_responses
    assert not log.errors
