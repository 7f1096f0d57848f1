"""Organising in the browser: pins, the archive, folders (menu and drag), date groups in
zh and en, several at once, and Undo after a delete or a clear."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import httpx
import pytest
from playwright.sync_api import Page, expect
from redis import Redis

from parlour.store import Keys
from tests.browser.chat import chat, open_app, reload, sessions
from tests.browser.conftest import ContextFactory, PageLog
from tests.live import LiveServer, collect

pytestmark = pytest.mark.browser
KEYS = Keys("parlour")


def made(server: LiveServer, *titles: str) -> dict[str, str]:
    """Conversations made over the API, oldest first; their ids by title."""
    ids = {}
    with httpx.Client(base_url=server.url, timeout=30) as client:
        for title in titles:
            sid = client.post("/api/v1/sessions", json={"title": title}).json()["id"]
            collect(client, "POST", f"/api/v1/sessions/{sid}/messages", json={"content": title})
            ids[title] = sid
    return ids


def row(page: Page, title: str):  # type: ignore[no-untyped-def]
    return page.locator("#session-nav li.session", has_text=title)


def menu_action(page: Page, title: str, item: str) -> None:
    row(page, title).get_by_role("button", name=f"More: {title}").click()
    page.get_by_role("menuitem", name=item).click()


def groups(page: Page):  # type: ignore[no-untyped-def]
    return page.locator("#session-list .session-group h3")


def test_pin_archive_and_restore(app: Page, server: LiveServer, page_log: PageLog) -> None:
    made(server, "alpha", "beta", "gamma")
    reload(app)
    expect(sessions(app)).to_have_text(["gamma", "beta", "alpha"])
    expect(groups(app)).to_have_text(["Today"])
    menu_action(app, "alpha", "Pin")
    expect(groups(app)).to_have_text(["Pinned", "Today"])
    expect(sessions(app)).to_have_text(["alpha", "gamma", "beta"])
    reload(app)  # kept on the server
    expect(sessions(app)).to_have_text(["alpha", "gamma", "beta"])
    menu_action(app, "alpha", "Unpin")
    expect(groups(app)).to_have_text(["Today"])
    menu_action(app, "gamma", "Archive")
    expect(sessions(app)).to_have_text(["beta", "alpha"])
    expect(app.locator("#undo-toast")).to_contain_text("Archived")
    app.get_by_role("button", name="Archived", exact=True).click()
    dialog = app.locator("#list-dialog")
    expect(dialog.locator(".list-title")).to_have_text(["gamma"])
    dialog.get_by_role("button", name="Unarchive: gamma").click()
    expect(dialog.locator(".list-title")).to_have_count(0)
    expect(dialog).to_contain_text("No archived conversations.")
    dialog.get_by_role("button", name="Close").click()
    expect(sessions(app)).to_have_text(["gamma", "beta", "alpha"])
    # Undo in the toast brings an archived one back too.
    menu_action(app, "beta", "Archive")
    expect(sessions(app)).to_have_text(["gamma", "alpha"])
    app.locator("#undo-toast").get_by_role("button", name="Undo").click()
    expect(sessions(app)).to_have_text(["gamma", "beta", "alpha"])
    assert not page_log.errors
    assert not page_log.failed_responses


def test_folders_by_menu_and_by_drag(app: Page, server: LiveServer, page_log: PageLog) -> None:
    made(server, "alpha", "beta", "gamma")
    reload(app)
    app.get_by_role("button", name="New folder").click()
    app.locator("#name-input").fill("Work")
    app.locator("#name-dialog").get_by_role("button", name="Save").click()
    folder = app.locator("#folder-list li.folder", has_text="Work")
    expect(folder).to_be_visible()
    menu_action(app, "beta", "Move to “Work”")
    expect(sessions(app)).to_have_text(["gamma", "alpha"])
    expect(folder.locator(".folder-count")).to_have_text("1")
    folder.locator(".folder-toggle").click()
    expect(folder.locator("li.session .session-open")).to_have_text(["beta"])
    # Drag another one onto the folder.
    row(app, "alpha").drag_to(folder.locator(".folder-head"))
    expect(folder.locator("li.session .session-open")).to_have_text(["beta", "alpha"])
    expect(sessions(app)).to_have_text(["gamma"])
    # And one out again, onto the list.
    folder.locator("li.session", has_text="beta").drag_to(app.locator("#session-list"))
    expect(folder.locator("li.session .session-open")).to_have_text(["alpha"])
    expect(sessions(app)).to_have_text(["gamma", "beta"])
    # Renaming and deleting the folder: its conversations stay.
    folder.get_by_role("button", name="Rename folder: Work").click()
    app.locator("#name-input").fill("Projects")
    app.locator("#name-dialog").get_by_role("button", name="Save").click()
    renamed = app.locator("#folder-list li.folder", has_text="Projects")
    expect(renamed).to_be_visible()
    renamed.get_by_role("button", name="Delete folder: Projects").click()
    app.locator("#confirm-dialog").get_by_role("button", name="Delete").click()
    expect(app.locator("#folder-list li.folder")).to_have_count(0)
    expect(sessions(app)).to_have_text(["gamma", "beta", "alpha"])
    assert not page_log.errors
    assert not page_log.failed_responses


def _age(redis: Redis, sid: str, ts: float) -> None:
    redis.hset(KEYS.conversation(sid), "updated_at", repr(ts))
    redis.zadd(KEYS.user_sessions("local"), {sid: ts})


@pytest.mark.parametrize(
    ("locale", "fixed"),
    [
        ("en-US", ["Today", "Yesterday", "Previous 7 days", "Previous 30 days"]),
        ("zh-CN", ["今天", "昨天", "过去 7 天", "过去 30 天"]),
    ],
)
def test_the_list_is_grouped_by_date(
    make_context: ContextFactory, server: LiveServer, redis: Redis, locale: str, fixed: list[str]
) -> None:
    ids = made(server, "old", "month", "week", "yesterday", "today")
    now = time.time()
    day = 86_400
    ages = {"old": 75 * day, "month": 20 * day, "week": 3 * day, "yesterday": day}
    for title, age in ages.items():
        _age(redis, ids[title], now - age)
    old = datetime.fromtimestamp(now - ages["old"], UTC)
    month = f"{old.year}年{old.month}月" if locale == "zh-CN" else old.strftime("%B %Y")
    page = make_context(locale=locale, timezone_id="UTC").new_page()
    open_app(page, server.url)
    expect(groups(page)).to_have_text([*fixed, month])
    expect(sessions(page)).to_have_text(["today", "yesterday", "week", "month", "old"])


def test_several_at_once(app: Page, server: LiveServer, page_log: PageLog) -> None:
    made(server, "one", "two", "three", "four")
    reload(app)
    app.get_by_role("button", name="Select", exact=True).click()
    app.get_by_role("checkbox", name="Select: one").check()
    app.get_by_role("checkbox", name="Select: three").check()
    expect(app.locator("#bulk-count")).to_have_text("2 selected")
    app.locator("#bulk-archive").click()
    expect(sessions(app)).to_have_text(["four", "two"])
    expect(app.locator("#bulk-bar")).to_be_hidden()
    app.get_by_role("button", name="Select", exact=True).click()
    app.get_by_role("checkbox", name="Select: four").check()
    app.get_by_role("checkbox", name="Select: two").check()
    app.locator("#bulk-delete").click()
    expect(sessions(app)).to_have_count(0)
    app.locator("#undo-toast").get_by_role("button", name="Undo").click()
    expect(sessions(app)).to_have_text(["four", "two"])
    # Moving several into a folder.
    with httpx.Client(base_url=server.url) as client:
        client.post("/api/v1/folders", json={"name": "Box"})
    reload(app)
    app.get_by_role("button", name="Select", exact=True).click()
    app.get_by_role("checkbox", name="Select: four").check()
    app.get_by_role("checkbox", name="Select: two").check()
    app.locator("#bulk-move").select_option(label="Box")
    expect(sessions(app)).to_have_count(0)
    expect(app.locator("#folder-list .folder-count")).to_have_text("2")
    assert not page_log.errors
    assert not page_log.failed_responses


def test_delete_and_clear_can_be_undone(app: Page, page_log: PageLog) -> None:
    chat(app, "keep this safe")
    expect(sessions(app)).to_have_count(1)
    row(app, "keep this safe").get_by_role("button", name="Delete: keep this safe").click()
    app.locator("#confirm-dialog").get_by_role("button", name="Delete").click()
    expect(sessions(app)).to_have_count(0)
    app.locator("#undo-toast").get_by_role("button", name="Undo").click()
    expect(sessions(app)).to_have_text(["keep this safe"])
    # Once the toast is gone, the trash still has it.
    row(app, "keep this safe").get_by_role("button", name="Delete: keep this safe").click()
    app.locator("#confirm-dialog").get_by_role("button", name="Delete").click()
    expect(sessions(app)).to_have_count(0)
    app.get_by_role("button", name="Trash", exact=True).click()
    dialog = app.locator("#list-dialog")
    dialog.get_by_role("button", name="Restore: keep this safe").click()
    expect(dialog).to_contain_text("The trash is empty.")
    dialog.get_by_role("button", name="Close").click()
    expect(sessions(app)).to_have_text(["keep this safe"])
    # A clear, undone: the messages come back.
    sessions(app).first.click()
    expect(app.locator("#messages .msg")).to_have_count(2)
    app.get_by_role("button", name="Clear history").click()
    app.locator("#confirm-dialog").get_by_role("button", name="Clear").click()
    expect(app.locator("#messages .msg")).to_have_count(0)
    app.locator("#undo-toast").get_by_role("button", name="Undo").click()
    expect(app.locator("#messages .msg-user .content")).to_have_text(["keep this safe"])
    reload(app)
    expect(app.locator("#messages .msg")).to_have_count(2)
    assert not page_log.errors
    assert not page_log.failed_responses
