"""The chat page's own cost, in chromium: ``python -m bench.rendering [--quick] [--out DIR]``.

Debian's chromium, driven by Playwright, opens the real page served by a ``parlour
serve`` child (the shared bundled Redis; the scripted upstream of tests/upstream.py
in this process). Three scenes:

- a markdown-heavy reply (~700 tokens: headings, lists, tables, highlighted code)
  and 3,000 plain words, streamed through the page: main-thread time per streamed
  token (CDP ``Performance.getMetrics`` ``TaskDuration``, from send to shown, divided
  by the deltas sent), the worst gap between animation frames and the longest task
  while streaming, and the time from the upstream's last frame to the reply fully
  shown (the frame after the page ended the reply); the final DOM is checked against a
  full render of the text;
- a conversation of 1,000 stored messages opened by its link: time to usable (the
  page ready, its latest messages shown), then, with all 1,000 loaded ("Load
  earlier"), the p95 frame time of a scripted scroll to the top and the JS heap after
  a garbage collection.

A full run writes ``bench/results/rendering.json`` and the table into
``bench/README.md``; ``--quick`` runs every scene at toy sizes (its figures mean
nothing) and writes only where ``--out`` says.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import re
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from playwright.sync_api import Page, sync_playwright
from redis.asyncio import Redis
from tests.browser.launch import CHROMIUM, CHROMIUM_ARGS
from tests.upstream import Reply, ScriptedUpstream

from bench.fixtures import OWNER, SharedRedis
from bench.procs import Server
from bench.report import BENCH_DIR, machine, pct
from parlour.domain import Message, new_id, now
from parlour.store import ConversationStore, Keys

POLL_MS = 50  # how often the driver looks for the reply shown (not per frame)

START = "<!-- rendering:start -->"
END = "<!-- rendering:end -->"

GOALS = {
    "ms_per_token": 2.0,
    "worst_frame_ms": 50.0,
    "shown_after_ms": 100.0,
    "usable_ms": 1000.0,
    "scroll_p95_ms": 17.0,
    "heap_mb": 30.0,
}

# Installed before the page's own scripts: frame gaps, long tasks, and when a reply
# stops streaming (its last render is then in the DOM; the next frame shows it).
PROBE = """
(() => {
  const b = (window.__bench = { frames: [], tasks: [], shownAt: null, readyAt: null, on: false });
  // A frame loop of its own makes chromium draw every frame (~40 ms of main-thread CPU
  // a second here, page idle): it runs only in the passes that measure frames.
  const frame = (t) => {
    if (b.on) b.frames.push(t - b.last);
    b.last = t;
    if (b.on) requestAnimationFrame(frame);
  };
  b.countFrames = () => requestAnimationFrame((t) => { b.last = t; requestAnimationFrame(frame); });
  try {
    new PerformanceObserver((list) => {
      if (b.on) for (const e of list.getEntries()) b.tasks.push(e.duration);
    }).observe({ type: "longtask" });
  } catch {}
  new MutationObserver((records) => {
    for (const r of records) {
      const el = r.target;
      if (el === document.body && el.dataset.ready === "true" && b.readyAt === null) {
        b.readyAt = performance.now();
      }
      if (el.classList?.contains("msg-assistant") && r.oldValue?.includes("streaming")
          && !el.classList.contains("streaming") && b.on) {
        requestAnimationFrame(() => { b.shownAt = performance.timeOrigin + performance.now(); });
      }
    }
  }).observe(document, { attributes: true, attributeFilter: ["class", "data-ready"],
                         attributeOldValue: true, subtree: true });
})();
"""

SAME_AS_FULL_RENDER = """async () => {
  const { renderMarkdown } = await import("/js/markdown.js");
  const li = [...document.querySelectorAll("li.msg-assistant")].at(-1);
  const fresh = document.createElement("div");
  fresh.append(renderMarkdown(li.view.text));
  return fresh.innerHTML === li.querySelector(".content").innerHTML;
}"""

SCROLL = """async ([step, most]) => {
  const s = document.getElementById("scroller");
  const frame = () => new Promise((r) => requestAnimationFrame(r));
  s.scrollTop = s.scrollHeight;
  await frame();
  let last = await frame();
  const gaps = [];
  for (let i = 0; i < most && s.scrollTop > 0; i++) {
    s.scrollTop -= step;
    const t = await frame();
    gaps.push(t - last);
    last = t;
  }
  return gaps;
}"""


@dataclass(frozen=True)
class Sizes:
    markdown_repeats: int = 5  # sections of the markdown reply (~140 tokens each)
    markdown_pace: float = 0.01
    words: int = 3000
    words_pace: float = 0.005
    messages: int = 1000
    scroll_frames: int = 300


QUICK = Sizes(markdown_repeats=1, words=300, messages=120, scroll_frames=60)

SECTION = """## Step {n}: read the data

