"""The rough edges a new user hits in the first minutes, each one fixed."""

from __future__ import annotations

import httpx
import pytest
from playwright.sync_api import BrowserContext, Page, expect

from tests.browser.chat import chat, last_reply, open_app, send, sessions, wait_idle
from tests.browser.conftest import PHONE, ContextFactory, PageLog
from tests.conftest import ServerFactory
from tests.live import LiveServer, seq, sse
from tests.upstream import Reply, ScriptedUpstream

pytestmark = pytest.mark.browser

SLOW = [f"word{i} " for i in range(80)]


def phone_page(make_context: ContextFactory, locale: str = "en-US") -> Page:
    return make_context(viewport=PHONE, is_mobile=True, has_touch=True, locale=locale).new_page()


# --- the phone header ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("locale", "title"),
    [
        ("en-US", "Planning a weekend trip to the mountains"),
        ("zh-CN", "周末去山里旅行的计划安排与准备清单"),
    ],
)
def test_the_phone_header_shows_a_readable_title(
    make_context: ContextFactory, server: LiveServer, locale: str, title: str
) -> None:
    page = open_app(phone_page(make_context, locale), server.url)
    chat(page, title)
    heading = page.locator("#chat-title")
    expect(heading).to_have_text(title)
    # At least the first 12 characters fit in the space the title has.
    fits = heading.evaluate(
        """el => {
          const range = document.createRange();
          const text = el.firstChild;
          range.setStart(text, 0);
          range.setEnd(text, 12);
          return range.getBoundingClientRect().right <= el.getBoundingClientRect().right;
        }"""
    )
    assert fits


def test_phone_pickers_fold_into_one_control(
    make_context: ContextFactory, server: LiveServer
) -> None:
    page = open_app(phone_page(make_context), server.url)
    expect(page.locator("#persona-select")).to_be_hidden()
    toggle = page.get_by_role("button", name="Persona and model")
    toggle.click()
    expect(toggle).to_have_attribute("aria-expanded", "true")
    expect(page.locator("#persona-select")).to_be_visible()
    page.locator("#persona-select").select_option("teacher")
    expect(page.locator("#persona-select")).to_be_hidden()
    expect(page.locator("#empty-title")).to_contain_text("Teacher")


def test_desktop_shows_the_pickers_in_the_header(app: Page) -> None:
    expect(app.locator("#persona-select")).to_be_visible()
    expect(app.locator("#pickers-toggle")).to_be_hidden()


def test_touch_targets_are_at_least_40px_on_phones(
    make_context: ContextFactory, server: LiveServer, upstream: ScriptedUpstream
) -> None:
    page = open_app(phone_page(make_context), server.url)
    upstream.enqueue(Reply(["Here:\n\n```python\nprint(1)\n```\n"]))
    chat(page, "code please")
    page.get_by_role("button", name="Open sidebar").click()
    expect(page.locator("#sidebar")).to_be_visible()
    expect(page.locator("#sidebar")).to_have_css("transform", "none")  # slid in
    small = page.evaluate(
        """targets => [...document.querySelectorAll(targets)]
          .filter(el => el.offsetParent !== null && !el.closest('.md p, .md li, .skip-link'))
          .map(el => [el.id || el.className || el.tagName, el.getBoundingClientRect()])
          .filter(([, r]) => r.width > 0 && (r.width < 40 || r.height < 40))
          .map(([name, r]) => `${name} ${Math.round(r.width)}x${Math.round(r.height)}`)""",
        "button, select, a[href], textarea, input:not([type=checkbox])",
    )
    assert small == []


# --- offline, interrupted, continue --------------------------------------------------


def test_offline_notice_clears_by_itself(app: Page, context: BrowserContext) -> None:
    chat(app, "online first")
    context.set_offline(True)
    send(app, "sent while offline")
    banner = app.locator("#banner")
    expect(banner).to_contain_text("offline")
    context.set_offline(False)
    expect(banner).to_be_hidden()  # nothing clicked, nothing sent
    expect(app.locator("#input")).to_have_value("sent while offline")


