"""Chatting in the browser: streaming, sessions, stop, regenerate, edit, resume."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, Route, expect

from tests.browser.chat import (
    chat,
    last_reply,
    reload,
    replies,
    send,
    sessions,
    user_messages,
    wait_idle,
)
from tests.browser.conftest import PageLog
from tests.upstream import Reply, ScriptedUpstream

pytestmark = pytest.mark.browser


def test_a_reply_streams_in_as_it_is_written(app: Page, upstream: ScriptedUpstream) -> None:
    words = [f"word{i} " for i in range(12)]
    upstream.enqueue(Reply(deltas=words, delay=0.15))
    send(app, "Count for me")
    expect(user_messages(app)).to_have_text(["Count for me"])
    expect(app.locator("#stop")).to_be_visible()
    expect(last_reply(app)).to_contain_text("word2")
    # Part of the reply is on screen while the rest is still being written.
    assert "word11" not in last_reply(app).inner_text()
    expect(app.locator(".msg-assistant")).to_have_attribute("aria-busy", "true")
    wait_idle(app)
    expect(last_reply(app)).to_have_text("".join(words).strip())
    expect(app.locator("#input")).to_have_value("")


def test_reload_keeps_the_session_and_its_messages(
    app: Page, upstream: ScriptedUpstream, page_log: PageLog
) -> None:
    chat(app, "Remember the colour teal")
    expect(sessions(app)).to_have_text(["Remember the colour teal"])  # titled by the server
    expect(app.locator("#chat-title")).to_have_text("Remember the colour teal")
    session_url = app.url
    assert re.search(r"#/c/[\w.-]+$", session_url)

    reload(app)
    expect(user_messages(app)).to_have_text(["Remember the colour teal"])
    expect(replies(app)).to_have_text(["You said: Remember the colour teal"])
    expect(app.locator("#session-list .session.active")).to_have_count(1)

    # The id is also remembered without the URL.
    app.goto(session_url.split("#")[0])
    app.wait_for_selector("body[data-ready='true']")
    expect(replies(app)).to_have_text(["You said: Remember the colour teal"])
    assert not page_log.errors
    assert not page_log.failed_responses
    assert not page_log.foreign_requests


def test_new_chat_and_switching_sessions(app: Page) -> None:
    chat(app, "first conversation")
    app.click("#new-chat")
    expect(app.locator("#messages .msg")).to_have_count(0)
    expect(app.locator("#empty-state")).to_be_visible()
    chat(app, "second conversation")
    # Newest activity first.
    expect(sessions(app)).to_have_text(["second conversation", "first conversation"])

    sessions(app).filter(has_text="first conversation").click()
    expect(user_messages(app)).to_have_text(["first conversation"])
    expect(app.locator("#chat-title")).to_have_text("first conversation")
    sessions(app).filter(has_text="second conversation").click()
    expect(replies(app)).to_have_text(["You said: second conversation"])

    # Back goes to the previous conversation.
    app.go_back()
    expect(user_messages(app)).to_have_text(["first conversation"])


def test_rename_and_delete_a_session(app: Page) -> None:
    chat(app, "to be renamed")
    chat_item = app.locator("#session-list .session").first
    chat_item.hover()
    chat_item.get_by_role("button", name=re.compile("^Rename")).click()
    box = app.get_by_role("textbox", name="Conversation title")
    box.fill("Holiday plans")
    box.press("Enter")
    expect(sessions(app)).to_have_text(["Holiday plans"])
    expect(app.locator("#chat-title")).to_have_text("Holiday plans")
    reload(app)
    expect(sessions(app)).to_have_text(["Holiday plans"])

    # Escape cancels a rename.
    chat_item.get_by_role("button", name=re.compile("^Rename")).click()
    box.fill("Not this")
    box.press("Escape")
    expect(sessions(app)).to_have_text(["Holiday plans"])

    # Delete asks first; cancelling keeps it.
    chat_item.get_by_role("button", name=re.compile("^Delete")).click()
    dialog = app.locator("#confirm-dialog")
    expect(dialog).to_be_visible()
    expect(dialog).to_contain_text("Holiday plans")
    dialog.get_by_role("button", name="Cancel").click()
    expect(sessions(app)).to_have_count(1)

    chat_item.get_by_role("button", name=re.compile("^Delete")).click()
    dialog.get_by_role("button", name="Delete").click()
    expect(sessions(app)).to_have_count(0)
    expect(app.locator("#messages .msg")).to_have_count(0)
    reload(app)
    expect(sessions(app)).to_have_count(0)
    expect(app.locator("#empty-state")).to_be_visible()


def test_stop_keeps_the_partial_text(app: Page, upstream: ScriptedUpstream) -> None:
    upstream.enqueue(Reply(deltas=[f"slow{i} " for i in range(200)], delay=0.1))
    send(app, "Tell me a long story")
    expect(last_reply(app)).to_contain_text("slow3")
    app.get_by_role("button", name="Stop generating").click()
    wait_idle(app)
    expect(app.locator(".msg-assistant .msg-partial")).to_have_text("Generation stopped")
    kept = last_reply(app).inner_text()
    assert kept.startswith("slow0 slow1 slow2 slow3")
    assert "slow199" not in kept

    reload(app)
    expect(last_reply(app)).to_have_text(kept)
    expect(app.locator(".msg-assistant .msg-partial")).to_be_visible()


def test_regenerate_sends_the_last_message_again(app: Page, upstream: ScriptedUpstream) -> None:
    upstream.enqueue(Reply(deltas=["First ", "answer"]), Reply(deltas=["Second ", "answer"]))
    chat(app, "What is a monad?")
    expect(last_reply(app)).to_have_text("First answer")
    app.locator(".msg-assistant").last.get_by_role("button", name="Regenerate").click()
    expect(last_reply(app)).to_have_text("Second answer")
    wait_idle(app)
    assert upstream.requests[-1]["messages"][-1] == {"role": "user", "content": "What is a monad?"}


def test_edit_the_last_message_and_resend(app: Page, upstream: ScriptedUpstream) -> None:
    chat(app, "Translate cat to French")
    last_user = app.locator(".msg-user").last
    last_user.hover()
    last_user.get_by_role("button", name="Edit").click()
    editor = app.get_by_role("textbox", name="Edit message")
    expect(editor).to_have_value("Translate cat to French")
    editor.fill("Translate dog to French")
    app.get_by_role("button", name="Save and send").click()
    expect(last_reply(app)).to_have_text("You said: Translate dog to French")
    wait_idle(app)
    assert upstream.requests[-1]["messages"][-1]["content"] == "Translate dog to French"
    # The edit is a new version: the old one is kept.
    expect(app.get_by_role("group", name="Version 2 of 2")).to_be_visible()


def test_copy_a_message(app: Page) -> None:
    app.context.grant_permissions(["clipboard-read", "clipboard-write"])
    chat(app, "copy me")
    app.locator(".msg-assistant").last.get_by_role("button", name="Copy").click()
    expect(app.locator("#toast")).to_have_text("Copied")
    assert app.evaluate("navigator.clipboard.readText()") == "You said: copy me"


def test_clear_history_keeps_the_session(app: Page) -> None:
    chat(app, "something to forget")
    app.get_by_role("button", name="Clear history").click()
    app.locator("#confirm-dialog").get_by_role("button", name="Clear").click()
    expect(app.locator("#messages .msg")).to_have_count(0)
    expect(sessions(app)).to_have_count(1)
    reload(app)
    expect(app.locator("#messages .msg")).to_have_count(0)


def test_persona_choice_is_used_and_remembered(app: Page, upstream: ScriptedUpstream) -> None:
    expect(app.locator("#persona-select option")).to_have_text(
        ["Assistant", "Teacher", "Programmer"]
    )
    app.select_option("#persona-select", "teacher")
    expect(app.locator("#empty-title")).to_contain_text("Teacher")
    chat(app, "Explain fractions")
    assert "teacher" in upstream.requests[-1]["messages"][0]["content"]
    reload(app)
    expect(app.locator("#persona-select")).to_have_value("teacher")
    app.select_option("#persona-select", "programmer")
    chat(app, "And recursion?")
    assert "software engineer" in upstream.requests[-1]["messages"][0]["content"]


def test_reload_during_a_reply_attaches_to_it(app: Page, upstream: ScriptedUpstream) -> None:
    words = [f"part{i} " for i in range(30)]
    upstream.enqueue(Reply(deltas=words, delay=0.1))
    send(app, "A reply I will not miss")
    expect(last_reply(app)).to_contain_text("part2")
    reload(app)
    expect(app.locator("#stop")).to_be_visible()
    wait_idle(app)
    expect(last_reply(app)).to_have_text("".join(words).strip())
    expect(replies(app)).to_have_count(1)


def test_a_broken_stream_resumes_after_the_last_event(
    app: Page, upstream: ScriptedUpstream
) -> None:
    """The POST's body ends early (as when the network drops); the page resumes with
    GET .../reply?after=<last id> and gets the rest, without repeating any text."""
    words = [f"piece{i} " for i in range(8)]
    upstream.enqueue(Reply(deltas=words, delay=0.02))
    resumed: list[str] = []

    def cut_short(route: Route) -> None:
        response = route.fetch()
        frames = response.text().split("\n\n")
        route.fulfill(response=response, body="\n\n".join(frames[:4]) + "\n\n")

    app.route(re.compile(r"/api/v1/sessions/[^/]+/messages$"), cut_short)
    app.on("request", lambda r: resumed.append(r.url) if "/reply?" in r.url else None)
    send(app, "Please survive a cut")
    wait_idle(app)
    expect(last_reply(app)).to_have_text("".join(words).strip())
    assert resumed, "the page never asked to resume"
    assert "after=" in resumed[0]
    assert "reply_id=" in resumed[0]


def test_enter_in_ime_composition_does_not_send(app: Page, upstream: ScriptedUpstream) -> None:
    box = app.locator("#input")
    box.fill("ni hao")
    for init in ({"isComposing": True}, {"keyCode": 229}):
        box.evaluate(
            """(el, init) => el.dispatchEvent(new KeyboardEvent("keydown",
                {key: "Enter", code: "Enter", bubbles: true, cancelable: true, ...init}))""",
            init,
        )
    expect(app.locator("#messages .msg")).to_have_count(0)
    # Shift+Enter adds a line; the box grows with it.
    height = box.bounding_box()["height"]
    for _ in range(3):
        box.press("Shift+Enter")
    expect(box).to_have_value("ni hao\n\n\n")
    assert box.bounding_box()["height"] > height
    box.press("Enter")
    expect(user_messages(app)).to_have_count(1)
    wait_idle(app)
    # Only the real Enter sent: the composing ones, before it, did not.
    assert [r["messages"][-1]["content"] for r in upstream.requests] == ["ni hao\n\n\n"]