Load the **file** with *pandas*, check the `dtypes` and see [the guide](https://example.com/{n}).

- keep the rows where `qty > 0`
- group by **region**
- sum the totals, then sort

| region | qty | total |
|--------|----:|------:|
| north  | {n}2 | 1{n}0.5 |
| south  | 7 | 88.25 |

```python
import pandas as pd

def load(path: str) -> pd.DataFrame:
    frame = pd.read_csv(path)
    return frame[frame["qty"] > 0].groupby("region").sum()
```

> Note: the totals are in euros; step {n} takes about a second.

"""

WORDS = [
    "the",
    "quick",
    "brown",
    "fox",
    "jumps",
    "over",
    "a",
    "lazy",
    "dog",
    "while",
    "seven",
    "wizards",
    "quietly",
    "hex",
    "every",
    "jolly",
    "bouncing",
    "kangaroo",
    "near",
    "distant",
    "rivers",
    "and",
    "silent",
    "frozen",
    "mountains",
]


def markdown_deltas(repeats: int) -> list[str]:
    """A markdown-heavy reply, split into deltas of about one token (4 characters)."""
    text = "".join(SECTION.format(n=n) for n in range(1, repeats + 1))
    return re.findall(r"\s*\S{1,4}|\s+", text)


def word_deltas(count: int) -> list[str]:
    """Plain prose: ``count`` words, one per delta, in paragraphs of 60."""
    words = itertools.islice(itertools.cycle(WORDS), count)
    return [w + ("\n\n" if (i + 1) % 60 == 0 else " ") for i, w in enumerate(words)]


def metrics(cdp: Any) -> dict[str, float]:
    return {m["name"]: m["value"] for m in cdp.send("Performance.getMetrics")["metrics"]}


TICK = os.sysconf("SC_CLK_TCK")


def renderer_cpu(browser_cdp: Any) -> tuple[float, float]:
    """CPU seconds used so far by the renderer processes, and by their main threads.

    Only the page's renderer is busy. CPU time, unlike the length of a task, does not
    grow when other programs on the machine take the cores away from the page.
    """
    info = browser_cdp.send("SystemInfo.getProcessInfo")["processInfo"]
    pids = [int(p["id"]) for p in info if p["type"] == "renderer"]
    main = 0.0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/task/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        main += (int(fields[11]) + int(fields[12])) / TICK  # utime + stime
    return float(sum(p["cpuTime"] for p in info if p["type"] == "renderer")), main


def new_session(port: int) -> str:
    r = httpx.post(f"http://127.0.0.1:{port}/api/v1/sessions", json={}, timeout=30)
    r.raise_for_status()
    return str(r.json()["id"])


def open_page(page: Page, port: int, sid: str) -> None:
    page.goto(f"http://127.0.0.1:{port}/#/c/{sid}")
    page.wait_for_selector("body[data-ready='true']")


def stream(page: Page, cdp: Any, browser_cdp: Any, server: Server, upstream: ScriptedUpstream,
           deltas: list[str], pace: float) -> dict[str, Any]:  # fmt: skip
    """Stream ``deltas`` twice, each into a fresh conversation: once for what it costs
    the page's main thread (no frame counting, which costs a frame's work each frame),
    once for its frames and the time to the reply shown."""
    cost = stream_once(page, cdp, browser_cdp, server, upstream, deltas, pace, frames=False)
    seen = stream_once(page, cdp, browser_cdp, server, upstream, deltas, pace, frames=True)
    keep = ("worst_frame_ms", "p95_frame_ms", "frames_over_50ms", "longest_task_ms",
            "shown_after_ms", "equals_full_render")  # fmt: skip
    cost.update({k: seen[k] for k in keep})
    cost["main_cpu_ms_per_token_counting_frames"] = seen["main_cpu_ms_per_token"]
    cost["equals_full_render"] = cost["equals_full_render_cost_pass"] and seen["equals_full_render"]
    return cost


def stream_once(page: Page, cdp: Any, browser_cdp: Any, server: Server,
                upstream: ScriptedUpstream, deltas: list[str], pace: float, *,
                frames: bool) -> dict[str, Any]:  # fmt: skip
    open_page(page, server.port, new_session(server.port))
    upstream.enqueue(Reply(deltas=deltas, delay=pace))
    ended = len(upstream.ended)
    page.evaluate("() => { __bench.frames = []; __bench.tasks = []; __bench.shownAt = null; }")
    before = metrics(cdp)
    cpu_before = renderer_cpu(browser_cdp)
    page.evaluate(
        f"() => {{ __bench.on = true; if ({str(frames).lower()}) __bench.countFrames(); }}"
    )
    box = page.locator("#input")
    box.fill("go")
    box.press("Enter")
    # Polled on a timer: Playwright's default polls on every animation frame, which
    # makes chromium draw every frame while the reply streams (the cost measured here).
    page.wait_for_function(
        "() => __bench.shownAt !== null",
        timeout=len(deltas) * pace * 4000 + 60_000,
        polling=POLL_MS,
    )
    after = metrics(cdp)
    cpu_after = renderer_cpu(browser_cdp)
    cpu_ms = (cpu_after[0] - cpu_before[0]) * 1000
    main_ms = (cpu_after[1] - cpu_before[1]) * 1000
    probe = page.evaluate("() => { __bench.on = false; return __bench; }")
    same = page.evaluate(SAME_AS_FULL_RENDER)
    last_sent = upstream.ended[ended] if len(upstream.ended) > ended else float("nan")

    def per_token(metric: str) -> float:
        return (after[metric] - before[metric]) * 1000 / len(deltas)

    frames = probe["frames"] or [0.0]
    return {
        "deltas": len(deltas),
        "characters": len("".join(deltas)),
        "ms_per_token": per_token("TaskDuration"),
        "script_ms_per_token": per_token("ScriptDuration"),
        "layout_ms_per_token": per_token("LayoutDuration"),
        "renderer_cpu_ms_per_token": cpu_ms / len(deltas),
        "main_cpu_ms_per_token": main_ms / len(deltas),
        "worst_frame_ms": max(frames),
        "p95_frame_ms": pct(frames, 95),
        "frames_over_50ms": sum(1 for f in frames if f > 50),
        "longest_task_ms": max(probe["tasks"], default=0.0),
        "shown_after_ms": probe["shownAt"] - last_sent * 1000,
        "equals_full_render": same,
        "equals_full_render_cost_pass": same,
    }


def seed(redis_url: str, sid: str, count: int) -> None:
    """``count`` stored messages: questions, and answers with lists and (every 5th) code."""

    async def go() -> None:
        async with Redis.from_url(redis_url, decode_responses=True) as redis:
            store = ConversationStore(redis, Keys("parlour"), max_messages=max(10_000, count))
            session = await store.get_session(OWNER, sid)
            parent = None
            for i in range(count):
                if i % 2 == 0:
                    role, text = "user", f"Question {i}: how do I sort a list of totals by region?"
                else:
                    role = "assistant"
                    text = (
                        f"Answer {i}: use **sorted** with a key.\n\n- group by region\n"
                        "- sum the totals\n- sort the result\n"
                    )
                    if i % 10 == 1:
                        text += "\n```python\nrows = sorted(rows, key=lambda r: r.total)\n```\n"
                message = Message(new_id(), role, text, now(), session.persona,
                                  model="bench", parent=parent)  # fmt: skip
                await store.append_message(session, message)
                parent = message.id

    with ThreadPoolExecutor(1) as pool:  # Playwright's loop runs in this thread
        pool.submit(asyncio.run, go()).result()


def long_conversation(page: Page, cdp: Any, server: Server, redis: SharedRedis,
                      sizes: Sizes) -> dict[str, Any]:  # fmt: skip
    sid = new_session(server.port)
    seed(redis.url, sid, sizes.messages)
    page.goto("about:blank")
    started = time.monotonic()
    open_page(page, server.port, sid)
    page.wait_for_selector("#messages li.msg")
    usable_ms = page.evaluate("() => __bench.readyAt")
    opened_wall_ms = (time.monotonic() - started) * 1000
    shown_first = page.locator("#messages li.msg").count()
    opened_gaps = page.evaluate(SCROLL, [200, sizes.scroll_frames])
    started = time.monotonic()
    earlier = page.locator("#load-earlier")
    for _ in range(sizes.messages // 100 + 2):
        if not earlier.is_visible():
            break
        count = page.locator("#messages li.msg").count()
        earlier.click()
        page.wait_for_function(
            f"() => document.querySelectorAll('#messages li.msg').length > {count}"
        )
    all_loaded_ms = (time.monotonic() - started) * 1000
    shown_all = page.locator("#messages li.msg").count()
    gaps = page.evaluate(SCROLL, [200, sizes.scroll_frames])
    cdp.send("HeapProfiler.collectGarbage")
    heap = metrics(cdp)["JSHeapUsedSize"] / 2**20
    return {
        "messages": sizes.messages,
        "usable_ms": usable_ms,
        "opened_wall_ms": opened_wall_ms,
        "shown_at_open": shown_first,
        "all_loaded_ms": all_loaded_ms,
        "shown_all": shown_all,
        "opened_scroll_p95_ms": pct(opened_gaps, 95),
        "scroll_frames": len(gaps),
        "scroll_p95_ms": pct(gaps, 95),
        "scroll_worst_ms": max(gaps, default=0.0),
        "heap_mb": heap,
        "dom_nodes": metrics(cdp)["Nodes"],
    }


def verdict(value: float, goal: float) -> str:
    return "pass" if value <= goal else "**miss**"


def render(results: dict[str, Any]) -> str:
    md, words, conv = results["markdown"], results["words"], results["conversation"]
    g = GOALS
    n = f"{conv['messages']:,}"
    worst = max(md["worst_frame_ms"], words["worst_frame_ms"])
    shown = max(md["shown_after_ms"], words["shown_after_ms"])
    rows = [
        ("main-thread CPU per token, markdown reply (task time)", f"≤ {g['ms_per_token']} ms",
         f"{md['main_cpu_ms_per_token']:.2f} ms ({md['ms_per_token']:.2f} ms)",
         verdict(md["main_cpu_ms_per_token"], g["ms_per_token"])),
        ("main-thread CPU per token, plain words (task time)", f"≤ {g['ms_per_token']} ms",
         f"{words['main_cpu_ms_per_token']:.2f} ms ({words['ms_per_token']:.2f} ms)",
         verdict(words["main_cpu_ms_per_token"], g["ms_per_token"])),
        ("worst frame while streaming, markdown / words", f"≤ {g['worst_frame_ms']:.0f} ms",
         f"{md['worst_frame_ms']:.0f} / {words['worst_frame_ms']:.0f} ms",
         verdict(worst, g["worst_frame_ms"])),
        ("reply fully shown after its last event, markdown / words",
         f"≤ {g['shown_after_ms']:.0f} ms",
         f"{md['shown_after_ms']:.0f} / {words['shown_after_ms']:.0f} ms",
         verdict(shown, g["shown_after_ms"])),
        (f"{n} stored messages: opened by link, usable", f"≤ {g['usable_ms']:.0f} ms",
         f"{conv['usable_ms']:.0f} ms ({conv['shown_at_open']} latest shown)",
         verdict(conv["usable_ms"], g["usable_ms"])),
        (f"{n} messages all loaded: scroll p95 frame", f"≤ {g['scroll_p95_ms']:.0f} ms",
         f"{conv['scroll_p95_ms']:.1f} ms (worst {conv['scroll_worst_ms']:.0f} ms, "
         f"{conv['scroll_frames']} frames)",
         verdict(conv["scroll_p95_ms"], g["scroll_p95_ms"])),
        (f"{n} messages all loaded: JS heap after GC", f"≤ {g['heap_mb']:.0f} MB",
         f"{conv['heap_mb']:.1f} MB ({conv['dom_nodes']:,.0f} DOM nodes)",
         verdict(conv["heap_mb"], g["heap_mb"])),
    ]  # fmt: skip
    info, sizes = results["machine"], results["sizes"]
    lines = [
        f"Machine: {info['cpu']}, {info['cores']} cores; chromium {results['browser']} headless; "
        f"Parlour {info['commit'] or '?'}; {info['date']}; run took {results['elapsed_s']:.0f} s"
        f"{' (quick smoke mode)' if results['quick'] else ''}.",
        f"Load average before / after the run: {info['load_before']} / {results['load_after']}.",
        "",
        "| figure | goal | measured | verdict |",
        "|---|---|---|---|",
        *(f"| {a} | {b} | {c} | {d} |" for a, b, c, d in rows),
        "",
        f"- markdown reply: {md['deltas']} deltas ({md['characters']:,} characters) "
        f"{sizes['markdown_pace'] * 1000:.0f} ms apart; {detail(md)}",
        f"- plain words: {words['deltas']} words {sizes['words_pace'] * 1000:.0f} ms apart, "
        f"in paragraphs of 60; {detail(words)}",
        f"- conversation: page ready {conv['usable_ms']:.0f} ms after navigation "
        f"({conv['opened_wall_ms']:.0f} ms as seen by the driver); loading the other "
        f"{conv['shown_all'] - conv['shown_at_open']} messages took {conv['all_loaded_ms']:.0f} ms "
        "of clicks; scrolled 200 px per frame; scroll p95 frame with the latest "
        f"{conv['shown_at_open']} only (as opened): {conv['opened_scroll_p95_ms']:.1f} ms.",
    ]
    return "\n".join(lines) + "\n"


def detail(s: dict[str, Any]) -> str:
    cost = (
        f"script {s['script_ms_per_token']:.2f} ms, layout {s['layout_ms_per_token']:.2f} ms "
        f"and the renderer process's CPU (all its threads) {s['renderer_cpu_ms_per_token']:.2f} ms "
        f"per token (main thread {s['main_cpu_ms_per_token_counting_frames']:.2f} ms per token "
        "in the pass that counts frames)"
    )
    frames = (
        f"p95 frame {s['p95_frame_ms']:.1f} ms, {s['frames_over_50ms']} frames over 50 ms, "
        f"longest task {s['longest_task_ms']:.0f} ms"
    )
    same = "yes" if s["equals_full_render"] else "NO"
    return f"{cost}; {frames}; final DOM equals a full render: {same}."


def update_readme(text: str, readme: Path = BENCH_DIR / "README.md") -> None:
    current = readme.read_text()
    if START not in current or END not in current:
        return
    before, rest = current.split(START, 1)
    _, after = rest.split(END, 1)
    readme.write_text(f"{before}{START}\n{text}{END}{after}")


def run(sizes: Sizes, pythonpath: str | None = None, streaming_only: bool = False,
        conversation_only: bool = False) -> dict[str, Any]:  # fmt: skip
    redis = SharedRedis()
    upstream = ScriptedUpstream().start()
    server: Server | None = None
    try:
        env = {
            "REDIS_URL": redis.url,
            "OPENAI_BASE_URL": upstream.url,
            "OPENAI_API_KEY": "bench",
            "OPENAI_MODEL": "bench",
            "LOCAL_ENABLED": "false",
            "TITLES": "false",  # the bench's upstream plays the reply only
        }
        if pythonpath:
            env["PYTHONPATH"] = pythonpath
        server = Server(env)
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            try:
                context = browser.new_context(
                    viewport={"width": 1280, "height": 800}, locale="en-US"
                )
                context.add_init_script(PROBE)
                page = context.new_page()
                cdp = context.new_cdp_session(page)
                cdp.send("Performance.enable")
                bcdp = browser.new_browser_cdp_session()
                md = words = None
                if not conversation_only:
                    md_deltas = markdown_deltas(sizes.markdown_repeats)
                    md = stream(page, cdp, bcdp, server, upstream, md_deltas, sizes.markdown_pace)
                    word = word_deltas(sizes.words)
                    words = stream(page, cdp, bcdp, server, upstream, word, sizes.words_pace)
                conv = (
                    None if streaming_only else long_conversation(page, cdp, server, redis, sizes)
                )
                version = browser.version
            finally:
                browser.close()
    finally:
        if server is not None:
            server.stop()
        upstream.stop()
        redis.stop()
    return {"markdown": md, "words": words, "conversation": conv, "browser": version,
            "sizes": sizes.__dict__}  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.rendering", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="a smoke run at toy sizes")
    parser.add_argument("--out", type=Path, help="where to write results (full run: bench/results)")
    parser.add_argument("--pythonpath", help="serve the source in this directory instead")
    parser.add_argument("--streaming", action="store_true",
                        help="the streaming scenes only (printed, not written)")  # fmt: skip
    parser.add_argument("--conversation", action="store_true",
                        help="the 1,000-message scene only (printed, not written)")  # fmt: skip
    args = parser.parse_args(argv)
    if not Path(CHROMIUM).exists():
        print(f"{CHROMIUM} is missing: run `make system-deps`", file=sys.stderr)
        return 1
    info = machine(1)
    started = time.monotonic()
    results = run(QUICK if args.quick else Sizes(), args.pythonpath, args.streaming,
                  args.conversation)  # fmt: skip
    if args.streaming or args.conversation:
        for name in ("conversation",) if args.conversation else ("markdown", "words"):
            print(name, json.dumps(results[name]))
        print("load average after:", [round(x, 2) for x in os.getloadavg()])
        return 0
    load_after = [round(x, 2) for x in os.getloadavg()]
    results.update(
        machine=info, elapsed_s=time.monotonic() - started, quick=args.quick, load_after=load_after
    )
    text = render(results)
    print(text)
    out = args.out or (None if args.quick else BENCH_DIR / "results")
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        (out / "rendering.json").write_text(json.dumps(results, indent=2) + "\n")
    if not args.quick and args.out is None:
        update_readme(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
