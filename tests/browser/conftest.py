"""A real chromium driven by Playwright against the live app (real Redis, scripted upstream).

One browser per test session; each test gets a fresh context (no shared storage)
and a page that records console errors, failed requests to other origins and
dialogs, so a test can assert that none happened.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import (
    Browser,
    BrowserContext,
    ConsoleMessage,
    Dialog,
    Page,
    Playwright,
    Request,
    Response,
    sync_playwright,
)

from tests.browser.chat import open_app
from tests.browser.launch import CHROMIUM, CHROMIUM_ARGS
from tests.live import LiveServer

SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-output" / "screenshots"
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}


@pytest.fixture(scope="session")
def playwright() -> Iterator[Playwright]:
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} is missing: run `make system-deps`")
    with sync_playwright() as p:
        yield p


@pytest.fixture(scope="session")
def browser(playwright: Playwright) -> Iterator[Browser]:
    browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
    yield browser
    browser.close()


@dataclass
class PageLog:
    """What the page did that a test may want to forbid."""

    errors: list[str] = field(default_factory=list)
    failed_responses: list[str] = field(default_factory=list)
    dialogs: list[str] = field(default_factory=list)
    foreign_requests: list[str] = field(default_factory=list)


ContextFactory = Callable[..., BrowserContext]


@pytest.fixture
def make_context(browser: Browser) -> Iterator[ContextFactory]:
    """New browser contexts (viewport, locale, colour scheme...), closed after the test."""
    made: list[BrowserContext] = []

    def factory(**options: Any) -> BrowserContext:
        settings: dict[str, Any] = {
            "viewport": DESKTOP,
            "locale": "en-US",
            "color_scheme": "light",
        }
        settings.update(options)
        ctx = browser.new_context(**settings)
        ctx.set_default_timeout(10_000)
        made.append(ctx)
        return ctx

    yield factory
    for ctx in made:
        ctx.close()


@pytest.fixture
def context(make_context: ContextFactory) -> BrowserContext:
    return make_context()


@pytest.fixture
def page_log() -> PageLog:
    return PageLog()


def watch(page: Page, log: PageLog) -> Page:
    """Record into `log` what the page does that tests may forbid."""

    def on_console(msg: ConsoleMessage) -> None:
        # Failed loads are judged by on_response, which knows which ones are expected.
        if msg.type == "error" and not msg.text.startswith("Failed to load resource"):
            log.errors.append(msg.text)

    def on_response(response: Response) -> None:
        # Nothing may fail unless a test says so. (Resuming a reply that ended and expired
        # meanwhile answers 204, not an error: the page then loads the stored messages.)
        if response.status >= 400:
            log.failed_responses.append(f"{response.status} {response.url}")

    def on_dialog(dialog: Dialog) -> None:
        log.dialogs.append(dialog.message)
        dialog.dismiss()

    def on_request(request: Request) -> None:
        parts = urlsplit(request.url)
        if parts.scheme in ("http", "https") and parts.hostname != "127.0.0.1":
            log.foreign_requests.append(request.url)

    page.on("console", on_console)
    page.on("dialog", on_dialog)
    page.on("pageerror", lambda exc: log.errors.append(str(exc)))
    page.on("request", on_request)
    page.on("response", on_response)
    return page


@pytest.fixture
def page(context: BrowserContext, page_log: PageLog) -> Iterator[Page]:
    page = watch(context.new_page(), page_log)
    yield page
    page.close()


@pytest.fixture
def app(page: Page, server: LiveServer) -> Page:
    """The chat page, loaded and ready."""
    return open_app(page, server.url)
