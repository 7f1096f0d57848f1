"""Loading: a repeat visit asks for no unchanged file, and the shell paints before sign-in."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from playwright.sync_api import Page, Route, expect

from tests.browser.chat import open_app
from tests.browser.conftest import ContextFactory
from tests.live import LiveServer

pytestmark = pytest.mark.browser


class NetworkLog:
    """What went over the network for /static/ files, seen through the DevTools protocol."""

    def __init__(self, page: Page) -> None:
        self.urls: dict[str, str] = {}
        self.cached: set[str] = set()
        self.fetched: list[str] = []
        cdp = page.context.new_cdp_session(page)
        cdp.on("Network.requestWillBeSent", self._sent)
        cdp.on("Network.requestServedFromCache", lambda e: self.cached.add(e["requestId"]))
        cdp.on("Network.responseReceived", self._received)
        cdp.send("Network.enable")

    def _sent(self, event: dict[str, Any]) -> None:
        if "/static/" in event["request"]["url"]:
            self.urls[event["requestId"]] = event["request"]["url"]

    def _received(self, event: dict[str, Any]) -> None:
        rid = event["requestId"]
        response = event["response"]
        if rid not in self.urls or rid in self.cached:
            return
        if response.get("fromDiskCache") or response.get("fromPrefetchCache"):
            return
        self.fetched.append(f"{response['status']} {self.urls[rid]}")

    def reset(self) -> None:
        self.urls.clear()
        self.cached.clear()
        self.fetched.clear()


def test_a_second_visit_requests_no_unchanged_static_file(
    make_context: ContextFactory, server: LiveServer
) -> None:
    page = make_context().new_page()
    log = NetworkLog(page)
    open_app(page, server.url)
    assert any(url.endswith("/js/app.bundle.js") for url in log.fetched)
    assert any(url.endswith("/vendor/marked.esm.js") for url in log.fetched)
    log.reset()
    # A new visit (not a reload, which revalidates on purpose): the HTML is asked
    # again, every file it names comes from the browser's cache.
    page.goto("about:blank")
    open_app(page, server.url)
    assert log.urls, "the page loaded no static file at all"
    assert log.fetched == []


def test_the_shell_paints_before_the_sign_in_check_answers(page: Page, server: LiveServer) -> None:
    held: list[Route] = []
    arrived = threading.Event()

    def hold(route: Route) -> None:
        held.append(route)
        arrived.set()

    page.route("**/api/v1/auth/me", hold)
    with page.expect_request("**/api/v1/auth/me"):
        page.goto(server.url + "/")
    for _ in range(200):  # the route handler runs as Playwright dispatches events
        if arrived.is_set():
            break
        page.wait_for_timeout(25)
    assert held
    # The sign-in check is still unanswered, yet the chat's frame is on screen.
    expect(page.locator("#composer")).to_be_visible()
    expect(page.locator(".topbar")).to_be_visible()
    expect(page.locator("#new-chat")).to_be_visible()
    assert page.locator("body").get_attribute("data-ready") is None
    for route in held:
        route.continue_()
    page.wait_for_selector("body[data-ready='true']")
