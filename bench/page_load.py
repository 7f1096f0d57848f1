"""The page's load in a real chromium: ``python -m bench.page_load [--repeats N]``.

For a first visit (empty cache) and a repeat visit (same browser profile), on
loopback and on a throttled slow-3G link (300 ms round trip, 1.6 Mbit/s down,
750 kbit/s up, applied by the DevTools protocol), it records:

- requests made, and bytes over the wire (compressed) and after decoding;
- first contentful paint, and time to usable: from navigation start until the
  page says it is ready (``body[data-ready]``: sign-in known, personas, models and
  conversations loaded, the message box focused);
- when the last response it needed had arrived (the network's share of that time:
  on a busy machine the rest is the browser waiting for a core).

A ``parlour serve`` child serves the page (shared bundled Redis, the bench's
scripted upstream as its model). ``--pythonpath DIR`` serves another copy of the
source (a previous version) for a before/after comparison.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path
from typing import Any

from playwright.sync_api import BrowserContext, Page, sync_playwright
from tests.browser.launch import CHROMIUM
from tests.browser.launch import CHROMIUM_ARGS as ARGS

from bench.fixtures import SharedRedis
from bench.procs import Server, Upstream

SLOW_3G = {
    "offline": False,
    "latency": 300,
    "downloadThroughput": 1_600_000 / 8,
    "uploadThroughput": 750_000 / 8,
}
# Installed before the page's own scripts: note when the page declares itself usable.
MARK_USABLE = """
new MutationObserver((_, observer) => {
  if (document.body?.dataset.ready === "true") {
    window.__usable = performance.now();
    observer.disconnect();
  }
}).observe(document, { subtree: true, attributes: true, attributeFilter: ["data-ready"] });
"""


class Traffic:
    """Requests and bytes of one page load, from the DevTools protocol's Network events."""

    def __init__(self, page: Page, throttle: dict[str, Any] | None) -> None:
        self.requests: dict[str, str] = {}
        self.cached: set[str] = set()
        self.wire = 0
        self.decoded = 0
        self.network_requests = 0
        cdp = page.context.new_cdp_session(page)
        cdp.on("Network.requestWillBeSent", self._sent)
        cdp.on("Network.requestServedFromCache", lambda e: self.cached.add(e["requestId"]))
        cdp.on("Network.responseReceived", self._received)
        cdp.on("Network.dataReceived", self._data)
        cdp.on("Network.loadingFinished", self._finished)
        cdp.send("Network.enable")
        if throttle:
            cdp.send("Network.emulateNetworkConditions", throttle)

    def reset(self) -> None:
        self.requests.clear()
        self.cached.clear()
        self.wire = self.decoded = self.network_requests = 0

    def _sent(self, event: dict[str, Any]) -> None:
        self.requests[event["requestId"]] = event["request"]["url"]

    def _received(self, event: dict[str, Any]) -> None:
        response = event["response"]
        cached = response.get("fromDiskCache") or response.get("fromPrefetchCache")
        if cached or event["requestId"] in self.cached:
            self.cached.add(event["requestId"])
        else:
            self.network_requests += 1

    def _data(self, event: dict[str, Any]) -> None:
        if event["requestId"] not in self.cached:
            self.decoded += int(event["dataLength"])

    def _finished(self, event: dict[str, Any]) -> None:
        if event["requestId"] not in self.cached:
            self.wire += int(event["encodedDataLength"])


def load(page: Page, url: str, traffic: Traffic) -> dict[str, float]:
    traffic.reset()
    page.goto(url, wait_until="load", timeout=60_000)
    page.wait_for_selector("body[data-ready='true']", timeout=60_000)
    timing = page.evaluate(
        """() => ({
          usable: window.__usable,
          fcp: performance.getEntriesByName("first-contentful-paint")[0]?.startTime ?? null,
          network: Math.max(
            performance.getEntriesByType("navigation")[0].responseEnd,
            ...performance.getEntriesByType("resource")
              .filter(e => e.responseEnd <= window.__usable).map(e => e.responseEnd),
          ),
        })"""
    )
    return {
        "usable_ms": round(timing["usable"]),
        "fcp_ms": round(timing["fcp"]) if timing["fcp"] is not None else -1,
        "network_ms": round(timing["network"]),
        "requests": traffic.network_requests,
        "wire_kb": round(traffic.wire / 1024, 1),
        "decoded_kb": round(traffic.decoded / 1024, 1),
    }


def measure(context: BrowserContext, url: str, throttle: dict[str, Any] | None) -> dict[str, Any]:
    page = context.new_page()
    page.add_init_script(MARK_USABLE)
    traffic = Traffic(page, throttle)
    first = load(page, url, traffic)
    page.goto("about:blank")
    repeat = load(page, url, traffic)
    page.close()
    return {"first": first, "repeat": repeat}


def median(runs: list[dict[str, Any]], visit: str, key: str) -> float:
    return statistics.median(run[visit][key] for run in runs)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.page_load", description=__doc__)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--pythonpath", help="serve the source in this directory instead")
    parser.add_argument("--out", type=Path, help="write the figures here as JSON")
    args = parser.parse_args(argv)
    redis = SharedRedis()
    upstream = Upstream()
    env = {
        "REDIS_URL": redis.url,
        "OPENAI_BASE_URL": upstream.base_url,
        "OPENAI_API_KEY": "sk-bench-0123456789",
        "OPENAI_MODEL": "bench-model",
        "LOCAL_ENABLED": "false",
    }
    if args.pythonpath:
        env["PYTHONPATH"] = args.pythonpath
    server = Server(env)
    results: dict[str, Any] = {}
    try:
        url = f"http://127.0.0.1:{server.port}/"
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
            for name, throttle in (("loopback", None), ("slow 3G", SLOW_3G)):
                runs = []
                for _ in range(args.repeats):
                    context = browser.new_context(viewport={"width": 1280, "height": 800})
                    runs.append(measure(context, url, throttle))
                    context.close()
                results[name] = runs
            browser.close()
    finally:
        server.stop()
        upstream.stop()
        redis.stop()
    print(
        "| link | visit | requests | over the wire | decoded | first paint "
        "| last response | usable (median) | usable (best) |"
    )
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|")
    for name, runs in results.items():
        for visit in ("first", "repeat"):
            print(
                f"| {name} | {visit} | {median(runs, visit, 'requests'):.0f} "
                f"| {median(runs, visit, 'wire_kb'):.1f} KB "
                f"| {median(runs, visit, 'decoded_kb'):.1f} KB "
                f"| {median(runs, visit, 'fcp_ms'):.0f} ms "
                f"| {median(runs, visit, 'network_ms'):.0f} ms "
                f"| {median(runs, visit, 'usable_ms'):.0f} ms "
                f"| {min(run[visit]['usable_ms'] for run in runs):.0f} ms |"
            )
    if args.out:
        args.out.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
