"""Layout, themes, languages, accessibility, the page's own security, and screenshots."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import Page, Route, expect

from tests.browser.chat import chat, last_reply, open_app, reload, send, wait_idle
from tests.browser.conftest import (
    DESKTOP,
    PHONE,
    SCREENSHOTS,
    ContextFactory,
    PageLog,
    watch,
)
from tests.live import LiveServer
from tests.upstream import Reply, ScriptedUpstream

pytestmark = pytest.mark.browser

STATIC = Path(__file__).resolve().parents[2] / "src" / "parlour" / "web" / "static"

CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "connect-src 'self'; font-src 'self'; base-uri 'none'; form-action 'none'; "
    "frame-ancestors 'none'"
)

ZH_REPLY = """当然可以！下面是一个使用**迭代**实现的斐波那契函数，时间复杂度为 O(n)：

```python
def fibonacci(n: int) -> int:
    \"\"\"返回第 n 个斐波那契数。\"\"\"
    a, b = 0, 1
    for _ in range(n):
        a, b = b, a + b
    return a

print([fibonacci(i) for i in range(10)])
```

要点：

1. 用两个变量保存前两项，避免递归带来的重复计算；
2. 空间复杂度为 O(1)。
"""


def no_horizontal_scroll(page: Page) -> bool:
    return page.evaluate(
        "document.documentElement.scrollWidth <= document.documentElement.clientWidth"
    )


def test_phone_layout_has_no_horizontal_scroll(
    make_context: ContextFactory, server: LiveServer, upstream: ScriptedUpstream
) -> None:
    page = make_context(viewport=PHONE, is_mobile=True, has_touch=True).new_page()
    open_app(page, server.url)
    assert no_horizontal_scroll(page)
    expect(page.locator("#sidebar")).to_be_hidden()
    wide = "```\n" + "x" * 400 + "\n```\n\n| " + " | ".join(f"col{i}" for i in range(20)) + " |\n"
    wide += "|" + "---|" * 20 + "\n| " + " | ".join("v" for _ in range(20)) + " |\n"
    upstream.enqueue(Reply(deltas=[wide, "https://example.com/" + "a" * 300]))
    chat(page, "y" * 300)
    assert no_horizontal_scroll(page)
    # The sidebar opens as a drawer over the conversation, and closes again.
    page.get_by_role("button", name="Open sidebar").click()
    expect(page.locator("#sidebar")).to_be_visible()
    expect(page.locator("#session-list .session")).to_have_count(1)
    assert no_horizontal_scroll(page)
    page.keyboard.press("Escape")
    expect(page.locator("#sidebar")).to_be_hidden()


def test_scrolling_up_while_a_reply_streams_is_respected(
    app: Page, upstream: ScriptedUpstream
) -> None:
    lines = [f"line {i}\n\n" for i in range(80)]
    upstream.enqueue(Reply(deltas=lines[:40]), Reply(deltas=lines, delay=0.05))
    chat(app, "fill the screen")
    scroller = app.locator("#scroller")
    at_bottom = "el => el.scrollHeight - el.scrollTop - el.clientHeight < 60"
    assert scroller.evaluate(at_bottom)
    send(app, "now stream a long one")
    expect(last_reply(app)).to_contain_text("line 10")
    assert scroller.evaluate(at_bottom)  # followed while at the bottom
    scroller.evaluate("el => { el.scrollTop = 0; }")
    expect(last_reply(app)).to_contain_text("line 79")  # the rest streamed in meanwhile
    assert scroller.evaluate("el => el.scrollTop") == 0  # not yanked back down
    expect(app.get_by_role("button", name="Jump to latest message")).to_be_visible()
    wait_idle(app)
    app.get_by_role("button", name="Jump to latest message").click()
    assert scroller.evaluate(at_bottom)


def test_theme_follows_the_system_and_the_toggle_is_remembered(
    make_context: ContextFactory, server: LiveServer
) -> None:
    page = make_context(color_scheme="dark").new_page()
    open_app(page, server.url)
    background = "getComputedStyle(document.body).backgroundColor"
    dark = page.evaluate(background)
    assert dark != "rgb(255, 255, 255)"
    page.get_by_role("button", name="Switch to light theme").click()
    assert page.evaluate(background) == "rgb(255, 255, 255)"
    reload(page)
    assert page.evaluate(background) == "rgb(255, 255, 255)"
    expect(page.get_by_role("button", name="Switch to dark theme")).to_be_visible()


def test_language_comes_from_the_browser_and_the_switch_is_remembered(
    make_context: ContextFactory, server: LiveServer
) -> None:
    page = make_context(locale="zh-CN").new_page()
    open_app(page, server.url)
    expect(page.locator("html")).to_have_attribute("lang", "zh-CN")
    expect(page.get_by_role("button", name="新对话")).to_be_visible()
    expect(page.locator("#persona-select option")).to_have_text(["智能助手", "AI老师", "编程专家"])
    expect(page.locator("#input")).to_have_attribute("placeholder", "输入你的消息…")
    page.get_by_role("button", name="Switch to English").click()
    expect(page.get_by_role("button", name="New chat")).to_be_visible()
    reload(page)
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.locator("#persona-select option")).to_have_text(
        ["Assistant", "Teacher", "Programmer"]
    )


def test_every_control_has_a_name_and_the_keyboard_reaches_the_composer(
    app: Page, upstream: ScriptedUpstream
) -> None:
    chat(app, "hello")
    unnamed = app.evaluate(
        """() => [...document.querySelectorAll("button, select, textarea, input, a")]
            .filter(el => el.getClientRects().length)
            .filter(el => !(el.getAttribute("aria-label") || el.textContent.trim()
                            || el.labels?.length))
            .map(el => el.outerHTML.slice(0, 80))"""
    )
    assert unnamed == []
    expect(app.locator("[aria-live]")).not_to_have_count(0)
    # Tab from the top reaches the message box; typing and Enter send.
    app.locator("body").click(position={"x": 700, "y": 400})
    app.keyboard.press("Shift+Tab")
    for _ in range(30):
        if app.evaluate("document.activeElement.id") == "input":
            break
        app.keyboard.press("Tab")
    assert app.evaluate("document.activeElement.id") == "input"
    app.keyboard.type("typed by keyboard")
    app.keyboard.press("Enter")
    expect(last_reply(app)).to_have_text("You said: typed by keyboard")


def test_page_has_no_inline_script_and_loads_nothing_from_elsewhere() -> None:
    html = (STATIC / "index.html").read_text(encoding="utf-8")
    for tag in re.findall(r"<script\b[^>]*>", html):
        assert "src=" in tag
    assert not re.search(r"<script\b[^>]*>\s*[^<\s]", html)
    assert not re.search(r"\son[a-z]+\s*=", html)
    assert not re.search(r"\sstyle\s*=", html)
    assert not re.search(r"(src|href)=\"(https?:)?//", html)
    for js in (STATIC / "js").glob("*.js"):
        text = js.read_text(encoding="utf-8")
        assert not re.search(r"\.(inner|outer)HTML\s*=|insertAdjacentHTML\(|document\.write", text)
        if js.name != "i18n.js":  # the strings, a table rather than code
            assert len(text.splitlines()) <= 320, js.name


def test_the_page_works_under_a_strict_csp(
    page: Page, server: LiveServer, upstream: ScriptedUpstream, page_log: PageLog
) -> None:
    """script-src 'self' without 'unsafe-inline' (and no inline styles either)."""

    def with_csp(route: Route) -> None:
        response = route.fetch()
        headers = {**response.headers, "content-security-policy": CSP}
        route.fulfill(response=response, headers=headers)

    page.route(re.compile(r"^[^?#]*/(index\.html)?([?#].*)?$"), with_csp)
    page.add_init_script(
        """window.__violations = [];
        document.addEventListener("securitypolicyviolation",
          e => window.__violations.push(e.violatedDirective + " " + e.blockedURI));"""
    )
    open_app(page, server.url)
    upstream.enqueue(Reply(deltas=["**bold** and `code`\n\n```js\nlet a = 1;\n```\n"]))
    chat(page, "check csp")
    expect(last_reply(page).locator(".hljs-keyword")).to_have_text("let")
    assert page.evaluate("window.__violations") == []
    assert not page_log.errors
    assert not page_log.foreign_requests


@pytest.mark.parametrize("scheme", ["light", "dark"])
@pytest.mark.parametrize("device", ["desktop", "phone"])
def test_screenshots(
    make_context: ContextFactory,
    server: LiveServer,
    upstream: ScriptedUpstream,
    page_log: PageLog,
    device: str,
    scheme: str,
) -> None:
    phone = device == "phone"
    ctx = make_context(
        viewport=PHONE if phone else DESKTOP,
        device_scale_factor=2 if phone else 1,
        is_mobile=phone,
        has_touch=phone,
        locale="zh-CN",
        color_scheme=scheme,
    )
    page = watch(ctx.new_page(), page_log)
    open_app(page, server.url)
    if phone:  # the pickers are folded into one control in the phone header
        page.get_by_role("button", name="角色与模型").click()
    page.select_option("#persona-select", "programmer")
    upstream.enqueue(
        Reply(deltas=["你好！我是你的编程专家。有什么想写的代码，尽管告诉我。"]),
        Reply(deltas=[ZH_REPLY[i : i + 12] for i in range(0, len(ZH_REPLY), 12)]),
    )
    chat(page, "你好，请介绍一下你自己。")
    chat(page, "用 Python 写一个斐波那契函数，并解释一下。")
    expect(last_reply(page).locator(".hljs-keyword").first).to_have_text("def")
    page.mouse.move(0, 0)
    assert no_horizontal_scroll(page)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=SCREENSHOTS / f"{device}-{scheme}.png")
    if phone:
        page.get_by_role("button", name="打开侧边栏").click()
        expect(page.locator("#sidebar")).to_be_visible()
        page.wait_for_timeout(300)  # the drawer's slide-in
        page.screenshot(path=SCREENSHOTS / f"{device}-{scheme}-sidebar.png")
    assert not page_log.errors
