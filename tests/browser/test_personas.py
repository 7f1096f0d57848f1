"""The personas page: making one with a live preview, starters, duplicating, export/import."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.browser.chat import chat, last_reply, open_app, user_messages, wait_idle
from tests.browser.conftest import ContextFactory, PageLog
from tests.live import LiveServer
from tests.upstream import ScriptedUpstream

pytestmark = pytest.mark.browser


def open_personas(app: Page) -> None:
    app.get_by_role("button", name="Personas").click()
    expect(app.locator("#personas-dialog")).to_be_visible()


def item(app: Page, name: str):  # type: ignore[no-untyped-def]
    return app.locator(".persona-item", has=app.locator(".persona-name", has_text=name))


def test_a_persona_is_made_with_a_live_preview_and_its_starter_sends(
    app: Page, upstream: ScriptedUpstream, page_log: PageLog
) -> None:
    open_personas(app)
    app.get_by_role("button", name="New persona").click()
    app.get_by_label("Name (English)").fill("Pirate")
    app.get_by_label("Name (Chinese)").fill("海盗")
    app.get_by_label("Avatar (an emoji)").fill("🏴‍☠️")
    app.get_by_label("Description (English)").fill("Talks like a pirate.")
    prompt = app.get_by_label("System prompt", exact=True)
    prompt.fill("Today is {{date}}. Speak {{language}}. {{mystery}}")
    # The preview shows the prompt as the model would get it now: variables filled,
    # unknown ones left as written.
    today = datetime.fromtimestamp(time.time(), UTC).strftime("%Y-%m-%d")
    preview = app.locator("#pf-preview")
    expect(preview).to_have_text(f"Today is {today}. Speak English. {{{{mystery}}}}")
    app.get_by_label("Starter prompt 1").fill("Where be the treasure?")
    app.get_by_label("Starter prompt 2").fill("Sing a shanty")
    app.get_by_role("button", name="Save").click()

    # Back on the list, found by searching, and chosen.
    app.get_by_label("Search personas").fill("pira")
    expect(app.locator(".persona-item")).to_have_count(1)
    expect(item(app, "Pirate")).to_contain_text("Mine")
    item(app, "Pirate").get_by_role("button", name="Use").click()
    expect(app.locator("#personas-dialog")).to_be_hidden()
    expect(app.locator("#empty-title")).to_contain_text("Pirate")

    # The empty conversation offers its starters; one click sends one.
    starters = app.locator("#starters .starter")
    expect(starters).to_have_text(["Where be the treasure?", "Sing a shanty"])
    starters.first.click()
    expect(user_messages(app)).to_have_text(["Where be the treasure?"])
    wait_idle(app)
    expect(last_reply(app)).to_have_text("You said: Where be the treasure?")
    system = upstream.requests[-1]["messages"][0]["content"]
    assert system.startswith("Today is 20")
    assert "{{date}}" not in system
    assert system.endswith("{{mystery}}")
    expect(app.locator("#starters")).to_be_hidden()  # the conversation is no longer empty
    assert not page_log.errors


def test_a_built_in_persona_is_duplicated_edited_exported_imported_and_deleted(
    app: Page, upstream: ScriptedUpstream, tmp_path: Path
) -> None:
    open_personas(app)
    teacher = item(app, "Teacher")
    # Built-in personas are read-only: no edit, no delete.
    expect(teacher.get_by_role("button", name="Edit")).to_have_count(0)
    expect(teacher.get_by_role("button", name="Delete")).to_have_count(0)
    teacher.get_by_role("button", name="Duplicate").click()
    # The copy opens in the editor.
    expect(app.get_by_label("Name (English)")).to_have_value("Teacher (copy)")
    assert "patient" in app.get_by_label("System prompt", exact=True).input_value()
    app.get_by_label("Name (English)").fill("Maths teacher")
    app.get_by_label("System prompt", exact=True).fill("You teach maths.")
    app.get_by_role("button", name="Save").click()
    mine = item(app, "Maths teacher")
    expect(mine).to_contain_text("Mine")

    with app.expect_download() as download:
        mine.get_by_role("button", name="Export").click()
    saved = tmp_path / "maths.persona.json"
    download.value.save_as(saved)
    exported = json.loads(saved.read_text(encoding="utf-8"))
    assert exported["format"] == "parlour.persona"
    assert exported["system_prompt"] == "You teach maths."

    mine.get_by_role("button", name="Delete").click()
    app.locator("#confirm-ok").click()
    expect(item(app, "Maths teacher")).to_have_count(0)

    app.locator("#persona-file").set_input_files(str(saved))
    expect(item(app, "Maths teacher")).to_have_count(1)
    # It is in the header's picker too.
    expect(app.locator("#persona-select option", has_text="Maths teacher")).to_have_count(1)


def test_a_personas_parameters_are_set_in_the_editor_sent_and_shown_in_chat_settings(
    app: Page, upstream: ScriptedUpstream, page_log: PageLog
) -> None:
    open_personas(app)
    app.get_by_role("button", name="New persona").click()
    form = app.locator("#persona-form")
    app.get_by_label("Name (English)").fill("Careful")
    app.get_by_label("System prompt", exact=True).fill("You answer carefully.")
    expect(form.get_by_role("group", name="Parameters")).to_be_visible()
    expect(app.locator("#pf-vars")).to_contain_text("{{date}} {{time}}")  # not filled as {}
    # A value out of range is refused with the field named; the editor stays open.
    form.get_by_label("Temperature").fill("5")
    app.get_by_role("button", name="Save").click()
    expect(app.locator("#pf-error")).to_contain_text("params.temperature")
    expect(form).to_be_visible()
    form.get_by_label("Temperature").fill("0.2")
    form.get_by_label("Seed").fill("5")
    app.get_by_role("button", name="Save").click()
    expect(item(app, "Careful")).to_contain_text("Mine")
    item(app, "Careful").get_by_role("button", name="Use").click()
    expect(app.locator("#personas-dialog")).to_be_hidden()

    chat(app, "hello")
    body = upstream.requests[-1]
    assert (body["temperature"], body["seed"]) == (0.2, 5)
    assert "top_p" not in body

    # The chat settings say which values come from the persona; the conversation's win.
    app.locator("#chat-settings-open").click()
    panel = app.locator("#chat-settings")
    for field, placeholder in (
        ("temperature", "from persona: 0.2"),
        ("seed", "from persona: 5"),
        ("max_tokens", "default 1024"),
        ("top_p", "model's default"),
    ):
        expect(panel.locator(f"#param-{field}")).to_have_attribute("placeholder", placeholder)
    panel.locator("#param-temperature").fill("0.9")
    panel.locator("#chat-settings-save").click()
    expect(panel).to_be_hidden()
    chat(app, "again")
    body = upstream.requests[-1]
    assert (body["temperature"], body["seed"]) == (0.9, 5)

    # The editor shows the persona's values again; an emptied field is unset.
    open_personas(app)
    item(app, "Careful").get_by_role("button", name="Edit").click()
    expect(form.get_by_label("Temperature")).to_have_value("0.2")
    expect(form.get_by_label("Top P")).to_have_value("")
    form.get_by_label("Seed").fill("")
    app.get_by_role("button", name="Save").click()
    expect(item(app, "Careful")).to_have_count(1)
    app.locator("#personas-close").click()
    chat(app, "third")
    assert "seed" not in upstream.requests[-1]
    assert not page_log.errors
    assert [r.split()[0] for r in page_log.failed_responses] == ["422"]  # the refused save


def test_the_editor_speaks_chinese_and_a_persona_named_in_english_keeps_its_name(
    make_context: ContextFactory, server: LiveServer
) -> None:
    made = httpx.post(f"{server.url}/api/v1/personas",
                      json={"name_en": "Careful", "system_prompt": "x"})  # fmt: skip
    assert made.status_code == 201
    page = open_app(make_context(locale="zh-CN").new_page(), server.url)
    expect(page.locator("#persona-select option", has_text="Careful")).to_have_count(1)
    page.get_by_role("button", name="角色").click()
    page.get_by_role("button", name="新建角色").click()
    form = page.locator("#persona-form")
    expect(form.get_by_role("group", name="参数")).to_contain_text("留空即不设置")
    expect(form.get_by_label("温度（temperature）")).to_have_value("")
    expect(form.get_by_label("随机种子（seed）")).to_be_visible()
    expect(page.locator("#pf-vars")).to_have_text(
        "可用变量：{{date}} {{time}} {{weekday}} {{user_name}} {{language}}"
    )
