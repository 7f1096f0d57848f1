"""axe-core (pinned in package.json, used only here) finds no accessibility violation:
the empty page, a conversation with rendered Markdown, the dialogs, the phone layout
with the sidebar open and the sign-in screen, in both themes and both languages."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from tests.accounts import PASSWORD_MODE
from tests.browser.chat import chat, last_reply, open_app
from tests.browser.conftest import PHONE, ContextFactory, PageLog, watch
from tests.conftest import ServerFactory
from tests.live import LiveServer
from tests.upstream import Reply, ScriptedUpstream

pytestmark = pytest.mark.browser

AXE = Path(__file__).resolve().parents[2] / "node_modules" / "axe-core" / "axe.min.js"
LOCALES = {"en": "en-US", "zh": "zh-CN"}

MARKDOWN = """## A plan

Some **bold** text, `inline code` and a [link](https://example.com/).

### Steps

- [x] Pack the bags
- [ ] Book the train

| Day | Where | Notes |
|-----|-------|-------|
| Monday | Lisbon | The internationalization workshop |
| Tuesday | Porto | A longer day on the river |

```python
def very_long_function_name(argument_one, argument_two, argument_three, argument_four, five):
    return argument_one + argument_two + argument_three + argument_four + five  # WIDE
```

1. first
2. second

> a quote
""".replace("WIDE", "and more, " * 12)


def axe_violations(page: Page) -> list[dict[str, Any]]:
    """Run axe on the page as it is now; what it finds, compactly."""
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        page.add_script_tag(path=str(AXE))
    found = page.evaluate(
        """async () => {
          const result = await axe.run(document, { resultTypes: ["violations"] });
          return result.violations.map(v => ({
            id: v.id, impact: v.impact, nodes: v.nodes.slice(0, 5).map(n => n.target.join(" ")),
          }));
        }"""
    )
    return list(found)


def make_page(
    make_context: ContextFactory, page_log: PageLog, *, lang: str, scheme: str, **options: Any
) -> Page:
    if not AXE.is_file():
        pytest.skip("node_modules/axe-core is missing: run `make web-assets`")
    # axe is injected as a script: the page's own policy allows only its own files.
    ctx = make_context(locale=LOCALES[lang], color_scheme=scheme, bypass_csp=True, **options)
    return watch(ctx.new_page(), page_log)


THEMES_AND_LANGUAGES = [
    pytest.param(lang, scheme, id=f"{lang}-{scheme}")
    for lang in ("en", "zh")
    for scheme in ("light", "dark")
]


@pytest.mark.parametrize(("lang", "scheme"), THEMES_AND_LANGUAGES)
def test_no_violations_in_the_chat(
    make_context: ContextFactory,
    page_log: PageLog,
    server: LiveServer,
    upstream: ScriptedUpstream,
    lang: str,
    scheme: str,
) -> None:
    page = open_app(make_page(make_context, page_log, lang=lang, scheme=scheme), server.url)
    assert axe_violations(page) == [], "the empty page"

    upstream.enqueue(Reply([MARKDOWN[i : i + 40] for i in range(0, len(MARKDOWN), 40)]))
    chat(page, "Plan a trip")
    expect(last_reply(page).locator("table")).to_be_visible()
    code = last_reply(page).locator("pre")
    assert code.evaluate("el => el.scrollWidth > el.clientWidth"), "the code should scroll"
    assert axe_violations(page) == [], "a conversation with Markdown"

    page.locator("#chat-title").click()
    page.keyboard.press("?")
    expect(page.locator("#help-dialog")).to_be_visible()
    assert axe_violations(page) == [], "the shortcuts dialog"
    page.keyboard.press("Escape")

    page.locator("#clear-history").click()
    expect(page.locator("#confirm-dialog")).to_be_visible()
    assert axe_violations(page) == [], "the confirmation dialog"
    page.keyboard.press("Escape")

    page.locator("#open-personas").click()
    expect(page.locator("#persona-list .persona-item").first).to_be_visible()
    assert axe_violations(page) == [], "the personas page"
    page.locator("#persona-new").click()
    expect(page.locator("#persona-form")).to_be_visible()
    assert axe_violations(page) == [], "the persona editor"
    page.keyboard.press("Escape")
    page.locator("#open-memory").click()
    expect(page.locator("#memory-budget")).not_to_be_empty()
    assert axe_violations(page) == [], "the memory page"
    page.keyboard.press("Escape")
    assert not page_log.errors


@pytest.mark.parametrize(("lang", "scheme"), THEMES_AND_LANGUAGES)
def test_no_violations_on_a_phone_with_the_sidebar_open(
    make_context: ContextFactory,
    page_log: PageLog,
    server: LiveServer,
    upstream: ScriptedUpstream,
    lang: str,
    scheme: str,
) -> None:
    page = make_page(
        make_context,
        page_log,
        lang=lang,
        scheme=scheme,
        viewport=PHONE,
        is_mobile=True,
        has_touch=True,
    )
    open_app(page, server.url)
    upstream.enqueue(Reply([MARKDOWN]))
    chat(page, "Plan a trip")
    page.locator("#pickers-toggle").click()
    expect(page.locator("#persona-select")).to_be_visible()
    assert axe_violations(page) == [], "the phone's pickers"
    page.locator("#pickers-toggle").click()
    page.locator("#open-sidebar").click()
    expect(page.locator("#sidebar")).to_have_css("transform", "none")
    assert axe_violations(page) == [], "the sidebar open"


@pytest.mark.parametrize(("lang", "scheme"), THEMES_AND_LANGUAGES)
def test_no_violations_on_the_sign_in_screen(
    make_context: ContextFactory,
    page_log: PageLog,
    make_server: ServerFactory,
    lang: str,
    scheme: str,
) -> None:
    server = make_server(**PASSWORD_MODE)
    page = open_app(make_page(make_context, page_log, lang=lang, scheme=scheme), server.url)
    expect(page.locator("#auth")).to_be_visible()
    assert axe_violations(page) == [], "signing in"
    page.locator("#tab-signup").click()
    expect(page.locator("#invite-field")).to_be_visible()
    assert axe_violations(page) == [], "signing up"
