"""A streaming reply grows without rebuilding what is already shown."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from tests.browser.chat import last_reply, reload, send, wait_idle
from tests.upstream import Reply, ScriptedUpstream

pytestmark = pytest.mark.browser

# The rendered reply, and what a full render of its text gives (markdown.js itself).
SAME_AS_FULL_RENDER = """async () => {
  // The module itself, from the page's versioned folder (the page runs it folded into
  // its bundle; this copy shares its libraries and reads the same language setting).
  const base = document.querySelector('script[type="module"]').src;
  const { renderMarkdown } = await import(new URL("markdown.js", base).href);
  await (await import(new URL("maths.js", base).href)).mathsReady(); // this copy's KaTeX
  const li = [...document.querySelectorAll("li.msg-assistant")].at(-1);
  const fresh = document.createElement("div");
  fresh.append(renderMarkdown(li.view.text));
  return fresh.innerHTML === li.querySelector(".content").innerHTML;
}"""


def streaming(app: Page) -> None:
    expect(app.locator(".msg-assistant.streaming")).to_have_count(1)


def test_a_finished_paragraph_stays_the_same_node_and_its_selection_survives(
    app: Page, upstream: ScriptedUpstream
) -> None:
    deltas = ["The first paragraph is done.\n\nThe second", *[f" w{i}" for i in range(60)]]
    upstream.enqueue(Reply(deltas=deltas, delay=0.08))
    send(app, "two paragraphs")
    first = last_reply(app).locator("p").first
    expect(first).to_have_text("The first paragraph is done.")
    expect(last_reply(app)).to_contain_text("w2")
    streaming(app)
    node = first.element_handle()
    growing = last_reply(app).locator("p").nth(1).element_handle()
    # The reader selects the first paragraph, and the start of the second, mid-stream.
    app.evaluate(
        """([p, q]) => {
          window.__picked = [];
          for (const [el, end] of [[p, p.firstChild.length], [q, 10]]) {
            const range = document.createRange();
            range.setStart(el.firstChild, 0);
            range.setEnd(el.firstChild, end);
            window.__picked.push(range);
          }
          const selection = getSelection();
          selection.removeAllRanges();
          selection.addRange(window.__picked[0]);
        }""",
        [node, growing],
    )
    expect(last_reply(app)).to_contain_text("w20")
    streaming(app)
    kept = app.evaluate(
        """([p, q]) => ({
          same: document.querySelector("li.msg-assistant:last-child p") === p,
          growingSame: document.querySelectorAll("li.msg-assistant:last-child p")[1] === q,
          selected: getSelection().toString(),
          start: window.__picked[1].toString(),
        })""",
        [node, growing],
    )
    assert kept == {
        "same": True,
        "growingSame": True,
        "selected": "The first paragraph is done.",
        "start": "The second",
    }
    wait_idle(app)
    # The final render keeps it too, and equals a full render of the text.
    assert app.evaluate("(p) => p.isConnected && getSelection().toString()", node) == (
        "The first paragraph is done."
    )
    expect(last_reply(app).locator("p").nth(1)).to_contain_text("w59")
    assert app.evaluate(SAME_AS_FULL_RENDER) is True


def test_copy_in_a_finished_code_block_works_while_the_reply_grows(
    app: Page, upstream: ScriptedUpstream
) -> None:
    app.context.grant_permissions(["clipboard-read", "clipboard-write"])
    deltas = ["Run:\n\n```sh\necho hi\n```\n\nThen", *[f" w{i}" for i in range(80)]]
    upstream.enqueue(Reply(deltas=deltas, delay=0.08))
    send(app, "give me a command")
    button = last_reply(app).get_by_role("button", name="Copy code")
    expect(button).to_be_visible()
    expect(last_reply(app)).to_contain_text("w1")
    streaming(app)
    # A held click: the button pressed must still be there when it is released.
    box = button.bounding_box()
    assert box is not None
    app.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    app.mouse.down()
    expect(last_reply(app)).to_contain_text("w12")
    app.mouse.up()
    expect(app.locator("#toast")).to_have_text("Copied")
    streaming(app)
    assert app.evaluate("navigator.clipboard.readText()") == "echo hi"
    # The finished block is highlighted.
    expect(last_reply(app).locator(".code-block code")).to_have_class("hljs language-sh")
    wait_idle(app)


def test_a_code_block_is_highlighted_when_it_is_finished(
    app: Page, upstream: ScriptedUpstream
) -> None:
    head = "```python\ndef greet(name):\n"
    tail = ["    return name\n", "```\n", "\nDone", *[f" w{i}" for i in range(30)]]
    upstream.enqueue(
        Reply(deltas=[head, *[f"    x{i} = {i}\n" for i in range(15)], *tail], delay=0.08)
    )
    send(app, "code")
    code = last_reply(app).locator(".code-block code")
    expect(code).to_contain_text("x2 = 2")
    # Still growing: shown as plain text (highlighting waits for the fence to close).
    expect(code.locator(".hljs-keyword")).to_have_count(0)
    pre = code.element_handle()
    expect(last_reply(app)).to_contain_text("Done w0 w1")
    expect(code.locator(".hljs-keyword").first).to_have_text("def")
    assert app.evaluate("(c) => c.isConnected", pre) is True  # highlighted in place
    wait_idle(app)


MARKDOWN = """# Plan

Some **bold**, *italic*, `code` and [a link](https://example.com/docs).

- apples
- pears

  still pears

1. first
2. second

| name | qty |
|------|----:|
| tea  |   2 |

```js
const a = 1;
```

> quoted
lazy line

Setext
------

Uses [the ref][r] defined later, and $E=mc^2$.

[r]: https://example.com/ref
"""


@pytest.mark.parametrize("size", [1, 5, 23])
def test_the_streamed_reply_ends_equal_to_a_full_render(
    app: Page, upstream: ScriptedUpstream, size: int
) -> None:
    deltas = [MARKDOWN[i : i + size] for i in range(0, len(MARKDOWN), size)]
    upstream.enqueue(Reply(deltas=deltas, delay=0.005))
    send(app, "markdown")
    wait_idle(app)
    reply = last_reply(app)
    expect(reply.locator("h1")).to_have_text("Plan")
    expect(reply.locator("a", has_text="the ref")).to_have_attribute(
        "href", "https://example.com/ref"
    )
    expect(reply.locator(".katex")).to_have_count(1)
    assert app.evaluate(SAME_AS_FULL_RENDER) is True
    shown = reply.inner_html()
    # The stored message, rendered afresh after a reload, looks the same.
    reload(app)
    expect(last_reply(app).locator(".katex")).to_have_count(1)
    assert last_reply(app).inner_html() == shown