def test_a_reply_cut_by_a_restart_is_interrupted_and_can_continue(
    make_server: ServerFactory,
    upstream: ScriptedUpstream,
    page: Page,
    page_log: PageLog,
) -> None:
    first = make_server(shutdown_grace_seconds=0)
    upstream.enqueue(Reply(SLOW, delay=0.1))
    with httpx.Client(base_url=first.url, timeout=30) as client:
        sid = client.post("/api/v1/sessions", json={}).json()["id"]
        url = f"/api/v1/sessions/{sid}/messages"
        with sse(client, "POST", url, json={"content": "tell me"}) as (_response, events):
            for event in events:
                if event.event == "delta" and seq(event) == 4:
                    break
    first.stop()
    second = make_server()
    open_app(page, second.url, f"/#/c/{sid}")
    reply = page.locator(".msg-assistant").last
    expect(reply.locator(".msg-note")).to_contain_text("Interrupted")
    expect(reply.locator(".msg-note")).not_to_contain_text("Generation stopped")
    upstream.enqueue(Reply(["and ", "the ", "rest."]))
    reply.get_by_role("button", name="Continue").click()
    wait_idle(page)
    expect(last_reply(page)).to_have_text("and the rest.")
    asked = upstream.requests[-1]["messages"]
    assert asked[-1] == {"role": "user", "content": "Continue"}
    assert asked[-2]["role"] == "assistant"
    assert asked[-2]["content"].startswith("word0 word1")
    assert not page_log.errors


def test_esc_stops_a_reply(app: Page, upstream: ScriptedUpstream) -> None:
    upstream.enqueue(Reply(SLOW, delay=0.1))
    send(app, "a long one")
    expect(last_reply(app)).to_contain_text("word2")
    app.keyboard.press("Escape")
    wait_idle(app)
    expect(app.locator(".msg-assistant .msg-note")).to_contain_text("stopped")
    assert "word79" not in last_reply(app).inner_text()


# --- keyboard shortcuts -------------------------------------------------------------


def test_shortcuts_and_their_help(app: Page) -> None:
    chat(app, "first")
    app.locator("#chat-title").click()  # focus leaves the message box
    app.keyboard.press("?")
    dialog = app.get_by_role("dialog", name="Keyboard shortcuts")
    expect(dialog).to_be_visible()
    for what in ("New chat", "Focus the message box", "Stop generating"):
        expect(dialog).to_contain_text(what)
    app.keyboard.press("Escape")
    expect(dialog).to_be_hidden()
    app.keyboard.press("Shift+Escape")
    expect(app.locator("#input")).to_be_focused()
    app.keyboard.type("?")  # typed into the box, not a shortcut there
    expect(app.locator("#input")).to_have_value("?")
    expect(dialog).to_be_hidden()
    app.keyboard.press("Control+Shift+O")
    expect(app.locator("#chat-title")).to_have_text("New chat")
    expect(app.locator(".msg")).to_have_count(0)


# --- markdown: tables and task lists ---------------------------------------------------


def test_tables_do_not_break_words_and_tasks_have_no_bullet(
    make_context: ContextFactory, server: LiveServer, upstream: ScriptedUpstream
) -> None:
    page = open_app(phone_page(make_context), server.url)
    header = "| " + " | ".join(f"Heading{i}" for i in range(6)) + " |\n"
    header += "|" + "---|" * 6 + "\n"
    row = "| " + " | ".join("internationalization" for _ in range(6)) + " |\n"
    upstream.enqueue(Reply([header + row + "\n- [x] done task\n- [ ] open task\n"]))
    chat(page, "table")
    broken = last_reply(page).evaluate(
        """el => [...el.querySelectorAll('th, td')].filter(cell => {
          const range = document.createRange();
          range.selectNodeContents(cell);
          return range.getClientRects().length > 1;
        }).map(cell => cell.textContent)"""
    )
    assert broken == []
    tasks = last_reply(page).locator("li:has(input[type=checkbox])")
    expect(tasks).to_have_count(2)
    for i in range(2):
        assert tasks.nth(i).evaluate("li => getComputedStyle(li).listStyleType") == "none"
    expect(tasks.first.locator("input")).to_be_checked()
    expect(page.get_by_role("checkbox", name="done task")).to_be_visible()


# --- clear and delete -------------------------------------------------------------------


def test_clear_differs_from_delete_and_hides_when_empty(app: Page) -> None:
    clear = app.locator("#clear-history")
    expect(clear).to_be_hidden()
    chat(app, "something to clear")
    expect(clear).to_be_visible()
    delete_icon = app.locator("#session-list [data-action='delete'] svg").first.inner_html()
    assert clear.locator("svg").inner_html() != delete_icon
    clear.click()
    app.get_by_role("button", name="Clear", exact=True).click()
    expect(app.locator(".msg")).to_have_count(0)
    expect(clear).to_be_hidden()


