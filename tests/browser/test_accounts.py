"""Accounts in the page (AUTH_MODE=password): sign up, chat, reload, sign out, sign in,
and polite errors. Every change the page makes must carry the CSRF token."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Page, Request, expect

from tests.accounts import PASSWORD, PASSWORD_MODE, signed_up
from tests.browser.chat import last_reply, reload, send, sessions, user_messages, wait_idle
from tests.browser.conftest import PHONE, SCREENSHOTS, ContextFactory, PageLog, watch
from tests.conftest import ServerFactory
from tests.live import LiveServer
from tests.upstream import Reply, ScriptedUpstream

pytestmark = pytest.mark.browser


@pytest.fixture
def accounts_server(make_server: ServerFactory) -> LiveServer:
    return make_server(**PASSWORD_MODE)


def open_page(page: Page, url: str) -> Page:
    page.goto(url)
    page.wait_for_selector("body[data-ready='true']")
    return page


def sign_in_screen(page: Page) -> None:
    expect(page.locator("#auth")).to_be_visible()
    expect(page.locator("#app")).to_be_hidden()
    expect(page.get_by_label("Username")).to_be_focused()


def fill(page: Page, username: str, password: str) -> None:
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password", exact=True).fill(password)


def expected_failure(entry: str) -> bool:
    """Signed out, /auth/me answers 401; a wrong password answers 401."""
    status, url = entry.split(" ", 1)
    return status == "401" and urlsplit(url).path in ("/api/v1/auth/me", "/api/v1/auth/login")


def test_sign_up_chat_reload_sign_out_and_sign_in(
    page: Page, accounts_server: LiveServer, upstream: ScriptedUpstream, page_log: PageLog
) -> None:
    changes: list[Request] = []
    page.on("request", lambda r: changes.append(r) if r.method != "GET" else None)
    open_page(page, accounts_server.url)
    sign_in_screen(page)
    expect(page.get_by_role("heading", name="Sign in to Parlour")).to_be_visible()
    expect(page.get_by_label("Invitation code (optional)")).to_be_hidden()

    page.get_by_role("tab", name="Create account").click()
    expect(page.get_by_role("heading", name="Create your Parlour account")).to_be_visible()
    expect(page.get_by_label("Invitation code (optional)")).to_be_visible()
    fill(page, "alice", PASSWORD)
    page.get_by_label("Password", exact=True).press("Enter")  # Enter submits
    expect(page.locator("#auth")).to_be_hidden()
    expect(page.locator("#input")).to_be_focused()
    expect(page.locator("#user-name")).to_have_text("alice")
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()

    words = [f"w{i} " for i in range(15)]
    upstream.enqueue(Reply(words, delay=0.05))
    send(page, "Hello as alice")
    expect(last_reply(page)).to_contain_text("w3")
    wait_idle(page)
    expect(last_reply(page)).to_have_text("".join(words).strip())
    csrf = next(c["value"] for c in page.context.cookies() if c["name"] == "parlour_csrf")
    sent = [r for r in changes if r.url.startswith(accounts_server.url + "/api/v1/sessions")]
    assert [urlsplit(r.url).path.rsplit("/", 1)[-1] for r in sent] == ["sessions", "messages"]
    for request in sent:
        assert request.headers.get("x-csrf-token") == csrf

    reload(page)
    expect(page.locator("#auth")).to_be_hidden()
    expect(page.locator("#user-name")).to_have_text("alice")
    expect(sessions(page)).to_have_text(["Hello as alice"])
    expect(user_messages(page)).to_have_text(["Hello as alice"])

    page.get_by_role("button", name="Sign out").click()
    sign_in_screen(page)
    expect(page.get_by_role("heading", name="Sign in to Parlour")).to_be_visible()
    expect(page.locator("#messages .msg")).to_have_count(0)
    assert "#/c/" not in page.url
    logout = [r for r in changes if r.url.endswith("/api/v1/auth/logout")]
    assert logout[0].headers.get("x-csrf-token") == csrf
    reload(page)
    sign_in_screen(page)
    assert not [c for c in page.context.cookies() if c["name"] == "parlour_session"]

    # A wrong password is told politely, in the page; the right one opens the chat.
    fill(page, "alice", "not the password")
    page.get_by_role("button", name="Sign in").click()
    error = page.get_by_role("alert").filter(has_text="not correct")
    expect(error).to_have_text("The username or password is not correct.")
    expect(page.locator("#auth")).to_be_visible()
    fill(page, "alice", PASSWORD)
    page.get_by_label("Password", exact=True).press("Enter")
    expect(page.locator("#auth")).to_be_hidden()
    expect(sessions(page)).to_have_text(["Hello as alice"])
    sessions(page).first.click()
    expect(last_reply(page)).to_have_text("".join(words).strip())

    assert not page_log.dialogs
    assert not page_log.errors
    assert not page_log.foreign_requests
    assert [f for f in page_log.failed_responses if not expected_failure(f)] == []


def test_sign_up_and_sign_in_errors_are_polite(
    page: Page, make_server: ServerFactory, page_log: PageLog
) -> None:
    server = make_server(**PASSWORD_MODE, signup="closed", rate_login_failures="3/15minutes")
    signed_up(server.url, "admin").close()  # the first account may always be made
    open_page(page, server.url)
    alert = page.locator("#auth-error")

    page.get_by_role("button", name="Sign in").click()
    expect(alert).to_have_text("Please enter your username and password.")
    page.get_by_role("tab", name="Create account").click()
    expect(alert).to_be_hidden()
    fill(page, "bob", PASSWORD)
    page.get_by_role("button", name="Create account").click()
    expect(alert).to_have_text(
        "Sign-up is closed on this server. Ask its administrator for an account."
    )

    page.get_by_role("tab", name="Sign in").click()
    for _ in range(3):
        fill(page, "admin", "wrong password")
        page.get_by_role("button", name="Sign in").click()
        expect(alert).to_have_text("The username or password is not correct.")
        page.evaluate("document.getElementById('auth-error').hidden = true")
    fill(page, "admin", PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(alert).to_have_text("Too many attempts. Please try again in 15 min.")
    expect(page.locator("#auth")).to_be_visible()
    assert not page_log.errors


def test_sign_up_errors_in_chinese_and_the_language_switch(
    make_context: ContextFactory, accounts_server: LiveServer, page_log: PageLog
) -> None:
    signed_up(accounts_server.url, "taken").close()
    page = watch(make_context(locale="zh-CN").new_page(), page_log)
    open_page(page, accounts_server.url)
    expect(page.get_by_role("heading", name="登录 Parlour")).to_be_visible()
    page.get_by_role("tab", name="注册账号").click()
    page.get_by_label("用户名").fill("taken")
    page.get_by_label("密码", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="注册账号").click()
    alert = page.locator("#auth-error")
    expect(alert).to_have_text("这个用户名已被使用，请换一个。")
    page.get_by_label("用户名").fill("x")
    page.get_by_role("button", name="注册账号").click()
    expect(alert).to_have_text("用户名需为 3–32 个字母、数字、“.”、“_” 或 “-”。")
    page.get_by_label("用户名").fill("carol")
    page.get_by_label("密码", exact=True).fill("short")
    page.get_by_role("button", name="注册账号").click()
    expect(alert).to_have_text("密码长度需为 8–256 个字符。")
    page.get_by_role("button", name="Switch to English").click()
    expect(page.get_by_role("heading", name="Create your Parlour account")).to_be_visible()
    expect(page.get_by_role("button", name="Create account")).to_be_visible()
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Create account").click()
    expect(page.locator("#user-name")).to_have_text("carol")
    assert not page_log.errors


def test_an_ended_sign_in_returns_to_the_sign_in_screen(
    page: Page, accounts_server: LiveServer, page_log: PageLog
) -> None:
    client = signed_up(accounts_server.url, "dave")
    client.close()
    open_page(page, accounts_server.url)
    fill(page, "dave", PASSWORD)
    # the chat has loaded its list before the sign-in ends
    with page.expect_response(lambda r: "/api/v1/sessions?" in r.url):
        page.get_by_role("button", name="Sign in").click()
    expect(page.locator("#user-name")).to_have_text("dave")
    page.context.clear_cookies()  # as when the sign-in expires or is ended elsewhere
    send(page, "Are you there?")
    sign_in_screen(page)
    expect(page.locator("#auth-error")).to_have_text(
        "Your sign-in has ended. Please sign in again."
    )
    fill(page, "dave", PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator("#auth")).to_be_hidden()
    expect(page.locator("#banner")).to_be_hidden()
    expect(page.locator("#input")).to_have_value("Are you there?")  # not lost
    assert not page_log.errors


def test_none_mode_shows_no_sign_in(app: Page, page_log: PageLog) -> None:
    expect(app.locator("#auth")).to_be_hidden()
    expect(app.locator("#user-row")).to_be_hidden()
    expect(app.get_by_role("button", name="Sign out")).to_have_count(0)
    assert not page_log.failed_responses


@pytest.mark.parametrize("device", ["desktop", "phone"])
def test_sign_in_screenshot(
    make_context: ContextFactory, accounts_server: LiveServer, page_log: PageLog, device: str
) -> None:
    phone = {"viewport": PHONE, "device_scale_factor": 2, "is_mobile": True, "has_touch": True}
    page = watch(make_context(**(phone if device == "phone" else {})).new_page(), page_log)
    open_page(page, accounts_server.url)
    fill(page, "alice", PASSWORD)
    no_scroll = "document.documentElement.scrollWidth <= document.documentElement.clientWidth"
    assert page.evaluate(no_scroll)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=SCREENSHOTS / f"{device}-light-sign-in.png")
    page.get_by_role("tab", name="Create account").click()
    page.get_by_role("button", name="Create account").click()
    expect(page.locator("#user-name")).to_have_text("alice")
    if device == "phone":
        page.get_by_role("button", name="Open sidebar").click()
        page.wait_for_timeout(300)  # the drawer's slide-in
    page.screenshot(path=SCREENSHOTS / f"{device}-light-signed-in.png")
    assert not page_log.errors
