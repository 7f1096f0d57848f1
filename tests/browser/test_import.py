"""Importing a ChatGPT export from the page: progress, a report, and the branches kept."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.browser.chat import replies, sessions, user_messages, wait_idle
from tests.fixtures.chatgpt import Conversation, branched, write_zip

pytestmark = pytest.mark.browser


def _import(app: Page, path: Path) -> None:
    app.get_by_role("button", name="Import conversations").click()
    dialog = app.get_by_role("dialog", name="Import conversations")
    dialog.locator("#import-file").set_input_files(str(path))
    dialog.get_by_role("button", name="Import", exact=True).click()


def test_an_imported_chatgpt_export_opens_with_its_versions(app: Page, tmp_path: Path) -> None:
    conv, _ids = branched("Redis questions")
    photo = Conversation("A photo")
    photo.add("user", "", content={"content_type": "multimodal_text", "parts": [
        {"content_type": "image_asset_pointer", "asset_pointer": "file-service://file-CAT"},
        "What is this?",
    ]})  # fmt: skip
    photo.add("assistant", "A cat.")
    _import(app, write_zip(tmp_path / "chatgpt-export.zip", [conv.export(), photo.export()]))

    dialog = app.get_by_role("dialog", name="Import conversations")
    expect(dialog.locator("#import-summary")).to_have_text(
        "Imported 2 conversations with 9 messages. Skipped 0, imported before 0, images and "
        "files not imported 1.",
        timeout=30_000,
    )
    expect(dialog.locator("#import-progress")).to_have_attribute("value", "100")
    entries = dialog.locator(".import-entry")
    expect(entries).to_have_count(2)
    expect(entries.nth(1)).to_contain_text("A photo")
    expect(entries.nth(1)).to_contain_text("Not imported: image file-CAT")
    dialog.get_by_role("button", name="Close").click()

    # The sidebar has them; the conversation opens on the export's active branch.
    expect(sessions(app).filter(has_text="Redis questions")).to_have_count(1)
    sessions(app).filter(has_text="Redis questions").click()
    expect(user_messages(app)).to_have_text(["What is Redis?", "Show me Python code"])
    expect(replies(app).last).to_contain_text("r = redis.Redis()")
    # The edited prompt: version 2 of 2; its reply, regenerated once: version 1 of 2.
    expect(app.get_by_role("group", name="Version 2 of 2")).to_be_visible()
    reply_versions = app.get_by_role("group", name="Version 1 of 2")
    expect(reply_versions).to_be_visible()
    reply_versions.get_by_role("button", name="Next version").click()
    expect(replies(app).last).to_have_text("Here: redis.Redis()")
    app.get_by_role("group", name="Version 2 of 2").first.get_by_role(
        "button", name="Previous version"
    ).click()
    expect(user_messages(app)).to_have_text(["What is Redis?", "Show me code"])
    wait_idle(app)


def test_a_broken_file_says_why_and_keeps_nothing_in_chinese_too(app: Page, tmp_path: Path) -> None:
    app.get_by_role("button", name="切换到中文").click()
    expect(app.get_by_role("button", name="导入对话")).to_be_visible()
    good = Conversation("fine")
    good.turn("hi", "hello")
    broken = tmp_path / "conversations.json"
    broken.write_text('[{"title": "fine", "mapping": {}}, {"title": "cut')
    app.get_by_role("button", name="导入对话").click()
    dialog = app.get_by_role("dialog", name="导入对话")
    dialog.locator("#import-file").set_input_files(str(broken))
    dialog.get_by_role("button", name="导入", exact=True).click()
    expect(dialog.locator("#import-summary")).to_have_text(
        "导入失败，没有保留任何内容：文件不是有效的 JSON（或被截断了）。", timeout=30_000
    )
    dialog.get_by_role("button", name="关闭").click()
    expect(sessions(app)).to_have_count(0)
