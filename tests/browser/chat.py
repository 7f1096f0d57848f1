"""Steps the browser tests share: open the page, send, wait for the reply to end."""

from __future__ import annotations

from playwright.sync_api import Locator, Page, expect

MESSAGES = "#messages"


def open_app(page: Page, url: str, path: str = "/") -> Page:
    page.goto(url + path)
    page.wait_for_selector("body[data-ready='true']")
    return page


def reload(page: Page) -> Page:
    page.reload()
    page.wait_for_selector("body[data-ready='true']")
    return page


def send(page: Page, text: str) -> None:
    """Type into the composer and press Enter (as a person would)."""
    box = page.locator("#input")
    box.fill(text)
    box.press("Enter")


def wait_idle(page: Page, timeout: float = 15_000) -> None:
    """Until no reply is streaming (the Stop button has turned back into Send)."""
    expect(page.locator("#send")).to_be_visible(timeout=timeout)
    expect(page.locator(".msg.streaming")).to_have_count(0, timeout=timeout)


def user_messages(page: Page) -> Locator:
    return page.locator(".msg-user .content")


def replies(page: Page) -> Locator:
    return page.locator(".msg-assistant .content")


def last_reply(page: Page) -> Locator:
    return replies(page).last


def sessions(page: Page) -> Locator:
    return page.locator("#session-list .session-open")


def chat(page: Page, text: str) -> None:
    """Send and wait for the whole reply."""
    count = replies(page).count()
    send(page, text)
    expect(replies(page)).to_have_count(count + 1)
    wait_idle(page)
