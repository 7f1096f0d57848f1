"""The Memory page, a reply's "Remember that ...?", and the summary marker."""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.sync_api import Page, Route, expect

from tests.browser.chat import chat, open_app
from tests.conftest import ServerFactory
from tests.test_summaries import SMALL, SUMMARY_HEADER, note_taker
from tests.upstream import Reply, Script, ScriptedUpstream, Status

pytestmark = pytest.mark.browser


def test_facts_are_added_edited_deleted_within_the_budget_and_used(
    app: Page, upstream: ScriptedUpstream
) -> None:
    app.get_by_role("button", name="Memory").click()
    dialog = app.locator("#memory-dialog")
    expect(dialog).to_contain_text("Nothing remembered yet.")
    app.get_by_label("Use memory in my conversations").check()
    expect(app.locator("#toast")).to_have_text("Memory is on")
    app.get_by_label("A new fact").fill("My name is 小明")
    app.get_by_role("button", name="Add").click()
    app.get_by_label("A new fact").fill("I prefer Python")
    app.get_by_label("A new fact").press("Enter")
    expect(app.get_by_label("Fact 2")).to_have_value("I prefer Python")
    expect(app.locator("#memory-budget")).to_have_text("28 of 2000 characters · 2 of 30 facts")
    app.get_by_label("Fact 1").fill("My name is 大明")
    app.get_by_label("Fact 1").press("Enter")
    expect(app.locator("#toast")).to_have_text("Saved")
    app.get_by_role("button", name="Delete: I prefer Python").click()
    expect(app.locator("#memory-list .memory-item")).to_have_count(1)
    app.locator("#memory-close").click()

    chat(app, "Hello")
    system = upstream.requests[-1]["messages"][0]["content"]
    assert "- My name is 大明" in system
    assert "Python" not in system


def test_a_fact_typed_while_the_last_one_is_saved_is_kept(app: Page) -> None:
    held: list[Route] = []

    def hold(route: Route) -> None:
        held.append(route)

    app.route("**/api/v1/memory/facts", hold)
    app.get_by_role("button", name="Memory").click()
    box = app.get_by_label("A new fact")
    box.fill("My name is 小明")
    box.press("Enter")
    for _ in range(200):  # the route handler runs as Playwright dispatches events
        if held:
            break
        app.wait_for_timeout(25)
    assert held, "the first fact was never sent"
    box.fill("I prefer Python")  # typed before the first fact's answer came back
    held[0].continue_()
    expect(app.get_by_label("Fact 1")).to_have_value("My name is 小明")
    expect(box).to_have_value("I prefer Python")
    app.unroute("**/api/v1/memory/facts")
    box.press("Enter")
    expect(app.get_by_label("Fact 2")).to_have_value("I prefer Python")
    expect(box).to_have_value("")


def test_a_proposed_fact_is_kept_only_on_a_click(app: Page, upstream: ScriptedUpstream) -> None:
    upstream.enqueue(Reply(deltas=["Nice to meet you, Lin!\n\n", "[[remember: The user is Lin]]"]))
    chat(app, "I am Lin")
    offer = app.locator(".remember")
    expect(offer).to_contain_text("Remember that “The user is Lin”?")
    facts = app.request.get(app.url.split("#")[0] + "api/v1/memory").json()["facts"]
    assert facts == []  # nothing is remembered silently
    offer.get_by_role("button", name="Remember").click()
    expect(offer).to_contain_text("Remembered: “The user is Lin”")
    facts = app.request.get(app.url.split("#")[0] + "api/v1/memory").json()["facts"]
    assert [f["text"] for f in facts] == ["The user is Lin"]


def test_the_summary_marker_shows_where_the_model_view_begins_and_edits_it(
    page: Page, make_server: ServerFactory, upstream: ScriptedUpstream
) -> None:
    server = make_server(**SMALL)
    upstream.responder = note_taker
    app = open_app(page, server.url)
    chat(app, "My name is Zed.")
    for i in range(2, 13):
        chat(app, f"Turn {i}: filler words for the window.")
    note = app.locator("#context-note")
    expect(note).to_contain_text("Earlier messages are summarized", timeout=20_000)
    # It sits before the first message the model still sees in full.
    assert note.evaluate("n => n.nextElementSibling.classList.contains('msg-user')")
    note.get_by_role("button", name="view / edit").click()
    box = app.locator("#summary-text")
    expect(box).to_have_value(re.compile("Zed"))
    box.fill("The user is called Zed Zero.")
    app.locator("#summary-save").click()
    expect(app.locator("#toast")).to_have_text("Summary saved")
    chat(app, "Who am I?")
    replies = [b for b in upstream.requests if note_taker(b) is None]
    assert replies[-1]["messages"][1]["content"] == SUMMARY_HEADER + "The user is called Zed Zero."

    # Off: the marker says messages are left out, at the cut.
    note.get_by_role("button", name="view / edit").click()
    app.get_by_label("Summarize older messages in this conversation").uncheck()
    expect(app.locator("#toast")).to_contain_text("Summaries are off")
    app.locator("#summary-close").click()
    expect(note).to_contain_text("Summaries are off:")


def test_a_failed_summary_is_shown_and_the_chat_goes_on(
    page: Page, make_server: ServerFactory, upstream: ScriptedUpstream
) -> None:
    server = make_server(**SMALL)

    def broken(body: dict[str, Any]) -> Script | None:
        return Status(400) if note_taker(body) is not None else None

    upstream.responder = broken
    app = open_app(page, server.url)
    for i in range(1, 13):
        chat(app, f"Turn {i}: filler words for the window.")
    expect(app.locator("#context-note")).to_contain_text("Summarizing failed", timeout=20_000)