# --- who wrote each reply -----------------------------------------------------------------


def test_each_reply_names_its_persona_and_model(app: Page, page_log: PageLog) -> None:
    app.select_option("#persona-select", "programmer")
    chat(app, "hello")
    byline = app.locator(".msg-assistant .msg-byline").last
    expect(byline).to_have_text("Programmer · scripted-model")
    app.reload()
    app.wait_for_selector("body[data-ready='true']")
    expect(app.locator(".msg-assistant .msg-byline").last).to_have_text(
        "Programmer · scripted-model"
    )
    app.get_by_role("button", name="切换到中文").click()
    expect(app.locator(".msg-assistant .msg-byline").last).to_have_text("编程专家 · scripted-model")


# --- first messages ---------------------------------------------------------------------


def test_the_sidebar_shows_first_words_and_which_reply_is_running(
    app: Page, upstream: ScriptedUpstream
) -> None:
    upstream.enqueue(Reply(SLOW, delay=0.05))
    send(app, "Plan my week in Lisbon")
    entry = app.locator("#session-list .session").first
    expect(entry.locator(".session-open")).to_contain_text("Plan my week in Lisbon")
    expect(entry.locator(".generating")).to_have_count(1)
    wait_idle(app)
    expect(entry.locator(".generating")).to_have_count(0)
    expect(sessions(app)).to_have_count(1)
    expect(sessions(app).first).not_to_contain_text("New chat")


def test_a_conversation_left_while_generating_stays_marked(
    app: Page, upstream: ScriptedUpstream
) -> None:
    upstream.enqueue(Reply(SLOW[:30], delay=0.05))
    send(app, "long story")
    expect(last_reply(app)).to_contain_text("word1")
    app.locator("#new-chat").click()
    entry = app.locator("#session-list .session").first
    expect(entry.locator(".generating")).to_have_count(1)
    expect(entry.locator(".generating")).to_have_count(0, timeout=15_000)


def test_a_too_long_first_message_says_the_limit_and_leaves_nothing(
    page: Page, make_server: ServerFactory
) -> None:
    server = make_server(max_message_chars=50)
    open_app(page, server.url)
    box = page.locator("#input")
    box.fill("x" * 45)
    expect(page.locator("#char-count")).to_have_text("45 / 50 characters")
    box.fill("x" * 61)
    expect(page.locator("#char-count")).to_have_class("char-count over")
    box.press("Enter")
    expect(page.locator("#banner")).to_contain_text("61 characters, at most 50")
    expect(box).to_have_value("x" * 61)
    assert page.request.get(server.url + "/api/v1/sessions").json()["total"] == 0
    expect(sessions(page)).to_have_count(0)


def test_a_first_message_over_quota_leaves_no_empty_conversation(
    page: Page, make_server: ServerFactory, upstream: ScriptedUpstream
) -> None:
    server = make_server(daily_token_quota=2)
    open_app(page, server.url)
    upstream.enqueue(Reply(["one ", "two ", "three"]))
    chat(page, "use the quota")
    page.locator("#new-chat").click()
    send(page, "over the quota")
    expect(page.locator("#banner")).to_contain_text("Too many requests")
    expect(sessions(page)).to_have_count(1)
    assert page.request.get(server.url + "/api/v1/sessions").json()["total"] == 1
    expect(page.locator("#chat-title")).to_have_text("New chat")


def test_long_user_messages_fold_behind_show_more(app: Page) -> None:
    long = "\n".join(f"line {i} of a long paste" for i in range(40))
    chat(app, long)
    bubble = app.locator(".msg-user .bubble").last
    more = bubble.get_by_role("button", name="Show more")
    expect(more).to_have_attribute("aria-expanded", "false")
    folded = bubble.locator(".content").evaluate("el => el.clientHeight < el.scrollHeight")
    assert folded
    more.click()
    expect(bubble.get_by_role("button", name="Show less")).to_have_attribute(
        "aria-expanded", "true"
    )
    opened = bubble.locator(".content").evaluate("el => el.clientHeight >= el.scrollHeight")
    assert opened
    # Copy still copies all of it.
    assert app.locator(".msg-user").last.evaluate("li => li.view.text") == long
