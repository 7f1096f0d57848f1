"""Maths in replies: drawn by KaTeX (served from this origin), never in code, never money."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Page, expect

from tests.browser.chat import chat, last_reply, send, wait_idle
from tests.browser.conftest import PageLog
from tests.upstream import Reply, ScriptedUpstream

pytestmark = pytest.mark.browser


def reply_with(app: Page, upstream: ScriptedUpstream, text: str, size: int = 3) -> None:
    upstream.enqueue(Reply(deltas=[text[i : i + size] for i in range(0, len(text), size)]))
    chat(app, "maths please")


def mathml(app: Page, index: int = 0) -> str:
    """The MathML KaTeX drew for the `index`th formula of the last reply (what it understood)."""
    return last_reply(app).locator(".katex-mathml math").nth(index).inner_html()


def test_inline_and_display_maths_with_both_delimiters(
    app: Page, upstream: ScriptedUpstream, page_log: PageLog
) -> None:
    text = (
        "Energy: $E=mc^2$ and \\(a_1 + b_2\\).\n\n"
        "$$\n\\frac{a}{b} = \\sqrt{x}\n$$\n\n"
        "\\[\n\\sum_{i=1}^{n} i\n\\]\n"
    )
    reply_with(app, upstream, text)
    reply = last_reply(app)
    inline = reply.locator("p .math[data-math='inline'] .katex")
    expect(inline).to_have_count(2)
    expect(reply.locator(".math-block .katex-display")).to_have_count(2)
    assert "<mi>E</mi><mo>=</mo><mi>m</mi><msup>" in mathml(app, 0)
    # Backslashes and underscores reach KaTeX as written (Markdown did not eat them).
    assert "<msub><mi>a</mi><mn>1</mn></msub>" in mathml(app, 1)
    assert "<mfrac>" in mathml(app, 2)
    assert "<msqrt>" in mathml(app, 2)
    assert "<munderover>" in mathml(app, 3) or "<msubsup>" in mathml(app, 3)
    expect(reply).not_to_contain_text("\\frac")
    # KaTeX, its stylesheet and its fonts all come from this origin.
    assert not page_log.foreign_requests
    assert not page_log.failed_responses
    assert not page_log.errors
    loaded = app.evaluate("performance.getEntriesByType('resource').map((e) => e.name)")
    assert any(urlsplit(url).path.endswith("/vendor/katex.js") for url in loaded)
    assert any(url.endswith(".woff2") for url in loaded)


def test_money_is_not_maths(app: Page, upstream: ScriptedUpstream) -> None:
    reply_with(app, upstream, "It costs $5 and $10, or US$20/$30 in all.")
    expect(last_reply(app)).to_have_text("It costs $5 and $10, or US$20/$30 in all.")
    expect(last_reply(app).locator(".math")).to_have_count(0)


def test_code_is_never_maths(app: Page, upstream: ScriptedUpstream) -> None:
    text = "Inline `$x^2$` and `\\(y\\)`.\n\n```tex\n$$\\frac{1}{2}$$\n\\[z\\]\n```\n\nBut $k$ is."
    reply_with(app, upstream, text)
    reply = last_reply(app)
    expect(reply.locator(":not(pre) > code")).to_have_text(["$x^2$", "\\(y\\)"])
    expect(reply.locator("pre code")).to_have_text("$$\\frac{1}{2}$$\n\\[z\\]")
    expect(reply.locator("code .math, code .katex")).to_have_count(0)
    expect(reply.locator(".katex")).to_have_count(1)


def test_copy_gives_the_source(app: Page, upstream: ScriptedUpstream) -> None:
    app.context.grant_permissions(["clipboard-read", "clipboard-write"])
    text = "Area: $\\pi r^2$\n\n$$\n\\int_0^1 x\\,dx\n$$"
    reply_with(app, upstream, text)
    expect(last_reply(app).locator(".katex")).to_have_count(2)
    app.locator(".msg-assistant").last.get_by_role("button", name="Copy").click()
    expect(app.locator("#toast")).to_have_text("Copied")
    assert app.evaluate("navigator.clipboard.readText()") == text


def test_maths_is_drawn_while_the_reply_streams(app: Page, upstream: ScriptedUpstream) -> None:
    deltas = ["So $", "x^", "2$ holds", *[f" w{i}" for i in range(40)]]
    upstream.enqueue(Reply(deltas=deltas, delay=0.08))
    send(app, "stream maths")
    expect(last_reply(app).locator(".katex")).to_have_count(1)
    expect(app.locator(".msg-assistant.streaming")).to_have_count(1)
    wait_idle(app)
    expect(last_reply(app).locator(".katex")).to_have_count(1)


# Each sets window.__pwned, or tries to reach another origin, if KaTeX's output let it.
MATH_PAYLOADS = [
    "$\\href{javascript:window.__pwned=1}{click}$",
    "$$\\url{javascript:window.__pwned=1}$$",
    "\\(\\htmlClass{x}{\\htmlStyle{background:url(https://evil.example/x)}{y}}\\)",
    "\\[\\htmlId{a}{\\htmlData{onclick=window.__pwned=1}{b}}\\]",
    "$<img src=x onerror=window.__pwned=1>$",
    "$\\text{<script>window.__pwned=1</script>}$",
    "$\\includegraphics{https://evil.example/x.png}$",
    '$x$<img src=x onerror="window.__pwned=1">',
]

INERT = """() => {
  const bad = [];
  for (const el of document.querySelectorAll("#messages *")) {
    const tag = el.tagName.toLowerCase();
    const never = ["script", "iframe", "object", "embed", "form", "style"];
    if (never.includes(tag) || (["img", "a"].includes(tag) && el.closest(".math"))) {
      bad.push("tag " + tag);
    }
    for (const attr of el.attributes) {
      if (/^on/i.test(attr.name)) bad.push(tag + " " + attr.name);
      if (/^(javascript|vbscript|data:text)/i.test(attr.value.replace(/[\\s\\0]/g, ""))) {
        bad.push(tag + " " + attr.name + "=" + attr.value);
      }
      if (/url\\(/i.test(attr.value)) bad.push(tag + " " + attr.name + "=" + attr.value);
    }
  }
  return { bad, pwned: typeof window.__pwned !== "undefined" };
}"""


def test_maths_cannot_run_script_or_load_anything(
    app: Page, upstream: ScriptedUpstream, page_log: PageLog
) -> None:
    reply_with(app, upstream, "\n\n".join(MATH_PAYLOADS), size=4)
    reply = last_reply(app)
    expect(reply.locator(".math")).to_have_count(len(MATH_PAYLOADS))
    expect(reply.locator(".math-pending")).to_have_count(0)
    for formula in reply.locator(".math").all():
        formula.hover(force=True)
    assert app.evaluate(INERT) == {"bad": [], "pwned": False}
    assert not page_log.foreign_requests
    assert not page_log.dialogs
